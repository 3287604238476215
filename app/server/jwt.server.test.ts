import crypto from "node:crypto";
import { base64url, SignJWT, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { issuePlatformJwt, JWT_LIFETIME_SECONDS, verifyPlatformJwt } from "./jwt.server";
import { parseSigningKey, type SigningKey } from "./keys.server";

const settings = { issuer: "robot.wtf", audience: "robot.wtf" };
const subject = { did: "did:plc:alice123", handle: "alice.test", name: "Alice" };
let key: SigningKey;
let otherKey: SigningKey;

const pem = () => crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();

beforeAll(async () => {
  key = await parseSigningKey(pem());
  otherKey = await parseSigningKey(pem());
});

const now = () => Math.floor(Date.now() / 1000);

function sign(claims: Record<string, unknown>, header: Record<string, unknown> = {}, k = key) {
  return new SignJWT(claims).setProtectedHeader({ alg: "RS256", typ: "JWT", kid: k.kid, ...header }).sign(k.privateKey);
}

const base = () => ({ sub: subject.did, handle: subject.handle, name: subject.name, iss: "robot.wtf", aud: "robot.wtf", iat: now(), exp: now() + 100 });

describe("platform JWT", () => {
  it("issues RS256 with typ, kid and the contract claims", async () => {
    const t = now();
    const token = await issuePlatformJwt(key, settings, subject, t);
    const [h, p] = token.split(".").slice(0, 2).map((s) => JSON.parse(new TextDecoder().decode(base64url.decode(s))));
    expect(h).toEqual({ alg: "RS256", typ: "JWT", kid: key.kid });
    expect(p).toEqual({ sub: subject.did, handle: subject.handle, name: "Alice", iss: "robot.wtf", aud: "robot.wtf", iat: t, exp: t + JWT_LIFETIME_SECONDS });
    const r = await verifyPlatformJwt(token, key, settings);
    expect(r.status).toBe("valid");
  });

  it("uses configured issuer and audience", async () => {
    const custom = { issuer: "iss.example", audience: "aud.example" };
    const token = await issuePlatformJwt(key, custom, subject);
    expect((await verifyPlatformJwt(token, key, custom)).status).toBe("valid");
    expect((await verifyPlatformJwt(token, key, settings)).status).toBe("invalid");
  });

  it("accepts a predecessor token without kid", async () => {
    const token = await new SignJWT(base()).setProtectedHeader({ alg: "RS256", typ: "JWT" }).sign(key.privateKey);
    expect((await verifyPlatformJwt(token, key, settings)).status).toBe("valid");
  });

  it("accepts an aud array that contains the audience", async () => {
    expect((await verifyPlatformJwt(await sign({ ...base(), aud: ["x", "robot.wtf"] }), key, settings)).status).toBe("valid");
  });

  it("reports expired tokens with a good signature, with their claims", async () => {
    const r = await verifyPlatformJwt(await sign({ ...base(), iat: now() - 200, exp: now() - 1 }), key, settings);
    expect(r.status).toBe("expired");
    if (r.status === "expired") expect(r.claims.handle).toBe("alice.test");
  });

  it("exp equal to now is expired (zero leeway)", async () => {
    const t = now();
    expect((await verifyPlatformJwt(await sign({ ...base(), exp: t }), key, settings, t)).status).toBe("expired");
  });

  const rejected: [string, () => Promise<string>][] = [
    ["a tampered payload", async () => {
      const [h, , s] = (await sign(base())).split(".");
      const p = base64url.encode(JSON.stringify({ ...base(), sub: "did:plc:mallory" }));
      return [h, p, s].join(".");
    }],
    ["a tampered signature", async () => {
      const t = await sign(base());
      return t.slice(0, -4) + (t.endsWith("AAAA") ? "BBBB" : "AAAA");
    }],
    ["another key", () => sign(base(), { kid: undefined }, otherKey)],
    ["another key with our kid", () => sign(base(), { kid: key.kid }, otherKey)],
    ["an unknown kid", () => sign(base(), { kid: "not-our-kid" })],
    ["alg none", async () => new UnsecuredJWT(base()).encode()],
    ["HS256 keyed with the public key", async () => {
      const secret = new TextEncoder().encode(key.publicKey.export({ format: "pem", type: "spki" }).toString());
      return new SignJWT(base()).setProtectedHeader({ alg: "HS256", typ: "JWT", kid: key.kid }).sign(secret);
    }],
    ["RS512", () => new SignJWT(base()).setProtectedHeader({ alg: "RS512", kid: key.kid }).sign(key.privateKey)],
    ["a missing exp", async () => {
      const { exp: _exp, ...rest } = base();
      return sign(rest);
    }],
    ["a string exp", () => sign({ ...base(), exp: String(now() + 100) })],
    ["a wrong iss", () => sign({ ...base(), iss: "evil" })],
    ["a wrong aud", () => sign({ ...base(), aud: "evil" })],
    ["an iat far in the future", () => sign({ ...base(), iat: now() + 3600 })],
    ["a sub that is not a DID", () => sign({ ...base(), sub: "alice" })],
    ["garbage", async () => "not.a.jwt"],
    ["two segments", async () => "abc.def"],
    ["a foreign key embedded as jwk header", () => sign(base(), { kid: key.kid, jwk: otherKey.publicJwk }, otherKey)],
  ];
  it.each(rejected)("rejects %s", async (_name, make) => {
    expect((await verifyPlatformJwt(await make(), key, settings)).status).toBe("invalid");
  });

  it("an expired token with a wrong issuer is invalid, not expired", async () => {
    expect((await verifyPlatformJwt(await sign({ ...base(), iss: "evil", exp: now() - 5 }), key, settings)).status).toBe("invalid");
  });
});

describe("kept signature verifications", () => {
  it("re-check every claim against the clock: a token verified once still expires", async () => {
    const t = now();
    const token = await issuePlatformJwt(key, settings, subject, t);
    expect((await verifyPlatformJwt(token, key, settings, t)).status).toBe("valid");
    expect((await verifyPlatformJwt(token, key, settings, t + JWT_LIFETIME_SECONDS)).status).toBe("expired");
    expect((await verifyPlatformJwt(token, key, settings, t)).status).toBe("valid");
    expect(await verifyPlatformJwt(token, key, { ...settings, audience: "other" }, t)).toEqual({ status: "invalid", reason: "wrong aud" });
  });

  it("are per key and per exact token: another key, or one changed character, is verified afresh", async () => {
    const token = await issuePlatformJwt(key, settings, subject);
    expect((await verifyPlatformJwt(token, key, settings)).status).toBe("valid");
    const other = await parseSigningKey(pem());
    expect(await verifyPlatformJwt(token, { ...other, kid: key.kid }, settings)).toEqual({ status: "invalid", reason: "bad signature" });
    const sig = token.slice(token.lastIndexOf(".") + 1);
    const flipped = token.slice(0, token.lastIndexOf(".") + 1) + (sig[0] === "A" ? "B" : "A") + sig.slice(1);
    expect(await verifyPlatformJwt(flipped, key, settings)).toEqual({ status: "invalid", reason: "bad signature" });
  });

  it("hand every caller its own claims object", async () => {
    const token = await issuePlatformJwt(key, settings, subject);
    const a = await verifyPlatformJwt(token, key, settings);
    if (a.status !== "valid") throw new Error("not valid");
    a.claims.handle = "changed";
    const b = await verifyPlatformJwt(token, key, settings);
    expect(b.status === "valid" && b.claims.handle).toBe(subject.handle);
  });
});
