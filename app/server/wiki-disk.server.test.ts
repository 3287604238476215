import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import {
  BUILT_IN_PAGES,
  type BuildWikiOptions,
  type DiskLog,
  buildWikiDirectory,
  closeWikiDbReaders,
  directorySize,
  fileTimestamp,
  formatWikiDbDatetime,
  initWikiDb,
  isApprovedMember,
  isGitEnabled,
  moveIntoPlace,
  readAccessLevels,
  readPreferences,
  removeTree,
  renderPage,
  runGit,
  restoreTombstone,
  setPreference,
  sweepPrivateDirs,
  tombstone,
} from "./wiki-disk.server";

const GIT = "/usr/bin/git";
const DOMAIN = "robot.test";
const ORIGIN = "https://robot.test";
const HOUR = 60 * 60 * 1000;

const EXPECTED_SEEDS = {
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
};

interface LogEntry {
  level: "info" | "warn" | "error";
  obj: object;
  msg: string;
}

function captureLog(): DiskLog & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    info: (obj, msg) => entries.push({ level: "info", obj, msg }),
    warn: (obj, msg) => entries.push({ level: "warn", obj, msg }),
    error: (obj, msg) => entries.push({ level: "error", obj, msg }),
  };
}

let base: string;
let log: ReturnType<typeof captureLog>;

beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), "wiki-disk-test-"));
  log = captureLog();
});

