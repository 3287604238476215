// The request pipeline around React Router (one place for cross-cutting rules, in the order
// security.md gives): request id → static files → Origin check → rate limit → body limit (the
// intent limit of POST /app/wiki/{slug} after it) → 405 for a method the route does not answer →
// React Router → security headers → one log line, with the cause of any refusal. Everything here
// works on Fetch API objects, so integration tests call it directly without a socket.
import crypto from "node:crypto";
import path from "node:path";
import { createRequestHandler, isRouteErrorResponse, type AppLoadContext, type ServerBuild } from "react-router";
import { originAllowed, originCheckApplies } from "./csrf.server";
import { errorDetails } from "./log.server";
import type { Platform } from "./platform.server";
import type { RateLimitName } from "./config.server";
import { clientIpOf, formIntent, limitFollowsIntent, limitForRequest } from "./rate-limit.server";
import { decodedPath, isApiPath, isDecodablePath, routePath, rulePath } from "./paths.server";
import { errorResponse, readCause } from "./responses.server";
import { createRouteMatcher, type MatchedRoute } from "./route-match.server";
import { isStaticPath, serveStatic } from "./static.server";
import { LIVENESS } from "./health.server";
import { hostHasWiki } from "./wikis.server";

export const MAX_BODY_BYTES = 1024 * 1024;

export interface RequestState {
  did?: string;
  /** Why the request failed (4xx/5xx), for its log line (acceptance E4). */
  cause?: string;
  /** What the log line should also say about the failure (observed headers, the limit). */
  detail?: Record<string, unknown>;
}

declare module "react-router" {
  interface AppLoadContext {
    platform: Platform;
    reqId: string;
    clientIp: string;
    nonce: string;
    state: RequestState;
  }
}

export type Handler = ((request: Request, socketAddress?: string) => Promise<Response>) & {
  /** The probes' fast path, for the socket layer to try first (see createFastPath). */
  fast?: FastPath;
};

/**
 * A fresh CSP nonce (16 random bytes, base64) per request. The bytes come from a pool filled
 * 4 KiB at a time: one randomBytes call per request cost more than the rest of a JSON answer's
 * header work. Each slice is handed out once.
 */
const NONCE_BYTES = 16;
let noncePool = Buffer.alloc(0);
let noncePoolAt = 0;
function newNonce(): string {
  if (noncePoolAt + NONCE_BYTES > noncePool.length) [noncePool, noncePoolAt] = [crypto.randomBytes(4096), 0];
  noncePoolAt += NONCE_BYTES;
  return noncePool.toString("base64", noncePoolAt - NONCE_BYTES, noncePoolAt);
}

function requestId(given: string | null | undefined): string {
  return given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : crypto.randomUUID();
}


