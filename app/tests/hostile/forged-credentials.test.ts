// Hostile suite: forged credentials (auth.md §2, contracts.md §2, D4, security.md #12, #13, #42).
// Every forged, tampered or foreign platform JWT is presented as a Bearer header on the API,
// and as the platform_token cookie on the API, every /app page (GET and POST), the consent page
// and its POST, the login page and the landing page: none authenticates, each surface refuses
// the way the spec says, and nothing changes on disk or in the database. Then cookie tossing: a
// second platform_token planted for `.{D}` by a wiki subdomain never authenticates and never
// turns the victim's session into another identity.
import crypto, { type KeyObject } from "node:crypto";
import { CompactSign, UnsecuredJWT, exportJWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentQuery, createTestWiki, openConsent, postConsent, textOf } from "../support/consent";
import { formBody, type TestUser } from "../support/mgmt";
import { startTestPlatform, type TestPlatform } from "../support/platform";
import { snapshotState } from "../support/snapshot";

const ATTACKER_DID = "did:plc:attacker0000";
const VICTIM_DID = "did:plc:victim000000";
const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

let tp: TestPlatform;
let victim: TestUser;
let attacker: TestUser;
const SLUG = "victim-wiki";

beforeAll(async () => {
  // The victim is an admin, so /app/admin/stats is a real target too (and the create limit cannot hide a create).
  tp = await startTestPlatform({ PLATFORM_ADMIN_DIDS: VICTIM_DID });
  victim = await tp.createUser("victim.bsky.social", VICTIM_DID);
  attacker = await tp.createUser("attacker.bsky.social", ATTACKER_DID);
  await createTestWiki(tp, victim, SLUG);
});
afterAll(() => tp.close());

// ---------------------------------------------------------------------------
// The forgeries
// ---------------------------------------------------------------------------

type Expect = "invalid" | "expired" | "unknown_user";
interface Forgery {
  name: string;
  token: () => Promise<string>;
  expect: Expect;
}

/** The claims of a perfectly good token for `did` (what a forger would copy). */
const claimsFor = (did: string, extra: Record<string, unknown> = {}) => ({
  sub: did,
  handle: did === VICTIM_DID ? "victim.bsky.social" : "someone.test",
  name: "Victim",
  iss: "robot.wtf",
  aud: "robot.wtf",
  iat: now(),
  exp: now() + 3600,
  ...extra,
});

/** A JWS over any payload (claims objects, arrays, strings) with any protected header. */
async function signWith(key: KeyObject | Uint8Array, header: Record<string, unknown>, payload: unknown): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header as { alg: string }).sign(key);
}

