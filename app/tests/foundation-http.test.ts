// Integration: the built request pipeline, as `node build/server/index.js` serves it.
import fs from "node:fs";
import { createRemoteJWKSet, importSPKI, jwtVerify, createLocalJWKSet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookieHeader, startTestPlatform, type TestPlatform } from "./support/platform";

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(() => tp.close());

function expectSecurityHeaders(res: Response, html: boolean) {
  const csp = res.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain("form-action");
  if (html) {
    expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("base-uri 'none'");
  } else {
    expect(csp).toBe("default-src 'none'; frame-ancestors 'none'");
  }
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("referrer-policy")).toBeTruthy();
  expect(res.headers.get("cross-origin-opener-policy")).toBe("same-origin");
  expect(res.headers.get("x-request-id")).toBeTruthy();
}

describe("landing, 404 and static files", () => {
  it("GET / is 200 HTML containing robot.wtf, with security headers and no HSTS over http", async () => {
    const res = await tp.request("/");
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain("robot.wtf");
    expect(body).toContain("Memory for agents in a wiki for humans");
    expect(body).toContain('href="/auth/login"');
    expectSecurityHeaders(res, true);
    expect(res.headers.get("strict-transport-security")).toBeNull();
    expect(res.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
    // The CSP nonce is the one on the page's scripts.
    const nonce = /'nonce-([^']+)'/.exec(res.headers.get("content-security-policy")!)![1];
    expect(body).toContain(`nonce="${nonce}"`);
  });

  it("a signed-in visitor sees the Dashboard link", async () => {
    const u = await tp.createUser("landing.test");
    const body = await (await tp.request("/", { headers: cookieHeader(u.jwt) })).text();
    expect(body).toContain('href="/app/"');
    expect(body).toContain("Dashboard");
  });

  it("unknown pages get a styled 404; unknown /api paths get JSON", async () => {
    const page = await tp.request("/nope");
    expect(page.status).toBe(404);
    const html = await page.text();
    expect(html).toContain("Page not found");
    expect(html).toContain("/static/style.css");
    expectSecurityHeaders(page, true);
    const api = await tp.request("/api/nope");
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: "Not found" });
    expect(api.headers.get("cache-control")).toBe("no-store");
  });

  it("serves static files and the favicon; escaping paths are 404", async () => {
    const css = await tp.request("/static/style.css");
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toContain("text/css");
    expectSecurityHeaders(css, false);
    expect((await tp.request("/static/robot.wtf.svg")).headers.get("content-type")).toBe("image/svg+xml");
    expect((await tp.request("/favicon.ico")).status).toBe(200);
    expect((await tp.request("/static/..%2f..%2fpackage.json")).status).toBe(404);
    expect((await tp.request("/static/missing.css")).status).toBe(404);
  });

  it("invalid percent-encoding and odd methods never give 500", async () => {
    for (const p of ["/%ff", "/?q=%", "/static/%", "/api/internal/check-slug?domain=%ff", "/auth/client-metadata.json?x=%E0%A4%A"]) {
      const res = await tp.request(p);
      expect(res.status, p).toBeLessThan(500);
    }
    // A malformed escape in the path is a 400 page (JSON under /api), decided before React Router.
    const bad = await tp.request("/app/%E0%A4%A");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("Malformed URL path");
    expect(await (await tp.request("/api/wikis/%ff")).json()).toEqual({ error: "Malformed URL path" });
    expect((await tp.request("/", { method: "DELETE", headers: { Origin: tp.origin } })).status).toBeLessThan(500);
    expect((await tp.request("/nope", { method: "POST", headers: { Origin: tp.origin } })).status).toBe(404);
  });

  it("bodies over 1 MiB get 413", async () => {
    const big = "x".repeat(1024 * 1024 + 10);
    const res = await tp.request("/auth/token", { method: "POST", body: big });
    expect(res.status).toBe(413);
    const api = await tp.request("/api/wikis", { method: "POST", body: big, headers: { Authorization: "Bearer x.y.z" } });
    expect(api.status).toBe(413);
    expect(await api.json()).toEqual({ error: "Request body too large" });
  });
});

