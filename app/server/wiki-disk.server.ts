/**
 * Everything that touches a wiki directory on disk (spec/management.md §5,
 * contracts.md §7): the git repo, the per-wiki `wiki.db`, and the platform-private
 * `.tmp`, `.trash` and `.orphaned` directories under WIKI_BASE.
 *
 * `wiki.db` belongs to the wiki server (Otter Wiki), so it is written with
 * better-sqlite3 in exactly the wiki server's format, never through Prisma.
 * Functions take explicit parameters; nothing here reads process.env.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";

import {
  ACCESS_PREFERENCES,
  DEFAULT_ACCESS_LEVEL,
  type AccessLevel,
  type AccessPreference,
} from "./wiki-rules.server";
import administrationPage from "./seed-pages/Administration.md?raw";
import agentGuidePage from "./seed-pages/Agent_Guide.md?raw";
import gettingStartedPage from "./seed-pages/Getting_Started.md?raw";
import homePage from "./seed-pages/Home.md?raw";

const execFileAsync = promisify(execFile);

/** The subset of a pino logger this module needs. */
export interface DiskLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const TMP_DIR = ".tmp";
export const TRASH_DIR = ".trash";
export const ORPHANED_DIR = ".orphaned";

// ---------------------------------------------------------------------------
// wiki.db (contracts.md §7.2–7.3)
// ---------------------------------------------------------------------------

/** Exact Otter Wiki schema; every statement is idempotent. */
export const WIKI_DB_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS preferences (name VARCHAR(256) PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS drafts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, pagepath VARCHAR(2048), revision VARCHAR(64),
  author_email VARCHAR(256), content TEXT, cursor_line INTEGER, cursor_ch INTEGER,
  datetime DATETIME);
CREATE INDEX IF NOT EXISTS ix_drafts_pagepath ON drafts (pagepath);
CREATE TABLE IF NOT EXISTS "user" (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(128), email VARCHAR(128) UNIQUE,
  password_hash VARCHAR(512), first_seen DATETIME, last_seen DATETIME,
  is_approved BOOLEAN DEFAULT 0, is_admin BOOLEAN DEFAULT 0, email_confirmed BOOLEAN DEFAULT 0,
  allow_read BOOLEAN DEFAULT 0, allow_write BOOLEAN DEFAULT 0, allow_upload BOOLEAN DEFAULT 0);
