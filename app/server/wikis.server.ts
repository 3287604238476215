// Wiki operations over robot.db and the wiki directories (management.md §1, §4, §5; D8–D10,
// D12). One function per operation; the `/app/*` actions and the `/api/*` routes both call
// them, so every rule (validation, limits, ownership, lifecycle) exists once. Expected
// failures come back as a typed `Failure` carrying the message for each surface; only real
// faults are logged and reported as `server_error`.
import fs from "node:fs";
import path from "node:path";
import type { Prisma, Wiki } from "~/generated/prisma/client";
import { wikiUrl, type Config } from "./config.server";
import type { Reads } from "./reads.server";
import { errorDetails } from "./log.server";
import type { Platform } from "./platform.server";
import { isoNow } from "./time.server";
import {
  buildWikiDirectory,
  isGitEnabled,
  moveIntoPlace,
  accessLevelsFrom,
  readPreferences,
  removeTree,
  setPreferences,
  tombstone,
  tombstonePath,
  type AccessLevels,
  type DiskLog,
  type WikiDbInitOptions,
} from "./wiki-disk.server";
import {
  DISPLAY_NAME_ERRORS,
  SLUG_ERRORS,
  cleanDescription,
  cleanDisplayName,
  formatUsage,
  generateMcpToken,
  hashMcpToken,
  isValidAccessLevel,
  normalizeSlug,
  OVER_QUOTA_NOTE,
  validateSlug,
  type AccessLevel,
  type FormattedUsage,
} from "./wiki-rules.server";

export type { Wiki };

// ---------------------------------------------------------------------------
// Check-slug (contracts.md §9)
// ---------------------------------------------------------------------------

const LABEL = /^[a-z0-9-]{1,63}$/;

/**
 * The wiki slug a host name asks for (contracts.md §9): lowercase, one trailing dot removed,
 * `{label}.{host of PLATFORM_DOMAIN}` with exactly one label. Reserved names are not applied.
 */
export function slugForHost(config: Config, domain: string | null): string | undefined {
  if (!domain) return undefined;
  let host = domain.toLowerCase();
  if (host.endsWith(".")) host = host.slice(0, -1);
  const suffix = "." + config.domainHost;
  if (!host.endsWith(suffix)) return undefined;
  const label = host.slice(0, -suffix.length);
  return LABEL.test(label) ? label : undefined;
}

/** Caddy's on-demand TLS question: may a certificate be issued for this host? A primary-key lookup. */
export function hostHasWiki(reads: Reads, config: Config, domain: string | null): boolean {
  const slug = slugForHost(config, domain);
  return slug !== undefined && reads.wikiExists(slug);
}

// ---------------------------------------------------------------------------
// Results and messages
// ---------------------------------------------------------------------------

/** Who is asking: the identity helper's user (only these fields matter here). */
export interface Actor {
  did: string;
  handle: string;
  is_admin: boolean;
}

/** Logged with every failure, so a log line leads back to its request. */
export interface OpContext {
  reqId?: string;
}

export type Operation = "create" | "get" | "rename" | "access" | "git" | "regenerate" | "delete";

export type FailureCode =
  | "display_name_required"
  | "display_name_too_long"
  | "purpose_not_string"
  | "invalid_slug"
  | "limit"
  | "exists"
  | "not_found"
  | "not_owner"
  | "invalid_access_level"
  | "invalid_git_value"
  | "confirmation_mismatch"
  | "server_error";

/** An expected failure, with the exact message of each surface (management.md §3, §4.2). */
export interface Failure {
  ok: false;
  status: number;
  code: FailureCode;
  error: { ui: string; api: string };
}

const STATUS: Record<FailureCode, number> = {
  display_name_required: 400,
  display_name_too_long: 400,
  purpose_not_string: 400,
  invalid_slug: 400,
  limit: 403,
  exists: 409,
  not_found: 404,
  not_owner: 403,
  invalid_access_level: 400,
  invalid_git_value: 400,
  confirmation_mismatch: 400,
  server_error: 500,
};

