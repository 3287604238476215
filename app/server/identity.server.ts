// The ONE authentication rule (auth.md §2, D4): a valid platform JWT (signature, alg, kid, iss,
// aud, exp, sub) AND a users row for its subject. Every route that needs a user goes through here.
import { redirect } from "react-router";
import { MAX_PLATFORM_TOKENS, readPlatformTokens } from "./cookies.server";
import { jwtSettings, verifyPlatformJwt, type PlatformClaims } from "./jwt.server";
import type { Platform } from "./platform.server";
import { jsonError } from "./responses.server";

export interface SessionUser {
  did: string;
  handle: string;
  display_name: string | null;
  created_at: string;
  is_admin: boolean;
}

export type Identity =
  | { kind: "user"; user: SessionUser; claims: PlatformClaims }
  | { kind: "expired"; claims: PlatformClaims }
  | { kind: "unknown_user"; claims: PlatformClaims }
  | { kind: "none" }
  | { kind: "invalid"; reason: string };

/** Where the credential came from; API rules differ for a malformed Authorization header. */
export type Credential =
  | { source: "bearer"; token: string }
  | { source: "cookie"; tokens: string[] }
  | { source: "none" }
  | { source: "bad_header" };

export function readCredential(request: Request, allowBearer: boolean): Credential {
  const header = request.headers.get("authorization");
  if (allowBearer && header !== null) {
    const m = /^bearer\s+(\S+)\s*$/i.exec(header);
    return m ? { source: "bearer", token: m[1] } : { source: "bad_header" };
  }
  const tokens = readPlatformTokens(request);
  return tokens.length ? { source: "cookie", tokens } : { source: "none" };
}

/**
 * Several platform_token values in one Cookie header (one planted for `.{D}` by a wiki
 * subdomain, security.md #42): a value that does not verify is ignored, so it cannot hide the
 * real one; two different users are ambiguous and authenticate nobody, so a planted token
 * never turns the victim's request into the attacker's.
 */
async function identifyCookies(platform: Platform, tokens: string[]): Promise<Identity> {
  if (tokens.length === 1) return identifyToken(platform, tokens[0]);
  if (tokens.length > MAX_PLATFORM_TOKENS) return { kind: "invalid", reason: "too many platform_token cookies" };
  const results = await Promise.all(tokens.map((token) => identifyToken(platform, token)));
  const users = results.filter((r) => r.kind === "user");
  if (new Set(users.map((r) => r.user.did)).size > 1) return { kind: "invalid", reason: "platform_token cookies of different users" };
  return users[0] ?? results.find((r) => r.kind !== "invalid") ?? results[0];
}

async function identifyCredential(platform: Platform, credential: Credential): Promise<Identity> {
  switch (credential.source) {
    case "none":
      return { kind: "none" };
    case "bad_header":
      return { kind: "invalid", reason: "bad authorization header" };
    case "bearer":
      return identifyToken(platform, credential.token);
    case "cookie":
      return identifyCookies(platform, credential.tokens);
  }
}

export async function identifyToken(platform: Platform, token: string): Promise<Identity> {
  const result = await verifyPlatformJwt(token, platform.keys.signing, jwtSettings(platform.config));
  if (result.status === "invalid") return { kind: "invalid", reason: result.reason };
  if (result.status === "expired") return { kind: "expired", claims: result.claims };
  const row = platform.reads.userByDid(result.claims.sub);
  if (!row) return { kind: "unknown_user", claims: result.claims };
  return {
    kind: "user",
    claims: result.claims,
    user: {
      did: row.did,
      handle: row.handle,
      display_name: row.display_name,
      created_at: row.created_at,
      is_admin: platform.config.adminDids.has(row.did),
    },
  };
}

// The layout and the page of one GET each ask; the answer depends only on the request's headers,
// so it is worked out once (a JWT verification and a users lookup). Never across a write: an
// action may change the answer for the loaders that follow it.
const identities = new WeakMap<Request, Map<boolean, Promise<Identity>>>();

/** Identity from the cookie (pages) or, on /api/* only, from a Bearer header that wins over it. */
export function identify(platform: Platform, request: Request, allowBearer = false): Promise<Identity> {
  if (request.method !== "GET" && request.method !== "HEAD") return identifyRequest(platform, request, allowBearer);
  let known = identities.get(request);
  if (!known) identities.set(request, (known = new Map()));
  let identity = known.get(allowBearer);
  if (!identity) known.set(allowBearer, (identity = identifyRequest(platform, request, allowBearer)));
  return identity;
}

async function identifyRequest(platform: Platform, request: Request, allowBearer: boolean): Promise<Identity> {
  return identifyCredential(platform, readCredential(request, allowBearer));
}

/** `/auth/login?return_to=<encoded path+query>` for the request (D5: relative, always encoded). */
export function loginRedirectUrl(request: Request, returnPath?: string): string {
  const url = new URL(request.url);
  const target = returnPath ?? url.pathname.replace(/\.data$/, "") + url.search.replace(/([?&])_routes=[^&]*&?/, "$1").replace(/[?&]$/, "");
  return "/auth/login?return_to=" + encodeURIComponent(target);
}

/** For pages: the signed-in user, or a thrown redirect to login that returns here afterwards. */
export async function requireUser(platform: Platform, request: Request): Promise<SessionUser> {
  const identity = await identify(platform, request);
  if (identity.kind === "user") return identity.user;
  const url = new URL(request.url);
  // A non-GET returns to the page itself (management.md §2).
  throw redirect(loginRedirectUrl(request, request.method === "GET" ? undefined : url.pathname.replace(/\.data$/, "")));
}

/** For /api/*: the signed-in user, or a thrown 401 JSON response (management.md §4.1). */
export async function requireApiUser(platform: Platform, request: Request): Promise<SessionUser> {
  const credential = readCredential(request, true);
  let message: string;
  if (credential.source === "none") message = "Not authenticated";
  else if (credential.source === "bad_header") message = "Invalid Authorization header format";
  else {
    const identity = await identifyCredential(platform, credential);
    if (identity.kind === "user") return identity.user;
    message = identity.kind === "expired" ? "Token expired" : identity.kind === "unknown_user" ? "User not found" : "Invalid token";
  }
  throw jsonError(message, 401, { "WWW-Authenticate": `Bearer realm="${platform.config.domain}"` });
}
