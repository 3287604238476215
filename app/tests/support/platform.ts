// A real platform for integration tests: temp DATA_DIR (keys generated there), a fresh copy of
// the migrated template robot.db, a temp WIKI_BASE, and the BUILT request pipeline — the same
// code `node build/server/index.js` serves. Logs are captured for assertions.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type { Handler } from "~/server/http.server";
import type { Platform } from "~/server/platform.server";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Built = any;
const root = path.resolve(import.meta.dirname, "../../..");
let built: Promise<Built> | undefined;
export const loadBuild = (): Promise<Built> => (built ??= import(/* @vite-ignore */ path.join(root, "build/server/index.js")));

export interface TestPlatform {
  platform: Platform;
  handle: Handler;
  origin: string;
  dataDir: string;
  logs: string[];
  /** Send a request to the pipeline; `path` is relative to the platform origin. */
  request(pathOrUrl: string, init?: RequestInit & { ip?: string }): Promise<Response>;
  /** A users row plus a valid platform JWT for it. */
  createUser(handle: string, did?: string, displayName?: string | null): Promise<{ did: string; handle: string; jwt: string }>;
  mintJwt(claims: { did: string; handle: string; name?: string }, now?: number): Promise<string>;
  close(): Promise<void>;
}

export async function startTestPlatform(env: Record<string, string> = {}, opts: { copyTemplate?: boolean } = {}): Promise<TestPlatform> {
  const b = await loadBuild();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "robot-test-"));
  if (opts.copyTemplate !== false && process.env.ROBOT_TEMPLATE_DB) {
    fs.copyFileSync(process.env.ROBOT_TEMPLATE_DB, path.join(dataDir, "robot.db"));
  }
  const config = b.loadConfig({
    NODE_ENV: "test",
    DATA_DIR: dataDir,
    PLATFORM_SCHEME: "http",
    PLATFORM_DOMAIN: "127.0.0.1:5173",
    RATE_LIMITS_ENABLED: "false",
    GIT_BIN: "git",
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const log = b.createLogger(env.LOG_LEVEL ?? "debug", sink);
  const platform: Platform = await b.createPlatform(config, log);
  const handle: Handler = b.createHandler(platform, b.build, { clientDir: path.join(root, "build/client") });
  const origin: string = config.origin;
  const { issuePlatformJwt, jwtSettings } = await import("~/server/jwt.server");
  const mintJwt = (c: { did: string; handle: string; name?: string }, now?: number) =>
    issuePlatformJwt(platform.keys.signing, jwtSettings(config), { did: c.did, handle: c.handle, name: c.name ?? c.handle }, now);
  return {
    platform,
    handle,
    origin,
    dataDir,
    logs,
    request(pathOrUrl, init = {}) {
      const url = /^https?:/.test(pathOrUrl) ? pathOrUrl : origin + pathOrUrl;
      const { ip, ...rest } = init;
      return handle(new Request(url, { redirect: "manual", ...rest }), ip ?? "127.0.0.1");
    },
    async createUser(handleName, did = `did:plc:${Math.random().toString(36).slice(2, 14).padEnd(12, "x")}`, displayName = null) {
      await platform.db.user.create({
        data: { did, handle: handleName, display_name: displayName, created_at: new Date().toISOString().replace("Z", "000+00:00") },
      });
      return { did, handle: handleName, jwt: await mintJwt({ did, handle: handleName }) };
    },
    mintJwt,
    async close() {
      await platform.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const cookieHeader = (jwt: string) => ({ Cookie: `platform_token=${jwt}` });
