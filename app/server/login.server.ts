// Bluesky login (auth.md §3–§6): input normalisation, starting the ATProto OAuth flow, the
// callback checks in their specified order, the users row, the platform JWT, and logout.
// Routes map these typed results to pages and redirects.
import crypto from "node:crypto";
import {
  OAuthCallbackError,
  OAuthResolverError,
  OAuthResponseError,
  type NodeOAuthClient,
  type NodeSavedState,
} from "@atproto/oauth-client-node";
import { STATE_TTL_MS } from "./atproto.server";
import { clearHostCookie, clearPlatformCookie, MAX_PLATFORM_TOKENS, setHostCookie, setPlatformCookie, signValue, unsignValue } from "./cookies.server";
import { issuePlatformJwt, jwtSettings, verifyPlatformJwt } from "./jwt.server";
import { errorDetails } from "./log.server";
import { checkOutboundUrl } from "./outbound.server";
import type { Platform } from "./platform.server";
import { safeReturnTo } from "./return-to.server";
import { isoNow, parseIso } from "./time.server";

export const LOGIN_STATE_COOKIE = "login_state";
const LOGIN_STATE_MAX_AGE = 900;
const HANDLE_INVALID = "handle.invalid";
/** How long logout, account deletion or a refused callback waits for a revocation (auth.md §6: best effort). */
const REVOKE_WAIT_MS = 2_500;
/** Error code and description of an error callback, each, in the flash (auth.md §5 step 1). */
const ERROR_TEXT_MAX = 200;

// ---- input (auth.md §4.1, §4.2) ----

export function normalizeLoginInput(raw: string): string {
  let s = raw.trim().replace(/[\u0000-\u001f\u007f-\u009f]/g, "");
  if (s.startsWith("@")) s = s.slice(1);
  if (s && !/[.:/]/.test(s)) s += ".bsky.social";
  return isHandle(s) ? s.toLowerCase() : s;
}

const HANDLE_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
export function isHandle(s: string): boolean {
  if (s.length > 253) return false;
  const labels = s.split(".");
  return labels.length >= 2 && labels.every((l) => HANDLE_LABEL.test(l)) && /^[A-Za-z]/.test(labels[labels.length - 1]);
}

export function isDid(s: string): boolean {
  return s.length <= 2048 && /^did:[a-z]+:[A-Za-z0-9._:%-]*[A-Za-z0-9._-]$/.test(s);
}

export type LoginInput = { kind: "handle" | "did"; value: string } | { kind: "server"; value: string } | { kind: "invalid" };

export function classifyLoginInput(value: string, devMode: boolean): LoginInput {
  if (isDid(value)) return { kind: "did", value };
  if (isHandle(value)) return { kind: "handle", value };
  if (value.startsWith("https://") || (devMode && value.startsWith("http://"))) return { kind: "server", value };
  return { kind: "invalid" };
}

// ---- starting the flow (auth.md §4.3) ----

export type LoginFailure = { ok: false; status: 400 | 502; message: string };
export type StartResult = { ok: true; location: string; setCookie: string } | LoginFailure;

interface AppState {
  nonce: string;
  returnTo: string | null;
  expectedDid: string | null;
}

const fail = (status: 400 | 502, message: string): LoginFailure => ({ ok: false, status, message });

const oauthClient = (platform: Platform): NodeOAuthClient => platform.oauth;

/** A short, safe reason for an identity failure; the full cause goes to the log. */
function identityReason(err: unknown, kind: "handle" | "did"): string {
  const msg = String((err as Error)?.message ?? err);
  if (/does not include the handle/i.test(msg)) return "handle does not match DID";
  if (kind === "did" || /did document|did:/i.test(msg)) return "DID document not found";
  return "handle not found";
}

async function resolveIdentity(platform: Platform, input: { kind: "handle" | "did"; value: string }, reqId: string) {
  const client = oauthClient(platform);
  let info: { did: string; handle: string; didDoc: { service?: { id: string }[] } };
  try {
    info = await client.identityResolver.resolve(input.value);
  } catch (err) {
    platform.log.warn({ reqId, err: errorDetails(err), kind: input.kind }, "login: identity resolution failed");
    return { ok: false as const, reason: identityReason(err, input.kind) };
  }
  if (input.kind === "did" && info.handle === HANDLE_INVALID) {
    platform.log.warn({ reqId, did: info.did }, "login: the DID's handle does not resolve back to it");
    return { ok: false as const, reason: "handle does not match DID" };
  }
  const hasPds = (info.didDoc.service ?? []).some((s) => s.id === "#atproto_pds" || s.id === `${info.did}#atproto_pds`);
  if (!hasPds) return { ok: false as const, reason: "no #atproto_pds service in the DID document" };
  return { ok: true as const, did: info.did, handle: info.handle };
}

