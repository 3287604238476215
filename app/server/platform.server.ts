// The platform: everything a request needs, created once per process and handed to loaders and
// actions through React Router's load context. Tests create as many as they like.
import fs from "node:fs";
import type { NodeOAuthClient } from "@atproto/oauth-client-node";
import { createOAuthClient } from "./atproto.server";
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
  /** Hot-path reads on a read-only connection to the same robot.db (ADR 007). */
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

export async function createPlatform(config: Config, log: Logger): Promise<Platform> {
  const keys = await loadKeys(config);
  prepareWikiBase(config);
  const db = await openDatabase(config, log);
  const outbound = createOutboundFetch({ allowHttpLoopback: config.allowHttpLoopback, userAgent: PLATFORM_USER_AGENT, log });
  const oauth = await createOAuthClient(config, keys, db, outbound);
  const platform: Platform = {
    config,
    keys,
    db,
    reads: openReads(config.robotDbPath),
    log,
    cookies: cookieScope(config),
    rateLimits: createRateLimits(config),
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
  // Settle interrupted wiki creates/deletes and sweep before serving (management.md §5.5).
  await runHousekeeping(platform, { startup: true });
  const stopHousekeeping = startHousekeeping(platform);
  return platform;
}
