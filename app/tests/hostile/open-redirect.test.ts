// Hostile suite (issue 7), part 4: open-redirect probes on every redirecting parameter, in the
// production-shaped configuration (https, robot.test, wiki subdomains are real hosts):
// - login `return_to` (D5, security.md §4): GET /auth/login signed in and signed out, its `.data`
//   form, POST /auth/login (field and query), what the callback does with the stored value, and
//   the callback's error path; logout, which takes none;
// - the deep link /app/* sends through login;
// - consent `redirect_uri` (D3, auth.md §8): the page, Deny (registered URIs only), Approve (the
//   wiki host only), and the signed-out login hop.
// No Location (nor a link, form or meta refresh the page adds) may leave the allowed origins,
// checked by parsing it as a browser would (`new URL(loc, origin)`), and no Location has CR/LF.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_PARAMS, consentQuery, consentTokenOf, createTestWiki, postConsent } from "../support/consent";
import { bounded, expectSound, navigableUrls, originOf, send, type Answer } from "../support/hostile";
import { startMockNetwork, type MockNetwork } from "../support/mock-atproto";
import { elements, setCookieValue, type TestUser } from "../support/mgmt";
import { cookieHeader, startTestPlatform, type TestPlatform } from "../support/platform";

const D = "robot.test";
const ORIGIN = `https://${D}`;
const FALLBACK = `${ORIGIN}/app/`;
const BOB = { did: "did:plc:bobredirectaaaaaaaaaaaaa", handle: "bob.test" };

let mock: MockNetwork;
let tp: TestPlatform;
let user: TestUser;
const SLUG = "redir-wiki";

beforeAll(async () => {
  mock = await startMockNetwork();
  mock.addAccount(BOB);
  tp = await startTestPlatform({
    PLATFORM_SCHEME: "https",
    PLATFORM_DOMAIN: D,
    ATPROTO_ALLOW_HTTP_LOOPBACK: "true",
    PLC_DIRECTORY_URL: mock.url,
    ATPROTO_HANDLE_RESOLVER: mock.url,
    BSKY_APPVIEW_URL: mock.url,
  });
  expect(tp.origin).toBe(ORIGIN);
  user = await tp.createUser("carol.test");
  await createTestWiki(tp, user, SLUG);
});
afterAll(async () => {
  await tp.close();
  await mock.close();
});

// ---------------------------------------------------------------------------------------------
// The probes and the oracle
// ---------------------------------------------------------------------------------------------