function forgeries(): Forgery[] {
  const signing = tp.platform.keys.signing;
  const kid = signing.kid;
  const own = (payload: unknown, header: Record<string, unknown> = {}) => signWith(signing.privateKey, { alg: "RS256", typ: "JWT", kid, ...header }, payload);
  const attackerRsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const attackerEc = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const foreign = (header: Record<string, unknown>, payload: unknown = claimsFor(VICTIM_DID)) =>
    signWith(attackerRsa.privateKey, { alg: "RS256", typ: "JWT", ...header }, payload);
  const pemSpki = signing.publicKey.export({ format: "pem", type: "spki" }).toString();
  const pemPkcs1 = signing.publicKey.export({ format: "pem", type: "pkcs1" }).toString();
  const der = signing.publicKey.export({ format: "der", type: "spki" });
  const hs = (secret: string | Buffer, header: Record<string, unknown> = {}) =>
    signWith(typeof secret === "string" ? new TextEncoder().encode(secret) : new Uint8Array(secret), { alg: "HS256", typ: "JWT", kid, ...header }, claimsFor(VICTIM_DID));
  const valid = () => tp.mintJwt({ did: VICTIM_DID, handle: "victim.bsky.social" });

  return [
    // alg
    { name: "alg none (unsecured JWT)", expect: "invalid", token: async () => new UnsecuredJWT(claimsFor(VICTIM_DID)).encode() },
    { name: "alg None, capitalised", expect: "invalid", token: async () => `${b64({ alg: "None", typ: "JWT" })}.${b64(claimsFor(VICTIM_DID))}.` },
    { name: "alg NONE with the real kid", expect: "invalid", token: async () => `${b64({ alg: "NONE", kid })}.${b64(claimsFor(VICTIM_DID))}.` },
    {
      name: "alg none header on a genuinely signed token",
      expect: "invalid",
      token: async () => {
        const [, payload, sig] = (await valid()).split(".");
        return `${b64({ alg: "none", typ: "JWT", kid })}.${payload}.${sig}`;
      },
    },
    { name: "no alg at all", expect: "invalid", token: async () => `${b64({ typ: "JWT", kid })}.${b64(claimsFor(VICTIM_DID))}.${"A".repeat(342)}` },
    { name: "HS256 keyed with the public key (SPKI PEM)", expect: "invalid", token: () => hs(pemSpki) },
    { name: "HS256 keyed with the public key (PEM without its newline)", expect: "invalid", token: () => hs(pemSpki.trim()) },
    { name: "HS256 keyed with the public key (PKCS#1 PEM)", expect: "invalid", token: () => hs(pemPkcs1) },
    { name: "HS256 keyed with the public key (DER)", expect: "invalid", token: () => hs(der) },
    { name: "HS256 keyed with the published JWK", expect: "invalid", token: () => hs(JSON.stringify(signing.publicJwk)) },
    { name: "HS256 keyed with the JWK's modulus", expect: "invalid", token: () => hs(signing.publicJwk.n) },
    { name: "HS512 keyed with the public key", expect: "invalid", token: () => hs(pemSpki, { alg: "HS512" }) },
    { name: "PS256 signed with the platform key", expect: "invalid", token: () => own(claimsFor(VICTIM_DID), { alg: "PS256" }) },
    { name: "RS512 signed with the platform key", expect: "invalid", token: () => own(claimsFor(VICTIM_DID), { alg: "RS512" }) },
    { name: "ES256 with an attacker key and the real kid", expect: "invalid", token: () => signWith(attackerEc.privateKey, { alg: "ES256", kid }, claimsFor(VICTIM_DID)) },
    // kid and keys named in the header
    { name: "unknown kid, platform signature", expect: "invalid", token: () => own(claimsFor(VICTIM_DID), { kid: "not-the-kid" }) },
    { name: "empty kid, platform signature", expect: "invalid", token: () => own(claimsFor(VICTIM_DID), { kid: "" }) },
    { name: "kid as a path, platform signature", expect: "invalid", token: () => own(claimsFor(VICTIM_DID), { kid: "../../../../dev/null" }) },
    { name: "another RSA key with the right kid", expect: "invalid", token: () => foreign({ kid }) },
    { name: "another RSA key without a kid", expect: "invalid", token: () => foreign({}) },
    {
      name: "embedded jwk header (the attacker's own key)",
      expect: "invalid",
      token: async () => {
        const jwk = await exportJWK(attackerRsa.publicKey);
        return foreign({ jwk: { ...jwk, alg: "RS256", use: "sig" } });
      },
    },
    {
      name: "embedded jwk header with the real kid",
      expect: "invalid",
      token: async () => foreign({ kid, jwk: { ...(await exportJWK(attackerRsa.publicKey)), kid } }),
    },
    { name: "jku header pointing at the attacker's JWKS", expect: "invalid", token: () => foreign({ kid, jku: "https://evil.example/.well-known/jwks.json" }) },
    { name: "x5u header pointing at the attacker's certificate", expect: "invalid", token: () => foreign({ kid, x5u: "https://evil.example/cert.pem" }) },
    {
      name: "x5c header carrying the attacker's key",
      expect: "invalid",
      token: () => foreign({ kid, x5c: [attackerRsa.publicKey.export({ format: "der", type: "spki" }).toString("base64")] }),
    },
    // claims (platform signature, so only the claim is wrong)
    { name: "expired a second ago", expect: "expired", token: () => own(claimsFor(VICTIM_DID, { iat: now() - 86_401, exp: now() - 1 })) },
    { name: "expires this second (zero leeway)", expect: "expired", token: () => own(claimsFor(VICTIM_DID, { exp: now() })) },
    { name: "no exp", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { exp: undefined })) },
    { name: "exp as a string", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { exp: String(now() + 3600) })) },
    { name: "exp null", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { exp: null })) },
    { name: "iat an hour in the future", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { iat: now() + 3600, exp: now() + 7200 })) },
    { name: "wrong iss", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { iss: "evil.example" })) },
    { name: "no iss", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { iss: undefined })) },
    { name: "iss in a different case", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { iss: "Robot.wtf" })) },
    { name: "wrong aud", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { aud: "evil.example" })) },
    { name: "aud array without the audience", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { aud: ["evil.example", "robot.wtf.evil"] })) },
    { name: "no aud", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { aud: undefined })) },
    { name: "sub that is not a DID", expect: "invalid", token: () => own(claimsFor("victim.bsky.social")) },
    { name: "no sub", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { sub: undefined })) },
    { name: "sub as an array", expect: "invalid", token: () => own(claimsFor(VICTIM_DID, { sub: [VICTIM_DID] })) },
    { name: "payload that is an array", expect: "invalid", token: () => own([claimsFor(VICTIM_DID)]) },
    { name: "payload that is a string", expect: "invalid", token: () => own(VICTIM_DID) },
    { name: "a deleted user (valid token, no users row)", expect: "unknown_user", token: () => tp.mintJwt({ did: "did:plc:deleted00000", handle: "deleted.test" }) },
    // tampering and garbage
    {
      name: "payload swapped to the victim, attacker's signature kept",
      expect: "invalid",
      token: async () => {
        const [header, , sig] = attacker.jwt.split(".");
        return `${header}.${b64(claimsFor(VICTIM_DID))}.${sig}`;
      },
    },
    {
      name: "one signature character flipped",
      expect: "invalid",
      token: async () => {
        const t = await valid();
        const i = t.length - 5;
        return t.slice(0, i) + (t[i] === "A" ? "B" : "A") + t.slice(i + 1);
      },
    },
    { name: "truncated by one character", expect: "invalid", token: async () => (await valid()).slice(0, -1) },
    { name: "truncated to header and payload", expect: "invalid", token: async () => (await valid()).split(".").slice(0, 2).join(".") },
    { name: "signature removed", expect: "invalid", token: async () => (await valid()).split(".").slice(0, 2).join(".") + "." },
    { name: "four segments", expect: "invalid", token: async () => (await valid()) + ".AAAA" },
    { name: "header that is not JSON", expect: "invalid", token: async () => `${b64("{not json")}.${(await valid()).split(".").slice(1).join(".")}` },
    { name: "header that is not base64url", expect: "invalid", token: async () => `!!!.${(await valid()).split(".").slice(1).join(".")}` },
    { name: "garbage", expect: "invalid", token: async () => "garbage" },
    { name: "three dots", expect: "invalid", token: async () => "..." },
    { name: "a.b.c", expect: "invalid", token: async () => "a.b.c" },
    { name: "8 KiB of base64url", expect: "invalid", token: async () => `${"A".repeat(2730)}.${"B".repeat(2730)}.${"C".repeat(2730)}` },
  ];
}