CREATE TABLE IF NOT EXISTS cache (key VARCHAR(64) PRIMARY KEY, value TEXT, datetime DATETIME);
CREATE INDEX IF NOT EXISTS ix_cache_key ON cache (key);
`;

export const WIKI_DB_SCHEMA_VERSION = 3;
export const PLATFORM_ICON = "/platform/robot.wtf.svg";

/** Seeds that do not depend on the wiki (§7.3); inserted only when absent. */
export const STATIC_PREFERENCE_SEEDS: Readonly<Record<string, string>> = {
  READ_ACCESS: "APPROVED",
  WRITE_ACCESS: "APPROVED",
  ATTACHMENT_ACCESS: "APPROVED",
  AUTH_METHOD: "PROXY_HEADER",
  DISABLE_REGISTRATION: "True",
  AUTO_APPROVAL: "False",
  _schema_version: String(WIKI_DB_SCHEMA_VERSION),
  SITE_ICON: PLATFORM_ICON,
  SITE_LOGO: PLATFORM_ICON,
  GIT_WEB_SERVER: "False",
};

export interface WikiDbInitOptions {
  /** Seeded as SITE_NAME when absent (the display name). */
  siteName?: string;
  /** Seeded as SITE_DESCRIPTION when absent; ignored when empty. */
  siteDescription?: string;
  /** The owner's current handle; seeds the owner's `"user"` row when absent. */
  ownerHandle?: string;
  /** PLATFORM_DOMAIN ({D}); used by the schema-version migration. */
  domain: string;
  /** Clock override for tests. */
  now?: Date;
}

const BUSY_TIMEOUT_MS = 5000;
const WIKI_DB_MODE = 0o600;

/** Otter Wiki's DATETIME text: `YYYY-MM-DD HH:MM:SS.ffffff` in UTC. */
export function formatWikiDbDatetime(date: Date): string {
  return `${date.toISOString().slice(0, 23).replace("T", " ")}000`;
}

/**
 * Creates or repairs `wiki.db`: schema, seeds (never overwriting), migration and owner
 * row, all in one write transaction. Safe to run any number of times.
 */
export function initWikiDb(dbPath: string, options: WikiDbInitOptions): void {
  const db = openWritable(dbPath);
  try {
    initialise(db, options);
  } finally {
    db.close();
  }
}

/** Idempotent init (repairs a missing or empty file, FS10), then a short upsert. */
export function setPreference(
  dbPath: string,
  name: string,
  value: string,
  initOptions: WikiDbInitOptions,
): void {
  setPreferences(dbPath, { [name]: value }, initOptions);
}

/** Like `setPreference`, for several values upserted in one short transaction. */
export function setPreferences(
  dbPath: string,
  values: Readonly<Record<string, string>>,
  initOptions: WikiDbInitOptions,
): void {
  const db = openWritable(dbPath);
  try {
    initialise(db, initOptions);
    const upsert = db.prepare(
      "INSERT INTO preferences (name, value) VALUES (?, ?) " +
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
    );
    db.transaction(() => {
      for (const [name, value] of Object.entries(values)) upsert.run(name, value);
    }).immediate();
  } finally {
    db.close();
  }
}

/**
 * All preferences as a map. A missing file, empty file or missing table gives `{}`;
 * it never throws and never creates the file.
 */
export function readPreferences(dbPath: string, log?: DiskLog): Record<string, string | null> {
  try {
    const statement = readOnlyStatement(dbPath, "SELECT name, value FROM preferences", log);
    if (!statement) return {};
    const rows = statement.all() as Array<{ name: string; value: string | null }>;
    return Object.fromEntries(rows.map((row) => [row.name, row.value]));
  } catch (err) {
    dropReader(dbPath);
    log?.warn({ err, dbPath }, "wiki.db preferences unreadable");
    return {};
  }
}

/** GIT_WEB_SERVER is on when its value, lowercased, is `true` or `1`; missing means off. */
export function isGitEnabled(prefs: Readonly<Record<string, string | null | undefined>>): boolean {
  const value = prefs.GIT_WEB_SERVER;
  if (typeof value !== "string") return false;
  const lowered = value.toLowerCase();
  return lowered === "true" || lowered === "1";
}

export type AccessLevels = Record<AccessPreference, AccessLevel>;

/**
 * The three *_ACCESS levels, APPROVED when missing. Values are compared
 * case-insensitively; an unknown value also reads as APPROVED, the safe default.
 */
export function readAccessLevels(dbPath: string, log?: DiskLog): AccessLevels {
  return accessLevelsFrom(readPreferences(dbPath, log));
}

export function accessLevelsFrom(prefs: Readonly<Record<string, string | null | undefined>>): AccessLevels {
  const levels = {} as AccessLevels;
  for (const name of ACCESS_PREFERENCES) {
    const value = prefs[name]?.trim().toUpperCase();
    levels[name] =
      value === "ANONYMOUS" || value === "REGISTERED" || value === "APPROVED" ? value : DEFAULT_ACCESS_LEVEL;
  }
  return levels;
}

export type Membership = "member" | "not_member" | "unreadable";

/**
 * D2: is `handle` an admin or approved user in this wiki's `"user"` table?
 * Opens the file read-only and never creates it; a missing or broken file is
 * 'unreadable' (callers treat that as "not a member" and log it).
 */
export function isApprovedMember(dbPath: string, handle: string, log?: DiskLog): Membership {
  try {
    const statement = readOnlyStatement(dbPath, 'SELECT 1 FROM "user" WHERE lower(email) = ? AND (is_admin = 1 OR is_approved = 1) LIMIT 1', log);
    if (!statement) return "unreadable";
    return statement.get(`@${handle.trim().toLowerCase()}`) ? "member" : "not_member";
  } catch (err) {
    dropReader(dbPath);
    log?.warn({ err, dbPath }, "wiki.db user table unreadable");
    return "unreadable";
  }
}

function openWritable(dbPath: string): Database.Database {
  // Create the file ourselves so it is never visible with umask permissions.
  fs.closeSync(fs.openSync(dbPath, "a", WIKI_DB_MODE));
  fs.chmodSync(dbPath, WIKI_DB_MODE);
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma("journal_mode = WAL");
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Read-only, so a reader can never change or create the file. Like any SQLite reader of
 * a WAL database it may leave empty `-wal`/`-shm` files (mode copied from `wiki.db`);
 * the wiki server keeps those files around anyway.
 *
 * Connections stay open between requests (issue 7: opening a wiki.db and parsing its schema
 * was a quarter of GET /api/wikis): SQLite sees every commit of any other connection or
 * process on the next read. Each use checks the file is still the same (device and inode), so
 * a wiki deleted and created again is never read through the old file; connections idle for a
 * minute are closed, so a deleted wiki's file is not held open for long.
 */
interface WikiDbReader {
  db: Database.Database;
  dev: number;
  ino: number;
  usedAt: number;
  statements: Map<string, Database.Statement>;
}
const readers = new Map<string, WikiDbReader>();
const MAX_READERS = 64;
const READER_IDLE_MS = 60_000;
let sweeper: NodeJS.Timeout | undefined;

function dropReader(dbPath: string): void {
  const reader = readers.get(dbPath);
  if (!reader) return;
  readers.delete(dbPath);
  try {
    reader.db.close();
  } catch {
    /* already unusable */
  }
}

/** Closes every kept wiki.db connection (platform shutdown, tests). */
export function closeWikiDbReaders(): void {
  for (const dbPath of [...readers.keys()]) dropReader(dbPath);
  clearInterval(sweeper);
  sweeper = undefined;
}

function readOnlyStatement(dbPath: string, sql: string, log?: DiskLog): Database.Statement | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(dbPath);
  } catch {
    dropReader(dbPath);
    log?.warn({ dbPath }, "wiki.db missing");
    return null;
  }
  let reader = readers.get(dbPath);
  if (reader && (reader.dev !== st.dev || reader.ino !== st.ino)) {
    dropReader(dbPath);
    reader = undefined;
  }
  if (!reader) {
    try {
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      reader = { db, dev: st.dev, ino: st.ino, usedAt: 0, statements: new Map() };
    } catch (err) {
      log?.warn({ err, dbPath }, "wiki.db cannot be opened");
      return null;
    }
    if (readers.size >= MAX_READERS) dropReader(readers.keys().next().value!);
    readers.set(dbPath, reader);
    sweeper ??= setInterval(() => {
      const cutoff = Date.now() - READER_IDLE_MS;
      for (const [p, r] of readers) if (r.usedAt < cutoff) dropReader(p);
    }, READER_IDLE_MS).unref();
  } else {
    readers.delete(dbPath); // re-insert: the map's order is least recently used first
    readers.set(dbPath, reader);
  }
  reader.usedAt = Date.now();
  let statement = reader.statements.get(sql);
  if (!statement) {
    statement = reader.db.prepare(sql); // throws on a broken file: the caller logs it and drops the reader
    reader.statements.set(sql, statement);
  }
  return statement;
}

function initialise(db: Database.Database, options: WikiDbInitOptions): void {
  const now = formatWikiDbDatetime(options.now ?? new Date());
  db.transaction(() => {
    db.exec(WIKI_DB_SCHEMA_SQL);
    seedPreferences(db, options);
    migrateSchemaVersion(db, options.domain);
    if (options.ownerHandle) seedOwner(db, options.ownerHandle, now);
  }).immediate();
}

function seedPreferences(db: Database.Database, options: WikiDbInitOptions): void {
  const insert = db.prepare("INSERT OR IGNORE INTO preferences (name, value) VALUES (?, ?)");
  for (const [name, value] of Object.entries(STATIC_PREFERENCE_SEEDS)) insert.run(name, value);
  if (options.siteName) insert.run("SITE_NAME", options.siteName);
  if (options.siteDescription) insert.run("SITE_DESCRIPTION", options.siteDescription);
}

/** Below version 3, icons pointed at the predecessor's `/static/`; the wiki serves `/platform/`. */
function migrateSchemaVersion(db: Database.Database, domain: string): void {
  const row = db.prepare("SELECT value FROM preferences WHERE name = '_schema_version'").get() as
    { value: string | null } | undefined;
  const version = Number.parseInt(row?.value ?? "", 10);
  // An unreadable version is treated as old: the rewrite is harmless if nothing matches.
  if (Number.isFinite(version) && version >= WIKI_DB_SCHEMA_VERSION) return;

  const oldPrefix = `https://${domain}/static/`;
  const select = db.prepare("SELECT value FROM preferences WHERE name = ?");
  const update = db.prepare("UPDATE preferences SET value = ? WHERE name = ?");
  for (const name of ["SITE_ICON", "SITE_LOGO"]) {
    const current = select.get(name) as { value: string | null } | undefined;
    if (current?.value?.startsWith(oldPrefix)) {
      update.run(`/platform/${current.value.slice(oldPrefix.length)}`, name);
    }
  }
  update.run(String(WIKI_DB_SCHEMA_VERSION), "_schema_version");
}

