// Integration: Bluesky login (auth.md §3–§6, acceptance.md §1–§4) against the fault mock.
import { SignJWT, UnsecuredJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startMockNetwork, type MockNetwork } from "./support/mock-atproto";
import { cookieHeader, startTestPlatform, type TestPlatform } from "./support/platform";
import { freePort } from "./support/process";

let mock: MockNetwork;
let tp: TestPlatform;
const ALICE = { did: "did:plc:aliceaaaaaaaaaaaaaaaaaaa", handle: "alice.bsky.social", displayName: "Alice A." };
const BOB = { did: "did:plc:bobaaaaaaaaaaaaaaaaaaaaa", handle: "bob.test" };

const env = () => ({ PLC_DIRECTORY_URL: mock.url, ATPROTO_HANDLE_RESOLVER: mock.url, BSKY_APPVIEW_URL: mock.url });

beforeAll(async () => {
  mock = await startMockNetwork();
  mock.addAccount(BOB);
  mock.addAccount(ALICE);
  tp = await startTestPlatform(env());
});
afterAll(async () => {
  await tp.close();
  await mock.close();
});
afterEach(() => {
  for (const k of Object.keys(mock.faults)) delete (mock.faults as Record<string, unknown>)[k];
});

const setCookies = (res: Response) => res.headers.getSetCookie();
const cookieValue = (res: Response, name: string) =>
  setCookies(res).find((c) => c.startsWith(name + "="))?.split(";")[0].slice(name.length + 1);
const form = (fields: Record<string, string>) => ({
  method: "POST",
  body: new URLSearchParams(fields),
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
});

/** POST /auth/login, approve at the mock, return the callback URL and the binding cookie. */
async function begin(t: TestPlatform, username: string, returnTo?: string) {
  const res = await t.request("/auth/login", form({ username, ...(returnTo ? { return_to: returnTo } : {}) }));
  expect(res.status, await res.clone().text()).toBe(302);
  const binding = cookieValue(res, t.platform.config.scheme === "https" ? "__Host-login_state" : "login_state")!;
  const callback = await mock.approve(res.headers.get("location")!);
  return { res, binding, callback, bindingName: t.platform.config.scheme === "https" ? "__Host-login_state" : "login_state" };
}

async function login(t: TestPlatform, username: string, returnTo?: string) {
  const b = await begin(t, username, returnTo);
  const cb = await t.request(b.callback, { headers: { Cookie: `${b.bindingName}=${b.binding}` } });
  return { ...b, cb };
}

/** The JSON log lines written since `from` (an index into t.logs). */
const logLines = (t: TestPlatform, from: number) => t.logs.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>);

/** The binding nonce stored with a flow (what the cookie carried raw before it was signed). */
async function flowNonce(t: TestPlatform, callback: string): Promise<string> {
  const row = await t.platform.db.atprotoOauthState.findUnique({ where: { key: new URL(callback).searchParams.get("state")! } });
  return JSON.parse(JSON.parse(row!.value).appState).nonce;
}

const flashText = async (t: TestPlatform, res: Response) => {
  const flash = setCookies(res).find((c) => /^(__Host-)?flash=./.test(c))!.split(";")[0];
  return (await t.request("/auth/login", { headers: { Cookie: flash } })).text();
};

