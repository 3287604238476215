// The platform: everything a request needs, created once per process and handed to loaders and
// actions through React Router's load context. Tests create as many as they like.
import fs from "node:fs";
import type { Config } from "./config.server";
import { cookieScope, type CookieScope } from "./cookies.server";
import { openDatabase, type Db } from "./db.server";
import { loadKeys, type Keys } from "./keys.server";
import type { Logger } from "./log.server";
import { runHousekeeping, startHousekeeping } from "./housekeeping.server";
import { createRateLimits, type RateLimits } from "./rate-limit.server";

export interface Platform {
  config: Config;
  keys: Keys;
  db: Db;
  log: Logger;
  cookies: CookieScope;
  rateLimits: RateLimits;
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
  const platform: Platform = {
    config,
    keys,
    db,
    log,
    cookies: cookieScope(config),
    rateLimits: createRateLimits(config),
    services: new Map(),
    async close() {
      await stopHousekeeping();
      await db.$disconnect();
    },
  };
  // Settle interrupted wiki creates/deletes and sweep before serving (management.md §5.5).
  await runHousekeeping(platform, { startup: true });
  const stopHousekeeping = startHousekeeping(platform);
  return platform;
}
