// Contract: approval tokens as the MCP server (:8001) verifies them (contracts.md §5.2–§5.4,
// CS10–CS12), checked by the independent verifier in support/mcp-verifier.ts, for each way the
// key can be configured: a PKCS#1 PEM, a PKCS#8 PEM written with CRLF line endings, a PEM file
// without a trailing newline, and CONSENT_SECRET. A second independent verifier in Python (the
// MCP's language), support/mcp_verifier.py, checks the same tokens.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_PARAMS, consentQuery, createTestWiki, openConsent, postConsent } from "./support/consent";
import {
  mcpConsentKeyFromFile,
  mcpConsentKeyFromSecret,
  splitCallbackUrl,
  verifyCallback,
  type VerifierOptions,
} from "./support/mcp-verifier";
import { startTestPlatform, type TestPlatform } from "./support/platform";

const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "consent-keys-"));
const SECRET = "a-consent-secret-of-32+-printable-ASCII-chars!";

function writeRsaPem(file: string, type: "pkcs1" | "pkcs8", crlf: boolean, trailingNewline = true): string {
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  let pem = privateKey.export({ format: "pem", type }).toString();
  if (!trailingNewline) pem = pem.replace(/\n$/, "");
  if (crlf) pem = pem.replace(/\n/g, "\r\n");
  fs.writeFileSync(file, pem, { mode: 0o600 });
  return file;
}

interface Setup {
  name: string;
  tp: TestPlatform;
  /** The key the MCP derives, as the MCP derives it. */
  mcpKey: Buffer;
  owner: { did: string; handle: string; jwt: string };
  slug: string;
}

const setups: Setup[] = [];
const foreignPem = path.join(keyDir, "foreign.pem");

beforeAll(async () => {
  const pkcs1 = writeRsaPem(path.join(keyDir, "pkcs1.pem"), "pkcs1", false);
  const pkcs8crlf = writeRsaPem(path.join(keyDir, "pkcs8-crlf.pem"), "pkcs8", true);
  const noNewline = writeRsaPem(path.join(keyDir, "no-trailing-newline.pem"), "pkcs8", false, false);
  writeRsaPem(foreignPem, "pkcs8", false);
  expect(fs.readFileSync(pkcs1, "utf8")).toContain("BEGIN RSA PRIVATE KEY");
  expect(fs.readFileSync(pkcs8crlf, "utf8")).toContain("BEGIN PRIVATE KEY-----\r\n");
  expect(fs.readFileSync(noNewline, "utf8")).toMatch(/-----END PRIVATE KEY-----$/);

  const prod = { PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "robot.test" };
  const configs: Array<[string, Record<string, string>, () => Buffer]> = [
    ["PKCS#1 PEM", { ...prod, SIGNING_KEY_PATH: pkcs1 }, () => mcpConsentKeyFromFile(pkcs1)],
    ["PKCS#8 PEM with CRLF", { ...prod, SIGNING_KEY_PATH: pkcs8crlf }, () => mcpConsentKeyFromFile(pkcs8crlf)],
    ["PEM without trailing newline", { ...prod, SIGNING_KEY_PATH: noNewline }, () => mcpConsentKeyFromFile(noNewline)],
    ["CONSENT_SECRET", { ...prod, CONSENT_SECRET: SECRET }, () => mcpConsentKeyFromSecret(SECRET)],
  ];
  for (const [name, env, key] of configs) {
    const tp = await startTestPlatform(env);
    const owner = await tp.createUser("owner.test");
    await createTestWiki(tp, owner, "alice");
    setups.push({ name, tp, mcpKey: key(), owner, slug: "alice" });
  }
});

afterAll(async () => {
  await Promise.all(setups.map((s) => s.tp.close()));
  fs.rmSync(keyDir, { recursive: true, force: true });
});

