// Hostile suite (issue 7), part 2: bodies over 1 MiB (declared, undeclared and chunked without
// end) on every route that reads one, and every route of app/routes.ts × every method it does not
// answer: 413 `Request body too large` with `Connection: close` (security.md §8), 405 with the
// route's `Allow` (management.md §2, §4.1; auth.md §7.2), a clear message, no hang, and nothing
// changed. Then what only a real socket can send: methods fetch refuses, huge targets.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "~/server/http.server";
import { expectClearError, expectSound, onSocket, platformState, rawExchange, rawStatus, send } from "../support/hostile";
import { createWikiApi, type TestUser } from "../support/mgmt";
import { cookieHeader, startTestPlatform, type TestPlatform } from "../support/platform";

let tp: TestPlatform;
let owner: TestUser;
let fresh: TestUser;
const SLUG = "bodies-wiki";

beforeAll(async () => {
  tp = await startTestPlatform();
  owner = await tp.createUser("owner.test");
  fresh = await tp.createUser("fresh.test");
  await createWikiApi(tp, owner, SLUG);
});
afterAll(() => tp.close());

type Auth = "cookie" | "bearer" | "none";
const headersFor = (auth: Auth, user: TestUser = owner): Record<string, string> =>
  auth === "cookie" ? { ...cookieHeader(user.jwt), Origin: tp.origin } : auth === "bearer" ? { Authorization: `Bearer ${user.jwt}` } : { Origin: tp.origin };

// ---------------------------------------------------------------------------------------------
// Bodies over the limit
// ---------------------------------------------------------------------------------------------

interface Write {
  route: string;
  method: string;
  path: () => string;
  auth: Auth;
  user?: () => TestUser;
  /** The start of a body that would succeed if the route read it. */
  prefix: () => string;
  type: string;
}

const form = "application/x-www-form-urlencoded";
const WRITES: Write[] = [
  { route: "POST /auth/login", method: "POST", path: () => "/auth/login", auth: "none", prefix: () => "username=", type: form },
  { route: "POST /auth/logout", method: "POST", path: () => "/auth/logout", auth: "cookie", prefix: () => "x=", type: form },
  { route: "POST /auth/token", method: "POST", path: () => "/auth/token", auth: "none", prefix: () => "grant_type=", type: form },
  { route: "POST /auth/oauth/consent", method: "POST", path: () => "/auth/oauth/consent", auth: "cookie", prefix: () => "action=approve&consent_token=", type: form },
  { route: "POST /app/create", method: "POST", path: () => "/app/create", auth: "cookie", user: () => fresh, prefix: () => "slug=fresh-wiki&display_name=F&purpose=", type: form },
  { route: "POST /app/wiki/:slug", method: "POST", path: () => `/app/wiki/${SLUG}`, auth: "cookie", prefix: () => `intent=delete&confirm_slug=${SLUG}&x=`, type: form },
  { route: "POST /app/account", method: "POST", path: () => "/app/account", auth: "cookie", prefix: () => "intent=delete&confirm_handle=owner.test&x=", type: form },
  { route: "POST /api/wikis", method: "POST", path: () => "/api/wikis", auth: "bearer", user: () => fresh, prefix: () => '{"slug":"fresh-api","display_name":"F","purpose":"', type: "application/json" },
  { route: "POST /api/wikis/:slug/token", method: "POST", path: () => `/api/wikis/${SLUG}/token`, auth: "bearer", prefix: () => '{"x":"', type: "application/json" },
  { route: "POST /api/wikis/:slug/git", method: "POST", path: () => `/api/wikis/${SLUG}/git`, auth: "bearer", prefix: () => '{"enabled":true,"x":"', type: "application/json" },
  { route: "DELETE /api/wikis/:slug", method: "DELETE", path: () => `/api/wikis/${SLUG}`, auth: "bearer", prefix: () => '{"x":"', type: "application/json" },
  // Routes that take no body, and unknown paths: the limit comes before 405 and 404.
  { route: "PUT / (no such method)", method: "PUT", path: () => "/", auth: "cookie", prefix: () => "", type: form },
  { route: "POST /healthz (no such method)", method: "POST", path: () => "/healthz", auth: "none", prefix: () => "", type: "application/json" },
  { route: "POST * (unknown page)", method: "POST", path: () => "/no-such-page", auth: "cookie", prefix: () => "", type: form },
  { route: "POST /api/* (unknown)", method: "POST", path: () => "/api/no-such-thing", auth: "bearer", prefix: () => "", type: "application/json" },
];

