// The multi-process mode (WORKERS > 1, ADR 009) of the BUILT server: one primary that prepares
// once, two workers that serve, rate limits counted across them, a dead worker replaced, a
// graceful stop; and the cross-process ATProto request lock between two real processes.
import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, logLines, productionData, ROOT, slowTokenPost, spawnServer, waitForOutput, type ServerProcess } from "./support/process";

const execFileP = promisify(execFile);

/** GET over a connection of its own, so that the cluster's round-robin spreads the requests. */
function getOnNewConnection(port: number, pathname: string, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: pathname, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    });
    req.on("error", reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error("timed out")));
  });
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("WORKERS=2: a node:cluster primary and two workers", () => {
  const LIMIT = 6;
  let dir: string;
  let port: number;
  let server: ServerProcess;
  let workerPids: number[];
  const lines = () => logLines(server.output());
  /** The log lines that match, once there are `count` of them (stdout arrives after the response). */
  const linesWhere = async (match: (l: Record<string, unknown>) => boolean, count: number) => {
    const deadline = Date.now() + 5_000;
    while (lines().filter(match).length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return lines().filter(match);
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-"));
    const d = productionData(dir);
    // An interrupted wiki create: start-up housekeeping undoes it (and logs that), in one process.
    const buildDir = path.join(d.env.WIKI_BASE, ".tmp", "ghost-build");
    fs.mkdirSync(buildDir, { recursive: true });
    const db = new Database(d.env.ROBOT_DB_PATH);
    db.prepare("INSERT INTO wiki_disk_journal (slug, operation, path, created_at) VALUES (?, 'create', ?, ?)").run("ghost", buildDir, new Date().toISOString());
    db.close();
    port = await freePort();
    server = spawnServer({ ...d.env, PORT: String(port), WORKERS: "2", LOG_LEVEL: "debug", RATE_LIMIT_API_READ: `${LIMIT}/60` });
    await waitForOutput(server, /robot\.wtf platform listening/);
    const started = lines().filter((l) => l.msg === "robot.wtf platform listening");
    expect(started).toHaveLength(1);
    workerPids = started[0].pids as number[];
  });

  afterAll(async () => {
    if (server.child.exitCode === null) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the primary logs one start-up line and runs start-up housekeeping once; each worker serves without it", async () => {
    const [start] = lines().filter((l) => l.msg === "robot.wtf platform listening");
    expect(start.workers).toBe(2);
    expect(start.pid).toBeUndefined(); // the primary's line
    expect(new Set(workerPids).size).toBe(2);
    expect(workerPids).not.toContain(server.child.pid);
    expect((await linesWhere((l) => l.msg === "worker listening", 2)).map((l) => l.pid).sort()).toEqual([...workerPids].sort());
    const housekeeping = lines().filter((l) => typeof l.msg === "string" && l.msg.startsWith("housekeeping"));
    expect(housekeeping.map((l) => l.msg)).toEqual(["housekeeping done"]);
    expect(housekeeping[0].pid).toBeUndefined();
    expect(lines().filter((l) => l.msg === "wiki create undone")).toHaveLength(1);
    expect(fs.existsSync(path.join(dir, "wikis", ".tmp", "ghost-build"))).toBe(false);
  });

  it("both workers serve, and a rate limit counts every request whichever worker served it: the 429 is request limit+1", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 2; i++) statuses.push(await getOnNewConnection(port, "/api/wikis"));
    // api_read is charged before authentication: 401 until the limit, then 429.
    expect(statuses).toEqual([...Array(LIMIT).fill(401), 429, 429]);
    const served = await linesWhere((l) => l.path === "/api/wikis", LIMIT + 2);
    expect(served).toHaveLength(LIMIT + 2);
    // The counted requests came from both workers (so per-process counters would have let request limit+1 through).
    expect(new Set(served.slice(0, LIMIT).map((l) => l.pid))).toEqual(new Set(workerPids));
    // Each worker is ready on its own (database, keys, WIKI_BASE).
    expect([await getOnNewConnection(port, "/readyz"), await getOnNewConnection(port, "/readyz")]).toEqual([200, 200]);
    expect(new Set((await linesWhere((l) => l.path === "/readyz", 2)).map((l) => l.pid))).toEqual(new Set(workerPids));
  });

  it("a worker killed in the middle of requests is logged and replaced, and the replacement serves", async () => {
    const [victim, survivor] = workerPids;
    // Killed amid traffic. (A connection the primary is handing to the worker at that instant
    // is lost inside node:cluster and never answered: hence the short timeout. ADR 009.)
    const burst = Array.from({ length: 100 }, () => getOnNewConnection(port, "/api/wikis", 2_000).catch(() => 0));
    await linesWhere((l) => l.path === "/api/wikis" && l.pid === victim, LIMIT / 2 + 10);
    process.kill(victim, "SIGKILL");
    await Promise.all(burst);
    await waitForOutput(server, /replacement worker listening/);
    const died = lines().find((l) => l.msg === "worker died: replacing it")!;
    expect(died).toMatchObject({ pid: victim, signal: "SIGKILL", restartInMs: 250 });
    const replacement = lines().find((l) => l.msg === "replacement worker listening")!.pid as number;
    expect([victim, survivor]).not.toContain(replacement);
    for (let i = 0; i < 4; i++) expect(await getOnNewConnection(port, "/healthz")).toBe(200);
    const health = (await linesWhere((l) => l.path === "/healthz", 4)).map((l) => l.pid);
    expect(new Set(health)).toEqual(new Set([survivor, replacement]));
    workerPids = [survivor, replacement];
  }, 60_000); // a replacement boots the whole server: slow on a busy 2-core host

  it("SIGTERM to the primary during a slow request: it completes, new connections are refused, every process exits, code 0", async () => {
    const slow = slowTokenPost(port);
    await new Promise((r) => setTimeout(r, 300));
    server.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    const refused = await getOnNewConnection(port, "/healthz").then(() => false, () => true);
    expect(refused).toBe(true);
    const done = await slow;
    expect(done.status).toBe(400);
    expect(done.body).toContain("unsupported_grant_type");
    expect(await server.exited).toBe(0);
    for (const pid of workerPids) expect(isAlive(pid)).toBe(false);
    expect((await linesWhere((l) => l.msg === "stopped", 3)).map((l) => l.pid ?? "primary").sort()).toEqual([...workerPids, "primary"].sort());
  });
});

