// MCP consent (auth.md §8, contracts.md §5, D1–D3, security.md #1–#9).
//
// The per-wiki MCP server (:8001) is the OAuth authorization server of MCP clients. It sends the
// browser here with the OAuth parameters and `wiki_slug`; on Approve we send it back to
// `{scheme}://{slug}.{D}/authorize/callback` with an approval token the MCP verifies byte for
// byte. Three secrets are in play and never mixed:
//   - the approval token: `<sorted compact JSON>|<hex HMAC-SHA256>` keyed with keys.consentKey
//     (SHA-256("consent:" + PEM text, CRLF→LF) or SHA-256("consent:" + CONSENT_SECRET));
//   - the consent form token (hidden field): signed with keys.consentFormKey (from SESSION_SECRET),
//     in a different format, so it can never pass as an approval token (security.md #5);
//   - the consent nonce: a single-use row in `consent_nonces`, bound to the user.
import crypto from "node:crypto";
import path from "node:path";
import { wikiUrl, type Config } from "./config.server";
import { signValue, unsignValue } from "./cookies.server";
import type { Db } from "./db.server";
import { identify, loginRedirectUrl, readCredential, type SessionUser } from "./identity.server";
import type { Platform } from "./platform.server";
import { isApprovedMember } from "./wiki-disk.server";

/** The OAuth parameters, in the order the approve redirect carries them (contracts.md §5.1). */
export const OAUTH_PARAMS = [
  "client_id",
  "redirect_uri",
  "code_challenge",
  "code_challenge_method",
  "state",
  "scope",
  "response_type",
  "resource",
] as const;
export type OAuthParam = (typeof OAUTH_PARAMS)[number];
/** The present (non-empty) parameters; the first three are required. */
export type OAuthParams = Partial<Record<OAuthParam, string>> & { client_id: string; redirect_uri: string; code_challenge: string };

export const CONSENT_PATH = "/auth/oauth/consent";
export const CONSENT_FORM_LIFETIME_SECONDS = 600;
export const APPROVAL_LIFETIME_SECONDS = 120;
export const NOT_ALLOWED_TITLE = "You can't connect apps to this wiki";

const WIKI_SLUG = /^[a-z0-9-]{1,63}$/;
const BLOCKED_REDIRECT_SCHEMES = new Set(["javascript:", "data:", "file:", "blob:", "vbscript:"]);
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A refusal: an /auth/* error page (or JSON), a login redirect, or the "not allowed" page. */
export interface ConsentFailure {
  ok: false;
  status: number;
  error: string;
  /** Set for "log in first": the relative /auth/login URL to redirect to (status 302). */
  login?: string;
  /** For the "Start Over" link, when the consent URL is known and intact. */
  returnTo?: string;
  notAllowed?: NotAllowedView;
  /** The signed-in user's DID, once known (for the request log). */
  did?: string;
}

export type NotAllowedView = {
  kind: "not_allowed";
  wikiHost: string;
  handle: string;
};

/** Everything the consent page shows. */
export interface ConsentView {
  clientId: string;
  /** `mcp_oauth_clients.client_name`: declared by the client itself, shown as such. */
  clientName: string | null;
  redirectTarget: string;
  wikiHost: string;
  wikiName: string;
  scopes: string[];
  handle: string;
  consentToken: string;
}

export interface DeniedView {
  clientId: string;
  clientName: string | null;
  wikiHost: string;
}

export type StartResult = { ok: true; did: string; view: ConsentView } | ConsentFailure;
export type DecideResult =
  /**
   * A redirect. `nextHost` is where `location` goes (for Approve the wiki host, whose MCP then
   * sends the browser on to `finalTarget`, the client's redirect target); both fit for display.
   */
  | { ok: true; did: string; decision: "approve" | "deny"; location: string; nextHost: string; finalTarget: string }
  | { ok: true; did: string; decision: "deny"; location?: undefined; denied: DeniedView }
  | ConsentFailure;

const fail = (status: number, error: string, extra: Partial<ConsentFailure> = {}): ConsentFailure => ({
  ok: false,
  status,
  error,
  ...extra,
});

// ---------------------------------------------------------------------------
// Parameters (auth.md §8.2 checks 1–7)
// ---------------------------------------------------------------------------