const OWNER_ONLY_API: Record<Operation, string> = {
  create: "Access denied",
  get: "Access denied",
  rename: "Access denied",
  access: "Access denied",
  git: "Only the owner can change git access settings",
  regenerate: "Only the owner can regenerate the token",
  delete: "Only the owner can delete a wiki",
};

const SERVER_ERROR: Record<Operation, { ui: string; api: string }> = {
  create: { ui: "Failed to initialize wiki repository.", api: "Failed to initialize wiki repository" },
  get: { ui: "Failed to load wiki.", api: "Failed to load wiki" },
  rename: { ui: "Failed to update settings.", api: "Failed to update settings" },
  access: { ui: "Failed to update settings.", api: "Failed to update settings" },
  git: { ui: "Failed to update settings.", api: "Failed to update git access setting" },
  regenerate: { ui: "Failed to regenerate token.", api: "Failed to regenerate token" },
  delete: { ui: "Failed to delete wiki.", api: "Failed to delete wiki" },
};

function limitMessages(max: number): { ui: string; api: string } {
  const wikis = max === 1 ? "wiki" : "wikis";
  return {
    ui: max === 1 ? "You can only have one wiki on the free tier." : `You can only have ${max} wikis on the free tier.`,
    api: `Wiki limit reached (${max} ${wikis} per user on free tier)`,
  };
}

function messagesFor(op: Operation, code: FailureCode, detail: string, config: Config): { ui: string; api: string } {
  switch (code) {
    case "display_name_required":
      return { ui: DISPLAY_NAME_ERRORS.ui.required, api: DISPLAY_NAME_ERRORS.api.required };
    case "display_name_too_long":
      return { ui: DISPLAY_NAME_ERRORS.ui.too_long, api: DISPLAY_NAME_ERRORS.api.too_long };
    case "purpose_not_string":
      return { ui: "Invalid site description.", api: "purpose must be a string" };
    case "invalid_slug":
      return { ui: `Invalid slug: ${detail}`, api: detail };
    case "limit":
      return limitMessages(config.maxWikisPerUser);
    case "exists":
      return { ui: "That slug is already taken.", api: "Wiki already exists" };
    case "not_found":
      return { ui: "Wiki not found.", api: "Wiki not found" };
    case "not_owner":
      return { ui: "Access denied.", api: OWNER_ONLY_API[op] };
    case "invalid_access_level":
      return { ui: "Invalid access level.", api: "Invalid access level" };
    case "invalid_git_value":
      return { ui: "Invalid value for git access.", api: "enabled must be a boolean" };
    case "confirmation_mismatch":
      return { ui: "Slug confirmation did not match.", api: "Slug confirmation did not match" };
    case "server_error":
      return SERVER_ERROR[op];
  }
}

function failure(platform: Platform, op: Operation, code: FailureCode, detail = ""): Failure {
  return { ok: false, status: STATUS[code], code, error: messagesFor(op, code, detail, platform.config) };
}

/** A real fault: logged with its cause, reported as the operation's 500. */
function serverError(platform: Platform, op: Operation, ctx: OpContext, err: unknown, msg: string, extra: object = {}): Failure {
  platform.log.error({ reqId: ctx.reqId, op, ...extra, err: errorDetails(err) }, msg);
  return failure(platform, op, "server_error");
}

// ---------------------------------------------------------------------------
// Shared plumbing
// ---------------------------------------------------------------------------

/** The wiki directory: `{WIKI_BASE}/{slug}` (contracts.md §7.1; the parent of `repo_path`). */
export function wikiDirOf(config: Config, slug: string): string {
  return path.join(config.wikiBase, slug);
}

export function wikiDbPathOf(config: Config, slug: string): string {
  return path.join(wikiDirOf(config, slug), "wiki.db");
}

/** The pino logger in the shape wiki-disk.server.ts asks for, carrying the request id. */
export function diskLog(platform: Platform, ctx: OpContext = {}): DiskLog {
  return ctx.reqId ? platform.log.child({ reqId: ctx.reqId }) : platform.log;
}

