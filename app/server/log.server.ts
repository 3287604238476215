// Structured JSON logs (security.md §8): one line per event, with redaction of every secret the
// platform handles. Request logs carry reqId, method, path without query, status and duration.
import pino, { type Logger as PinoLogger } from "pino";

export type Logger = PinoLogger;

/**
 * Keys whose values are never logged, wherever they appear and however they are spelled
 * (compared lower-cased, without `-` and `_`): cookies, Authorization, every token, OAuth
 * `code`/`code_verifier`/`state`, secrets, passwords and private key material (`d` of a JWK).
 */
const SECRET_KEYS = new Set(
  [
    "cookie", "cookies", "set-cookie", "authorization", "proxy-authorization",
    "token", "jwt", "platform_token", "mcp_token", "approval_token", "consent_token",
    "access_token", "refresh_token", "id_token", "dpop", "dpop_key", "dpop_private_jwk", "dpopKey",
    "code", "code_verifier", "state", "nonce",
    "client_secret", "session_secret", "consent_secret", "secret", "password",
    "private_key", "privateKey", "private_jwk", "d",
  ].map(normalizeKey),
);
const CENSOR = "[redacted]";

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, "");
}

/** A copy of a log object with every secret-named value censored, at any depth. */
export function redactSecrets(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value) || depth > 8) return "[elided]";
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1, seen));
  if (value instanceof Error) return redactSecrets(errorDetails(value), depth + 1, seen);
  if (value instanceof Headers) return redactSecrets(Object.fromEntries(value), depth + 1, seen);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.has(normalizeKey(k)) ? CENSOR : redactSecrets(v, depth + 1, seen);
  return out;
}

export function createLogger(level = "info", destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "robot-platform" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => redactSecrets(obj) as Record<string, unknown>,
      },
    },
    destination,
  );
}

/** Error details fit for a log line: message, name, stack, and a nested cause. */
export function errorDetails(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const details: Record<string, unknown> = { name: err.name, message: err.message, stack: err.stack };
  if (err.cause !== undefined) details.cause = errorDetails(err.cause);
  return details;
}