/** Checks 1–7 of auth.md §8.2, in order; empty values count as absent. */
export function parseConsentQuery(
  query: URLSearchParams,
): { ok: true; params: OAuthParams; wikiSlug: string } | ConsentFailure {
  const get = (name: string) => query.get(name) || undefined;
  const clientId = get("client_id");
  const redirectUri = get("redirect_uri");
  if (!clientId || !redirectUri) return fail(400, "Missing required OAuth parameters (client_id, redirect_uri)");
  const rawSlug = get("wiki_slug");
  if (!rawSlug) return fail(400, "Missing wiki_slug parameter");
  const wikiSlug = rawSlug.toLowerCase();
  if (!WIKI_SLUG.test(wikiSlug)) return fail(400, "Invalid wiki_slug parameter");
  const codeChallenge = get("code_challenge");
  if (!codeChallenge) return fail(400, "Missing code_challenge parameter");
  const method = get("code_challenge_method");
  if (method !== undefined && method !== "S256") return fail(400, "Unsupported code_challenge_method");
  const responseType = get("response_type");
  if (responseType !== undefined && responseType !== "code") return fail(400, "Unsupported response_type");
  if (!isAcceptableRedirectUri(redirectUri)) return fail(400, "Invalid redirect_uri");

  const params = { client_id: clientId, redirect_uri: redirectUri, code_challenge: codeChallenge } as OAuthParams;
  for (const name of OAUTH_PARAMS) {
    const value = get(name);
    if (value !== undefined) params[name] = value;
  }
  return { ok: true, params, wikiSlug };
}

/** An absolute URL whose scheme is not one a browser would run or read locally (check 7). */
export function isAcceptableRedirectUri(value: string): boolean {
  if (!URL.canParse(value)) return false;
  return !BLOCKED_REDIRECT_SCHEMES.has(new URL(value).protocol);
}

/** The relative consent URL for these parameters (the "Start Over" target after a POST failure). */
export function consentPath(params: OAuthParams, wikiSlug: string): string {
  return `${CONSENT_PATH}?${formEncode(params, [["wiki_slug", wikiSlug]])}`;
}

/** The present OAuth parameters in their fixed order, then `extra`, form-urlencoded. */
function formEncode(params: Partial<Record<OAuthParam, string>>, extra: Array<[string, string]> = []): string {
  const query = new URLSearchParams();
  for (const name of OAUTH_PARAMS) {
    const value = params[name];
    if (value) query.append(name, value);
  }
  for (const [name, value] of extra) query.append(name, value);
  return query.toString(); // application/x-www-form-urlencoded: space → "+", "|" → "%7C"
}

// ---------------------------------------------------------------------------
// What the page shows
// ---------------------------------------------------------------------------

/**
 * Where Approve (then the MCP) finally sends the browser, as a person should read it:
 * the host of an https URI, "an app on this computer (localhost:{port})" for loopback http,
 * and otherwise the scheme and host (custom app schemes, plain http).
 */
export function redirectTarget(redirectUri: string): string {
  if (!URL.canParse(redirectUri)) return redirectUri;
  const url = new URL(redirectUri);
  if (url.protocol === "https:") return url.host;
  if (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname)) return `an app on this computer (${url.host})`;
  return url.host ? `${url.protocol}//${url.host}` : url.protocol;
}

/**
 * Client-supplied text made safe to show (security.md #9): control characters, bidi overrides
 * and isolates (U+202E …), zero-width and other invisible format characters, and line/paragraph
 * separators are shown as visible `\uXXXX` escapes, so they can neither reorder nor hide what
 * the person reads. Everything else is kept as it is.
 */
export function visibleText(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (ch) => {
    const cp = ch.codePointAt(0)!;
    const hex = cp.toString(16).toUpperCase();
    return cp > 0xffff ? `\\u{${hex}}` : `\\u${hex.padStart(4, "0")}`;
  });
}

/** `{slug}.{D}` as shown on the pages. */
export const wikiHost = (config: Config, slug: string): string => `${slug}.${config.domain}`;

export const scopeList = (scope: string | undefined): string[] => (scope ?? "").split(/\s+/).filter(Boolean);