const TX_OPTIONS = { maxWait: 15_000, timeout: 15_000 };

/**
 * Every robot.db write of this module runs in a transaction. The better-sqlite3 adapter has a
 * single connection and serialises transactions with a mutex, so this also keeps one
 * operation's statements from landing inside another's open transaction.
 *
 * Other processes write robot.db too (the workers of the multi-process mode, the wiki and MCP
 * servers). The adapter's BEGIN is deferred: a transaction that reads first and then writes
 * fails at once with SQLITE_BUSY ("database is locked", no busy wait) when another connection
 * committed in between. So the first statement is a write that changes nothing: the write lock
 * is held from the start, and another process waits its turn (busy_timeout) instead.
 */
export function writeTx<T>(platform: Platform, fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  return platform.db.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(TAKE_WRITE_LOCK);
    return fn(tx);
  }, TX_OPTIONS);
}
const TAKE_WRITE_LOCK = "UPDATE wiki_disk_journal SET slug = slug WHERE 0";

/** The columns named by a UNIQUE/PRIMARY KEY violation, or null for any other error. */
export function uniqueViolation(err: unknown): string[] | null {
  const cause = (err as { meta?: { driverAdapterError?: { cause?: { kind?: string; constraint?: { fields?: unknown } } } } })
    ?.meta?.driverAdapterError?.cause;
  if (cause?.kind !== "UniqueConstraintViolation") return null;
  const fields = cause.constraint?.fields;
  return Array.isArray(fields) ? fields.map(String) : [];
}

/**
 * What the idempotent wiki.db initialisation before a write seeds (§5.4, contracts.md §7.3):
 * the stored display name, and the owner row for the OWNER's current handle, read from the
 * owner's `users` row (whoever is acting). A handle displaced to another DID is stored as the
 * owner's own DID (security.md #28); no `@did:…` row is seeded then.
 */
async function initOptions(platform: Platform, wiki: Pick<Wiki, "display_name" | "owner_did">): Promise<WikiDbInitOptions> {
  const owner = await platform.db.user.findUnique({ where: { did: wiki.owner_did }, select: { handle: true } });
  const handle = owner?.handle.trim();
  return {
    domain: platform.config.domain,
    siteName: wiki.display_name,
    ownerHandle: handle && !handle.startsWith("did:") ? handle : undefined,
  };
}

// ---------------------------------------------------------------------------
// Reading: ownership, the public object, settings, usage
// ---------------------------------------------------------------------------

/** The public wiki object of D10 (never `mcp_token_hash`, `repo_path` or `is_public`). */
export interface PublicWiki {
  slug: string;
  display_name: string;
  owner_did: string;
  created_at: string;
  last_accessed: string;
  page_count: number;
  disk_usage_bytes: number;
  git_access_enabled: boolean;
  url: string;
  mcp_endpoint: string;
}

export function mcpEndpoint(config: Config, slug: string): string {
  return `${wikiUrl(config, slug)}/mcp`;
}

export function publicWiki(platform: Platform, wiki: Wiki, prefs = readPreferences(wikiDbPathOf(platform.config, wiki.slug), platform.log)): PublicWiki {
  return {
    slug: wiki.slug,
    display_name: wiki.display_name,
    owner_did: wiki.owner_did,
    created_at: wiki.created_at,
    last_accessed: wiki.last_accessed,
    page_count: wiki.page_count ?? 0,
    disk_usage_bytes: wiki.disk_usage_bytes ?? 0,
    git_access_enabled: isGitEnabled(prefs),
    url: wikiUrl(platform.config, wiki.slug),
    mcp_endpoint: mcpEndpoint(platform.config, wiki.slug),
  };
}

/** The user's wikis, `created_at` ascending (dashboard, sidebar, `GET /api/wikis`). */
export async function listWikis(platform: Platform, ownerDid: string): Promise<Wiki[]> {
  return platform.reads.wikisOfOwner(ownerDid);
}