describe("well-known documents", () => {
  it("JWKS: one RSA key, no private members, kid of the JWT header (W2, J1)", async () => {
    const res = await tp.request("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expectSecurityHeaders(res, false);
    const jwks = await res.json();
    expect(jwks.keys).toHaveLength(1);
    const [k] = jwks.keys;
    expect(k).toMatchObject({ kty: "RSA", use: "sig", alg: "RS256", e: "AQAB" });
    for (const priv of ["d", "p", "q", "dp", "dq", "qi"]) expect(k).not.toHaveProperty(priv);
    expect(k.n).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(k.n, "base64url")[0]).not.toBe(0);
    const jwt = await tp.mintJwt({ did: "did:plc:jwks", handle: "jwks.test" });
    const header = JSON.parse(Buffer.from(jwt.split(".")[0], "base64url").toString());
    expect(header.kid).toBe(k.kid);
  });

  it("a server-minted JWT verifies with jose against the JWKS and against the PEM's public key", async () => {
    const jwks = createLocalJWKSet(await (await tp.request("/.well-known/jwks.json")).json());
    const jwt = await tp.mintJwt({ did: "did:plc:jwks", handle: "jwks.test", name: "J" });
    const { payload } = await jwtVerify(jwt, jwks, { issuer: "robot.wtf", audience: "robot.wtf", algorithms: ["RS256"] });
    expect(payload.sub).toBe("did:plc:jwks");
    const pem = fs.readFileSync(tp.platform.config.signingKeyPath, "utf8");
    const { createPublicKey } = await import("node:crypto");
    const spki = createPublicKey(pem).export({ type: "spki", format: "pem" }).toString();
    const { payload: p2 } = await jwtVerify(jwt, await importSPKI(spki, "RS256"), { issuer: "robot.wtf", audience: "robot.wtf" });
    expect(p2.exp! - p2.iat!).toBe(86400);
    expect(createRemoteJWKSet).toBeTypeOf("function");
  });

  it("AS metadata stub (W3)", async () => {
    const res = await tp.request("/.well-known/oauth-authorization-server");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      issuer: tp.origin,
      authorization_endpoint: `${tp.origin}/auth/login`,
      token_endpoint: `${tp.origin}/auth/token`,
      jwks_uri: `${tp.origin}/.well-known/jwks.json`,
      response_types_supported: ["code"],
      grant_types_supported: ["authorization_code", "refresh_token"],
      code_challenge_methods_supported: ["S256"],
    });
  });

  it("POST /auth/token is 400 unsupported_grant_type; GET is 405 (W4)", async () => {
    const post = await tp.request("/auth/token", { method: "POST", body: "grant_type=authorization_code" });
    expect(post.status).toBe(400);
    expect((await post.json()).error).toBe("unsupported_grant_type");
    expect(post.headers.get("cache-control")).toBe("no-store");
    expect(post.headers.get("referrer-policy")).toBe("no-referrer");
    const get = await tp.request("/auth/token");
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("client metadata document (W1): confidential client shape, public key only", async () => {
    const res = await tp.request("/auth/client-metadata.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    const doc = await res.json();
    expect(doc).toMatchObject({
      client_id: `${tp.origin}/auth/client-metadata.json`,
      client_name: "robot.wtf",
      client_uri: tp.origin,
      application_type: "web",
      dpop_bound_access_tokens: true,
      redirect_uris: [`${tp.origin}/auth/callback`],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      scope: "atproto",
      token_endpoint_auth_method: "private_key_jwt",
      token_endpoint_auth_signing_alg: "ES256",
    });
    for (const absent of ["jwks_uri", "logo_uri", "tos_uri", "policy_uri"]) expect(doc).not.toHaveProperty(absent);
    expect(doc.jwks.keys).toHaveLength(1);
    expect(doc.jwks.keys[0]).toEqual({ kty: "EC", crv: "P-256", x: expect.any(String), y: expect.any(String), kid: tp.platform.keys.clientJwk.kid, use: "sig", alg: "ES256" });
    // Dev mode logs in with the loopback client; the header says which client_id is in use.
    expect(res.headers.get("x-robot-client-id-in-use")).toBe(
      `http://localhost?redirect_uri=${encodeURIComponent(`${tp.origin}/auth/callback`)}&scope=atproto`,
    );
  });
});

describe("health (D16)", () => {
  it("healthz is 200 ok; readyz is 200 with every check", async () => {
    const h = await tp.request("/healthz");
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: "ok" });
    const r = await tp.request("/readyz");
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: "ready", checks: { database: "ok", keys: "ok", wiki_base: "ok" } });
  });

  it("health requests are logged at debug level only", async () => {
    const before = tp.logs.length;
    await tp.request("/healthz");
    const lines = tp.logs.slice(before).map((l) => JSON.parse(l));
    expect(lines.every((l) => l.level === "debug")).toBe(true);
  });

  it("readyz is 503 with wiki_base error when WIKI_BASE disappears, and healthz stays 200 (H1, H2)", async () => {
    const other = await startTestPlatform();
    fs.rmSync(other.platform.config.wikiBase, { recursive: true });
    const r = await other.request("/readyz");
    expect(r.status).toBe(503);
    expect((await r.json()).checks).toEqual({ database: "ok", keys: "ok", wiki_base: "error" });
    // The database becomes unreachable: a client whose file cannot be opened.
    const { createPrismaClient } = await import("~/server/db.server");
    await other.platform.db.$disconnect();
    other.platform.db = createPrismaClient("/nonexistent-dir/robot.db");
    const r2 = await other.request("/readyz");
    expect(r2.status).toBe(503);
    expect((await r2.json()).checks.database).toBe("error");
    expect((await other.request("/healthz")).status).toBe(200);
    expect(other.logs.join("")).toContain("readiness: database check failed");
    await other.close();
  });
});