afterEach(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

/** Git for assertions, isolated from the machine's config like the code under test. */
function git(cwd: string, ...args: string[]): string {
  return execFileSync(GIT, args, {
    cwd,
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin", HOME: base, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
  });
}

function buildOptions(overrides: Partial<BuildWikiOptions> = {}): BuildWikiOptions {
  return {
    wikiBase: base,
    slug: "alice",
    displayName: "Alice's Notes",
    description: "Research notes for {slug} and friends",
    ownerHandle: "alice.bsky.social",
    domain: DOMAIN,
    origin: ORIGIN,
    gitBin: GIT,
    log,
    ...overrides,
  };
}

function tmpEntries(): string[] {
  const dir = path.join(base, ".tmp");
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

function openDb(dbPath: string): Database.Database {
  return new Database(dbPath, { readonly: true, fileMustExist: true });
}

function preferencesOf(dbPath: string): Record<string, string | null> {
  const db = openDb(dbPath);
  try {
    const rows = db.prepare("SELECT name, value FROM preferences").all() as Array<{
      name: string;
      value: string | null;
    }>;
    return Object.fromEntries(rows.map((r) => [r.name, r.value]));
  } finally {
    db.close();
  }
}

/** A wiki.db as the wiki server leaves it: schema, seeds and extra users. */
function seededDb(users: Array<{ email: string; is_admin?: number; is_approved?: number }> = []): string {
  const dbPath = path.join(base, "wiki.db");
  initWikiDb(dbPath, { siteName: "W", domain: DOMAIN });
  const db = new Database(dbPath);
  const insert = db.prepare('INSERT INTO "user" (name, email, is_admin, is_approved) VALUES (?, ?, ?, ?)');
  for (const u of users) insert.run(u.email.slice(1), u.email, u.is_admin ?? 0, u.is_approved ?? 0);
  db.close();
  return dbPath;
}

describe("buildWikiDirectory + moveIntoPlace", () => {
  it('FS1: a non-bare repo with exactly one clean "Initial commit" by robot.wtf', async () => {
    const built = await buildWikiDirectory(buildOptions());
    const { wikiDir } = moveIntoPlace(built.buildDir, base, "alice", log);
    const repo = path.join(wikiDir, "repo");

    expect(wikiDir).toBe(path.join(base, "alice"));
    expect(fs.existsSync(built.buildDir)).toBe(false);
    expect(git(repo, "rev-parse", "--is-bare-repository").trim()).toBe("false");
    expect(git(repo, "rev-list", "--count", "HEAD").trim()).toBe("1");
    expect(git(repo, "log", "-1", "--format=%s|%an <%ae>|%cn <%ce>").trim()).toBe(
      "Initial commit|robot.wtf <system@robot.wtf>|robot.wtf <system@robot.wtf>",
    );
    expect(git(repo, "ls-tree", "--name-only", "HEAD").trim().split("\n").sort()).toEqual([
      "Administration.md",
      "Agent_Guide.md",
      "Getting_Started.md",
      "Home.md",
    ]);
    expect(git(repo, "status", "--porcelain", "--untracked-files=all")).toBe("");
    expect(fs.readFileSync(path.join(repo, "Home.md"), "utf8")).toContain("Alice's Notes");
    git(repo, "fsck", "--strict", "--no-progress");
  });

  it("sets the repo-local identity and a deterministic branch", async () => {
    const { buildDir } = await buildWikiDirectory(buildOptions());
    const repo = path.join(buildDir, "repo");
    expect(git(repo, "config", "--local", "user.email").trim()).toBe("system@robot.wtf");
    expect(git(repo, "config", "--local", "user.name").trim()).toBe("robot.wtf");
    expect(git(repo, "symbolic-ref", "--short", "HEAD").trim()).toBe("master");
  });

  it("builds under .tmp/{slug}.{random} and reports pages and size", async () => {
    const built = await buildWikiDirectory(buildOptions());
    expect(path.dirname(built.buildDir)).toBe(path.join(base, ".tmp"));
    expect(path.basename(built.buildDir)).toMatch(/^alice\.[A-Za-z0-9]+$/);
    expect(built.pageCount).toBe(4);
    expect(built.diskUsageBytes).toBeGreaterThan(0);
    expect(built.diskUsageBytes).toBe(await directorySize(built.buildDir));
    expect(fs.readdirSync(built.buildDir).sort()).toEqual(["repo", "wiki.db"]);
  });

  it("FS2: wiki.db has the tables, exact seeds, owner row, WAL, mode 0600 and no -wal/-shm", async () => {
    const { buildDir } = await buildWikiDirectory(buildOptions());
    const dbPath = path.join(buildDir, "wiki.db");

    expect(fs.existsSync(`${dbPath}-wal`)).toBe(false);
    expect(fs.existsSync(`${dbPath}-shm`)).toBe(false);
    expect(fs.statSync(dbPath).mode & 0o777).toBe(0o600);
    // WAL is recorded in the file header (bytes 18/19 = 2), so check it before opening.
    const header = fs.readFileSync(dbPath).subarray(18, 20);
    expect([...header]).toEqual([2, 2]);

    const db = openDb(dbPath);
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      const tables = (
        db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
          .all() as Array<{ name: string }>
      ).map((t) => t.name);
      expect(tables.sort()).toEqual(["cache", "drafts", "preferences", "user"]);
      const indexes = (
        db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%'")
          .all() as Array<{ name: string }>
      ).map((t) => t.name);
      expect(indexes.sort()).toEqual(["ix_cache_key", "ix_drafts_pagepath"]);

      const users = db.prepare('SELECT * FROM "user"').all() as Array<Record<string, unknown>>;
      expect(users).toHaveLength(1);
      expect(users[0]).toMatchObject({
        name: "alice",
        email: "@alice.bsky.social",
        password_hash: null,
        is_admin: 1,
        is_approved: 1,
        allow_read: 1,
        allow_write: 1,
        allow_upload: 1,
        email_confirmed: 0,
      });
      expect(users[0]!.first_seen).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
      expect(users[0]!.last_seen).toBe(users[0]!.first_seen);
    } finally {
      db.close();
    }

    expect(preferencesOf(dbPath)).toEqual({
      ...EXPECTED_SEEDS,
      SITE_NAME: "Alice's Notes",
      SITE_DESCRIPTION: "Research notes for {slug} and friends",
    });
  });

  it("omits SITE_DESCRIPTION when the description is empty", async () => {
    const { buildDir } = await buildWikiDirectory(buildOptions({ description: "" }));
    const prefs = preferencesOf(path.join(buildDir, "wiki.db"));
    expect(prefs).toEqual({ ...EXPECTED_SEEDS, SITE_NAME: "Alice's Notes" });
  });

  it("substitutes placeholders once, in every page", async () => {
    const { buildDir } = await buildWikiDirectory(buildOptions());
    const repo = path.join(buildDir, "repo");
    const pages = Object.fromEntries(
      BUILT_IN_PAGES.map((p) => [p.file, fs.readFileSync(path.join(repo, p.file), "utf8")]),
    );
    for (const [file, text] of Object.entries(pages)) {
      expect(text, file).not.toMatch(/\{(D|ORIGIN|WIKI|display_name|description)\}/);
      expect(text.length, file).toBeGreaterThan(200);
    }
    const home = pages["Home.md"]!;
    expect(home.startsWith("# Alice's Notes\n\nResearch notes for {slug} and friends\n\n")).toBe(true);
    expect(home).toContain("https://alice.robot.test");
    expect(home).toContain("[[Getting Started]]");
    expect(home).toContain("[[Agent Guide]]");
    expect(home).toContain("[[Administration]]");
    expect(pages["Getting_Started.md"]).toContain("https://robot.test/app/wiki/alice");
    expect(pages["Getting_Started.md"]).toContain("https://x-token:<token>@alice.robot.test/.git");
    expect(pages["Administration.md"]).toContain("**Approved**");
  });

  it("drops the description line from Home when there is none", async () => {
    const { buildDir } = await buildWikiDirectory(buildOptions({ description: "" }));
    const home = fs.readFileSync(path.join(buildDir, "repo", "Home.md"), "utf8");
    expect(home.startsWith("# Alice's Notes\n\nWelcome!")).toBe(true);
  });

  it("commits independently of a hostile parent environment", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      GIT_DIR: "/nonexistent",
      GIT_AUTHOR_NAME: "Mallory",
      GIT_COMMITTER_EMAIL: "mallory@example.com",
      GIT_INDEX_FILE: "/nonexistent/index",
    });
    try {
      const { buildDir } = await buildWikiDirectory(buildOptions());
      const repo = path.join(buildDir, "repo");
      expect(git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>").trim()).toBe(
        "robot.wtf <system@robot.wtf>|robot.wtf <system@robot.wtf>",
      );
    } finally {
      process.env = saved;
    }
  });

  it('finds a bare "git" on the default PATH', async () => {
    const built = await buildWikiDirectory(buildOptions({ gitBin: "git" }));
    expect(built.pageCount).toBe(4);
  });

  it.each([
    ["/bin/false", /git -c init\.defaultBranch=master init --quiet failed \(exit code 1\)/],
    ["/nonexistent/git", /failed \(could not run: ENOENT\)/],
  ])("a failing gitBin %s rejects and leaves nothing in .tmp", async (gitBin, message) => {
    await expect(buildWikiDirectory(buildOptions({ gitBin }))).rejects.toThrow(message);
    expect(tmpEntries()).toEqual([]);
    expect(fs.existsSync(path.join(base, "alice"))).toBe(false);
  });

  it("a git that fails mid-way (at commit) also leaves nothing behind", async () => {
    const fakeGit = path.join(base, "fake-git.sh");
    fs.writeFileSync(
      fakeGit,
      `#!/bin/sh\nfor a in "$@"; do [ "$a" = commit ] && exit 7; done\nexec ${GIT} "$@"\n`,
      { mode: 0o755 },
    );
    await expect(buildWikiDirectory(buildOptions({ gitBin: fakeGit }))).rejects.toThrow(
      /commit .*exit code 7/,
    );
    expect(tmpEntries()).toEqual([]);
  });

  it("runGit kills a command that exceeds its timeout", async () => {
    const slowGit = path.join(base, "slow-git.sh");
    fs.writeFileSync(slowGit, "#!/bin/sh\nexec sleep 10\n", { mode: 0o755 });
    const started = Date.now();
    await expect(runGit({ gitBin: slowGit, home: base, timeoutMs: 200 }, base, ["status"])).rejects.toThrow(
      /git status failed \(killed by SIGKILL\)/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("runGit passes only its own environment to git", async () => {
    const envGit = path.join(base, "env-git.sh");
    fs.writeFileSync(envGit, "#!/bin/sh\nenv | sort\n", { mode: 0o755 });
    process.env.GIT_DIR = "/leak";
    try {
      const env = (await runGit({ gitBin: envGit, home: base }, base, [])).trim().split("\n");
      const names = env
        .map((line) => line.split("=")[0])
        .filter((n) => n !== "PWD" && n !== "SHLVL" && n !== "_");
      expect(names.sort()).toEqual(
        ["GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "GIT_TERMINAL_PROMPT", "HOME", "LC_ALL", "PATH"].sort(),
      );
      expect(env).toContain("GIT_TERMINAL_PROMPT=0");
      expect(env).toContain(`HOME=${base}`);
    } finally {
      delete process.env.GIT_DIR;
    }
  });

  it("accepts legacy slugs such as dev", async () => {
    const built = await buildWikiDirectory(buildOptions({ slug: "dev" }));
    expect(moveIntoPlace(built.buildDir, base, "dev", log).wikiDir).toBe(path.join(base, "dev"));
  });

  it("refuses a slug that could escape WIKI_BASE", async () => {
    await expect(buildWikiDirectory(buildOptions({ slug: "../evil" }))).rejects.toThrow(/unsafe slug/);
    expect(() => moveIntoPlace(base, base, "..", log)).toThrow(/unsafe slug/);
    expect(() => tombstone(base, base, "a/b", log)).toThrow(/unsafe slug/);
  });

  describe("WIKI_TEMPLATE_DIR", () => {
    it("its top-level *.md files replace the built-in pages", async () => {
      const templateDir = path.join(base, "template");
      fs.mkdirSync(path.join(templateDir, "sub"), { recursive: true });
      fs.writeFileSync(
        path.join(templateDir, "Home.md"),
        "# {display_name} on {D}\n\n{description}\n\nCustom home for {slug} at {ORIGIN}.\n",
      );
      fs.writeFileSync(path.join(templateDir, "Rules.md"), "House rules\n");
      fs.writeFileSync(path.join(templateDir, "notes.txt"), "not a page");
      fs.writeFileSync(path.join(templateDir, ".hidden.md"), "hidden");
      fs.writeFileSync(path.join(templateDir, "sub", "Deep.md"), "deep");

      const built = await buildWikiDirectory(buildOptions({ templateDir, description: "" }));
      const repo = path.join(built.buildDir, "repo");
      expect(built.pageCount).toBe(2);
      expect(git(repo, "ls-tree", "--name-only", "HEAD").trim().split("\n")).toEqual(["Home.md", "Rules.md"]);
      expect(fs.readFileSync(path.join(repo, "Home.md"), "utf8")).toBe(
        "# Alice's Notes on robot.test\n\nCustom home for alice at https://robot.test.\n",
      );
      expect(git(repo, "status", "--porcelain")).toBe("");
    });

    it("a template dir without pages fails the build cleanly", async () => {
      const templateDir = path.join(base, "empty-template");
      fs.mkdirSync(templateDir);
      await expect(buildWikiDirectory(buildOptions({ templateDir }))).rejects.toThrow(
        /no top-level \.md files/,
      );
      expect(tmpEntries()).toEqual([]);
    });
  });

  it("FS7: a stray {slug} directory is moved under .orphaned with a warning", async () => {
    const stray = path.join(base, "alice");
    fs.mkdirSync(path.join(stray, "repo"), { recursive: true });
    fs.writeFileSync(path.join(stray, "leftover.txt"), "old");

    const built = await buildWikiDirectory(buildOptions());
    const moved = moveIntoPlace(built.buildDir, base, "alice", log);

    expect(moved.orphanedTo).not.toBeNull();
    expect(path.dirname(moved.orphanedTo!)).toBe(path.join(base, ".orphaned"));
    expect(path.basename(moved.orphanedTo!)).toMatch(/^alice\.\d{8}T\d{9}Z$/);
    expect(fs.readFileSync(path.join(moved.orphanedTo!, "leftover.txt"), "utf8")).toBe("old");
    expect(fs.existsSync(path.join(base, "alice", "wiki.db"))).toBe(true);
    expect(log.entries.filter((e) => e.level === "warn")).toHaveLength(1);
    expect(log.entries[0]!.obj).toMatchObject({ slug: "alice", orphanedTo: moved.orphanedTo });
  });

  it("without a stray directory nothing is orphaned and nothing is logged", async () => {
    const built = await buildWikiDirectory(buildOptions());
    expect(moveIntoPlace(built.buildDir, base, "alice", log).orphanedTo).toBeNull();
    expect(fs.existsSync(path.join(base, ".orphaned"))).toBe(false);
    expect(log.entries).toEqual([]);
  });
});

describe("initWikiDb", () => {
  it("is idempotent and never overwrites existing values", () => {
    const dbPath = path.join(base, "wiki.db");
    initWikiDb(dbPath, { siteName: "First", ownerHandle: "alice.bsky.social", domain: DOMAIN });
    initWikiDb(dbPath, {
      siteName: "Second",
      siteDescription: "Added later",
      ownerHandle: "alice.bsky.social",
      domain: DOMAIN,
    });
    const prefs = preferencesOf(dbPath);
    expect(prefs.SITE_NAME).toBe("First");
    expect(prefs.SITE_DESCRIPTION).toBe("Added later"); // absent before, so seeded now
    const db = openDb(dbPath);
    expect(db.prepare('SELECT COUNT(*) AS n FROM "user"').get()).toEqual({ n: 1 });
    db.close();
  });

  it("does not duplicate an owner row spelled with capitals", () => {
    const dbPath = seededDb([{ email: "@Alice.bsky.social", is_admin: 1 }]);
    initWikiDb(dbPath, { ownerHandle: "alice.bsky.social", domain: DOMAIN });
    const db = openDb(dbPath);
    expect(db.prepare('SELECT email FROM "user"').all()).toEqual([{ email: "@Alice.bsky.social" }]);
    db.close();
  });

  it("writes DATETIME text with microseconds in UTC", () => {
    expect(formatWikiDbDatetime(new Date("2025-03-01T12:34:56.789Z"))).toBe("2025-03-01 12:34:56.789000");
    const dbPath = path.join(base, "wiki.db");
    initWikiDb(dbPath, {
      ownerHandle: "bob.example.com",
      domain: DOMAIN,
      now: new Date("2024-12-31T23:59:59.001Z"),
    });
    const db = openDb(dbPath);
    expect(db.prepare('SELECT name, first_seen, last_seen FROM "user"').get()).toEqual({
      name: "bob",
      first_seen: "2024-12-31 23:59:59.001000",
      last_seen: "2024-12-31 23:59:59.001000",
    });
    db.close();
  });

  it("tightens the mode of an existing file to 0600", () => {
    const dbPath = path.join(base, "wiki.db");
    fs.writeFileSync(dbPath, "", { mode: 0o644 });
    fs.chmodSync(dbPath, 0o644);
    initWikiDb(dbPath, { domain: DOMAIN });
    expect(fs.statSync(dbPath).mode & 0o777).toBe(0o600);
  });

  describe("_schema_version migration", () => {
    function legacyDb(version: string, icon: string, logo: string): string {
      const dbPath = path.join(base, "wiki.db");
      const db = new Database(dbPath);
      db.exec("CREATE TABLE preferences (name VARCHAR(256) PRIMARY KEY, value TEXT)");
      const insert = db.prepare("INSERT INTO preferences (name, value) VALUES (?, ?)");
      insert.run("_schema_version", version);
      insert.run("SITE_ICON", icon);
      insert.run("SITE_LOGO", logo);
      insert.run("READ_ACCESS", "ANONYMOUS");
      db.close();
      return dbPath;
    }

    it("below 3: rewrites https://{D}/static/ icons to /platform/ and sets 3", () => {
      const dbPath = legacyDb(
        "2",
        "https://robot.test/static/robot.wtf.svg",
        "https://robot.test/static/img/logo.png",
      );
      initWikiDb(dbPath, { domain: DOMAIN });
      expect(preferencesOf(dbPath)).toMatchObject({
        _schema_version: "3",
        SITE_ICON: "/platform/robot.wtf.svg",
        SITE_LOGO: "/platform/img/logo.png",
        READ_ACCESS: "ANONYMOUS",
      });
    });

    it("leaves other hosts and custom icons alone", () => {
      const dbPath = legacyDb("1", "https://elsewhere.test/static/x.svg", "/my/logo.png");
      initWikiDb(dbPath, { domain: DOMAIN });
      expect(preferencesOf(dbPath)).toMatchObject({
        _schema_version: "3",
        SITE_ICON: "https://elsewhere.test/static/x.svg",
        SITE_LOGO: "/my/logo.png",
      });
    });

    it("matches a domain with a port exactly", () => {
      const dbPath = legacyDb(
        "2",
        "https://127.0.0.1:8002/static/robot.wtf.svg",
        "https://127.0.0.1:9999/static/robot.wtf.svg",
      );
      initWikiDb(dbPath, { domain: "127.0.0.1:8002" });
      expect(preferencesOf(dbPath)).toMatchObject({
        SITE_ICON: "/platform/robot.wtf.svg",
        SITE_LOGO: "https://127.0.0.1:9999/static/robot.wtf.svg",
      });
    });

    it("at version 3 nothing is rewritten", () => {
      const dbPath = legacyDb(
        "3",
        "https://robot.test/static/robot.wtf.svg",
        "https://robot.test/static/robot.wtf.svg",
      );
      initWikiDb(dbPath, { domain: DOMAIN });
      expect(preferencesOf(dbPath)).toMatchObject({
        _schema_version: "3",
        SITE_ICON: "https://robot.test/static/robot.wtf.svg",
      });
    });

    it("an unreadable version counts as old", () => {
      const dbPath = legacyDb("", "https://robot.test/static/a.svg", "x");
      initWikiDb(dbPath, { domain: DOMAIN });
      expect(preferencesOf(dbPath)).toMatchObject({ _schema_version: "3", SITE_ICON: "/platform/a.svg" });
    });
  });
});

describe("setPreference", () => {
  const init = { siteName: "Alice", ownerHandle: "alice.bsky.social", domain: DOMAIN };

  it("upserts a value", () => {
    const dbPath = path.join(base, "wiki.db");
    initWikiDb(dbPath, init);
    setPreference(dbPath, "SITE_NAME", "Renamed", init);
    setPreference(dbPath, "GIT_WEB_SERVER", "True", init);
    setPreference(dbPath, "NEW_PREF", "x", init);
    // Closed cleanly: the last writer checkpoints and removes the WAL.
    expect(fs.existsSync(`${dbPath}-wal`)).toBe(false);
    expect(preferencesOf(dbPath)).toMatchObject({
      SITE_NAME: "Renamed",
      GIT_WEB_SERVER: "True",
      NEW_PREF: "x",
    });
  });

  it("FS9: a git toggle never resets READ_ACCESS=ANONYMOUS", () => {
    const dbPath = path.join(base, "wiki.db");
    initWikiDb(dbPath, init);
    setPreference(dbPath, "READ_ACCESS", "ANONYMOUS", init);
    setPreference(dbPath, "GIT_WEB_SERVER", "True", init);
    setPreference(dbPath, "GIT_WEB_SERVER", "False", init);
    expect(preferencesOf(dbPath)).toMatchObject({ READ_ACCESS: "ANONYMOUS", GIT_WEB_SERVER: "False" });
    expect(readAccessLevels(dbPath).READ_ACCESS).toBe("ANONYMOUS");
  });

  it("FS10: a deleted wiki.db is recreated with its seeds", () => {
    const wikiDir = path.join(base, "alice");
    fs.mkdirSync(wikiDir);
    const dbPath = path.join(wikiDir, "wiki.db");
    setPreference(dbPath, "GIT_WEB_SERVER", "True", init);
    expect(preferencesOf(dbPath)).toEqual({ ...EXPECTED_SEEDS, GIT_WEB_SERVER: "True", SITE_NAME: "Alice" });
    expect(fs.statSync(dbPath).mode & 0o777).toBe(0o600);
    expect(isApprovedMember(dbPath, "alice.bsky.social")).toBe("member");
  });

  it("FS10: an empty (0-byte) wiki.db is repaired on rename", () => {
    const dbPath = path.join(base, "wiki.db");
    fs.writeFileSync(dbPath, "");
    setPreference(dbPath, "SITE_NAME", "New name", init);
    expect(preferencesOf(dbPath)).toEqual({ ...EXPECTED_SEEDS, SITE_NAME: "New name" });
  });

  it("throws when the wiki directory itself is missing", () => {
    expect(() => setPreference(path.join(base, "gone", "wiki.db"), "SITE_NAME", "x", init)).toThrow(/ENOENT/);
  });
});

describe("readPreferences / isGitEnabled / readAccessLevels", () => {
  it("missing file → {} without creating it", () => {
    const dbPath = path.join(base, "missing.db");
    expect(readPreferences(dbPath, log)).toEqual({});
    expect(fs.existsSync(dbPath)).toBe(false);
    expect(log.entries.map((e) => e.level)).toEqual(["warn"]);
  });

  it("empty file or missing table → {}", () => {
    const dbPath = path.join(base, "wiki.db");
    fs.writeFileSync(dbPath, "");
    expect(readPreferences(dbPath)).toEqual({});
    const db = new Database(dbPath);
    db.exec("CREATE TABLE other (x)");
    db.close();
    expect(readPreferences(dbPath, log)).toEqual({});
  });

  it("a corrupt file → {}", () => {
    const dbPath = path.join(base, "wiki.db");
    fs.writeFileSync(dbPath, "this is not a database".repeat(100));
    expect(readPreferences(dbPath, log)).toEqual({});
    expect(log.entries.length).toBeGreaterThan(0);
  });

  it("reads a seeded file", () => {
    const dbPath = seededDb();
    expect(readPreferences(dbPath)).toEqual({ ...EXPECTED_SEEDS, SITE_NAME: "W" });
  });

  it.each([
    ["True", true],
    ["true", true],
    ["TRUE", true],
    ["1", true],
    ["False", false],
    ["false", false],
    ["0", false],
    ["yes", false],
    ["", false],
    [" true", false],
  ])("GIT_WEB_SERVER=%j → %s", (value, expected) => {
    expect(isGitEnabled({ GIT_WEB_SERVER: value })).toBe(expected);
  });

  it("GIT_WEB_SERVER missing or null → off", () => {
    expect(isGitEnabled({})).toBe(false);
    expect(isGitEnabled({ GIT_WEB_SERVER: null })).toBe(false);
    expect(isGitEnabled(readPreferences(path.join(base, "nope.db")))).toBe(false);
  });

  it("access levels default to APPROVED for a missing file or rows", () => {
    const all = { READ_ACCESS: "APPROVED", WRITE_ACCESS: "APPROVED", ATTACHMENT_ACCESS: "APPROVED" };
    expect(readAccessLevels(path.join(base, "nope.db"))).toEqual(all);
    const dbPath = path.join(base, "wiki.db");
    const db = new Database(dbPath);
    db.exec(
      "CREATE TABLE preferences (name VARCHAR(256) PRIMARY KEY, value TEXT); INSERT INTO preferences VALUES ('WRITE_ACCESS', 'REGISTERED')",
    );
    db.close();
    expect(readAccessLevels(dbPath)).toEqual({ ...all, WRITE_ACCESS: "REGISTERED" });
  });

  it("access levels read case-insensitively; unknown values fall back to APPROVED", () => {
    const dbPath = seededDb();
    const init = { domain: DOMAIN };
    setPreference(dbPath, "READ_ACCESS", "anonymous", init);
    setPreference(dbPath, "WRITE_ACCESS", "EVERYONE", init);
    expect(readAccessLevels(dbPath)).toEqual({
      READ_ACCESS: "ANONYMOUS",
      WRITE_ACCESS: "APPROVED",
      ATTACHMENT_ACCESS: "APPROVED",
    });
  });
});

describe("isApprovedMember (D2)", () => {
  const users = [
    { email: "@admin.example.com", is_admin: 1 },
    { email: "@approved.example.com", is_approved: 1 },
    { email: "@plain.example.com" },
    { email: "@Mixed.Example.com", is_approved: 1 },
  ];

  it.each([
    ["admin.example.com", "member"],
    ["approved.example.com", "member"],
    ["plain.example.com", "not_member"],
    ["stranger.example.com", "not_member"],
    ["ADMIN.Example.COM", "member"],
    ["mixed.example.com", "member"],
    ["", "not_member"],
    ["x' OR '1'='1", "not_member"],
  ] as const)("%j → %s", (handle, expected) => {
    expect(isApprovedMember(seededDb(users), handle)).toBe(expected);
  });

  it("a missing wiki.db is unreadable and is not created", () => {
    const dbPath = path.join(base, "alice", "wiki.db");
    fs.mkdirSync(path.dirname(dbPath));
    expect(isApprovedMember(dbPath, "admin.example.com", log)).toBe("unreadable");
    expect(fs.readdirSync(path.dirname(dbPath))).toEqual([]);
    expect(log.entries).toHaveLength(1);
  });

  it("an empty or corrupt wiki.db is unreadable and stays as it was", () => {
    const dbPath = path.join(base, "wiki.db");
    fs.writeFileSync(dbPath, "");
    expect(isApprovedMember(dbPath, "admin.example.com")).toBe("unreadable");
    expect(fs.statSync(dbPath).size).toBe(0);
    fs.writeFileSync(dbPath, "garbage".repeat(200));
    expect(isApprovedMember(dbPath, "admin.example.com", log)).toBe("unreadable");
  });

  it("sees the owner row of a freshly built wiki", async () => {
    const { buildDir } = await buildWikiDirectory(buildOptions());
    expect(isApprovedMember(path.join(buildDir, "wiki.db"), "Alice.bsky.social")).toBe("member");
  });
});

describe("renderPage", () => {
  const vars = {
    slug: "team",
    D: "robot.wtf",
    ORIGIN: "https://robot.wtf",
    WIKI: "https://team.robot.wtf",
    display_name: "Team {D}",
    description: "About {slug} and {ORIGIN}",
  };

  it("substitutes every placeholder and leaves unknown braces", () => {
    expect(renderPage("{slug}|{D}|{ORIGIN}|{WIKI}|{other}|{ slug }", vars)).toBe(
      "team|robot.wtf|https://robot.wtf|https://team.robot.wtf|{other}|{ slug }",
    );
  });

  it("never re-substitutes text that came from a value", () => {
    expect(renderPage("# {display_name}\n\n{description}\n", vars)).toBe(
      "# Team {D}\n\nAbout {slug} and {ORIGIN}\n",
    );
  });

  it("drops a line holding only {description} when there is none", () => {
    const template = "# {display_name}\n\n{description}\n\nBody {description}.\n";
    expect(renderPage(template, { ...vars, description: "" })).toBe("# Team {D}\n\nBody .\n");
  });

  it("keeps $ patterns in values literally", () => {
    expect(renderPage("{display_name}", { ...vars, display_name: "$& $1 $'" })).toBe("$& $1 $'");
  });
});

describe("tombstone / restoreTombstone / removeTree", () => {
  function makeWiki(slug: string): string {
    const dir = path.join(base, slug);
    fs.mkdirSync(path.join(dir, "repo"), { recursive: true });
    fs.writeFileSync(path.join(dir, "wiki.db"), "db");
    return dir;
  }

  it("renames the wiki directory to .trash/{slug}.{timestamp}.{random}", () => {
    const dir = makeWiki("alice");
    const stone = tombstone(dir, base, "alice", log);
    expect(stone).not.toBeNull();
    expect(path.dirname(stone!)).toBe(path.join(base, ".trash"));
    expect(path.basename(stone!)).toMatch(/^alice\.\d{8}T\d{9}Z\.[0-9a-f]{12}$/);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.readFileSync(path.join(stone!, "wiki.db"), "utf8")).toBe("db");
  });

  it("two tombstones of the same slug never collide", () => {
    const first = tombstone(makeWiki("alice"), base, "alice", log);
    const second = tombstone(makeWiki("alice"), base, "alice", log);
    expect(first).not.toBe(second);
    expect(fs.readdirSync(path.join(base, ".trash"))).toHaveLength(2);
  });

  it("a missing directory is logged and gives null", () => {
    expect(tombstone(path.join(base, "ghost"), base, "ghost", log)).toBeNull();
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]).toMatchObject({ level: "warn", obj: { slug: "ghost" } });
  });

  it("restoreTombstone puts it back", () => {
    const dir = makeWiki("alice");
    const stone = tombstone(dir, base, "alice", log)!;
    restoreTombstone(stone, dir);
    expect(fs.readFileSync(path.join(dir, "wiki.db"), "utf8")).toBe("db");
    expect(fs.existsSync(stone)).toBe(false);
  });

  it("restoreTombstone throws when the tombstone is gone", () => {
    expect(() => restoreTombstone(path.join(base, ".trash", "nope"), path.join(base, "x"))).toThrow(/ENOENT/);
  });

  it("removeTree removes recursively and tolerates a missing path", async () => {
    const dir = makeWiki("alice");
    expect(await removeTree(dir, log)).toBe(true);
    expect(fs.existsSync(dir)).toBe(false);
    expect(await removeTree(dir, log)).toBe(true);
    expect(log.entries).toEqual([]);
  });

  it("removeTree logs and returns false on failure", async () => {
    // A path through a regular file fails with ENOTDIR for any user, root included.
    const file = path.join(base, "plain-file");
    fs.writeFileSync(file, "x");
    expect(await removeTree(path.join(file, "child"), log)).toBe(false);
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]).toMatchObject({ level: "error", obj: { path: path.join(file, "child") } });
  });
});