/**
 * The ownership rule (management.md §2, §4.2): the slug is looked up exactly as given, and
 * only its owner passes. Admins get no powers over other users' wikis.
 */
export async function getOwnedWiki(
  platform: Platform,
  actor: Actor,
  slug: string,
  op: Operation = "get",
): Promise<{ ok: true; wiki: Wiki } | Failure> {
  const wiki = platform.reads.wikiBySlug(slug);
  if (!wiki) return failure(platform, op, "not_found");
  if (wiki.owner_did !== actor.did) return failure(platform, op, "not_owner");
  return { ok: true, wiki };
}

/** The limit's UI message (§1.3, §3.2): the create page's notice and its 403 say the same. */
export function wikiLimitMessage(platform: Platform): string {
  return limitMessages(platform.config.maxWikisPerUser).ui;
}

/** May this user create another wiki? Admins always; others below MAX_WIKIS_PER_USER (§1.3). */
export async function canCreateWiki(platform: Platform, actor: Actor): Promise<boolean> {
  if (actor.is_admin) return true;
  return platform.reads.wikiCountOfOwner(actor.did) < platform.config.maxWikisPerUser;
}

export interface WikiSettings {
  wiki: PublicWiki;
  access: AccessLevels;
  usage: WikiUsage;
}

/** What the settings page shows: access levels and git state from wiki.db (seed defaults when missing). */
export function wikiSettings(platform: Platform, wiki: Wiki): WikiSettings {
  const prefs = readPreferences(wikiDbPathOf(platform.config, wiki.slug), platform.log); // one open of wiki.db
  return {
    wiki: publicWiki(platform, wiki, prefs),
    access: accessLevelsFrom(prefs),
    usage: wikiUsage(wiki),
  };
}

export type WikiUsage = FormattedUsage & { note: string | null };

/** Usage against quota (§1.4), from the figures the quota cron and the wiki server write. */
export function wikiUsage(wiki: Pick<Wiki, "page_count" | "disk_usage_bytes">): WikiUsage {
  const usage = formatUsage(wiki);
  return { ...usage, note: usage.overQuota ? OVER_QUOTA_NOTE : null };
}

// ---------------------------------------------------------------------------
// Create (§5.1, D8)
// ---------------------------------------------------------------------------

export interface CreateInput {
  slug: unknown;
  display_name: unknown;
  purpose?: unknown;
}

export type Created = { ok: true; wiki: PublicWiki; token: string };

/** Validation in the spec's order: display name → description → slug (§5.1 step 1). */
function validateCreate(
  platform: Platform,
  input: CreateInput,
): { ok: true; slug: string; displayName: string; description: string } | Failure {
  if (typeof input.display_name !== "string") return failure(platform, "create", "display_name_required");
  const name = cleanDisplayName(input.display_name);
  if (!name.ok) return failure(platform, "create", name.reason === "required" ? "display_name_required" : "display_name_too_long");
  if (input.purpose !== undefined && typeof input.purpose !== "string") return failure(platform, "create", "purpose_not_string");
  const description = cleanDescription(input.purpose as string | undefined);
  if (typeof input.slug !== "string") return failure(platform, "create", "invalid_slug", SLUG_ERRORS.required);
  const slug = normalizeSlug(input.slug);
  const slugError = validateSlug(slug);
  if (slugError) return failure(platform, "create", "invalid_slug", slugError);
  return { ok: true, slug, displayName: name.value, description };
}

class CreateAbort extends Error {
  constructor(public readonly code: "limit" | "exists" | "token_collision") {
    super(code);
  }
}

/**
 * Creates a wiki: everything or nothing. The directory is built in `.tmp`; one transaction
 * inserts the row (the per-user limit and the insert are ONE conditional statement, so two
 * simultaneous requests can never both pass), bumps `wiki_count` and journals the pending
 * rename; then the build is renamed into place and the journal entry cleared. Any failure
 * undoes all of it. The plaintext token is returned once and never logged (D9).
 */
