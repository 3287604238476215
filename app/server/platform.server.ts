// The platform: everything a request needs, created once per process and handed to loaders and
// actions through React Router's load context. Tests create as many as they like.
import fs from "node:fs";
import type { NodeOAuthClient } from "@atproto/oauth-client-node";
import { createOAuthClient } from "./atproto.server";
import { clusterRequestLock } from "./cluster-lock.server";
import type { Config } from "./config.server";
import { cookieScope, type CookieScope } from "./cookies.server";
import { openDatabase, type Db } from "./db.server";
import { loadKeys, type Keys } from "./keys.server";
import type { Logger } from "./log.server";
import { runHousekeeping, startHousekeeping } from "./housekeeping.server";
import { createOutboundFetch, PLATFORM_USER_AGENT } from "./outbound.server";
import { createRateLimits, type RateLimits } from "./rate-limit.server";
import { openReads, type Reads } from "./reads.server";
import { closeWikiDbReaders } from "./wiki-disk.server";

export interface Platform {
  config: Config;
  keys: Keys;
  db: Db;
  /** Hot-path reads on a read-only connection to the same robot.db (ADR 008). */
  reads: Reads;
  log: Logger;
  cookies: CookieScope;
  rateLimits: RateLimits;
  /** Every outbound request goes through this fetch (security.md §6). */
  fetch: typeof fetch;
  /** The ATProto OAuth client (login, logout, revocation). */
  oauth: NodeOAuthClient;
  /** Extension point for later services (OAuth client, housekeeping timers, …). */
  services: Map<string, unknown>;
  close(): Promise<void>;
}

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}

function prepareWikiBase(config: Config): void {
  if (!fs.existsSync(config.wikiBase)) {
    if (config.production) throw new StartupError(`WIKI_BASE: ${config.wikiBase} does not exist`);
    fs.mkdirSync(config.wikiBase, { recursive: true, mode: 0o750 });
  }
  try {
    fs.accessSync(config.wikiBase, fs.constants.W_OK);
  } catch {
    throw new StartupError(`WIKI_BASE: ${config.wikiBase} is not writable`);
  }
}

/**
 * How the process serves (ADR 009): `single` is the one process of WORKERS=1, and also the
 * primary of the multi-process mode, which prepares everything once before forking; a `worker`
 * neither migrates nor runs housekeeping, and shares rate limits and the ATProto request lock
 * with the other workers through the primary.
 */
export type ProcessRole = "single" | "worker";

export async function createPlatform(config: Config, log: Logger, { role = "single" }: { role?: ProcessRole } = {}): Promise<Platform> {
  const worker = role === "worker";
  const keys = await loadKeys(config);
  prepareWikiBase(config);
  const db = await openDatabase(config, log, { migrate: !worker });
  const outbound = createOutboundFetch({ allowHttpLoopback: config.allowHttpLoopback, userAgent: PLATFORM_USER_AGENT, log });
  const oauth = await createOAuthClient(config, keys, db, outbound, worker ? clusterRequestLock : undefined);
  let stopHousekeeping = async () => {};
  const platform: Platform = {
    config,
    keys,
    db,
    reads: openReads(config.robotDbPath),
    log,
    cookies: cookieScope(config),
    rateLimits: createRateLimits(config, { cluster: worker, log }),
    fetch: outbound,
    oauth,
    services: new Map(),
    async close() {
      await stopHousekeeping();
      platform.reads.close();
      closeWikiDbReaders();
      await db.$disconnect();
    },
  };
  // Settle interrupted wiki creates/deletes and sweep before serving (management.md §5.5),
  // in one process only.
  if (worker) return platform;
  await runHousekeeping(platform, { startup: true });
  stopHousekeeping = startHousekeeping(platform);
  return platform;
}