/** The Location of one Approve with these query overrides. */
async function approve(s: Setup, overrides: Record<string, string | undefined> = {}): Promise<string> {
  const token = await openConsent(s.tp, s.owner.jwt, consentQuery(s.slug, overrides));
  const res = await postConsent(s.tp, s.owner.jwt, { consent_token: token, action: "approve" });
  expect(res.status).toBe(302);
  return res.headers.get("location")!;
}

/** The callback URL with one query parameter replaced (the order is kept). */
function withQuery(location: string, name: string, value: string): string {
  const [base, query] = [location.slice(0, location.indexOf("?")), splitCallbackUrl(location).query];
  query.set(name, value);
  return `${base}?${query}`;
}

const PARAM_MATRIX: Array<Record<string, string | undefined>> = [
  {},
  { state: undefined, scope: undefined },
  { resource: "https://alice.robot.test/mcp" },
  { client_id: "pipe|in|the|client|id" },
  { state: "zürich ☃ \"quoted\" \\ back", scope: "  wiki:read   wiki:write  " },
  { redirect_uri: "cursor://anysphere.cursor-retrieval/oauth/callback?x=1&y=2" },
  { redirect_uri: "http://localhost:33418/callback", code_challenge_method: undefined, response_type: undefined },
];

const SETUP_NAMES = ["PKCS#1 PEM", "PKCS#8 PEM with CRLF", "PEM without trailing newline", "CONSENT_SECRET"];

describe.each(SETUP_NAMES)("approval tokens, key from %s", (name) => {
  const setup = () => setups.find((s) => s.name === name)!;

  it("the MCP's check (unchanged, and upgraded) accepts every approval the platform issues", async () => {
    const s = setup();
    const seenJtis = new Map<string, number>();
    for (const overrides of PARAM_MATRIX) {
      const location = await approve(s, overrides);
      expect(verifyCallback(location, { key: s.mcpKey })).toMatchObject({ ok: true });
      const upgraded = verifyCallback(location, { key: s.mcpKey, upgraded: true, seenJtis });
      expect(upgraded).toMatchObject({ ok: true });
      expect(upgraded.ok && upgraded.payload.user_did).toBe(s.owner.did);
    }
    expect(seenJtis.size).toBe(PARAM_MATRIX.length);
  });

  it("rejects tampered tokens, tampered bindings and a replayed jti", async () => {
    const s = setup();
    const location = await approve(s);
    const token = splitCallbackUrl(location).query.get("approval_token")!;
    const bar = token.lastIndexOf("|");
    const [json, mac] = [token.slice(0, bar), token.slice(bar + 1)];
    const opts: VerifierOptions = { key: s.mcpKey };
    const reject = (url: string, o = opts) => expect(verifyCallback(url, o)).toMatchObject({ ok: false, status: 403 });

    reject(withQuery(location, "approval_token", `${json.replace(/"exp":(\d+)/, (_m, n) => `"exp":${Number(n) + 3600}`)}|${mac}`));
    reject(withQuery(location, "approval_token", `${json.replace(s.slug, "bobby")}|${mac}`));
    reject(withQuery(location, "approval_token", `${json}|${mac.slice(0, -1)}${mac.endsWith("0") ? "1" : "0"}`));
    reject(withQuery(location, "approval_token", `${json}|${mac.toUpperCase()}`));
    reject(withQuery(location, "approval_token", json));
    // Bindings: another client, another wiki host.
    reject(withQuery(location, "client_id", "someone-else"));
    reject(location.replace(`https://${s.slug}.`, "https://bobby."));
    // Unchanged MCP: the unsigned query fields are not bound (security.md #2); the upgraded one binds them.
    const swapped = withQuery(location, "code_challenge", "attacker-challenge");
    expect(verifyCallback(swapped, opts).ok).toBe(true);
    reject(swapped, { ...opts, upgraded: true });
    reject(withQuery(location, "redirect_uri", "https://evil.example/cb"), { ...opts, upgraded: true });
    reject(withQuery(location, "scope", "admin"), { ...opts, upgraded: true });
    // Replay (security.md #3): the upgraded MCP redeems a jti once.
    const seenJtis = new Map<string, number>();
    expect(verifyCallback(location, { ...opts, upgraded: true, seenJtis }).ok).toBe(true);
    reject(location, { ...opts, upgraded: true, seenJtis });
  });

  it("rejects expired tokens: valid until exp (inclusive), exp ≈ issue time + 120 s", async () => {
    const s = setup();
    const issuedAt = Date.now() / 1000;
    const location = await approve(s);
    const verified = verifyCallback(location, { key: s.mcpKey });
    const exp = verified.ok ? (verified.payload.exp as number) : NaN;
    expect(exp - issuedAt).toBeGreaterThan(118);
    expect(exp - issuedAt).toBeLessThanOrEqual(121);
    expect(verifyCallback(location, { key: s.mcpKey, now: exp }).ok).toBe(true);
    expect(verifyCallback(location, { key: s.mcpKey, now: exp + 0.001 })).toMatchObject({ ok: false, error_description: "approval token expired" });
  });

  it("rejects tokens under a foreign key", async () => {
    const s = setup();
    const location = await approve(s);
    for (const key of [mcpConsentKeyFromFile(foreignPem), mcpConsentKeyFromSecret(SECRET + "x"), crypto.randomBytes(32)]) {
      expect(verifyCallback(location, { key })).toMatchObject({ ok: false, error_description: "invalid approval token signature" });
    }
  });

  it("CS12 the page's consent_token is not an approval token", async () => {
    const s = setup();
    const consentToken = await openConsent(s.tp, s.owner.jwt, consentQuery(s.slug));
    const location = await approve(s);
    expect(verifyCallback(withQuery(location, "approval_token", consentToken), { key: s.mcpKey })).toMatchObject({ ok: false, status: 403 });
    // Not under the approval key in the platform's own form-token format either.
    const [body, mac] = consentToken.split(".");
    expect(crypto.createHmac("sha256", s.mcpKey).update(body).digest("base64url")).not.toBe(mac);
    expect(Buffer.compare(s.tp.platform.keys.consentFormKey, s.tp.platform.keys.consentKey)).not.toBe(0);
  });
});