export async function createWiki(platform: Platform, actor: Actor, input: CreateInput, ctx: OpContext = {}): Promise<Created | Failure> {
  const { config, db } = platform;
  const valid = validateCreate(platform, input);
  if (!valid.ok) return valid;
  const { slug, displayName, description } = valid;

  // Fast pre-checks for a quick answer; the transaction below is the authority.
  if (!(await canCreateWiki(platform, actor))) return failure(platform, "create", "limit");
  if (await db.wiki.findUnique({ where: { slug }, select: { slug: true } })) return failure(platform, "create", "exists");

  const log = diskLog(platform, ctx);
  let build: Awaited<ReturnType<typeof buildWikiDirectory>>;
  try {
    build = await buildWikiDirectory({
      wikiBase: config.wikiBase,
      slug,
      displayName,
      description,
      ownerHandle: actor.handle,
      domain: config.domain,
      origin: config.origin,
      gitBin: config.gitBin,
      templateDir: config.wikiTemplateDir,
      log,
    });
  } catch (err) {
    return serverError(platform, "create", ctx, err, "wiki build failed", { slug });
  }

  const wikiDir = wikiDirOf(config, slug);
  let token = "";
  let row: Wiki | undefined;
  for (let attempt = 0; attempt < 3 && !row; attempt++) {
    token = generateMcpToken();
    const now = isoNow();
    const candidate: Wiki = {
      slug,
      owner_did: actor.did,
      display_name: displayName,
      repo_path: path.join(wikiDir, "repo"),
      mcp_token_hash: hashMcpToken(token),
      is_public: 0,
      created_at: now,
      last_accessed: now,
      page_count: build.pageCount,
      disk_usage_bytes: build.diskUsageBytes,
    };
    try {
      await commitCreate(platform, actor, candidate, build.buildDir);
      row = candidate;
    } catch (err) {
      const code = err instanceof CreateAbort ? err.code : null;
      if (code === "token_collision") continue; // a fresh token, same build (contracts.md §8)
      await removeTree(build.buildDir, log);
      if (code === "limit" || code === "exists") return failure(platform, "create", code);
      return serverError(platform, "create", ctx, err, "wiki create transaction failed", { slug });
    }
  }
  if (!row) {
    await removeTree(build.buildDir, log);
    return serverError(platform, "create", ctx, new Error("three MCP token hash collisions"), "wiki create failed", { slug });
  }

  // The directory step: committed row → rename → clear the journal entry.
  try {
    moveIntoPlace(build.buildDir, config.wikiBase, slug, log);
    await writeTx(platform, (tx) => tx.wikiDiskJournal.delete({ where: { slug } }));
  } catch (err) {
    const reported = serverError(platform, "create", ctx, err, "wiki create: directory step failed; undoing", { slug });
    await undoCreate(platform, slug, build.buildDir, ctx).catch((undoErr: unknown) => {
      // The journal entry stays; start-up housekeeping undoes it.
      platform.log.error({ reqId: ctx.reqId, slug, err: errorDetails(undoErr) }, "wiki create: undo failed; left to housekeeping");
    });
    return reported;
  }
  platform.log.info({ reqId: ctx.reqId, slug, owner: actor.did }, "wiki created");
  return { ok: true, wiki: publicWiki(platform, row), token };
}

