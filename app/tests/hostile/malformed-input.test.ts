// Hostile suite (issue 7), part 1: every route of app/routes.ts × malformed input. Query and
// path parameters (missing, duplicated, 100 KiB, unicode, control characters, broken escapes),
// form fields and JSON bodies (wrong content types, invalid JSON, values the spec refuses): never
// a 5xx, the status the spec gives, a clear message (`{"error"}` on /api, a page elsewhere), an
// answer within the timeout, and a refused write leaves every row, directory and preference as
// it was. The cases are generated from the tables below; each test name says route and case.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentQuery, openConsent } from "../support/consent";
import { expectClearError, expectSound, originOf, platformState, send, type Answer } from "../support/hostile";
import { createWikiApi, type TestUser } from "../support/mgmt";
import { cookieHeader, startTestPlatform, type TestPlatform } from "../support/platform";

let tp: TestPlatform;
/** Owns SLUG (a real wiki: git repo and wiki.db). */
let owner: TestUser;
/** Has no wiki, so a create that passed validation would succeed. */
let fresh: TestUser;
/** Whose account deletion is attempted with bad confirmations. */
let leaver: TestUser;
const SLUG = "hostile-wiki";

beforeAll(async () => {
  // Identity lookups go to a closed loopback port: nothing here may reach the network.
  const nowhere = "http://127.0.0.1:9";
  tp = await startTestPlatform({ ATPROTO_HANDLE_RESOLVER: nowhere, PLC_DIRECTORY_URL: nowhere, BSKY_APPVIEW_URL: nowhere });
  owner = await tp.createUser("owner.test");
  fresh = await tp.createUser("fresh.test");
  leaver = await tp.createUser("leaver.test");
  await createWikiApi(tp, owner, SLUG, "Hostile Wiki");
});
afterAll(() => tp.close());

type Auth = "cookie" | "bearer" | undefined;
const users = () => ({ owner, fresh, leaver });
type Who = keyof ReturnType<typeof users>;

function authHeaders(auth: Auth, who: Who = "owner"): Record<string, string> {
  const u = users()[who];
  if (auth === "cookie") return { ...cookieHeader(u.jwt), Origin: tp.origin };
  if (auth === "bearer") return { Authorization: `Bearer ${u.jwt}` };
  return {};
}

// ---------------------------------------------------------------------------------------------
// Hostile values. `raw` ones are put into a query or form body as typed (they are broken
// escapes); the others are percent-encoded.
// ---------------------------------------------------------------------------------------------

const KIB100 = "a".repeat(100 * 1024);
const HOSTILE: Array<{ name: string; value: string; raw?: boolean }> = [
  { name: "empty", value: "" },
  { name: "huge (100 KiB)", value: KIB100 },
  { name: "unicode", value: "ålïcé-🤖-中文-\u{10FFFF}" },
  { name: "NUL", value: "a\u0000b" },
  { name: "CR/LF header injection", value: "a\r\nSet-Cookie: evil=1" },
  { name: "bidi override", value: "\u202Eevil\u202C" },
  { name: "C1 control and line separators", value: "\u0085\u2028\u2029" },
  { name: "malformed escape", value: "%E0%A4%A", raw: true },
  { name: "overlong UTF-8", value: "%C0%AE%C0%AE", raw: true },
  { name: "lone surrogate", value: "%ED%A0%80", raw: true },
  { name: "invalid UTF-8 bytes", value: "%FF%FE", raw: true },
];