function seedOwner(db: Database.Database, ownerHandle: string, now: string): void {
  const handle = ownerHandle.trim().toLowerCase();
  const email = `@${handle}`;
  // Case-insensitive, so an older row spelled with capitals is not duplicated.
  const existing = db.prepare('SELECT 1 FROM "user" WHERE lower(email) = ?').get(email);
  if (existing) return;
  db.prepare(
    `INSERT INTO "user" (name, email, password_hash, first_seen, last_seen,
       is_approved, is_admin, email_confirmed, allow_read, allow_write, allow_upload)
     VALUES (?, ?, NULL, ?, ?, 1, 1, 0, 1, 1, 1)`,
  ).run(handle.split(".")[0] ?? handle, email, now, now);
}

// ---------------------------------------------------------------------------
// Git (management.md §5.1 step 4)
// ---------------------------------------------------------------------------

export const GIT_TIMEOUT_MS = 30_000;
export const SYSTEM_GIT_EMAIL = "system@robot.wtf";
export const SYSTEM_GIT_NAME = "robot.wtf";
export const INITIAL_COMMIT_MESSAGE = "Initial commit";
/** Matches git's historical default and the predecessor's repos; the wiki server uses HEAD. */
export const INITIAL_BRANCH = "master";
const DEFAULT_GIT_PATH = "/usr/local/bin:/usr/bin:/bin";