const EVIL = "evil.example";
const PROBES: string[] = [
  // Scheme-relative and slash/backslash tricks.
  `//${EVIL}`,
  `///${EVIL}`,
  `////${EVIL}/`,
  `/\\${EVIL}`,
  `\\\\${EVIL}`,
  `\\/${EVIL}`,
  `/\\/${EVIL}`,
  `/%2F%2F${EVIL}`,
  `/%2f%2f${EVIL}`,
  `%2F%2F${EVIL}`,
  `/%5C${EVIL}`,
  `/%5C%5C${EVIL}`,
  `/.//${EVIL}`,
  `/..//${EVIL}`,
  `/./\\${EVIL}`,
  `/%2e%2e//${EVIL}`,
  // Whitespace and control prefixes (browsers strip tab/CR/LF anywhere, C0/space at the ends).
  `%09//${EVIL}`,
  `\t//${EVIL}`,
  `/\t/${EVIL}`,
  `\n//${EVIL}`,
  `/\r\n/${EVIL}`,
  ` //${EVIL}`,
  `\u0000//${EVIL}`,
  `/\u0000/${EVIL}`,
  `\u000b//${EVIL}`,
  `\u00a0//${EVIL}`,
  `\u3000//${EVIL}`,
  `\ufeff//${EVIL}`,
  `\u202e//${EVIL}`,
  // Absolute URLs elsewhere, in every case and shape.
  `https://${EVIL}`,
  `http://${EVIL}`,
  `HTTPS://EVIL.EXAMPLE`,
  `hTTpS://eViL.ExAmPlE/`,
  `https:${EVIL}`,
  `https:/${EVIL}`,
  `https:\\\\${EVIL}`,
  `https:/\\${EVIL}`,
  `  https://${EVIL}`,
  // The platform's name in the wrong place.
  `https://${D}.${EVIL}`,
  `https://${D}${EVIL}`,
  `https://${EVIL}#.${D}`,
  `https://${EVIL}?.${D}`,
  `https://${EVIL}/.${D}`,
  `https://${EVIL}\\.${D}`,
  `https://${EVIL}%23.${D}`,
  `https://${EVIL}%2F.${D}`,
  `https://x.${D}.${EVIL}/`,
  // Userinfo tricks.
  `https://${D}@${EVIL}`,
  `https://${D}:443@${EVIL}`,
  `https://user:pass@${EVIL}`,
  `https://user:pass@${D}/app/`,
  `https://${EVIL}@${D}/app/`,
  `https://${D}%40${EVIL}`,
  `https://${D}\\@${EVIL}`,
  `https://x.${D}:443@${EVIL}/`,
  // Wiki subdomains that are not one valid label on the platform's port and scheme.
  `https://x.y.${D}/`,
  `https://-x.${D}/`,
  `https://x-.${D}/`,
  `https://${"a".repeat(64)}.${D}/`,
  `https://x_y.${D}/`,
  `https://${D}:8443/`,
  `https://x.${D}:8443/`,
  `http://${D}/app/`,
  `http://x.${D}/`,
  `ftp://${D}/`,
  `wss://x.${D}/`,
  // Trailing dots.
  `https://${D}./app/`,
  `https://x.${D}./`,
  `https://${D}../`,
  // IDN and look-alikes (Cyrillic о/е, fullwidth dot, punycode).
  "https://rоbot.test/",
  "https://robot.tеst/",
  "https://x.rоbot.test/",
  "https://robot\uff0etest.evil.example/",
  "https://xn--rbot-5cd.test/",
  `https://xn--${D}/`,
  // Loopback and raw addresses (dev mode only; this is https).
  "http://localhost/",
  "http://127.0.0.1:5173/",
  "https://127.0.0.1/",
  "https://0x7f.1/",
  "https://[::1]/",
  "https://2130706433/",
  // Script and other schemes.
  "javascript:alert(1)",
  "JAVASCRIPT:alert(1)",
  "java\tscript:alert(1)",
  " javascript:alert(1)",
  "javascript://%0aalert(1)",
  `javascript://${D}/%0aalert(1)`,
  "data:text/html,<script>alert(1)</script>",
  "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
  "vbscript:msgbox(1)",
  "file:///etc/passwd",
  `blob:https://${EVIL}/x`,
  "about:blank",
  `mailto:a@${EVIL}`,
  `view-source:https://${EVIL}`,
  // Header injection.
  "/app/\r\nSet-Cookie: evil=1",
  "/app/%0d%0aSet-Cookie:%20evil=1",
  `/%0d%0aLocation:%20https://${EVIL}`,
  `/app/\u2028https://${EVIL}`,
  `/app/\u0085https://${EVIL}`,
  // Very long values, and ones that are no URL at all.
  "/" + "a".repeat(3000),
  `https://${EVIL}/` + "a".repeat(3000),
  EVIL,
  `${EVIL}/path`,
  `.${EVIL}`,
  `@${EVIL}`,
  `:${EVIL}`,
  // Relative paths that only look dangerous: they must stay on the platform.
  `/app/@${EVIL}`,
  `/app/..%2f..%2f..%2f/${EVIL}`,
  `/%E2%80%AE//${EVIL}`,
  `/app/wiki/x?next=//${EVIL}#//${EVIL}`,
];

/** For test names: a probe's JSON spelling (control characters escaped), cut short. */
const name = (p: string) => JSON.stringify(p).slice(1, -1).slice(0, 80);
const NAMED = PROBES.map((probe) => ({ probe, name: name(probe) }));

