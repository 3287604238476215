// Structured JSON logs (security.md §8): one line per event, with redaction of every secret the
// platform handles. Request logs carry reqId, method, path without query, status and duration.
import pino, { type Logger as PinoLogger } from "pino";

export type Logger = PinoLogger;

/** Paths pino censors wherever they appear in a logged object. */
export const REDACT_PATHS = [
  "cookie",
  "cookies",
  "authorization",
  "headers.cookie",
  "headers.authorization",
  "headers['set-cookie']",
  "req.headers.cookie",
  "req.headers.authorization",
  "token",
  "jwt",
  "platform_token",
  "mcp_token",
  "approval_token",
  "consent_token",
  "code",
  "code_verifier",
  "state",
  "client_secret",
  "session_secret",
  "consent_secret",
  "password",
  "d",
  "*.token",
  "*.jwt",
  "*.platform_token",
  "*.mcp_token",
  "*.approval_token",
  "*.consent_token",
  "*.code",
  "*.code_verifier",
  "*.state",
  "*.password",
  "*.cookie",
  "*.authorization",
];

export function createLogger(level = "info", destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "robot-platform" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
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