function classifyAuthorizeError(platform: Platform, err: unknown, reqId: string): LoginFailure {
  const cause = err instanceof Error && err.cause ? err.cause : undefined;
  platform.log.warn({ reqId, err: errorDetails(err) }, "login: starting the OAuth flow failed");
  if (err instanceof OAuthResolverError) {
    if (/identity/i.test(err.message) && !/metadata/i.test(err.message)) return fail(400, `Failed to resolve identity: ${identityReason(cause ?? err, "handle")}`);
    return fail(502, "Failed to fetch Auth Server OAuth metadata");
  }
  if (err instanceof OAuthResponseError) return fail(502, "Authorization server rejected the login request");
  if (err instanceof TypeError && /Invalid authorization endpoint/i.test(err.message)) return fail(502, "Authorization server rejected the login request");
  return fail(502, "Authorization server rejected the login request");
}

export async function startLogin(
  platform: Platform,
  opts: { username: string; returnTo: string | undefined; reqId: string },
): Promise<StartResult> {
  const input = classifyLoginInput(normalizeLoginInput(opts.username), platform.config.devMode);
  if (input.kind === "invalid") return fail(400, "Not a valid handle, DID, or auth server URL");
  let expectedDid: string | null = null;
  if (input.kind === "server") {
    const check = checkOutboundUrl(input.value, { allowHttpLoopback: platform.config.allowHttpLoopback });
    if (!check.ok) {
      platform.log.warn({ reqId: opts.reqId, reason: check.reason }, "login: server URL refused");
      return fail(400, "Invalid authorization server URL");
    }
  } else {
    const identity = await resolveIdentity(platform, { kind: input.kind, value: input.value }, opts.reqId);
    if (!identity.ok) return fail(400, `Failed to resolve identity: ${identity.reason}`);
    expectedDid = identity.did;
  }
  const nonce = crypto.randomBytes(32).toString("base64url");
  const appState: AppState = { nonce, returnTo: safeReturnTo(platform.config, opts.returnTo) ?? null, expectedDid };
  let url: URL;
  try {
    url = await oauthClient(platform).authorize(input.value, {
      state: JSON.stringify(appState),
      ...(input.kind === "server" && /bsky\.social/.test(input.value) ? { prompt: "create" as const } : {}),
    });
  } catch (err) {
    return classifyAuthorizeError(platform, err, opts.reqId);
  }
  // Signed like every platform cookie but platform_token (security.md #42): a cookie tossed from a
  // wiki subdomain never verifies.
  const binding = signValue(platform.keys.cookieKey, nonce);
  return { ok: true, location: url.href, setCookie: setHostCookie(platform.cookies, LOGIN_STATE_COOKIE, binding, LOGIN_STATE_MAX_AGE) };
}

// ---- the callback (auth.md §5) ----

export type CallbackResult =
  | { ok: true; location: string; setCookies: string[]; did: string }
  | { ok: false; kind: "denied"; location: string; setCookies: string[]; flash: string }
  | { ok: false; kind: "error"; status: 400 | 502; message: string; setCookies: string[]; returnTo?: string };

/** Printable ASCII only, at most ERROR_TEXT_MAX characters (auth.md §5 step 1). */
const errorText = (s: string) => s.replace(/[^\x20-\x7e]/g, "").slice(0, ERROR_TEXT_MAX);