const WIKI_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** The platform, or one of its wiki subdomains (D5). */
function allowedOrigin(origin: string): boolean {
  if (origin === ORIGIN) return true;
  const m = /^https:\/\/([^.]+)\.robot\.test$/.exec(origin);
  return m !== null && WIKI_LABEL.test(m[1]);
}
/** Where a browser would go with this value as a Location (or link) on a platform page. */
const browserOrigin = (ref: string) => originOf(ref, ORIGIN);
/** A probe a browser would follow off the allowed origins: the server must drop it. */
const mustDrop = (probe: string) => !allowedOrigin(browserOrigin(probe));

function expectAllowedLocation(a: Answer, label: string, also: string[] = []): string {
  const location = a.res.headers.get("location");
  expect(location, `${label}: a Location`).toBeTruthy();
  expect(location!, `${label}: CR/LF in Location`).not.toMatch(/[\r\n]/);
  const o = browserOrigin(location!);
  expect(allowedOrigin(o) || also.includes(o), `${label}: Location ${location!.slice(0, 200)} leaves for ${o}`).toBe(true);
  return location!;
}

/** The URLs a page can send a browser to that a benign request's page does not have. */
function newUrls(html: string, baseline: string): string[] {
  const known = new Set(navigableUrls(baseline));
  return navigableUrls(html).filter((u) => !known.has(u));
}

function expectNoLinkLeaves(html: string, baseline: string, label: string) {
  for (const u of newUrls(html, baseline)) expect(allowedOrigin(browserOrigin(u)), `${label}: link ${u.slice(0, 200)}`).toBe(true);
}

/** The hidden `return_to` fields of a login page. */
const hiddenReturnTo = (html: string) => elements(html, "input").filter((e) => e.attrs.name === "return_to").map((e) => e.attrs.value);

const signedIn = () => cookieHeader(user.jwt);
const q = (v: string) => encodeURIComponent(v);
const label = name;

// ---------------------------------------------------------------------------------------------
// Login return_to
// ---------------------------------------------------------------------------------------------