describe("sweepPrivateDirs", () => {
  function layout(): void {
    for (const dir of [
      ".tmp/alice.abc123",
      ".trash/bob.20200101T000000000Z.aaaaaaaaaaaa",
      ".orphaned/carol.20200101T000000000Z",
      "_default/repo",
      "dave/repo",
      ".other/x",
    ]) {
      fs.mkdirSync(path.join(base, dir), { recursive: true });
    }
    fs.writeFileSync(path.join(base, ".tmp", "stray-file"), "x");
  }

  it("removes old .tmp and .trash entries and nothing else", async () => {
    layout();
    const result = await sweepPrivateDirs(base, HOUR, log, Date.now() + 2 * HOUR);
    expect(result.failed).toEqual([]);
    expect(result.removed.map((p) => path.relative(base, p)).sort()).toEqual([
      ".tmp/alice.abc123",
      ".tmp/stray-file",
      ".trash/bob.20200101T000000000Z.aaaaaaaaaaaa",
    ]);
    expect(fs.readdirSync(path.join(base, ".tmp"))).toEqual([]);
    expect(fs.readdirSync(path.join(base, ".trash"))).toEqual([]);
    for (const kept of [".orphaned/carol.20200101T000000000Z", "_default/repo", "dave/repo", ".other/x"]) {
      expect(fs.existsSync(path.join(base, kept)), kept).toBe(true);
    }
  });

  it("keeps entries younger than the maximum age", async () => {
    layout();
    const result = await sweepPrivateDirs(base, HOUR, log);
    expect(result.removed).toEqual([]);
    expect(fs.readdirSync(path.join(base, ".tmp"))).toHaveLength(2);
    expect(fs.readdirSync(path.join(base, ".trash"))).toHaveLength(1);
  });

  it("ages a tombstone from the newest of its name and its inode times", async () => {
    const now = Date.now();
    const recentName = `eve.${fileTimestamp(new Date(now + 3 * HOUR))}.bbbbbbbbbbbb`;
    fs.mkdirSync(path.join(base, ".trash", recentName), { recursive: true });
    // Two hours on, the inode times are old but the name says one hour: not yet.
    expect((await sweepPrivateDirs(base, HOUR, log, now + 2 * HOUR)).removed).toEqual([]);
    expect((await sweepPrivateDirs(base, HOUR, log, now + 5 * HOUR)).removed).toHaveLength(1);
  });

  it("a freshly tombstoned wiki with old files is not swept", async () => {
    const dir = path.join(base, "old");
    fs.mkdirSync(dir);
    const old = new Date(Date.now() - 10 * HOUR);
    fs.utimesSync(dir, old, old);
    tombstone(dir, base, "old", log);
    expect((await sweepPrivateDirs(base, HOUR, log)).removed).toEqual([]);
  });

  it("copes with missing private directories", async () => {
    expect(await sweepPrivateDirs(base, HOUR, log, Date.now() + 2 * HOUR)).toEqual({
      removed: [],
      failed: [],
    });
    expect(await sweepPrivateDirs(path.join(base, "nope"), HOUR, log)).toEqual({ removed: [], failed: [] });
  });

  it("logs each removal", async () => {
    layout();
    await sweepPrivateDirs(base, HOUR, log, Date.now() + 2 * HOUR);
    expect(log.entries.filter((e) => e.level === "info")).toHaveLength(3);
  });
});

