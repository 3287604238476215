// robot.db through Prisma (contracts.md §6). Start-up, before listening: repair legacy variants,
// adopt a production database that predates Prisma, apply pending migrations with the Prisma
// CLI (`migrate deploy`), then set the connection pragmas.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "~/generated/prisma/client";
import type { Config } from "./config.server";
import type { Logger } from "./log.server";

export type Db = PrismaClient;
export { PrismaClient };

const execFileP = promisify(execFile);

/** The project root: this module lives two levels down, both as source and in build/server/. */
export const APP_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const MIGRATIONS_DIR = path.join(APP_ROOT, "prisma/migrations");
export const BASELINE_MIGRATION = "0001_baseline";

/** The production DDL of the §6.1 tables (nullable text primary keys, as the predecessor made them). */
export const PRODUCTION_DDL: Record<string, string> = {
  users: `CREATE TABLE users (did TEXT PRIMARY KEY, handle TEXT NOT NULL, display_name TEXT, avatar_url TEXT, created_at TEXT NOT NULL, wiki_count INTEGER DEFAULT 0)`,
  wikis: `CREATE TABLE wikis (slug TEXT PRIMARY KEY, owner_did TEXT NOT NULL REFERENCES users(did), display_name TEXT NOT NULL, repo_path TEXT NOT NULL, mcp_token_hash TEXT NOT NULL, is_public INTEGER DEFAULT 0, created_at TEXT NOT NULL, last_accessed TEXT NOT NULL, page_count INTEGER DEFAULT 0, disk_usage_bytes INTEGER DEFAULT 0)`,
  oauth_auth_requests: `CREATE TABLE oauth_auth_requests (state TEXT PRIMARY KEY, authserver_iss TEXT NOT NULL, did TEXT, handle TEXT, pds_url TEXT, pkce_verifier TEXT NOT NULL, scope TEXT NOT NULL, dpop_authserver_nonce TEXT NOT NULL, dpop_private_jwk TEXT NOT NULL, created_at TEXT NOT NULL)`,
  oauth_sessions: `CREATE TABLE oauth_sessions (did TEXT PRIMARY KEY, handle TEXT, pds_url TEXT NOT NULL, authserver_iss TEXT NOT NULL, access_token TEXT, refresh_token TEXT, dpop_authserver_nonce TEXT NOT NULL, dpop_private_jwk TEXT NOT NULL, created_at TEXT NOT NULL)`,
  mcp_oauth_clients: `CREATE TABLE mcp_oauth_clients (client_id TEXT PRIMARY KEY, client_name TEXT, redirect_uris TEXT NOT NULL, client_secret_hash TEXT, created_at TEXT NOT NULL)`,
  reindex_queue: `CREATE TABLE reindex_queue (wiki_slug TEXT NOT NULL, page_path TEXT NOT NULL, action TEXT NOT NULL, queued_at TEXT NOT NULL, PRIMARY KEY (wiki_slug, page_path))`,
};

// The table `prisma migrate deploy` creates on an empty database (needed before `migrate resolve`).
const PRISMA_MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

export class DatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatabaseError";
  }
}

export function createPrismaClient(dbPath: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: "file:" + dbPath }) });
}

async function tableNames(db: PrismaClient): Promise<Set<string>> {
  const rows = await db.$queryRawUnsafe<{ name: string }[]>(`SELECT name FROM sqlite_master WHERE type = 'table'`);
  return new Set(rows.map((r) => r.name));
}

async function columnNames(db: PrismaClient, table: string): Promise<string[]> {
  const rows = await db.$queryRawUnsafe<{ name: string }[]>(`SELECT name FROM pragma_table_info('${table}')`);
  return rows.map((r) => r.name);
}

async function indexNames(db: PrismaClient): Promise<Set<string>> {
  const rows = await db.$queryRawUnsafe<{ name: string }[]>(`SELECT name FROM sqlite_master WHERE type = 'index'`);
  return new Set(rows.map((r) => r.name));
}

/**
 * Bring legacy variants of a production database into line (contracts.md §6.4 step 3).
 * Idempotent; safe at every start. Logs every change it makes.
 */