async function commitCreate(platform: Platform, actor: Actor, wiki: Wiki, buildDir: string): Promise<void> {
  const max = platform.config.maxWikisPerUser;
  const exempt = actor.is_admin ? 1 : 0;
  await writeTx(platform, async (tx) => {
    let inserted: number;
    try {
      // ONE statement: SQLite takes the write lock as it starts, so the count cannot go stale.
      inserted = await tx.$executeRaw`
        INSERT INTO wikis (slug, owner_did, display_name, repo_path, mcp_token_hash, is_public,
                           created_at, last_accessed, page_count, disk_usage_bytes)
        SELECT ${wiki.slug}, ${wiki.owner_did}, ${wiki.display_name}, ${wiki.repo_path}, ${wiki.mcp_token_hash}, 0,
               ${wiki.created_at}, ${wiki.last_accessed}, ${wiki.page_count}, ${wiki.disk_usage_bytes}
        WHERE ${exempt} = 1 OR (SELECT COUNT(*) FROM wikis WHERE owner_did = ${wiki.owner_did}) < ${max}`;
    } catch (err) {
      const fields = uniqueViolation(err);
      if (fields?.includes("slug")) throw new CreateAbort("exists");
      if (fields?.includes("mcp_token_hash")) throw new CreateAbort("token_collision");
      throw err;
    }
    if (inserted === 0) throw new CreateAbort("limit");
    await tx.$executeRaw`UPDATE users SET wiki_count = COALESCE(wiki_count, 0) + 1 WHERE did = ${wiki.owner_did}`;
    try {
      await tx.wikiDiskJournal.create({
        data: { slug: wiki.slug, operation: "create", path: buildDir, created_at: wiki.created_at },
      });
    } catch (err) {
      // An unfinished operation on this slug still holds its journal entry.
      if (uniqueViolation(err)) throw new CreateAbort("exists");
      throw err;
    }
  });
}

/**
 * Reverses a create whose directory step did not finish: directories first (so a crash in
 * between leaves the journal entry for the next run), then row, counter and journal entry
 * in one transaction. Idempotent; housekeeping uses it for leftover `create` entries.
 */
export async function undoCreate(platform: Platform, slug: string, buildDir: string, ctx: OpContext = {}): Promise<void> {
  const { config } = platform;
  const log = diskLog(platform, ctx);
  if (fs.existsSync(buildDir)) {
    // Never renamed, so a directory at {slug} is not ours: leave it alone.
    await removeTree(buildDir, log);
  } else {
    const trashed = tombstone(wikiDirOf(config, slug), config.wikiBase, slug, log);
    if (trashed) await removeTree(trashed, log);
  }
  await writeTx(platform, async (tx) => {
    const wiki = await tx.wiki.findUnique({ where: { slug }, select: { owner_did: true } });
    if (wiki) {
      await tx.reindexQueue.deleteMany({ where: { wiki_slug: slug } });
      await tx.wiki.delete({ where: { slug } });
      await decrementWikiCount(tx, wiki.owner_did, 1);
    }
    await tx.wikiDiskJournal.deleteMany({ where: { slug } });
  });
  log.warn({ slug }, "wiki create undone");
}

function decrementWikiCount(tx: Prisma.TransactionClient, did: string, by: number): Promise<number> {
  return tx.$executeRaw`UPDATE users SET wiki_count = MAX(0, COALESCE(wiki_count, 0) - ${by}) WHERE did = ${did}`;
}

// ---------------------------------------------------------------------------
// Settings (§3.3, §5.4, D12)
// ---------------------------------------------------------------------------

/** Rename: `SITE_NAME` in wiki.db first, then `wikis.display_name`; a failure leaves both unchanged. */
export async function renameWiki(
  platform: Platform,
  actor: Actor,
  slug: string,
  displayName: unknown,
  ctx: OpContext = {},
): Promise<{ ok: true; wiki: Wiki } | Failure> {
  const owned = await getOwnedWiki(platform, actor, slug, "rename");
  if (!owned.ok) return owned;
  const name = cleanDisplayName(typeof displayName === "string" ? displayName : "");
  if (!name.ok) return failure(platform, "rename", name.reason === "required" ? "display_name_required" : "display_name_too_long");
  const dbPath = wikiDbPathOf(platform.config, slug);
  const previous = readPreferences(dbPath).SITE_NAME ?? owned.wiki.display_name;
  let init: WikiDbInitOptions;
  try {
    init = await initOptions(platform, owned.wiki);
    setPreferences(dbPath, { SITE_NAME: name.value }, init);
  } catch (err) {
    return serverError(platform, "rename", ctx, err, "rename: writing SITE_NAME failed", { slug });
  }
  try {
    const wiki = await writeTx(platform, (tx) => tx.wiki.update({ where: { slug }, data: { display_name: name.value } }));
    return { ok: true, wiki };
  } catch (err) {
    try {
      setPreferences(dbPath, { SITE_NAME: previous }, init);
    } catch (restoreErr) {
      platform.log.error({ reqId: ctx.reqId, slug, err: errorDetails(restoreErr) }, "rename: restoring SITE_NAME failed");
    }
    return serverError(platform, "rename", ctx, err, "rename: updating wikis.display_name failed", { slug });
  }
}