// ---------------------------------------------------------------------------
// The surfaces
// ---------------------------------------------------------------------------

const API_MESSAGE: Record<Expect, string> = { invalid: "Invalid token", expired: "Token expired", unknown_user: "User not found" };

interface ApiCall {
  method: string;
  path: string;
  body?: unknown;
}
const API_CALLS: ApiCall[] = [
  { method: "GET", path: "/api/me" },
  { method: "GET", path: "/api/wikis" },
  { method: "GET", path: `/api/wikis/${SLUG}` },
  { method: "POST", path: "/api/wikis", body: { slug: "forged-create", display_name: "Forged" } },
  { method: "DELETE", path: `/api/wikis/${SLUG}` },
  { method: "POST", path: `/api/wikis/${SLUG}/token` },
  { method: "POST", path: `/api/wikis/${SLUG}/git`, body: { enabled: true } },
];

interface PageCall {
  method: "GET" | "POST";
  path: string;
  fields?: Record<string, string>;
  /** The return_to of the login redirect. */
  returnTo: string;
}
const PAGE_CALLS: PageCall[] = [
  { method: "GET", path: "/app/", returnTo: "/app/" },
  { method: "GET", path: "/app/create", returnTo: "/app/create" },
  { method: "GET", path: `/app/wiki/${SLUG}`, returnTo: `/app/wiki/${SLUG}` },
  { method: "GET", path: "/app/account", returnTo: "/app/account" },
  { method: "GET", path: "/app/admin/stats", returnTo: "/app/admin/stats" },
  { method: "GET", path: `/app/wiki/${SLUG}?tab=x`, returnTo: `/app/wiki/${SLUG}?tab=x` },
  { method: "POST", path: "/app/create", fields: { slug: "forged-ui", display_name: "Forged" }, returnTo: "/app/create" },
  { method: "POST", path: `/app/wiki/${SLUG}`, fields: { intent: "regenerate" }, returnTo: `/app/wiki/${SLUG}` },
  { method: "POST", path: `/app/wiki/${SLUG}`, fields: { intent: "delete", confirm_slug: SLUG }, returnTo: `/app/wiki/${SLUG}` },
  { method: "POST", path: `/app/wiki/${SLUG}`, fields: { intent: "rename", display_name: "Pwned" }, returnTo: `/app/wiki/${SLUG}` },
  { method: "POST", path: "/app/account", fields: { intent: "delete", confirm_handle: "victim.bsky.social" }, returnTo: "/app/account" },
];

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const cookie = (value: string) => ({ Cookie: value.includes("platform_token=") ? value : `platform_token=${value}` });

