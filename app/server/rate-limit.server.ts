// Rate limits (D11, security.md §5): rate-limiter-flexible, fixed windows, keyed by the limit's
// name plus the client IP. One process: one in-memory limiter per limit. Multi-process mode
// (WORKERS > 1, ADR 009): the counters live in the primary (RateLimiterClusterMaster) and every
// worker asks it over the cluster IPC channel (RateLimiterCluster), so a limit counts every
// request whichever worker serves it.
import { RateLimiterCluster, RateLimiterClusterMaster, RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Config, RateLimitName } from "./config.server";
import { RATE_LIMIT_NAMES } from "./config.server";
import { errorDetails, type Logger } from "./log.server";

export type RateLimits = {
  enabled: boolean;
  /** Counts one request; returns seconds to wait when over the limit, else null. */
  consume(name: RateLimitName, key: string): Promise<number | null>;
};

/** How long a worker waits for the primary's answer before it counts in its own memory instead. */
export const CLUSTER_LIMIT_TIMEOUT_MS = 2_000;

/** In the primary of the multi-process mode: hold the counters of every worker's limiters. */
export function serveClusterRateLimits(): void {
  new RateLimiterClusterMaster();
}

/**
 * `cluster: true` in a worker of the multi-process mode. Should the primary not answer in
 * time, the request is counted by a limiter in the worker's own memory (logged), never failed.
 */
export function createRateLimits(config: Config, opts: { cluster?: boolean; log?: Logger } = {}): RateLimits {
  const limiters = new Map<RateLimitName, RateLimiterAbstract>();
  const fallback = new Map<RateLimitName, RateLimiterMemory>();
  for (const name of RATE_LIMIT_NAMES) {
    const { points, seconds } = config.rateLimits[name];
    const options = { keyPrefix: name, points, duration: seconds };
    fallback.set(name, new RateLimiterMemory(options));
    if (opts.cluster) limiters.set(name, new RateLimiterCluster({ ...options, timeoutMs: CLUSTER_LIMIT_TIMEOUT_MS }));
  }
  const wait = (res: unknown): number | null => {
    if (res instanceof RateLimiterRes) return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    throw res;
  };
  const local = (name: RateLimitName, key: string) => fallback.get(name)!.consume(key).then(() => null, wait);
  return {
    enabled: config.rateLimitsEnabled,
    async consume(name, key) {
      if (!config.rateLimitsEnabled) return null;
      const shared = limiters.get(name);
      if (!shared) return local(name, key);
      try {
        await shared.consume(key);
        return null;
      } catch (res) {
        if (res instanceof RateLimiterRes) return wait(res);
        opts.log?.warn({ limit: name, err: errorDetails(res) }, "shared rate limit unavailable: counted in this process");
        return local(name, key);
      }
    },
  };
}

/**
 * The client IP: the socket address, or with TRUST_PROXY the last X-Forwarded-For hop (the one
 * Caddy appended; earlier hops are client-controlled).
 */
export function clientIpOf(forwardedFor: string | null | undefined, socketAddress: string, trustProxy: boolean): string {
  if (trustProxy) {
    const hops = (forwardedFor ?? "").split(",").map((h) => h.trim()).filter(Boolean);
    if (hops.length) return hops[hops.length - 1];
  }
  return socketAddress;
}

/** The intents of POST /app/wiki/{slug} and the limit each consumes (security.md §5). */
export const INTENT_LIMITS = {
  rename: "settings",
  access: "settings",
  git: "settings",
  regenerate: "wiki_danger",
  delete: "wiki_danger",
} as const satisfies Record<string, RateLimitName>;
export type Intent = keyof typeof INTENT_LIMITS;
export const isIntent = (value: unknown): value is Intent => typeof value === "string" && Object.hasOwn(INTENT_LIMITS, value);

/** POST /app/wiki/{slug}: its limit follows the form's `intent`, so the body is read first. */
export const limitFollowsIntent = (method: string, path: string) => method === "POST" && /^\/app\/wiki\/[^/]+$/.test(path);

/**
 * The limit of a request. For POST /app/wiki/{slug} pass the form's intent: a missing or unknown
 * one, or a body that is not a form, counts against `settings` (every request counts).
 */
export function limitForRequest(method: string, path: string, intent?: unknown): RateLimitName | null {
  if (path === "/" || path.startsWith("/static/") || path.startsWith("/assets/") || path.startsWith("/favicon."))
    return null;
  if (path === "/healthz" || path === "/readyz" || path.startsWith("/api/internal/")) return null;
  const write = !["GET", "HEAD", "OPTIONS"].includes(method);
  if (path === "/api" || path.startsWith("/api/")) return write ? "api_write" : "api_read";
  if (limitFollowsIntent(method, path)) return isIntent(intent) ? INTENT_LIMITS[intent] : "settings";
  if (method === "POST") {
    if (path === "/auth/login") return "login";
    if (path === "/auth/oauth/consent") return "consent";
    if (path === "/app/create") return "create";
    if (path === "/app/account") return "account_delete";
  }
  if (method === "GET" && path === "/auth/callback") return "callback";
  return "default";
}

/** The `intent` field of a form body, or null when there is none or the body is not a form. */
export async function formIntent(body: Uint8Array, contentType: string | null): Promise<string | null> {
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  try {
    if (type === "application/x-www-form-urlencoded") return new URLSearchParams(new TextDecoder().decode(body)).get("intent");
    if (type === "multipart/form-data") {
      const form = await new Request("http://form.invalid/", { method: "POST", headers: { "Content-Type": contentType! }, body: body as BodyInit }).formData();
      const intent = form.get("intent");
      return typeof intent === "string" ? intent : null;
    }
  } catch {
    // not a parsable form: counts as no intent
  }
  return null;
}
