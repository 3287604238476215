// Integration: rules of the request pipeline that hold for every route — one log line with a
// cause for every refusal (acceptance E4), OPTIONS answered from the route's methods, the
// `default` limit counted per route (security.md §5), the exempt paths that never give 429 (RL4),
// the Origin check before the body is read.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookieHeader, startTestPlatform, type TestPlatform } from "./support/platform";

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform({ RATE_LIMITS_ENABLED: "true", RATE_LIMIT_DEFAULT: "3/60", RATE_LIMIT_API_READ: "1000/60" });
});
afterAll(() => tp.close());

let ipSeq = 0;
const freshIp = () => `198.51.100.${++ipSeq}`;
const linesOf = (res: Response) => {
  const reqId = res.headers.get("x-request-id");
  return tp.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === reqId);
};

describe("every 4xx/5xx has one log line with reqId and a cause (E4)", () => {
  it.each([
    ["an unknown page", "/nope", {}, "This page does not exist."],
    ["an unknown API path", "/api/nope", {}, "Not found"],
    ["an API call without a token", "/api/me", {}, "Not authenticated"],
    ["a bad slug on check-slug", "/api/internal/check-slug?domain=a.b.c", {}, ""],
    ["a cross-site POST", "/app/create", { method: "POST", headers: { Origin: "https://evil.example" }, body: "x=1" }, "Cross-site request blocked"],
    ["a wrong method on a resource route", "/healthz", { method: "POST" }, "Method not allowed"],
    ["a wrong method on a page route", "/", { method: "DELETE" }, ""],
    ["invalid JSON", "/api/wikis", { method: "POST", headers: { Authorization: "Bearer x" }, body: "{" }, ""],
  ] as [string, string, RequestInit, string][])("%s", async (_name, p, init, cause) => {
    const res = await tp.request(p, { ip: freshIp(), ...init });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const lines = linesOf(res);
    const failures = lines.filter((l) => typeof l.status === "number");
    expect(failures).toHaveLength(1);
    expect(failures[0].status).toBe(res.status);
    expect(typeof failures[0].cause).toBe("string");
    expect((failures[0].cause as string).length).toBeGreaterThan(0);
    if (cause) expect(failures[0].cause).toContain(cause);
    // No second "route error" line for React Router's own 4xx.
    expect(lines.filter((l) => l.msg === "route error")).toHaveLength(0);
    expect(res.headers.get("x-robot-cause")).toBeNull();
  });

  it("a form re-rendered in place names its error", async () => {
    const u = await tp.createUser("formcause.test");
    const res = await tp.request("/app/create", {
      method: "POST",
      ip: freshIp(),
      headers: { ...cookieHeader(u.jwt), Origin: tp.origin, "Content-Type": "application/x-www-form-urlencoded" },
      body: "slug=admin&display_name=x",
    });
    expect(res.status).toBe(400);
    const failures = linesOf(res).filter((l) => typeof l.status === "number");
    expect(failures).toHaveLength(1);
    expect(failures[0].cause).not.toBe("HTTP 400");
    expect(String(failures[0].cause)).toMatch(/reserved/i);
  });

  it("a refused cross-site request's line carries the observed headers", async () => {
    const res = await tp.request("/app/create", { method: "POST", ip: freshIp(), headers: { Origin: "http://alice.127.0.0.1:5173", "Sec-Fetch-Site": "same-site" }, body: "" });
    expect(res.status).toBe(403);
    const [line] = linesOf(res);
    expect(line).toMatchObject({ level: "warn", cause: "Cross-site request blocked", origin: "http://alice.127.0.0.1:5173", secFetchSite: "same-site" });
  });
});

describe("OPTIONS", () => {
  it("is 405 with the route's Allow and never runs the loader", async () => {
    const u = await tp.createUser("options.test");
    for (const [p, allow] of [
      ["/api/wikis", "GET, HEAD, POST"],
      ["/api/wikis/alice", "GET, HEAD, DELETE"],
      ["/api/wikis/alice/token", "POST"],
      ["/api/me", "GET, HEAD"],
      ["/healthz", "GET, HEAD"],
      ["/app/", "GET, HEAD"],
      ["/app/create", "GET, HEAD, POST"],
    ]) {
      const res = await tp.request(p, { method: "OPTIONS", ip: freshIp(), headers: cookieHeader(u.jwt) });
      expect(res.status, p).toBe(405);
      expect(res.headers.get("allow"), p).toBe(allow);
      const body = await res.text();
      expect(body, p).not.toContain("wikis\":[");
    }
    const unknown = await tp.request("/api/nope", { method: "OPTIONS", ip: freshIp() });
    expect(unknown.status).toBe(404);
  });
});

describe("the default limit is counted per route, not per concrete path", () => {
  it("new slugs or unknown paths do not get fresh budgets", async () => {
    const ip = freshIp();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await tp.request(`/app/wiki/nope${i}`, { ip })).status);
    expect(statuses.slice(0, 3).every((s) => s !== 429)).toBe(true);
    expect(statuses[3]).toBe(429);
    const other = freshIp();
    const unknown: number[] = [];
    for (let i = 0; i < 4; i++) unknown.push((await tp.request(`/no-such-page-${i}`, { ip: other })).status);
    expect(unknown).toEqual([404, 404, 404, 429]);
    // Another route keeps its own budget.
    expect((await tp.request("/auth/login", { ip: other })).status).toBe(200);
  });
});

describe("exempt paths never give 429 (RL4)", () => {
  it("/, /static/*, check-slug, /healthz and /readyz stay answered past every budget", async () => {
    const ip = freshIp();
    for (const p of ["/", "/static/style.css", "/api/internal/check-slug?domain=nobody.127.0.0.1", "/healthz", "/readyz"]) {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await tp.request(p, { ip })).status);
      expect(statuses.includes(429), `${p}: ${statuses.join(",")}`).toBe(false);
    }
    // The same client is limited elsewhere: the budget (3/60) is really on.
    const limited: number[] = [];
    for (let i = 0; i < 4; i++) limited.push((await tp.request("/auth/login", { ip })).status);
    expect(limited[3]).toBe(429);
  });
});

describe("the Origin check comes before the body is read", () => {
  it("a cross-site POST with an oversized body is a 403, not a 413", async () => {
    const res = await tp.request("/app/create", {
      method: "POST",
      ip: freshIp(),
      headers: { Origin: "https://evil.example", "Content-Length": String(2 * 1024 * 1024) },
      body: "x".repeat(2 * 1024 * 1024),
    });
    expect(res.status).toBe(403);
  });
});
