// Integration + contract: a wiki's life on disk (management.md §5, D8; acceptance FS1–FS8,
// contracts.md §7–§8): what a create leaves behind, races, injected faults, crash recovery
// through the journal, and housekeeping.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runHousekeeping, startHousekeeping } from "~/server/housekeeping.server";
import { buildWikiDirectory, fileTimestamp, tombstonePath } from "~/server/wiki-disk.server";
import { isoNow } from "~/server/time.server";
import { loadBuild, startTestPlatform, type TestPlatform } from "./support/platform";
import { api, createWikiApi, entries, exists, postForm, wikiCount, wikiDir, type TestUser } from "./support/mgmt";

const sha256 = (s: string) => crypto.createHash("sha256").update(s, "utf8").digest("hex");
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8" });
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;

let tp: TestPlatform;
let seq = 0;
const newUser = (prefix = "fs") => tp.createUser(`${prefix}${++seq}.bsky.social`);

beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(() => tp.close());

/** Nothing half-made anywhere: no journal entries and empty private build directories. */
async function expectNoLeftovers(t: TestPlatform) {
  expect(await t.platform.db.wikiDiskJournal.findMany()).toEqual([]);
  expect(entries(t, ".tmp")).toEqual([]);
}

describe("contract: a created wiki on disk (FS1–FS3, T1)", () => {
  let user: TestUser;
  let token: string;
  beforeAll(async () => {
    user = await tp.createUser("Contract.bsky.social".toLowerCase());
    token = (await createWikiApi(tp, user, "contract", "Contract Wiki", "Notes about contracts")).mcp_token;
  });

  it("FS1: a non-bare repo that passes git fsck, with one clean 'Initial commit' holding the four pages", () => {
    const repo = path.join(wikiDir(tp, "contract"), "repo");
    expect(git(repo, "rev-parse", "--is-bare-repository").trim()).toBe("false");
    git(repo, "fsck", "--strict", "--no-progress");
    expect(git(repo, "log", "--format=%s|%an <%ae>").trim().split("\n")).toEqual(["Initial commit|robot.wtf <system@robot.wtf>"]);
    expect(git(repo, "ls-tree", "--name-only", "HEAD").trim().split("\n").sort()).toEqual([
      "Administration.md",
      "Agent_Guide.md",
      "Getting_Started.md",
      "Home.md",
    ]);
    expect(git(repo, "status", "--porcelain", "--untracked-files=all")).toBe("");
    const home = fs.readFileSync(path.join(repo, "Home.md"), "utf8");
    expect(home).toContain("Contract Wiki");
    expect(home).toContain("Notes about contracts");
    expect(fs.readFileSync(path.join(repo, "Getting_Started.md"), "utf8")).toContain("http://127.0.0.1:5173/app/wiki/contract");
  });

  it("FS2: wiki.db tables, columns, seeded preferences and owner row equal contracts.md §7", () => {
    const file = path.join(wikiDir(tp, "contract"), "wiki.db");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const db = new Database(file, { readonly: true });
    try {
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
      expect(tables).toEqual(["cache", "drafts", "preferences", "user"]);
      const columns = (t: string) => (db.prepare(`SELECT name FROM pragma_table_info('${t}')`).all() as Array<{ name: string }>).map((r) => r.name);
      expect(columns("preferences")).toEqual(["name", "value"]);
      expect(columns("drafts")).toEqual(["id", "pagepath", "revision", "author_email", "content", "cursor_line", "cursor_ch", "datetime"]);
      expect(columns("user")).toEqual([
        "id", "name", "email", "password_hash", "first_seen", "last_seen",
        "is_approved", "is_admin", "email_confirmed", "allow_read", "allow_write", "allow_upload",
      ]);
      expect(columns("cache")).toEqual(["key", "value", "datetime"]);
      const prefs = Object.fromEntries(
        (db.prepare("SELECT name, value FROM preferences").all() as Array<{ name: string; value: string }>).map((r) => [r.name, r.value]),
      );
      expect(prefs).toEqual({
        READ_ACCESS: "APPROVED",
        WRITE_ACCESS: "APPROVED",
        ATTACHMENT_ACCESS: "APPROVED",
        AUTH_METHOD: "PROXY_HEADER",
        DISABLE_REGISTRATION: "True",
        AUTO_APPROVAL: "False",
        _schema_version: "3",
        SITE_ICON: "/platform/robot.wtf.svg",
        SITE_LOGO: "/platform/robot.wtf.svg",
        GIT_WEB_SERVER: "False",
        SITE_NAME: "Contract Wiki",
        SITE_DESCRIPTION: "Notes about contracts",
      });
      const owners = db.prepare('SELECT * FROM "user"').all() as Array<Record<string, unknown>>;
      expect(owners).toHaveLength(1);
      expect(owners[0]).toMatchObject({
        name: "contract",
        email: "@contract.bsky.social",
        password_hash: null,
        is_admin: 1,
        is_approved: 1,
        allow_read: 1,
        allow_write: 1,
        allow_upload: 1,
        email_confirmed: 0,
      });
      expect(owners[0].first_seen).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      db.close();
    }
  });

  it("FS3/T1: the wikis row and the counter; only the token's SHA-256 is stored", async () => {
    const row = (await tp.platform.db.wiki.findUnique({ where: { slug: "contract" } }))!;
    expect(row).toMatchObject({
      owner_did: user.did,
      display_name: "Contract Wiki",
      repo_path: path.join(tp.platform.config.wikiBase, "contract", "repo"),
      is_public: 0,
      page_count: 4,
      mcp_token_hash: sha256(token),
    });
    expect(row.created_at).toMatch(ISO);
    expect(row.last_accessed).toBe(row.created_at);
    expect(row.disk_usage_bytes).toBeGreaterThan(1000);
    expect(await wikiCount(tp, user.did)).toBe(1);
    // The token itself is nowhere in robot.db.
    expect(fs.readFileSync(tp.platform.config.robotDbPath).includes(Buffer.from(token))).toBe(false);
    await expectNoLeftovers(tp);
  });

  it("FS7: a stray {slug} directory without a row is moved under .orphaned and the create succeeds", async () => {
    const u = await newUser();
    const stray = wikiDir(tp, "stray-dir");
    fs.mkdirSync(path.join(stray, "junk"), { recursive: true });
    fs.writeFileSync(path.join(stray, "junk", "file.txt"), "left over");
    await createWikiApi(tp, u, "stray-dir");
    expect(exists(path.join(stray, "repo", ".git"))).toBe(true);
    const orphaned = entries(tp, ".orphaned").filter((n) => n.startsWith("stray-dir."));
    expect(orphaned).toHaveLength(1);
    expect(fs.readFileSync(path.join(tp.platform.config.wikiBase, ".orphaned", orphaned[0], "junk", "file.txt"), "utf8")).toBe("left over");
    expect(tp.logs.join("\n")).toContain("stray wiki directory moved to .orphaned");
  });
});