export interface AccessInput {
  read_access: unknown;
  write_access: unknown;
  attachment_access: unknown;
}

/** The three `*_ACCESS` preferences, upserted together; each must be a known level (§1.5). */
export async function setAccessLevels(
  platform: Platform,
  actor: Actor,
  slug: string,
  input: AccessInput,
  ctx: OpContext = {},
): Promise<{ ok: true; access: AccessLevels } | Failure> {
  const owned = await getOwnedWiki(platform, actor, slug, "access");
  if (!owned.ok) return owned;
  const values = [input.read_access, input.write_access, input.attachment_access];
  if (!values.every(isValidAccessLevel)) return failure(platform, "access", "invalid_access_level");
  const [read, write, attachment] = values as AccessLevel[];
  try {
    setPreferences(
      wikiDbPathOf(platform.config, slug),
      { READ_ACCESS: read, WRITE_ACCESS: write, ATTACHMENT_ACCESS: attachment },
      await initOptions(platform, owned.wiki),
    );
  } catch (err) {
    return serverError(platform, "access", ctx, err, "access levels: writing wiki.db failed", { slug });
  }
  return { ok: true, access: { READ_ACCESS: read, WRITE_ACCESS: write, ATTACHMENT_ACCESS: attachment } };
}

/** Git access (`GIT_WEB_SERVER`): a strict boolean, else 400 (D10; the predecessor used truthiness). */
export async function setGitAccess(
  platform: Platform,
  actor: Actor,
  slug: string,
  enabled: unknown,
  ctx: OpContext = {},
): Promise<{ ok: true; enabled: boolean } | Failure> {
  const owned = await getOwnedWiki(platform, actor, slug, "git");
  if (!owned.ok) return owned;
  if (typeof enabled !== "boolean") return failure(platform, "git", "invalid_git_value");
  try {
    setPreferences(wikiDbPathOf(platform.config, slug), { GIT_WEB_SERVER: enabled ? "True" : "False" }, await initOptions(platform, owned.wiki));
  } catch (err) {
    return serverError(platform, "git", ctx, err, "git access: writing wiki.db failed", { slug });
  }
  return { ok: true, enabled };
}

/** A new MCP token; the old one dies at once (contracts.md §8). The plaintext is returned once. */
export async function regenerateToken(
  platform: Platform,
  actor: Actor,
  slug: string,
  ctx: OpContext = {},
): Promise<{ ok: true; token: string } | Failure> {
  const owned = await getOwnedWiki(platform, actor, slug, "regenerate");
  if (!owned.ok) return owned;
  for (let attempt = 0; attempt < 3; attempt++) {
    const token = generateMcpToken();
    try {
      const changed = await writeTx(platform, (tx) =>
        tx.wiki.updateMany({ where: { slug, owner_did: actor.did }, data: { mcp_token_hash: hashMcpToken(token) } }),
      );
      if (changed.count === 0) return failure(platform, "regenerate", "not_found"); // deleted meanwhile
      platform.log.info({ reqId: ctx.reqId, slug }, "MCP token regenerated");
      return { ok: true, token };
    } catch (err) {
      if (uniqueViolation(err)?.includes("mcp_token_hash")) continue;
      return serverError(platform, "regenerate", ctx, err, "token regeneration failed", { slug });
    }
  }
  return serverError(platform, "regenerate", ctx, new Error("three MCP token hash collisions"), "token regeneration failed", { slug });
}

