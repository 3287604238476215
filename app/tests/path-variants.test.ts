// Integration: React Router matches paths case-insensitively, decodes each segment and ignores
// trailing slashes, so the pipeline's rules (Origin check, rate limits, no-store and
// no-referrer headers) must apply to every spelling that reaches a route, not only the
// canonical one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rulePath } from "~/server/paths.server";
import { cookieHeader, startTestPlatform, type TestPlatform } from "./support/platform";

describe("rulePath", () => {
  it.each([
    ["/", "/"],
    ["/app/create", "/app/create"],
    ["/APP/Create", "/app/create"],
    ["/app/create/", "/app/create"],
    ["/app/create///", "/app/create"],
    ["/%61pp/create", "/app/create"],
    ["/auth/oauth/consent.data", "/auth/oauth/consent"],
    ["/_root.data", "/"],
    ["/app/wiki/a%2Fb", "/app/wiki/a%2fb"],
    ["/%ff/x", "/%ff/x"],
  ])("%s → %s", (input, expected) => {
    expect(rulePath(input)).toBe(expected);
  });
});

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform({ RATE_LIMITS_ENABLED: "true", RATE_LIMIT_LOGIN: "2/60" });
});
afterAll(() => tp.close());

const wikiOrigin = "http://alice.127.0.0.1:5173";
const variants = (p: string) => [p.toUpperCase(), p + "/", p.replace("/a", "/%61"), p.replace(/^\/(\w)/, (_, c: string) => "/" + c.toUpperCase())];

describe("the rules hold for every spelling of a path", () => {
  it("a cookie POST from a wiki subdomain to a variant of /app/create is refused by the Origin check", async () => {
    const u = await tp.createUser("variants.test");
    for (const p of variants("/app/create")) {
      const res = await tp.request(p, {
        method: "POST",
        headers: { ...cookieHeader(u.jwt), Origin: wikiOrigin, "Content-Type": "application/x-www-form-urlencoded" },
        body: "slug=variants&display_name=V",
      });
      expect(res.status, p).toBe(403);
      expect(await res.text(), p).toContain("Cross-site request blocked");
    }
    expect(await tp.platform.db.wiki.count({ where: { owner_did: u.did } })).toBe(0);
  });

  it("a consent POST to a variant without Origin or Sec-Fetch-Site is refused", async () => {
    const u = await tp.createUser("variants2.test");
    for (const p of variants("/auth/oauth/consent")) {
      const res = await tp.request(p, {
        method: "POST",
        headers: { ...cookieHeader(u.jwt), "Content-Type": "application/x-www-form-urlencoded" },
        body: "consent_token=x&action=approve",
      });
      expect(res.status, p).toBe(403);
    }
  });

  it("/auth pages get no-store and no-referrer under any spelling", async () => {
    for (const p of variants("/auth/oauth/consent")) {
      const res = await tp.request(p + "?client_id=x");
      expect(res.headers.get("cache-control"), p).toBe("no-store");
      expect(res.headers.get("referrer-policy"), p).toBe("no-referrer");
    }
  });

  it("the login limit counts every spelling of /auth/login", async () => {
    const post = (p: string) =>
      tp.request(p, {
        method: "POST",
        ip: "203.0.113.9",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: tp.origin },
        body: "username=",
      });
    expect((await post("/auth/login")).status).not.toBe(429);
    expect((await post("/AUTH/LOGIN")).status).not.toBe(429);
    const third = await post("/auth/login/");
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toMatch(/^\d+$/);
  });
});