function callApi(call: ApiCall, headers: Record<string, string>) {
  return tp.request(call.path, {
    method: call.method,
    headers: { Origin: tp.origin, ...(call.body ? { "Content-Type": "application/json" } : {}), ...headers },
    body: call.body ? JSON.stringify(call.body) : undefined,
  });
}

function callPage(call: PageCall, headers: Record<string, string>) {
  return tp.request(call.path, {
    method: call.method,
    headers: { Origin: tp.origin, ...(call.fields ? { "Content-Type": "application/x-www-form-urlencoded" } : {}), ...headers },
    body: call.fields ? formBody(call.fields) : undefined,
  });
}

async function expectApi401(res: Response, message: string, label: string) {
  expect(res.status, label).toBe(401);
  expect(res.headers.get("content-type"), label).toBe("application/json; charset=utf-8");
  expect(res.headers.get("www-authenticate"), label).toBe('Bearer realm="127.0.0.1:5173"');
  expect(await res.json(), label).toEqual({ error: message });
}

function expectLoginRedirect(res: Response, returnTo: string, label: string) {
  expect(res.status, label).toBe(302);
  expect(res.headers.get("location"), label).toBe(`/auth/login?return_to=${encodeURIComponent(returnTo)}`);
}

/** What a request as `token` is recognised as: the DID of /api/me, or its 401 message. */
async function whoAmI(headers: Record<string, string>): Promise<string> {
  const res = await tp.request("/api/me", { headers });
  const body = (await res.json()) as { did?: string; error?: string };
  return res.status === 200 ? body.did! : `${res.status} ${body.error}`;
}