/** The client's self-declared name, for display (visibleText). */
async function clientName(db: Db, clientId: string): Promise<string | null> {
  const row = await db.mcpOauthClient.findUnique({ where: { client_id: clientId }, select: { client_name: true } });
  const name = row?.client_name?.trim();
  return name ? visibleText(name) : null;
}

// ---------------------------------------------------------------------------
// Who may consent (D2)
// ---------------------------------------------------------------------------

/** `wiki.db` lives beside `repo/`: the wiki directory is the parent of `wikis.repo_path`. */
export const wikiDbPathForRepo = (repoPath: string): string => path.join(path.dirname(repoPath), "wiki.db");

export type WikiAccess =
  | { ok: true; wiki: { slug: string; display_name: string } }
  | { ok: false; reason: "wiki_not_found" | "not_allowed" };

/**
 * D2: the wiki exists, and the user is its owner or an admin/approved user in its wiki.db
 * (`"user"` row with email `@<handle>`). An unreadable wiki.db counts as "not a member".
 */
export async function checkWikiAccess(platform: Platform, user: SessionUser, slug: string, reqId?: string): Promise<WikiAccess> {
  const wiki = platform.reads.wikiBySlug(slug);
  if (!wiki) return { ok: false, reason: "wiki_not_found" };
  if (wiki.owner_did === user.did) return { ok: true, wiki };
  const dbPath = wikiDbPathForRepo(wiki.repo_path);
  const membership = isApprovedMember(dbPath, user.handle, platform.log);
  if (membership === "member") return { ok: true, wiki };
  if (membership === "unreadable") {
    platform.log.warn({ reqId, slug, dbPath }, "consent: wiki.db unreadable; the user counts as not a member");
  }
  return { ok: false, reason: "not_allowed" };
}

function accessFailure(platform: Platform, access: WikiAccess & { ok: false }, user: SessionUser, slug: string): ConsentFailure {
  if (access.reason === "wiki_not_found") return fail(403, "Wiki not found", { did: user.did });
  return fail(403, NOT_ALLOWED_TITLE, {
    did: user.did,
    notAllowed: { kind: "not_allowed", wikiHost: wikiHost(platform.config, slug), handle: user.handle },
  });
}

// ---------------------------------------------------------------------------
// Consent nonces (consent_nonces: nonce PK, user_did, expires_at unix seconds)
// ---------------------------------------------------------------------------

export async function createNonce(db: Db, userDid: string, now = nowSeconds()): Promise<string> {
  const nonce = crypto.randomBytes(16).toString("hex");
  await db.consentNonce.create({ data: { nonce, user_did: userDid, expires_at: now + CONSENT_FORM_LIFETIME_SECONDS } });
  return nonce;
}

/** Atomic single use: one DELETE that matches only a present, unexpired nonce of this user. */
export async function consumeNonce(db: Db, nonce: string, userDid: string, now = nowSeconds()): Promise<boolean> {
  const { count } = await db.consentNonce.deleteMany({ where: { nonce, user_did: userDid, expires_at: { gte: now } } });
  return count === 1;
}

