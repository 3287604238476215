// The platform JWT (contracts.md §2, D4): RS256 only, `kid` = key thumbprint, `exp` required.
// The verifier returns valid / expired / invalid; "expired" means the signature and every other
// claim are good and only `exp` has passed (the login page pre-fills the handle from it).
import { compactVerify, decodeProtectedHeader, SignJWT } from "jose";
import type { Config } from "./config.server";
import type { SigningKey } from "./keys.server";

export const JWT_LIFETIME_SECONDS = 86_400;

export interface PlatformClaims {
  sub: string;
  handle: string;
  name: string;
  iss: string;
  aud: string | string[];
  iat?: number;
  exp: number;
}

export type JwtResult =
  | { status: "valid"; claims: PlatformClaims }
  | { status: "expired"; claims: PlatformClaims }
  | { status: "invalid"; reason: string };

export interface JwtSettings {
  issuer: string;
  audience: string;
}

export const jwtSettings = (config: Config): JwtSettings => ({ issuer: config.jwtIssuer, audience: config.jwtAudience });

export async function issuePlatformJwt(
  key: SigningKey,
  settings: JwtSettings,
  subject: { did: string; handle: string; name: string },
  now = Math.floor(Date.now() / 1000),
): Promise<string> {
  return new SignJWT({ handle: subject.handle, name: subject.name })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: key.kid })
    .setSubject(subject.did)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + JWT_LIFETIME_SECONDS)
    .sign(key.privateKey);
}

const invalid = (reason: string): JwtResult => ({ status: "invalid", reason });

/**
 * Tokens whose RS256 signature this key has verified, with their payload text: a browser or an
 * agent sends the same token on every request, and the RSA verification is most of what
 * authentication costs. Only the signature fact is kept; every claim is checked again against
 * the clock on every call. Bounded; a full cache starts over.
 */
const verifiedSignatures = new WeakMap<SigningKey, Map<string, string>>();
const MAX_VERIFIED = 1024;

export async function verifyPlatformJwt(
  token: string,
  key: SigningKey,
  settings: JwtSettings,
  now = Math.floor(Date.now() / 1000),
): Promise<JwtResult> {
  if (typeof token !== "string" || token.split(".").length !== 3) return invalid("malformed");
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return invalid("malformed header");
  }
  // Only RS256; keys named in the header (jwk, jku, x5u) are never used.
  if (header.alg !== "RS256") return invalid(`alg ${String(header.alg)}`);
  if (header.kid !== undefined && header.kid !== key.kid) return invalid("unknown kid");
  let verified = verifiedSignatures.get(key);
  if (!verified) verifiedSignatures.set(key, (verified = new Map()));
  let payload = verified.get(token);
  if (payload === undefined) {
    try {
      payload = new TextDecoder().decode((await compactVerify(token, key.publicKey, { algorithms: ["RS256"] })).payload);
    } catch {
      return invalid("bad signature");
    }
    if (verified.size >= MAX_VERIFIED) verified.clear();
    verified.set(token, payload);
  }
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(payload);
  } catch {
    return invalid("payload is not JSON");
  }
  if (!claims || typeof claims !== "object" || Array.isArray(claims)) return invalid("payload is not an object");
  if (claims.iss !== settings.issuer) return invalid("wrong iss");
  const aud = claims.aud;
  if (!(aud === settings.audience || (Array.isArray(aud) && aud.includes(settings.audience)))) return invalid("wrong aud");
  if (claims.iat !== undefined && (typeof claims.iat !== "number" || claims.iat > now + 60)) return invalid("bad iat");
  if (typeof claims.sub !== "string" || !claims.sub.startsWith("did:")) return invalid("bad sub");
  if (typeof claims.exp !== "number" || !Number.isFinite(claims.exp)) return invalid("missing exp");
  const typed = claims as unknown as PlatformClaims;
  if (typeof typed.handle !== "string") typed.handle = "";
  if (typeof typed.name !== "string") typed.name = typed.handle;
  return claims.exp > now ? { status: "valid", claims: typed } : { status: "expired", claims: typed };
}
