// The probes' fast path (issue 7): GET/HEAD /healthz and /api/internal/check-slug answered in
// front of React Router must be exactly what the full pipeline answers — status, body, every
// header — and anything else must fall through to the full pipeline.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastAnswer } from "~/server/http.server";
import { loadBuild, startTestPlatform, type TestPlatform } from "./support/platform";

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform({ PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "wtf.fast.internal" });
  const u = await tp.createUser("owner.test", "did:plc:fastowner");
  const now = "2025-03-01T12:34:56.789000+00:00";
  await tp.platform.db.wiki.create({
    data: { slug: "alice", owner_did: u.did, display_name: "Alice", repo_path: "/x/alice/repo", mcp_token_hash: "a".repeat(64), created_at: now, last_accessed: now },
  });
});
afterAll(() => tp.close());

const fast = (method: string, target: string, headers: { requestId?: string; forwardedFor?: string } = {}) =>
  tp.handle.fast!(method, target, headers, "127.0.0.1");
const headerMap = (pairs: Iterable<[string, string]>) =>
  Object.fromEntries([...pairs].map(([k, v]) => [k.toLowerCase(), v]).filter(([k]) => k !== "x-request-id" && k !== "content-length"));

describe("the fast path answers as the full pipeline does", () => {
  it.each([
    ["GET", "/healthz"],
    ["HEAD", "/healthz"],
    ["GET", "/healthz?x=1"],
    ["GET", "/api/internal/check-slug?domain=alice.wtf.fast.internal"],
    ["HEAD", "/api/internal/check-slug?domain=alice.wtf.fast.internal"],
    ["GET", "/api/internal/check-slug?domain=ALICE.wtf.fast.internal."],
    ["GET", "/api/internal/check-slug?domain=bob.wtf.fast.internal"],
    ["GET", "/api/internal/check-slug?domain=a.alice.wtf.fast.internal"],
    ["GET", "/api/internal/check-slug?domain=%ZZ"],
    ["GET", "/api/internal/check-slug?domain=alice.wtf.fast.internal&domain=bob.wtf.fast.internal"],
    ["GET", "/api/internal/check-slug"],
    ["GET", "/api/internal/check-slug?"],
  ])("%s %s", async (method, target) => {
    const answer = fast(method, target) as FastAnswer;
    expect(answer).toBeDefined();
    const full = await tp.request(target, { method });
    expect(answer.status).toBe(full.status);
    expect(method === "HEAD" ? "" : answer.body).toBe(await full.text());
    expect(headerMap(answer.headers)).toEqual(headerMap(full.headers));
    expect(answer.headers.find(([k]) => k === "Strict-Transport-Security")?.[1]).toMatch(/^max-age=/);
  });

  it("keeps a valid X-Request-Id and logs one debug line with it", () => {
    tp.logs.length = 0;
    const answer = fast("GET", "/api/internal/check-slug?domain=bob.wtf.fast.internal", { requestId: "probe-1", forwardedFor: "203.0.113.9" })!;
    expect(answer.headers).toContainEqual(["X-Request-Id", "probe-1"]);
    const lines = tp.logs.map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "debug", msg: "request", reqId: "probe-1", method: "GET", path: "/api/internal/check-slug", status: 404, ip: "127.0.0.1" });
  });

  it("replaces an invalid X-Request-Id", () => {
    const answer = fast("GET", "/healthz", { requestId: "bad id\n" })!;
    expect(answer.headers.find(([k]) => k === "X-Request-Id")?.[1]).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("everything else goes to the full pipeline", () => {
  it.each([
    ["POST", "/healthz"],
    ["OPTIONS", "/api/internal/check-slug"],
    ["GET", "/HEALTHZ"],
    ["GET", "/healthz/"],
    ["GET", "/api/internal/check-slug/"],
    ["GET", "/api/internal/check-slug?domain=alice.wtf.fast.internal#x"],
    ["GET", "/readyz"],
    ["GET", "//healthz"],
    ["GET", "http://wtf.fast.internal/healthz"],
  ])("%s %s", (method, target) => {
    expect(fast(method, target)).toBeUndefined();
  });

  it("a failing lookup is left to the full pipeline (which logs it)", async () => {
    const other = await startTestPlatform();
    other.platform.reads.close();
    expect(other.handle.fast!("GET", "/api/internal/check-slug?domain=x.127.0.0.1", {}, "127.0.0.1")).toBeUndefined();
    expect(other.handle.fast!("GET", "/healthz", {}, "127.0.0.1")).toBeDefined();
    await other.platform.db.$disconnect();
  });
});

describe("over a real socket", () => {
  it("serves the fast answers with Content-Length, and sees a wiki the moment its row commits", async () => {
    const b = await loadBuild();
    const srv = await b.listen(tp.platform, tp.handle, "127.0.0.1", 0);
    try {
      const health = await fetch(srv.url + "/healthz");
      expect(health.status).toBe(200);
      expect(health.headers.get("content-length")).toBe("15");
      expect(health.headers.get("x-frame-options")).toBe("DENY");
      expect(await health.json()).toEqual({ status: "ok" });
      const head = await fetch(srv.url + "/api/internal/check-slug?domain=alice.wtf.fast.internal", { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe("");
      const url = srv.url + "/api/internal/check-slug?domain=carol.wtf.fast.internal";
      expect((await fetch(url)).status).toBe(404);
      const now = "2025-03-01T12:34:56.789000+00:00";
      await tp.platform.db.wiki.create({
        data: { slug: "carol", owner_did: "did:plc:fastowner", display_name: "C", repo_path: "/x/carol/repo", mcp_token_hash: "c".repeat(64), created_at: now, last_accessed: now },
      });
      expect((await fetch(url)).status).toBe(200);
      await tp.platform.db.wiki.delete({ where: { slug: "carol" } });
      expect((await fetch(url)).status).toBe(404);
    } finally {
      await new Promise<void>((r) => srv.server.close(() => r()));
    }
  });
});