describe("key derivation details (contracts.md §5.3)", () => {
  it("CRLF in the PEM file: only the newline-normalised text (Python text mode) gives the key", async () => {
    const s = setups.find((x) => x.name === "PKCS#8 PEM with CRLF")!;
    const location = await approve(s);
    const raw = fs.readFileSync(s.tp.platform.config.signingKeyPath, "utf8");
    expect(raw).toContain("\r\n");
    const rawKey = crypto.createHash("sha256").update("consent:" + raw).digest();
    expect(verifyCallback(location, { key: rawKey }).ok).toBe(false);
    expect(verifyCallback(location, { key: s.mcpKey }).ok).toBe(true);
  });

  it("a PEM file without a trailing newline: the key is the text exactly as stored, no newline added", async () => {
    const s = setups.find((x) => x.name === "PEM without trailing newline")!;
    const location = await approve(s);
    const pem = fs.readFileSync(s.tp.platform.config.signingKeyPath, "utf8");
    expect(pem.endsWith("\n")).toBe(false);
    const withNewline = crypto.createHash("sha256").update("consent:" + pem + "\n").digest();
    expect(verifyCallback(location, { key: withNewline }).ok).toBe(false);
    expect(verifyCallback(location, { key: s.mcpKey, upgraded: true }).ok).toBe(true);
  });

  it("the old 'first 64 characters' derivation is not used", async () => {
    const s = setups.find((x) => x.name === "PKCS#1 PEM")!;
    const location = await approve(s);
    const pem = fs.readFileSync(s.tp.platform.config.signingKeyPath, "utf8");
    const oldKey = crypto.createHash("sha256").update("consent:" + pem.slice(0, 64)).digest();
    expect(verifyCallback(location, { key: oldKey }).ok).toBe(false);
  });

  it("CS11 with CONSENT_SECRET the PEM-derived key fails; an unchanged MCP keyed from a file holding exactly the secret works", async () => {
    const s = setups.find((x) => x.name === "CONSENT_SECRET")!;
    const location = await approve(s);
    expect(verifyCallback(location, { key: mcpConsentKeyFromFile(s.tp.platform.config.signingKeyPath) }).ok).toBe(false);
    const exact = path.join(keyDir, "consent-secret");
    fs.writeFileSync(exact, SECRET);
    expect(verifyCallback(location, { key: mcpConsentKeyFromFile(exact) }).ok).toBe(true);
    const withNewline = path.join(keyDir, "consent-secret-nl");
    fs.writeFileSync(withNewline, SECRET + "\n");
    expect(verifyCallback(location, { key: mcpConsentKeyFromFile(withNewline) }).ok).toBe(false);
  });

  it("the callback query is what the MCP reads: required fields present, client_id as given", async () => {
    const s = setups[0];
    const location = await approve(s, { client_id: "pipe|in|the|client|id" });
    const { query } = splitCallbackUrl(location);
    expect(query.get("client_id")).toBe("pipe|in|the|client|id");
    expect(query.get("redirect_uri")).toBe(BASE_PARAMS.redirect_uri);
    expect(query.get("code_challenge")).toBe(BASE_PARAMS.code_challenge);
    expect(verifyCallback(withQuery(location, "approval_token", ""), { key: s.mcpKey })).toMatchObject({ status: 400, error: "missing_token" });
  });
});

