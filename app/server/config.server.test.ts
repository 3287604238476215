import os from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, MAX_WORKERS } from "./config.server";

const secret = "s".repeat(40);
const prod = (extra: Record<string, string> = {}) => ({ NODE_ENV: "production", SESSION_SECRET: secret, ...extra });

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("loadConfig", () => {
  it("gives development defaults under DATA_DIR", () => {
    const c = loadConfig({ DATA_DIR: "/tmp/x" });
    expect(c.production).toBe(false);
    expect(c.devMode).toBe(true);
    expect(c.domain).toBe("127.0.0.1:8002");
    expect(c.origin).toBe("http://127.0.0.1:8002");
    expect(c.robotDbPath).toBe("/tmp/x/robot.db");
    expect(c.wikiBase).toBe("/tmp/x/wikis");
    expect(c.signingKeyPath).toBe("/tmp/x/signing_key.pem");
    expect(c.clientJwkPath).toBe("/tmp/x/client_jwk.json");
    expect(c.jwtIssuer).toBe("robot.wtf");
    expect(c.jwtAudience).toBe("robot.wtf");
    expect(c.maxWikisPerUser).toBe(1);
    expect(c.rateLimits.login).toEqual({ points: 10, seconds: 60 });
  });

  it("the development domain follows PORT", () => {
    expect(loadConfig({ PORT: "5000" }).origin).toBe("http://127.0.0.1:5000");
  });

  it("gives production defaults", () => {
    const c = loadConfig(prod());
    expect(c.origin).toBe("https://robot.wtf");
    expect(c.robotDbPath).toBe("/srv/data/robot.db");
    expect(c.wikiBase).toBe("/srv/data/wikis");
    expect(c.signingKeyPath).toBe("/srv/data/signing_key.pem");
    expect(c.clientJwkPath).toBe("/srv/data/client_jwk.json");
    expect(c.host).toBe("0.0.0.0");
    expect(c.port).toBe(8002);
    expect(c.rateLimitsEnabled).toBe(true);
  });

  it("parses lists, numbers and switches", () => {
    const c = loadConfig({
      PLATFORM_ADMIN_DIDS: " did:plc:a , ,did:plc:b,",
      MAX_WIKIS_PER_USER: "3",
      TRUST_PROXY: "true",
      RATE_LIMIT_LOGIN: "3/60",
      RATE_LIMITS_ENABLED: "false",
      ADMIN_SERVICES: "a, b",
    });
    expect([...c.adminDids]).toEqual(["did:plc:a", "did:plc:b"]);
    expect(c.maxWikisPerUser).toBe(3);
    expect(c.trustProxy).toBe(true);
    expect(c.rateLimits.login).toEqual({ points: 3, seconds: 60 });
    expect(c.rateLimitsEnabled).toBe(false);
    expect(c.adminServices).toEqual(["a", "b"]);
  });

  it("WORKERS: 1 by default (one process), a number, or auto (one per core, at most MAX_WORKERS)", () => {
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ WORKERS: "" }).workers).toBe(1);
    expect(loadConfig({ WORKERS: "1" }).workers).toBe(1);
    expect(loadConfig({ WORKERS: " 3 " }).workers).toBe(3);
    expect(loadConfig({ WORKERS: "Auto" }).workers).toBe(Math.min(MAX_WORKERS, os.availableParallelism()));
    const message = `must be auto or a whole number from 1 to ${MAX_WORKERS}`;
    for (const bad of ["0", String(MAX_WORKERS + 1), "two", "-1", "1.5", "2x"]) {
      const found = problems({ WORKERS: bad });
      expect(found, bad).toHaveLength(1);
      expect(found[0], bad).toMatch(new RegExp(`^WORKERS.*${message}`));
    }
  });

  it("treats empty numbers as unset, never as 0", () => {
    const c = loadConfig({ PORT: "", MAX_WIKIS_PER_USER: " " });
    expect(c.port).toBe(8002);
    expect(c.maxWikisPerUser).toBe(1);
    expect(c.domain).toBe("127.0.0.1:8002");
  });

  it("accepts valid domains and a cookie domain in any case", () => {
    const https = { PLATFORM_SCHEME: "https" };
    expect(loadConfig({ ...https, PLATFORM_DOMAIN: "wtf.e2e.internal:8443" }).domainHost).toBe("wtf.e2e.internal");
    expect(loadConfig({ ...https, PLATFORM_DOMAIN: "[::1]:5000" }).domainPort).toBe("5000");
    expect(loadConfig({ ...https, PLATFORM_DOMAIN: "robot.test", COOKIE_DOMAIN: ".Example.TEST" }).cookieDomain).toBe(".example.test");
  });

  it("splits PLATFORM_DOMAIN into host and port", () => {
    const c = loadConfig({ PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "WTF.e2e.internal:8443" });
    expect(c.domain).toBe("wtf.e2e.internal:8443");
    expect(c.domainHost).toBe("wtf.e2e.internal");
    expect(c.domainPort).toBe("8443");
    expect(c.origin).toBe("https://wtf.e2e.internal:8443");
  });

  it("ignores RATE_LIMITS_ENABLED=false in production", () => {
    expect(loadConfig(prod({ RATE_LIMITS_ENABLED: "false" })).rateLimitsEnabled).toBe(true);
  });

  it.each([
    [{ PORT: "abc" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ PLATFORM_SCHEME: "ftp" }, "PLATFORM_SCHEME"],
    [{ RATE_LIMIT_LOGIN: "ten" }, "RATE_LIMIT_LOGIN"],
    [{ RATE_LIMIT_LOGIN: "0/60" }, "RATE_LIMIT_LOGIN"],
    [{ TRUST_PROXY: "maybe" }, "TRUST_PROXY"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ MAX_WIKIS_PER_USER: "-1" }, "MAX_WIKIS_PER_USER"],
    [{ PLATFORM_DOMAIN: "bad domain" }, "PLATFORM_DOMAIN"],
    [{ SESSION_SECRET: "short" }, "SESSION_SECRET"],
    [{ SESSION_SECRET: "dev-secret" + "x".repeat(40) }, "SESSION_SECRET"],
    [{ CONSENT_SECRET: "too-short" }, "CONSENT_SECRET"],
    [{ CONSENT_SECRET: "x".repeat(31) + "\u00e9" }, "CONSENT_SECRET"],
    [{ PLC_DIRECTORY_URL: "not a url" }, "PLC_DIRECTORY_URL"],
    [{ PLATFORM_SCHEME: "https", PLC_DIRECTORY_URL: "http://127.0.0.1:2582" }, "PLC_DIRECTORY_URL"],
    [{ PLATFORM_SCHEME: "https", ATPROTO_HANDLE_RESOLVER: "http://127.0.0.1:2583" }, "ATPROTO_HANDLE_RESOLVER"],
    [{ PLC_DIRECTORY_URL: "http://plc.example.com" }, "PLC_DIRECTORY_URL"],
    [{ PLATFORM_DOMAIN: "robot.wtf." }, "PLATFORM_DOMAIN"],
    [{ PLATFORM_DOMAIN: "..." }, "PLATFORM_DOMAIN"],
    [{ PLATFORM_DOMAIN: "-robot.wtf" }, "PLATFORM_DOMAIN"],
    [{ PLATFORM_DOMAIN: "robot..wtf:8443" }, "PLATFORM_DOMAIN"],
    [{ COOKIE_DOMAIN: "x; SameSite=None" }, "COOKIE_DOMAIN"],
    [{ COOKIE_DOMAIN: ".robot.wtf." }, "COOKIE_DOMAIN"],
  ])("rejects %o naming %s", (env, variable) => {
    const found = problems(env as Record<string, string>);
    expect(found.join("\n")).toContain(variable);
  });

  it("allows http loopback PLC and resolver in dev mode and with ATPROTO_ALLOW_HTTP_LOOPBACK", () => {
    expect(loadConfig({ PLC_DIRECTORY_URL: "http://127.0.0.1:2582", ATPROTO_HANDLE_RESOLVER: "http://localhost:2583" }).allowHttpLoopback).toBe(true);
    const c = loadConfig({
      PLATFORM_SCHEME: "https",
      PLATFORM_DOMAIN: "robot.test",
      ATPROTO_ALLOW_HTTP_LOOPBACK: "true",
      PLC_DIRECTORY_URL: "http://127.0.0.1:2582",
    });
    expect(c.allowHttpLoopback).toBe(true);
    expect(c.devMode).toBe(false);
  });

  it.each(["localhost:5173", "localhost", "robot.test:5173"])("dev mode with PLATFORM_DOMAIN=%s: a clear message naming it and suggesting 127.0.0.1", (domain) => {
    const found = problems({ PLATFORM_DOMAIN: domain, PORT: "5173" });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(`PLATFORM_DOMAIN=${domain}`);
    expect(found[0]).toContain("PLATFORM_DOMAIN=127.0.0.1:5173");
  });

  it("dev mode accepts the loopback IPs, https accepts any host", () => {
    expect(problems({ PLATFORM_DOMAIN: "127.0.0.1:5000" })).toEqual([]);
    expect(problems({ PLATFORM_DOMAIN: "[::1]:5000" })).toEqual([]);
    expect(problems({ PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "localhost:8443" })).toEqual([]);
  });

  describe("production refusals (D17)", () => {
    it.each([
      [{ PLATFORM_SCHEME: "http" }, "PLATFORM_SCHEME"],
      [{ ATPROTO_ALLOW_HTTP_LOOPBACK: "true" }, "ATPROTO_ALLOW_HTTP_LOOPBACK"],
      [{ SESSION_SECRET: "" }, "SESSION_SECRET"],
      [{ SESSION_SECRET: "dev-secret-0123456789012345678901234567" }, "SESSION_SECRET"],
      [{ CONSENT_SECRET: "abc" }, "CONSENT_SECRET"],
      [{ PLC_DIRECTORY_URL: "http://127.0.0.1:2582" }, "PLC_DIRECTORY_URL"],
      // What the outbound rules (security.md §6) would refuse on every login is refused at start-up.
      [{ PLC_DIRECTORY_URL: "https://10.0.0.1" }, "PLC_DIRECTORY_URL"],
      [{ PLC_DIRECTORY_URL: "https://[2001:db8::1]" }, "PLC_DIRECTORY_URL"],
      [{ ATPROTO_HANDLE_RESOLVER: "https://resolver.example:8443" }, "ATPROTO_HANDLE_RESOLVER"],
      [{ ATPROTO_HANDLE_RESOLVER: "https://user:pw@resolver.example" }, "ATPROTO_HANDLE_RESOLVER"],
      [{ BSKY_APPVIEW_URL: "https://appview.internal" }, "BSKY_APPVIEW_URL"],
      [{ BSKY_APPVIEW_URL: "https://localhost" }, "BSKY_APPVIEW_URL"],
    ])("refuses %o", (extra, variable) => {
      expect(problems(prod(extra as Record<string, string>)).join("\n")).toContain(variable);
    });

    it("requires SESSION_SECRET", () => {
      expect(problems({ NODE_ENV: "production" }).join("\n")).toContain("SESSION_SECRET");
    });

    it("accepts a complete production configuration", () => {
      expect(problems(prod({ CONSENT_SECRET: "c".repeat(32) }))).toEqual([]);
      const services = { PLC_DIRECTORY_URL: "https://plc.example.com", ATPROTO_HANDLE_RESOLVER: "https://resolver.example.com", BSKY_APPVIEW_URL: "https://api.example.com:443" };
      expect(problems(prod(services))).toEqual([]);
    });

    it("names the outbound rule's reason for a refused service URL", () => {
      expect(problems(prod({ PLC_DIRECTORY_URL: "https://10.0.0.1" }))).toEqual([
        "PLC_DIRECTORY_URL must be an https URL to a public DNS name (the outbound request rules refuse it: IP address hosts are not allowed): https://10.0.0.1",
      ]);
    });
  });
});