describe("the multi-process pieces between real processes (cluster-fixture.mjs)", () => {
  type Event = { worker?: number; event: "enter" | "leave" | "exit" | "logged"; ms?: number; msg?: string };
  const run = async (scenario: string): Promise<Event[]> => {
    const { stdout } = await execFileP(process.execPath, ["--import", "tsx", path.join(ROOT, "app/tests/support/cluster-fixture.mjs"), scenario], { cwd: ROOT, timeout: 30_000 });
    const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
    if (!line) throw new Error(`fixture ${scenario} printed no result:\n${stdout}`);
    const result = JSON.parse(line.slice("RESULT ".length)) as { events: Event[]; timedOut: boolean };
    if (result.timedOut) throw new Error(`fixture ${scenario} timed out: ${JSON.stringify(result.events)}`);
    return result.events;
  };
  let results: Record<string, Event[]>;
  beforeAll(async () => {
    const scenarios = ["same", "different", "crash", "lease", "dead-worker"];
    results = Object.fromEntries(await Promise.all(scenarios.map(async (s) => [s, await run(s)] as const)));
  });
  const sequence = (events: Event[]) => events.map((e) => `${e.worker}:${e.event}`);

  it("the request lock serialises two holders of one name in two processes: the second enters after the first leaves", () => {
    const seq = sequence(results.same);
    expect(seq).toHaveLength(4);
    expect(seq.map((s) => s.split(":")[1])).toEqual(["enter", "leave", "enter", "leave"]);
    expect(seq[0].split(":")[0]).toBe(seq[1].split(":")[0]);
    expect(seq[2].split(":")[0]).not.toBe(seq[0].split(":")[0]);
  });

  it("the request lock does not serialise different names (the control: the fixture can see an overlap)", () => {
    expect(sequence(results.different).slice(0, 2).sort()).toEqual(["1:enter", "2:enter"]);
  });

  it("a lock holder that dies loses the lock: the waiter enters after its exit", () => {
    expect(sequence(results.crash)).toEqual(["1:enter", "1:exit", "2:enter", "2:leave"]);
  });

  it("a lock holder that never gives the lock back loses it after the lease", () => {
    const events = results.lease;
    expect(sequence(events)).toEqual(["1:enter", "2:enter", "2:leave"]);
    expect(events[1].ms! - events[0].ms!).toBeGreaterThanOrEqual(280);
  });

  it("a message to a worker that has died is logged, and the primary lives on (no EPIPE crash)", () => {
    expect(results["dead-worker"]).toEqual([{ event: "exit" }, { event: "logged", msg: "worker channel error" }]);
  });
});
