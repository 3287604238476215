// Cookies (contracts.md §1, security.md §3). `platform_token` is the only cookie with a Domain;
// every other platform cookie is host-only, `__Host-` prefixed on https, and HMAC-signed.
import crypto from "node:crypto";
import type { Config } from "./config.server";
import { isIpOrLocalhost } from "./config.server";
import { JWT_LIFETIME_SECONDS } from "./jwt.server";

export const PLATFORM_COOKIE = "platform_token";
const EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT";

export interface CookieScope {
  secure: boolean;
  /** Domain attribute of platform_token, or undefined for a host-only cookie. */
  platformDomain: string | undefined;
}

/** The Domain rule of contracts.md §1. */
export function platformCookieDomain(domainHost: string, cookieDomain: string | undefined): string | undefined {
  if (isIpOrLocalhost(domainHost)) return undefined;
  return cookieDomain ?? "." + domainHost;
}

export function cookieScope(config: Config): CookieScope {
  return { secure: config.scheme === "https", platformDomain: platformCookieDomain(config.domainHost, config.cookieDomain) };
}

interface CookieAttrs {
  maxAge: number;
  domain?: string;
  secure: boolean;
}

function serialize(name: string, value: string, a: CookieAttrs): string {
  const expires = a.maxAge > 0 ? new Date(Date.now() + a.maxAge * 1000).toUTCString() : EPOCH;
  const parts = [`${name}=${value}`];
  if (a.domain) parts.push(`Domain=${a.domain}`);
  parts.push("Path=/", `Max-Age=${a.maxAge}`, `Expires=${expires}`, "HttpOnly");
  if (a.secure) parts.push("Secure");
  parts.push("SameSite=Lax");
  return parts.join("; ");
}

export function setPlatformCookie(scope: CookieScope, jwt: string): string {
  return serialize(PLATFORM_COOKIE, jwt, { maxAge: JWT_LIFETIME_SECONDS, domain: scope.platformDomain, secure: scope.secure });
}

/** Clears platform_token with the same Domain and Path it was set with (D14). */
export function clearPlatformCookie(scope: CookieScope): string {
  return serialize(PLATFORM_COOKIE, "", { maxAge: 0, domain: scope.platformDomain, secure: scope.secure });
}

/** Host-only platform cookie name: `__Host-` on https, bare on http (browsers refuse the prefix there). */
export const hostCookieName = (scope: CookieScope, base: string) => (scope.secure ? `__Host-${base}` : base);

export function setHostCookie(scope: CookieScope, base: string, value: string, maxAge: number): string {
  return serialize(hostCookieName(scope, base), value, { maxAge, secure: scope.secure });
}

export function clearHostCookie(scope: CookieScope, base: string): string {
  return serialize(hostCookieName(scope, base), "", { maxAge: 0, secure: scope.secure });
}

/**
 * Every `name=value` pair of a Cookie header, in order. Tolerant: a malformed neighbour never
 * hides the cookies after it (security.md #29), and a bad escape keeps the raw value.
 */
function cookiePairs(header: string | null | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!header) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!name) continue;
    try {
      value = decodeURIComponent(value);
    } catch {
      // keep the raw value: a bad escape in one cookie must not break parsing
    }
    out.push([name, value]);
  }
  return out;
}

/** The cookies by name; the first occurrence of a name wins, as in browsers' ordering by path. */
export function parseCookies(header: string | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of cookiePairs(header)) if (!out.has(name)) out.set(name, value);
  return out;
}

export function readCookie(request: Request, name: string): string | undefined {
  return parseCookies(request.headers.get("cookie")).get(name);
}

/**
 * Every value sent under `name`, in order. A wiki subdomain can plant a second `platform_token`
 * for `.{D}` (security.md #42), so the identity helper looks at all of them, not the first.
 */
export function readCookieValues(request: Request, name: string): string[] {
  return cookiePairs(request.headers.get("cookie"))
    .filter(([n]) => n === name)
    .map(([, value]) => value);
}

/** More distinct platform_token values than this in one Cookie header are not read. */
export const MAX_PLATFORM_TOKENS = 4;

/** The distinct, non-empty platform_token values of a request (identity and logout read the same). */
export function readPlatformTokens(request: Request): string[] {
  return [...new Set(readCookieValues(request, PLATFORM_COOKIE).filter(Boolean))];
}

/** `<base64url(value)>.<base64url(hmac)>`; anything that does not verify reads as absent. */
export function signValue(key: Buffer, value: string): string {
  const body = Buffer.from(value, "utf8").toString("base64url");
  const mac = crypto.createHmac("sha256", key).update(body).digest("base64url");
  return `${body}.${mac}`;
}

export function unsignValue(key: Buffer, signed: string | undefined): string | undefined {
  if (!signed) return undefined;
  const dot = signed.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const body = signed.slice(0, dot);
  const mac = Buffer.from(signed.slice(dot + 1), "base64url");
  const expected = crypto.createHmac("sha256", key).update(body).digest();
  if (mac.length !== expected.length || !crypto.timingSafeEqual(mac, expected)) return undefined;
  return Buffer.from(body, "base64url").toString("utf8");
}
