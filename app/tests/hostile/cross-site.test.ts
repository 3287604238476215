// Hostile suite: cross-site state changes (D7, security.md §2, ADR 004). Every cookie-
// authenticated non-GET route — each /app form action, the cookie-authenticated JSON API, logout
// and the consent POST — is sent with the victim's real cookie from a foreign origin, from wiki
// subdomains (same-site, not same-origin), with `Origin: null`, and without Origin but with a
// Sec-Fetch-Site other than same-origin: every one is a 403 before anything runs, and nothing
// changes (robot.db rows, every wiki.db, every file under WIKI_BASE). The same requests sent
// same-origin afterwards DO change what they should, so the table is not vacuous.
// Production-shaped origin: https://robot.wtf with wiki hosts https://{slug}.robot.wtf.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentQuery, openConsent } from "../support/consent";
import { createWikiApi, formBody, pageText, tokenOnPage, wikiPrefs, type TestUser } from "../support/mgmt";
import { startTestPlatform, type TestPlatform } from "../support/platform";
import { snapshotState } from "../support/snapshot";

const DOMAIN = "robot.wtf";
const ORIGIN = `https://${DOMAIN}`;
const VICTIM_DID = "did:plc:xsvictim0000";
const MAIN = "xs-main";

let tp: TestPlatform;
let victim: TestUser;
let consentToken: string;

beforeAll(async () => {
  // An admin, so the one-wiki limit cannot be what stops a create.
  tp = await startTestPlatform({ PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: DOMAIN, PLATFORM_ADMIN_DIDS: VICTIM_DID });
  expect(tp.origin).toBe(ORIGIN);
  victim = await tp.createUser("xsvictim.bsky.social", VICTIM_DID);
  for (const slug of [MAIN, "xs-ui-del", "xs-api-del"]) await createWikiApi(tp, victim, slug, `Wiki ${slug}`);
  consentToken = await openConsent(tp, victim.jwt, consentQuery(MAIN));
  // A stored ATProto session, so a logout that ran would visibly delete it.
  await tp.platform.db.atprotoOauthSession.create({ data: { key: VICTIM_DID, value: "{}", updated_at: new Date().toISOString() } });
});
afterAll(() => tp.close());

const row = (slug: string) => tp.platform.db.wiki.findUnique({ where: { slug } });
const snapshot = () => snapshotState(tp.platform.config.robotDbPath, tp.platform.config.wikiBase);

// ---------------------------------------------------------------------------
// The routes
// ---------------------------------------------------------------------------

interface StateChange {
  method: string;
  path: string;
  form?: () => Record<string, string>;
  json?: unknown;
  /** Runs after the same request was sent same-origin: asserts it took effect (or, for routes without a handler, that only the Origin check had stopped it). */
  control: (res: Response) => Promise<void>;
}

const status = (expected: number) => async (res: Response) => expect(res.status).toBe(expected);

