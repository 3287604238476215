// Contract: robot.db as the other processes see it (contracts.md §6).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { PRODUCTION_DDL } from "~/server/db.server";
import { startTestPlatform, type TestPlatform } from "./support/platform";

// [name, type, notnull, default, pk] in table order, from contracts.md §6.1.
const EXPECTED: Record<string, [string, string, 0 | 1, string | null, number][]> = {
  users: [
    ["did", "TEXT", 1, null, 1],
    ["handle", "TEXT", 1, null, 0],
    ["display_name", "TEXT", 0, null, 0],
    ["avatar_url", "TEXT", 0, null, 0],
    ["created_at", "TEXT", 1, null, 0],
    ["wiki_count", "INTEGER", 0, "0", 0],
  ],
  wikis: [
    ["slug", "TEXT", 1, null, 1],
    ["owner_did", "TEXT", 1, null, 0],
    ["display_name", "TEXT", 1, null, 0],
    ["repo_path", "TEXT", 1, null, 0],
    ["mcp_token_hash", "TEXT", 1, null, 0],
    ["is_public", "INTEGER", 0, "0", 0],
    ["created_at", "TEXT", 1, null, 0],
    ["last_accessed", "TEXT", 1, null, 0],
    ["page_count", "INTEGER", 0, "0", 0],
    ["disk_usage_bytes", "INTEGER", 0, "0", 0],
  ],
  oauth_auth_requests: [
    ["state", "TEXT", 1, null, 1],
    ["authserver_iss", "TEXT", 1, null, 0],
    ["did", "TEXT", 0, null, 0],
    ["handle", "TEXT", 0, null, 0],
    ["pds_url", "TEXT", 0, null, 0],
    ["pkce_verifier", "TEXT", 1, null, 0],
    ["scope", "TEXT", 1, null, 0],
    ["dpop_authserver_nonce", "TEXT", 1, null, 0],
    ["dpop_private_jwk", "TEXT", 1, null, 0],
    ["created_at", "TEXT", 1, null, 0],
  ],
  oauth_sessions: [
    ["did", "TEXT", 1, null, 1],
    ["handle", "TEXT", 0, null, 0],
    ["pds_url", "TEXT", 1, null, 0],
    ["authserver_iss", "TEXT", 1, null, 0],
    ["access_token", "TEXT", 0, null, 0],
    ["refresh_token", "TEXT", 0, null, 0],
    ["dpop_authserver_nonce", "TEXT", 1, null, 0],
    ["dpop_private_jwk", "TEXT", 1, null, 0],
    ["created_at", "TEXT", 1, null, 0],
  ],
  mcp_oauth_clients: [
    ["client_id", "TEXT", 1, null, 1],
    ["client_name", "TEXT", 0, null, 0],
    ["redirect_uris", "TEXT", 1, null, 0],
    ["client_secret_hash", "TEXT", 0, null, 0],
    ["created_at", "TEXT", 1, null, 0],
  ],
  reindex_queue: [
    ["wiki_slug", "TEXT", 1, null, 1],
    ["page_path", "TEXT", 1, null, 2],
    ["action", "TEXT", 1, null, 0],
    ["queued_at", "TEXT", 1, null, 0],
  ],
};

function columns(db: Database.Database, table: string) {
  return (db.prepare(`PRAGMA table_info('${table}')`).all() as { name: string; type: string; notnull: number; dflt_value: string | null; pk: number }[]).map(
    (c) => [c.name, c.type, c.notnull, c.dflt_value, c.pk],
  );
}