describe("races (D8, FS5, FS6)", () => {
  it("20 parallel creates of one slug by different users → exactly one wiki; the rest 409", async () => {
    const users = await Promise.all(Array.from({ length: 20 }, () => newUser("race")));
    const results = await Promise.all(
      users.map((u) => api(tp, "POST", "/api/wikis", u, { slug: "contested", display_name: `By ${u.handle}` })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    for (const r of results.filter((r) => r.status === 409)) expect(await r.json()).toEqual({ error: "Wiki already exists" });
    const winner = users[statuses.indexOf(201)];
    const row = await tp.platform.db.wiki.findUnique({ where: { slug: "contested" } });
    expect(row?.owner_did).toBe(winner.did);
    for (const u of users) expect(await wikiCount(tp, u.did)).toBe(u === winner ? 1 : 0);
    git(path.join(wikiDir(tp, "contested"), "repo"), "fsck", "--no-progress");
    await expectNoLeftovers(tp);
  });

  it("UI: parallel creates of one slug → one 'Wiki created!' and 'already taken' for the rest", async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => newUser("uirace")));
    const results = await Promise.all(users.map((u) => postForm(tp, "/app/create", u, { slug: "ui-contested", display_name: "Mine" })));
    const bodies = await Promise.all(results.map((r) => r.text()));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(4);
    expect(bodies.filter((b) => b.includes("Wiki created!"))).toHaveLength(1);
    expect(bodies.filter((b) => b.includes("That slug is already taken."))).toHaveLength(4);
    expect(bodies.filter((b) => b.includes("token-display"))).toHaveLength(1);
    await expectNoLeftovers(tp);
  });

  for (const n of [2, 5]) {
    it(`FS5: ${n} parallel creates by one non-admin user → exactly one wiki, the rest 403`, async () => {
      const u = await newUser("burst");
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => api(tp, "POST", "/api/wikis", u, { slug: `burst-${seq}-${i}`, display_name: `B${i}` })),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([201, ...Array(n - 1).fill(403)]);
      expect(await tp.platform.db.wiki.count({ where: { owner_did: u.did } })).toBe(1);
      expect(await wikiCount(tp, u.did)).toBe(1);
      const dirs = fs.readdirSync(tp.platform.config.wikiBase).filter((d) => d.startsWith(`burst-${seq}-`));
      expect(dirs).toHaveLength(1);
      await expectNoLeftovers(tp);
    });
  }

  it("FS6: two parallel creates of one slug → one 201, one 409", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const res = await Promise.all([a, b].map((u) => api(tp, "POST", "/api/wikis", u, { slug: "pair", display_name: "P" })));
    expect(res.map((r) => r.status).sort()).toEqual([201, 409]);
  });
});