// The MCP server is Python; this verifier is too (support/mcp_verifier.py, from contracts.md
// §5.2–§5.4 only). `npm test` installs python3 (Debian) when it is missing.
const pyVerifier = path.join(import.meta.dirname, "support/mcp_verifier.py");

function verifyWithPython(location: string, key: { key_file: string } | { consent_secret: string }, now?: number) {
  const out = execFileSync("python3", [pyVerifier], { input: JSON.stringify({ location, ...key, ...(now ? { now } : {}) }), encoding: "utf8" });
  return JSON.parse(out) as { ok: boolean; status?: number; error_description?: string; payload?: Record<string, unknown> };
}

describe("the Python verifier (the MCP's language) accepts platform-issued tokens", () => {
  const keyOf = (s: Setup) => (s.name === "CONSENT_SECRET" ? { consent_secret: SECRET } : { key_file: s.tp.platform.config.signingKeyPath });

  it.each(SETUP_NAMES)("key from %s", async (name) => {
    const s = setups.find((x) => x.name === name)!;
    for (const overrides of PARAM_MATRIX) {
      const location = await approve(s, overrides);
      const result = verifyWithPython(location, keyOf(s));
      expect(result, JSON.stringify(overrides)).toMatchObject({ ok: true });
      expect(result.payload?.user_did).toBe(s.owner.did);
    }
  });

  it("and refuses what the MCP refuses: a foreign key, a tampered token, another host, an expired token", async () => {
    const s = setups[0];
    const location = await approve(s);
    expect(verifyWithPython(location, { key_file: foreignPem })).toMatchObject({ ok: false, status: 403, error_description: "invalid approval token signature" });
    const token = splitCallbackUrl(location).query.get("approval_token")!;
    expect(verifyWithPython(withQuery(location, "approval_token", token.replace(s.slug, "bobby")), keyOf(s))).toMatchObject({ ok: false, status: 403 });
    expect(verifyWithPython(location.replace(`https://${s.slug}.`, "https://bobby."), keyOf(s))).toMatchObject({ ok: false, status: 403 });
    expect(verifyWithPython(withQuery(location, "client_id", "someone-else"), keyOf(s))).toMatchObject({ ok: false, status: 403 });
    expect(verifyWithPython(location, keyOf(s), Date.now() / 1000 + 3600)).toMatchObject({ ok: false, error_description: "approval token expired" });
  });
});
