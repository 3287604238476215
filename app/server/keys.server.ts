// Key material: the RS256 platform signing key (contracts.md §3), the ES256 ATProto client key
// (§4), SESSION_SECRET, and the HMAC keys derived from them (§5.3, auth.md §8.1).
// Development generates whatever is missing into DATA_DIR (mode 0600); production refuses to
// start without it (D17), with a message naming the variable.
import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { calculateJwkThumbprint, type JWK } from "jose";
import type { Config } from "./config.server";

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyError";
  }
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** RFC 7638 SHA-256 thumbprint of the public key, base64url. */
  kid: string;
  /** The public JWK published at /.well-known/jwks.json. */
  publicJwk: { kty: "RSA"; use: "sig"; alg: "RS256"; kid: string; n: string; e: string };
  /** The file's text, CRLF/CR → LF: the input of the consent key derivation. */
  pemText: string;
}

export interface ClientJwk {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
  d: string;
  kid: string;
  use?: string;
  alg?: string;
}

export interface Keys {
  signing: SigningKey;
  clientJwk: ClientJwk;
  sessionSecret: string;
  /** HMAC-SHA256 key of approval tokens (contracts.md §5.3), shared with the MCP server. */
  consentKey: Buffer;
  /** HMAC-SHA256 key of consent form tokens: never the approval key (security.md #5). */
  consentFormKey: Buffer;
  /** HMAC-SHA256 key of the platform's signed cookies (flash, login binding). */
  cookieKey: Buffer;
}

const sha256 = (text: string) => crypto.createHash("sha256").update(text, "utf8").digest();

/** Python text mode's newline translation, which the MCP server applies when it reads the PEM. */
export function normalizeNewlines(text: string): string {
  return text.replace(/\r\n?/g, "\n");
}

export function deriveConsentKey(pemText: string, consentSecret?: string): Buffer {
  return sha256("consent:" + (consentSecret ?? normalizeNewlines(pemText)));
}

function writeSecretFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // wx: never overwrite a key another process wrote in the meantime.
  fs.writeFileSync(file, content, { mode: 0o600, flag: "wx" });
}

function readIfExists(file: string, variable: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new KeyError(`${variable}: cannot read ${file}: ${(err as Error).message}`);
  }
}

export async function parseSigningKey(pem: string, source = "SIGNING_KEY_PATH"): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = crypto.createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new KeyError(`${source}: not a readable PEM private key (${(err as Error).message})`);
  }
  if (privateKey.asymmetricKeyType !== "rsa") {
    throw new KeyError(`${source}: an RSA private key is required, found ${privateKey.asymmetricKeyType}`);
  }
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048) throw new KeyError(`${source}: the RSA key has ${bits} bits; at least 2048 are required`);
  const publicKey = crypto.createPublicKey(privateKey);
  const jwk = publicKey.export({ format: "jwk" }) as { n: string; e: string };
  const kid = await calculateJwkThumbprint({ kty: "RSA", n: jwk.n, e: jwk.e }, "sha256");
  return {
    privateKey,
    publicKey,
    kid,
    publicJwk: { kty: "RSA", use: "sig", alg: "RS256", kid, n: jwk.n, e: jwk.e },
    pemText: normalizeNewlines(pem),
  };
}

export function parseClientJwk(text: string, source = "CLIENT_JWK_PATH"): ClientJwk {
  let jwk: Record<string, unknown>;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new KeyError(`${source}: not valid JSON`);
  }
  if (jwk.kty === "RSA")
    throw new KeyError(`${source}: holds an RSA key; the ATProto client key must be an EC P-256 (ES256) private JWK`);
  if (jwk.kty !== "EC" || jwk.crv !== "P-256")
    throw new KeyError(`${source}: the ATProto client key must be an EC P-256 (ES256) private JWK`);
  for (const member of ["x", "y", "d", "kid"] as const) {
    if (typeof jwk[member] !== "string" || !jwk[member]) throw new KeyError(`${source}: the JWK lacks "${member}"`);
  }
  if (jwk.alg !== undefined && jwk.alg !== "ES256") throw new KeyError(`${source}: alg must be ES256`);
  if (jwk.use !== undefined && jwk.use !== "sig") throw new KeyError(`${source}: use must be "sig"`);
  try {
    crypto.createPrivateKey({ key: jwk as JWK as crypto.JsonWebKey, format: "jwk" });
  } catch (err) {
    throw new KeyError(`${source}: not a usable EC private key (${(err as Error).message})`);
  }
  return jwk as unknown as ClientJwk;
}

function generateSigningPem(): string {
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  return privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

function generateClientJwk(): string {
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" });
  const kid = crypto.randomBytes(12).toString("base64url");
  return JSON.stringify({ ...jwk, kid, use: "sig", alg: "ES256" }, null, 2) + "\n";
}

/** Read a key file, generating it first in development when it is missing. */
function loadOrGenerate(config: Config, file: string, variable: string, generate: () => string): string {
  const existing = readIfExists(file, variable);
  if (existing !== undefined) return existing;
  if (config.production) throw new KeyError(`${variable}: no file at ${file} (required in production)`);
  writeSecretFile(file, generate());
  return fs.readFileSync(file, "utf8");
}

export async function loadKeys(config: Config): Promise<Keys> {
  const signing = await parseSigningKey(
    loadOrGenerate(config, config.signingKeyPath, "SIGNING_KEY_PATH", generateSigningPem),
  );
  const clientJwk = parseClientJwk(loadOrGenerate(config, config.clientJwkPath, "CLIENT_JWK_PATH", generateClientJwk));
  const sessionSecret =
    config.sessionSecret ??
    loadOrGenerate(config, path.join(config.dataDir, "session_secret"), "SESSION_SECRET", () =>
      crypto.randomBytes(48).toString("base64url"),
    ).trim();
  return {
    signing,
    clientJwk,
    sessionSecret,
    consentKey: deriveConsentKey(signing.pemText, config.consentSecret),
    consentFormKey: sha256("consent-form:" + sessionSecret),
    cookieKey: sha256("cookie:" + sessionSecret),
  };
}

/** The client key's public half, as published in the client metadata (never `d`). */
export function publicClientJwk(jwk: ClientJwk) {
  return { kty: "EC" as const, crv: "P-256" as const, x: jwk.x, y: jwk.y, kid: jwk.kid, use: "sig" as const, alg: "ES256" as const };
}