describe("everything or nothing: injected faults (FS4, D8)", () => {
  afterEach(async () => {
    for (const t of ["fail_wiki_insert", "fail_user_update", "fail_journal_delete"]) {
      await tp.platform.db.$executeRawUnsafe(`DROP TRIGGER IF EXISTS ${t}`);
    }
  });

  async function expectNothingLeft(t: TestPlatform, u: TestUser, slug: string) {
    expect(await t.platform.db.wiki.findUnique({ where: { slug } })).toBeNull();
    expect(exists(wikiDir(t, slug))).toBe(false);
    expect(await wikiCount(t, u.did)).toBe(0);
    await expectNoLeftovers(t);
  }

  it("FS4: a failing GIT_BIN → UI 500 and API 500, nothing left behind", async () => {
    const broken = await startTestPlatform({ GIT_BIN: "/bin/false" });
    try {
      const u = await broken.createUser("gitless.bsky.social");
      const ui = await postForm(broken, "/app/create", u, { slug: "gitless", display_name: "G" });
      expect(ui.status).toBe(500);
      expect(await ui.text()).toContain("Failed to initialize wiki repository.");
      const apiRes = await api(broken, "POST", "/api/wikis", u, { slug: "gitless", display_name: "G" });
      expect(apiRes.status).toBe(500);
      expect(await apiRes.json()).toEqual({ error: "Failed to initialize wiki repository" });
      await expectNothingLeft(broken, u, "gitless");
      expect(broken.logs.join("\n")).toContain("wiki build failed");
    } finally {
      await broken.close();
    }
  });

  it("a git that works for init/add/commit but then fails (status) → 500, nothing left", async () => {
    const dir = fs.mkdtempSync(path.join(tp.dataDir, "gitwrap-"));
    const wrapper = path.join(dir, "git");
    fs.writeFileSync(wrapper, `#!/bin/sh\nfor a in "$@"; do [ "$a" = status ] && exit 3; done\nexec /usr/bin/git "$@"\n`, { mode: 0o755 });
    const flaky = await startTestPlatform({ GIT_BIN: wrapper });
    try {
      const u = await flaky.createUser("flaky.bsky.social");
      const res = await api(flaky, "POST", "/api/wikis", u, { slug: "flaky", display_name: "F" });
      expect(res.status).toBe(500);
      await expectNothingLeft(flaky, u, "flaky");
      expect(flaky.logs.join("\n")).toContain("git status --porcelain --untracked-files=all failed (exit code 3)");
    } finally {
      await flaky.close();
    }
  });

  it("a fault in the wikis INSERT (after the git step) → 500, no row, no directory", async () => {
    const u = await newUser();
    await tp.platform.db.$executeRawUnsafe(
      "CREATE TRIGGER fail_wiki_insert BEFORE INSERT ON wikis BEGIN SELECT RAISE(ABORT, 'injected insert fault'); END",
    );
    const res = await api(tp, "POST", "/api/wikis", u, { slug: "insert-fault", display_name: "I" });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "Failed to initialize wiki repository" });
    await expectNothingLeft(tp, u, "insert-fault");
    expect(tp.logs.join("\n")).toContain("injected insert fault");
  });

  it("a fault after the INSERT in the same transaction (wiki_count) rolls the row back", async () => {
    const u = await newUser();
    await tp.platform.db.$executeRawUnsafe(
      "CREATE TRIGGER fail_user_update BEFORE UPDATE OF wiki_count ON users BEGIN SELECT RAISE(ABORT, 'injected counter fault'); END",
    );
    const res = await postForm(tp, "/app/create", u, { slug: "counter-fault", display_name: "C" });
    expect(res.status).toBe(500);
    expect(await res.text()).toContain("Failed to initialize wiki repository.");
    await tp.platform.db.$executeRawUnsafe("DROP TRIGGER fail_user_update");
    await expectNothingLeft(tp, u, "counter-fault");
  });

  it("a failing rename into place (after the commit) is undone: row, counter and journal reverted", async () => {
    const u = await newUser();
    const base = tp.platform.config.wikiBase;
    // A stray directory must be moved aside, but .orphaned is a file: the directory step fails.
    fs.mkdirSync(path.join(base, "rename-fault"));
    const orphanedExisted = fs.existsSync(path.join(base, ".orphaned"));
    const orphanedBackup = path.join(base, ".orphaned-backup");
    if (orphanedExisted) fs.renameSync(path.join(base, ".orphaned"), orphanedBackup);
    fs.writeFileSync(path.join(base, ".orphaned"), "not a directory");
    try {
      const res = await api(tp, "POST", "/api/wikis", u, { slug: "rename-fault", display_name: "R" });
      expect(res.status).toBe(500);
      expect(await tp.platform.db.wiki.findUnique({ where: { slug: "rename-fault" } })).toBeNull();
      expect(await wikiCount(tp, u.did)).toBe(0);
      await expectNoLeftovers(tp);
      // The stray directory was not ours and is still there, untouched.
      expect(fs.readdirSync(path.join(base, "rename-fault"))).toEqual([]);
      expect(tp.logs.join("\n")).toContain("wiki create undone");
    } finally {
      fs.rmSync(path.join(base, ".orphaned"));
      if (orphanedExisted) fs.renameSync(orphanedBackup, path.join(base, ".orphaned"));
      fs.rmSync(path.join(base, "rename-fault"), { recursive: true, force: true });
    }
  });

  it("when even the undo fails, the journal entry stays and start-up housekeeping finishes the undo", async () => {
    const u = await newUser();
    await tp.platform.db.$executeRawUnsafe(
      "CREATE TRIGGER fail_journal_delete BEFORE DELETE ON wiki_disk_journal BEGIN SELECT RAISE(ABORT, 'injected journal fault'); END",
    );
    const res = await api(tp, "POST", "/api/wikis", u, { slug: "journal-fault", display_name: "J" });
    expect(res.status).toBe(500);
    // Left mid-way: the row and its journal entry; the directory already went.
    expect(await tp.platform.db.wiki.findUnique({ where: { slug: "journal-fault" } })).not.toBeNull();
    expect((await tp.platform.db.wikiDiskJournal.findMany()).map((e) => [e.slug, e.operation])).toEqual([["journal-fault", "create"]]);
    expect(tp.logs.join("\n")).toContain("undo failed; left to housekeeping");
    await tp.platform.db.$executeRawUnsafe("DROP TRIGGER fail_journal_delete");

    const report = await runHousekeeping(tp.platform, { startup: true });
    expect(report.journal.undone).toEqual(["journal-fault"]);
    await expectNothingLeft(tp, u, "journal-fault");
  });
});