// ---------------------------------------------------------------------------
// Delete (§5.3, D8)
// ---------------------------------------------------------------------------

/**
 * Deletes a wiki. `confirmation` (the UI's typed slug) must equal the slug after trimming
 * when given; the API passes none.
 */
export async function deleteWiki(
  platform: Platform,
  actor: Actor,
  slug: string,
  opts: { confirmation?: string } & OpContext = {},
): Promise<{ ok: true } | Failure> {
  const owned = await getOwnedWiki(platform, actor, slug, "delete");
  if (!owned.ok) return owned;
  if (opts.confirmation !== undefined && opts.confirmation.trim() !== slug) {
    return failure(platform, "delete", "confirmation_mismatch");
  }
  try {
    await deleteWikis(platform, [owned.wiki], { ownerDid: actor.did, reqId: opts.reqId });
  } catch (err) {
    return serverError(platform, "delete", opts, err, "wiki delete failed", { slug });
  }
  platform.log.info({ reqId: opts.reqId, slug }, "wiki deleted");
  return { ok: true };
}

export interface DeleteWikisOptions extends OpContext {
  ownerDid: string;
  /** Extra statements of the same transaction (account deletion removes the user there). */
  alsoInTransaction?: (tx: Prisma.TransactionClient) => Promise<void>;
}

/**
 * The delete procedure for one wiki or all of an account's: ONE transaction deletes the
 * rows (and their `reindex_queue` rows), keeps `wiki_count`, and journals each directory's
 * tombstone path; then each directory is renamed to its tombstone, its journal entry
 * cleared and the tombstone removed. A crash after the commit leaves journal entries that
 * start-up housekeeping finishes. Throws when the transaction fails (nothing changed).
 */
export async function deleteWikis(platform: Platform, wikis: Wiki[], opts: DeleteWikisOptions): Promise<void> {
  const { config } = platform;
  const targets = wikis.map((wiki) => ({ slug: wiki.slug, tombstone: tombstonePath(config.wikiBase, wiki.slug) }));
  const slugs = targets.map((t) => t.slug);
  const now = isoNow();
  await writeTx(platform, async (tx) => {
    for (const t of targets) {
      await tx.wikiDiskJournal.create({ data: { slug: t.slug, operation: "delete", path: t.tombstone, created_at: now } });
    }
    await tx.reindexQueue.deleteMany({ where: { wiki_slug: { in: slugs } } });
    const deleted = await tx.wiki.deleteMany({ where: { slug: { in: slugs }, owner_did: opts.ownerDid } });
    if (deleted.count !== slugs.length) throw new Error(`expected to delete ${slugs.length} wikis, deleted ${deleted.count}`);
    if (deleted.count > 0) await decrementWikiCount(tx, opts.ownerDid, deleted.count);
    await opts.alsoInTransaction?.(tx);
  });
  for (const t of targets) await finishDelete(platform, t.slug, t.tombstone, opts);
}

/**
 * The directory step of a committed delete: rename to the journaled tombstone, clear the
 * entry, remove the tombstone. A failed rename keeps the entry for housekeeping; a failed
 * removal is left to the `.trash` sweep.
 */
export async function finishDelete(platform: Platform, slug: string, target: string, ctx: OpContext = {}): Promise<boolean> {
  const { config } = platform;
  const log = diskLog(platform, ctx);
  try {
    tombstone(wikiDirOf(config, slug), config.wikiBase, slug, log, target);
  } catch (err) {
    log.error({ slug, err: errorDetails(err) }, "wiki delete: renaming the directory failed; housekeeping retries");
    return false;
  }
  try {
    await writeTx(platform, (tx) => tx.wikiDiskJournal.deleteMany({ where: { slug, operation: "delete" } }));
  } catch (err) {
    // The directory is already a tombstone; the next start-up clears the entry.
    log.error({ slug, err: errorDetails(err) }, "wiki delete: clearing the journal entry failed");
  }
  await removeTree(target, log);
  return true;
}