// ---------------------------------------------------------------------------

describe("forged credentials are refused everywhere (D4, contracts.md §2)", () => {
  it("the genuine token (and the accepted variants the spec names) pass on every surface — the refusals below are about the forgery", async () => {
    const signing = tp.platform.keys.signing;
    const accepted = [
      victim.jwt,
      // Tokens without kid (issued before cut-over) are accepted (contracts.md §2 rule 2).
      await signWith(signing.privateKey, { alg: "RS256", typ: "JWT" }, claimsFor(VICTIM_DID)),
      // aud may be an array containing the audience (rule 4).
      await signWith(signing.privateKey, { alg: "RS256", typ: "JWT", kid: signing.kid }, claimsFor(VICTIM_DID, { aud: ["other", "robot.wtf"] })),
    ];
    for (const token of accepted) {
      expect(await whoAmI(bearer(token))).toBe(VICTIM_DID);
      expect(await whoAmI(cookie(token))).toBe(VICTIM_DID);
      for (const call of PAGE_CALLS.filter((c) => c.method === "GET")) {
        expect((await callPage(call, cookie(token))).status, call.path).toBe(200);
      }
      expect((await tp.request(`/auth/oauth/consent?${consentQuery(SLUG)}`, { headers: cookie(token) })).status).toBe(200);
      expect((await tp.request("/auth/login", { headers: cookie(token) })).headers.get("location")).toBe(`${tp.origin}/app/`);
    }
  });

  it("each forgery: 401 JSON as Bearer and as cookie on every API route; a login redirect on every /app page and the consent page; 401 on the consent POST; the login form; nothing changed", async () => {
    const consentToken = await openConsent(tp, victim.jwt, consentQuery(SLUG));
    const before = snapshotState(tp.platform.config.robotDbPath, tp.platform.config.wikiBase);
    const list = forgeries();
    expect(list.length).toBeGreaterThanOrEqual(50);
    for (const forgery of list) {
      const token = await forgery.token();
      const message = API_MESSAGE[forgery.expect];
      for (const call of API_CALLS) {
        const label = `${forgery.name}: ${call.method} ${call.path}`;
        await expectApi401(await callApi(call, bearer(token)), message, `${label} (Bearer)`);
        await expectApi401(await callApi(call, cookie(token)), message, `${label} (cookie)`);
      }
      for (const call of PAGE_CALLS) {
        expectLoginRedirect(await callPage(call, cookie(token)), call.returnTo, `${forgery.name}: ${call.method} ${call.path}`);
      }
      const query = consentQuery(SLUG);
      expectLoginRedirect(
        await tp.request(`/auth/oauth/consent?${query}`, { headers: cookie(token) }),
        `/auth/oauth/consent?${query}`,
        `${forgery.name}: consent GET`,
      );
      const post = await postConsent(tp, token, { consent_token: consentToken, action: "approve" });
      expect(post.status, `${forgery.name}: consent POST`).toBe(401);
      expect(textOf(await post.text()), forgery.name).toContain("Invalid platform token");

      // The login page never treats it as signed in (auth.md §3); only an expired token pre-fills.
      const login = await tp.request("/auth/login", { headers: cookie(token) });
      expect(login.status, `${forgery.name}: login`).toBe(200);
      const html = await login.text();
      expect(html.includes('value="victim.bsky.social"'), `${forgery.name}: prefill`).toBe(forgery.expect === "expired");
      const cleared = login.headers.getSetCookie().some((c) => /^platform_token=;.*Max-Age=0/.test(c));
      expect(cleared, `${forgery.name}: cookie cleared`).toBe(forgery.expect === "unknown_user");
      // The landing page shows the signed-out header.
      const landing = await (await tp.request("/", { headers: cookie(token) })).text();
      expect(landing, forgery.name).toContain('href="/auth/login"');
      expect(landing, forgery.name).not.toContain('href="/app/"');
    }
    expect(snapshotState(tp.platform.config.robotDbPath, tp.platform.config.wikiBase)).toEqual(before);
    // The refusals consumed nothing: the victim's consent form still works.
    const approved = await postConsent(tp, victim.jwt, { consent_token: consentToken, action: "approve" });
    expect(approved.status).toBe(302);
    expect(approved.headers.get("location")).toMatch(new RegExp(`^http://${SLUG}\\.127\\.0\\.0\\.1:5173/authorize/callback\\?`));
  });

  it("a malformed Authorization header is refused and never falls back to the cookie", async () => {
    for (const header of ["Bearer", "Bearer ", `Bearer ${victim.jwt} extra`, `Basic ${victim.jwt}`, `Token ${victim.jwt}`, `${victim.jwt}`, "Bearer\t"]) {
      const res = await tp.request("/api/me", { headers: { Authorization: header, ...cookie(victim.jwt) } });
      await expectApi401(res, "Invalid Authorization header format", JSON.stringify(header));
    }
  });

  it("a Bearer header is not read on pages: /app and consent need the cookie", async () => {
    expectLoginRedirect(await tp.request("/app/", { headers: bearer(victim.jwt) }), "/app/", "bearer on /app/");
    const query = consentQuery(SLUG);
    expectLoginRedirect(await tp.request(`/auth/oauth/consent?${query}`, { headers: bearer(victim.jwt) }), `/auth/oauth/consent?${query}`, "bearer on consent");
  });

  it("a token stops working the moment its user row is deleted (security.md #41)", async () => {
    const u = await tp.createUser("shortlived.bsky.social");
    expect(await whoAmI(bearer(u.jwt))).toBe(u.did);
    await tp.platform.db.user.delete({ where: { did: u.did } });
    expect(await whoAmI(bearer(u.jwt))).toBe("401 User not found");
    expect(await whoAmI(cookie(u.jwt))).toBe("401 User not found");
    expectLoginRedirect(await tp.request("/app/", { headers: cookie(u.jwt) }), "/app/", "deleted user on /app/");
  });
});

