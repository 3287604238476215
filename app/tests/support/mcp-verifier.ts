// An INDEPENDENT model of the MCP server's /authorize/callback check, written from
// spec/contracts.md §5.2–§5.4 alone. It imports no application code on purpose: if the platform
// and this file ever disagree about the key derivation, the wire format or the bindings, the
// contract tests fail, as the real MCP would (with 403) in production.
import crypto from "node:crypto";
import fs from "node:fs";

/** Python's text-mode read (universal newlines): "\r\n" and a lone "\r" both become "\n". */
export function readTextLikePython(file: string): string {
  return fs.readFileSync(file).toString("utf8").replace(/\r\n|\r/g, "\n");
}

/** §5.3: SHA-256(UTF-8("consent:" + PEM)), the PEM (or secret file) read as the MCP reads it. */
export function mcpConsentKeyFromFile(signingKeyPath: string): Buffer {
  return crypto.createHash("sha256").update("consent:" + readTextLikePython(signingKeyPath), "utf8").digest();
}

/** §5.3 with CONSENT_SECRET: SHA-256(UTF-8("consent:" + secret)), the exact bytes, no trimming. */
export function mcpConsentKeyFromSecret(secret: string): Buffer {
  return crypto.createHash("sha256").update("consent:" + secret, "utf8").digest();
}

/** The callback URL split by hand: `{slug}.{IP}` hosts of development are no valid WHATWG URL. */
export function splitCallbackUrl(location: string): { scheme: string; host: string; path: string; query: URLSearchParams } {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]+)([^?#]*)(?:\?([^#]*))?/i.exec(location);
  if (!m) throw new Error(`not an absolute URL: ${location}`);
  return { scheme: m[1].toLowerCase(), host: m[2].toLowerCase(), path: m[3], query: new URLSearchParams(m[4] ?? "") };
}

export type VerifyOutcome =
  | { ok: true; payload: Record<string, unknown> }
  | { ok: false; status: 400 | 403; error: string; error_description: string };

export interface VerifierOptions {
  key: Buffer;
  /** Unix seconds (float, like Python's time.time()); defaults to now. */
  now?: number;
  /** The upgraded checks of §5.4's last paragraph: signed redirect_uri, code_challenge, scope, resource, and jti replay. */
  upgraded?: boolean;
  /** jti → exp of tokens already redeemed (upgraded mode); the verifier adds to it. */
  seenJtis?: Map<string, number>;
  /** Registered clients (client_id → redirect URIs); when given, step 5 is checked too. */
  clients?: Map<string, string[]>;
}

const refuse = (status: 400 | 403, error: string, error_description: string): VerifyOutcome => ({ ok: false, status, error, error_description });

/** §5.4 for a request to `location` (the platform's Approve redirect), as the MCP on that Host would see it. */
export function verifyCallback(location: string, opts: VerifierOptions): VerifyOutcome {
  const { host, path, query } = splitCallbackUrl(location);
  if (path !== "/authorize/callback") return refuse(400, "invalid_request", `unexpected path ${path}`);
  const q = (name: string) => query.get(name) || undefined;

  // 1. Query.
  const token = q("approval_token");
  if (!token) return refuse(400, "missing_token", "approval_token is required");
  if (!q("client_id") || !q("redirect_uri") || !q("code_challenge")) {
    return refuse(400, "invalid_request", "client_id, redirect_uri and code_challenge are required");
  }

  // 2. Parse: split at the LAST "|".
  const bar = token.lastIndexOf("|");
  if (bar < 0) return refuse(403, "access_denied", "malformed approval token");
  const payloadText = token.slice(0, bar);
  const signature = token.slice(bar + 1);

  // 3. MAC over the raw bytes, constant-time; then JSON; then exp (missing counts as 0).
  const expected = crypto.createHmac("sha256", opts.key).update(Buffer.from(payloadText, "utf8")).digest("hex");
  const given = Buffer.from(signature, "utf8");
  const want = Buffer.from(expected, "utf8");
  if (given.length !== want.length || !crypto.timingSafeEqual(given, want)) {
    return refuse(403, "access_denied", "invalid approval token signature");
  }
  let payload: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(payloadText);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    payload = parsed as Record<string, unknown>;
  } catch {
    return refuse(403, "server_error", "approval token payload is not a JSON object");
  }
  const now = opts.now ?? Date.now() / 1000;
  const exp = typeof payload.exp === "number" ? payload.exp : 0;
  if (exp < now) return refuse(403, "access_denied", "approval token expired");

  // 4. Bindings: client and the wiki of the request Host (its first DNS label).
  if (payload.client_id !== q("client_id")) return refuse(403, "access_denied", "client_id mismatch");
  const hostSlug = host.split(":")[0].split(".")[0];
  if (payload.wiki_slug !== hostSlug) return refuse(403, "access_denied", "wiki_slug does not match host");

  // 5. Client registration (when the test supplies the MCP's registry).
  if (opts.clients) {
    const uris = opts.clients.get(q("client_id")!);
    if (!uris) return refuse(403, "unauthorized_client", "unknown client");
    if (!uris.includes(q("redirect_uri")!)) return refuse(403, "invalid_request", "redirect_uri not registered");
  }

  // Upgraded MCP: the signed copies must equal the query, and a jti is redeemed once.
  if (opts.upgraded) {
    for (const name of ["redirect_uri", "code_challenge", "scope", "resource"]) {
      const signed = typeof payload[name] === "string" && payload[name] !== "" ? payload[name] : undefined;
      if (signed !== q(name)) return refuse(403, "access_denied", `${name} does not match the approval`);
    }
    if (typeof payload.jti !== "string" || !payload.jti) return refuse(403, "access_denied", "approval token has no jti");
    const seen = opts.seenJtis ?? new Map<string, number>();
    for (const [jti, until] of seen) if (until < now) seen.delete(jti);
    if (seen.has(payload.jti)) return refuse(403, "access_denied", "approval token already used");
    seen.set(payload.jti, exp);
  }
  return { ok: true, payload };
}
