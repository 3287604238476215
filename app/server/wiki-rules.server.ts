/**
 * Domain rules for wikis (spec/management.md §1, contracts.md §8).
 *
 * Pure functions only: the management UI and the JSON API both validate through this
 * module so that they can never disagree.
 */
import { createHash, randomBytes } from "node:crypto";

// ---------------------------------------------------------------------------
// Slugs (§1.1)
// ---------------------------------------------------------------------------

/** The 30 names nobody may register. Existing wikis with these slugs are unaffected. */
// prettier-ignore
export const RESERVED_SLUGS: ReadonlySet<string> = new Set([
  "admin", "api", "app", "assets", "auth", "billing", "blog", "dev", "docs", "ftp",
  "git", "help", "imap", "mail", "mcp", "ns", "ns1", "ns2", "null", "pop",
  "smtp", "ssh", "static", "status", "support", "undefined", "user", "vpn", "wiki", "www",
]);

export const SLUG_MIN_LENGTH = 3;
export const SLUG_MAX_LENGTH = 30;
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{1,28}[a-z0-9]$/;

/** Exact messages of §1.1; the API returns them as is, the UI prefixes `Invalid slug: `. */
export const SLUG_ERRORS = {
  required: "slug is required",
  lowercase: "slug must be lowercase",
  tooShort: "slug must be at least 3 characters",
  tooLong: "slug must be at most 30 characters",
  hyphenEdge: "slug must not start or end with a hyphen",
  charset: "slug must contain only lowercase letters, digits, and hyphens",
  reserved: "slug is reserved",
} as const;

/** What a user typed → the slug we validate and store. */
export function normalizeSlug(input: string): string {
  return input.trim().toLowerCase();
}

/**
 * Returns the first failing rule's message (in the order of §1.1), or null when valid.
 * Lengths count code points, as the predecessor (Python) did.
 */
export function validateSlug(slug: string): string | null {
  if (slug === "") return SLUG_ERRORS.required;
  if (slug !== slug.toLowerCase()) return SLUG_ERRORS.lowercase;
  if (!SLUG_PATTERN.test(slug)) {
    const length = codePointLength(slug);
    if (length < SLUG_MIN_LENGTH) return SLUG_ERRORS.tooShort;
    if (length > SLUG_MAX_LENGTH) return SLUG_ERRORS.tooLong;
    if (slug.startsWith("-") || slug.endsWith("-")) return SLUG_ERRORS.hyphenEdge;
    return SLUG_ERRORS.charset;
  }
  if (RESERVED_SLUGS.has(slug)) return SLUG_ERRORS.reserved;
  return null;
}

/** The create form's suggestion for a handle (§1.1 table); `""` when nothing valid fits. */
export function defaultSlugFromHandle(handle: string): string {
  const firstLabel = (handle.split(".")[0] ?? "").toLowerCase();
  let slug = trimHyphens(firstLabel.replace(/[^a-z0-9-]/g, ""));
  if (slug.length < SLUG_MIN_LENGTH) slug += "wiki";
  // Cutting can expose a hyphen at the end; the predecessor suggested such invalid slugs.
  slug = slug.slice(0, SLUG_MAX_LENGTH).replace(/-+$/, "");
  return validateSlug(slug) === null ? slug : "";
}

function trimHyphens(value: string): string {
  return value.replace(/^-+/, "").replace(/-+$/, "");
}

// ---------------------------------------------------------------------------
// Display name and description (§1.2)
// ---------------------------------------------------------------------------

export const DISPLAY_NAME_MAX_LENGTH = 100;
export const DESCRIPTION_MAX_LENGTH = 200;

/** Messages per surface: the UI uses sentences, the API the field name. */
export const DISPLAY_NAME_ERRORS = {
  ui: {
    required: "Display name is required.",
    too_long: "Display name must be at most 100 characters.",
  },
  api: {
    required: "display_name is required",
    too_long: "display_name must be at most 100 characters",
  },
} as const;

export type DisplayNameResult = { ok: true; value: string } | { ok: false; reason: "required" | "too_long" };

// C0 controls, DEL and C1 controls.
const CONTROL_CHARS = /[\u0000-\u001F\u007F-\u009F]/g;

export function stripControlChars(input: string): string {
  return input.replace(CONTROL_CHARS, "");
}