function cspFor(contentType: string, nonce: string): string {
  if (contentType.includes("text/html")) {
    return [
      "default-src 'self'",
      `script-src 'self' 'nonce-${nonce}'`,
      `style-src 'self' 'nonce-${nonce}'`,
      "img-src 'self' data:",
      "font-src 'self'",
      "connect-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join("; ");
  }
  return "default-src 'none'; frame-ancestors 'none'";
}

/** security.md §7: the headers every response gets, for a response of this type on this path. */
function securityHeaders(config: Platform["config"], p: string, contentType: string, nonce: string, reqId: string): [string, string][] {
  const headers: [string, string][] = [
    ["Content-Security-Policy", cspFor(contentType, nonce)],
    ["X-Frame-Options", "DENY"],
    ["X-Content-Type-Options", "nosniff"],
    ["Referrer-Policy", p.startsWith("/auth/") ? "no-referrer" : "strict-origin-when-cross-origin"],
    ["Cross-Origin-Opener-Policy", "same-origin"],
  ];
  if (config.scheme === "https") {
    headers.push(["Strict-Transport-Security", "max-age=31536000" + (config.hstsIncludeSubdomains ? "; includeSubDomains" : "")]);
  }
  const noStore = p.startsWith("/app") || isApiPath(p) || (p.startsWith("/auth/") && p !== "/auth/client-metadata.json");
  if (noStore) headers.push(["Cache-Control", "no-store"]);
  headers.push(["X-Request-Id", reqId]);
  return headers;
}

function withSecurityHeaders(response: Response, platform: Platform, p: string, nonce: string, reqId: string): Response {
  let res = response;
  try {
    res.headers.set("X-Request-Id", reqId);
  } catch {
    res = new Response(response.body, response); // Response.redirect() headers are immutable
  }
  for (const [name, value] of securityHeaders(platform.config, p, res.headers.get("content-type") ?? "", nonce, reqId)) res.headers.set(name, value);
  return res;
}

/** Machine endpoints hit on every probe and TLS handshake: their log lines are debug unless they fail. */
const PROBE_PATHS = new Set(["/healthz", "/readyz", "/api/internal/check-slug"]);

interface RequestLogEntry {
  reqId: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  ip: string;
  did?: string;
  cause?: string;
  [detail: string]: unknown;
}

/** The one log line of a request (acceptance E4: a refusal or failure says its cause). */
function logRequest(log: Platform["log"], p: string, entry: RequestLogEntry): void {
  if (entry.status >= 400) entry.cause ??= `HTTP ${entry.status}`;
  if (entry.status >= 500) log.error(entry, "request failed");
  else if (PROBE_PATHS.has(p)) log.debug(entry, "request");
  else if (entry.status >= 400) log.warn(entry, "request refused");
  else log.info(entry, "request");
}

const elapsedMs = (started: number) => Math.round((performance.now() - started) * 10) / 10;

export interface FastAnswer {
  status: number;
  headers: [string, string][];
  body: string;
}
export type FastPath = (method: string, target: string, headers: { requestId?: string; forwardedFor?: string }, socketAddress: string) => FastAnswer | undefined;

/**
 * GET/HEAD `/healthz` and `/api/internal/check-slug` as their routes answer them, without Fetch
 * objects or React Router: Caddy asks check-slug before every certificate and the probes poll
 * health, so these must cost what the work costs (issue 7). Same domain functions, headers and
 * log line as the full pipeline; any other spelling, method or a failure → undefined, and the
 * full pipeline answers.
 */
export function createFastPath(platform: Platform): FastPath {
  const { config, log } = platform;
  return (method, target, headers, socketAddress) => {
    if (method !== "GET" && method !== "HEAD") return undefined;
    const q = target.indexOf("?");
    const p = q < 0 ? target : target.slice(0, q);
    if ((p !== "/healthz" && p !== "/api/internal/check-slug") || target.includes("#")) return undefined;
    const started = performance.now();
    let status: number;
    let body = "";
    let type = "";
    try {
      if (p === "/healthz") {
        [status, body, type] = [200, JSON.stringify(LIVENESS), "application/json; charset=utf-8"];
      } else {
        status = hostHasWiki(platform.reads, config, new URLSearchParams(q < 0 ? "" : target.slice(q + 1)).get("domain")) ? 200 : 404;
      }
    } catch {
      return undefined; // the full pipeline meets the same failure and answers and logs it
    }
    const reqId = requestId(headers.requestId);
    const ip = clientIpOf(headers.forwardedFor, socketAddress, config.trustProxy);
    const out: [string, string][] = type ? [["Content-Type", type], ["Cache-Control", "no-store"]] : [["Cache-Control", "no-store"]];
    for (const header of securityHeaders(config, p, type, "", reqId)) if (header[0] !== "Cache-Control") out.push(header);
    logRequest(log, p, { reqId, method, path: p, status, durationMs: elapsedMs(started), ip });
    return { status, headers: out, body };
  };
}

/**
 * The request as React Router should see it: the URL on the platform origin (behind Caddy the
 * socket is plain http on another port, but the platform serves exactly one origin), and a
 * browser's same-origin `Origin: null` (from no-referrer pages) stated as the origin it is. On a
 * request the Origin check does not cover (POST /auth/login, Bearer API calls; security.md §2)
 * the Origin header is dropped, so React Router's own action check cannot refuse it after all
 * (with a bare "Bad Request" and an error log).
 */
function canonicalRequest(request: Request, origin: string, originChecked: boolean, body?: Uint8Array): Request {
  // The socket layer already puts every request on the origin: a GET with nothing to restate needs no copy.
  const stated = request.headers.get("origin");
  if (body === undefined && request.url.startsWith(origin + "/") && (originChecked ? stated !== "null" : stated === null)) return request;
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  if (!originChecked) headers.delete("origin");
  else if (headers.get("origin") === "null" && headers.get("sec-fetch-site") === "same-origin") headers.set("origin", origin);
  return new Request(origin + url.pathname + url.search, {
    method: request.method,
    headers,
    body: (body ?? null) as BodyInit | null,
    signal: request.signal,
  });
}

/** Buffer a request body up to the limit; undefined when it is larger. */
async function readBody(request: Request): Promise<Uint8Array | undefined> {
  if (request.body === null) return new Uint8Array();
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) return undefined;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      // Stop reading, but do not cancel: the socket layer answers and then closes the
      // connection (Connection: close), so the rest is never buffered.
      reader.releaseLock();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * A resource route answered as React Router's request handler answers it (its loader or action,
 * the returned or thrown Response as it is) without the handler itself, which re-matches the
 * whole route tree and builds its data-strategy machinery per request: that overhead is most of
 * a JSON API call's cost (ADR 010). Undefined when the route has no function for the method:
 * React Router then gives its own answer.
 */
async function answerResource(route: MatchedRoute, request: Request, raw: string, context: AppLoadContext): Promise<Response | undefined> {
  const handler = route.resource?.handler(request.method);
  if (!handler) return undefined;
  let result: unknown;
  try {
    result = await handler({ request, params: route.resource!.params(decodedPath(raw)), context });
  } catch (thrown) {
    if (thrown instanceof Response) return thrown;
    if (isRouteErrorResponse(thrown)) return errorResponse(request, thrown.status, thrown.statusText || "Request refused");
    throw thrown; // the pipeline logs it with its cause and answers 500
  }
  if (result instanceof Response) return result;
  return typeof result === "string" ? new Response(result) : Response.json(result);
}