export interface GitRunner {
  gitBin: string;
  /** An empty directory used as HOME, so no user config can apply. */
  home: string;
  /** PATH for the child; used to find `gitBin` when it is a bare name such as `git`. */
  searchPath?: string;
  /** Per command; defaults to the spec's 30 s. */
  timeoutMs?: number;
}

/**
 * Runs git with no shell and a minimal, fixed environment. The parent's environment is
 * deliberately not inherited: GIT_DIR, GIT_INDEX_FILE or GIT_AUTHOR_* leaking in (from a
 * hook, CI or an operator's shell) would redirect or re-author the commit, and global or
 * system config (commit.gpgSign, core.hooksPath, init.templateDir, …) could break it.
 * Any non-zero exit or timeout rejects.
 */
export async function runGit(runner: GitRunner, cwd: string, args: string[]): Promise<string> {
  const env = {
    PATH: runner.searchPath ?? DEFAULT_GIT_PATH,
    HOME: runner.home,
    LC_ALL: "C",
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null", // git ≥ 2.32; HOME covers older versions
  };
  try {
    const { stdout } = await execFileAsync(runner.gitBin, args, {
      cwd,
      env,
      timeout: runner.timeoutMs ?? GIT_TIMEOUT_MS,
      killSignal: "SIGKILL",
      windowsHide: true,
    });
    return stdout;
  } catch (err) {
    throw gitError(args, err);
  }
}

function gitError(args: string[], cause: unknown): Error {
  const details = cause as { code?: unknown; signal?: unknown; stderr?: unknown };
  const stderr = typeof details.stderr === "string" ? details.stderr.trim().slice(0, 500) : "";
  const how = details.signal
    ? `killed by ${String(details.signal)}` // includes our timeout
    : typeof details.code === "number"
      ? `exit code ${details.code}`
      : `could not run: ${String(details.code)}`;
  return new Error(`git ${args.join(" ")} failed (${how})${stderr ? `: ${stderr}` : ""}`, {
    cause,
  });
}

// ---------------------------------------------------------------------------
// Seed pages (management.md §5.2)
// ---------------------------------------------------------------------------

export const BUILT_IN_PAGES: ReadonlyArray<{ readonly file: string; readonly text: string }> = [
  { file: "Home.md", text: homePage },
  { file: "Getting_Started.md", text: gettingStartedPage },
  { file: "Agent_Guide.md", text: agentGuidePage },
  { file: "Administration.md", text: administrationPage },
];