describe("delete (FS8)", () => {
  it("removes the row, reindex rows, directory and tombstone; the slug is free at once", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, "gone-soon");
    await tp.platform.db.reindexQueue.createMany({
      data: ["Home.md", "Agent_Guide.md"].map((page_path) => ({ wiki_slug: "gone-soon", page_path, action: "upsert", queued_at: isoNow() })),
    });
    expect((await api(tp, "DELETE", "/api/wikis/gone-soon", u)).status).toBe(200);
    expect(exists(wikiDir(tp, "gone-soon"))).toBe(false);
    expect(entries(tp, ".trash").filter((n) => n.startsWith("gone-soon."))).toEqual([]);
    expect(await tp.platform.db.reindexQueue.count({ where: { wiki_slug: "gone-soon" } })).toBe(0);
    await expectNoLeftovers(tp);
    await createWikiApi(tp, u, "gone-soon");
  });

  it("a missing directory is logged and the delete still succeeds", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, "no-dir");
    fs.rmSync(wikiDir(tp, "no-dir"), { recursive: true });
    expect((await api(tp, "DELETE", "/api/wikis/no-dir", u)).status).toBe(200);
    expect(await tp.platform.db.wiki.findUnique({ where: { slug: "no-dir" } })).toBeNull();
    expect(tp.logs.join("\n")).toContain("wiki directory missing at delete; continuing");
  });

  it("a failing delete transaction changes nothing (500)", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, "sticky");
    await tp.platform.db.$executeRawUnsafe(
      "CREATE TRIGGER fail_wiki_delete BEFORE DELETE ON wikis BEGIN SELECT RAISE(ABORT, 'injected delete fault'); END",
    );
    try {
      const res = await api(tp, "DELETE", "/api/wikis/sticky", u);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: "Failed to delete wiki" });
      const ui = await postForm(tp, "/app/wiki/sticky", u, { intent: "delete", confirm_slug: "sticky" });
      expect(ui.status).toBe(500);
      expect(await ui.text()).toContain("Failed to delete wiki.");
    } finally {
      await tp.platform.db.$executeRawUnsafe("DROP TRIGGER fail_wiki_delete");
    }
    expect(await tp.platform.db.wiki.findUnique({ where: { slug: "sticky" } })).not.toBeNull();
    expect(exists(path.join(wikiDir(tp, "sticky"), "repo"))).toBe(true);
    expect(await wikiCount(tp, u.did)).toBe(1);
    await expectNoLeftovers(tp);
  });
});