export function cleanDisplayName(input: string): DisplayNameResult {
  const value = stripControlChars(input).trim();
  if (value === "") return { ok: false, reason: "required" };
  if (codePointLength(value) > DISPLAY_NAME_MAX_LENGTH) return { ok: false, reason: "too_long" };
  return { ok: true, value };
}

/** Optional "purpose" text: never an error, just cleaned and cut to 200 characters. */
export function cleanDescription(input: string | null | undefined): string {
  if (input == null) return "";
  const cleaned = stripControlChars(input).trim();
  // Cut by code points so an emoji at the boundary is never split into a lone surrogate.
  return Array.from(cleaned).slice(0, DESCRIPTION_MAX_LENGTH).join("");
}

function codePointLength(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}

// ---------------------------------------------------------------------------
// Access levels (§1.5)
// ---------------------------------------------------------------------------

export type AccessLevel = "ANONYMOUS" | "REGISTERED" | "APPROVED";
export type AccessPreference = "READ_ACCESS" | "WRITE_ACCESS" | "ATTACHMENT_ACCESS";

/** In display order, with the UI labels. */
export const ACCESS_LEVELS: ReadonlyArray<{ readonly value: AccessLevel; readonly label: string }> = [
  { value: "ANONYMOUS", label: "Anyone" },
  { value: "REGISTERED", label: "Any signed-in robot.wtf user" },
  { value: "APPROVED", label: "Only users approved on this wiki" },
];

export const DEFAULT_ACCESS_LEVEL: AccessLevel = "APPROVED";

export const ACCESS_PREFERENCES: readonly AccessPreference[] = [
  "READ_ACCESS",
  "WRITE_ACCESS",
  "ATTACHMENT_ACCESS",
];

export function isValidAccessLevel(value: unknown): value is AccessLevel {
  return typeof value === "string" && ACCESS_LEVELS.some((level) => level.value === value);
}

export function isAccessPreference(value: unknown): value is AccessPreference {
  return typeof value === "string" && (ACCESS_PREFERENCES as readonly string[]).includes(value);
}

export function accessLevelLabel(level: AccessLevel): string {
  return ACCESS_LEVELS.find((entry) => entry.value === level)?.label ?? level;
}

// ---------------------------------------------------------------------------
// Quotas (§1.4) — display only; the wiki server enforces them
// ---------------------------------------------------------------------------

export const PAGE_QUOTA = 500;
export const DISK_QUOTA_BYTES = 52_428_800; // 50 MiB
const BYTES_PER_MIB = 1_048_576;

export const OVER_QUOTA_NOTE = "Over quota: edits are blocked until usage drops.";

export interface UsageFigures {
  page_count: number | null | undefined;
  disk_usage_bytes: number | null | undefined;
}

export interface FormattedUsage {
  /** "N of 500 pages" */
  pages: string;
  /** "X.X MiB of 50 MiB" */
  disk: string;
  pagesOver: boolean;
  diskOver: boolean;
  overQuota: boolean;
}

export function formatUsage(usage: UsageFigures): FormattedUsage {
  // The columns default to 0 and the cron may not have run yet: treat junk as 0.
  const pages = nonNegativeInteger(usage.page_count);
  const bytes = nonNegativeInteger(usage.disk_usage_bytes);
  const pagesOver = pages >= PAGE_QUOTA;
  const diskOver = bytes > DISK_QUOTA_BYTES;
  return {
    pages: `${pages} of ${PAGE_QUOTA} pages`,
    disk: `${(bytes / BYTES_PER_MIB).toFixed(1)} MiB of ${DISK_QUOTA_BYTES / BYTES_PER_MIB} MiB`,
    pagesOver,
    diskOver,
    overQuota: pagesOver || diskOver,
  };
}

function nonNegativeInteger(value: number | null | undefined): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return 0;
  return Math.floor(value);
}

// ---------------------------------------------------------------------------
// MCP bearer token (contracts.md §8)
// ---------------------------------------------------------------------------

export const MCP_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** 32 CSPRNG bytes as unpadded base64url: 43 characters, never mistaken for a JWT. */
export function generateMcpToken(): string {
  return randomBytes(32).toString("base64url");
}

/** What `wikis.mcp_token_hash` stores: lowercase hex SHA-256 of the token's UTF-8 bytes. */
export function hashMcpToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}
