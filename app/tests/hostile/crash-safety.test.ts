// Hostile suite: crash safety (management.md §5.1, §5.3, §5.5; D8). The BUILT server runs as a
// real process; it is killed with SIGKILL — the whole process group, git included, as a power
// loss or systemd's control-group kill does — at several points of a wiki create and a wiki
// delete, then started again on the same data. After start-up housekeeping: no `wikis` row
// without its directory, no platform-made directory without its row, no journal entry, nothing
// left in `.tmp` or `.trash`, the owner's wiki_count matches the rows, and the slug can be
// created again. Product code is untouched: the kill points come from GIT_BIN pointing at a
// wrapper that stalls on a chosen git command, and from a deliberately slow SQLite trigger
// (the server's SQLite calls are synchronous, so while it runs /healthz cannot answer).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issuePlatformJwt } from "~/server/jwt.server";
import { parseSigningKey } from "~/server/keys.server";
import { freePort, spawnServer, waitForHttp, type ServerProcess } from "../support/process";

const DID = "did:plc:crashowner00";
const HANDLE = "crashowner.bsky.social";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "crash-safety-"));
const dataDir = path.join(root, "data");
const wikiBase = path.join(dataDir, "wikis");
const robotDb = path.join(dataDir, "robot.db");
const ctl = path.join(root, "ctl");
const gitBin = path.join(root, "bin", "git");
const gitLog = path.join(ctl, "log");

let server: { proc: ServerProcess; url: string } | undefined;
let jwt: string;

/**
 * `git` for the server (GIT_BIN): logs each command, and sleeps before (ctl/slow-before) or
 * after (ctl/slow-after) the command named there. The server runs git with a fixed minimal
 * environment, so the wrapper's settings are baked in and read from files.
 */
function writeGitWrapper() {
  fs.mkdirSync(path.dirname(gitBin), { recursive: true });
  fs.mkdirSync(ctl, { recursive: true });
  fs.writeFileSync(
    gitBin,
    `#!/bin/sh
sub=""; skip=0
for a in "$@"; do
  if [ $skip = 1 ]; then skip=0; continue; fi
  case "$a" in -c) skip=1 ;; -*) ;; *) sub="$a"; break ;; esac
done
echo "start $sub" >> '${gitLog}'
[ "$(cat '${ctl}/slow-before' 2>/dev/null)" = "$sub" ] && sleep 25
/usr/bin/git "$@"; rc=$?
echo "end $sub $rc" >> '${gitLog}'
[ "$(cat '${ctl}/slow-after' 2>/dev/null)" = "$sub" ] && sleep 25
exit $rc
`,
    { mode: 0o755 },
  );
}

async function start(): Promise<void> {
  const port = await freePort();
  const proc = spawnServer(
    {
      NODE_ENV: "development",
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "warn",
      RATE_LIMITS_ENABLED: "false",
      GIT_BIN: gitBin,
      // Exempt from the one-wiki limit, so every scenario can create again.
      PLATFORM_ADMIN_DIDS: DID,
    },
    { detached: true },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/readyz`);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${proc.output()}`);
  }
  server = { proc, url };
}

/** SIGKILL to the server's whole process group (the server, a running git wrapper, its sleep). */
async function crash(): Promise<void> {
  const s = server!;
  server = undefined;
  process.kill(-s.proc.child.pid!, "SIGKILL");
  await s.proc.exited;
}

async function ensureServer() {
  if (!server) await start();
}

