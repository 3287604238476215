// Rate limits (D11, security.md §5): rate-limiter-flexible in memory, fixed windows, keyed by the
// limit's name plus the client IP. One process-wide limiter per limit.
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Config, RateLimitName } from "./config.server";
import { RATE_LIMIT_NAMES } from "./config.server";

export type RateLimits = {
  enabled: boolean;
  /** Counts one request; returns seconds to wait when over the limit, else null. */
  consume(name: RateLimitName, key: string): Promise<number | null>;
};

export function createRateLimits(config: Config): RateLimits {
  const limiters = new Map<RateLimitName, RateLimiterMemory>();
  for (const name of RATE_LIMIT_NAMES) {
    const { points, seconds } = config.rateLimits[name];
    limiters.set(name, new RateLimiterMemory({ keyPrefix: name, points, duration: seconds }));
  }
  return {
    enabled: config.rateLimitsEnabled,
    async consume(name, key) {
      if (!config.rateLimitsEnabled) return null;
      try {
        await limiters.get(name)!.consume(key);
        return null;
      } catch (res) {
        if (res instanceof RateLimiterRes) return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
        throw res;
      }
    },
  };
}

/**
 * The client IP: the socket address, or with TRUST_PROXY the last X-Forwarded-For hop (the one
 * Caddy appended; earlier hops are client-controlled).
 */
export function clientIp(request: Request, socketAddress: string, trustProxy: boolean): string {
  if (trustProxy) {
    const hops = (request.headers.get("x-forwarded-for") ?? "").split(",").map((h) => h.trim()).filter(Boolean);
    if (hops.length) return hops[hops.length - 1];
  }
  return socketAddress;
}

/** The limit of a request decided by path and method alone (intents are applied in their action). */
export function limitForRequest(method: string, path: string): RateLimitName | null {
  if (path === "/" || path.startsWith("/static/") || path.startsWith("/assets/") || path.startsWith("/favicon."))
    return null;
  if (path === "/healthz" || path === "/readyz" || path.startsWith("/api/internal/")) return null;
  const write = !["GET", "HEAD", "OPTIONS"].includes(method);
  if (path === "/api" || path.startsWith("/api/")) return write ? "api_write" : "api_read";
  if (method === "POST") {
    if (path === "/auth/login") return "login";
    if (path === "/auth/oauth/consent") return "consent";
    if (path === "/app/create") return "create";
    if (path === "/app/account") return "account_delete";
    // Every POST counts, by its form intent (`settings` or `wiki_danger`; anything else, a body
    // that is not a form and unauthenticated requests included: `settings`), in the action.
    if (/^\/app\/wiki\/[^/]+$/.test(path)) return null;
  }
  if (method === "GET" && path === "/auth/callback") return "callback";
  return "default";
}
