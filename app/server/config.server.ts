// The platform's configuration: every variable of contracts.md §11, validated once at boot.
// Nothing else reads process.env. Production fail-fast rules (D17) name the variable at fault.
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { checkOutboundUrl } from "./outbound.server";

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super("Invalid configuration:\n" + problems.map((p) => "  - " + p).join("\n"));
    this.name = "ConfigError";
  }
}

export const RATE_LIMIT_NAMES = [
  "default",
  "login",
  "callback",
  "consent",
  "create",
  "settings",
  "wiki_danger",
  "account_delete",
  "api_read",
  "api_write",
] as const;
export type RateLimitName = (typeof RATE_LIMIT_NAMES)[number];

/** Defaults of security.md §5, as points per window (seconds). */
export const RATE_LIMIT_DEFAULTS: Record<RateLimitName, { points: number; seconds: number }> = {
  default: { points: 300, seconds: 60 },
  login: { points: 10, seconds: 60 },
  callback: { points: 10, seconds: 60 },
  consent: { points: 10, seconds: 60 },
  create: { points: 5, seconds: 60 },
  settings: { points: 30, seconds: 60 },
  wiki_danger: { points: 5, seconds: 60 },
  account_delete: { points: 3, seconds: 60 },
  api_read: { points: 120, seconds: 60 },
  api_write: { points: 30, seconds: 60 },
};

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no", ""])
  .optional()
  .transform((v) => v === "true" || v === "1" || v === "yes");

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

/** A number variable; empty counts as unset (as for every other variable), never as 0. */
const optionalNumber = (n: z.ZodNumber) => z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), z.coerce.number().pipe(n).optional());

/** Host name labels: letters, digits and inner hyphens; no empty label, no trailing dot. */
const HOST_NAME = "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*";

/** Upper bound of WORKERS: more processes than this only add memory and lock traffic. */
export const MAX_WORKERS = 32;

/** WORKERS: `auto` (one per core) or a whole number; 1 (the default) is the single process. */
const workers = z.preprocess(
  (v) => (typeof v === "string" ? v.trim().toLowerCase() || undefined : v),
  z.string().regex(/^(auto|\d+)$/, `must be auto or a whole number from 1 to ${MAX_WORKERS}`).optional(),
);

const rateLimit = z
  .string()
  .regex(/^\d+\/\d+$/, "must be <points>/<seconds>, e.g. 10/60")
  .optional();

const envSchema = z.object({
  NODE_ENV: optionalString,
  PLATFORM_SCHEME: z.enum(["http", "https"]).optional(),
  PLATFORM_DOMAIN: optionalString,
  HOST: optionalString,
  PORT: optionalNumber(z.number().int().min(0).max(65535)),
  DATA_DIR: optionalString,
  ROBOT_DB_PATH: optionalString,
  WIKI_BASE: optionalString,
  SIGNING_KEY_PATH: optionalString,
  CLIENT_JWK_PATH: optionalString,
  SESSION_SECRET: optionalString,
  CONSENT_SECRET: z.string().optional(),
  COOKIE_DOMAIN: optionalString,
  ROBOT_STATIC_DIR: optionalString,
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  PLATFORM_ADMIN_DIDS: z.string().optional(),
  MAX_WIKIS_PER_USER: optionalNumber(z.number().int().min(0)),
  TRUST_PROXY: bool,
  PLC_DIRECTORY_URL: optionalString,
  ATPROTO_HANDLE_RESOLVER: optionalString,
  ATPROTO_ALLOW_HTTP_LOOPBACK: bool,
  BSKY_APPVIEW_URL: optionalString,
  WIKI_TEMPLATE_DIR: optionalString,
  GIT_BIN: optionalString,
  ADMIN_SERVICES: optionalString,
  ADMIN_DISK_PATH: optionalString,
  MCP_ISSUER_TEMPLATE: optionalString,
  HSTS_INCLUDE_SUBDOMAINS: bool,
  WORKERS: workers,
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional(),
  RATE_LIMITS_ENABLED: z.enum(["true", "false"]).optional(),
  ...Object.fromEntries(RATE_LIMIT_NAMES.map((n) => ["RATE_LIMIT_" + n.toUpperCase(), rateLimit])),
});

