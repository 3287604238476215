import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "./config.server";
import { deriveConsentKey, KeyError, loadKeys, parseClientJwk, parseSigningKey, publicClientJwk } from "./keys.server";

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "keys-"));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const rsa = (bits = 2048) => crypto.generateKeyPairSync("rsa", { modulusLength: bits }).privateKey;
const mode = (f: string) => fs.statSync(f).mode & 0o777;
const prodEnv = (dir: string, extra: Record<string, string> = {}) => ({
  NODE_ENV: "production",
  SESSION_SECRET: "x".repeat(40),
  SIGNING_KEY_PATH: path.join(dir, "signing_key.pem"),
  CLIENT_JWK_PATH: path.join(dir, "client_jwk.json"),
  ...extra,
});

describe("development key generation (D17)", () => {
  it("generates the signing key, client JWK and session secret into DATA_DIR with mode 0600", async () => {
    const dir = tmp();
    const keys = await loadKeys(loadConfig({ DATA_DIR: dir }));
    for (const f of ["signing_key.pem", "client_jwk.json", "session_secret"]) expect(mode(path.join(dir, f))).toBe(0o600);
    const pem = fs.readFileSync(path.join(dir, "signing_key.pem"), "utf8");
    expect(pem).toContain("BEGIN PRIVATE KEY"); // PKCS#8
    expect(keys.signing.privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(keys.clientJwk).toMatchObject({ kty: "EC", crv: "P-256", use: "sig", alg: "ES256" });
    expect(keys.clientJwk.kid).toBeTruthy();
    expect(keys.sessionSecret.length).toBeGreaterThanOrEqual(32);
  });

  it("reuses existing keys on the next start", async () => {
    const dir = tmp();
    const a = await loadKeys(loadConfig({ DATA_DIR: dir }));
    const b = await loadKeys(loadConfig({ DATA_DIR: dir }));
    expect(b.signing.kid).toBe(a.signing.kid);
    expect(b.clientJwk.kid).toBe(a.clientJwk.kid);
    expect(b.sessionSecret).toBe(a.sessionSecret);
  });
});

describe("production refuses to start without keys", () => {
  it("names SIGNING_KEY_PATH when the signing key is missing", async () => {
    await expect(loadKeys(loadConfig(prodEnv(tmp())))).rejects.toThrow(/SIGNING_KEY_PATH/);
  });

  it("names CLIENT_JWK_PATH when the client key is missing", async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "signing_key.pem"), rsa().export({ format: "pem", type: "pkcs8" }));
    await expect(loadKeys(loadConfig(prodEnv(dir)))).rejects.toThrow(/CLIENT_JWK_PATH/);
  });

  it("refuses an RSA client JWK, naming CLIENT_JWK_PATH", async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "signing_key.pem"), rsa().export({ format: "pem", type: "pkcs8" }));
    fs.writeFileSync(path.join(dir, "client_jwk.json"), JSON.stringify({ ...rsa().export({ format: "jwk" }), kid: "old" }));
    await expect(loadKeys(loadConfig(prodEnv(dir)))).rejects.toThrow(/CLIENT_JWK_PATH: holds an RSA key/);
  });

  it("names the variable when a key path cannot be read", async () => {
    const dir = tmp();
    fs.mkdirSync(path.join(dir, "signing_key.pem"));
    await expect(loadKeys(loadConfig(prodEnv(dir)))).rejects.toThrow(/^SIGNING_KEY_PATH: cannot read .*signing_key\.pem/);
    fs.rmdirSync(path.join(dir, "signing_key.pem"));
    fs.writeFileSync(path.join(dir, "signing_key.pem"), rsa().export({ format: "pem", type: "pkcs8" }));
    fs.mkdirSync(path.join(dir, "client_jwk.json"));
    await expect(loadKeys(loadConfig(prodEnv(dir)))).rejects.toThrow(/^CLIENT_JWK_PATH: cannot read /);
  });

  it("never generates anything in production", async () => {
    const dir = tmp();
    await expect(loadKeys(loadConfig(prodEnv(dir)))).rejects.toBeInstanceOf(KeyError);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("signing key files", () => {
  it("accepts PKCS#8 and PKCS#1 and derives the same kid for the same key", async () => {
    const k = rsa();
    const a = await parseSigningKey(k.export({ format: "pem", type: "pkcs8" }).toString());
    const b = await parseSigningKey(k.export({ format: "pem", type: "pkcs1" }).toString());
    expect(a.kid).toBe(b.kid);
    expect(a.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.publicJwk).toEqual({ kty: "RSA", use: "sig", alg: "RS256", kid: a.kid, n: expect.any(String), e: "AQAB" });
  });

  it("refuses keys under 2048 bits, non-RSA keys and garbage", async () => {
    await expect(parseSigningKey(rsa(1024).export({ format: "pem", type: "pkcs8" }).toString())).rejects.toThrow(/2048/);
    const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    await expect(parseSigningKey(ec.export({ format: "pem", type: "pkcs8" }).toString())).rejects.toThrow(/RSA/);
    await expect(parseSigningKey("not a pem")).rejects.toThrow(/SIGNING_KEY_PATH/);
  });
});

describe("client JWK", () => {
  const ec = () => ({ ...crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }), kid: "k1", use: "sig", alg: "ES256" });
  it("accepts a private P-256 JWK and publishes only its public half", () => {
    const jwk = parseClientJwk(JSON.stringify(ec()));
    const pub = publicClientJwk(jwk);
    expect(pub).toEqual({ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, kid: "k1", use: "sig", alg: "ES256" });
    expect("d" in pub).toBe(false);
  });
  it.each([
    ["not json", "{"],
    ["P-384", JSON.stringify({ ...ec(), crv: "P-384" })],
    ["no d", JSON.stringify({ ...ec(), d: undefined })],
    ["no kid", JSON.stringify({ ...ec(), kid: undefined })],
    ["wrong alg", JSON.stringify({ ...ec(), alg: "ES384" })],
    ["use enc", JSON.stringify({ ...ec(), use: "enc" })],
  ])("refuses %s", (_n, text) => {
    expect(() => parseClientJwk(text)).toThrow(/CLIENT_JWK_PATH/);
  });
});