describe("GET /auth/login (L1, L9–L14)", () => {
  it("renders both forms (L1)", async () => {
    const res = await tp.request("/auth/login");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Login with Bluesky");
    expect(html).toContain("Enter your Bluesky handle to continue");
    const input = /<input[^>]*id="username"[^>]*>/.exec(html)?.[0] ?? "";
    expect(input).toContain('name="username"');
    expect(input).toContain("required");
    expect(html).toContain('placeholder="alice.bsky.social"');
    expect(html).toMatch(/<button type="submit"[^>]*>Login<\/button>/);
    expect(html).toContain("Create Account with Bluesky Social");
    expect(html).toContain('value="https://bsky.social"');
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  });

  it("keeps a safe return_to in both forms and drops unsafe ones (L14)", async () => {
    const ok = await (await tp.request("/auth/login?return_to=/x")).text();
    expect(ok.match(/name="return_to" value="\/x"/g)).toHaveLength(2);
    for (const bad of ["//evil.example", "/\\evil.example", "https://evil.com/"]) {
      const html = await (await tp.request("/auth/login?return_to=" + encodeURIComponent(bad))).text();
      expect(html).not.toContain('name="return_to"');
    }
  });

  it("a signed-in user is redirected to /app/ or a safe return_to (L9)", async () => {
    const u = await tp.createUser("signed.in.test");
    const a = await tp.request("/auth/login", { headers: cookieHeader(u.jwt) });
    expect(a.status).toBe(302);
    expect(a.headers.get("location")).toBe(`${tp.origin}/app/`);
    const b = await tp.request("/auth/login?return_to=/some/page", { headers: cookieHeader(u.jwt) });
    expect(b.headers.get("location")).toBe("/some/page");
    const c = await tp.request("/auth/login?return_to=https://evil.com/steal", { headers: cookieHeader(u.jwt) });
    expect(c.headers.get("location")).toBe(`${tp.origin}/app/`);
  });

  it("an expired token pre-fills the handle, printable and cut to 253 (L11)", async () => {
    const past = Math.floor(Date.now() / 1000) - 90_000;
    const jwt = await tp.mintJwt({ did: "did:plc:expired", handle: "expired.test" }, past);
    const html = await (await tp.request("/auth/login", { headers: cookieHeader(jwt) })).text();
    expect(html).toContain('value="expired.test"');
    const long = await tp.mintJwt({ did: "did:plc:long", handle: "\u0007" + "a".repeat(1000) }, past);
    const html2 = await (await tp.request("/auth/login", { headers: cookieHeader(long) })).text();
    expect(html2).toContain(`value="${"a".repeat(253)}"`);
    expect(html2).not.toContain("a".repeat(254));
  });

  it("garbage, foreign, alg none, HS256 and exp-less tokens give the empty form (L12)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: "did:plc:x", handle: "x.test", iss: "robot.wtf", aud: "robot.wtf", iat: now, exp: now + 100 };
    const pub = tp.platform.keys.signing.publicKey.export({ format: "pem", type: "spki" }).toString();
    const tokens = [
      "garbage",
      new UnsecuredJWT(claims).encode(),
      await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(pub)),
      await new SignJWT({ ...claims, exp: undefined }).setProtectedHeader({ alg: "RS256" }).sign(tp.platform.keys.signing.privateKey),
    ];
    for (const t of tokens) {
      const res = await tp.request("/auth/login", { headers: cookieHeader(t) });
      expect(res.status).toBe(200);
      expect(await res.text()).not.toContain('value="x.test"');
      expect(setCookies(res).some((c) => c.startsWith("platform_token="))).toBe(false);
    }
  });

  it("a valid token without a users row clears the cookie and shows the form (L13)", async () => {
    const jwt = await tp.mintJwt({ did: "did:plc:deleted", handle: "deleted.test" });
    const res = await tp.request("/auth/login", { headers: cookieHeader(jwt) });
    expect(res.status).toBe(200);
    expect(setCookies(res).find((c) => c.startsWith("platform_token="))).toMatch(/^platform_token=; .*Max-Age=0/);
  });

  it("J8: a malformed third-party cookie before platform_token still authenticates", async () => {
    const u = await tp.createUser("j8.test");
    const res = await tp.request("/auth/login", { headers: { Cookie: `bad"cookie; =; x=%E0%A4%A; platform_token=${u.jwt}` } });
    expect(res.status).toBe(302);
  });
});