/** For housekeeping: removes expired nonces and returns how many. */
export async function purgeExpiredNonces(db: Db, now = nowSeconds()): Promise<number> {
  const { count } = await db.consentNonce.deleteMany({ where: { expires_at: { lt: now } } });
  return count;
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/** The hidden `consent_token`: the request as the page saw it, bound to user and nonce. */
export interface ConsentFormPayload extends OAuthParams {
  wiki_slug: string;
  user_did: string;
  csrf_nonce?: string;
  exp: number;
}

/** `<base64url JSON>.<base64url HMAC>` under the form key: never an approval token's shape or key. */
export function signConsentForm(formKey: Buffer, payload: ConsentFormPayload): string {
  return signValue(formKey, JSON.stringify(payload));
}

/** The payload when the MAC, the JSON shape and `exp` all hold; otherwise undefined. */
export function verifyConsentForm(formKey: Buffer, token: string, now = nowSeconds()): ConsentFormPayload | undefined {
  const text = unsignValue(formKey, token);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const p = value as Record<string, unknown>;
  if (typeof p.exp !== "number" || p.exp < now) return undefined;
  for (const name of ["client_id", "redirect_uri", "code_challenge", "wiki_slug", "user_did"]) {
    if (typeof p[name] !== "string" || !p[name]) return undefined;
  }
  for (const name of [...OAUTH_PARAMS, "csrf_nonce"]) {
    if (p[name] !== undefined && typeof p[name] !== "string") return undefined;
  }
  if (!WIKI_SLUG.test(p.wiki_slug as string)) return undefined;
  return p as unknown as ConsentFormPayload;
}

/** The approval token's payload (contracts.md §5.2). */
export interface ApprovalPayload {
  user_did: string;
  wiki_slug: string;
  client_id: string;
  exp: number;
  redirect_uri: string;
  code_challenge: string;
  scope?: string;
  resource?: string;
  jti: string;
}

/** `<compact JSON, keys sorted>|<64 lowercase hex HMAC-SHA256>`; the MCP MACs the exact bytes. */
export function signApprovalToken(consentKey: Buffer, payload: ApprovalPayload): string {
  const entries = Object.entries(payload).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const json = JSON.stringify(Object.fromEntries(entries));
  return `${json}|${crypto.createHmac("sha256", consentKey).update(json, "utf8").digest("hex")}`;
}

// ---------------------------------------------------------------------------
// Redirect targets
// ---------------------------------------------------------------------------

/**
 * Approve (contracts.md §5.1 step 3): `{scheme}://{slug}.{D}/authorize/callback?` + the present
 * parameters in their fixed order + `approval_token`. Built as a string: `{D}` may be an IP in
 * development, where new URL() would refuse the host.
 */
export function approvalRedirectUrl(config: Config, slug: string, params: OAuthParams, approvalToken: string): string {
  return `${wikiUrl(config, slug)}/authorize/callback?${formEncode(params, [["approval_token", approvalToken]])}`;
}

/** `mcp_oauth_clients.redirect_uris`: a JSON array of strings, else whitespace/comma separated. */
export function parseRedirectUris(text: string): string[] {
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.every((u) => typeof u === "string")) return parsed;
  } catch {
    // not JSON: the separated form below
  }
  return text.split(/[\s,]+/).filter(Boolean);
}

/** The wiki's MCP issuer (MCP_ISSUER_TEMPLATE), sent as `iss` on a deny redirect. */
export const mcpIssuer = (config: Config, slug: string): string =>
  config.mcpIssuerTemplate.replaceAll("{slug}", slug).replaceAll("{domain}", config.domain);

/** Deny (D3): `redirect_uri` + `?`/`&` + `error=access_denied[&state=…]&iss=…`, form-urlencoded. */
export function denyRedirectUrl(redirectUri: string, state: string | undefined, iss: string): string {
  const query = new URLSearchParams({ error: "access_denied" });
  if (state) query.append("state", state);
  query.append("iss", iss);
  return `${redirectUri}${redirectUri.includes("?") ? "&" : "?"}${query}`;
}

/**
 * The deny target: only a URI registered for this client in mcp_oauth_clients, else none. A
 * registered value that is not an ASCII URI (RFC 3986) cannot be a Location header: the page.
 */
export async function registeredDenyTarget(db: Db, clientId: string, redirectUri: string): Promise<boolean> {
  if (!/^[\x21-\x7e]+$/.test(redirectUri)) return false;
  const client = await db.mcpOauthClient.findUnique({ where: { client_id: clientId }, select: { redirect_uris: true } });
  return client !== null && parseRedirectUris(client.redirect_uris).includes(redirectUri);
}

// ---------------------------------------------------------------------------
// The two requests
// ---------------------------------------------------------------------------