export async function repairLegacySchema(db: PrismaClient, log: Logger): Promise<void> {
  let tables = await tableNames(db);
  if (!tables.has("users") && !tables.has("wikis")) return; // a new database: migrations create it

  if (tables.has("users") && (await columnNames(db, "users")).includes("username")) {
    log.warn({ table: "users" }, "repairing legacy schema: rebuilding users without the username column");
    await db.$executeRawUnsafe("PRAGMA foreign_keys = OFF");
    try {
      await db.$transaction([
        db.$executeRawUnsafe(PRODUCTION_DDL.users.replace("CREATE TABLE users", "CREATE TABLE users_repair")),
        db.$executeRawUnsafe(
          `INSERT INTO users_repair (did, handle, display_name, avatar_url, created_at, wiki_count)
           SELECT did, handle, display_name, avatar_url, created_at, wiki_count FROM users`,
        ),
        db.$executeRawUnsafe("DROP TABLE users"),
        db.$executeRawUnsafe("ALTER TABLE users_repair RENAME TO users"),
      ]);
    } finally {
      await db.$executeRawUnsafe("PRAGMA foreign_keys = ON");
    }
  }
  if (tables.has("acls")) {
    log.warn({ table: "acls" }, "repairing legacy schema: dropping the unused acls table");
    await db.$executeRawUnsafe("DROP TABLE acls");
  }
  tables = await tableNames(db);
  for (const [name, ddl] of Object.entries(PRODUCTION_DDL)) {
    if (!tables.has(name)) {
      log.warn({ table: name }, "repairing legacy schema: creating a missing table with the production DDL");
      await db.$executeRawUnsafe(ddl);
    }
  }
  if (!(await indexNames(db)).has("ix_wikis_mcp_token_hash")) {
    const changed = await db.$executeRawUnsafe(
      `UPDATE wikis SET mcp_token_hash = 'invalidated:' || slug
       WHERE mcp_token_hash NOT GLOB '[0-9a-f]*' OR length(mcp_token_hash) != 64
          OR mcp_token_hash GLOB '*[^0-9a-f]*'
          OR mcp_token_hash IN (SELECT mcp_token_hash FROM wikis GROUP BY mcp_token_hash HAVING COUNT(*) > 1)`,
    );
    log.warn({ invalidated: changed }, "repairing legacy schema: creating the unique index ix_wikis_mcp_token_hash");
    await db.$executeRawUnsafe(`CREATE UNIQUE INDEX ix_wikis_mcp_token_hash ON wikis (mcp_token_hash)`);
  }
}

function migrationNames(): string[] {
  return fs
    .readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

async function appliedMigrations(db: PrismaClient): Promise<Set<string>> {
  const rows = await db.$queryRawUnsafe<{ migration_name: string }[]>(
    `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  );
  return new Set(rows.map((r) => r.migration_name));
}

/** Run the Prisma CLI (offline configuration) against this database. */
export async function prismaCli(dbPath: string, args: string[]): Promise<string> {
  const cli = path.join(APP_ROOT, "node_modules/prisma/build/index.js");
  try {
    const { stdout } = await execFileP(process.execPath, [cli, ...args, "--config", "prisma/prisma.config.ts"], {
      cwd: APP_ROOT,
      env: { ...process.env, ROBOT_DB_PATH: dbPath, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
      timeout: 120_000,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new DatabaseError(`prisma ${args.join(" ")} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

/**
 * Adopt a pre-Prisma production DB, then apply pending migrations (contracts.md §6.4 step 4).
 * The Prisma CLI locks the database exclusively; on a WAL database any other open connection
 * (ours included) makes it fail, so our client lets go before every CLI call and reconnects on
 * its next query.
 */
export async function migrate(db: PrismaClient, dbPath: string, log: Logger): Promise<void> {
  await repairLegacySchema(db, log);
  const tables = await tableNames(db);
  // Adopt whenever the production tables exist but the baseline is not recorded as applied:
  // also after an adoption that was cut off between creating _prisma_migrations and `resolve`,
  // or `migrate deploy` would replay the baseline over the existing tables.
  if (tables.has("users")) {
    if (!tables.has("_prisma_migrations")) await db.$executeRawUnsafe(PRISMA_MIGRATIONS_DDL);
    if (!(await appliedMigrations(db)).has(BASELINE_MIGRATION)) {
      log.warn({ migration: BASELINE_MIGRATION }, "adopting an existing robot.db: marking the baseline as applied");
      await db.$disconnect();
      await prismaCli(dbPath, ["migrate", "resolve", "--applied", BASELINE_MIGRATION]);
    }
  }
  const applied = tables.has("users") ? await appliedMigrations(db) : new Set();
  const pending = migrationNames().filter((m) => !applied.has(m));
  if (pending.length) {
    log.info({ pending }, "applying database migrations");
    await db.$disconnect();
    await prismaCli(dbPath, ["migrate", "deploy"]);
  }
}

export async function setPragmas(db: PrismaClient): Promise<void> {
  await db.$queryRawUnsafe("PRAGMA journal_mode = WAL");
  await db.$queryRawUnsafe("PRAGMA busy_timeout = 5000");
  await db.$executeRawUnsafe("PRAGMA foreign_keys = ON");
  await db.$executeRawUnsafe("PRAGMA synchronous = NORMAL");
}

/**
 * Open robot.db for the server: checks, migrations and pragmas, all before listening.
 * `migrate: false` in the workers of the multi-process mode, whose primary migrated before
 * forking them (ADR 009).
 */
export async function openDatabase(config: Config, log: Logger, { migrate: migrating = true }: { migrate?: boolean } = {}): Promise<PrismaClient> {
  if (!fs.existsSync(config.robotDbPath)) {
    if (config.production) {
      throw new DatabaseError(
        `ROBOT_DB_PATH: no database at ${config.robotDbPath}; production never creates it (run the install script)`,
      );
    }
    fs.mkdirSync(path.dirname(config.robotDbPath), { recursive: true, mode: 0o700 });
    fs.writeFileSync(config.robotDbPath, "", { mode: 0o600 });
  }
  try {
    fs.accessSync(config.robotDbPath, fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    throw new DatabaseError(`ROBOT_DB_PATH: ${config.robotDbPath} is not readable and writable`);
  }
  const db = createPrismaClient(config.robotDbPath);
  try {
    await db.$queryRawUnsafe("PRAGMA busy_timeout = 5000");
    if (migrating) await migrate(db, config.robotDbPath, log);
    await setPragmas(db);
  } catch (err) {
    await db.$disconnect().catch(() => undefined);
    throw err;
  }
  return db;
}