describe("POST /auth/login (L2–L8)", () => {
  it.each(["", "not a handle", "alice.", "@", "a b.c"])("%j → 400 with the flash, never 500 (L2, L3)", async (username) => {
    const res = await tp.request("/auth/login", form({ username }));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Not a valid handle, DID, or auth server URL");
  });

  it("a DID starts PAR at the mock with S256, atproto and DPoP; the binding cookie is set (L4)", async () => {
    const before = mock.calls.length;
    const res = await tp.request("/auth/login", form({ username: ALICE.did }));
    expect(res.status).toBe(302);
    const loc = new URL(res.headers.get("location")!);
    expect(loc.origin + loc.pathname).toBe(`${mock.url}/oauth/authorize`);
    expect(loc.searchParams.get("client_id")).toMatch(/^http:\/\/localhost\?/);
    expect(loc.searchParams.get("request_uri")).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const par = mock.calls.slice(before).filter((c) => c.path === "/oauth/par").pop()!;
    expect(par.body).toMatchObject({ code_challenge_method: "S256", scope: "atproto", response_type: "code", login_hint: ALICE.handle });
    expect(par.headers.dpop).toBeTruthy();
    const cookie = setCookies(res).find((c) => c.startsWith("login_state="))!;
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).toContain("Max-Age=900");
    expect(cookie).not.toContain("Domain=");
  });

  it.each(["alice", "@alice", "  Alice.BSKY.social "])("%j resolves alice.bsky.social, lowercased (L5)", async (username) => {
    const fresh = await startTestPlatform(env()); // no handle cache from earlier logins
    const before = mock.calls.length;
    const res = await fresh.request("/auth/login", form({ username }));
    expect(res.status).toBe(302);
    const asked = mock.calls.slice(before).filter((c) => c.path === "/xrpc/com.atproto.identity.resolveHandle").map((c) => c.query.get("handle"));
    expect(asked.length).toBeGreaterThan(0);
    expect(new Set(asked)).toEqual(new Set(["alice.bsky.social"]));
    await fresh.close();
  });

  it("an unresolvable handle → 400 'Failed to resolve identity', input kept (L6)", async () => {
    const res = await tp.request("/auth/login", form({ username: "nobody.test", return_to: "/app/account" }));
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("Failed to resolve identity: handle not found");
    expect(html).toContain('value="nobody.test"');
    expect(html).toContain('name="return_to" value="/app/account"');
  });

  it("an unknown DID → 400 'Failed to resolve identity: DID document not found'", async () => {
    const res = await tp.request("/auth/login", form({ username: "did:plc:unknownaaaaaaaaaaaaaaaaa" }));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Failed to resolve identity: DID document not found");
  });

  it("a DID whose DID document claims a handle that does not resolve back → 400 (§4.3)", async () => {
    const did = "did:plc:eveaaaaaaaaaaaaaaaaaaaaa";
    mock.accounts.set(did, { did, handle: "eve.test", docHandle: "not-eve.test" });
    const res = await tp.request("/auth/login", form({ username: did }));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Failed to resolve identity: handle does not match DID");
    expect(mock.calls.some((c) => c.path === "/oauth/par" && c.body?.login_hint === did)).toBe(false);
  });

  it.each(["did", "handle"] as const)("a DID document without #atproto_pds → 400 (§4.3, %s input)", async (kind) => {
    const did = kind === "did" ? "did:plc:nopdsdidaaaaaaaaaaaaaaaa" : "did:plc:nopdshandleaaaaaaaaaaaaa";
    mock.accounts.set(did, { did, handle: `nopds-${kind}.test`, pds: null });
    const res = await tp.request("/auth/login", form({ username: kind === "did" ? did : `nopds-${kind}.test` }));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Failed to resolve identity: no #atproto_pds service in the DID document");
  });

  it("a PDS that refuses connections → 502 'Failed to fetch Auth Server OAuth metadata' (L8)", async () => {
    const closed = await freePort();
    const did = "did:plc:refusedaaaaaaaaaaaaaaaaa";
    mock.accounts.set(did, { did, handle: "refused.test", pds: `http://127.0.0.1:${closed}` });
    const res = await tp.request("/auth/login", form({ username: "refused.test" }));
    expect(res.status).toBe(502);
    expect(await res.text()).toContain("Failed to fetch Auth Server OAuth metadata");
  });

  it("unreachable or invalid AS metadata → 502 (L8)", async () => {
    mock.faults.metadataStatus = 500;
    const first = await startTestPlatform(env()); // no metadata cache from earlier logins
    const a = await first.request("/auth/login", form({ username: BOB.handle }));
    expect(a.status).toBe(502);
    expect(await a.text()).toContain("Failed to fetch Auth Server OAuth metadata");
    await first.close();
    delete mock.faults.metadataStatus;
    mock.faults.metadataInvalid = true;
    const fresh = await startTestPlatform(env()); // no metadata cache from earlier logins
    const b = await fresh.request("/auth/login", form({ username: BOB.handle }));
    expect(b.status).toBe(502);
    await fresh.close();
  });

  it("PAR rejected → 502 'Authorization server rejected the login request'", async () => {
    mock.faults.parStatus = 400;
    const res = await tp.request("/auth/login", form({ username: BOB.handle }));
    expect(res.status).toBe(502);
    expect(await res.text()).toContain("Authorization server rejected the login request");
  });

  it("https config refuses private, loopback and ported server URLs (L7)", async () => {
    const https = await startTestPlatform({ PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "robot.test" });
    for (const username of ["https://10.0.0.1", "https://localhost", "https://x.example:8443"]) {
      const res = await https.request("/auth/login", form({ username }));
      expect(res.status, username).toBe(400);
      expect(await res.text()).toContain("Invalid authorization server URL");
    }
    await https.close();
  });
});