/** A HEAD answer as React Router gives it: the GET's status and headers, no body. */
function withoutBody(response: Response): Response {
  response.body?.cancel().catch(() => {});
  return new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
}

export interface HandlerOptions {
  clientDir?: string;
  /** Resource routes through React Router's request handler too: the reference the direct answers are tested against. */
  reactRouterOnly?: boolean;
}

export function createHandler(platform: Platform, build: ServerBuild, opts: HandlerOptions = {}): Handler {
  const rr = createRequestHandler(build, platform.config.production ? "production" : "development");
  const clientDir = path.resolve(opts.clientDir ?? path.join(process.cwd(), "build/client"));
  const { config, log } = platform;
  const matchRoute = createRouteMatcher(build);

  async function route(request: Request, raw: string, dataRequest: boolean, p: string, ip: string, reqId: string, nonce: string, state: RequestState): Promise<Response> {
    const method = request.method;
    if ((method === "GET" || method === "HEAD") && isStaticPath(raw)) {
      const file = serveStatic(clientDir, config.robotStaticDir, raw, method);
      if (file) return file;
      if (!raw.startsWith("/favicon")) return errorResponse(request, 404, "Not found");
    }
    if (!isDecodablePath(raw)) return errorResponse(request, 400, "Malformed URL path");
    // security.md §2: the Origin check runs before rate limiting, authentication and body parsing.
    const originChecked = originCheckApplies(request, p);
    if (originChecked && !originAllowed(request, config.origin)) {
      state.detail = { origin: request.headers.get("origin"), secFetchSite: request.headers.get("sec-fetch-site") };
      return errorResponse(request, 403, "Cross-site request blocked", {}, { title: "Cross-site request blocked" });
    }
    const matched = matchRoute(p);
    /** Counts the request against a limit; the 429 response when it is over. */
    const charge = async (limit: RateLimitName | null): Promise<Response | undefined> => {
      if (!limit) return undefined;
      const wait = await platform.rateLimits.consume(limit, limit === "default" ? `${ip}:${matched?.id ?? p}` : ip);
      if (wait === null) return undefined;
      state.detail = { limit };
      return errorResponse(request, 429, "Rate limit exceeded", { "Retry-After": String(wait) }, {
        title: "Too Many Requests",
        detail: "Please slow down and try again later.",
      });
    };
    const byIntent = limitFollowsIntent(method, p);
    if (!byIntent) {
      const limited = await charge(limitForRequest(method, p));
      if (limited) return limited;
    }
    let body: Uint8Array | undefined;
    if (!["GET", "HEAD", "OPTIONS"].includes(method)) {
      body = await readBody(request);
      if (byIntent) {
        const intent = body ? await formIntent(body, request.headers.get("content-type")) : null;
        const limited = await charge(limitForRequest(method, p, intent));
        if (limited) return limited;
      }
      if (!body) return errorResponse(request, 413, "Request body too large", { Connection: "close" });
    }
    // A method the route does not answer is a 405 saying which it does (D10, D15), before any
    // route code runs (after the body limit, so an oversized body still closes the connection).
    // No CORS here: OPTIONS is one such method. An unknown path is a 404 whatever the method.
    if (matched && !matched.allow.includes(method)) {
      if (matched.splat) return errorResponse(request, 404, "Not found");
      return errorResponse(request, 405, "Method not allowed", { Allow: matched.allow.join(", ") });
    }
    const req = canonicalRequest(request, config.origin, originChecked, body);
    const context: AppLoadContext = { platform, reqId, clientIp: ip, nonce, state };
    if (matched?.resource && !dataRequest && !opts.reactRouterOnly) {
      const answer = await answerResource(matched, req, raw, context);
      if (answer) return method === "HEAD" ? withoutBody(answer) : answer;
    }
    return rr(req, context);
  }

  const handle: Handler = async function handle(request: Request, socketAddress = "127.0.0.1"): Promise<Response> {
    const started = performance.now();
    const reqId = requestId(request.headers.get("x-request-id"));
    const nonce = newNonce();
    const state: RequestState = {};
    let pathname: string;
    try {
      pathname = new URL(request.url).pathname;
    } catch {
      pathname = "/";
    }
    const raw = routePath(pathname);
    const p = rulePath(raw);
    const ip = clientIpOf(request.headers.get("x-forwarded-for"), socketAddress, config.trustProxy);
    let response: Response;
    try {
      response = await route(request, raw, raw !== pathname, p, ip, reqId, nonce, state);
    } catch (err) {
      if (err instanceof Response) {
        response = err;
      } else {
        log.error({ reqId, path: p, err: errorDetails(err) }, "unhandled error");
        response = errorResponse(request, 500, "Something went wrong.");
      }
    }
    const out = withSecurityHeaders(response, platform, p, nonce, reqId);
    const cause = state.cause ?? readCause(out);
    logRequest(log, p, {
      reqId,
      method: request.method,
      path: raw,
      status: out.status,
      durationMs: elapsedMs(started),
      ip,
      did: state.did,
      ...(out.status >= 400 ? { cause, ...state.detail } : {}),
    });
    return out;
  };
  handle.fast = createFastPath(platform);
  return handle;
}
