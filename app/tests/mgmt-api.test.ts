// Integration: the JSON management API (management.md §4, D10; acceptance A1–A12, T1–T3).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookieHeader, startTestPlatform, type TestPlatform } from "./support/platform";
import { api, createWikiApi, exists, wikiCount, wikiDir, wikiPrefs, type TestUser } from "./support/mgmt";

const sha256 = (s: string) => crypto.createHash("sha256").update(s, "utf8").digest("hex");
const PUBLIC_KEYS = [
  "created_at",
  "disk_usage_bytes",
  "display_name",
  "git_access_enabled",
  "last_accessed",
  "mcp_endpoint",
  "owner_did",
  "page_count",
  "slug",
  "url",
];

let tp: TestPlatform;
let seq = 0;
const newUser = (prefix = "api") => tp.createUser(`${prefix}${++seq}.bsky.social`);

beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(() => tp.close());

async function errorOf(res: Response): Promise<string> {
  expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
  return ((await res.json()) as { error: string }).error;
}

describe("authentication (A1, A2)", () => {
  it("GET /api/me works with the cookie and with a Bearer token, without username", async () => {
    const u = await tp.createUser("me.bsky.social", undefined, "Me Myself");
    for (const headers of [cookieHeader(u.jwt), { Authorization: `Bearer ${u.jwt}` }]) {
      const res = await tp.request("/api/me", { headers });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual({ did: u.did, handle: "me.bsky.social", display_name: "Me Myself" });
    }
  });

  it("401s with the exact messages and WWW-Authenticate", async () => {
    const u = await newUser();
    const cases: Array<[Record<string, string>, string]> = [
      [{}, "Not authenticated"],
      [{ Authorization: "Basic x" }, "Invalid Authorization header format"],
      [{ Authorization: "Bearer not.a.jwt" }, "Invalid token"],
      [{ Authorization: `Bearer ${await tp.mintJwt(u, Math.floor(Date.now() / 1000) - 90_000)}` }, "Token expired"],
      [{ Authorization: `Bearer ${await tp.mintJwt({ did: "did:plc:nobody00000", handle: "x.test" })}` }, "User not found"],
    ];
    for (const [headers, message] of cases) {
      const res = await tp.request("/api/wikis", { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="127.0.0.1:5173"');
      expect(await errorOf(res)).toBe(message);
    }
  });

  it("a Bearer header wins over a cookie", async () => {
    const u = await newUser();
    const res = await tp.request("/api/me", { headers: { ...cookieHeader(u.jwt), Authorization: "Basic x" } });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toBe("Invalid Authorization header format");
  });
});

describe("POST /api/wikis (A3, A9)", () => {
  it("201 with exactly the public wiki object, the token once and mcp_endpoint from PLATFORM_DOMAIN", async () => {
    const u = await newUser();
    const res = await api(tp, "POST", "/api/wikis", u, { slug: "  API-One ", display_name: " The API wiki ", purpose: "About things" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as { wiki: Record<string, unknown>; mcp_token: string; mcp_endpoint: string };
    expect(Object.keys(body).sort()).toEqual(["mcp_endpoint", "mcp_token", "wiki"]);
    expect(Object.keys(body.wiki).sort()).toEqual(PUBLIC_KEYS);
    expect(body.wiki).toMatchObject({
      slug: "api-one",
      display_name: "The API wiki",
      owner_did: u.did,
      page_count: 4,
      git_access_enabled: false,
      url: "http://api-one.127.0.0.1:5173",
      mcp_endpoint: "http://api-one.127.0.0.1:5173/mcp",
    });
    expect(body.wiki.created_at).toBe(body.wiki.last_accessed);
    expect(body.wiki.disk_usage_bytes).toBeGreaterThan(0);
    expect(body.mcp_endpoint).toBe("http://api-one.127.0.0.1:5173/mcp");
    // T1: 43 base64url characters; only the SHA-256 hex is stored.
    expect(body.mcp_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const row = await tp.platform.db.wiki.findUnique({ where: { slug: "api-one" } });
    expect(row?.mcp_token_hash).toBe(sha256(body.mcp_token));
    expect(JSON.stringify(row)).not.toContain(body.mcp_token);
    expect(wikiPrefs(tp, "api-one").SITE_DESCRIPTION).toBe("About things");
  });

  it("validation errors in the spec's order, with the API's messages", async () => {
    const u = await newUser();
    const cases: Array<[string | unknown, number, string]> = [
      ["{not json", 400, "Invalid JSON body"],
      ["[]", 400, "Request body must be a JSON object"],
      ['"text"', 400, "Request body must be a JSON object"],
      ["null", 400, "Request body must be a JSON object"],
      ["", 400, "display_name is required"], // an empty body is {}
      [{}, 400, "display_name is required"],
      [{ slug: "ok-slug" }, 400, "display_name is required"],
      [{ display_name: 5, slug: "ok-slug" }, 400, "display_name is required"],
      [{ display_name: " \u0007 ", slug: "ok-slug" }, 400, "display_name is required"],
      [{ display_name: "x".repeat(101), slug: "ok-slug" }, 400, "display_name must be at most 100 characters"],
      [{ display_name: "X", purpose: 7, slug: "ok-slug" }, 400, "purpose must be a string"],
      [{ display_name: "X" }, 400, "slug is required"],
      [{ display_name: "X", slug: 12 }, 400, "slug is required"],
      [{ display_name: "X", slug: "" }, 400, "slug is required"],
      [{ display_name: "X", slug: "AB" }, 400, "slug must be at least 3 characters"],
      [{ display_name: "X", slug: "a".repeat(31) }, 400, "slug must be at most 30 characters"],
      [{ display_name: "X", slug: "-wiki" }, 400, "slug must not start or end with a hyphen"],
      [{ display_name: "X", slug: "my_wiki" }, 400, "slug must contain only lowercase letters, digits, and hyphens"],
      [{ display_name: "X", slug: "admin" }, 400, "slug is reserved"],
    ];
    for (const [body, status, message] of cases) {
      const res = await api(tp, "POST", "/api/wikis", u, body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(await errorOf(res)).toBe(message);
    }
    expect(await tp.platform.db.wiki.count({ where: { owner_did: u.did } })).toBe(0);
    expect(await wikiCount(tp, u.did)).toBe(0);
  });

  it("a duplicate slug is 409; a second wiki is 403 naming the limit", async () => {
    const a = await newUser();
    const b = await newUser();
    await createWikiApi(tp, a, "dup-slug");
    const dup = await api(tp, "POST", "/api/wikis", b, { slug: "dup-slug", display_name: "Mine" });
    expect(dup.status).toBe(409);
    expect(await errorOf(dup)).toBe("Wiki already exists");
    const second = await api(tp, "POST", "/api/wikis", a, { slug: "second-one", display_name: "Two" });
    expect(second.status).toBe(403);
    expect(await errorOf(second)).toBe("Wiki limit reached (1 wiki per user on free tier)");
    expect(await tp.platform.db.wiki.count({ where: { owner_did: a.did } })).toBe(1);
  });

  it("a 300-character purpose is stored as 200 characters of SITE_DESCRIPTION", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, "long-purpose", "Long", "p".repeat(300));
    expect(wikiPrefs(tp, "long-purpose").SITE_DESCRIPTION).toBe("p".repeat(200));
  });
});

describe("reading (A4, A5, A12)", () => {
  it("GET /api/wikis lists only the caller's wikis, created_at ascending", async () => {
    const a = await newUser();
    const b = await newUser();
    await createWikiApi(tp, a, "list-a");
    await createWikiApi(tp, b, "list-b");
    const res = await api(tp, "GET", "/api/wikis", a);
    expect(res.status).toBe(200);
    const { wikis } = (await res.json()) as { wikis: Array<Record<string, unknown>> };
    expect(wikis.map((w) => w.slug)).toEqual(["list-a"]);
    expect(Object.keys(wikis[0]).sort()).toEqual(PUBLIC_KEYS);
    const empty = await api(tp, "GET", "/api/wikis", await newUser());
    expect(await empty.json()).toEqual({ wikis: [] });
  });

  it("GET /api/wikis/{slug}: owner 200; missing 404; non-owner 403; the slug is not lowercased", async () => {
    const owner = await newUser();
    const other = await newUser();
    await createWikiApi(tp, owner, "getme");
    const ok = await api(tp, "GET", "/api/wikis/getme", owner);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { wiki: Record<string, unknown>; mcp_endpoint: string };
    expect(Object.keys(body).sort()).toEqual(["mcp_endpoint", "wiki"]);
    expect(body.mcp_endpoint).toBe("http://getme.127.0.0.1:5173/mcp");
    expect(Object.keys(body.wiki).sort()).toEqual(PUBLIC_KEYS);

    const missing = await api(tp, "GET", "/api/wikis/nope-nope", owner);
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toBe("Wiki not found");
    const upper = await api(tp, "GET", "/api/wikis/GetMe", owner);
    expect(upper.status).toBe(404);
    const denied = await api(tp, "GET", "/api/wikis/getme", other);
    expect(denied.status).toBe(403);
    expect(await errorOf(denied)).toBe("Access denied");
  });

  it("A12: git_access_enabled is false when wiki.db is missing, and the request does not fail", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, "no-db");
    fs.rmSync(path.join(wikiDir(tp, "no-db"), "wiki.db"));
    const res = await api(tp, "GET", "/api/wikis/no-db", u);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { wiki: { git_access_enabled: boolean } }).wiki.git_access_enabled).toBe(false);
  });
});