describe("check-slug (contracts.md §9, A13)", () => {
  beforeAll(async () => {
    const u = await tp.createUser("owner.test", "did:plc:owner");
    const now = "2025-03-01T12:34:56.789000+00:00";
    for (const slug of ["alice", "dev"]) {
      await tp.platform.db.wiki.create({
        data: { slug, owner_did: u.did, display_name: slug, repo_path: `/x/${slug}/repo`, mcp_token_hash: slug.padEnd(64, "0"), created_at: now, last_accessed: now },
      });
    }
  });
  const check = (domain?: string, method = "GET") =>
    tp.request("/api/internal/check-slug" + (domain === undefined ? "" : "?domain=" + encodeURIComponent(domain)), { method });

  it.each([
    ["alice.127.0.0.1", 200],
    ["ALICE.127.0.0.1", 200],
    ["alice.127.0.0.1.", 200],
    ["dev.127.0.0.1", 200],
    ["bob.127.0.0.1", 404],
    ["127.0.0.1", 404],
    ["a.alice.127.0.0.1", 404],
    ["alice.evil.example", 404],
    ["", 404],
  ])("%s → %i with an empty body", async (domain, status) => {
    const res = await check(domain);
    expect(res.status).toBe(status);
    expect(await res.text()).toBe("");
  });

  it("a missing domain is 404; HEAD works; POST is 405", async () => {
    expect((await check()).status).toBe(404);
    expect((await check("alice.127.0.0.1", "HEAD")).status).toBe(200);
    expect((await check("alice.127.0.0.1", "POST")).status).toBe(405);
  });

  it("never rate-limited: 100 quick calls with limits on", async () => {
    const limited = await startTestPlatform({ RATE_LIMITS_ENABLED: "true", RATE_LIMIT_DEFAULT: "5/60" });
    for (let i = 0; i < 100; i++) expect((await limited.request("/api/internal/check-slug?domain=x.127.0.0.1")).status).toBe(404);
    for (let i = 0; i < 20; i++) {
      expect((await limited.request("/")).status).toBe(200);
      expect((await limited.request("/healthz")).status).toBe(200);
      expect((await limited.request("/static/style.css")).status).toBe(200);
    }
    await limited.close();
  });
});