describe("GET /auth/callback (CB1–CB17)", () => {
  it("a full login sets platform_token and clears the binding cookie; the user row exists (CB5, CB7, J1, J2)", async () => {
    const { cb } = await login(tp, ALICE.did);
    expect(cb.status).toBe(302);
    expect(cb.headers.get("location")).toBe(`${tp.origin}/app/`);
    const token = setCookies(cb).find((c) => c.startsWith("platform_token="))!;
    expect(token).toMatch(/; Path=\/; Max-Age=86400; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
    expect(token).not.toContain("Domain=");
    expect(setCookies(cb).find((c) => c.startsWith("login_state="))).toContain("Max-Age=0");
    const row = await tp.platform.db.user.findUnique({ where: { did: ALICE.did } });
    expect(row).toMatchObject({ handle: "alice.bsky.social", display_name: "Alice A.", wiki_count: 0 });
    expect(row!.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    const jwt = token.split(";")[0].slice("platform_token=".length);
    const claims = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
    expect(claims).toMatchObject({ sub: ALICE.did, handle: "alice.bsky.social", name: "Alice A.", iss: "robot.wtf", aud: "robot.wtf" });
    expect(claims.exp - claims.iat).toBe(86400);
  });

  it("display name falls back to the handle when the profile lookup fails (CB7)", async () => {
    mock.faults.profileStatus = 500;
    const did = "did:plc:carolaaaaaaaaaaaaaaaaaaa";
    mock.addAccount({ did, handle: "carol.test", displayName: "Carol" });
    const { cb } = await login(tp, "carol.test");
    expect(cb.status).toBe(302);
    expect((await tp.platform.db.user.findUnique({ where: { did } }))?.display_name).toBe("carol.test");
    expect(tp.logs.join("")).toContain("display name lookup failed (tolerated)");
    const me = await tp.request("/api/me", { headers: cookieHeader(cookieValue(cb, "platform_token")!) });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ did, handle: "carol.test", display_name: "carol.test" });
  });

  it("an error callback → 302 /auth/login with the flash; the deep link survives (CB1, CB2)", async () => {
    const res = await tp.request("/auth/callback?error=access_denied&error_description=User+denied");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/auth/login");
    expect(await flashText(tp, res)).toContain("Authorization failed: access_denied: User denied");

    const start = await tp.request("/auth/login", form({ username: BOB.handle, return_to: "/app/account" }));
    const state = new URL(await mock.approve(start.headers.get("location")!)).searchParams.get("state")!;
    const err = await tp.request(`/auth/callback?state=${state}&error=access_denied`);
    expect(err.headers.get("location")).toBe("/auth/login?return_to=%2Fapp%2Faccount");
    expect(await tp.platform.db.atprotoOauthState.count({ where: { key: state } })).toBe(0);
  });

  it("an overlong error and description are cut, so the flash cookie stays small (§5 step 1)", async () => {
    const res = await tp.request(`/auth/callback?error=${"e".repeat(5000)}&error_description=${"d".repeat(5000)}`);
    expect(res.status).toBe(302);
    const flash = setCookies(res).find((c) => /^(__Host-)?flash=./.test(c))!;
    expect(flash.length).toBeLessThan(2048);
    const text = await flashText(tp, res);
    expect(text).toContain(`Authorization failed: ${"e".repeat(200)}: ${"d".repeat(200)}`);
    expect(text).not.toContain("e".repeat(201));
    expect(text).not.toContain("d".repeat(201));
  });

  it("missing parameters → 400 (CB3); unknown state → 400 (CB4)", async () => {
    const a = await tp.request("/auth/callback?state=abc");
    expect(a.status).toBe(400);
    const html = await a.text();
    expect(html).toContain("Missing required OAuth callback parameters");
    expect(html).toContain("Error 400");
    expect(html).toContain("Start Over");
    const b = await tp.request(`/auth/callback?state=nope&iss=${encodeURIComponent(mock.issuer)}&code=x`);
    expect(b.status).toBe(400);
    expect(await b.text()).toContain("OAuth request not found");
    const json = await tp.request("/auth/callback?state=abc", { headers: { Accept: "application/json" } });
    expect(await json.json()).toEqual({ error: "Missing required OAuth callback parameters" });
  });

  it("replaying a successful callback → 400 'OAuth request not found' (CB8)", async () => {
    const { callback, binding } = await login(tp, BOB.handle);
    const again = await tp.request(callback, { headers: { Cookie: `login_state=${binding}` } });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain("OAuth request not found");
  });

  it("without or with a different binding cookie → 400, no token exchange (CB9, D6)", async () => {
    for (const cookie of [undefined, "login_state=someone-elses"]) {
      const { callback } = await begin(tp, BOB.handle);
      const before = mock.calls.filter((c) => c.path === "/oauth/token").length;
      const res = await tp.request(callback, { headers: cookie ? { Cookie: cookie } : {} });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain("Login session mismatch");
      expect(setCookies(res).some((c) => c.startsWith("platform_token="))).toBe(false);
      expect(setCookies(res).find((c) => c.startsWith("login_state="))).toContain("Max-Age=0");
      expect(mock.calls.filter((c) => c.path === "/oauth/token").length).toBe(before);
    }
  });

  it("the binding cookie is HMAC-signed: the bare nonce, or a forged signature, is refused (security.md #42)", async () => {
    const { callback, binding } = await begin(tp, BOB.handle);
    const nonce = await flowNonce(tp, callback);
    expect(binding).not.toBe(nonce);
    const before = mock.calls.filter((c) => c.path === "/oauth/token").length;
    const res = await tp.request(callback, { headers: { Cookie: `login_state=${nonce}` } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Login session mismatch");
    const forged = `${Buffer.from(nonce).toString("base64url")}.${"A".repeat(43)}`;
    const again = await begin(tp, BOB.handle);
    const res2 = await tp.request(again.callback, { headers: { Cookie: `login_state=${forged}` } });
    expect(res2.status).toBe(400);
    expect(mock.calls.filter((c) => c.path === "/oauth/token").length).toBe(before);
  });

  it("an iss that differs from the flow's issuer → 400 (CB10)", async () => {
    const { callback, binding } = await begin(tp, BOB.handle);
    const u = new URL(callback);
    u.searchParams.set("iss", "https://evil.example");
    const res = await tp.request(u.href, { headers: { Cookie: `login_state=${binding}` } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Issuer mismatch");
  });

  it("another DID as sub → 400 'Token subject mismatch', and the session is revoked (CB11)", async () => {
    const { callback, binding } = await begin(tp, BOB.handle);
    mock.faults.tokenSub = ALICE.did;
    const revokedBefore = mock.revoked.length;
    const res = await tp.request(callback, { headers: { Cookie: `login_state=${binding}` } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Token subject mismatch");
    expect(mock.revoked.length).toBeGreaterThan(revokedBefore);
    expect(await tp.platform.db.atprotoOauthSession.count({ where: { key: ALICE.did } })).toBe(0);
  });

  it("a scope without atproto → 400 'Scope mismatch' (CB12)", async () => {
    const { callback, binding } = await begin(tp, BOB.handle);
    mock.faults.tokenScope = "transition:generic";
    const res = await tp.request(callback, { headers: { Cookie: `login_state=${binding}` } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Scope mismatch");
  });

  it("a failing token endpoint → 502 'Token exchange failed' with Start Over (CB13)", async () => {
    const { callback, binding } = await begin(tp, BOB.handle, "/app/account");
    mock.faults.tokenStatus = 500;
    const res = await tp.request(callback, { headers: { Cookie: `login_state=${binding}` } });
    expect(res.status).toBe(502);
    const html = await res.text();
    expect(html).toContain("Token exchange failed");
    expect(html).toContain('href="/auth/login?return_to=%2Fapp%2Faccount"');
  });

  it("a token endpoint that never answers → 502 'Token exchange failed' after the outbound timeout (CB13)", async () => {
    const { callback, binding } = await begin(tp, BOB.handle, "/app/account");
    mock.faults.tokenHang = true;
    const res = await tp.request(callback, { headers: { Cookie: `login_state=${binding}` } });
    expect(res.status).toBe(502);
    const html = await res.text();
    expect(html).toContain("Token exchange failed");
    expect(html).toContain('href="/auth/login?return_to=%2Fapp%2Faccount"');
    expect(setCookies(res).some((c) => c.startsWith("platform_token="))).toBe(false);
  }, 40_000);

  it("a sub whose DID document leads to another authorization server → 400 'Auth server mismatch' (§5 step 6)", async () => {
    const other = await startMockNetwork();
    try {
      const did = "did:plc:elsewhereaaaaaaaaaaaaaaa";
      mock.accounts.set(did, { did, handle: "elsewhere.test", pds: other.url });
      const { callback, binding } = await begin(tp, mock.url); // a server-URL login: no expected DID
      mock.faults.tokenSub = did;
      const revokedBefore = mock.revoked.length;
      const res = await tp.request(callback, { headers: { Cookie: `login_state=${binding}` } });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain("Auth server mismatch");
      expect(setCookies(res).some((c) => c.startsWith("platform_token="))).toBe(false);
      expect(mock.revoked.length).toBeGreaterThan(revokedBefore);
      expect(await tp.platform.db.atprotoOauthSession.count({ where: { key: did } })).toBe(0);
      expect(await tp.platform.db.user.count({ where: { did } })).toBe(0);
    } finally {
      await other.close();
    }
  });

  it("a DID without a verified handle at callback time → 400, the new session revoked and deleted (§5 step 8)", async () => {
    const did = "did:plc:frankaaaaaaaaaaaaaaaaaaa";
    mock.accounts.set(did, { did, handle: "frank.test" });
    const { callback, binding } = await begin(tp, did);
    mock.accounts.set(did, { did, handle: "frank.test", docHandle: "not-frank.test" }); // the handle moved away meanwhile
    const revokedBefore = mock.revoked.length;
    const res = await tp.request(callback, { headers: { Cookie: `login_state=${binding}` } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Failed to resolve identity: no verified handle");
    expect(mock.revoked.length).toBeGreaterThan(revokedBefore);
    expect(await tp.platform.db.atprotoOauthSession.count({ where: { key: did } })).toBe(0);
    expect(await tp.platform.db.user.count({ where: { did } })).toBe(0);
  });

  it("a consent return_to comes back exactly; a callback return_to has no effect (CB14, CB15)", async () => {
    const consent = "/auth/oauth/consent?client_id=test&wiki_slug=w&redirect_uri=http%3A%2F%2Flocalhost%2Fcb&code_challenge=abc";
    const { callback, binding } = await begin(tp, BOB.handle, consent);
    const res = await tp.request(callback + "&return_to=%2Fevil", { headers: { Cookie: `login_state=${binding}` } });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(consent);
  });

  it("a flow older than 15 minutes → 400 (CB16)", async () => {
    const { callback, binding } = await begin(tp, BOB.handle);
    const state = new URL(callback).searchParams.get("state")!;
    await tp.platform.db.atprotoOauthState.update({ where: { key: state }, data: { created_at: "2020-01-01T00:00:00.000000+00:00" } });
    const res = await tp.request(callback, { headers: { Cookie: `login_state=${binding}` } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("OAuth request not found");
  });

  it("a changed handle is updated; the old holder of the new handle gets its DID (CB17)", async () => {
    const did = "did:plc:daveaaaaaaaaaaaaaaaaaaaa";
    mock.addAccount({ did, handle: "dave.test" });
    await login(tp, "dave.test");
    await tp.platform.db.user.create({ data: { did: "did:plc:squatter", handle: "dave2.test", created_at: "2025-01-01T00:00:00.000000+00:00" } });
    mock.accounts.set(did, { did, handle: "dave2.test" });
    const { cb } = await login(tp, did);
    expect(cb.status).toBe(302);
    expect((await tp.platform.db.user.findUnique({ where: { did } }))?.handle).toBe("dave2.test");
    expect((await tp.platform.db.user.findUnique({ where: { did: "did:plc:squatter" } }))?.handle).toBe("did:plc:squatter");
  });

  it("a predecessor row holding the handle in another case also gives it up (CB17, security.md #28)", async () => {
    const did = "did:plc:ivyaaaaaaaaaaaaaaaaaaaaa";
    mock.accounts.set(did, { did, handle: "ivy.test" });
    await tp.platform.db.user.create({ data: { did: "did:plc:oldivy", handle: "Ivy.Test", created_at: "2024-01-01T00:00:00.000000+00:00" } });
    const { cb } = await login(tp, "ivy.test");
    expect(cb.status).toBe(302);
    expect((await tp.platform.db.user.findUnique({ where: { did } }))?.handle).toBe("ivy.test");
    expect((await tp.platform.db.user.findUnique({ where: { did: "did:plc:oldivy" } }))?.handle).toBe("did:plc:oldivy");
  });
});

describe("logout (LO1–LO5)", () => {
  it("GET logs out: revokes at the AS, deletes the session, clears cookies, 302 / (LO1, LO2)", async () => {
    const { cb } = await login(tp, BOB.handle);
    const jwt = cookieValue(cb, "platform_token")!;
    expect(await tp.platform.db.atprotoOauthSession.count({ where: { key: BOB.did } })).toBe(1);
    const revokedBefore = mock.revoked.length;
    const res = await tp.request("/auth/logout", { headers: { ...cookieHeader(jwt), "Sec-Fetch-Site": "same-origin" } });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${tp.origin}/`);
    expect(setCookies(res).find((c) => c.startsWith("platform_token="))).toMatch(/^platform_token=; Path=\/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/);
    expect(mock.revoked.length).toBeGreaterThan(revokedBefore);
    expect(await tp.platform.db.atprotoOauthSession.count({ where: { key: BOB.did } })).toBe(0);
  });

  it("an authorization server that never answers the revocation does not hold logout up (§6 step 1)", async () => {
    const { cb } = await login(tp, BOB.handle);
    const jwt = cookieValue(cb, "platform_token")!;
    mock.faults.revokeHang = true;
    const revokeCalls = mock.calls.filter((c) => c.path === "/oauth/revoke").length;
    const before = tp.logs.length;
    const started = Date.now();
    const res = await tp.request("/auth/logout", { headers: cookieHeader(jwt) });
    const took = Date.now() - started;
    expect(res.status).toBe(302);
    expect(setCookies(res).find((c) => c.startsWith("platform_token="))).toContain("Max-Age=0");
    expect(mock.calls.filter((c) => c.path === "/oauth/revoke").length).toBe(revokeCalls + 1); // it was asked
    expect(took).toBeLessThan(5_000); // the outbound timeout alone would be 10 s
    expect(await tp.platform.db.atprotoOauthSession.count({ where: { key: BOB.did } })).toBe(0);
    const warned = logLines(tp, before).find((l) => l.level === "warn" && /revoking the ATProto session/.test(String(l.msg)));
    expect(warned).toMatchObject({ did: BOB.did });
    expect(warned?.reqId).toBeTruthy();
  });

  it("no cookie or an invalid one → 302, never an error (LO3)", async () => {
    for (const headers of [{}, cookieHeader("garbage.x.y")]) {
      const res = await tp.request("/auth/logout", { headers });
      expect(res.status).toBe(302);
    }
  });

  it("a cross-site GET asks instead of logging out (LO4)", async () => {
    const u = await tp.createUser("lo4.test");
    const res = await tp.request("/auth/logout", { headers: { ...cookieHeader(u.jwt), "Sec-Fetch-Site": "cross-site" } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Sign out of robot.wtf?");
    expect(setCookies(res).some((c) => c.startsWith("platform_token="))).toBe(false);
  });

  it("POST needs the platform Origin (LO5)", async () => {
    const u = await tp.createUser("lo5.test");
    const evil = await tp.request("/auth/logout", { method: "POST", headers: { ...cookieHeader(u.jwt), Origin: "http://alice.127.0.0.1:5173" } });
    expect(evil.status).toBe(403);
    const ok = await tp.request("/auth/logout", { method: "POST", headers: { ...cookieHeader(u.jwt), Origin: tp.origin } });
    expect(ok.status).toBe(302);
  });
});

describe("production-shaped configuration (CB6, SEC4)", () => {
  it("confidential client: private_key_jwt at PAR and token; Domain cookie; __Host- binding cookie", async () => {
    const https = await startTestPlatform({ ...env(), PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "robot.test", ATPROTO_ALLOW_HTTP_LOOPBACK: "true" });
    try {
      const { cb, res, bindingName } = await login(https, BOB.handle);
      expect(bindingName).toBe("__Host-login_state");
      const binding = setCookies(res).find((c) => c.startsWith("__Host-login_state="))!;
      expect(binding).toContain("Secure");
      expect(binding).not.toContain("Domain=");
      expect(cb.status).toBe(302);
      expect(cb.headers.get("location")).toBe("https://robot.test/app/");
      expect(setCookies(cb).find((c) => c.startsWith("platform_token="))).toMatch(/Domain=\.robot\.test; Path=\/; Max-Age=86400; .*HttpOnly; Secure; SameSite=Lax/);
      const par = mock.calls.filter((c) => c.path === "/oauth/par").pop()!;
      expect(par.body?.client_id).toBe("https://robot.test/auth/client-metadata.json");
      expect(par.body?.client_assertion_type).toBe("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
      const token = mock.calls.filter((c) => c.path === "/oauth/token").pop()!;
      expect(token.body?.client_assertion).toBeTruthy();
      expect(cb.headers.get("strict-transport-security")).toBe("max-age=31536000");
    } finally {
      await https.close();
    }
  });
});

describe("rate limits on login and callback (RL1, RL3, RL5)", () => {
  it("the 4th login POST with RATE_LIMIT_LOGIN=3/60 is 429 with Retry-After; HTML or JSON", async () => {
    const limited = await startTestPlatform({ ...env(), RATE_LIMITS_ENABLED: "true", RATE_LIMIT_LOGIN: "3/60" });
    for (let i = 0; i < 3; i++) expect((await limited.request("/auth/login", form({ username: "" }))).status).toBe(400);
    const html = await limited.request("/auth/login", form({ username: "" }));
    expect(html.status).toBe(429);
    expect(Number(html.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = await html.text();
    expect(body).toContain("429");
    expect(body).toContain("Too Many Requests");
    const json = await limited.request("/auth/login", { ...form({ username: "" }), headers: { Accept: "application/json" } });
    expect(await json.json()).toEqual({ error: "Rate limit exceeded" });
    // Another client IP has its own budget.
    expect((await limited.request("/auth/login", { ...form({ username: "" }), ip: "10.9.9.9" })).status).toBe(400);
    await limited.close();
  });

  it("the 11th login POST with the defaults is 429; the callback has its own limit", async () => {
    const limited = await startTestPlatform({ ...env(), RATE_LIMITS_ENABLED: "true", RATE_LIMIT_CALLBACK: "2/60" });
    for (let i = 0; i < 10; i++) expect((await limited.request("/auth/login", form({ username: "" }))).status).toBe(400);
    expect((await limited.request("/auth/login", form({ username: "" }))).status).toBe(429);
    expect((await limited.request("/auth/callback?state=x")).status).toBe(400);
    expect((await limited.request("/auth/callback?state=x")).status).toBe(400);
    expect((await limited.request("/auth/callback?state=x")).status).toBe(429);
    await limited.close();
  });

  /** A login POST from Caddy's socket address (127.0.0.1) carrying the given X-Forwarded-For. */
  const viaProxy = (forwardedFor: string) => {
    const init = form({ username: "" });
    return { ...init, headers: { ...init.headers, "X-Forwarded-For": forwardedFor } };
  };

  /** Runs `body` against a platform whose login budget is 2/60, behind a proxy it trusts or not. */
  const withLoginBudgetOfTwo = async (trustProxy: boolean, body: (limited: TestPlatform) => Promise<void>) => {
    const limited = await startTestPlatform({
      ...env(),
      RATE_LIMITS_ENABLED: "true",
      RATE_LIMIT_LOGIN: "2/60",
      TRUST_PROXY: String(trustProxy),
    });
    try {
      await body(limited);
    } finally {
      await limited.close();
    }
  };

  it("RL3: with TRUST_PROXY the last X-Forwarded-For hop is the client; earlier hops change nothing", () =>
    withLoginBudgetOfTwo(true, async (limited) => {
      expect((await limited.request("/auth/login", viaProxy("198.51.100.1, 203.0.113.5"))).status).toBe(400);
      expect((await limited.request("/auth/login", viaProxy("203.0.113.5"))).status).toBe(400);
      // Spent: a forged earlier hop does not buy a new budget.
      expect((await limited.request("/auth/login", viaProxy("198.51.100.77, 203.0.113.5"))).status).toBe(429);
      expect((await limited.request("/auth/login", viaProxy("203.0.113.5, 203.0.113.5"))).status).toBe(429);
      // Another last hop is another client, and the proxy's own address is not charged for it.
      expect((await limited.request("/auth/login", viaProxy("203.0.113.5, 203.0.113.6"))).status).toBe(400);
      expect((await limited.request("/auth/login", form({ username: "" }))).status).toBe(400);
    }));

  it("RL3: without TRUST_PROXY X-Forwarded-For is ignored: the socket address is the client", () =>
    withLoginBudgetOfTwo(false, async (limited) => {
      expect((await limited.request("/auth/login", viaProxy("203.0.113.5"))).status).toBe(400);
      expect((await limited.request("/auth/login", viaProxy("203.0.113.6"))).status).toBe(400);
      expect((await limited.request("/auth/login", viaProxy("203.0.113.7"))).status).toBe(429);
      expect((await limited.request("/auth/login", { ...viaProxy("203.0.113.5"), ip: "10.9.9.9" })).status).toBe(400);
    }));
});

describe("every callback refusal is logged with its cause (E4, D15)", () => {
  /** name, the callback URL (and binding cookie) to send, the expected status and message. */
  type Case = [string, () => Promise<string | readonly [string, string]>, number, string];
  it.each<Case>([
    ["missing parameters", async () => "/auth/callback?state=abc", 400, "Missing required OAuth callback parameters"],
    ["an unknown state", async () => `/auth/callback?state=nope&iss=${encodeURIComponent(mock.issuer)}&code=x`, 400, "OAuth request not found"],
    [
      "an issuer mismatch",
      async () => {
        const { callback, binding } = await begin(tp, BOB.handle);
        const u = new URL(callback);
        u.searchParams.set("iss", "https://evil.example");
        return [u.href, `login_state=${binding}`];
      },
      400,
      "Issuer mismatch",
    ],
    ["a binding mismatch", async () => [(await begin(tp, BOB.handle)).callback, "login_state=x"], 400, "Login session mismatch"],
  ])("%s: one warn line with reqId, status and message", async (_name, make, status, message) => {
    const made = await make();
    const [url, cookie] = typeof made === "string" ? [made, undefined] : made;
    const before = tp.logs.length;
    const res = await tp.request(url, { headers: cookie ? { Cookie: cookie } : {} });
    expect(res.status).toBe(status);
    const refusals = logLines(tp, before).filter((l) => l.msg === "callback refused");
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ level: "warn", status, message });
    expect(refusals[0].reqId).toBe(res.headers.get("x-request-id"));
  });

  it("a failed code exchange is logged with the library's cause", async () => {
    const { callback, binding } = await begin(tp, BOB.handle);
    mock.faults.tokenStatus = 500;
    const before = tp.logs.length;
    const res = await tp.request(callback, { headers: { Cookie: `login_state=${binding}` } });
    expect(res.status).toBe(502);
    const refusal = logLines(tp, before).find((l) => l.msg === "callback refused");
    expect(refusal).toMatchObject({ level: "warn", status: 502, message: "Token exchange failed" });
    expect(JSON.stringify(refusal?.err)).toContain("server_error");
  });
});

describe("logs never carry secrets (E4, T3)", () => {
  it("no code, state or binding value appears in the logs of failed callbacks", async () => {
    const before = tp.logs.length;
    const secrets: string[] = [];
    const note = (callback: string, binding?: string) => {
      const q = new URL(callback).searchParams;
      secrets.push(q.get("code")!, q.get("state")!, ...(binding ? [binding] : []));
    };
    // Binding mismatch, issuer mismatch, token exchange failure, scope mismatch, an error callback with a state.
    const a = await begin(tp, BOB.handle);
    note(a.callback, a.binding);
    await tp.request(a.callback, { headers: { Cookie: "login_state=someone-elses" } });
    const b = await begin(tp, BOB.handle);
    note(b.callback, b.binding);
    const wrongIss = new URL(b.callback);
    wrongIss.searchParams.set("iss", "https://evil.example");
    await tp.request(wrongIss.href, { headers: { Cookie: `login_state=${b.binding}` } });
    const c = await begin(tp, BOB.handle);
    note(c.callback, c.binding);
    mock.faults.tokenStatus = 500;
    await tp.request(c.callback, { headers: { Cookie: `login_state=${c.binding}` } });
    delete mock.faults.tokenStatus;
    const d = await begin(tp, BOB.handle);
    note(d.callback, d.binding);
    mock.faults.tokenScope = "transition:generic";
    await tp.request(d.callback, { headers: { Cookie: `login_state=${d.binding}` } });
    delete mock.faults.tokenScope;
    const e = await begin(tp, BOB.handle);
    note(e.callback, e.binding);
    await tp.request(`/auth/callback?state=${new URL(e.callback).searchParams.get("state")}&error=access_denied`, {
      headers: { Cookie: `login_state=${e.binding}` },
    });
    // The same callback twice at once (a double-click, or a replay racing the original).
    const f = await begin(tp, BOB.handle);
    note(f.callback, f.binding);
    await Promise.all([0, 1].map(() => tp.request(f.callback, { headers: { Cookie: `login_state=${f.binding}` } })));
    const logs = tp.logs.slice(before).join("\n");
    expect(logs).toContain("callback refused");
    for (const secret of secrets) expect(logs).not.toContain(secret);
  });


  it("no cookie, token, code or state value appears in the logs of a login and logout", async () => {
    const { cb, callback } = await login(tp, BOB.handle);
    const jwt = cookieValue(cb, "platform_token")!;
    await tp.request("/auth/logout", { headers: cookieHeader(jwt) });
    const logs = tp.logs.join("\n");
    const u = new URL(callback);
    expect(logs).not.toContain(jwt);
    expect(logs).not.toContain(u.searchParams.get("code")!);
    expect(logs).not.toContain(u.searchParams.get("state")!);
  });
});