/** GET /auth/oauth/consent (auth.md §8.2): the page to render, or why not. */
export async function startConsent(platform: Platform, request: Request, reqId?: string): Promise<StartResult> {
  const url = new URL(request.url);
  const parsed = parseConsentQuery(url.searchParams);
  if (!parsed.ok) return parsed;
  const { params, wikiSlug } = parsed;

  const identity = await identify(platform, request);
  if (identity.kind !== "user") {
    // D5: the whole consent URL survives the login round trip, percent-encoded.
    return fail(302, "Not signed in", { login: loginRedirectUrl(request) });
  }
  const user = identity.user;
  const access = await checkWikiAccess(platform, user, wikiSlug, reqId);
  if (!access.ok) return accessFailure(platform, access, user, wikiSlug);

  const now = nowSeconds();
  const csrfNonce = await createNonce(platform.db, user.did, now);
  const consentToken = signConsentForm(platform.keys.consentFormKey, {
    ...params,
    wiki_slug: wikiSlug,
    user_did: user.did,
    csrf_nonce: csrfNonce,
    exp: now + CONSENT_FORM_LIFETIME_SECONDS,
  });
  return {
    ok: true,
    did: user.did,
    view: {
      clientId: visibleText(params.client_id),
      clientName: await clientName(platform.db, params.client_id),
      redirectTarget: visibleText(redirectTarget(params.redirect_uri)),
      wikiHost: wikiHost(platform.config, wikiSlug),
      wikiName: access.wiki.display_name,
      scopes: scopeList(params.scope).map(visibleText),
      handle: user.handle,
      consentToken,
    },
  };
}

/** POST /auth/oauth/consent (auth.md §8.3), checks 1–9 in order, then Approve or Deny. */
export async function decideConsent(
  platform: Platform,
  request: Request,
  form: { consentToken: string | undefined; action: string | undefined },
  reqId?: string,
): Promise<DecideResult> {
  const { config, db, keys, log } = platform;
  if (!form.consentToken) return fail(400, "Missing consent token");
  const now = nowSeconds();
  const token = verifyConsentForm(keys.consentFormKey, form.consentToken, now);
  if (!token) return fail(400, "Invalid or expired consent token");

  const params = pickParams(token);
  const slug = token.wiki_slug;
  const returnTo = consentPath(params, slug);
  if (readCredential(request, false).source === "none") return fail(401, "Not authenticated", { returnTo });
  const identity = await identify(platform, request);
  if (identity.kind !== "user") return fail(401, "Invalid platform token", { returnTo });
  const user = identity.user;
  const did = user.did;
  if (did !== token.user_did) return fail(403, "User mismatch", { did, returnTo });
  if (!token.csrf_nonce) return fail(403, "Missing CSRF nonce", { did, returnTo });
  if (!(await consumeNonce(db, token.csrf_nonce, did, now))) return fail(403, "Invalid CSRF nonce", { did, returnTo });

  const access = await checkWikiAccess(platform, user, slug, reqId);
  if (!access.ok) return accessFailure(platform, access, user, slug);
  if (form.action !== "approve" && form.action !== "deny") return fail(400, "Invalid action", { did, returnTo });

  const target = redirectTarget(params.redirect_uri);
  if (form.action === "approve") {
    const jti = crypto.randomBytes(16).toString("base64url");
    const approvalToken = signApprovalToken(keys.consentKey, {
      user_did: did,
      wiki_slug: slug,
      client_id: params.client_id,
      exp: now + APPROVAL_LIFETIME_SECONDS,
      redirect_uri: params.redirect_uri,
      code_challenge: params.code_challenge,
      scope: params.scope,
      resource: params.resource,
      jti,
    });
    log.info({ reqId, did, slug, client_id: params.client_id, redirect_host: target, jti }, "consent approved");
    return {
      ok: true,
      did,
      decision: "approve",
      location: approvalRedirectUrl(config, slug, params, approvalToken),
      nextHost: wikiHost(config, slug),
      finalTarget: visibleText(target),
    };
  }

  const registered = await registeredDenyTarget(db, params.client_id, params.redirect_uri);
  log.info({ reqId, did, slug, client_id: params.client_id, redirect_host: target, redirected: registered }, "consent denied");
  if (registered) {
    return {
      ok: true,
      did,
      decision: "deny",
      location: denyRedirectUrl(params.redirect_uri, params.state, mcpIssuer(config, slug)),
      nextHost: visibleText(target),
      finalTarget: visibleText(target),
    };
  }
  return {
    ok: true,
    did,
    decision: "deny",
    denied: { clientId: visibleText(params.client_id), clientName: await clientName(db, params.client_id), wikiHost: wikiHost(config, slug) },
  };
}

function pickParams(token: ConsentFormPayload): OAuthParams {
  const params = { client_id: token.client_id, redirect_uri: token.redirect_uri, code_challenge: token.code_challenge } as OAuthParams;
  for (const name of OAUTH_PARAMS) {
    if (token[name]) params[name] = token[name];
  }
  return params;
}