export interface Config {
  production: boolean;
  devMode: boolean; // PLATFORM_SCHEME=http
  scheme: "http" | "https";
  /** PLATFORM_DOMAIN, may carry a port. */
  domain: string;
  /** PLATFORM_DOMAIN without its port (cookies and wiki host names ignore ports). */
  domainHost: string;
  /** The port of PLATFORM_DOMAIN, or "" when it has none. */
  domainPort: string;
  origin: string;
  host: string;
  port: number;
  dataDir: string;
  robotDbPath: string;
  wikiBase: string;
  signingKeyPath: string;
  clientJwkPath: string;
  /** Undefined in development when unset: generated into DATA_DIR by keys.server.ts. */
  sessionSecret: string | undefined;
  consentSecret: string | undefined;
  cookieDomain: string | undefined;
  robotStaticDir: string | undefined;
  jwtIssuer: string;
  jwtAudience: string;
  adminDids: ReadonlySet<string>;
  maxWikisPerUser: number;
  trustProxy: boolean;
  plcDirectoryUrl: string;
  handleResolver: string | undefined;
  /** Plain-http loopback servers allowed (dev mode, or ATPROTO_ALLOW_HTTP_LOOPBACK in tests). */
  allowHttpLoopback: boolean;
  bskyAppviewUrl: string;
  wikiTemplateDir: string | undefined;
  gitBin: string;
  adminServices: string[];
  adminDiskPath: string;
  mcpIssuerTemplate: string;
  hstsIncludeSubdomains: boolean;
  logLevel: string;
  /** WORKERS: 1 = one process; more = node:cluster primary + this many workers (ADR 009). */
  workers: number;
  rateLimitsEnabled: boolean;
  rateLimits: Record<RateLimitName, { points: number; seconds: number }>;
}

/** Host part of a `host[:port]` string; IPv6 literals keep their brackets. */
export function splitHostPort(domain: string): { host: string; port: string } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(domain);
  if (!m) return { host: domain, port: "" };
  return { host: m[1].toLowerCase(), port: m[2] ?? "" };
}

export function isIpOrLocalhost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  return bare === "localhost" || net.isIP(bare) !== 0;
}

/** Hosts the ATProto loopback client of dev mode may redirect to (RFC 8252: an IP, never "localhost"). */
const LOOPBACK_REDIRECT_HOSTS = new Set(["127.0.0.1", "[::1]"]);

