// Start the built server as a real process (node build/server/index.js).
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../../..");

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export interface ServerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * `detached` makes the server the leader of its own process group, so a test can kill it
 * together with its children (git), as a power loss or systemd's control-group kill would.
 */
export function spawnServer(env: Record<string, string>, opts: { detached?: boolean } = {}): ServerProcess {
  const child = spawn(process.execPath, ["build/server/index.js"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: opts.detached ?? false,
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

export async function waitForHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A complete production data directory in `dir` (keys, migrated DB, wikis) and its environment. */
export function productionData(dir: string) {
  fs.writeFileSync(path.join(dir, "signing_key.pem"), crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
  fs.writeFileSync(path.join(dir, "client_jwk.json"), JSON.stringify({ ...ec, kid: "k1", use: "sig", alg: "ES256" }), { mode: 0o600 });
  fs.copyFileSync(process.env.ROBOT_TEMPLATE_DB!, path.join(dir, "robot.db"));
  fs.mkdirSync(path.join(dir, "wikis"));
  return {
    dir,
    env: {
      NODE_ENV: "production",
      SESSION_SECRET: "p".repeat(40),
      SIGNING_KEY_PATH: path.join(dir, "signing_key.pem"),
      CLIENT_JWK_PATH: path.join(dir, "client_jwk.json"),
      ROBOT_DB_PATH: path.join(dir, "robot.db"),
      WIKI_BASE: path.join(dir, "wikis"),
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "warn",
    } as Record<string, string>,
  };
}

/**
 * A request kept in flight: a POST /auth/token whose body arrives `delayMs` late (answered 400
 * unsupported_grant_type once it has).
 */
export function slowTokenPost(port: number, delayMs = 1500): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/auth/token", agent: false, headers: { "Content-Type": "text/plain", "Content-Length": "10" } }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.write("12345");
    setTimeout(() => req.end("67890"), delayMs);
  });
}

/** The server's JSON log lines (anything else is skipped). */
export function logLines(output: string): Record<string, unknown>[] {
  return output.split("\n").flatMap((line) => {
    try {
      const entry = JSON.parse(line);
      return entry && typeof entry === "object" ? [entry] : [];
    } catch {
      return [];
    }
  });
}

/** Wait until the server's output matches `pattern`. */
export async function waitForOutput(server: ServerProcess, pattern: RegExp, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(server.output())) {
    if (server.child.exitCode !== null || server.child.signalCode !== null)
      throw new Error(`the server exited (${server.child.exitCode ?? server.child.signalCode}) before ${pattern} appeared:\n${server.output().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the output within ${timeoutMs} ms:\n${server.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
