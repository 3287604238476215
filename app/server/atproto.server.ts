// The ATProto OAuth client (auth.md §9): @atproto/oauth-client-node with Prisma-backed state and
// session stores. Production = confidential web client (private_key_jwt, ES256); dev mode = the
// loopback client. No hand-written PAR/DPoP/PKCE: the library does all of it.
import { JoseKey, NodeOAuthClient, requestLocalLock, type NodeSavedSession, type NodeSavedState, type RuntimeLock } from "@atproto/oauth-client-node";
import { callbackUrl, confidentialClientMetadata, loopbackClientId, ATPROTO_SCOPE } from "./client-metadata.server";
import type { Config } from "./config.server";
import type { Db } from "./db.server";
import type { ClientJwk, Keys } from "./keys.server";
import { isoNow, parseIso } from "./time.server";

/** Pending flows expire after 15 minutes (auth.md §5 step 3). */
export const STATE_TTL_MS = 15 * 60 * 1000;

type Store<V> = {
  get(key: string): Promise<V | undefined>;
  set(key: string, value: V): Promise<void>;
  del(key: string): Promise<void>;
};

export function createStateStore(db: Db): Store<NodeSavedState> {
  return {
    async get(key) {
      const row = await db.atprotoOauthState.findUnique({ where: { key } });
      if (!row) return undefined;
      const created = parseIso(row.created_at)?.getTime() ?? 0;
      if (Date.now() - created > STATE_TTL_MS) {
        await db.atprotoOauthState.deleteMany({ where: { key } });
        return undefined;
      }
      return JSON.parse(row.value) as NodeSavedState;
    },
    async set(key, value) {
      const data = { value: JSON.stringify(value), created_at: isoNow() };
      await db.atprotoOauthState.upsert({ where: { key }, create: { key, ...data }, update: data });
    },
    async del(key) {
      await db.atprotoOauthState.deleteMany({ where: { key } });
    },
  };
}

export function createSessionStore(db: Db): Store<NodeSavedSession> {
  return {
    async get(key) {
      const row = await db.atprotoOauthSession.findUnique({ where: { key } });
      return row ? (JSON.parse(row.value) as NodeSavedSession) : undefined;
    },
    async set(key, value) {
      const data = { value: JSON.stringify(value), updated_at: isoNow() };
      await db.atprotoOauthSession.upsert({ where: { key }, create: { key, ...data }, update: data });
    },
    async del(key) {
      await db.atprotoOauthSession.deleteMany({ where: { key } });
    },
  };
}

/** Purge flows older than 15 minutes (housekeeping, security.md #16). */
export async function purgeExpiredStates(db: Db): Promise<number> {
  const cutoff = isoNow(new Date(Date.now() - STATE_TTL_MS));
  // Timestamps are ISO text in one format, so text comparison orders them.
  const { count } = await db.atprotoOauthState.deleteMany({ where: { created_at: { lt: cutoff } } });
  return count;
}

/**
 * `requestLock` serialises token refreshes of one session: the in-process lock by default, the
 * primary-held one in the workers of the multi-process mode (cluster-lock.server.ts).
 */
export async function createOAuthClient(config: Config, keys: Keys, db: Db, fetchImpl: typeof fetch, requestLock: RuntimeLock = requestLocalLock): Promise<NodeOAuthClient> {
  const common = {
    responseMode: "query" as const,
    stateStore: createStateStore(db),
    sessionStore: createSessionStore(db),
    requestLock,
    handleResolver: config.handleResolver,
    plcDirectoryUrl: config.plcDirectoryUrl,
    allowHttp: config.allowHttpLoopback,
    fetch: fetchImpl,
  };
  if (config.devMode) {
    // The ATProto loopback client: public, no client assertion, redirect on 127.0.0.1.
    return new NodeOAuthClient({
      ...common,
      clientMetadata: {
        client_id: loopbackClientId(config),
        redirect_uris: [callbackUrl(config) as `http://127.0.0.1:${string}`],
        scope: ATPROTO_SCOPE,
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        application_type: "web",
        token_endpoint_auth_method: "none",
        dpop_bound_access_tokens: true,
      },
    });
  }
  // The file keeps `use: "sig"` (contracts.md §4); the library wants private keys without it.
  const { use: _use, ...importable } = keys.clientJwk as ClientJwk & { use?: string };
  const key = await JoseKey.fromImportable(JSON.stringify(importable), keys.clientJwk.kid);
  return new NodeOAuthClient({
    ...common,
    clientMetadata: confidentialClientMetadata(config, keys) as never,
    keyset: [key],
  });
}
