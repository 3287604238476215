// Helpers for consent tests: wikis made the way acceptance.md §0 allows (a `wikis` row plus a
// wiki directory with wiki.db), collaborators written into wiki.db, and consent requests.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { initWikiDb } from "~/server/wiki-disk.server";
import { cookieHeader, type TestPlatform } from "./platform";

export interface TestWiki {
  slug: string;
  displayName: string;
  wikiDir: string;
  dbPath: string;
}

/** A `wikis` row and `{WIKI_BASE}/{slug}/{repo/, wiki.db}` (no git: the consent flow never reads the repo). */
export async function createTestWiki(
  tp: TestPlatform,
  owner: { did: string; handle: string },
  slug: string,
  displayName = `The ${slug} wiki`,
): Promise<TestWiki> {
  const { config, db } = tp.platform;
  const wikiDir = path.join(config.wikiBase, slug);
  fs.mkdirSync(path.join(wikiDir, "repo"), { recursive: true });
  const dbPath = path.join(wikiDir, "wiki.db");
  initWikiDb(dbPath, { siteName: displayName, ownerHandle: owner.handle, domain: config.domain });
  const now = new Date().toISOString().replace("Z", "000+00:00");
  await db.wiki.create({
    data: {
      slug,
      owner_did: owner.did,
      display_name: displayName,
      repo_path: path.join(wikiDir, "repo"),
      mcp_token_hash: crypto.randomBytes(32).toString("hex"),
      created_at: now,
      last_accessed: now,
    },
  });
  return { slug, displayName, wikiDir, dbPath };
}

/** Upserts a wiki.db `"user"` row for `@handle` with these flags (the owner's approval UI does the same). */
export function setWikiUser(dbPath: string, handle: string, flags: { is_approved?: 0 | 1; is_admin?: 0 | 1 }): void {
  const db = new Database(dbPath);
  try {
    db.prepare(
      `INSERT INTO "user" (name, email, is_approved, is_admin, allow_read, allow_write, allow_upload)
       VALUES (?, ?, ?, ?, 1, 1, 0)
       ON CONFLICT(email) DO UPDATE SET is_approved = excluded.is_approved, is_admin = excluded.is_admin`,
    ).run(handle.split(".")[0], `@${handle}`, flags.is_approved ?? 0, flags.is_admin ?? 0);
  } finally {
    db.close();
  }
}

export const BASE_PARAMS = {
  client_id: "mcp-client-123",
  redirect_uri: "https://claude.ai/api/mcp/auth_callback",
  code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  code_challenge_method: "S256",
  state: "st a|te/1",
  scope: "wiki:read wiki:write",
  response_type: "code",
} as const;

/** The consent query: the base parameters, `wiki_slug`, and overrides (undefined removes one). */
export function consentQuery(slug: string, overrides: Record<string, string | undefined> = {}): string {
  const all: Record<string, string | undefined> = { ...BASE_PARAMS, wiki_slug: slug, ...overrides };
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(all)) if (v !== undefined) q.append(k, v);
  return q.toString();
}

/** The hidden consent_token of a rendered consent page. */
export function consentTokenOf(html: string): string {
  const m = /<input type="hidden" name="consent_token" value="([^"]*)"\/?>/.exec(html);
  if (!m) throw new Error("no consent_token on the page");
  return m[1].replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
}

/** The visible text of a page, tags removed and entities decoded, whitespace collapsed. */
export function textOf(html: string): string {
  return html
    .replace(/<script[\s\S]*?<\/script>/g, " ")
    .replace(/<[^>]+>/g, "")
    .replace(/&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ");
}

export async function getConsent(tp: TestPlatform, jwt: string | undefined, query: string, headers: Record<string, string> = {}) {
  const res = await tp.request(`/auth/oauth/consent?${query}`, { headers: { ...(jwt ? cookieHeader(jwt) : {}), ...headers } });
  return { res, html: await res.text() };
}

/** A consent page as this user, and its consent_token. */
export async function openConsent(tp: TestPlatform, jwt: string, query: string): Promise<string> {
  const { res, html } = await getConsent(tp, jwt, query);
  if (res.status !== 200) throw new Error(`consent page: ${res.status} ${textOf(html).slice(0, 300)}`);
  return consentTokenOf(html);
}

/** The form POST a browser sends from the consent page (same-origin Origin unless overridden). */
export function postConsent(
  tp: TestPlatform,
  jwt: string | undefined,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return tp.request("/auth/oauth/consent", {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Origin: tp.origin,
      ...(jwt ? cookieHeader(jwt) : {}),
      ...headers,
    },
    body: new URLSearchParams(fields).toString(),
  });
}
