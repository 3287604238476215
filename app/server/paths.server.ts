// The request paths the pipeline decides on, in one place.

/** The path React Router routes: `.data` suffixes of client navigations stripped. */
export function routePath(pathname: string): string {
  if (pathname === "/_root.data") return "/";
  return pathname.endsWith(".data") ? pathname.slice(0, -".data".length) : pathname;
}

/**
 * The path the Origin check, rate limits and headers are decided on. React Router decodes
 * each segment, matches case-insensitively and ignores trailing slashes, so the rules must
 * do the same: otherwise `/APP/create`, `/%61pp/create` or `/auth/oauth/consent/` would
 * reach the route without them.
 */
export function rulePath(pathname: string): string {
  const p = decodedPath(routePath(pathname)).toLowerCase();
  return p.length > 1 ? p.replace(/\/+$/, "") || "/" : p;
}

/** Each segment percent-decoded (an encoded `/` stays `%2F`), as React Router matches paths. */
export function decodedPath(pathname: string): string {
  if (!pathname.includes("%")) return pathname;
  try {
    return pathname.split("/").map((seg) => decodeURIComponent(seg).replace(/\//g, "%2F")).join("/");
  } catch {
    return pathname; // a malformed escape: React Router then matches the raw path too
  }
}

export const isApiPath = (p: string) => p === "/api" || p.startsWith("/api/");

/** False when a segment has a malformed percent-escape (React Router cannot decode it either). */
export function isDecodablePath(pathname: string): boolean {
  try {
    pathname.split("/").forEach((seg) => decodeURIComponent(seg));
    return true;
  } catch {
    return false;
  }
}