describe("crash safety: start-up housekeeping settles the journal (§5.5)", () => {
  it("an interrupted create (committed, not renamed) is undone; one renamed but not cleared is undone too", async () => {
    const u = await newUser();
    const base = tp.platform.config.wikiBase;
    for (const [slug, renamed] of [["crash-new", false], ["crash-moved", true]] as const) {
      const build = await buildWikiDirectory({
        wikiBase: base, slug, displayName: "Crash", description: "", ownerHandle: u.handle,
        domain: tp.platform.config.domain, origin: tp.origin, gitBin: "git",
      });
      await tp.platform.db.$transaction([
        tp.platform.db.wiki.create({
          data: {
            slug, owner_did: u.did, display_name: "Crash", repo_path: path.join(base, slug, "repo"),
            mcp_token_hash: sha256(slug), created_at: isoNow(), last_accessed: isoNow(),
          },
        }),
        tp.platform.db.user.update({ where: { did: u.did }, data: { wiki_count: { increment: 1 } } }),
        tp.platform.db.wikiDiskJournal.create({ data: { slug, operation: "create", path: build.buildDir, created_at: isoNow() } }),
      ]);
      if (renamed) fs.renameSync(build.buildDir, path.join(base, slug));
    }
    fs.mkdirSync(path.join(base, "_default"), { recursive: true }); // never touched
    expect(await wikiCount(tp, u.did)).toBe(2);

    const report = await runHousekeeping(tp.platform, { startup: true });
    expect(report.journal.undone.sort()).toEqual(["crash-moved", "crash-new"]);
    for (const slug of ["crash-new", "crash-moved"]) {
      expect(await tp.platform.db.wiki.findUnique({ where: { slug } })).toBeNull();
      expect(exists(path.join(base, slug))).toBe(false);
    }
    expect(await wikiCount(tp, u.did)).toBe(0);
    expect(exists(path.join(base, "_default"))).toBe(true);
    await expectNoLeftovers(tp);
  });

  it("an interrupted delete (committed, directory not moved, or moved but not removed) is finished", async () => {
    const u1 = await newUser();
    const u2 = await newUser();
    const base = tp.platform.config.wikiBase;
    await createWikiApi(tp, u1, "crash-del-a");
    await createWikiApi(tp, u2, "crash-del-b");
    const targets: Record<string, string> = {};
    for (const slug of ["crash-del-a", "crash-del-b"]) {
      targets[slug] = tombstonePath(base, slug);
      await tp.platform.db.$transaction([
        tp.platform.db.wikiDiskJournal.create({ data: { slug, operation: "delete", path: targets[slug], created_at: isoNow() } }),
        tp.platform.db.wiki.delete({ where: { slug } }),
      ]);
    }
    // b got as far as its tombstone rename.
    fs.mkdirSync(path.dirname(targets["crash-del-b"]), { recursive: true });
    fs.renameSync(path.join(base, "crash-del-b"), targets["crash-del-b"]);

    // A fresh process on the same data: createPlatform runs the start-up housekeeping.
    const b = await loadBuild();
    const second = await b.createPlatform(tp.platform.config, tp.platform.log);
    try {
      for (const slug of ["crash-del-a", "crash-del-b"]) {
        expect(exists(path.join(base, slug))).toBe(false);
        expect(exists(targets[slug])).toBe(false);
      }
      expect(await second.db.wikiDiskJournal.count()).toBe(0);
    } finally {
      await second.close();
    }
  });

  it("periodic runs leave young journal entries alone (a request may still be working on them)", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, "young-entry");
    const target = tombstonePath(tp.platform.config.wikiBase, "young-entry");
    await tp.platform.db.wikiDiskJournal.create({ data: { slug: "young-entry", operation: "delete", path: target, created_at: isoNow() } });
    const periodic = await runHousekeeping(tp.platform);
    expect(periodic.journal).toEqual({ undone: [], finished: [], failed: [] });
    expect(exists(wikiDir(tp, "young-entry"))).toBe(true);
    // A delete entry for a wiki that still has its row is never acted on.
    const startup = await runHousekeeping(tp.platform, { startup: true });
    expect(startup.journal.failed).toEqual(["young-entry"]);
    expect(exists(wikiDir(tp, "young-entry"))).toBe(true);
    expect(await tp.platform.db.wikiDiskJournal.count()).toBe(0);
  });

  it("an entry blocks a create of its slug until it is settled", async () => {
    const u = await newUser();
    await tp.platform.db.wikiDiskJournal.create({
      data: { slug: "held-slug", operation: "delete", path: tombstonePath(tp.platform.config.wikiBase, "held-slug"), created_at: isoNow() },
    });
    const res = await api(tp, "POST", "/api/wikis", u, { slug: "held-slug", display_name: "H" });
    expect(res.status).toBe(409);
    expect(await tp.platform.db.wiki.findUnique({ where: { slug: "held-slug" } })).toBeNull();
    expect(await wikiCount(tp, u.did)).toBe(0);
    await runHousekeeping(tp.platform, { startup: true });
    await createWikiApi(tp, u, "held-slug");
  });
});