function parseAppState(state: NodeSavedState): AppState | undefined {
  try {
    const parsed = JSON.parse(state.appState ?? "");
    return typeof parsed?.nonce === "string" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The platform's own read of a pending flow (step 3), with its age. */
async function readFlow(platform: Platform, state: string) {
  const row = await platform.db.atprotoOauthState.findUnique({ where: { key: state } });
  if (!row) return undefined;
  const age = Date.now() - (parseIso(row.created_at)?.getTime() ?? 0);
  const saved = JSON.parse(row.value) as NodeSavedState;
  return { saved, expired: age > STATE_TTL_MS, appState: parseAppState(saved) };
}

const deleteFlow = (platform: Platform, state: string) => platform.db.atprotoOauthState.deleteMany({ where: { key: state } });

function sameNonce(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function classifyCallbackError(err: unknown): { status: 400 | 502; message: string } {
  const cause = err instanceof OAuthCallbackError && err.cause ? err.cause : err;
  const issues = (cause as { issues?: { path?: (string | number)[] }[] })?.issues;
  if (Array.isArray(issues) && issues.some((i) => i.path?.[0] === "scope")) return { status: 400, message: "Scope mismatch" };
  if (cause instanceof TypeError && cause.message === "Issuer mismatch") return { status: 400, message: "Auth server mismatch" };
  return { status: 502, message: "Token exchange failed" };
}

async function displayNameFromProfile(platform: Platform, did: string, reqId: string): Promise<string | undefined> {
  const fetchImpl = platform.fetch;
  try {
    const url = `${platform.config.bskyAppviewUrl}/xrpc/app.bsky.actor.getProfile?actor=${encodeURIComponent(did)}`;
    const res = await fetchImpl(url, { signal: AbortSignal.timeout(5000), headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(`profile lookup answered ${res.status}`);
    const body = (await res.json()) as { displayName?: unknown };
    return typeof body.displayName === "string" && body.displayName.trim() ? body.displayName.trim() : undefined;
  } catch (err) {
    platform.log.warn({ reqId, did, err: errorDetails(err) }, "login: display name lookup failed (tolerated)");
    return undefined;
  }
}

/** Step 10: create or refresh the users row; a handle that moved frees its old holder. */
async function upsertUser(platform: Platform, did: string, handle: string, profileName: string | undefined) {
  return platform.db.$transaction(async (tx) => {
    // `handle` is lowercased; predecessor rows may hold it in any case (security.md #28).
    await tx.$executeRaw`UPDATE users SET handle = did WHERE lower(handle) = ${handle} AND did != ${did}`;
    const existing = await tx.user.findUnique({ where: { did } });
    if (!existing) {
      return tx.user.create({
        data: { did, handle, display_name: profileName ?? handle, avatar_url: null, created_at: isoNow(), wiki_count: 0 },
      });
    }
    const data: { handle?: string; display_name?: string } = {};
    if (existing.handle !== handle) data.handle = handle;
    if (profileName && profileName !== existing.display_name) data.display_name = profileName;
    return Object.keys(data).length ? tx.user.update({ where: { did }, data }) : existing;
  });
}

/**
 * Revoke a DID's ATProto session at its authorization server, best effort and bounded: an AS that
 * never answers holds the caller up for at most REVOKE_WAIT_MS (the revocation carries on in the
 * background). The stored session is deleted whatever happened (auth.md §6, D14).
 */
async function revokeQuietly(platform: Platform, did: string, reqId: string) {
  const revocation = oauthClient(platform)
    .revoke(did)
    .then(
      () => "done" as const,
      (err) => {
        platform.log.warn({ reqId, did, err: errorDetails(err) }, "revoking the ATProto session failed");
        return "failed" as const;
      },
    );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), REVOKE_WAIT_MS);
  });
  const outcome = await Promise.race([revocation, timeout]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    platform.log.warn({ reqId, did, waitedMs: REVOKE_WAIT_MS }, "revoking the ATProto session did not finish in time; deleting it anyway");
  }
  try {
    await platform.db.atprotoOauthSession.deleteMany({ where: { key: did } });
  } catch (err) {
    platform.log.error({ reqId, did, err: errorDetails(err) }, "deleting the stored ATProto session failed");
  }
}

/**
 * Error details with the callback's secret values (state, code) cut out: library messages may
 * quote them (e.g. `Unknown authorization session "<state>"` when a replay races the original).
 */
export function scrubbedErrorDetails(err: unknown, secrets: string[]): Record<string, unknown> {
  let text = JSON.stringify(errorDetails(err));
  // Only values long enough to be real secrets: a short made-up `code=x` must not blank the log.
  for (const secret of secrets) if (secret.length >= 8) text = text.split(JSON.stringify(secret).slice(1, -1)).join("[redacted]");
  return JSON.parse(text);
}

export async function finishLogin(
  platform: Platform,
  params: URLSearchParams,
  bindingCookie: string | undefined,
  reqId: string,
): Promise<CallbackResult> {
  const clearBinding = clearHostCookie(platform.cookies, LOGIN_STATE_COOKIE);
  const state = params.get("state") ?? "";
  const code = params.get("code") ?? "";
  const error = params.get("error");
  // 1. The authorization server reported an error.
  if (error) {
    const flow = state ? await readFlow(platform, state).catch(() => undefined) : undefined;
    if (state) await deleteFlow(platform, state);
    const desc = errorText(params.get("error_description") ?? "");
    const returnTo = flow?.appState?.returnTo ? safeReturnTo(platform.config, flow.appState.returnTo) : undefined;
    platform.log.warn({ reqId, error: errorText(error), flow: Boolean(flow) }, "callback: authorization failed at the server");
    return {
      ok: false,
      kind: "denied",
      flash: `Authorization failed: ${errorText(error)}${desc ? `: ${desc}` : ""}`,
      location: "/auth/login" + (returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ""),
      setCookies: [clearBinding],
    };
  }
  /** Every refusal: one warn line with its cause (D15, E4), never the state or code values. */
  const bad = (
    status: 400 | 502,
    message: string,
    opts: { returnTo?: string; cause?: unknown; detail?: Record<string, unknown> } = {},
  ): CallbackResult => {
    const err = opts.cause === undefined ? undefined : scrubbedErrorDetails(opts.cause, [state, code]);
    platform.log.warn({ reqId, status, message, ...opts.detail, ...(err ? { err } : {}) }, "callback refused");
    return { ok: false, kind: "error", status, message, setCookies: [clearBinding], returnTo: opts.returnTo };
  };
  // 2. Required parameters.
  if (!state || !params.get("iss") || !code) {
    const missing = (["state", "iss", "code"] as const).filter((name) => !params.get(name));
    return bad(400, "Missing required OAuth callback parameters", { detail: { missing } });
  }
  // 3. The pending flow: present, fresh, unused.
  const flow = await readFlow(platform, state);
  if (!flow || flow.expired || !flow.appState) {
    if (flow) await deleteFlow(platform, state);
    const why = !flow ? "no such flow (unknown, used or purged)" : flow.expired ? "flow expired" : "flow without app state";
    return bad(400, "OAuth request not found", { detail: { reason: why } });
  }
  const returnTo = flow.appState.returnTo ?? undefined;
  // 4. Browser binding (D6), before any code exchange. The cookie is signed (security.md #42).
  const nonce = unsignValue(platform.keys.cookieKey, bindingCookie);
  if (!sameNonce(nonce, flow.appState.nonce)) {
    await deleteFlow(platform, state);
    const why = !bindingCookie ? "binding cookie absent" : nonce === undefined ? "binding cookie signature invalid" : "binding cookie of another flow";
    return bad(400, "Login session mismatch", { returnTo, detail: { reason: why } });
  }
  // 5. Issuer.
  if (params.get("iss") !== flow.saved.iss) {
    await deleteFlow(platform, state);
    return bad(400, "Issuer mismatch", { returnTo, detail: { iss: params.get("iss")?.slice(0, 200), expected: flow.saved.iss } });
  }
  // 6. Code exchange (the library consumes the flow whatever the outcome).
  let did: string;
  try {
    const { session } = await oauthClient(platform).callback(params);
    did = session.did;
  } catch (err) {
    await deleteFlow(platform, state);
    const { status, message } = classifyCallbackError(err);
    return bad(status, message, { returnTo, cause: err });
  }
  // 7. Subject.
  if (flow.appState.expectedDid && did !== flow.appState.expectedDid) {
    await revokeQuietly(platform, did, reqId);
    return bad(400, "Token subject mismatch", { returnTo, detail: { did, expected: flow.appState.expectedDid } });
  }
  // 8. Verified handle, both ways, lowercased.
  let handle: string;
  let resolveError: unknown;
  try {
    const info = await oauthClient(platform).identityResolver.resolve(did, { noCache: true });
    handle = info.handle.toLowerCase();
  } catch (err) {
    resolveError = err;
    handle = HANDLE_INVALID;
  }
  if (handle === HANDLE_INVALID) {
    await revokeQuietly(platform, did, reqId);
    return bad(400, "Failed to resolve identity: no verified handle", {
      returnTo,
      cause: resolveError,
      detail: { did, reason: resolveError ? "resolving the DID failed" : "the DID's handle does not resolve back to it" },
    });
  }
  // 9–10. Display name and users row.
  const profileName = await displayNameFromProfile(platform, did, reqId);
  const user = await upsertUser(platform, did, handle, profileName);
  // 12–13. JWT, cookie, redirect.
  const name = profileName ?? user.display_name ?? handle;
  const jwt = await issuePlatformJwt(platform.keys.signing, jwtSettings(platform.config), { did, handle, name });
  const target = safeReturnTo(platform.config, returnTo) ?? `${platform.config.origin}/app/`;
  platform.log.info({ reqId, did }, "login complete");
  return { ok: true, did, location: target, setCookies: [setPlatformCookie(platform.cookies, jwt), clearBinding] };
}

// ---- logout (auth.md §6) ----

/**
 * Revoke the ATProto session of each signed (even expired) platform_token the browser sent
 * (distinct values, `readPlatformTokens`), best effort; return the clears. Each one, not the first: a value planted for `.{D}` by a wiki
 * subdomain (security.md #42) must not keep the user's own session from being revoked.
 */
export async function logout(platform: Platform, tokens: string[], reqId: string): Promise<string[]> {
  const dids = new Set<string>();
  for (const token of tokens.slice(0, MAX_PLATFORM_TOKENS)) {
    const result = await verifyPlatformJwt(token, platform.keys.signing, jwtSettings(platform.config));
    if (result.status !== "invalid") dids.add(result.claims.sub);
  }
  await Promise.all([...dids].map((did) => revokeQuietly(platform, did, reqId)));
  return [
    clearPlatformCookie(platform.cookies),
    clearHostCookie(platform.cookies, "flash"),
    clearHostCookie(platform.cookies, LOGIN_STATE_COOKIE),
  ];
}

export { revokeQuietly as revokeAtprotoSession };