const tmpDirs: string[] = [];
let tp: TestPlatform | undefined;
afterEach(async () => {
  await tp?.close();
  tp = undefined;
  tmpDirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

describe("migrated robot.db", () => {
  it("has exactly the §6.1 tables and columns, the unique token index and the FK", () => {
    const db = new Database(process.env.ROBOT_TEMPLATE_DB!, { readonly: true });
    for (const [table, cols] of Object.entries(EXPECTED)) expect(columns(db, table), table).toEqual(cols);
    const idx = db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'ix_wikis_mcp_token_hash'`).get() as { sql: string };
    expect(idx.sql).toMatch(/UNIQUE INDEX/);
    const fk = db.prepare(`PRAGMA foreign_key_list('wikis')`).all() as { table: string; from: string; to: string; on_delete: string }[];
    expect(fk).toEqual([expect.objectContaining({ table: "users", from: "owner_did", to: "did", on_delete: "NO ACTION" })]);
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type='table' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(
      expect.arrayContaining(["atproto_oauth_state", "atproto_oauth_session", "consent_nonces", "wiki_disk_journal", "_prisma_migrations"]),
    );
    db.close();
  });

  it("the Prisma schema and the migrations agree (no rebuild would ever be generated)", () => {
    const out = execFileSync(
      process.execPath,
      ["node_modules/prisma/build/index.js", "migrate", "diff", "--config", "prisma/prisma.config.ts", "--from-migrations", "prisma/migrations", "--to-schema-datamodel", "prisma/schema.prisma", "--script"],
      { cwd: path.resolve(import.meta.dirname, "../.."), env: { ...process.env, ROBOT_DB_PATH: path.join(os.tmpdir(), "unused-diff.db") }, encoding: "utf8" },
    );
    expect(out).toContain("This is an empty migration.");
  });

  it("sets WAL and the connection pragmas", async () => {
    tp = await startTestPlatform();
    const [{ journal_mode }] = await tp.platform.db.$queryRawUnsafe<{ journal_mode: string }[]>("PRAGMA journal_mode");
    expect(journal_mode).toBe("wal");
    const [{ foreign_keys }] = await tp.platform.db.$queryRawUnsafe<{ foreign_keys: bigint }[]>("PRAGMA foreign_keys");
    expect(Number(foreign_keys)).toBe(1);
    const [{ timeout }] = await tp.platform.db.$queryRawUnsafe<{ timeout: bigint }[]>("PRAGMA busy_timeout");
    expect(Number(timeout)).toBe(5000);
  });
});

/** A production-shaped robot.db made without Prisma, with rows in every table. */
function productionDb(variant: { legacy?: boolean; badHashes?: boolean } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "robot-legacy-"));
  tmpDirs.push(dir);
  const file = path.join(dir, "robot.db");
  const db = new Database(file);
  db.pragma("journal_mode = WAL"); // as production runs it (the migration CLI must cope with that)
  const usersDdl = variant.legacy
    ? PRODUCTION_DDL.users.replace("handle TEXT NOT NULL,", "handle TEXT NOT NULL, username TEXT UNIQUE NOT NULL,")
    : PRODUCTION_DDL.users;
  db.exec(usersDdl);
  for (const [name, ddl] of Object.entries(PRODUCTION_DDL)) if (name !== "users") db.exec(ddl);
  if (!variant.badHashes) db.exec(`CREATE UNIQUE INDEX ix_wikis_mcp_token_hash ON wikis (mcp_token_hash)`);
  const ts = "2025-03-01T12:34:56.789000+00:00";
  const insertUser = variant.legacy
    ? db.prepare(`INSERT INTO users (did, handle, username, display_name, created_at, wiki_count) VALUES (?, ?, ?, ?, ?, ?)`)
    : db.prepare(`INSERT INTO users (did, handle, display_name, created_at, wiki_count) VALUES (?, ?, ?, ?, ?)`);
  const users = [["did:plc:aaa", "alice.test", "Alice"], ["did:plc:bbb", "bob.test", null]];
  for (const [did, handle, name] of users) {
    if (variant.legacy) insertUser.run(did, handle, handle, name, ts, 1);
    else insertUser.run(did, handle, name, ts, 1);
  }
  const hashes = variant.badHashes ? ["a".repeat(64), "a".repeat(64), "NOT-HEX", "b".repeat(64)] : ["a".repeat(64), "c".repeat(64), "d".repeat(64), "b".repeat(64)];
  const wikis = ["dev", "test", "alice", "bobs"];
  wikis.forEach((slug, i) =>
    db.prepare(`INSERT INTO wikis (slug, owner_did, display_name, repo_path, mcp_token_hash, is_public, created_at, last_accessed, page_count, disk_usage_bytes)
      VALUES (?, ?, ?, ?, ?, 0, ?, ?, 4, 1000)`).run(slug, i % 2 ? "did:plc:bbb" : "did:plc:aaa", slug.toUpperCase(), `/srv/data/wikis/${slug}/repo`, hashes[i], ts, ts),
  );
  db.prepare(`INSERT INTO oauth_auth_requests VALUES ('st', 'https://bsky.social', NULL, NULL, NULL, 'v', 'atproto', 'n', '{}', ?)`).run(ts);
  db.prepare(`INSERT INTO oauth_sessions VALUES ('did:plc:aaa', 'alice.test', 'https://pds', 'https://bsky.social', 'at', 'rt', 'n', '{}', ?)`).run(ts);
  db.prepare(`INSERT INTO mcp_oauth_clients VALUES ('client-1', 'Claude', '["https://claude.ai/cb"]', NULL, ?)`).run(ts);
  db.prepare(`INSERT INTO reindex_queue VALUES ('alice', 'Home.md', 'upsert', ?)`).run(ts);
  if (variant.legacy) {
    db.exec(`CREATE TABLE acls (wiki_slug TEXT NOT NULL REFERENCES wikis(slug), grantee_did TEXT NOT NULL REFERENCES users(did), role TEXT NOT NULL, granted_by TEXT NOT NULL, granted_at TEXT NOT NULL, PRIMARY KEY (wiki_slug, grantee_did))`);
    db.prepare(`INSERT INTO acls VALUES ('alice', 'did:plc:bbb', 'editor', 'did:plc:aaa', ?)`).run(ts);
  }
  db.close();
  return { dir, file };
}

function snapshot(file: string) {
  const db = new Database(file, { readonly: true });
  const dump = Object.fromEntries(
    ["users", "wikis", "mcp_oauth_clients", "reindex_queue"].map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()]),
  );
  const ddl = Object.fromEntries(
    (db.prepare(`SELECT name, sql FROM sqlite_master WHERE name IN ('users','wikis')`).all() as { name: string; sql: string }[]).map((r) => [r.name, r.sql]),
  );
  db.close();
  return { dump, ddl };
}

/** Start the platform on `dir`, let go of the DB, and check that no row or users/wikis DDL changed. */
async function startAndExpectUnchanged(dir: string, file: string, before: ReturnType<typeof snapshot>): Promise<TestPlatform> {
  const started = await startTestPlatform({ DATA_DIR: dir }, { copyTemplate: false });
  tp = started;
  await started.platform.db.$disconnect();
  const after = snapshot(file);
  expect(after.dump).toEqual(before.dump);
  expect(after.ddl).toEqual(before.ddl);
  return started;
}

describe("adopting an existing production robot.db (contracts.md §6.4)", () => {
  it("marks the baseline applied, adds platform tables, keeps every row and the users/wikis DDL (H8)", async () => {
    const { dir, file } = productionDb();
    await startAndExpectUnchanged(dir, file, snapshot(file));
    const db = new Database(file, { readonly: true });
    const migrations = (db.prepare(`SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name`).all() as { migration_name: string; finished_at: string }[]);
    expect(migrations.map((m) => m.migration_name)).toEqual(["0001_baseline", "0002_platform_tables"]);
    expect(migrations.every((m) => m.finished_at)).toBe(true);
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type='table'`).all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(expect.arrayContaining(["atproto_oauth_state", "atproto_oauth_session", "consent_nonces"]));
    // Stale predecessor OAuth rows are emptied at cut-over; the tables stay.
    expect(db.prepare(`SELECT COUNT(*) AS n FROM oauth_auth_requests`).get()).toEqual({ n: 0 });
    expect(db.prepare(`SELECT COUNT(*) AS n FROM oauth_sessions`).get()).toEqual({ n: 0 });
    db.close();
  });

  it("repairs the legacy variant: users.username removed, acls dropped, rows kept (H6)", async () => {
    const { dir, file } = productionDb({ legacy: true });
    tp = await startTestPlatform({ DATA_DIR: dir }, { copyTemplate: false });
    const db = tp.platform.db;
    const cols = (await db.$queryRawUnsafe<{ name: string }[]>(`SELECT name FROM pragma_table_info('users')`)).map((c) => c.name);
    expect(cols).toEqual(["did", "handle", "display_name", "avatar_url", "created_at", "wiki_count"]);
    expect(await db.user.count()).toBe(2);
    expect(await db.wiki.count()).toBe(4);
    expect((await db.user.findUnique({ where: { did: "did:plc:aaa" } }))?.display_name).toBe("Alice");
    // User creation works without username; wiki deletion is no longer blocked by acls.
    await db.user.create({ data: { did: "did:plc:new", handle: "new.test", created_at: "2025-01-01T00:00:00.000000+00:00" } });
    await db.wiki.delete({ where: { slug: "alice" } });
    const tables = (await db.$queryRawUnsafe<{ name: string }[]>(`SELECT name FROM sqlite_master WHERE type='table'`)).map((t) => t.name);
    expect(tables).not.toContain("acls");
    expect(tp.logs.join("")).toContain("rebuilding users without the username column");
    expect(fs.existsSync(file)).toBe(true);
  });

  it("invalidates duplicate and non-hex token hashes, then creates the unique index (H7)", async () => {
    const { dir } = productionDb({ badHashes: true });
    tp = await startTestPlatform({ DATA_DIR: dir }, { copyTemplate: false });
    const rows = await tp.platform.db.wiki.findMany({ orderBy: { slug: "asc" }, select: { slug: true, mcp_token_hash: true } });
    expect(rows).toEqual([
      { slug: "alice", mcp_token_hash: "invalidated:alice" },
      { slug: "bobs", mcp_token_hash: "b".repeat(64) },
      { slug: "dev", mcp_token_hash: "invalidated:dev" },
      { slug: "test", mcp_token_hash: "invalidated:test" },
    ]);
    const idx = await tp.platform.db.$queryRawUnsafe<{ name: string }[]>(`SELECT name FROM sqlite_master WHERE name='ix_wikis_mcp_token_hash'`);
    expect(idx).toHaveLength(1);
  });

  it("finishes an adoption cut off after _prisma_migrations was created (empty, or a failed baseline row)", async () => {
    for (const leftover of ["", `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count) VALUES ('x', 'y', '0001_baseline', 0, 0)`]) {
      const { dir, file } = productionDb();
      const before = snapshot(file);
      const raw = new Database(file);
      raw.exec(`CREATE TABLE "_prisma_migrations" ("id" TEXT PRIMARY KEY NOT NULL, "checksum" TEXT NOT NULL, "finished_at" DATETIME, "migration_name" TEXT NOT NULL, "logs" TEXT, "rolled_back_at" DATETIME, "started_at" DATETIME NOT NULL DEFAULT current_timestamp, "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0)`);
      if (leftover) raw.exec(leftover);
      raw.close();
      const started = await startAndExpectUnchanged(dir, file, before);
      const db = new Database(file, { readonly: true });
      const done = db.prepare(`SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY 1`).all();
      db.close();
      expect(done).toEqual([{ migration_name: "0001_baseline" }, { migration_name: "0002_platform_tables" }]);
      await started.close();
      tp = undefined;
    }
  });

  it("the repair is idempotent: a second start changes nothing", async () => {
    const { dir, file } = productionDb({ legacy: true });
    tp = await startTestPlatform({ DATA_DIR: dir }, { copyTemplate: false });
    await tp.platform.db.$disconnect();
    const first = snapshot(file);
    const again = await startTestPlatform({ DATA_DIR: dir }, { copyTemplate: false });
    await again.platform.db.$disconnect();
    expect(snapshot(file)).toEqual(first);
  });
});