const isApi = (w: { path: () => string }) => w.path().startsWith("/api/");

/** A body stream that never ends on its own; counts what the server pulled from it. */
function endless(prefix: string): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  let pulled = 0;
  let first = true;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = first ? Buffer.concat([Buffer.from(prefix), chunk]) : chunk;
      first = false;
      pulled += next.byteLength;
      controller.enqueue(next);
    },
  });
  return { stream, pulled: () => pulled };
}

const big = (prefix: string, size: number) => Buffer.concat([Buffer.from(prefix), Buffer.alloc(size - prefix.length, 0x61)]);

describe("bodies over 1 MiB → 413 on every route that reads one", () => {
  const shapes: Array<[string, (w: Write) => { init: RequestInit & { duplex?: "half" }; pulled?: () => number }]> = [
    ["declared (Content-Length: 2 MiB)", (w) => ({ init: { body: big(w.prefix(), 2 * MAX_BODY_BYTES), headers: { "Content-Length": String(2 * MAX_BODY_BYTES) } } })],
    ["declared far beyond any size (Content-Length: 2^53)", (w) => ({ init: { body: w.prefix(), headers: { "Content-Length": String(2 ** 53) } } })],
    ["understated (Content-Length: 10, 2 MiB sent)", (w) => ({ init: { body: big(w.prefix(), 2 * MAX_BODY_BYTES), headers: { "Content-Length": "10" } } })],
    ["one byte over, undeclared", (w) => ({ init: { body: big(w.prefix(), MAX_BODY_BYTES + 1) } })],
    [
      "chunked without end",
      (w) => {
        const e = endless(w.prefix());
        return { init: { body: e.stream, duplex: "half" }, pulled: e.pulled };
      },
    ],
  ];

  for (const w of WRITES) {
    it.each(shapes)(`${w.route}: %s`, async (name, make) => {
      const label = `${w.route} ${name}`;
      const before = await platformState(tp);
      const { init, pulled } = make(w);
      const a = await send(tp, w.path(), {
        method: w.method,
        ...init,
        headers: { ...headersFor(w.auth, w.user?.()), "Content-Type": w.type, ...(init.headers as Record<string, string> | undefined) },
      });
      expectSound(a, label);
      expect(a.status, label).toBe(413);
      expect(a.res.headers.get("connection"), label).toBe("close");
      expectClearError(a, isApi(w) ? "json" : "html", label, "Request body too large");
      // The pipeline stops reading at the limit: it never buffers an endless body.
      if (pulled) expect(pulled(), label).toBeLessThan(MAX_BODY_BYTES + 4 * 64 * 1024);
      expect(await platformState(tp), `${label}: state changed`).toBe(before);
    });
  }

  it("exactly 1 MiB is read (not 413); one byte more is 413", async () => {
    const at = await send(tp, "/auth/token", { method: "POST", headers: { "Content-Type": form }, body: big("grant_type=", MAX_BODY_BYTES) });
    expect(at.status).toBe(400);
    expectClearError(at, "json", "token at the limit", "unsupported_grant_type");
    const apiAt = await send(tp, "/api/wikis", { method: "POST", headers: { ...headersFor("bearer", fresh), "Content-Type": "application/json" }, body: big("{", MAX_BODY_BYTES) });
    expect(apiAt.status).toBe(400);
    expectClearError(apiAt, "json", "api at the limit", "Invalid JSON body");
    const over = await send(tp, "/auth/token", { method: "POST", headers: { "Content-Type": form }, body: big("grant_type=", MAX_BODY_BYTES + 1) });
    expect(over.status).toBe(413);
  });

  it("a form just under the limit with one huge field is refused by its rule, not a 5xx", async () => {
    const before = await platformState(tp);
    const name = "d".repeat(MAX_BODY_BYTES - 100);
    const a = await send(tp, "/app/create", { method: "POST", headers: { ...headersFor("cookie", fresh), "Content-Type": form }, body: `slug=fresh-big&display_name=${name}` });
    expectSound(a, "huge display_name");
    expect(a.status).toBe(400);
    expectClearError(a, "html", "huge display_name", "Display name must be at most 100 characters.");
    expect(await platformState(tp)).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------
// Every route × every method it does not answer
// ---------------------------------------------------------------------------------------------

interface RouteMethods {
  route: string;
  path: () => string;
  /** The methods the spec lists for it (auth.md §1, management.md §2–§4, contracts.md §9). */
  allow: string[];
  auth: Auth;
  /** A body that would change something if a wrong method were handled as a right one. */
  body?: () => string;
}

const ROUTES: RouteMethods[] = [
  { route: "/", path: () => "/", allow: ["GET", "HEAD"], auth: "cookie" },
  { route: "/healthz", path: () => "/healthz", allow: ["GET", "HEAD"], auth: "none" },
  { route: "/readyz", path: () => "/readyz", allow: ["GET", "HEAD"], auth: "none" },
  { route: "/.well-known/jwks.json", path: () => "/.well-known/jwks.json", allow: ["GET", "HEAD"], auth: "none" },
  { route: "/.well-known/oauth-authorization-server", path: () => "/.well-known/oauth-authorization-server", allow: ["GET", "HEAD"], auth: "none" },
  { route: "/auth/login", path: () => "/auth/login", allow: ["GET", "HEAD", "POST"], auth: "cookie", body: () => "username=alice" },
  { route: "/auth/callback", path: () => "/auth/callback?state=s&iss=i&code=c", allow: ["GET", "HEAD"], auth: "cookie" },
  { route: "/auth/logout", path: () => "/auth/logout", allow: ["GET", "HEAD", "POST"], auth: "cookie" },
  { route: "/auth/client-metadata.json", path: () => "/auth/client-metadata.json", allow: ["GET", "HEAD"], auth: "none" },
  { route: "/auth/token", path: () => "/auth/token", allow: ["POST"], auth: "none" },
  { route: "/auth/oauth/consent", path: () => "/auth/oauth/consent", allow: ["GET", "HEAD", "POST"], auth: "cookie", body: () => "consent_token=x&action=approve" },
  { route: "/api/internal/check-slug", path: () => `/api/internal/check-slug?domain=${SLUG}.127.0.0.1`, allow: ["GET", "HEAD"], auth: "none" },
  { route: "/api/me", path: () => "/api/me", allow: ["GET", "HEAD"], auth: "bearer" },
  { route: "/api/wikis", path: () => "/api/wikis", allow: ["GET", "HEAD", "POST"], auth: "bearer", body: () => JSON.stringify({ slug: "wrong-method", display_name: "W" }) },
  { route: "/api/wikis/:slug", path: () => `/api/wikis/${SLUG}`, allow: ["GET", "HEAD", "DELETE"], auth: "bearer", body: () => "{}" },
  { route: "/api/wikis/:slug/token", path: () => `/api/wikis/${SLUG}/token`, allow: ["POST"], auth: "bearer", body: () => "{}" },
  { route: "/api/wikis/:slug/git", path: () => `/api/wikis/${SLUG}/git`, allow: ["POST"], auth: "bearer", body: () => JSON.stringify({ enabled: true }) },
  { route: "/app/ (dashboard)", path: () => "/app/", allow: ["GET", "HEAD"], auth: "cookie" },
  { route: "/app/create", path: () => "/app/create", allow: ["GET", "HEAD", "POST"], auth: "cookie", body: () => "slug=wrong-method&display_name=W" },
  { route: "/app/wiki/:slug", path: () => `/app/wiki/${SLUG}`, allow: ["GET", "HEAD", "POST"], auth: "cookie", body: () => `intent=delete&confirm_slug=${SLUG}` },
  { route: "/app/account", path: () => "/app/account", allow: ["GET", "HEAD", "POST"], auth: "cookie", body: () => "intent=delete&confirm_handle=owner.test" },
  { route: "/app/admin/stats", path: () => "/app/admin/stats", allow: ["GET", "HEAD"], auth: "cookie" },
];

/** Every method a Fetch `Request` can carry (TRACE, CONNECT and TRACK are tried over a socket below). */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "MKCOL", "PURGE", "FOO"];
const WRONG = ROUTES.flatMap((r) => METHODS.filter((m) => !r.allow.includes(m)).map((method) => ({ ...r, method })));

describe("every route × every method it does not answer → 405 with Allow", () => {
  it.each(WRONG)("$method $route", async (r) => {
    const label = `${r.method} ${r.route}`;
    const before = await platformState(tp);
    const api = r.path().startsWith("/api/");
    const hasBody = !["GET", "HEAD"].includes(r.method);
    const a = await send(tp, r.path(), {
      method: r.method,
      headers: { ...headersFor(r.auth), ...(hasBody ? { "Content-Type": api ? "application/json" : form } : {}) },
      body: hasBody ? (r.body?.() ?? "") : undefined,
    });
    expectSound(a, label);
    expect(a.status, label).toBe(405);
    expect(a.res.headers.get("allow"), label).toBe(r.allow.join(", "));
    if (r.method !== "HEAD") expectClearError(a, api ? "json" : "html", label, "Method not allowed");
    expect(await platformState(tp), `${label}: state changed`).toBe(before);
  });

  it.each(ROUTES.filter((r) => r.allow.includes("GET")))("HEAD $route answers as GET does", async (r) => {
    const get = await send(tp, r.path(), { headers: headersFor(r.auth) });
    const head = await send(tp, r.path(), { method: "HEAD", headers: headersFor(r.auth) });
    expectSound(head, `HEAD ${r.route}`);
    expect(head.status).toBe(get.status);
  });

  it.each(METHODS.filter((m) => m !== "HEAD"))("%s on an unknown path is 404, never 405", async (method) => {
    for (const [p, api] of [["/no-such-page", false], ["/api/no-such-thing", true], ["/app/no/such/page", false]] as const) {
      const a = await send(tp, p, { method, headers: api ? headersFor("bearer") : headersFor("cookie"), body: ["GET", "HEAD"].includes(method) ? undefined : "" });
      expectSound(a, `${method} ${p}`);
      expect(a.status, `${method} ${p}`).toBe(404);
      expectClearError(a, api ? "json" : "html", `${method} ${p}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Over a real socket
// ---------------------------------------------------------------------------------------------

describe("over a real socket", () => {
  const socket = onSocket(() => tp);
  const alive = async () => rawStatus(await rawExchange(socket.port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));

  it.each([
    ["TRACE", "TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    ["TRACK", "TRACK / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    ["CONNECT", "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n"],
    ["a lowercase method", "get / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    ["a 100 KiB target", `GET /?q=${"a".repeat(100 * 1024)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ["a NUL in the target", "GET /\u0000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    ["a raw space in the target", "GET /a b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    ["a bare LF request line", "GET / HTTP/1.1\nHost: x\nConnection: close\n\n"],
    ["HTTP/0.9", "GET /\r\n\r\n"],
    ["an unknown HTTP version", "GET / HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n"],
    ["a header with a NUL", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\nConnection: close\r\n\r\n"],
    ["both Content-Length and Transfer-Encoding", "POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"],
    ["two different Content-Lengths", "POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd"],
    ["a negative Content-Length", "POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n"],
    ["a broken chunk size", "POST /auth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"],
  ])("%s: no 5xx, no crash, the server keeps serving", async (name, head) => {
    const res = await rawExchange(socket.port, head);
    const status = rawStatus(res);
    // 0: Node's HTTP parser closed the connection without an answer; that is fine too.
    expect(status, `${name}: ${res.slice(0, 80)}`).toBeLessThan(500);
    expect(await alive()).toBe(200);
  });

  it("a body that stalls after its headers holds one connection only, and not forever", async () => {
    const stalled = rawExchange(socket.port, "POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", undefined, 500);
    expect(await alive()).toBe(200);
    await stalled;
    // Node cuts a request whose body never completes after requestTimeout: bounded, not disabled.
    const { requestTimeout } = socket.server;
    expect(requestTimeout).toBeGreaterThan(0);
    expect(requestTimeout).toBeLessThanOrEqual(300_000);
  });
});
