// Helpers for the management UI and API tests: form posts with the platform Origin, JSON API
// calls with a Bearer token, following a flash redirect, and reading pages as text.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { MockNetwork } from "./mock-atproto";
import { cookieHeader, type TestPlatform } from "./platform";

export type TestUser = { did: string; handle: string; jwt: string };

/** Decodes the entities React writes, so assertions can use the spec's plain text. */
export function decode(html: string): string {
  return html
    .replace(/&#x27;/g, "'")
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** The page's visible text, roughly: tags removed (inline ones without a gap), entities decoded. */
export function pageText(html: string): string {
  const body = html
    .replace(/<script[\s\S]*?<\/script>/g, " ")
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/<\/?(a|code|strong|span|em|b|i)\b[^>]*>/g, "")
    .replace(/<[^>]+>/g, " ");
  return decode(body).replace(/\s+/g, " ");
}

export interface Element {
  attrs: Record<string, string>;
  /** Inner HTML (empty for void elements). */
  inner: string;
  /** Inner text. */
  text: string;
}

const VOID = new Set(["input", "img", "meta", "link", "br"]);

/** Every `<tag …>` of the page with its attributes, so tests do not depend on attribute order. */
export function elements(html: string, tag: string): Element[] {
  const re = VOID.has(tag)
    ? new RegExp(`<${tag}\\b([^>]*?)/?>`, "g")
    : new RegExp(`<${tag}\\b([^>]*)>([\\s\\S]*?)</${tag}>`, "g");
  const out: Element[] = [];
  for (const m of html.matchAll(re)) {
    const attrs: Record<string, string> = {};
    for (const a of m[1].matchAll(/([\w:-]+)(?:="([^"]*)")?/g)) attrs[a[1]] = decode(a[2] ?? "");
    const inner = m[2] ?? "";
    out.push({ attrs, inner, text: pageText(inner).trim() });
  }
  return out;
}

/** The one element matching the attributes (and text, when given); throws when absent. */
export function findElement(html: string, tag: string, attrs: Record<string, string>, text?: string): Element {
  const found = elements(html, tag).filter(
    (e) => Object.entries(attrs).every(([k, v]) => e.attrs[k] === v) && (text === undefined || e.text === text),
  );
  if (found.length === 0) throw new Error(`no <${tag}> with ${JSON.stringify(attrs)}${text ? ` and text ${JSON.stringify(text)}` : ""}`);
  return found[0];
}

export const hasElement = (html: string, tag: string, attrs: Record<string, string>, text?: string) => {
  try {
    findElement(html, tag, attrs, text);
    return true;
  } catch {
    return false;
  }
};

export async function getPage(tp: TestPlatform, p: string, user?: TestUser, extraCookie?: string) {
  const cookies = [user ? cookieHeader(user.jwt).Cookie : "", extraCookie ?? ""].filter(Boolean).join("; ");
  const res = await tp.request(p, { headers: cookies ? { Cookie: cookies } : {} });
  return { res, html: await res.text() };
}

export function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** A same-origin form POST (the Origin check passes), cookie-authenticated. */
export function postForm(
  tp: TestPlatform,
  p: string,
  user: TestUser | undefined,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return tp.request(p, {
    method: "POST",
    headers: {
      Origin: tp.origin,
      "Content-Type": "application/x-www-form-urlencoded",
      ...(user ? cookieHeader(user.jwt) : {}),
      ...headers,
    },
    body: formBody(fields),
  });
}

/** The `name=value` of a Set-Cookie for `name`, or undefined. */
export function setCookieValue(res: Response, name: string): string | undefined {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(";");
    const eq = pair.indexOf("=");
    if (pair.slice(0, eq) === name) return pair.slice(eq + 1);
  }
  return undefined;
}

/** Follows a 302 that set a flash cookie, as a browser would, and returns the next page's text. */
export async function followFlash(tp: TestPlatform, res: Response, user?: TestUser): Promise<{ status: number; text: string; res: Response }> {
  const location = res.headers.get("location");
  if (!location) throw new Error(`expected a redirect, got ${res.status}`);
  const flash = setCookieValue(res, "flash");
  const next = await getPage(tp, location, user, flash ? `flash=${flash}` : undefined);
  return { status: next.res.status, text: pageText(next.html), res: next.res };
}

export function api(tp: TestPlatform, method: string, p: string, user?: TestUser, body?: unknown, headers: Record<string, string> = {}) {
  return tp.request(p, {
    method,
    headers: {
      ...(user ? { Authorization: `Bearer ${user.jwt}` } : {}),
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Creates a wiki through POST /api/wikis and returns the token. */
export async function createWikiApi(tp: TestPlatform, user: TestUser, slug: string, displayName = `Wiki ${slug}`, purpose?: string) {
  const res = await api(tp, "POST", "/api/wikis", user, { slug, display_name: displayName, ...(purpose !== undefined ? { purpose } : {}) });
  if (res.status !== 201) throw new Error(`create ${slug}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { wiki: Record<string, unknown>; mcp_token: string; mcp_endpoint: string };
}

/** The token inside `.token-display` of a page, if any. */
export function tokenOnPage(html: string): string | undefined {
  return /class="token-display"[^>]*>([^<]*)</.exec(html)?.[1];
}

export const wikiBase = (tp: TestPlatform) => tp.platform.config.wikiBase;
export const wikiDir = (tp: TestPlatform, slug: string) => path.join(wikiBase(tp), slug);
export const exists = (p: string) => fs.existsSync(p);
export const entries = (tp: TestPlatform, dir: string) => {
  const p = path.join(wikiBase(tp), dir);
  return fs.existsSync(p) ? fs.readdirSync(p) : [];
};

/** Reads a wiki's preferences straight from its wiki.db. */
export function wikiPrefs(tp: TestPlatform, slug: string): Record<string, string | null> {
  const db = new Database(path.join(wikiDir(tp, slug), "wiki.db"), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT name, value FROM preferences").all() as Array<{ name: string; value: string | null }>;
    return Object.fromEntries(rows.map((r) => [r.name, r.value]));
  } finally {
    db.close();
  }
}

export async function wikiCount(tp: TestPlatform, did: string): Promise<number | null | undefined> {
  return (await tp.platform.db.user.findUnique({ where: { did } }))?.wiki_count;
}


/**
 * A real login through the fault mock (POST /auth/login → approve → callback), so the
 * platform holds a genuine ATProto session; returns the user with the issued JWT.
 */
export async function loginThroughMock(t: TestPlatform, mock: MockNetwork, handle: string): Promise<TestUser> {
  const start = await t.request("/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: formBody({ username: handle }),
  });
  const bindingName = t.platform.config.scheme === "https" ? "__Host-login_state" : "login_state";
  const binding = setCookieValue(start, bindingName);
  const callback = await mock.approve(start.headers.get("location")!);
  const done = await t.request(callback, { headers: { Cookie: `${bindingName}=${binding}` } });
  const jwt = setCookieValue(done, "platform_token");
  if (!jwt) throw new Error(`login of ${handle} failed: ${done.status}`);
  const did = [...mock.accounts.values()].find((a) => a.handle === handle)!.did;
  return { did, handle, jwt };
}