/** Each entry's control runs in this order; the destructive ones come last. */
const ROUTES: StateChange[] = [
  // /app form actions
  {
    method: "POST",
    path: "/app/create",
    form: () => ({ slug: "xs-new-ui", display_name: "New from UI" }),
    control: async (res) => {
      expect(res.status).toBe(200);
      expect(await row("xs-new-ui")).not.toBeNull();
    },
  },
  {
    method: "POST",
    path: `/app/wiki/${MAIN}`,
    form: () => ({ intent: "rename", display_name: "Renamed" }),
    control: async (res) => {
      expect(res.status).toBe(302);
      expect((await row(MAIN))?.display_name).toBe("Renamed");
      expect(wikiPrefs(tp, MAIN).SITE_NAME).toBe("Renamed");
    },
  },
  {
    method: "POST",
    path: `/app/wiki/${MAIN}`,
    form: () => ({ intent: "access", read_access: "ANONYMOUS", write_access: "REGISTERED", attachment_access: "ANONYMOUS" }),
    control: async (res) => {
      expect(res.status).toBe(302);
      expect(wikiPrefs(tp, MAIN)).toMatchObject({ READ_ACCESS: "ANONYMOUS", WRITE_ACCESS: "REGISTERED", ATTACHMENT_ACCESS: "ANONYMOUS" });
    },
  },
  {
    method: "POST",
    path: `/app/wiki/${MAIN}`,
    form: () => ({ intent: "git", enabled: "true" }),
    control: async (res) => {
      expect(res.status).toBe(302);
      expect(wikiPrefs(tp, MAIN).GIT_WEB_SERVER).toBe("True");
    },
  },
  {
    method: "POST",
    path: `/app/wiki/${MAIN}`,
    form: () => ({ intent: "regenerate" }),
    control: async (res) => {
      expect(res.status).toBe(200);
      expect(tokenOnPage(await res.text())).toMatch(/^[A-Za-z0-9_-]{43}$/);
    },
  },
  // The same actions under other spellings of the path (ADR 006).
  { method: "POST", path: `/APP/wiki/${MAIN}`, form: () => ({ intent: "git", enabled: "false" }), control: status(302) },
  { method: "POST", path: `/app/wiki/${MAIN}/`, form: () => ({ intent: "git", enabled: "true" }), control: status(302) },
  { method: "POST", path: `/%61pp/wiki/${MAIN}`, form: () => ({ intent: "git", enabled: "false" }), control: status(302) },
  // A client-side (single fetch) submission of the same form.
  {
    method: "POST",
    path: `/app/wiki/${MAIN}.data`,
    form: () => ({ intent: "git", enabled: "true" }),
    control: async (res) => {
      expect(res.status).toBeLessThan(400);
      expect(wikiPrefs(tp, MAIN).GIT_WEB_SERVER).toBe("True");
    },
  },
  // JSON API with the cookie (D7: only Bearer requests are exempt)
  {
    method: "POST",
    path: "/api/wikis",
    json: { slug: "xs-new-api", display_name: "New from API" },
    control: async (res) => {
      expect(res.status).toBe(201);
      expect(await row("xs-new-api")).not.toBeNull();
    },
  },
  {
    method: "POST",
    path: `/api/wikis/${MAIN}/git`,
    json: { enabled: true },
    control: async (res) => {
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ git_access_enabled: true });
    },
  },
  {
    method: "POST",
    path: `/api/wikis/${MAIN}/token`,
    control: async (res) => {
      expect(res.status).toBe(200);
      expect(((await res.json()) as { mcp_token: string }).mcp_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    },
  },
  { method: "POST", path: `/API/wikis/${MAIN}/token`, control: status(200) },
  { method: "POST", path: `/api/wikis/${MAIN}/token/`, control: status(200) },
  {
    method: "DELETE",
    path: "/api/wikis/xs-api-del",
    control: async (res) => {
      expect(res.status).toBe(200);
      expect(await row("xs-api-del")).toBeNull();
    },
  },
  {
    method: "POST",
    path: "/app/wiki/xs-ui-del",
    form: () => ({ intent: "delete", confirm_slug: "xs-ui-del" }),
    control: async (res) => {
      expect(res.status).toBe(302);
      expect(await row("xs-ui-del")).toBeNull();
    },
  },
  // consent and logout
  {
    method: "POST",
    path: "/auth/oauth/consent",
    form: () => ({ consent_token: consentToken, action: "approve" }),
    control: async (res) => {
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toMatch(new RegExp(`^https://${MAIN}\\.robot\\.wtf/authorize/callback\\?.*approval_token=`));
    },
  },
  {
    method: "POST",
    path: "/auth/logout",
    control: async (res) => {
      expect(res.status).toBe(302);
      expect(res.headers.getSetCookie().some((c) => /^platform_token=;.*Domain=\.robot\.wtf.*Max-Age=0/.test(c))).toBe(true);
      expect(await tp.platform.db.atprotoOauthSession.findUnique({ where: { key: VICTIM_DID } })).toBeNull();
    },
  },
  // Methods without a handler: refused by the Origin check first, a 405/404 only same-origin.
  ...["/app/", "/app/create", `/app/wiki/${MAIN}`, "/app/account", "/app/admin/stats"].flatMap((path) =>
    ["PUT", "PATCH", "DELETE"].map((method) => ({ method, path, control: async (res: Response) => expect([404, 405]).toContain(res.status) })),
  ),
  { method: "POST", path: "/app/", control: status(405) },
  { method: "POST", path: "/app/admin/stats", control: status(405) },
  { method: "PUT", path: "/auth/logout", control: async (res) => expect(res.status).not.toBe(403) },
  { method: "DELETE", path: "/auth/oauth/consent", control: async (res) => expect([400, 405]).toContain(res.status) },
  { method: "POST", path: "/api/me", control: status(405) },
  { method: "PUT", path: `/api/wikis/${MAIN}`, json: { display_name: "x" }, control: status(405) },
  { method: "PATCH", path: `/api/wikis/${MAIN}`, json: { display_name: "x" }, control: status(405) },
  { method: "DELETE", path: "/api/wikis", control: status(405) },
  { method: "POST", path: "/api/no-such-route", control: status(404) },
  // Last: the account goes, with every remaining wiki.
  {
    method: "POST",
    path: "/app/account",
    form: () => ({ intent: "delete", confirm_handle: "xsvictim.bsky.social" }),
    control: async (res) => {
      expect(res.status).toBe(302);
      expect(await tp.platform.db.user.findUnique({ where: { did: VICTIM_DID } })).toBeNull();
      expect(await tp.platform.db.wiki.count({ where: { owner_did: VICTIM_DID } })).toBe(0);
    },
  },
];