export interface PageVariables {
  slug: string;
  /** PLATFORM_DOMAIN */
  D: string;
  /** {PLATFORM_SCHEME}://{D} */
  ORIGIN: string;
  /** The wiki's own URL, {PLATFORM_SCHEME}://{slug}.{D} (built as a string, never via URL). */
  WIKI: string;
  display_name: string;
  description: string;
}

const PLACEHOLDER = /\{(slug|D|ORIGIN|WIKI|display_name|description)\}/g;
// A line holding only `{description}` (plus the blank line after it) disappears when
// there is no description, so Home does not start with an empty paragraph.
const LONE_DESCRIPTION_LINE = /^[ \t]*\{description\}[ \t]*\r?\n(?:[ \t]*\r?\n)?/gm;

/**
 * Replaces the placeholders in one pass, so text that came from a value (a description
 * containing `{slug}`, say) is never substituted again.
 */
export function renderPage(template: string, vars: PageVariables): string {
  const text = vars.description ? template : template.replace(LONE_DESCRIPTION_LINE, "");
  return text.replace(PLACEHOLDER, (_match, key: keyof PageVariables) => vars[key]);
}

export function wikiUrl(origin: string, slug: string): string {
  return origin.replace("://", `://${slug}.`);
}

/** The top-level `*.md` files of WIKI_TEMPLATE_DIR (no dot-files, no sub-directories). */
export async function readTemplatePages(templateDir: string): Promise<Array<{ file: string; text: string }>> {
  const entries = await fsp.readdir(templateDir, { withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".md") && !entry.name.startsWith("."))
    .map((entry) => entry.name)
    .sort();
  if (files.length === 0) {
    throw new Error(`WIKI_TEMPLATE_DIR ${templateDir} has no top-level .md files`);
  }
  return Promise.all(
    files.map(async (file) => ({ file, text: await fsp.readFile(path.join(templateDir, file), "utf8") })),
  );
}

// ---------------------------------------------------------------------------
// Building a wiki directory (management.md §5.1 step 4)
// ---------------------------------------------------------------------------

export interface BuildWikiOptions {
  wikiBase: string;
  slug: string;
  displayName: string;
  /** Already cleaned; empty means none. */
  description: string;
  ownerHandle: string;
  /** PLATFORM_DOMAIN ({D}) */
  domain: string;
  /** {ORIGIN} */
  origin: string;
  gitBin: string;
  /** WIKI_TEMPLATE_DIR: its top-level *.md files replace the built-in pages. */
  templateDir?: string;
  /** PATH used to find a bare `gitBin`; defaults to the standard system directories. */
  gitSearchPath?: string;
  /** Reports a failed clean-up; the build error itself is rethrown to the caller. */
  log?: DiskLog;
}

export interface BuiltWiki {
  buildDir: string;
  pageCount: number;
  diskUsageBytes: number;
}

/**
 * Builds a complete wiki directory (`repo/` with one clean commit, and a closed
 * `wiki.db`) under `{wikiBase}/.tmp/`. Nothing is visible to the wiki server until
 * `moveIntoPlace`. On any failure the build directory is removed and the error rethrown.
 */
export async function buildWikiDirectory(options: BuildWikiOptions): Promise<BuiltWiki> {
  assertSafeSlug(options.slug);
  const tmpRoot = path.join(options.wikiBase, TMP_DIR);
  await fsp.mkdir(tmpRoot, { recursive: true, mode: 0o700 });
  const buildDir = await fsp.mkdtemp(path.join(tmpRoot, `${options.slug}.`));
  try {
    const pageCount = await buildRepo(buildDir, options);
    initWikiDb(path.join(buildDir, "wiki.db"), {
      siteName: options.displayName,
      siteDescription: options.description || undefined,
      ownerHandle: options.ownerHandle,
      domain: options.domain,
    });
    return { buildDir, pageCount, diskUsageBytes: await directorySize(buildDir) };
  } catch (err) {
    await fsp.rm(buildDir, { recursive: true, force: true }).catch((cleanupErr: unknown) => {
      // The sweep removes whatever is left; the build error below is what matters.
      options.log?.error({ err: cleanupErr, path: buildDir }, "failed to remove wiki build directory");
    });
    throw err;
  }
}

