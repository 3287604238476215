import { describe, expect, it } from "vitest";
import { formIntent, limitForRequest } from "./rate-limit.server";

describe("limitForRequest (security.md §5)", () => {
  it.each([
    ["GET", "/", undefined, null],
    ["GET", "/static/style.css", undefined, null],
    ["GET", "/healthz", undefined, null],
    ["GET", "/readyz", undefined, null],
    ["GET", "/api/internal/check-slug", undefined, null],
    ["GET", "/api/wikis", undefined, "api_read"],
    ["DELETE", "/api/wikis/a", undefined, "api_write"],
    ["POST", "/auth/login", undefined, "login"],
    ["GET", "/auth/callback", undefined, "callback"],
    ["POST", "/auth/oauth/consent", undefined, "consent"],
    ["POST", "/app/create", undefined, "create"],
    ["POST", "/app/account", undefined, "account_delete"],
    ["POST", "/app/wiki/a", "rename", "settings"],
    ["POST", "/app/wiki/a", "git", "settings"],
    ["POST", "/app/wiki/a", "delete", "wiki_danger"],
    ["POST", "/app/wiki/a", "regenerate", "wiki_danger"],
    ["POST", "/app/wiki/a", "toString", "settings"],
    ["POST", "/app/wiki/a", null, "settings"],
    ["GET", "/app/wiki/a", undefined, "default"],
    ["GET", "/auth/login", undefined, "default"],
  ])("%s %s (intent %s) → %s", (method, path, intent, limit) => {
    expect(limitForRequest(method, path, intent)).toBe(limit);
  });
});

describe("formIntent", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it("reads urlencoded and multipart forms", async () => {
    expect(await formIntent(enc("a=1&intent=rename"), "application/x-www-form-urlencoded; charset=UTF-8")).toBe("rename");
    const form = new FormData();
    form.set("intent", "delete");
    const req = new Request("http://x/", { method: "POST", body: form });
    const body = new Uint8Array(await req.arrayBuffer());
    expect(await formIntent(body, req.headers.get("content-type"))).toBe("delete");
  });
  it("is null for other bodies and broken forms", async () => {
    expect(await formIntent(enc('{"intent":"rename"}'), "application/json")).toBeNull();
    expect(await formIntent(enc("intent=rename"), null)).toBeNull();
    expect(await formIntent(enc("garbage"), "multipart/form-data; boundary=zzz")).toBeNull();
    expect(await formIntent(enc("x=1"), "application/x-www-form-urlencoded")).toBeNull();
  });
});