const component = (h: { value: string; raw?: boolean }) => (h.raw ? h.value : encodeURIComponent(h.value));
const pairs = (fields: Record<string, string | undefined>) =>
  Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v!)}`);

/** Variants of a parameter list: each parameter missing, duplicated, or set to each hostile value. */
function parameterCases(base: Record<string, string>, names: string[]): Array<{ name: string; query: string }> {
  const out = [
    { name: "no parameters at all", query: "" },
    { name: "1,000 junk parameters", query: [...pairs(base), ...Array.from({ length: 1000 }, (_, i) => `j${i}=${i}`)].join("&") },
    { name: "only separators", query: "&&=&=&&" },
  ];
  for (const p of names) {
    const others = pairs(Object.fromEntries(Object.entries(base).filter(([k]) => k !== p)));
    const mine = base[p] ?? "x";
    out.push({ name: `${p} missing`, query: others.join("&") });
    out.push({ name: `${p} twice (base first)`, query: [...others, `${p}=${encodeURIComponent(mine)}`, `${p}=other`].join("&") });
    out.push({ name: `${p} twice (base last)`, query: [...others, `${p}=other`, `${p}=${encodeURIComponent(mine)}`].join("&") });
    out.push({ name: `${p} as a bare key`, query: [...others, p].join("&") });
    for (const h of HOSTILE) out.push({ name: `${p} ${h.name}`, query: [...others, `${p}=${component(h)}`].join("&") });
  }
  return out;
}

/** A redirect must stay on the platform origin (open redirects are probed in open-redirect.test.ts). */
function expectLocationOnPlatform(a: Answer, label: string) {
  const location = a.res.headers.get("location");
  if (a.status >= 300 && a.status < 400) {
    expect(location, label).toBeTruthy();
    expect(originOf(location!, tp.origin), `${label}: Location ${location}`).toBe(tp.origin);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Every GET route × malformed query parameters
// ---------------------------------------------------------------------------------------------

interface GetRoute {
  /** As in app/routes.ts, plus who asks. */
  route: string;
  path: () => string;
  auth?: Auth;
  /** A query the route accepts; each case changes one parameter of it. */
  base: Record<string, string>;
  /** The parameters the route reads (others get a generic `q`). */
  params: string[];
  /** Every status the spec allows for these inputs. */
  statuses: number[];
  /** What an error looks like here; "empty" = no body at all (check-slug, contracts.md §9). */
  kind: "json" | "html" | "empty";
}

const CONSENT_PARAMS = ["client_id", "redirect_uri", "code_challenge", "code_challenge_method", "state", "scope", "response_type", "resource", "wiki_slug"];
const consentBase = () => Object.fromEntries(new URLSearchParams(consentQuery(SLUG)));

const GET_ROUTES: GetRoute[] = [
  { route: "/ (landing)", path: () => "/", base: { q: "1" }, params: ["q"], statuses: [200], kind: "html" },
  { route: "/healthz", path: () => "/healthz", base: { q: "1" }, params: ["q"], statuses: [200], kind: "json" },
  { route: "/readyz", path: () => "/readyz", base: { q: "1" }, params: ["q"], statuses: [200], kind: "json" },
  { route: "/.well-known/jwks.json", path: () => "/.well-known/jwks.json", base: { q: "1" }, params: ["q"], statuses: [200], kind: "json" },
  { route: "/.well-known/oauth-authorization-server", path: () => "/.well-known/oauth-authorization-server", base: { q: "1" }, params: ["q"], statuses: [200], kind: "json" },
  // auth.md §3: an unsafe return_to is dropped silently; signed out → the form, signed in → 302.
  { route: "/auth/login (signed out)", path: () => "/auth/login", base: { return_to: "/app/" }, params: ["return_to"], statuses: [200], kind: "html" },
  { route: "/auth/login (signed in)", path: () => "/auth/login", auth: "cookie", base: { return_to: "/app/" }, params: ["return_to"], statuses: [302], kind: "html" },
  // auth.md §5: an `error` → 302 to login; otherwise missing parameters / unknown state → 400.
  {
    route: "/auth/callback",
    path: () => "/auth/callback",
    base: { state: "s", iss: "https://issuer.example", code: "c" },
    params: ["state", "iss", "code", "error", "error_description"],
    statuses: [302, 400],
    kind: "html",
  },
  // auth.md §6: logout takes no parameter and always answers 302 to the landing page.
  { route: "/auth/logout", path: () => "/auth/logout", base: { return_to: "/" }, params: ["return_to"], statuses: [302], kind: "html" },
  { route: "/auth/client-metadata.json", path: () => "/auth/client-metadata.json", base: { q: "1" }, params: ["q"], statuses: [200], kind: "json" },
  // auth.md §8.2: each check is a 400 (or 403 for the wiki), the page a 200.
  { route: "/auth/oauth/consent (owner)", path: () => "/auth/oauth/consent", auth: "cookie", base: consentBase(), params: CONSENT_PARAMS, statuses: [200, 400, 403], kind: "html" },
  { route: "/auth/oauth/consent (signed out)", path: () => "/auth/oauth/consent", base: consentBase(), params: CONSENT_PARAMS, statuses: [302, 400], kind: "html" },
  { route: "/api/internal/check-slug", path: () => "/api/internal/check-slug", base: { domain: `${SLUG}.127.0.0.1` }, params: ["domain"], statuses: [200, 404], kind: "empty" },
  { route: "/api/me", path: () => "/api/me", auth: "bearer", base: { q: "1" }, params: ["q"], statuses: [200], kind: "json" },
  { route: "/api/wikis", path: () => "/api/wikis", auth: "bearer", base: { q: "1" }, params: ["q"], statuses: [200], kind: "json" },
  { route: "/api/wikis/:slug", path: () => `/api/wikis/${SLUG}`, auth: "bearer", base: { q: "1" }, params: ["q"], statuses: [200], kind: "json" },
  { route: "/api/* (unknown)", path: () => "/api/no-such-thing", auth: "bearer", base: { q: "1" }, params: ["q"], statuses: [404], kind: "json" },
  { route: "/app/ (dashboard)", path: () => "/app/", auth: "cookie", base: { q: "1" }, params: ["q"], statuses: [200], kind: "html" },
  { route: "/app/create", path: () => "/app/create", auth: "cookie", base: { q: "1" }, params: ["q", "slug"], statuses: [200], kind: "html" },
  { route: "/app/wiki/:slug", path: () => `/app/wiki/${SLUG}`, auth: "cookie", base: { q: "1" }, params: ["q", "intent"], statuses: [200], kind: "html" },
  { route: "/app/account", path: () => "/app/account", auth: "cookie", base: { q: "1" }, params: ["q"], statuses: [200], kind: "html" },
  // management.md §3.5: not an admin → 403 page.
  { route: "/app/admin/stats (not an admin)", path: () => "/app/admin/stats", auth: "cookie", base: { q: "1" }, params: ["q"], statuses: [403], kind: "html" },
  { route: "* (unknown page)", path: () => "/no-such-page", base: { q: "1" }, params: ["q"], statuses: [404], kind: "html" },
];

describe("GET routes × malformed query parameters", () => {
  for (const r of GET_ROUTES) {
    describe(`GET ${r.route}`, () => {
      it.each(parameterCases(r.base, r.params))("$name", async ({ name, query }) => {
        const label = `GET ${r.route} ${name}`;
        const a = await send(tp, r.path() + (query ? `?${query}` : ""), { headers: r.auth === "cookie" ? cookieHeader(owner.jwt) : authHeaders(r.auth) });
        expectSound(a, label);
        expect(r.statuses, `${label}: status ${a.status}`).toContain(a.status);
        if (r.kind === "empty") expect(a.text, label).toBe("");
        else if (a.status >= 400) expectClearError(a, r.kind, label);
        expectLocationOnPlatform(a, label);
      });
    });
  }

  it("GET /auth/oauth/consent: the spec's message for each broken parameter (auth.md §8.2)", async () => {
    const cases: Array<[Record<string, string | undefined>, string]> = [
      [{ client_id: undefined }, "Missing required OAuth parameters (client_id, redirect_uri)"],
      [{ redirect_uri: "" }, "Missing required OAuth parameters (client_id, redirect_uri)"],
      [{ wiki_slug: undefined }, "Missing wiki_slug parameter"],
      [{ wiki_slug: KIB100 }, "Invalid wiki_slug parameter"],
      [{ wiki_slug: "ålice" }, "Invalid wiki_slug parameter"],
      [{ wiki_slug: `${SLUG}\u0000` }, "Invalid wiki_slug parameter"],
      [{ wiki_slug: `\u202E${SLUG}` }, "Invalid wiki_slug parameter"],
      [{ wiki_slug: "a.b" }, "Invalid wiki_slug parameter"],
      [{ code_challenge: undefined }, "Missing code_challenge parameter"],
      [{ code_challenge_method: "plain" }, "Unsupported code_challenge_method"],
      [{ code_challenge_method: "s256" }, "Unsupported code_challenge_method"],
      [{ response_type: "token" }, "Unsupported response_type"],
      [{ redirect_uri: KIB100 }, "Invalid redirect_uri"],
      [{ redirect_uri: "not a url" }, "Invalid redirect_uri"],
      [{ redirect_uri: "javascript:alert(1)" }, "Invalid redirect_uri"],
      [{ redirect_uri: "JaVaScRiPt:alert(1)" }, "Invalid redirect_uri"],
      [{ redirect_uri: " data:text/html,x" }, "Invalid redirect_uri"],
      [{ redirect_uri: "vbscript:x" }, "Invalid redirect_uri"],
      [{ redirect_uri: "file:///etc/passwd" }, "Invalid redirect_uri"],
      [{ redirect_uri: "blob:https://claude.ai/x" }, "Invalid redirect_uri"],
      [{ wiki_slug: "no-such-wiki" }, "Wiki not found"],
    ];
    for (const [overrides, message] of cases) {
      const label = `consent ${JSON.stringify(overrides).slice(0, 80)}`;
      const a = await send(tp, `/auth/oauth/consent?${consentQuery(SLUG, overrides)}`, { headers: cookieHeader(owner.jwt) });
      expectSound(a, label);
      expect(a.status, label).toBe(message === "Wiki not found" ? 403 : 400);
      expectClearError(a, "html", label, message);
    }
  });

  it("GET /auth/callback: missing or empty parameters are the spec's 400 (auth.md §5)", async () => {
    for (const q of ["", "state=", "state=a", "state=a&iss=b", "iss=b&code=c", "state=&iss=&code=", "error="]) {
      const a = await send(tp, `/auth/callback?${q}`);
      expectSound(a, q);
      expect(a.status, q).toBe(400);
      expectClearError(a, "html", q, "Missing required OAuth callback parameters");
    }
    // An error report whose description carries control characters and CR/LF: a 302, nothing injected.
    const a = await send(tp, `/auth/callback?error=access_denied%0d%0aSet-Cookie:%20evil=1&error_description=${encodeURIComponent("x\r\n\u0000\u202E" + KIB100)}`);
    expectSound(a, "error with CR/LF");
    expect(a.status).toBe(302);
    expect(a.res.headers.get("location")).toBe("/auth/login");
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Hostile path parameters ({slug})
// ---------------------------------------------------------------------------------------------

const HOSTILE_SLUGS: Array<[string, string]> = [
  ["huge (100 KiB)", KIB100],
  ["unicode", encodeURIComponent("ålïcé-🤖")],
  ["NUL", "%00"],
  ["the real slug + NUL", `${SLUG}%00`],
  ["the real slug + space", `${SLUG}%20`],
  ["the real slug, uppercased", SLUG.toUpperCase()],
  ["CR/LF", "%0D%0ASet-Cookie:%20evil=1"],
  ["bidi override + the real slug", `%E2%80%AE${SLUG}`],
  ["encoded slash", `a%2F${SLUG}`],
  ["encoded dot-dot", "%2e%2e"],
  ["encoded backslash", `%5C${SLUG}`],
  ["malformed escape", "%E0%A4%A"],
  ["overlong UTF-8 dot", "%C0%AE"],
  ["lone surrogate", "%ED%A0%80"],
];

interface SlugRoute {
  route: string;
  method: string;
  path: (slug: string) => string;
  auth: Auth;
  body?: () => BodyInit;
  contentType?: string;
  statuses: number[];
  kind: "json" | "html";
}

const SLUG_ROUTES: SlugRoute[] = [
  { route: "GET /api/wikis/:slug", method: "GET", path: (s) => `/api/wikis/${s}`, auth: "bearer", statuses: [400, 404], kind: "json" },
  { route: "DELETE /api/wikis/:slug", method: "DELETE", path: (s) => `/api/wikis/${s}`, auth: "bearer", statuses: [400, 404], kind: "json" },
  { route: "POST /api/wikis/:slug/token", method: "POST", path: (s) => `/api/wikis/${s}/token`, auth: "bearer", statuses: [400, 404], kind: "json" },
  {
    route: "POST /api/wikis/:slug/git",
    method: "POST",
    path: (s) => `/api/wikis/${s}/git`,
    auth: "bearer",
    body: () => JSON.stringify({ enabled: true }),
    contentType: "application/json",
    statuses: [400, 404],
    kind: "json",
  },
  // management.md §2: no such wiki → flash and 302 to /app/ (a `..` lands on /app/ itself).
  { route: "GET /app/wiki/:slug", method: "GET", path: (s) => `/app/wiki/${s}`, auth: "cookie", statuses: [200, 302, 400], kind: "html" },
  {
    route: "POST /app/wiki/:slug (delete)",
    method: "POST",
    path: (s) => `/app/wiki/${s}`,
    auth: "cookie",
    body: () => new URLSearchParams({ intent: "delete", confirm_slug: SLUG }).toString(),
    contentType: "application/x-www-form-urlencoded",
    statuses: [302, 400, 405],
    kind: "html",
  },
];

describe("routes with a {slug} × hostile slugs", () => {
  for (const r of SLUG_ROUTES) {
    it.each(HOSTILE_SLUGS)(`${r.route}: slug %s`, async (name, slug) => {
      const label = `${r.route} slug ${name}`;
      const before = await platformState(tp);
      const headers = { ...authHeaders(r.auth), ...(r.contentType ? { "Content-Type": r.contentType } : {}) };
      const a = await send(tp, r.path(slug), { method: r.method, headers, body: r.body?.() });
      expectSound(a, label);
      expect(r.statuses, `${label}: status ${a.status}`).toContain(a.status);
      if (a.status >= 400) expectClearError(a, r.kind, label);
      if (r.kind === "json" && a.status === 404) expect(JSON.parse(a.text).error).toMatch(/^(Wiki not found|Not found)$/);
      if (a.status === 302) expect(a.res.headers.get("location"), label).toBe("/app/");
      expectLocationOnPlatform(a, label);
      expect(await platformState(tp), `${label}: state changed`).toBe(before);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 3. Form routes: body shapes and field values the spec refuses
// ---------------------------------------------------------------------------------------------

type Fields = Record<string, string | undefined>;
/** [case, field overrides (undefined = absent), the spec's message]; the status is always 400. */
type Refusal = [name: string, overrides: Fields, message: string];

interface FormRoute {
  route: string;
  path: () => string;
  /** Whose cookie the request carries (always with the platform Origin); none when absent. */
  who?: Who;
  /** Fields of a request this route refuses (built fresh for each case). */
  base: () => Promise<Record<string, string>> | Record<string, string>;
  /** Fields that WOULD succeed if read as a form: sent in shapes the route must not read. */
  wouldSucceed: () => Promise<Record<string, string>> | Record<string, string>;
  /** Status and message of a body that cannot be read as a form, or reads as no fields. */
  unreadable: { status: number; message?: string };
  /** Statuses for bodies that read as forms with broken values. */
  statuses: number[];
  kind: "json" | "html";
  /** Field values the spec refuses with a 400. */
  refusals: Refusal[];
}

const ctl = "\u0000\u0001\r\n\t\u007f\u0085\u009f";
const huge = (s: string) => s + "x".repeat(100 * 1024);

/**
 * The refusals of one field: absent, empty, 100 KiB and control characters only (unless
 * `common: false`), then the `extra` spellings; each sent with the action's other `fields`.
 */
function refusals(
  field: string,
  message: string | ((value: string | undefined) => string),
  opts: { extra?: Array<[string, string]>; fields?: Fields; prefix?: string; common?: boolean } = {},
): Refusal[] {
  const common: Array<[string, string | undefined]> = [
    ["missing", undefined],
    ["empty", ""],
    ["huge (100 KiB)", KIB100],
    ["control characters only", ctl],
  ];
  return [...(opts.common === false ? [] : common), ...(opts.extra ?? [])].map(([n, v]) => [
    `${opts.prefix ?? ""}${field} ${n}`,
    { ...opts.fields, [field]: v },
    typeof message === "function" ? message(v) : message,
  ]);
}

/** management.md §1.2: empty after cleaning → required; over 100 characters → too long. */
const displayNameMessage = (v: string | undefined) =>
  (v?.length ?? 0) > 100 ? "Display name must be at most 100 characters." : "Display name is required.";

const FORM_ROUTES: FormRoute[] = [
  {
    route: "POST /app/create",
    path: () => "/app/create",
    who: "fresh",
    base: () => ({ slug: "admin", display_name: "Fresh", purpose: "" }),
    wouldSucceed: () => ({ slug: "fresh-wiki", display_name: "Fresh", purpose: "" }),
    unreadable: { status: 400, message: "Invalid form data." },
    statuses: [400],
    kind: "html",
    refusals: [
      ...refusals("slug", "Invalid slug: ", {
        fields: { display_name: "Fresh" },
        extra: [
          ["unicode", "ålice"],
          ["with NUL", "fresh\u0000wiki"],
          ["with CR/LF", "fresh\r\nwiki"],
          ["bidi", "\u202Efresh"],
          ["reserved", "admin"],
          ["with a leading hyphen", "-fresh"],
          ["too short", "ab"],
          ["too long", "a".repeat(31)],
          ["with a space", "fresh wiki"],
          ["with an underscore", "fresh_wiki"],
          ["with a percent", "fresh%20wiki"],
        ],
      }),
      ...refusals("display_name", displayNameMessage, {
        fields: { slug: "fresh-wiki" },
        extra: [
          ["only spaces", "   "],
          ["101 characters", "d".repeat(101)],
        ],
      }),
    ],
  },
  {
    route: "POST /app/wiki/:slug",
    path: () => `/app/wiki/${SLUG}`,
    who: "owner",
    base: () => ({ intent: "bogus" }),
    wouldSucceed: () => ({ intent: "delete", confirm_slug: SLUG }),
    unreadable: { status: 400, message: "Invalid form data." },
    statuses: [400],
    kind: "html",
    refusals: [
      ...refusals("intent", "Unknown action.", {
        extra: [
          ["uppercase", "RENAME"],
          ["with NUL", "rename\u0000"],
          ["bidi", "\u202Erename"],
          ["with a trailing space", "delete "],
          ["unicode look-alike", "dеlete"],
        ],
      }),
      ...refusals("display_name", displayNameMessage, { prefix: "rename: ", fields: { intent: "rename" }, extra: [["101 characters", "d".repeat(101)]] }),
      ...refusals("read_access", "Invalid access level.", {
        prefix: "access: ",
        fields: { intent: "access", write_access: "APPROVED", attachment_access: "APPROVED" },
        extra: [
          ["lowercase", "approved"],
          ["with NUL", "APPROVED\u0000"],
          ["with a trailing space", "APPROVED "],
          ["unknown", "EVERYONE"],
          ["bidi", "\u202EAPPROVED"],
        ],
      }),
      ...refusals("enabled", "Invalid value for git access.", {
        prefix: "git: ",
        fields: { intent: "git" },
        extra: [
          ["TRUE", "TRUE"],
          ["1", "1"],
          ["on", "on"],
          ["true + NUL", "true\u0000"],
          ["with a leading space", " true"],
        ],
      }),
      ...refusals("confirm_slug", "Slug confirmation did not match.", {
        prefix: "delete: ",
        fields: { intent: "delete" },
        extra: [
          ["uppercase", SLUG.toUpperCase()],
          ["+ NUL", `${SLUG}\u0000`],
          ["bidi", `\u202E${SLUG}`],
          ["+ hyphen", `${SLUG}-`],
          ["with a non-breaking hyphen", SLUG.replace("-", "\u2011")],
          ["huge after the slug", huge(SLUG)],
        ],
      }),
    ],
  },
  {
    route: "POST /app/account",
    path: () => "/app/account",
    who: "leaver",
    base: () => ({ intent: "bogus" }),
    wouldSucceed: () => ({ intent: "delete", confirm_handle: "leaver.test" }),
    unreadable: { status: 400, message: "Invalid form data." },
    statuses: [400],
    kind: "html",
    refusals: [
      ...refusals("intent", "Unknown action.", {
        extra: [
          ["uppercase", "DELETE"],
          ["with NUL", "delete\u0000"],
        ],
      }),
      ...refusals("confirm_handle", "Confirmation did not match.", {
        prefix: "delete: ",
        fields: { intent: "delete" },
        extra: [
          ["+ NUL", "leaver.test\u0000"],
          ["bidi", "\u202Eleaver.test"],
          ["+ trailing dot", "leaver.test."],
          ["with two @", "@@leaver.test"],
          ["with a one-dot leader", "leaver\u2024test"],
          ["huge after the handle", huge("leaver.test")],
        ],
      }),
    ],
  },
  {
    route: "POST /auth/oauth/consent",
    path: () => "/auth/oauth/consent",
    who: "owner",
    base: async () => ({ consent_token: await openConsent(tp, owner.jwt, consentQuery(SLUG)), action: "bogus" }),
    wouldSucceed: async () => ({ consent_token: await openConsent(tp, owner.jwt, consentQuery(SLUG)), action: "approve" }),
    unreadable: { status: 400, message: "Missing consent token" },
    statuses: [400],
    kind: "html",
    refusals: [
      ...refusals("consent_token", (v) => (v ? "Invalid or expired consent token" : "Missing consent token"), {
        extra: [
          ["unicode", "ålïcé|🤖"],
          ["forged", `{"wiki_slug":"${SLUG}","exp":9999999999}|${"0".repeat(64)}`],
          ["only a separator", "|"],
        ],
      }),
      ...refusals("action", "Invalid action", {
        extra: [
          ["uppercase", "APPROVE"],
          ["with NUL", "approve\u0000"],
          ["with a trailing space", "deny "],
          ["bidi", "\u202Eapprove"],
        ],
      }),
    ],
  },
  {
    route: "POST /auth/login",
    path: () => "/auth/login",
    base: () => ({ username: "" }),
    wouldSucceed: () => ({ username: "" }),
    unreadable: { status: 400, message: "Not a valid handle, DID, or auth server URL" },
    statuses: [400],
    kind: "html",
    refusals: [
      ...refusals("username", "Not a valid handle, DID, or auth server URL", {
        extra: [
          ["unicode", "ålïcé"],
          ["bidi", "\u202E"],
          ["@ only", "@"],
          ["with an empty label", "a..b"],
          ["a dot", "."],
          ["trailing dot", "alice."],
          ["DID without a method", "did:"],
          ["DID without an identifier", "did:plc:"],
          ["with spaces", "not a handle"],
          ["with a leading hyphen label", "-a.bsky.social"],
        ],
      }),
      ...refusals("username", "Invalid authorization server URL", {
        common: false,
        extra: [
          ["server URL without a host", "https://"],
          ["server URL to a private address", "https://10.0.0.1"],
        ],
      }),
    ],
  },
  // auth.md §6: logout without a valid cookie is the same 302, never an error.
  { route: "POST /auth/logout", path: () => "/auth/logout", base: () => ({}), wouldSucceed: () => ({}), unreadable: { status: 302 }, statuses: [302], kind: "html", refusals: [] },
  // auth.md §7.2: always 400 unsupported_grant_type.
  {
    route: "POST /auth/token",
    path: () => "/auth/token",
    base: () => ({ grant_type: "authorization_code", code: "x" }),
    wouldSucceed: () => ({ grant_type: "authorization_code", code: "x" }),
    unreadable: { status: 400, message: "unsupported_grant_type" },
    statuses: [400],
    kind: "json",
    refusals: [],
  },
];

/**
 * Body shapes: [case, build(fields) → {body, contentType}, how the route sees it]: "unreadable"
 * (not a form: sent with fields that would succeed, so reading it anyway shows), "files" (a form
 * whose values are files: the same fields, none of them text), "readable" (a form of bad values).
 */
type Shape = [string, (fields: Record<string, string>) => { body: BodyInit; type?: string }, "unreadable" | "files" | "readable"];
const urlencoded = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const multipart = (boundary: string, parts: string[]) => parts.map((p) => `--${boundary}\r\n${p}\r\n`).join("") + `--${boundary}--\r\n`;

const FORM_SHAPES: Shape[] = [
  ["empty body", () => ({ body: "", type: "application/x-www-form-urlencoded" }), "readable"],
  ["no Content-Type", (f) => ({ body: Buffer.from(urlencoded(f)) }), "unreadable"],
  ["JSON instead of a form", (f) => ({ body: JSON.stringify(f), type: "application/json" }), "unreadable"],
  ["text/plain instead of a form", (f) => ({ body: urlencoded(f), type: "text/plain" }), "unreadable"],
  ["multipart without a boundary", (f) => ({ body: urlencoded(f), type: "multipart/form-data" }), "unreadable"],
  ["multipart with the wrong boundary", (f) => ({ body: multipart("aaa", Object.entries(f).map(([k, v]) => `Content-Disposition: form-data; name="${k}"\r\n\r\n${v}`)), type: "multipart/form-data; boundary=bbb" }), "unreadable"],
  ["multipart truncated", (f) => ({ body: multipart("b", Object.entries(f).map(([k, v]) => `Content-Disposition: form-data; name="${k}"\r\n\r\n${v}`)).slice(0, -8), type: "multipart/form-data; boundary=b" }), "unreadable"],
  [
    "multipart with files where text is expected",
    (f) => ({
      body: multipart("b", Object.entries(f).map(([k, v]) => `Content-Disposition: form-data; name="${k}"; filename="x.txt"\r\nContent-Type: text/plain\r\n\r\n${v}`)),
      type: "multipart/form-data; boundary=b",
    }),
    "files",
  ],
  ["a Content-Type with a bogus charset", (f) => ({ body: urlencoded(f), type: "application/x-www-form-urlencoded; charset=x-evil" }), "readable"],
  ["binary garbage", () => ({ body: Buffer.from([0xff, 0xfe, 0x00, 0x3d, 0x26, 0x80, 0xc0, 0xae]), type: "application/x-www-form-urlencoded" }), "readable"],
  ["10,000 junk fields", () => ({ body: Array.from({ length: 10_000 }, (_, i) => `j${i}=${i}`).join("&"), type: "application/x-www-form-urlencoded" }), "readable"],
];

/** What a request to `r` must look like to pass the Origin check and authentication. */
function formHeaders(r: FormRoute, type?: string): Record<string, string> {
  return { ...(r.who ? authHeaders("cookie", r.who) : { Origin: tp.origin }), ...(type ? { "Content-Type": type } : {}) };
}

async function expectRefusedWrite(label: string, r: FormRoute, run: () => Promise<Answer>, status: number | number[], message?: string) {
  const before = await platformState(tp);
  const a = await run();
  expectSound(a, label);
  if (Array.isArray(status)) expect(status, `${label}: status ${a.status}`).toContain(a.status);
  else expect(a.status, label).toBe(status);
  if (a.status >= 400) expectClearError(a, r.kind, label, message);
  if (r.route === "POST /auth/logout") expect(a.res.headers.get("location"), label).toBe(`${tp.origin}/`);
  else expect(a.res.headers.get("location"), `${label}: no redirect`).toBeNull();
  expect(await platformState(tp), `${label}: state changed`).toBe(before);
}

describe("form routes × body shapes and refused values", () => {
  for (const r of FORM_ROUTES) {
    describe(r.route, () => {
      it.each(FORM_SHAPES)("%s", async (name, shape, how) => {
        const { body, type } = shape(await (how === "readable" ? r.base() : r.wouldSucceed()));
        await expectRefusedWrite(
          `${r.route} ${name}`,
          r,
          () => send(tp, r.path(), { method: "POST", headers: formHeaders(r, type), body }),
          how === "unreadable" ? r.unreadable.status : r.statuses,
          how === "unreadable" ? r.unreadable.message : undefined,
        );
      });

      it.each(HOSTILE.filter((h) => h.raw))("every field a raw $name", async (h) => {
        const fields = Object.keys(await r.base());
        const body = (fields.length ? fields : ["x"]).map((k) => `${k}=${h.value}`).join("&");
        await expectRefusedWrite(`${r.route} raw ${h.name}`, r, () => send(tp, r.path(), { method: "POST", headers: formHeaders(r, "application/x-www-form-urlencoded"), body }), r.statuses);
      });

      it("every field twice, both values refused", async () => {
        const base = await r.base();
        const body = Object.keys(base).flatMap((k) => [`${k}=`, `${k}=${encodeURIComponent(ctl)}`]).join("&");
        await expectRefusedWrite(`${r.route} duplicated`, r, () => send(tp, r.path(), { method: "POST", headers: formHeaders(r, "application/x-www-form-urlencoded"), body }), r.statuses);
      });

      if (r.refusals.length > 0) {
        it.each(r.refusals)("%s → 400", async (name, overrides, message) => {
          const fields = { ...(await r.base()), ...overrides };
          const body = pairs(fields).join("&");
          await expectRefusedWrite(`${r.route} ${name}`, r, () => send(tp, r.path(), { method: "POST", headers: formHeaders(r, "application/x-www-form-urlencoded"), body }), 400, message);
        });
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 4. JSON API writes: invalid JSON, wrong content types, values the spec refuses
// ---------------------------------------------------------------------------------------------

const deepArray = "[".repeat(100_000) + "]".repeat(100_000);
const deepObject = '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000);

/** Bodies every JSON route refuses the same way (management.md §4.1). */
const INVALID_JSON: Array<[string, BodyInit, string]> = [
  ["truncated", '{"slug":"x",', "Invalid JSON body"],
  ["an open brace", "{", "Invalid JSON body"],
  ["trailing garbage", "{}x", "Invalid JSON body"],
  ["two objects", "{}{}", "Invalid JSON body"],
  ["single quotes", "{'slug':'x'}", "Invalid JSON body"],
  ["a comment", '{"slug":"x" /* hi */}', "Invalid JSON body"],
  ["NaN", '{"enabled":NaN}', "Invalid JSON body"],
  ["a NUL byte", '{"a":"\u0000"}', "Invalid JSON body"],
  ["invalid UTF-8 between tokens", Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), "Invalid JSON body"],
  ["form-encoded", "slug=x&display_name=y&enabled=true", "Invalid JSON body"],
  ["an array", "[]", "Request body must be a JSON object"],
  ["an array of objects", '[{"enabled":true}]', "Request body must be a JSON object"],
  ["a string", '"x"', "Request body must be a JSON object"],
  ["a number", "1", "Request body must be a JSON object"],
  ["a huge number", "1e999", "Request body must be a JSON object"],
  ["null", "null", "Request body must be a JSON object"],
  ["true", "true", "Request body must be a JSON object"],
  ["100,000 nested arrays", deepArray, "Request body must be a JSON object"],
];

interface JsonRoute {
  route: string;
  method: string;
  path: () => string;
  who: Who;
  refusals: Array<[string, unknown, string]>;
}

const JSON_ROUTES: JsonRoute[] = [
  {
    route: "POST /api/wikis",
    method: "POST",
    path: () => "/api/wikis",
    who: "fresh",
    refusals: [
      ["an empty object", {}, "display_name is required"],
      ["50,000 nested objects", deepObject, "display_name is required"],
      ...([null, 1, true, [], {}, "", "   ", ctl, 1e308] as unknown[]).map(
        (v) => [`display_name ${JSON.stringify(v)?.slice(0, 20)}`, { slug: "fresh-json", display_name: v }, "display_name is required"] as [string, unknown, string],
      ),
      ["display_name huge (100 KiB)", { slug: "fresh-json", display_name: KIB100 }, "display_name must be at most 100 characters"],
      ["display_name 101 characters", { slug: "fresh-json", display_name: "d".repeat(101) }, "display_name must be at most 100 characters"],
      ...([null, 1, true, [], {}] as unknown[]).map(
        (v) => [`purpose ${JSON.stringify(v)}`, { slug: "fresh-json", display_name: "D", purpose: v }, "purpose must be a string"] as [string, unknown, string],
      ),
      ...([undefined, null, 1, [], {}] as unknown[]).map(
        (v) => [`slug ${JSON.stringify(v) ?? "missing"}`, { slug: v, display_name: "D" }, "slug is required"] as [string, unknown, string],
      ),
      ...(
        [
          ["", "slug is required"],
          [KIB100, "slug must be at most 30 characters"],
          ["ålice", "slug must contain only lowercase letters, digits, and hyphens"],
          ["fresh\u0000json", "slug must contain only lowercase letters, digits, and hyphens"],
          ["\u202Efresh", "slug must contain only lowercase letters, digits, and hyphens"],
          ["fresh json", "slug must contain only lowercase letters, digits, and hyphens"],
          ["admin", "slug is reserved"],
        ] as Array<[string, string]>
      ).map(([v, m]) => [`slug ${JSON.stringify(v).slice(0, 20)}`, { slug: v, display_name: "D" }, m] as [string, unknown, string]),
      // Duplicate keys: the last one counts (JSON.parse), and neither value would be accepted.
      ["duplicate keys", '{"slug":"admin","display_name":"D","slug":"-x-"}', "slug must not start or end with a hyphen"],
      // Own `__proto__` / `constructor` keys are data, never the prototype.
      ["a __proto__ key", '{"__proto__":{"display_name":"D","slug":"proto-wiki"}}', "display_name is required"],
      ["a constructor.prototype key", '{"constructor":{"prototype":{"display_name":"D"}},"slug":"proto-wiki"}', "display_name is required"],
    ],
  },
  {
    route: "POST /api/wikis/:slug/git",
    method: "POST",
    path: () => `/api/wikis/${SLUG}/git`,
    who: "owner",
    refusals: (
      [
        ["missing", {}],
        ['"true"', { enabled: "true" }],
        ['"false"', { enabled: "false" }],
        ['"TRUE"', { enabled: "TRUE" }],
        ["0", { enabled: 0 }],
        ["1", { enabled: 1 }],
        ["null", { enabled: null }],
        ["[]", { enabled: [] }],
        ["{}", { enabled: {} }],
        ["[true]", { enabled: [true] }],
        ["1e999", '{"enabled":1e999}'],
        ['"\\u0000"', { enabled: "\u0000" }],
      ] as Array<[string, unknown]>
    ).map(([n, body]) => [`enabled ${n}`, body, "enabled must be a boolean"] as [string, unknown, string]),
  },
  { route: "POST /api/wikis/:slug/token", method: "POST", path: () => `/api/wikis/${SLUG}/token`, who: "owner", refusals: [] },
  { route: "DELETE /api/wikis/:slug", method: "DELETE", path: () => `/api/wikis/${SLUG}`, who: "owner", refusals: [] },
];

/** Content types a JSON body may arrive with: the spec checks the body, not the header. */
const JSON_TYPES: Array<[string, string | undefined]> = [
  ["application/json", "application/json"],
  ["text/plain", "text/plain"],
  ["a form content type", "application/x-www-form-urlencoded"],
  ["multipart", "multipart/form-data; boundary=x"],
  ["no Content-Type", undefined],
];

const asBody = (v: BodyInit | unknown): BodyInit => (typeof v === "string" || v instanceof Uint8Array ? (v as BodyInit) : JSON.stringify(v));

describe("JSON API writes × invalid bodies and refused values", () => {
  for (const r of JSON_ROUTES) {
    describe(r.route, () => {
      async function expectRefused(label: string, body: BodyInit, type: string | undefined, message: string) {
        const before = await platformState(tp);
        // A string body would get text/plain from fetch: bytes keep "no Content-Type" true to its name.
        const raw = type === undefined && typeof body === "string" ? Buffer.from(body) : body;
        const a = await send(tp, r.path(), { method: r.method, headers: { ...authHeaders("bearer", r.who), ...(type ? { "Content-Type": type } : {}) }, body: raw });
        expectSound(a, label);
        expect(a.status, `${label}: ${a.text.slice(0, 200)}`).toBe(400);
        expectClearError(a, "json", label, message);
        expect(await platformState(tp), `${label}: state changed`).toBe(before);
      }

      it.each(INVALID_JSON)("%s", async (name, body, message) => {
        await expectRefused(`${r.route} ${name}`, body, "application/json", message);
      });

      it.each(JSON_TYPES.slice(1))("invalid JSON sent as %s is refused all the same", async (typeName, type) => {
        for (const [name, body, message] of INVALID_JSON.filter(([n]) => ["truncated", "an array", "form-encoded", "a huge number"].includes(n))) {
          await expectRefused(`${r.route} ${name} (${typeName})`, body, type, message);
        }
      });

      if (r.refusals.length > 0) {
        it.each(r.refusals)("%s", async (name, value, message) => {
          await expectRefused(`${r.route} ${name}`, asBody(value), "application/json", message);
        });
        it("a refused value is refused whatever the Content-Type says", async () => {
          const [name, value, message] = r.refusals[0];
          for (const [typeName, type] of JSON_TYPES) await expectRefused(`${r.route} ${name} (${typeName})`, asBody(value), type, message);
        });
      }
    });
  }

  it("nothing in a body reaches Object.prototype", () => {
    expect(({} as Record<string, unknown>).display_name).toBeUndefined();
    expect(({} as Record<string, unknown>).slug).toBeUndefined();
  });
});