async function buildRepo(buildDir: string, options: BuildWikiOptions): Promise<number> {
  const repoDir = path.join(buildDir, "repo");
  await fsp.mkdir(repoDir);
  // The build dir holds no config files yet, so it doubles as an empty HOME.
  const git: GitRunner = { gitBin: options.gitBin, home: buildDir, searchPath: options.gitSearchPath };

  await runGit(git, repoDir, ["-c", `init.defaultBranch=${INITIAL_BRANCH}`, "init", "--quiet"]);
  await runGit(git, repoDir, ["config", "user.email", SYSTEM_GIT_EMAIL]);
  await runGit(git, repoDir, ["config", "user.name", SYSTEM_GIT_NAME]);

  const pages = options.templateDir ? await readTemplatePages(options.templateDir) : BUILT_IN_PAGES;
  const vars: PageVariables = {
    slug: options.slug,
    D: options.domain,
    ORIGIN: options.origin,
    WIKI: wikiUrl(options.origin, options.slug),
    display_name: options.displayName,
    description: options.description,
  };
  for (const page of pages) {
    await fsp.writeFile(path.join(repoDir, page.file), renderPage(page.text, vars), "utf8");
  }

  await runGit(git, repoDir, ["add", "--all"]);
  await runGit(git, repoDir, ["commit", "--quiet", "--no-verify", "-m", INITIAL_COMMIT_MESSAGE]);
  const status = await runGit(git, repoDir, ["status", "--porcelain", "--untracked-files=all"]);
  if (status.trim() !== "") throw new Error(`working tree not clean after initial commit: ${status}`);
  return pages.length;
}

// ---------------------------------------------------------------------------
// Moving directories (management.md §5.1 step 5, §5.3, §5.5)
// ---------------------------------------------------------------------------

/** Sortable and file-name safe, e.g. `20250301T123456789Z`. */
export function fileTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/[-:.]/g, "");
}

const FILE_TIMESTAMP = /\.(\d{8}T\d{9}Z)(?:\.|$)/;