describe("directorySize", () => {
  it("sums regular files recursively", async () => {
    fs.mkdirSync(path.join(base, "a", "b"), { recursive: true });
    fs.writeFileSync(path.join(base, "a", "one"), "x".repeat(10));
    fs.writeFileSync(path.join(base, "a", "b", "two"), "y".repeat(25));
    fs.writeFileSync(path.join(base, "three"), "");
    expect(await directorySize(base)).toBe(35);
    expect(await directorySize(path.join(base, "a", "b"))).toBe(25);
  });

  it("does not follow symlinks", async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "wiki-disk-outside-"));
    try {
      fs.writeFileSync(path.join(outside, "big"), Buffer.alloc(100_000));
      fs.mkdirSync(path.join(base, "w"));
      fs.writeFileSync(path.join(base, "w", "f"), "abc");
      fs.symlinkSync(outside, path.join(base, "w", "dirlink"));
      fs.symlinkSync(path.join(outside, "big"), path.join(base, "w", "filelink"));
      expect(await directorySize(path.join(base, "w"))).toBe(3);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it("a missing path is 0, a single file is its size", async () => {
    expect(await directorySize(path.join(base, "missing"))).toBe(0);
    fs.writeFileSync(path.join(base, "f"), "hello");
    expect(await directorySize(path.join(base, "f"))).toBe(5);
  });
});

