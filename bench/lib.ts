// Shared pieces of the benchmark: a production-shaped data directory (keys, env), server
// processes on loopback, wrk runs and their figures, direct seeding of robot.db.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";

export const ROOT = path.resolve(import.meta.dirname, "..");
export const DOMAIN = "wtf.bench.internal";
export const ORIGIN = `https://${DOMAIN}`;

/** A temp data directory with production keys; the env that runs the build in production mode on it. */
export function makeDataDir(): { dir: string; env: Record<string, string> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "robot-bench-"));
  const { privateKey: rsa } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, "signing_key.pem"), rsa.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  const { privateKey: ec } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = { ...ec.export({ format: "jwk" }), kid: "bench", use: "sig", alg: "ES256" };
  fs.writeFileSync(path.join(dir, "client_jwk.json"), JSON.stringify(jwk), { mode: 0o600 });
  fs.mkdirSync(path.join(dir, "wikis"));
  const env: Record<string, string> = {
    NODE_ENV: "production",
    PLATFORM_DOMAIN: DOMAIN,
    PLATFORM_SCHEME: "https",
    HOST: "127.0.0.1",
    DATA_DIR: dir,
    ROBOT_DB_PATH: path.join(dir, "robot.db"),
    WIKI_BASE: path.join(dir, "wikis"),
    SIGNING_KEY_PATH: path.join(dir, "signing_key.pem"),
    CLIENT_JWK_PATH: path.join(dir, "client_jwk.json"),
    SESSION_SECRET: crypto.randomBytes(32).toString("hex"),
    LOG_LEVEL: "info",
    // What production runs with: the unit's heap budget (BENCH_NODE_OPTIONS to compare others).
    NODE_OPTIONS:
      process.env.BENCH_NODE_OPTIONS ??
      /^Environment=NODE_OPTIONS=(.*)$/m.exec(fs.readFileSync(path.join(ROOT, "infra/systemd/robot-platform.service"), "utf8"))?.[1] ??
      "",
    GIT_BIN: "git",
    // Production keeps every limiter on; the bench raises the limits so they count but never refuse.
    ...Object.fromEntries(
      ["DEFAULT", "LOGIN", "CALLBACK", "CONSENT", "CREATE", "SETTINGS", "WIKI_DANGER", "ACCOUNT_DELETE", "API_READ", "API_WRITE"].map(
        (n) => [`RATE_LIMIT_${n}`, "1000000000/60"],
      ),
    ),
  };
  // As the install script does: production never creates robot.db itself.
  execFileSync("npx", ["prisma", "migrate", "deploy", "--config", "prisma/prisma.config.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: "ignore",
  });
  return { dir, env };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Proc {
  child: ChildProcess;
  url: string;
  pid: number;
  stop(): Promise<number | null>;
}

/** Starts `node <args>` with env; resolves once `readyPath` answers 200. Output goes to a log file. */
export async function startNode(args: string[], env: Record<string, string>, logFile: string, readyPath = "/readyz"): Promise<Proc & { readyMs: number }> {
  const port = await freePort();
  const out = fs.openSync(logFile, "a");
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env, PORT: String(port) },
    stdio: ["ignore", out, out],
  });
  fs.closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args.join(" ")} exited with ${child.exitCode}; see ${logFile}`);
    try {
      const res = await fetch(url + readyPath);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (performance.now() - started > 30_000) throw new Error(`${args.join(" ")} not ready after 30 s; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const readyMs = performance.now() - started;
  return {
    child,
    url,
    pid: child.pid!,
    readyMs,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Resident set size in MB of a process and, for a cluster primary, its workers. */
export function rssMb(pid: number): number {
  const pids = [pid, ...childPids(pid)];
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"));
      if (m) kb += Number(m[1]);
    } catch {
      /* gone */
    }
  }
  return kb / 1024;
}

export function childPids(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

const toMs = (v: string, unit: string) => Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 } as Record<string, number>)[unit];

/** One wrk run; latencies in ms. */
export async function wrk(url: string, opts: { connections: number; seconds: number; headers?: Record<string, string>; script?: string }): Promise<WrkResult> {
  const args = ["-t", "1", "-c", String(opts.connections), "-d", `${opts.seconds}s`, "--latency", "--timeout", "10s"];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push("-H", `${k}: ${v}`);
  if (opts.script) args.push("-s", opts.script);
  args.push(url);
  const text = await new Promise<string>((resolve, reject) => {
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}: ${out}`))));
  });
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : 0;
  };
  const lat = (pct: string) => {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(text);
    if (!m) throw new Error(`wrk output has no ${pct}% latency:\n${text}`);
    return toMs(m[1], m[2]);
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: lat("50"),
    p99: lat("99"),
    requests: num(/(\d+) requests in/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

const isoNow = () => new Date().toISOString().replace("Z", "000+00:00");

/** Adds users and their wikis (rows only, as `acceptance.md` §0 allows) until robot.db holds `total` wikis. */
export function seedWikis(dbPath: string, total: number): void {
  const db = new Database(dbPath);
  try {
    db.pragma("busy_timeout = 10000");
    const have = (db.prepare("SELECT count(*) AS n FROM wikis").get() as { n: number }).n;
    const user = db.prepare("INSERT INTO users (did, handle, display_name, created_at, wiki_count) VALUES (?, ?, ?, ?, 1)");
    const wiki = db.prepare(
      "INSERT INTO wikis (slug, owner_did, display_name, repo_path, mcp_token_hash, is_public, created_at, last_accessed, page_count, disk_usage_bytes) VALUES (?, ?, ?, ?, ?, 0, ?, ?, 4, 40960)",
    );
    const now = isoNow();
    db.transaction(() => {
      for (let i = have; i < total; i++) {
        const did = `did:plc:seed${String(i).padStart(20, "0")}`;
        const slug = `seed-${i}`;
        user.run(did, `seed${i}.bsky.social`, `Seed ${i}`, now);
        wiki.run(slug, did, `Seed wiki ${i}`, `/srv/data/wikis/${slug}/repo`, crypto.randomBytes(32).toString("hex"), now, now);
      }
    })();
  } finally {
    db.close();
  }
}

export function insertUser(dbPath: string, did: string, handle: string): void {
  const db = new Database(dbPath);
  try {
    db.pragma("busy_timeout = 10000");
    db.prepare("INSERT INTO users (did, handle, display_name, created_at, wiki_count) VALUES (?, ?, ?, ?, 0)").run(did, handle, handle, isoNow());
  } finally {
    db.close();
  }
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** CPU seconds (user + system) a process and its workers have used: a cost per request that load on the other core does not distort much. */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...childPids(pid)]) {
    try {
      const fields = fs.readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      /* gone */
    }
  }
  return ticks / 100; // USER_HZ
}