function sql<T>(fn: (db: Database.Database) => T, readonly = true): T {
  const db = new Database(robotDb, { readonly, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const rowOf = (slug: string) => sql((db) => db.prepare("SELECT * FROM wikis WHERE slug = ?").get(slug)) as { repo_path: string } | undefined;
const journal = () => sql((db) => db.prepare("SELECT slug, operation FROM wiki_disk_journal").all());
const list = (dir: string) => (fs.existsSync(path.join(wikiBase, dir)) ? fs.readdirSync(path.join(wikiBase, dir)) : []);

function api(method: string, p: string, body?: unknown) {
  return fetch(`${server!.url}${p}`, {
    method,
    headers: { Authorization: `Bearer ${jwt}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
}

async function createWiki(slug: string) {
  const res = await api("POST", "/api/wikis", { slug, display_name: `Wiki ${slug}` });
  expect(res.status, await res.clone().text()).toBe(201);
  const repo = path.join(wikiBase, slug, "repo");
  expect(execFileSync("/usr/bin/git", ["log", "--format=%s"], { cwd: repo, encoding: "utf8" }).trim()).toBe("Initial commit");
  expect(fs.existsSync(path.join(wikiBase, slug, "wiki.db"))).toBe(true);
}

/** /healthz does not answer within 300 ms: the server is stuck in a synchronous SQLite statement. */
async function serverBlocked(): Promise<boolean> {
  try {
    await fetch(`${server!.url}/healthz`, { signal: AbortSignal.timeout(300) });
    return false;
  } catch {
    return true;
  }
}

/** Polls until `check` holds; fails at once if the request already answered (the window was missed). */
async function waitUntil(what: string, check: () => boolean | Promise<boolean>, answered: () => string | undefined, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    const missed = answered() ?? (Date.now() > deadline ? "timed out" : undefined);
    if (missed) {
      const state = { trash: list(".trash"), tmp: list(".tmp"), journal: journal() };
      throw new Error(`never reached: ${what} (${missed}; ${JSON.stringify(state)})\n${server?.proc.output() ?? ""}`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Sends a request that the crash is expected to cut off; `answer()` says how it ended, if it has. */
function pendingRequest(method: string, p: string, body?: unknown) {
  let outcome: string | undefined;
  let error: string | undefined;
  const done = api(method, p, body).then(
    (res) => (outcome = `answered ${res.status}`),
    (err: Error) => {
      error = `${err.message} ${String((err.cause as Error | undefined)?.message ?? "")}`;
      return (outcome = "no answer");
    },
  );
  return { done, answered: () => (outcome === "no answer" ? `failed: ${error}` : outcome) };
}

const gitLogHas = (line: string) => fs.existsSync(gitLog) && fs.readFileSync(gitLog, "utf8").split("\n").includes(line);

/** A SQLite statement that runs for many seconds, fired by a trigger inside the server's own transaction. */
function armSlowTrigger(event: string) {
  sql((db) => {
    db.exec("CREATE TABLE crash_slow (n INTEGER)");
    db.prepare("INSERT INTO crash_slow SELECT value FROM json_each(?)").run(JSON.stringify(Array.from({ length: 40_000 }, (_, i) => i)));
    db.exec(`CREATE TRIGGER crash_slow_trigger ${event} BEGIN SELECT count(*) FROM crash_slow a, crash_slow b WHERE a.n <> b.n + 0.5; END`);
  }, false);
}

/** Each scenario starts from an empty git log (the re-create of the previous one wrote to it). */
function clearGitLog() {
  fs.rmSync(gitLog, { force: true });
}

function disarm() {
  for (const f of ["slow-before", "slow-after"]) fs.rmSync(path.join(ctl, f), { force: true });
  fs.rmSync(gitLog, { force: true });
  sql((db) => db.exec("DROP TRIGGER IF EXISTS crash_slow_trigger; DROP TABLE IF EXISTS crash_slow"), false);
}

/** The invariants start-up housekeeping must leave (management.md §5.5). */
function expectConsistent() {
  const rows = sql((db) => db.prepare("SELECT slug, repo_path FROM wikis").all()) as Array<{ slug: string; repo_path: string }>;
  for (const row of rows) {
    expect(fs.existsSync(row.repo_path), `row ${row.slug} has its repo`).toBe(true);
    expect(fs.existsSync(path.join(wikiBase, row.slug, "wiki.db")), `row ${row.slug} has its wiki.db`).toBe(true);
  }
  const slugDirs = fs.readdirSync(wikiBase).filter((n) => !n.startsWith(".") && n !== "_default");
  expect(slugDirs.sort(), "every slug directory has its row").toEqual(rows.map((r) => r.slug).sort());
  expect(journal(), "no journal entry").toEqual([]);
  expect(list(".tmp"), "nothing left in .tmp").toEqual([]);
  expect(list(".trash"), "no tombstone left in .trash").toEqual([]);
  expect(list(".orphaned"), "nothing was taken for a stray").toEqual([]);
  expect(fs.readdirSync(path.join(wikiBase, "_default")), "a directory the platform did not make is untouched").toEqual(["keep.txt"]);
  const count = sql((db) => (db.prepare("SELECT wiki_count FROM users WHERE did = ?").get(DID) as { wiki_count: number }).wiki_count);
  expect(count, "wiki_count matches the rows").toBe(rows.length);
}

beforeAll(async () => {
  fs.mkdirSync(wikiBase, { recursive: true });
  fs.mkdirSync(path.join(wikiBase, "_default"));
  fs.writeFileSync(path.join(wikiBase, "_default", "keep.txt"), "not the platform's");
  fs.copyFileSync(process.env.ROBOT_TEMPLATE_DB!, robotDb);
  sql((db) => db.prepare("INSERT INTO users (did, handle, display_name, created_at, wiki_count) VALUES (?, ?, NULL, ?, 0)").run(DID, HANDLE, new Date().toISOString()), false);
  writeGitWrapper();
  await start(); // generates the development keys into DATA_DIR
  const key = await parseSigningKey(fs.readFileSync(path.join(dataDir, "signing_key.pem"), "utf8"));
  jwt = await issuePlatformJwt(key, { issuer: "robot.wtf", audience: "robot.wtf" }, { did: DID, handle: HANDLE, name: HANDLE });
  expect((await api("GET", "/api/me")).status).toBe(200);
});

afterAll(async () => {
  if (server) await crash();
  fs.rmSync(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------

interface KillPoint {
  name: string;
  arm: () => void;
  reached: () => boolean | Promise<boolean>;
  /** What the data looked like at the kill (server dead, before the restart): proves the window was hit. */
  atKill: (slug: string) => void;
}

/**
 * Arms the kill point, sends the request, SIGKILLs the server when the point is reached (the
 * client gets no answer), checks the data at the kill, then starts the server again on the
 * same data and checks what start-up housekeeping left.
 */
async function crashDuring(point: KillPoint, slug: string, method: string, p: string, body?: unknown) {
  clearGitLog();
  point.arm();
  try {
    const pending = pendingRequest(method, p, body);
    await waitUntil(point.name, point.reached, pending.answered);
    await crash();
    expect(await pending.done, "the client got no answer").toBe("no answer");
  } finally {
    if (server) await crash();
    disarm();
  }
  point.atKill(slug);
  await start();
  expectConsistent();
}

const beforeRow = (slug: string) => {
  expect(rowOf(slug)).toBeUndefined();
  expect(journal()).toEqual([]);
  expect(list(".tmp").some((n) => n.startsWith(`${slug}.`)), "the build directory is in .tmp").toBe(true);
};

const CREATE_POINTS: KillPoint[] = [
  ...["init", "config", "add", "commit", "status"].map((sub) => ({
    name: `during git ${sub}`,
    arm: () => fs.writeFileSync(path.join(ctl, "slow-before"), sub),
    reached: () => gitLogHas(`start ${sub}`),
    atKill: beforeRow,
  })),
  {
    name: "after the last git command, before the row",
    arm: () => fs.writeFileSync(path.join(ctl, "slow-after"), "status"),
    reached: () => gitLogHas("end status 0"),
    atKill: beforeRow,
  },
  {
    name: "inside the create transaction (row inserted, not committed)",
    arm: () => armSlowTrigger("AFTER INSERT ON wikis"),
    reached: () => gitLogHas("end status 0") && serverBlocked(),
    atKill: beforeRow,
  },
  {
    name: "after the commit and the rename, before the journal entry is cleared",
    arm: () => armSlowTrigger("AFTER DELETE ON wiki_disk_journal"),
    reached: () => gitLogHas("end status 0") && serverBlocked(),
    atKill: (slug) => {
      expect(rowOf(slug)).toBeDefined();
      expect(fs.existsSync(path.join(wikiBase, slug, "repo"))).toBe(true);
      expect(journal()).toEqual([{ slug, operation: "create" }]);
    },
  },
];

describe("kill -9 during a wiki create, then restart (D8, §5.5)", () => {
  it.each(CREATE_POINTS.map((p, i) => [p.name, p, `crash-c${i}`] as const))("%s: nothing half-made remains, and the slug can be created again", async (_name, point, slug) => {
    await ensureServer();
    await crashDuring(point, slug, "POST", "/api/wikis", { slug, display_name: "Interrupted" });
    // The client never got a token, so nothing of this create survives (the journal undoes it).
    expect(rowOf(slug)).toBeUndefined();
    await createWiki(slug);
    expectConsistent();
  });
});

const DELETE_POINTS: Array<KillPoint & { survives: boolean; bigTree?: boolean }> = [
  {
    name: "inside the delete transaction (not committed)",
    arm: () => armSlowTrigger("AFTER DELETE ON wikis"),
    reached: serverBlocked,
    survives: true,
    atKill: (slug) => {
      expect(rowOf(slug)).toBeDefined();
      expect(fs.existsSync(path.join(wikiBase, slug, "repo"))).toBe(true);
      expect(journal()).toEqual([]);
    },
  },
  {
    name: "after the commit and the tombstone rename, before the journal entry is cleared",
    arm: () => armSlowTrigger("AFTER DELETE ON wiki_disk_journal"),
    reached: serverBlocked,
    survives: false,
    atKill: (slug) => {
      expect(rowOf(slug)).toBeUndefined();
      expect(fs.existsSync(path.join(wikiBase, slug))).toBe(false);
      expect(list(".trash").filter((n) => n.startsWith(`${slug}.`))).toHaveLength(1);
      expect(journal()).toEqual([{ slug, operation: "delete" }]);
    },
  },
  {
    name: "while the tombstone is being removed (journal already cleared)",
    arm: () => undefined,
    bigTree: true,
    reached: () => list(".trash").length > 0 && journal().length === 0,
    survives: false,
    atKill: (slug) => {
      expect(rowOf(slug)).toBeUndefined();
      expect(journal()).toEqual([]);
      expect(list(".trash").filter((n) => n.startsWith(`${slug}.`)), "the tombstone was still there").toHaveLength(1);
    },
  },
];

describe("kill -9 during a wiki delete, then restart (D8, §5.3, §5.5)", () => {
  it.each(DELETE_POINTS.map((p, i) => [p.name, p, `crash-d${i}`] as const))("%s: the wiki is wholly there or wholly gone, and the slug works again", async (_name, point, slug) => {
    await ensureServer();
    await createWiki(slug);
    if (point.bigTree) {
      // Pages the wiki server wrote: enough files that removing the tombstone takes a while.
      const pages = path.join(wikiBase, slug, "repo", "pages");
      for (let d = 0; d < 100; d++) {
        fs.mkdirSync(path.join(pages, String(d)), { recursive: true });
        for (let f = 0; f < 200; f++) fs.writeFileSync(path.join(pages, String(d), `${f}.md`), "x");
      }
      // Let fetch's keep-alive timers run: the pooled connection may have gone idle meanwhile.
      await new Promise((r) => setTimeout(r, 50));
    }
    await crashDuring(point, slug, "DELETE", `/api/wikis/${slug}`);
    if (point.survives) {
      expect(rowOf(slug)).toBeDefined();
      expect((await api("DELETE", `/api/wikis/${slug}`)).status).toBe(200);
    } else {
      expect(rowOf(slug)).toBeUndefined();
    }
    expectConsistent();
    await createWiki(slug);
    expectConsistent();
  });
});