describe("kept wiki.db read connections (issue 7)", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "wiki-readers-"));
  });
  afterEach(() => {
    closeWikiDbReaders();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("see another connection's commit on the next read", () => {
    const dbPath = path.join(dir, "wiki.db");
    initWikiDb(dbPath, { siteName: "W", domain: DOMAIN, ownerHandle: "alice.bsky.social" });
    expect(readPreferences(dbPath).READ_ACCESS).toBe("APPROVED");
    expect(isApprovedMember(dbPath, "bob.bsky.social")).toBe("not_member");
    setPreference(dbPath, "READ_ACCESS", "ANONYMOUS", { siteName: "W", domain: DOMAIN });
    const other = new Database(dbPath);
    other.prepare(`INSERT INTO "user" (name, email, is_approved, is_admin, allow_read, allow_write, allow_upload) VALUES ('bob', '@bob.bsky.social', 1, 0, 1, 1, 0)`).run();
    other.close();
    expect(readPreferences(dbPath).READ_ACCESS).toBe("ANONYMOUS");
    expect(isApprovedMember(dbPath, "bob.bsky.social")).toBe("member");
  });

  it("never read a replaced file through the old one: a wiki deleted and created again at the same path", () => {
    const wikiDir = path.join(dir, "w");
    fs.mkdirSync(wikiDir);
    const dbPath = path.join(wikiDir, "wiki.db");
    initWikiDb(dbPath, { siteName: "First", domain: DOMAIN });
    expect(readPreferences(dbPath).SITE_NAME).toBe("First");
    // Not through tombstone(): another process (a restore, another worker) replaces the directory.
    fs.renameSync(wikiDir, path.join(dir, "old"));
    fs.mkdirSync(wikiDir);
    initWikiDb(dbPath, { siteName: "Second", domain: DOMAIN });
    expect(readPreferences(dbPath).SITE_NAME).toBe("Second");
  });

  it("a file that disappears or breaks is reported, and read again once it is back", () => {
    const dbPath = path.join(dir, "wiki.db");
    initWikiDb(dbPath, { siteName: "W", domain: DOMAIN });
    expect(readPreferences(dbPath).SITE_NAME).toBe("W");
    const saved = path.join(dir, "saved.db");
    fs.renameSync(dbPath, saved);
    const log = captureLog();
    expect(readPreferences(dbPath, log)).toEqual({});
    expect(isApprovedMember(dbPath, "a.test", log)).toBe("unreadable");
    expect(log.entries.map((e) => e.msg)).toEqual(["wiki.db missing", "wiki.db missing"]);
    fs.writeFileSync(dbPath, "not a database at all, but long enough to have a header".repeat(100));
    expect(readPreferences(dbPath, log)).toEqual({});
    expect(log.entries.at(-1)?.msg).toMatch(/wiki\.db (preferences unreadable|cannot be opened)/);
    fs.rmSync(dbPath);
    fs.renameSync(saved, dbPath);
    expect(readPreferences(dbPath).SITE_NAME).toBe("W");
  });
});
