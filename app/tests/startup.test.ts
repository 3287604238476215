// The real process: fail-fast production start-up (D17, H4), a development start from nothing
// (H5), and graceful SIGTERM.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, productionData, slowTokenPost, spawnServer, waitForHttp } from "./support/process";

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "startup-"));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A complete production data directory (keys, DB, wikis) that only the tested defect spoils. */
const prodData = () => productionData(tmp());

describe("production start-up refusals (H4)", () => {
  const cases: [string, (d: ReturnType<typeof prodData>) => void, RegExp][] = [
    ["a missing signing key", (d) => fs.rmSync(d.env.SIGNING_KEY_PATH), /SIGNING_KEY_PATH/],
    ["an RSA client JWK", (d) => fs.writeFileSync(d.env.CLIENT_JWK_PATH, JSON.stringify({ ...crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }), kid: "x" })), /CLIENT_JWK_PATH/],
    ["a missing SESSION_SECRET", (d) => delete d.env.SESSION_SECRET, /SESSION_SECRET/],
    ["a dev-secret SESSION_SECRET", (d) => (d.env.SESSION_SECRET = "dev-secret-" + "x".repeat(40)), /SESSION_SECRET/],
    ["a short CONSENT_SECRET", (d) => (d.env.CONSENT_SECRET = "short"), /CONSENT_SECRET/],
    ["PLATFORM_SCHEME=http", (d) => (d.env.PLATFORM_SCHEME = "http"), /PLATFORM_SCHEME/],
    ["ATPROTO_ALLOW_HTTP_LOOPBACK=true", (d) => (d.env.ATPROTO_ALLOW_HTTP_LOOPBACK = "true"), /ATPROTO_ALLOW_HTTP_LOOPBACK/],
    ["a missing robot.db", (d) => fs.rmSync(d.env.ROBOT_DB_PATH), /ROBOT_DB_PATH/],
    ["a missing WIKI_BASE", (d) => fs.rmSync(d.env.WIKI_BASE, { recursive: true }), /WIKI_BASE/],
    // URLs the outbound rules refuse on every login (security.md §6) are refused at start-up.
    ["an IP-literal PLC_DIRECTORY_URL", (d) => (d.env.PLC_DIRECTORY_URL = "https://10.0.0.1"), /PLC_DIRECTORY_URL.*IP address hosts/],
    ["a ported ATPROTO_HANDLE_RESOLVER", (d) => (d.env.ATPROTO_HANDLE_RESOLVER = "https://resolver.example:8443"), /ATPROTO_HANDLE_RESOLVER.*explicit port/],
    ["an .internal BSKY_APPVIEW_URL", (d) => (d.env.BSKY_APPVIEW_URL = "https://appview.internal"), /BSKY_APPVIEW_URL.*\.internal/],
  ];
  it.each(cases)("exits non-zero naming the variable: %s", async (_name, spoil, variable) => {
    const d = prodData();
    spoil(d);
    const server = spawnServer(d.env);
    const code = await server.exited;
    expect(code).not.toBe(0);
    expect(server.output()).toMatch(variable);
    expect(fs.existsSync(path.join(d.dir, "robot.db")) || variable.source === "ROBOT_DB_PATH").toBe(true);
  });

  it("a complete production configuration starts and is ready", async () => {
    const d = prodData();
    const port = await freePort();
    const server = spawnServer({ ...d.env, PORT: String(port) });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      const home = await fetch(`http://127.0.0.1:${port}/`);
      expect(home.headers.get("strict-transport-security")).toBe("max-age=31536000");
    } finally {
      server.child.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    }
  });
});

describe("development start from an empty DATA_DIR (H5)", () => {
  it("generates keys (0600), creates and migrates robot.db, and serves /", async () => {
    const dir = path.join(tmp(), "data");
    const port = await freePort();
    const server = spawnServer({ NODE_ENV: "development", DATA_DIR: dir, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info" });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/`);
      for (const f of ["signing_key.pem", "client_jwk.json", "session_secret", "robot.db"]) {
        expect(fs.statSync(path.join(dir, f)).mode & 0o777, f).toBe(0o600);
      }
      expect(fs.statSync(path.join(dir, "wikis")).isDirectory()).toBe(true);
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("robot.wtf");
      // Start-up configuration is logged, without secrets.
      const out = server.output();
      expect(out).toContain("robot.wtf platform listening");
      expect(out).not.toContain(fs.readFileSync(path.join(dir, "session_secret"), "utf8").trim());
      expect(out).not.toContain("PRIVATE KEY");
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
  });
});

describe("development start with PLATFORM_DOMAIN=localhost:<port>", () => {
  it("exits non-zero with a message naming PLATFORM_DOMAIN and suggesting 127.0.0.1:<port>, not a library dump", async () => {
    const server = spawnServer({ NODE_ENV: "development", DATA_DIR: path.join(tmp(), "data"), PORT: "5173", HOST: "127.0.0.1", PLATFORM_DOMAIN: "localhost:5173", LOG_LEVEL: "info" });
    expect(await server.exited).not.toBe(0);
    const out = server.output();
    expect(out).toContain("PLATFORM_DOMAIN=localhost:5173");
    expect(out).toContain("PLATFORM_DOMAIN=127.0.0.1:5173");
    expect(out).not.toContain("ZodError");
    expect(out).not.toContain("redirect_uris");
  });
});

describe("graceful shutdown", () => {
  it("SIGTERM during a slow request: it completes, new connections are refused, exit code 0", async () => {
    const d = prodData();
    const port = await freePort();
    const server = spawnServer({ ...d.env, PORT: String(port), LOG_LEVEL: "info" });
    await waitForHttp(`http://127.0.0.1:${port}/healthz`);
    // A slow request: a POST whose body arrives slowly keeps the request in flight.
    const slow = slowTokenPost(port);
    await new Promise((r) => setTimeout(r, 300));
    server.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    const refused = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => false, () => true);
    expect(refused).toBe(true);
    const done = await slow;
    expect(done.status).toBe(400);
    expect(done.body).toContain("unsupported_grant_type");
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain("shutting down");
  });
});