describe("changing (A6, A7, A8)", () => {
  it("DELETE frees the slug and the tier slot; non-owners get 403; missing 404", async () => {
    const owner = await newUser();
    const other = await newUser();
    await createWikiApi(tp, owner, "delete-me");
    const denied = await api(tp, "DELETE", "/api/wikis/delete-me", other);
    expect(denied.status).toBe(403);
    expect(await errorOf(denied)).toBe("Only the owner can delete a wiki");
    expect(exists(wikiDir(tp, "delete-me"))).toBe(true);

    const res = await api(tp, "DELETE", "/api/wikis/delete-me", owner);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deleted: true });
    expect(await tp.platform.db.wiki.findUnique({ where: { slug: "delete-me" } })).toBeNull();
    expect(exists(wikiDir(tp, "delete-me"))).toBe(false);
    expect(await wikiCount(tp, owner.did)).toBe(0);
    expect((await api(tp, "DELETE", "/api/wikis/delete-me", owner)).status).toBe(404);
    // Slug and slot are free again, for anyone.
    await createWikiApi(tp, other, "delete-me");
    await createWikiApi(tp, owner, "delete-me-2");
  });

  it("POST /token: a new token; the old hash matches no row (T2); non-owner 403; missing 404", async () => {
    const owner = await newUser();
    const other = await newUser();
    const { mcp_token: old } = await createWikiApi(tp, owner, "token-wiki");
    const res = await api(tp, "POST", "/api/wikis/token-wiki/token", owner);
    expect(res.status).toBe(200);
    const { mcp_token } = (await res.json()) as { mcp_token: string };
    expect(mcp_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mcp_token).not.toBe(old);
    expect(await tp.platform.db.wiki.findUnique({ where: { mcp_token_hash: sha256(old) } })).toBeNull();
    expect((await tp.platform.db.wiki.findUnique({ where: { mcp_token_hash: sha256(mcp_token) } }))?.slug).toBe("token-wiki");

    const denied = await api(tp, "POST", "/api/wikis/token-wiki/token", other);
    expect(denied.status).toBe(403);
    expect(await errorOf(denied)).toBe("Only the owner can regenerate the token");
    const missing = await api(tp, "POST", "/api/wikis/nothing-here/token", owner);
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toBe("Wiki not found");
  });

  it("POST /git takes a strict boolean; GET then shows it; non-owner 403", async () => {
    const owner = await newUser();
    const other = await newUser();
    await createWikiApi(tp, owner, "git-wiki");
    const on = await api(tp, "POST", "/api/wikis/git-wiki/git", owner, { enabled: true });
    expect(on.status).toBe(200);
    expect(await on.json()).toEqual({ git_access_enabled: true });
    expect(wikiPrefs(tp, "git-wiki").GIT_WEB_SERVER).toBe("True");
    const got = await api(tp, "GET", "/api/wikis/git-wiki", owner);
    expect(((await got.json()) as { wiki: { git_access_enabled: boolean } }).wiki.git_access_enabled).toBe(true);

    for (const body of [{ enabled: "false" }, {}, { enabled: 0 }, { enabled: null }, ""]) {
      const res = await api(tp, "POST", "/api/wikis/git-wiki/git", owner, body);
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toBe("enabled must be a boolean");
    }
    expect(wikiPrefs(tp, "git-wiki").GIT_WEB_SERVER).toBe("True"); // "false" never turned it off (or on)
    const bad = await api(tp, "POST", "/api/wikis/git-wiki/git", owner, "{");
    expect(await errorOf(bad)).toBe("Invalid JSON body");

    const off = await api(tp, "POST", "/api/wikis/git-wiki/git", owner, { enabled: false });
    expect(await off.json()).toEqual({ git_access_enabled: false });
    expect(wikiPrefs(tp, "git-wiki").GIT_WEB_SERVER).toBe("False");

    const denied = await api(tp, "POST", "/api/wikis/git-wiki/git", other, { enabled: true });
    expect(denied.status).toBe(403);
    expect(await errorOf(denied)).toBe("Only the owner can change git access settings");
    expect((await api(tp, "POST", "/api/wikis/none-such/git", owner, { enabled: true })).status).toBe(404);
  });
});