/** Build the configuration from an environment; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const e = parsed.data as z.infer<typeof envSchema> & Record<string, string | undefined>;
  const problems: string[] = [];
  const production = e.NODE_ENV === "production";
  const port = e.PORT ?? 8002;
  const scheme = e.PLATFORM_SCHEME ?? (production ? "https" : "http");
  const devMode = scheme === "http";
  const domain = (e.PLATFORM_DOMAIN ?? (production ? "robot.wtf" : `127.0.0.1:${port}`)).toLowerCase();
  const { host: domainHost, port: domainPort } = splitHostPort(domain);
  const dataDir = path.resolve(e.DATA_DIR ?? (production ? "/srv/data" : "./data"));
  const inData = (file: string, prodPath: string) => (production ? prodPath : path.join(dataDir, file));
  const allowHttpLoopback = devMode || e.ATPROTO_ALLOW_HTTP_LOOPBACK;

  if (production && devMode) problems.push("PLATFORM_SCHEME=http is not allowed when NODE_ENV=production");
  if (production && e.ATPROTO_ALLOW_HTTP_LOOPBACK)
    problems.push("ATPROTO_ALLOW_HTTP_LOOPBACK=true is a test-only setting and is refused when NODE_ENV=production");
  if (production && !e.SESSION_SECRET) problems.push("SESSION_SECRET is required in production (at least 32 characters)");
  if (e.SESSION_SECRET !== undefined) {
    if (e.SESSION_SECRET.length < 32) problems.push("SESSION_SECRET must be at least 32 characters");
    if (e.SESSION_SECRET.startsWith("dev-secret")) problems.push("SESSION_SECRET must not start with 'dev-secret'");
  }
  const consentSecret = e.CONSENT_SECRET === "" ? undefined : e.CONSENT_SECRET;
  if (consentSecret !== undefined && (consentSecret.length < 32 || !/^[\x20-\x7e]+$/.test(consentSecret)))
    problems.push("CONSENT_SECRET must be at least 32 characters of printable ASCII");
  const domainValid = new RegExp(`^(\\[[0-9a-f:.]+\\]|${HOST_NAME})(:\\d+)?$`).test(domain);
  if (!domainValid) problems.push(`PLATFORM_DOMAIN is not a valid host[:port]: ${domain}`);
  if (e.COOKIE_DOMAIN !== undefined && !new RegExp(`^\\.?${HOST_NAME}$`).test(e.COOKIE_DOMAIN.toLowerCase()))
    problems.push(`COOKIE_DOMAIN is not a valid cookie domain (e.g. .robot.wtf): ${e.COOKIE_DOMAIN}`);

  // Dev mode is the ATProto loopback client (auth.md §9): its redirect_uri, and so the platform's
  // own origin, must be on a loopback IP. The OAuth library would refuse anything else at start-up
  // with a raw validation dump.
  if (devMode && domainValid && !LOOPBACK_REDIRECT_HOSTS.has(domainHost)) {
    const suggestion = `127.0.0.1:${domainPort || port}`;
    problems.push(
      domainHost === "localhost"
        ? `PLATFORM_DOMAIN=${domain} does not work in dev mode (PLATFORM_SCHEME=http): the ATProto loopback client must use a loopback IP, not "localhost" (RFC 8252). Use PLATFORM_DOMAIN=${suggestion}`
        : `PLATFORM_DOMAIN=${domain} does not work in dev mode (PLATFORM_SCHEME=http), which uses the ATProto loopback client on 127.0.0.1. Use PLATFORM_DOMAIN=${suggestion}, or PLATFORM_SCHEME=https for a real host name`,
    );
  }

  // The ATProto services are reached through the outbound rules (security.md §6) on every login:
  // a URL those rules refuse (IP literal, explicit port, .internal host, plain http off loopback)
  // would fail every login, so it fails start-up instead, by the same rule.
  const plcDirectoryUrl = e.PLC_DIRECTORY_URL ?? "https://plc.directory";
  for (const [name, value] of [
    ["PLC_DIRECTORY_URL", plcDirectoryUrl],
    ["ATPROTO_HANDLE_RESOLVER", e.ATPROTO_HANDLE_RESOLVER],
    ["BSKY_APPVIEW_URL", e.BSKY_APPVIEW_URL],
  ] as const) {
    if (value === undefined) continue;
    const check = checkOutboundUrl(value, { allowHttpLoopback });
    if (!check.ok) {
      const rule = allowHttpLoopback ? "an https URL to a public DNS name, or http on loopback" : "an https URL to a public DNS name";
      problems.push(`${name} must be ${rule} (the outbound request rules refuse it: ${check.reason}): ${value}`);
    }
  }

  let workerCount = 1;
  if (e.WORKERS === "auto") workerCount = Math.min(MAX_WORKERS, os.availableParallelism());
  else if (e.WORKERS) {
    workerCount = Number(e.WORKERS);
    if (workerCount < 1 || workerCount > MAX_WORKERS)
      problems.push(`WORKERS must be auto or a whole number from 1 to ${MAX_WORKERS} (got ${e.WORKERS})`);
  }

  const rateLimits = { ...RATE_LIMIT_DEFAULTS };
  for (const name of RATE_LIMIT_NAMES) {
    const raw = e["RATE_LIMIT_" + name.toUpperCase()];
    if (raw) {
      const [points, seconds] = raw.split("/").map(Number);
      if (points < 1 || seconds < 1) problems.push(`RATE_LIMIT_${name.toUpperCase()} needs points and seconds ≥ 1`);
      rateLimits[name] = { points, seconds };
    }
  }

  if (problems.length) throw new ConfigError(problems);

  return {
    production,
    devMode,
    scheme,
    domain,
    domainHost,
    domainPort,
    origin: `${scheme}://${domain}`,
    host: e.HOST ?? "0.0.0.0",
    port,
    dataDir,
    robotDbPath: path.resolve(e.ROBOT_DB_PATH ?? inData("robot.db", "/srv/data/robot.db")),
    wikiBase: path.resolve(e.WIKI_BASE ?? inData("wikis", "/srv/data/wikis")),
    signingKeyPath: path.resolve(e.SIGNING_KEY_PATH ?? inData("signing_key.pem", "/srv/data/signing_key.pem")),
    clientJwkPath: path.resolve(e.CLIENT_JWK_PATH ?? inData("client_jwk.json", "/srv/data/client_jwk.json")),
    sessionSecret: e.SESSION_SECRET,
    consentSecret,
    cookieDomain: e.COOKIE_DOMAIN?.toLowerCase(),
    robotStaticDir: e.ROBOT_STATIC_DIR,
    jwtIssuer: e.JWT_ISSUER ?? "robot.wtf",
    jwtAudience: e.JWT_AUDIENCE ?? "robot.wtf",
    adminDids: new Set(
      (e.PLATFORM_ADMIN_DIDS ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    ),
    maxWikisPerUser: e.MAX_WIKIS_PER_USER ?? 1,
    trustProxy: e.TRUST_PROXY,
    plcDirectoryUrl,
    handleResolver: e.ATPROTO_HANDLE_RESOLVER,
    allowHttpLoopback,
    bskyAppviewUrl: e.BSKY_APPVIEW_URL ?? "https://public.api.bsky.app",
    wikiTemplateDir: e.WIKI_TEMPLATE_DIR,
    gitBin: e.GIT_BIN ?? "git",
    adminServices: (e.ADMIN_SERVICES ?? "robot-otterwiki,robot-mcp,robot-platform")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    adminDiskPath: e.ADMIN_DISK_PATH ?? "/srv",
    mcpIssuerTemplate: e.MCP_ISSUER_TEMPLATE ?? "https://{slug}.{domain}",
    hstsIncludeSubdomains: e.HSTS_INCLUDE_SUBDOMAINS,
    logLevel: e.LOG_LEVEL ?? "info",
    workers: workerCount,
    // Ignored in production: limits are always on there (security.md §5).
    rateLimitsEnabled: production || e.RATE_LIMITS_ENABLED !== "false",
    rateLimits,
  };
}

/** `{scheme}://{slug}.{D}` built as a string: `{D}` may be an IP, where new URL() would refuse it. */
export function wikiUrl(config: Config, slug: string): string {
  return `${config.scheme}://${slug}.${config.domain}`;
}

/** Configuration as logged at start-up: never any secret. */
export function describeConfig(c: Config): Record<string, unknown> {
  return {
    production: c.production,
    origin: c.origin,
    listen: `${c.host}:${c.port}`,
    robotDbPath: c.robotDbPath,
    wikiBase: c.wikiBase,
    signingKeyPath: c.signingKeyPath,
    clientJwkPath: c.clientJwkPath,
    sessionSecret: c.sessionSecret ? "(set)" : "(generated)",
    consentKey: c.consentSecret ? "CONSENT_SECRET" : "derived from signing key",
    cookieDomain: c.cookieDomain ?? "(derived)",
    jwtIssuer: c.jwtIssuer,
    jwtAudience: c.jwtAudience,
    admins: c.adminDids.size,
    maxWikisPerUser: c.maxWikisPerUser,
    trustProxy: c.trustProxy,
    plcDirectoryUrl: c.plcDirectoryUrl,
    handleResolver: c.handleResolver ?? "(dns + well-known)",
    allowHttpLoopback: c.allowHttpLoopback,
    rateLimitsEnabled: c.rateLimitsEnabled,
    workers: c.workers,
  };
}