describe("cookie tossing: platform_token planted for .{D} by a wiki subdomain (security.md #42)", () => {
  // A script on {slug}.{D} can set `platform_token` for the whole domain with a longer Path
  // (say /app), so browsers send it BEFORE the real one; or it can add a second value another
  // way. The name and Domain of platform_token are fixed, so a lone planted token that is
  // genuinely valid (the attacker's own login) is indistinguishable from a real one: that is
  // the spec's residual risk. What must hold: a forged value never authenticates, and when the
  // request carries the victim's real token, a planted one never swaps it for another identity.
  const forgedForVictim = () => `${b64({ alg: "none", typ: "JWT" })}.${b64(claimsFor(VICTIM_DID))}.`;
  const header = (...values: string[]) => ({ Cookie: values.map((v) => `platform_token=${v}`).join("; ") });

  it("a planted forged or garbage value never authenticates, alone or next to other cookies", async () => {
    for (const value of [forgedForVictim(), "garbage", "", '"quoted"', "a.b.c"]) {
      expect(await whoAmI(header(value)), value).toMatch(/^401 /);
      expect(await whoAmI({ Cookie: `theme=dark; platform_token=${value}; other=1` }), value).toMatch(/^401 /);
    }
  });

  it("a forged or garbage value planted before (or after) the real one does not hide it: the victim stays the victim", async () => {
    const expired = await tp.mintJwt({ did: ATTACKER_DID, handle: "attacker.bsky.social" }, now() - 90_000);
    for (const planted of [forgedForVictim(), "garbage", "x", expired, `${attacker.jwt.slice(0, -2)}xx`]) {
      for (const cookies of [header(planted, victim.jwt), header(victim.jwt, planted), header(planted, victim.jwt, planted)]) {
        expect(await whoAmI(cookies), cookies.Cookie.slice(0, 60)).toBe(VICTIM_DID);
        expect((await tp.request("/app/", { headers: cookies })).status).toBe(200);
      }
    }
  });

  it("the attacker's own valid token planted next to the victim's never makes the victim the attacker", async () => {
    for (const cookies of [header(attacker.jwt, victim.jwt), header(victim.jwt, attacker.jwt), header(attacker.jwt, "garbage", victim.jwt)]) {
      const label = cookies.Cookie.slice(0, 40);
      const me = await whoAmI(cookies);
      expect(me, label).not.toBe(ATTACKER_DID);
      // Two different users in one Cookie header: ambiguous, so nobody (the victim's request is
      // refused rather than silently run as the attacker).
      expect(me, label).toBe("401 Invalid token");
      expectLoginRedirect(await tp.request("/app/", { headers: cookies }), "/app/", label);
      const query = consentQuery(SLUG);
      expectLoginRedirect(await tp.request(`/auth/oauth/consent?${query}`, { headers: cookies }), `/auth/oauth/consent?${query}`, label);
      // The login page does not bounce the victim into the attacker's dashboard.
      const login = await tp.request("/auth/login", { headers: cookies });
      expect(login.status, label).toBe(200);
    }
  });

  it("a create posted with both tokens is not made in the attacker's account", async () => {
    const res = await tp.request("/app/create", {
      method: "POST",
      headers: { ...header(attacker.jwt, victim.jwt), Origin: tp.origin, "Content-Type": "application/x-www-form-urlencoded" },
      body: formBody({ slug: "tossed-create", display_name: "Secret notes" }),
    });
    expectLoginRedirect(res, "/app/create", "tossed create");
    expect(await tp.platform.db.wiki.findUnique({ where: { slug: "tossed-create" } })).toBeNull();
  });

  it("logout revokes the victim's stored ATProto session even when a planted value comes first (auth.md §6)", async () => {
    const u = await tp.createUser("logout-toss.bsky.social");
    await tp.platform.db.atprotoOauthSession.create({ data: { key: u.did, value: "{}", updated_at: new Date().toISOString() } });
    const res = await tp.request("/auth/logout", { method: "POST", headers: { ...header(forgedForVictim(), "garbage", u.jwt), Origin: tp.origin } });
    expect(res.status).toBe(302);
    expect(res.headers.getSetCookie().some((c) => /^platform_token=;.*Max-Age=0/.test(c))).toBe(true);
    expect(await tp.platform.db.atprotoOauthSession.findUnique({ where: { key: u.did } })).toBeNull();
  });

  it("the same token twice is still that user; a Bearer header wins over any planted cookie", async () => {
    expect(await whoAmI(header(victim.jwt, victim.jwt))).toBe(VICTIM_DID);
    expect(await whoAmI({ ...bearer(victim.jwt), ...header(attacker.jwt) })).toBe(VICTIM_DID);
    expect(await whoAmI({ ...bearer(victim.jwt), ...header(forgedForVictim(), attacker.jwt) })).toBe(VICTIM_DID);
  });

  it("names are exact: Platform_Token or PLATFORM_TOKEN is another cookie and is ignored", async () => {
    expect(await whoAmI({ Cookie: `Platform_Token=${attacker.jwt}; platform_token=${victim.jwt}` })).toBe(VICTIM_DID);
    expect(await whoAmI({ Cookie: `PLATFORM_TOKEN=${victim.jwt}` })).toBe("401 Not authenticated");
  });

  it("a header stuffed with many planted values is refused quickly, never a 5xx", async () => {
    const many = header(...Array.from({ length: 200 }, (_, i) => `${forgedForVictim()}${i}`), victim.jwt);
    const started = performance.now();
    const res = await tp.request("/api/me", { headers: many });
    expect(res.status).toBeLessThan(500);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
