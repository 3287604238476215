import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.server";
import {
  clearHostCookie,
  clearPlatformCookie,
  cookieScope,
  parseCookies,
  platformCookieDomain,
  setHostCookie,
  setPlatformCookie,
  signValue,
  unsignValue,
} from "./cookies.server";

const attrs = (cookie: string) => cookie.split("; ").slice(1);

describe("platform_token Domain rule (contracts.md §1)", () => {
  it.each([
    ["robot.wtf", undefined, ".robot.wtf"],
    ["robot.test", undefined, ".robot.test"],
    ["wtf.e2e.internal", undefined, ".wtf.e2e.internal"],
    ["robot.test", ".example.test", ".example.test"],
    ["localhost", undefined, undefined],
    ["localhost", ".example.test", undefined],
    ["127.0.0.1", undefined, undefined],
    ["10.0.0.5", undefined, undefined],
    ["[::1]", undefined, undefined],
  ])("%s with COOKIE_DOMAIN=%s → %s", (host, cookieDomain, expected) => {
    expect(platformCookieDomain(host, cookieDomain)).toBe(expected);
  });

  it.each([
    ["robot.test", ".robot.test"],
    ["127.0.0.1:5000", undefined],
    ["[::1]:5000", undefined],
    ["wtf.e2e.internal:8443", ".wtf.e2e.internal"],
  ])("PLATFORM_DOMAIN %s → Domain %s (ports ignored)", (domain, expected) => {
    expect(cookieScope(loadConfig({ PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: domain })).platformDomain).toBe(expected);
  });
});

describe("platform_token attributes", () => {
  const https = cookieScope(loadConfig({ PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "robot.test" }));
  const http = cookieScope(loadConfig({ PLATFORM_DOMAIN: "127.0.0.1:5000" }));

  it("https: Domain, Path, Max-Age, Expires, HttpOnly, Secure, SameSite=Lax", () => {
    const c = setPlatformCookie(https, "jwt.value.sig");
    expect(c.startsWith("platform_token=jwt.value.sig; ")).toBe(true);
    const a = attrs(c);
    expect(a).toContain("Domain=.robot.test");
    expect(a).toContain("Path=/");
    expect(a).toContain("Max-Age=86400");
    expect(a).toContain("HttpOnly");
    expect(a).toContain("Secure");
    expect(a).toContain("SameSite=Lax");
    const expires = a.find((x) => x.startsWith("Expires="))!;
    const delta = new Date(expires.slice(8)).getTime() - Date.now();
    expect(delta).toBeGreaterThan(86_398_000);
    expect(delta).toBeLessThan(86_401_000);
  });

  it("http host-only: no Domain, no Secure", () => {
    const a = attrs(setPlatformCookie(http, "x"));
    expect(a.some((x) => x.startsWith("Domain="))).toBe(false);
    expect(a).not.toContain("Secure");
    expect(a).toContain("HttpOnly");
  });

  it("clearing repeats Domain and Path with Max-Age=0 and the epoch", () => {
    for (const scope of [https, http]) {
      const set = attrs(setPlatformCookie(scope, "x"));
      const clear = clearPlatformCookie(scope);
      expect(clear.startsWith("platform_token=; ")).toBe(true);
      const a = attrs(clear);
      expect(a.find((x) => x.startsWith("Domain="))).toBe(set.find((x) => x.startsWith("Domain=")));
      expect(a).toContain("Path=/");
      expect(a).toContain("Max-Age=0");
      expect(a).toContain("Expires=Thu, 01 Jan 1970 00:00:00 GMT");
      expect(a).toContain("HttpOnly");
      expect(a).toContain("SameSite=Lax");
      expect(a.includes("Secure")).toBe(scope.secure);
    }
  });

  it("other cookies are host-only and __Host- prefixed on https", () => {
    const c = setHostCookie(https, "flash", "v", 60);
    expect(c.startsWith("__Host-flash=v; ")).toBe(true);
    expect(c).not.toContain("Domain=");
    expect(c).toContain("Secure");
    expect(c).toContain("Path=/");
    expect(setHostCookie(http, "login_state", "v", 900).startsWith("login_state=v; ")).toBe(true);
    expect(clearHostCookie(https, "login_state")).toContain("Max-Age=0");
  });
});

describe("cookie parsing and signing", () => {
  it("a malformed neighbour does not hide platform_token (J8)", () => {
    const m = parseCookies('junk; =x; a="unterminated; b=%E0%A4%A; platform_token=abc.def.ghi; other=1');
    expect(m.get("platform_token")).toBe("abc.def.ghi");
    expect(m.get("other")).toBe("1");
  });

  it("signed values verify; tampered ones read as absent", () => {
    const key = Buffer.alloc(32, 7);
    const s = signValue(key, '{"a":1}');
    expect(unsignValue(key, s)).toBe('{"a":1}');
    expect(unsignValue(Buffer.alloc(32, 8), s)).toBeUndefined();
    expect(unsignValue(key, s.replace(/^./, "x"))).toBeUndefined();
    expect(unsignValue(key, "garbage")).toBeUndefined();
    expect(unsignValue(key, undefined)).toBeUndefined();
  });
});