describe("login return_to", () => {
  it("has at least 25 probes, and the oracle tells safe from unsafe", () => {
    expect(PROBES.length).toBeGreaterThanOrEqual(25);
    expect(mustDrop(`//${EVIL}`)).toBe(true);
    expect(mustDrop("/app/wiki/x")).toBe(false);
    expect(mustDrop(`https://gruen.${D}/Page`)).toBe(false);
    expect(mustDrop(`https://a.b.${D}/`)).toBe(true);
  });

  it.each(NAMED)("GET /auth/login signed in, return_to=$name → Location on an allowed origin", async ({ probe }) => {
    const a = await send(tp, `/auth/login?return_to=${q(probe)}`, { headers: signedIn() });
    expectSound(a, label(probe));
    expect(a.status).toBe(302);
    const location = expectAllowedLocation(a, label(probe));
    if (mustDrop(probe)) expect(location).toBe(FALLBACK);
  });

  it.each(NAMED)("GET /auth/login.data signed in (client navigation), return_to=$name → redirect on an allowed origin", async ({ probe }) => {
    const a = await send(tp, `/auth/login.data?return_to=${q(probe)}`, { headers: signedIn() });
    expect(a.status, label(probe)).toBeLessThan(500);
    const m = /"redirect","((?:[^"\\]|\\.)*)"/.exec(a.text);
    expect(m, `${label(probe)}: ${a.text.slice(0, 200)}`).not.toBeNull();
    const target = JSON.parse(`"${m![1]}"`) as string;
    expect(allowedOrigin(browserOrigin(target)), `${label(probe)} → ${target}`).toBe(true);
    if (mustDrop(probe)) expect(target).toBe(FALLBACK);
  });

  describe("GET /auth/login signed out", () => {
    let baseline: string;
    beforeAll(async () => {
      baseline = (await send(tp, "/auth/login?return_to=%2Fapp%2F")).text;
    });
    it.each(NAMED)("return_to=$name → no hidden field or link off the allowed origins", async ({ probe }) => {
      const a = await send(tp, `/auth/login?return_to=${q(probe)}`);
      expectSound(a, label(probe));
      expect(a.status).toBe(200);
      const hidden = hiddenReturnTo(a.text);
      if (mustDrop(probe)) expect(hidden, label(probe)).toEqual([]);
      for (const v of hidden) expect(allowedOrigin(browserOrigin(v)), `${label(probe)}: hidden ${v}`).toBe(true);
      expectNoLinkLeaves(a.text, baseline, label(probe));
    });
  });

  /** POST /auth/login for BOB; the authorization URL, the binding cookie and the flow's state key. */
  async function beginLogin(returnTo: string | undefined, where: "form" | "query") {
    const fields = new URLSearchParams({ username: BOB.handle });
    if (returnTo !== undefined && where === "form") fields.set("return_to", returnTo);
    const start = await send(tp, `/auth/login${returnTo !== undefined && where === "query" ? `?return_to=${q(returnTo)}` : ""}`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: fields.toString(),
    });
    expect(start.status, `${label(returnTo ?? "")}: ${start.text.slice(0, 200)}`).toBe(302);
    // The only place POST /auth/login sends the browser: the user's authorization server.
    expectAllowedLocation(start, `POST ${label(returnTo ?? "")}`, [new URL(mock.url).origin]);
    const binding = setCookieValue(start.res, "__Host-login_state")!;
    const callback = await bounded("mock approve", mock.approve(start.res.headers.get("location")!));
    const state = new URL(callback).searchParams.get("state")!;
    return { callback, binding, state };
  }

  async function storedReturnTo(state: string): Promise<string | null> {
    const row = await tp.platform.db.atprotoOauthState.findUniqueOrThrow({ where: { key: state } });
    return JSON.parse(JSON.parse(row.value).appState).returnTo;
  }

  /** Rewrites the stored flow's return_to, as if input validation had been bypassed. */
  async function plantReturnTo(state: string, returnTo: string) {
    const row = await tp.platform.db.atprotoOauthState.findUniqueOrThrow({ where: { key: state } });
    const saved = JSON.parse(row.value);
    saved.appState = JSON.stringify({ ...JSON.parse(saved.appState), returnTo });
    await tp.platform.db.atprotoOauthState.update({ where: { key: state }, data: { value: JSON.stringify(saved) } });
  }

  /** The flow stored nothing a browser would follow elsewhere (dropped on input, D5). */
  async function expectStoredSafe(state: string, probe: string) {
    const stored = await storedReturnTo(state);
    if (mustDrop(probe)) expect(stored, label(probe)).toBeNull();
    else if (stored !== null) expect(allowedOrigin(browserOrigin(stored))).toBe(true);
  }

  /** Completes the login: the callback's 302 lands on an allowed origin, the dashboard for unsafe values. */
  async function expectCallbackLanding(callback: string, binding: string, probe: string) {
    const done = await send(tp, callback, { headers: { Cookie: `__Host-login_state=${binding}` } });
    expectSound(done, label(probe));
    expect(done.status, done.text.slice(0, 200)).toBe(302);
    const location = expectAllowedLocation(done, `callback ${label(probe)}`);
    if (mustDrop(probe)) expect(location).toBe(FALLBACK);
  }

  it.each(NAMED)("POST /auth/login return_to=$name (form field) → dropped or kept safe, and the callback lands on an allowed origin", async ({ probe }) => {
    const { callback, binding, state } = await beginLogin(probe, "form");
    await expectStoredSafe(state, probe);
    await expectCallbackLanding(callback, binding, probe);
  });

  it.each(NAMED)("POST /auth/login?return_to=$name (query) → the flow never stores an unsafe value", async ({ probe }) => {
    const { state } = await beginLogin(probe, "query");
    await expectStoredSafe(state, probe);
    await tp.platform.db.atprotoOauthState.deleteMany({ where: { key: state } });
  });

  it.each(NAMED)("the callback re-validates a stored return_to=$name (security.md §4: again at the point of use)", async ({ probe }) => {
    const { callback, binding, state } = await beginLogin("/app/", "form");
    await plantReturnTo(state, probe);
    await expectCallbackLanding(callback, binding, probe);
  });

  it.each(NAMED)("the callback's error path with a stored return_to=$name → back to login on the platform", async ({ probe }) => {
    const { state, binding } = await beginLogin("/app/", "form");
    await plantReturnTo(state, probe);
    const a = await send(tp, `/auth/callback?error=access_denied&error_description=${q("x\r\nSet-Cookie: evil=1")}&state=${q(state)}`, {
      headers: { Cookie: `__Host-login_state=${binding}` },
    });
    expectSound(a, label(probe));
    expect(a.status).toBe(302);
    const location = expectAllowedLocation(a, label(probe));
    if (mustDrop(probe)) expect(location).toBe("/auth/login");
    else expect(location).toMatch(/^\/auth\/login(\?return_to=[^&]*)?$/);
    // The return_to it carries, if any, is itself safe on the next hop.
    const carried = new URL(location, ORIGIN).searchParams.get("return_to");
    if (carried !== null) expect(allowedOrigin(browserOrigin(carried)), carried).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Logout takes no target
// ---------------------------------------------------------------------------------------------

describe("logout", () => {
  const PARAMS = ["return_to", "next", "redirect", "redirect_uri", "continue", "url"];
  it.each(NAMED.slice(0, 40))("GET and POST /auth/logout with $name in every usual parameter → the landing page", async ({ probe }) => {
    const query = PARAMS.map((p) => `${p}=${q(probe)}`).join("&");
    const get = await send(tp, `/auth/logout?${query}`, { headers: signedIn() });
    expectSound(get, label(probe));
    expect(get.status).toBe(302);
    expect(get.res.headers.get("location")).toBe(`${ORIGIN}/`);
    const post = await send(tp, `/auth/logout?${query}`, {
      method: "POST",
      headers: { ...signedIn(), Origin: ORIGIN, "Content-Type": "application/x-www-form-urlencoded" },
      body: query,
    });
    expect(post.status).toBe(302);
    expect(post.res.headers.get("location")).toBe(`${ORIGIN}/`);
    // The cross-site confirmation page posts back to the platform only.
    const confirm = await send(tp, `/auth/logout?${query}`, { headers: { ...signedIn(), "Sec-Fetch-Site": "cross-site" } });
    expect(confirm.status).toBe(200);
    for (const u of navigableUrls(confirm.text)) expect(browserOrigin(u), u).toBe(ORIGIN);
  });
});

// ---------------------------------------------------------------------------------------------
// Deep links into /app go through login and come back on the platform
// ---------------------------------------------------------------------------------------------

describe("/app deep links", () => {
  // Real /app routes (an unknown /app path is a 404), with the hostile part in the slug or query.
  const SUFFIXES = [
    `/wiki/${EVIL}`,
    `/wiki/%2F%2F${EVIL}`,
    `/wiki/%5C${EVIL}`,
    `/wiki/%5c%5c${EVIL}`,
    `/wiki/..%2f..%2f${EVIL}`,
    `/wiki/%0d%0aSet-Cookie:%20evil=1`,
    `/wiki/%E2%80%A8${EVIL}`,
    `/wiki/@${EVIL}`,
    `/wiki/x?return_to=//${EVIL}`,
    `/wiki/x?next=https://${EVIL}#https://${EVIL}`,
    `/?return_to=//${EVIL}`,
    `/create?return_to=https://${EVIL}&slug=%0d%0a`,
    `/account?next=/%5C${EVIL}`,
    `/admin/stats?x=javascript:alert(1)`,
  ];
  it.each(SUFFIXES)("GET /app%s signed out → login → back on the platform", async (suffix) => {
    const out = await send(tp, `/app${suffix}`);
    expectSound(out, suffix);
    expect(out.status).toBe(302);
    const toLogin = expectAllowedLocation(out, suffix);
    expect(toLogin).toMatch(/^\/auth\/login\?return_to=/);
    const back = await send(tp, toLogin, { headers: signedIn() });
    expectSound(back, suffix);
    expect(back.status).toBe(302);
    expect(browserOrigin(expectAllowedLocation(back, suffix))).toBe(ORIGIN);
  });
});

// ---------------------------------------------------------------------------------------------
// Consent redirect_uri
// ---------------------------------------------------------------------------------------------

describe("consent redirect_uri", () => {
  const REGISTERED = BASE_PARAMS.redirect_uri;
  const CLIENT = "registered-client";
  /** Near misses of the registered URI: none is it, so Deny must never redirect to them. */
  const NEAR_MISSES = [
    `${REGISTERED}/`,
    `${REGISTERED}?x=1`,
    `${REGISTERED}#@${EVIL}`,
    `${REGISTERED}%20`,
    `${REGISTERED}%00`,
    `${REGISTERED}\t`,
    ` ${REGISTERED}`,
    REGISTERED.replace("claude.ai", "CLAUDE.AI"),
    REGISTERED.replace("https:", "HTTPS:"),
    REGISTERED.replace("https:", "http:"),
    REGISTERED.replace("claude.ai", "claude.ai:443"),
    REGISTERED.replace("claude.ai", "claude.ai."),
    REGISTERED.replace("claude.ai", `claude.ai.${EVIL}`),
    REGISTERED.replace("claude.ai", `claude.ai@${EVIL}`),
    REGISTERED.replace("claude.ai", `${EVIL}#claude.ai`),
    REGISTERED.replace("/api/", "/API/"),
    REGISTERED.replace("/api/", "/api/../../"),
    REGISTERED.replace("/api/", "/%61pi/"),
    REGISTERED.replace("claude.ai", "clаude.ai"),
  ];
  const CONSENT_PROBES = [...PROBES, ...NEAR_MISSES].map((uri) => ({ uri, name: name(uri) }));

  let baseline: string;
  beforeAll(async () => {
    await tp.platform.db.mcpOauthClient.create({ data: { client_id: CLIENT, redirect_uris: JSON.stringify([REGISTERED]), created_at: new Date().toISOString() } });
    baseline = (await send(tp, `/auth/oauth/consent?${consentQuery(SLUG, { client_id: CLIENT })}`, { headers: signedIn() })).text;
  });

  /** The consent page for this redirect_uri, or undefined when the GET refuses it (400). */
  async function consentPage(redirectUri: string): Promise<string | undefined> {
    const a = await send(tp, `/auth/oauth/consent?${consentQuery(SLUG, { client_id: CLIENT, redirect_uri: redirectUri, state: `s\r\nSet-Cookie: evil=1` })}`, { headers: signedIn() });
    expectSound(a, label(redirectUri));
    expect([200, 400], `${label(redirectUri)}: ${a.status}`).toContain(a.status);
    expect(a.res.headers.get("location")).toBeNull();
    expectNoLinkLeaves(a.text, baseline, label(redirectUri));
    return a.status === 200 ? a.text : undefined;
  }

  it.each(CONSENT_PROBES)("redirect_uri=$name: Deny never redirects to it, Approve goes to the wiki host only", async ({ uri: redirectUri }) => {
    const page = await consentPage(redirectUri);
    if (page === undefined) return; // refused at GET (auth.md §8.2 check 7): nothing to decide
    const deny = await send(tp, "/auth/oauth/consent", {
      method: "POST",
      headers: { ...signedIn(), Origin: ORIGIN, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ consent_token: consentTokenOf(page), action: "deny" }).toString(),
    });
    expectSound(deny, `deny ${label(redirectUri)}`);
    expect(deny.status, `deny ${label(redirectUri)}`).toBe(200);
    expect(deny.res.headers.get("location"), `deny ${label(redirectUri)}`).toBeNull();
    expect(deny.text).toContain("access_denied");
    expectNoLinkLeaves(deny.text, baseline, `deny ${label(redirectUri)}`);

    const again = await consentPage(redirectUri);
    const approve = await postConsent(tp, user.jwt, { consent_token: consentTokenOf(again!), action: "approve" });
    const a: Answer = { res: approve, status: approve.status, text: await approve.text() };
    expectSound(a, `approve ${label(redirectUri)}`);
    expect(a.status).toBe(302);
    const location = expectAllowedLocation(a, `approve ${label(redirectUri)}`);
    const target = new URL(location);
    expect(target.origin).toBe(`https://${SLUG}.${D}`);
    expect(target.pathname).toBe("/authorize/callback");
    // The redirect_uri travels only as a query value, exactly as given.
    expect(target.searchParams.get("redirect_uri")).toBe(redirectUri);
  });

  it("the registered URI itself is where Deny goes, with state and iss encoded (control: the probes above can redirect)", async () => {
    const page = await consentPage(REGISTERED);
    const deny = await postConsent(tp, user.jwt, { consent_token: consentTokenOf(page!), action: "deny" });
    expect(deny.status).toBe(302);
    const location = deny.headers.get("location")!;
    expect(location).not.toMatch(/[\r\n]/);
    expect(location.startsWith(`${REGISTERED}?error=access_denied&state=`)).toBe(true);
    expect(new URL(location).searchParams.get("state")).toBe("s\r\nSet-Cookie: evil=1");
  });

  it.each([
    ["a line separator", "https://claude.ai/cb/\u2028x"],
    ["a non-ASCII letter", "https://claude.ai/cb/é"],
    ["a custom scheme with a non-ASCII path", "myapp://cb/é"],
  ])("a registered redirect_uri with %s is no Location: Deny shows the page, never a 5xx", async (_name, uri) => {
    const clientId = `non-ascii-${uri.length}-${uri.codePointAt(uri.length - 1)}`;
    await tp.platform.db.mcpOauthClient.create({ data: { client_id: clientId, redirect_uris: JSON.stringify([uri]), created_at: new Date().toISOString() } });
    const page = await send(tp, `/auth/oauth/consent?${consentQuery(SLUG, { client_id: clientId, redirect_uri: uri })}`, { headers: signedIn() });
    expect(page.status).toBe(200);
    const deny = await postConsent(tp, user.jwt, { consent_token: consentTokenOf(page.text), action: "deny" });
    const a: Answer = { res: deny, status: deny.status, text: await deny.text() };
    expectSound(a, uri);
    expect(a.status).toBe(200);
    expect(a.res.headers.get("location")).toBeNull();
    expect(a.text).toContain("access_denied");
  });

  it.each(CONSENT_PROBES.slice(0, 60))("signed out, redirect_uri=$name → the login hop stays on the platform and comes back to consent", async ({ uri: redirectUri }) => {
    const a = await send(tp, `/auth/oauth/consent?${consentQuery(SLUG, { redirect_uri: redirectUri })}`);
    expectSound(a, label(redirectUri));
    if (a.status === 400) return; // refused before the login step
    expect(a.status).toBe(302);
    const location = expectAllowedLocation(a, label(redirectUri));
    expect(location).toMatch(/^\/auth\/login\?return_to=/);
    const back = await send(tp, location, { headers: signedIn() });
    expect(back.status).toBe(302);
    const next = expectAllowedLocation(back, label(redirectUri));
    // Back to the complete consent URL, or (past return_to's 2048 characters) the dashboard.
    expect(next.startsWith("/auth/oauth/consent?") || next === FALLBACK, next.slice(0, 100)).toBe(true);
  });
});