describe("consent key derivation (contracts.md §5.3)", () => {
  const pem = rsa().export({ format: "pem", type: "pkcs1" }).toString();
  const expected = crypto.createHash("sha256").update("consent:" + pem, "utf8").digest();

  it("hashes the whole PEM text with the consent: prefix", () => {
    expect(deriveConsentKey(pem).equals(expected)).toBe(true);
  });
  it("normalises CRLF and lone CR to LF, as Python text mode does", () => {
    expect(deriveConsentKey(pem.replace(/\n/g, "\r\n")).equals(expected)).toBe(true);
    expect(deriveConsentKey(pem.replace(/\n/g, "\r")).equals(expected)).toBe(true);
  });
  it("never uses the first-64-characters variant", () => {
    const weak = crypto.createHash("sha256").update("consent:" + pem.slice(0, 64)).digest();
    expect(deriveConsentKey(pem).equals(weak)).toBe(false);
  });
  it("uses CONSENT_SECRET bytes as given when set", () => {
    const secret = "  a consent secret of printable ascii  ";
    expect(deriveConsentKey(pem, secret).equals(crypto.createHash("sha256").update("consent:" + secret).digest())).toBe(true);
  });
  it("loadKeys uses the key file's text, and separate form and cookie keys", async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "signing_key.pem"), pem);
    const keys = await loadKeys(loadConfig({ DATA_DIR: dir }));
    expect(keys.consentKey.equals(expected)).toBe(true);
    expect(keys.consentFormKey.equals(keys.consentKey)).toBe(false);
    expect(keys.cookieKey.equals(keys.consentFormKey)).toBe(false);
  });
});