function parseFileTimestamp(name: string): number | null {
  const match = FILE_TIMESTAMP.exec(name)?.[1];
  if (!match) return null;
  const iso = `${match.slice(0, 4)}-${match.slice(4, 6)}-${match.slice(6, 8)}T${match.slice(9, 11)}:${match.slice(11, 13)}:${match.slice(13, 15)}.${match.slice(15, 18)}Z`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

function randomSuffix(): string {
  return randomBytes(6).toString("hex");
}

export interface MovedIntoPlace {
  wikiDir: string;
  /** Where a stray directory that occupied the slug was moved, if there was one. */
  orphanedTo: string | null;
}

/**
 * Renames the build to `{wikiBase}/{slug}`. A directory already there has no row (the
 * insert just succeeded), so it is an orphan of an earlier failure: it is kept under
 * `.orphaned/` for ops to inspect, never deleted.
 */
export function moveIntoPlace(
  buildDir: string,
  wikiBase: string,
  slug: string,
  log: DiskLog,
): MovedIntoPlace {
  assertSafeSlug(slug);
  const wikiDir = path.join(wikiBase, slug);
  let orphanedTo: string | null = null;
  if (pathExists(wikiDir)) {
    const orphanRoot = path.join(wikiBase, ORPHANED_DIR);
    fs.mkdirSync(orphanRoot, { recursive: true, mode: 0o700 });
    orphanedTo = path.join(orphanRoot, `${slug}.${fileTimestamp()}`);
    if (pathExists(orphanedTo)) orphanedTo = `${orphanedTo}.${randomSuffix()}`;
    fs.renameSync(wikiDir, orphanedTo);
    log.warn({ slug, wikiDir, orphanedTo }, "stray wiki directory moved to .orphaned");
  }
  fs.renameSync(buildDir, wikiDir);
  return { wikiDir, orphanedTo };
}

/** A fresh `.trash/{slug}.{timestamp}.{random}` path, so it can be journaled before the rename. */
export function tombstonePath(wikiBase: string, slug: string): string {
  assertSafeSlug(slug);
  return path.join(wikiBase, TRASH_DIR, `${slug}.${fileTimestamp()}.${randomSuffix()}`);
}

/**
 * Step 2 of delete: renames the wiki directory to `.trash/{slug}.{timestamp}.{random}`.
 * A missing directory is logged and gives null, so deletion can continue.
 */
export function tombstone(
  wikiDir: string,
  wikiBase: string,
  slug: string,
  log: DiskLog,
  target: string = tombstonePath(wikiBase, slug),
): string | null {
  assertSafeSlug(slug);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  dropReader(path.join(wikiDir, "wiki.db")); // this process no longer holds the file open
  try {
    fs.renameSync(wikiDir, target);
  } catch (err) {
    if (errorCode(err) !== "ENOENT") throw err;
    log.warn({ slug, wikiDir }, "wiki directory missing at delete; continuing");
    return null;
  }
  return target;
}

/** Undo of `tombstone` when the delete transaction fails. Throws if it cannot. */
export function restoreTombstone(tombstonePath: string, wikiDir: string): void {
  fs.renameSync(tombstonePath, wikiDir);
}

/** Recursive removal that reports instead of throwing; the sweep retries what is left. */
export async function removeTree(target: string, log: DiskLog): Promise<boolean> {
  try {
    await fsp.rm(target, { recursive: true, force: true, maxRetries: 2 });
    return true;
  } catch (err) {
    log.error({ err, path: target }, "failed to remove directory; the sweep will retry");
    return false;
  }
}

export interface SweepResult {
  removed: string[];
  failed: string[];
}

/**
 * Removes entries of `.tmp` and `.trash` older than `maxAgeMs`. Age counts from the
 * newest of mtime, ctime (a rename updates it) and a timestamp in the name, so a
 * freshly tombstoned old wiki is not swept before its delete transaction commits.
 * `.orphaned` and every other directory are never touched.
 */
export async function sweepPrivateDirs(
  wikiBase: string,
  maxAgeMs: number,
  log: DiskLog,
  now: number = Date.now(),
): Promise<SweepResult> {
  const result: SweepResult = { removed: [], failed: [] };
  for (const dirName of [TMP_DIR, TRASH_DIR]) {
    const root = path.join(wikiBase, dirName);
    let names: string[];
    try {
      names = await fsp.readdir(root);
    } catch (err) {
      if (errorCode(err) === "ENOENT") continue;
      log.error({ err, path: root }, "cannot list private directory for sweep");
      continue;
    }
    for (const name of names) {
      const entry = path.join(root, name);
      const lastTouched = await lastTouchedMs(entry, name, log);
      if (lastTouched === null || now - lastTouched <= maxAgeMs) continue;
      if (await removeTree(entry, log)) {
        result.removed.push(entry);
        log.info({ path: entry }, "swept stale private directory entry");
      } else {
        result.failed.push(entry);
      }
    }
  }
  return result;
}

async function lastTouchedMs(entry: string, name: string, log: DiskLog): Promise<number | null> {
  try {
    const stats = await fsp.lstat(entry);
    return Math.max(stats.mtimeMs, stats.ctimeMs, parseFileTimestamp(name) ?? 0);
  } catch (err) {
    // Vanished between readdir and lstat: nothing to sweep. Anything else is worth a look.
    if (errorCode(err) !== "ENOENT") log.warn({ err, path: entry }, "cannot stat entry during sweep");
    return null;
  }
}

/**
 * Bytes of all regular files under `root`, recursively. Symlinks are not followed
 * (a repo could otherwise point the count anywhere). A missing root counts as 0.
 */
export async function directorySize(root: string): Promise<number> {
  let stats: fs.Stats;
  try {
    stats = await fsp.lstat(root);
  } catch (err) {
    if (errorCode(err) === "ENOENT") return 0;
    throw err;
  }
  if (stats.isFile()) return stats.size;
  if (!stats.isDirectory()) return 0;
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(root, { withFileTypes: true });
  } catch (err) {
    if (errorCode(err) === "ENOENT") return 0;
    throw err;
  }
  let total = 0;
  for (const entry of entries) total += await directorySize(path.join(root, entry.name));
  return total;
}

/**
 * Slugs become path components here. Callers validate them with the domain rules; this
 * is the last line of defence against a path escaping WIKI_BASE. Legacy slugs that
 * predate the rules (e.g. `dev`) still pass.
 */
function assertSafeSlug(slug: string): void {
  // Same shape the quota cron accepts (contracts.md §7.1); no `.` or `/` can get through.
  if (!/^[a-z0-9-]+$/.test(slug)) throw new Error(`unsafe slug for a path: ${JSON.stringify(slug)}`);
}

function pathExists(target: string): boolean {
  try {
    fs.lstatSync(target);
    return true;
  } catch (err) {
    if (errorCode(err) === "ENOENT") return false;
    throw err;
  }
}

function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err
    ? String((err as { code: unknown }).code)
    : undefined;
}