describe("methods, paths and CSRF (A10, A11)", () => {
  it("wrong methods are 405 JSON with Allow; unknown paths 404 JSON", async () => {
    const u = await newUser();
    const cases: Array<[string, string, string]> = [
      ["PUT", "/api/wikis", "GET, HEAD, POST"],
      ["PATCH", "/api/wikis", "GET, HEAD, POST"],
      ["DELETE", "/api/wikis", "GET, HEAD, POST"],
      ["POST", "/api/me", "GET, HEAD"],
      ["PUT", "/api/wikis/x-y-z", "GET, HEAD, DELETE"],
      ["POST", "/api/wikis/x-y-z", "GET, HEAD, DELETE"],
      ["GET", "/api/wikis/x-y-z/token", "POST"],
      ["DELETE", "/api/wikis/x-y-z/git", "POST"],
    ];
    for (const [method, p, allow] of cases) {
      const res = await api(tp, method, p, u);
      expect({ method, p, status: res.status }).toEqual({ method, p, status: 405 });
      expect(res.headers.get("allow")).toBe(allow);
      expect(await errorOf(res)).toBe("Method not allowed");
    }
    const unknown = await api(tp, "GET", "/api/foo", u);
    expect(unknown.status).toBe(404);
    expect(await errorOf(unknown)).toBe("Not found");
  });

  it("a cookie-authenticated POST needs the platform Origin; Bearer requests are exempt", async () => {
    const u = await newUser();
    const body = JSON.stringify({ slug: "csrf-api", display_name: "C" });
    const json = { "Content-Type": "application/json" };
    const attempts: Array<Record<string, string>> = [{}, { Origin: "http://csrf-api.127.0.0.1:5173" }, { "Sec-Fetch-Site": "same-site" }];
    for (const extra of attempts) {
      const res = await tp.request("/api/wikis", { method: "POST", headers: { ...json, ...cookieHeader(u.jwt), ...extra }, body });
      expect(res.status).toBe(403);
      expect(await errorOf(res)).toBe("Cross-site request blocked");
    }
    expect(await tp.platform.db.wiki.count({ where: { owner_did: u.did } })).toBe(0);
    const bearer = await tp.request("/api/wikis", { method: "POST", headers: { ...json, Authorization: `Bearer ${u.jwt}` }, body });
    expect(bearer.status).toBe(201);
    const sameOrigin = await tp.request("/api/wikis/csrf-api/git", {
      method: "POST",
      headers: { ...json, ...cookieHeader(u.jwt), Origin: tp.origin },
      body: JSON.stringify({ enabled: true }),
    });
    expect(sameOrigin.status).toBe(200);
  });

  it("a body over 1 MiB is 413 JSON", async () => {
    const u = await newUser();
    const res = await api(tp, "POST", "/api/wikis", u, JSON.stringify({ display_name: "x".repeat(1024 * 1024 + 10) }));
    expect(res.status).toBe(413);
    expect(await errorOf(res)).toBe("Request body too large");
  });
});

describe("tokens stay out of logs, cookies and Location (T3)", () => {
  it("no issued token appears anywhere but the response body", async () => {
    const u: TestUser = await newUser();
    const responses: Response[] = [];
    const createRes = await api(tp, "POST", "/api/wikis", u, { slug: "secret-wiki", display_name: "S" });
    responses.push(createRes);
    const tokens = [((await createRes.json()) as { mcp_token: string }).mcp_token];
    for (let i = 0; i < 2; i++) {
      const res = await api(tp, "POST", "/api/wikis/secret-wiki/token", u);
      responses.push(res);
      tokens.push(((await res.json()) as { mcp_token: string }).mcp_token);
    }
    const logs = tp.logs.join("\n");
    for (const token of tokens) {
      expect(logs).not.toContain(token);
      for (const res of responses) {
        expect(res.headers.getSetCookie().join(";")).not.toContain(token);
        expect(res.headers.get("location") ?? "").not.toContain(token);
      }
    }
    // The log does record what happened, by slug.
    expect(logs).toContain('"msg":"MCP token regenerated"');
  });
});