// ---------------------------------------------------------------------------
// Where the requests come from
// ---------------------------------------------------------------------------

const HOSTILE: Array<[string, Record<string, string>]> = [
  ["a foreign origin", { Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" }],
  ["a foreign origin claiming a same-origin fetch", { Origin: "https://evil.example", "Sec-Fetch-Site": "same-origin" }],
  ["a wiki subdomain", { Origin: "https://alice.robot.wtf", "Sec-Fetch-Site": "same-site" }],
  ["the victim's own wiki subdomain", { Origin: `https://${MAIN}.robot.wtf`, "Sec-Fetch-Site": "same-site" }],
  ["a wiki subdomain without Sec-Fetch-Site", { Origin: "https://alice.robot.wtf" }],
  ["a wiki subdomain claiming a same-origin fetch", { Origin: "https://alice.robot.wtf", "Sec-Fetch-Site": "same-origin" }],
  ["a wiki subdomain, text/plain body", { Origin: "https://alice.robot.wtf", "Sec-Fetch-Site": "same-site", "Content-Type": "text/plain" }],
  ["a wiki subdomain, multipart body", { Origin: "https://alice.robot.wtf", "Sec-Fetch-Site": "same-site", "Content-Type": "multipart/form-data; boundary=x" }],
  ["Origin: null", { Origin: "null" }],
  ["Origin: null, same-site", { Origin: "null", "Sec-Fetch-Site": "same-site" }],
  ["Origin: null, cross-site", { Origin: "null", "Sec-Fetch-Site": "cross-site" }],
  ["Origin: null, none", { Origin: "null", "Sec-Fetch-Site": "none" }],
  ["no Origin, same-site", { "Sec-Fetch-Site": "same-site" }],
  ["no Origin, cross-site", { "Sec-Fetch-Site": "cross-site" }],
  ["no Origin, none", { "Sec-Fetch-Site": "none" }],
  ["no Origin and no Sec-Fetch-Site", {}],
  ["no Origin, a platform Referer", { Referer: `${ORIGIN}/app/` }],
  ["no Origin, Sec-Fetch-Site in capitals", { "Sec-Fetch-Site": "Same-Origin" }],
  ["the platform over http", { Origin: `http://${DOMAIN}` }],
  ["the platform with an explicit port", { Origin: `${ORIGIN}:443` }],
  ["the platform with a trailing slash", { Origin: `${ORIGIN}/` }],
  ["the platform in capitals", { Origin: ORIGIN.toUpperCase() }],
  ["a suffix-extended host", { Origin: `${ORIGIN}.evil.example` }],
  ["a prefix-extended host", { Origin: "https://evilrobot.wtf" }],
  ["the platform with userinfo", { Origin: `https://user@${DOMAIN}` }],
  ["two origins in one header", { Origin: `${ORIGIN}, https://evil.example` }],
];

function send(route: StateChange, headers: Record<string, string>) {
  const body = route.form ? formBody(route.form()) : route.json !== undefined ? JSON.stringify(route.json) : undefined;
  const contentType = route.form ? "application/x-www-form-urlencoded" : route.json !== undefined ? "application/json" : undefined;
  return tp.request(route.path, {
    method: route.method,
    headers: { Cookie: `platform_token=${victim.jwt}`, ...(contentType ? { "Content-Type": contentType } : {}), ...headers },
    body,
  });
}

const label = (route: StateChange, from: string) => `${route.method} ${route.path} from ${from}`;

describe("cross-site state changes are refused and change nothing (D7)", () => {
  it("every cookie-authenticated non-GET route × every hostile origin → 403 'Cross-site request blocked'; nothing changed", async () => {
    const before = snapshot();
    let count = 0;
    for (const route of ROUTES) {
      for (const [from, headers] of HOSTILE) {
        const res = await send(route, headers);
        const what = label(route, from);
        expect(res.status, what).toBe(403);
        expect(res.headers.getSetCookie(), what).toEqual([]);
        if (route.path.toLowerCase().startsWith("/api/")) {
          expect(res.headers.get("content-type"), what).toBe("application/json; charset=utf-8");
          expect(await res.json(), what).toEqual({ error: "Cross-site request blocked" });
        } else {
          expect(res.headers.get("content-type"), what).toMatch(/^text\/html/);
          expect(pageText(await res.text()), what).toContain("Cross-site request blocked");
        }
        count++;
      }
    }
    expect(count).toBe(ROUTES.length * HOSTILE.length);
    expect(snapshot()).toEqual(before);
  });

  it("an Authorization header that is not the victim's does not let a cross-site request ride the cookie", async () => {
    const before = snapshot();
    for (const route of ROUTES.filter((r) => r.path.startsWith("/api/"))) {
      for (const authorization of ["Bearer garbage", "Basic eDp4", "Bearer "]) {
        const res = await send(route, { Origin: "https://alice.robot.wtf", Authorization: authorization });
        // Exempt from the Origin check (a browser cannot add this header cross-site), and then
        // the header is the credential: the cookie is never tried (405/404 where no handler is).
        expect([401, 404, 405], `${label(route, "a wiki subdomain")} with ${authorization}`).toContain(res.status);
      }
    }
    expect(snapshot()).toEqual(before);
  });

  it("the login POST and /auth/token are outside the Origin check (auth.md §4, security.md §2) and are still answered", async () => {
    const login = await tp.request("/auth/login", {
      method: "POST",
      headers: { Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/x-www-form-urlencoded" },
      body: formBody({ username: "not a handle!" }),
    });
    // Answered by the login action itself (a styled page with its message), not refused by a
    // second origin check with a bare "Bad Request" and an error log line.
    expect(login.status).toBe(400);
    expect(login.headers.get("content-type")).toMatch(/^text\/html/);
    expect(pageText(await login.text())).toContain("Not a valid handle, DID, or auth server URL");
    const reqId = login.headers.get("x-request-id")!;
    const lines = tp.logs.map((l) => JSON.parse(l) as { level: string; reqId?: string }).filter((l) => l.reqId === reqId);
    expect(lines.map((l) => l.level)).not.toContain("error");
    const token = await tp.request("/auth/token", { method: "POST", headers: { Origin: "null" } });
    expect(token.status).toBe(400);
    expect(((await token.json()) as { error: string }).error).toBe("unsupported_grant_type");
  });

  it("the same requests sent same-origin do change what they should (so the refusals above were real)", async () => {
    for (const [i, route] of ROUTES.entries()) {
      // A browser's same-origin form post carries the origin; the no-referrer consent page sends
      // `Origin: null` with `Sec-Fetch-Site: same-origin` (ADR 004). Alternate the two.
      const headers: Record<string, string> = i % 2 === 0 ? { Origin: ORIGIN } : { Origin: "null", "Sec-Fetch-Site": "same-origin" };
      const res = await send(route, headers);
      await route.control(res).catch((err: Error) => {
        throw new Error(`${label(route, "the platform")}: ${err.message}`);
      });
    }
  });
});
