// Static files (management.md §8): the build's client files (hashed /assets/*, public/), then
// ROBOT_STATIC_DIR for /static/* files the build lacks. Paths are joined safely.
import fs from "node:fs";
import path from "node:path";

const TYPES: Record<string, string> = {
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
  ".map": "application/json; charset=utf-8",
};

export function isStaticPath(p: string): boolean {
  return p.startsWith("/assets/") || p.startsWith("/static/") || /^\/favicon\.(ico|svg)$/.test(p) || p === "/robots.txt";
}

/** Resolve `urlPath` under `root`, or undefined when it escapes root or is not a regular file. */
export function safeResolve(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0")) return undefined;
  const full = path.resolve(root, "." + path.posix.normalize("/" + decoded));
  if (full !== root && !full.startsWith(root + path.sep)) return undefined;
  try {
    return fs.statSync(full).isFile() ? full : undefined;
  } catch {
    return undefined;
  }
}

export function serveStatic(clientDir: string, fallbackStaticDir: string | undefined, urlPath: string, method: string): Response | undefined {
  let file = safeResolve(clientDir, urlPath);
  if (!file && fallbackStaticDir && urlPath.startsWith("/static/")) {
    file = safeResolve(path.resolve(fallbackStaticDir), urlPath.slice("/static".length));
  }
  if (!file) return undefined;
  const stat = fs.statSync(file);
  const headers: Record<string, string> = {
    "Content-Type": TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream",
    "Content-Length": String(stat.size),
    "Cache-Control": urlPath.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "public, max-age=3600",
  };
  const body = method === "HEAD" ? null : (fs.readFileSync(file) as unknown as BodyInit);
  return new Response(body, { status: 200, headers });
}