describe("housekeeping: sweep and purges (§5.5)", () => {
  it("removes .tmp/.trash entries older than an hour, stale OAuth states and expired consent nonces", async () => {
    const base = tp.platform.config.wikiBase;
    // Housekeeping's clock, 61 minutes ahead: entries made now are then over an hour old
    // (a directory's ctime cannot be set back), except one whose name carries a newer time.
    const now = Date.now() + 61 * 60_000;
    const oldTmp = path.join(base, ".tmp", "oldbuild.abc123");
    const freshTmp = path.join(base, ".tmp", `freshbuild.${fileTimestamp(new Date(now - 60_000))}`);
    const oldTrash = path.join(base, ".trash", "oldtrash.x");
    const orphan = path.join(base, ".orphaned", "kept.20200101T000000000Z");
    for (const dir of [oldTmp, freshTmp, oldTrash, orphan]) fs.mkdirSync(dir, { recursive: true });

    // OAuth flows age by the real clock (the login module's purge); nonces by housekeeping's.
    const ago = (ms: number) => isoNow(new Date(Date.now() - ms));
    await tp.platform.db.atprotoOauthState.createMany({
      data: [
        { key: "stale", value: "{}", created_at: ago(16 * 60_000) },
        { key: "stale-old", value: "{}", created_at: ago(60 * 60_000) },
        { key: "fresh", value: "{}", created_at: ago(60_000) },
      ],
    });
    const nowS = Math.floor(now / 1000);
    await tp.platform.db.consentNonce.createMany({
      data: [
        { nonce: "expired", user_did: "did:plc:x", expires_at: nowS - 5 },
        { nonce: "live", user_did: "did:plc:x", expires_at: nowS + 600 },
      ],
    });
    try {
      const report = await runHousekeeping(tp.platform, { now });
      expect(report.swept.sort()).toEqual([oldTmp, oldTrash].sort());
      expect(exists(freshTmp)).toBe(true);
      expect(exists(orphan)).toBe(true);
      // At start-up nothing is in flight yet: every .tmp/.trash entry is a crash's leftover.
      const startup = await runHousekeeping(tp.platform, { startup: true });
      expect(startup.swept).toEqual([freshTmp]);
      expect(exists(orphan)).toBe(true);
      expect(report.oauthStatesPurged).toBe(2);
      expect((await tp.platform.db.atprotoOauthState.findMany()).map((r) => r.key)).toEqual(["fresh"]);
      expect(report.consentNoncesPurged).toBe(1);
      expect((await tp.platform.db.consentNonce.findMany()).map((r) => r.nonce)).toEqual(["live"]);
    } finally {
      fs.rmSync(freshTmp, { recursive: true, force: true });
      await tp.platform.db.atprotoOauthState.deleteMany();
      await tp.platform.db.consentNonce.deleteMany();
    }
  });

  it("startHousekeeping runs on its interval and stops", async () => {
    const stop = startHousekeeping(tp.platform, 25);
    await tp.platform.db.consentNonce.create({ data: { nonce: "tick", user_did: "did:plc:x", expires_at: 1 } });
    const deadline = Date.now() + 5000;
    const tick = () => tp.platform.db.consentNonce.count({ where: { nonce: "tick" } });
    while ((await tick()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await tick()).toBe(0);
    await stop();
    await tp.platform.db.consentNonce.create({ data: { nonce: "after-stop", user_did: "did:plc:x", expires_at: 1 } });
    await new Promise((r) => setTimeout(r, 100));
    expect(await tp.platform.db.consentNonce.count({ where: { nonce: "after-stop" } })).toBe(1);
    await tp.platform.db.consentNonce.deleteMany();
  });
});
