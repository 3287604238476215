// The Origin check (D7, security.md §2): every unsafe, cookie-authenticated request must come
// from the platform origin. Wiki subdomains are same-site but not same-origin, so they fail.
import { PLATFORM_COOKIE, readCookie } from "./cookies.server";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Does the Origin check apply to this request? */
export function originCheckApplies(request: Request, path: string): boolean {
  if (SAFE_METHODS.has(request.method)) return false;
  if (path === "/app" || path.startsWith("/app/")) return true;
  if (path === "/auth/oauth/consent" || path === "/auth/logout") return true;
  if ((path === "/api" || path.startsWith("/api/")) && !path.startsWith("/api/internal/")) {
    // Cookie-authenticated only: Bearer requests are exempt, and so are requests with neither.
    return request.headers.get("authorization") === null && readCookie(request, PLATFORM_COOKIE) !== undefined;
  }
  return false;
}

/**
 * Passes when Origin equals the platform origin, or, without Origin, Sec-Fetch-Site is
 * same-origin. `Origin: null` passes only together with `Sec-Fetch-Site: same-origin`: browsers
 * send a null Origin for forms on pages with `Referrer-Policy: no-referrer` (every /auth page,
 * the consent form included), and both headers are set by the browser, never by page script
 * (docs/decisions/004-origin-null-from-no-referrer-pages.md).
 */
export function originAllowed(request: Request, platformOrigin: string): boolean {
  const origin = request.headers.get("origin");
  const sameOriginFetch = request.headers.get("sec-fetch-site") === "same-origin";
  if (origin === "null") return sameOriginFetch;
  if (origin !== null) return origin === platformOrigin;
  return sameOriginFetch;
}
