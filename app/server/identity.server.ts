// The ONE authentication rule (auth.md §2, D4): a valid platform JWT (signature, alg, kid, iss,
// aud, exp, sub) AND a users row for its subject. Every route that needs a user goes through here.
import { redirect } from "react-router";
import { PLATFORM_COOKIE, readCookie } from "./cookies.server";
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
export type Credential = { source: "cookie" | "bearer"; token: string } | { source: "none" } | { source: "bad_header" };

export function readCredential(request: Request, allowBearer: boolean): Credential {
  const header = request.headers.get("authorization");
  if (allowBearer && header !== null) {
    const m = /^bearer\s+(\S+)\s*$/i.exec(header);
    return m ? { source: "bearer", token: m[1] } : { source: "bad_header" };
  }
  const cookie = readCookie(request, PLATFORM_COOKIE);
  return cookie ? { source: "cookie", token: cookie } : { source: "none" };
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
  const credential = readCredential(request, allowBearer);
  if (credential.source === "none") return { kind: "none" };
  if (credential.source === "bad_header") return { kind: "invalid", reason: "bad authorization header" };
  return identifyToken(platform, credential.token);
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
    const identity = await identifyToken(platform, credential.token);
    if (identity.kind === "user") return identity.user;
    message = identity.kind === "expired" ? "Token expired" : identity.kind === "unknown_user" ? "User not found" : "Invalid token";
  }
  throw jsonError(message, 401, { "WWW-Authenticate": `Bearer realm="${platform.config.domain}"` });
}
