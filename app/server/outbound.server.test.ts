// Outbound request rules (security.md §6, acceptance SEC6). No network: local servers on
// loopback, and an injected DNS lookup where a test needs a "public" name.
import { execFileSync } from "node:child_process";
import type { LookupAddress } from "node:dns";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "./log.server";
import {
  PLATFORM_USER_AGENT,
  checkOutboundUrl,
  createOutboundFetch,
  findOutboundRefusal,
  isPublicAddress,
  OutboundRefused,
  type LookupFn,
} from "./outbound.server";

// ---------------------------------------------------------------------------------------------
// Helpers

type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };
type TestServer = { port: number; origin: string; seen: Seen[]; connections: number; close(): Promise<void> };

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  vi.restoreAllMocks();
});

/** An http server on `host` that records every request (with body) before `handle` answers. */
async function startServer(
  handle: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
  opts: { host?: string; port?: number } = {},
): Promise<TestServer> {
  const host = opts.host ?? "127.0.0.1";
  const state: TestServer = { port: 0, origin: "", seen: [], connections: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      state.seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      handle(req, res, body);
    });
  });
  server.on("connection", () => state.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  state.port = (server.address() as AddressInfo).port;
  state.origin = `http://${host}:${state.port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  servers.push(state);
  return state;
}

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger("debug", { write: (chunk: string) => void lines.push(JSON.parse(chunk)) });
  return { log, lines };
}

/** A lookup answering from a table, counting calls per host. */
function stubLookup(table: Record<string, string[] | ((call: number) => string[])>) {
  const calls: string[] = [];
  const lookup: LookupFn = async (hostname) => {
    calls.push(hostname);
    const entry = table[hostname];
    if (!entry) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    const list = typeof entry === "function" ? entry(calls.filter((h) => h === hostname).length) : entry;
    return list.map((address): LookupAddress => ({ address, family: net.isIPv4(address) ? 4 : 6 }));
  };
  return { lookup, calls };
}

function outbound(opts: { allowHttpLoopback: boolean; lookup?: LookupFn; totalTimeoutMs?: number; maxResponseBytes?: number }) {
  const { log, lines } = capturingLogger();
  const fetch = createOutboundFetch({ userAgent: PLATFORM_USER_AGENT, log, ...opts });
  return { fetch, lines };
}

async function refusal(promise: Promise<unknown>): Promise<OutboundRefused> {
  const err = await promise.then(
    () => {
      throw new Error("expected the request to be refused");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundRefused);
  return err as OutboundRefused;
}

/** Spies on the socket constructors undici uses, to prove no connection was attempted. */
function spyOnConnects() {
  const netConnect = vi.spyOn(net, "connect");
  const tlsConnect = vi.spyOn(tls, "connect");
  return () => netConnect.mock.calls.length + tlsConnect.mock.calls.length;
}

// ---------------------------------------------------------------------------------------------

describe("checkOutboundUrl", () => {
  const strict = { allowHttpLoopback: false };
  const loopback = { allowHttpLoopback: true };

  it.each([
    "https://pds.example.com",
    "https://bsky.social/xrpc/app.bsky.actor.getProfile?actor=did:plc:abc",
    "https://BSKY.Social/", // the parser lower-cases
    "https://x.example:443/", // the default port is no explicit port once parsed
    "https://xn--bcher-kva.example/", // IDN in punycode
    "https://bücher.example/", // …and as typed
    "https://a-b.c-d.example/",
  ])("accepts %s", (url) => {
    expect(checkOutboundUrl(url, strict)).toMatchObject({ ok: true });
  });

  it.each([
    ["https://10.0.0.1", /IP address/],
    ["https://1.2.3.4", /IP address/],
    ["https://0x7f.1/", /IP address/], // the parser turns it into 127.0.0.1
    ["https://2130706433/", /IP address/],
    ["https://[::1]", /IP address/],
    ["https://[2606:4700::1111]/", /IP address/],
    ["https://localhost", /two labels/],
    ["https://pds", /two labels/],
    ["https://x.example:8443", /explicit port/],
    ["https://user@x.example", /userinfo/],
    ["https://user:pw@x.example", /userinfo/],
    ["http://x.example", /https only/],
    ["ftp://x.example/", /https only/],
    ["https://foo.internal", /\.internal/],
    ["https://foo.local", /\.local/],
    ["https://foo.localhost", /\.localhost/],
    ["https://1.0.0.10.in-addr.arpa", /\.arpa/],
    ["https://x.example./", /valid DNS name/], // trailing dot: an empty label
    ["https://under_score.example/", /valid DNS name/],
    ["https://-lead.example/", /valid DNS name/],
    [`https://${"a".repeat(64)}.example/`, /valid DNS name/],
    ["http://localhost:2583", /https only/],
    ["http://127.0.0.1:2583", /https only/],
    ["not a url", /not a valid URL/],
  ])("refuses %s", (url, reason) => {
    const result = checkOutboundUrl(url, strict);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it.each(["http://localhost:2583/xrpc", "http://127.0.0.1:1234/x", "http://[::1]:80/", "https://localhost:8443/", "http://localhost/"])(
    "accepts %s when http loopback is allowed",
    (url) => {
      expect(checkOutboundUrl(url, loopback)).toMatchObject({ ok: true });
    },
  );

  it.each([
    ["http://user@localhost:1/", /userinfo/],
    ["http://x.example/", /https only/],
    ["http://127.0.0.2:1/", /https only/], // only the three loopback names
    ["http://localhost.example/", /https only/],
    ["ftp://localhost/", /https only/],
    ["https://x.example:8443/", /explicit port/],
  ])("still refuses %s when http loopback is allowed", (url, reason) => {
    const result = checkOutboundUrl(url, loopback);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});

describe("isPublicAddress", () => {
  // Every blocked IPv4 range: its first and last address, and the neighbours outside it.
  const v4: Array<[string, boolean]> = [
    ["0.0.0.0", false], ["0.255.255.255", false], ["1.0.0.0", true],
    ["9.255.255.255", true], ["10.0.0.0", false], ["10.255.255.255", false], ["11.0.0.0", true],
    ["100.63.255.255", true], ["100.64.0.0", false], ["100.127.255.255", false], ["100.128.0.0", true],
    ["126.255.255.255", true], ["127.0.0.0", false], ["127.0.0.1", false], ["127.255.255.255", false], ["128.0.0.0", true],
    ["169.253.255.255", true], ["169.254.0.0", false], ["169.254.169.254", false], ["169.254.255.255", false], ["169.255.0.0", true],
    ["172.15.255.255", true], ["172.16.0.0", false], ["172.31.255.255", false], ["172.32.0.0", true],
    ["191.255.255.255", true], ["192.0.0.0", false], ["192.0.0.255", false], ["192.0.1.0", true],
    ["192.0.1.255", true], ["192.0.2.0", false], ["192.0.2.255", false], ["192.0.3.0", true],
    ["192.167.255.255", true], ["192.168.0.0", false], ["192.168.255.255", false], ["192.169.0.0", true],
    ["198.17.255.255", true], ["198.18.0.0", false], ["198.19.255.255", false], ["198.20.0.0", true],
    ["198.51.99.255", true], ["198.51.100.0", false], ["198.51.100.255", false], ["198.51.101.0", true],
    ["203.0.112.255", true], ["203.0.113.0", false], ["203.0.113.255", false], ["203.0.114.0", true],
    ["223.255.255.255", true], ["224.0.0.0", false], ["239.255.255.255", false],
    ["240.0.0.0", false], ["255.255.255.255", false],
    ["8.8.8.8", true], ["1.1.1.1", true], ["93.184.216.34", true],
  ];
  const v6: Array<[string, boolean]> = [
    ["::", false], ["::1", false], ["0:0:0:0:0:0:0:1", false],
    ["fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true], ["fc00::", false], ["fd12:3456::1", false], ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false], ["fe00::", true],
    ["fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true], ["fe80::", false], ["fe80::1%eth0", false], ["febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false], ["fec0::", true],
    ["feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true], ["ff00::", false], ["ff02::1", false], ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", true], ["2001:db8::", false], ["2001:DB8::1", false], ["2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false], ["2001:db9::", true],
    ["2606:4700:4700::1111", true], ["2a00:1450:4001:81c::200e", true],
    // Hex spellings of the embedded forms, and neighbours of the /96 prefixes.
    ["::ffff:7f00:1", false], ["::ffff:a00:1", false], ["::ffff:808:808", true],
    ["64:ff9b::a9fe:a9fe", false], ["64:ff9b::808:808", true],
    ["64:ff9b::1:0:0", true], // 64:ff9b:0:0:0:1:0:0 is outside 64:ff9b::/96
    ["::fffe:7f00:1", true], // not ::ffff:0:0/96
  ];

  it.each(v4)("IPv4 %s → public %s", (ip, expected) => {
    expect(isPublicAddress(ip)).toBe(expected);
  });

  it.each(v6)("IPv6 %s → public %s", (ip, expected) => {
    expect(isPublicAddress(ip)).toBe(expected);
  });

  it.each(v4)("IPv4-mapped and NAT64 forms of %s → public %s", (ip, expected) => {
    expect(isPublicAddress(`::ffff:${ip}`)).toBe(expected);
    expect(isPublicAddress(`::FFFF:${ip}`)).toBe(expected);
    expect(isPublicAddress(`64:ff9b::${ip}`)).toBe(expected);
  });

  it.each(["", "localhost", "not-an-ip", "[::1]", "1.2.3", "256.1.1.1", "::ffff:999.0.0.1"])("%j is not a public address", (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });
});

describe("findOutboundRefusal", () => {
  it("finds the refusal under the OAuth library's wrappers, and nothing in unrelated errors", () => {
    const refused = new OutboundRefused("redirect", "redirect (302) not followed", "https://pds.example.com/x");
    const wrapped = new Error("Failed to resolve OAuth server metadata", { cause: new Error("fetch wrapper", { cause: refused }) });
    expect(findOutboundRefusal(wrapped)).toBe(refused);
    expect(findOutboundRefusal(new Error("other", { cause: new Error("deeper") }))).toBeUndefined();
    expect(findOutboundRefusal("a string")).toBeUndefined();
    expect(refused.message).toBe("Outbound request to https://pds.example.com/x refused: redirect (302) not followed");
  });
});

describe("createOutboundFetch: before connecting", () => {
  it("SEC6: a public-looking name that resolves to 127.0.0.1 is refused before any connection", async () => {
    const server = await startServer((_req, res) => res.end("should never be reached"));
    const dns = stubLookup({ "pds.example.com": ["127.0.0.1"] });
    const { fetch, lines } = outbound({ allowHttpLoopback: false, lookup: dns.lookup });
    const connects = spyOnConnects();

    const err = await refusal(fetch("https://pds.example.com/.well-known/oauth-protected-resource?x=secret"));
    expect(err.kind).toBe("address");
    expect(err.reason).toBe("pds.example.com resolves to 127.0.0.1, which is not public unicast");
    expect(dns.calls).toEqual(["pds.example.com"]);
    expect(connects()).toBe(0);
    expect(server.connections).toBe(0);
    // Logged at warn, with the URL minus its query.
    const line = lines.find((l) => l.msg === "outbound request refused");
    expect(line).toMatchObject({ level: "warn", kind: "address", url: "https://pds.example.com/.well-known/oauth-protected-resource" });
    expect(JSON.stringify(lines)).not.toContain("secret");

    // Control: the spy does see connections — the same fetch reaches a loopback URL when allowed.
    const allowed = outbound({ allowHttpLoopback: true, lookup: dns.lookup });
    expect((await allowed.fetch(`${server.origin}/ok`)).status).toBe(200);
    expect(connects()).toBeGreaterThan(0);
    expect(server.connections).toBe(1);
  });

  it("refuses a public name resolving to loopback even when http loopback is allowed", async () => {
    const dns = stubLookup({ "pds.example.com": ["::1"] });
    const { fetch } = outbound({ allowHttpLoopback: true, lookup: dns.lookup });
    const connects = spyOnConnects();
    const err = await refusal(fetch("https://pds.example.com/"));
    expect(err.reason).toMatch(/resolves to ::1, which is not public unicast/);
    expect(connects()).toBe(0);
  });

  it("refuses a mixed DNS answer (one public, one private address) without connecting", async () => {
    const dns = stubLookup({ "pds.example.com": ["93.184.216.34", "10.0.0.5"] });
    const { fetch } = outbound({ allowHttpLoopback: false, lookup: dns.lookup });
    const connects = spyOnConnects();
    const err = await refusal(fetch("https://pds.example.com/"));
    expect(err.kind).toBe("address");
    expect(err.reason).toMatch(/10\.0\.0\.5/);
    expect(connects()).toBe(0);
  });

  it.each([["::ffff:169.254.169.254"], ["64:ff9b::10.1.2.3"], ["fd00::1"]])("refuses an answer of %s", async (address) => {
    const dns = stubLookup({ "pds.example.com": [address] });
    const err = await refusal(outbound({ allowHttpLoopback: false, lookup: dns.lookup }).fetch("https://pds.example.com/"));
    expect(err.kind).toBe("address");
  });

  it("refuses URL-rule violations before DNS, whatever the input form", async () => {
    const dns = stubLookup({});
    const { fetch, lines } = outbound({ allowHttpLoopback: false, lookup: dns.lookup });
    for (const url of ["https://10.0.0.1/", "https://localhost/", "https://x.example:8443/", "https://user@x.example/", "http://x.example/"]) {
      const err = await refusal(fetch(url));
      expect(err.kind).toBe("url");
    }
    expect((await refusal(fetch(new URL("https://foo.internal/")))).kind).toBe("url");
    expect((await refusal(fetch(new Request("https://1.2.3.4/")))).kind).toBe("url");
    expect(dns.calls).toEqual([]);
    expect(lines.filter((l) => l.msg === "outbound request refused" && l.level === "warn")).toHaveLength(7);
  });

  it("turns a DNS failure or an empty answer into a dns refusal", async () => {
    const dns = stubLookup({ "empty.example.com": [] });
    const { fetch } = outbound({ allowHttpLoopback: false, lookup: dns.lookup });
    expect(await refusal(fetch("https://nowhere.example.com/"))).toMatchObject({ kind: "dns", reason: expect.stringMatching(/ENOTFOUND/) });
    expect(await refusal(fetch("https://empty.example.com/"))).toMatchObject({ kind: "dns", reason: expect.stringMatching(/no address/) });
  });

  it("with loopback allowed, localhost must resolve to loopback only", async () => {
    const dns = stubLookup({ localhost: ["127.0.0.1", "192.168.1.10"] });
    const err = await refusal(outbound({ allowHttpLoopback: true, lookup: dns.lookup }).fetch("http://localhost:1/"));
    expect(err.reason).toBe("localhost resolves to 192.168.1.10, which is not loopback");
  });
});

describe("createOutboundFetch: talking to a server (http loopback allowed)", () => {
  it("SEC6: a 3xx is a failure and the redirect target receives no request", async () => {
    const target = await startServer((_req, res) => res.end("target"));
    const redirector = await startServer((req, res) => {
      const status = Number(req.url?.slice(1));
      res.writeHead(status, { Location: `${target.origin}/stolen` }).end();
    });
    const { fetch } = outbound({ allowHttpLoopback: true });
    for (const status of [301, 302, 303, 307, 308]) {
      const err = await refusal(fetch(`${redirector.origin}/${status}`, { redirect: "follow" }));
      expect(err).toMatchObject({ kind: "redirect", reason: `redirect (${status}) not followed` });
    }
    expect(redirector.seen).toHaveLength(5);
    expect(target.seen).toHaveLength(0);
    expect(target.connections).toBe(0);
  });

  it("fails a body over 1 MiB (with or without Content-Length) and accepts exactly 1 MiB", async () => {
    const MiB = 1024 * 1024;
    const server = await startServer((req, res) => {
      const size = req.url === "/exact" ? MiB : MiB + 1;
      if (req.url === "/declared") res.setHeader("Content-Length", size);
      // Chunked otherwise: the cap must hold while streaming, not only on the header.
      res.write(Buffer.alloc(size - 1, "a"));
      res.end("b");
    });
    const { fetch } = outbound({ allowHttpLoopback: true });
    expect(await refusal(fetch(`${server.origin}/declared`))).toMatchObject({ kind: "too_large", reason: `response body over ${MiB} bytes` });
    expect((await refusal(fetch(`${server.origin}/streamed`))).kind).toBe("too_large");
    const ok = await fetch(`${server.origin}/exact`);
    expect((await ok.arrayBuffer()).byteLength).toBe(MiB);
    expect(ok.headers.get("content-length")).toBe(String(MiB));
  });

  it("a slow server hits the total timeout, for headers and for the body", async () => {
    const server = await startServer((req, res) => {
      if (req.url === "/slow-body") {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.write("{"); // …and never finishes
      }
      // /slow-headers: never answers
    });
    const { fetch } = outbound({ allowHttpLoopback: true, totalTimeoutMs: 300 });
    for (const p of ["/slow-headers", "/slow-body"]) {
      const started = Date.now();
      const err = await refusal(fetch(`${server.origin}${p}`));
      expect(err).toMatchObject({ kind: "timeout", reason: "no complete response within 300 ms" });
      expect(Date.now() - started).toBeLessThan(2_000);
    }
  });

  it("DNS rebinding: one lookup per request, and the connection goes to the checked address", async () => {
    // Two servers on one port: 127.0.0.2 is what the (single) lookup answers; 127.0.0.1 is what a
    // second resolution — ours or the system's for "localhost" — would answer.
    const checked = await startServer((_req, res) => res.end("checked"), { host: "127.0.0.2" });
    const other = await startServer((_req, res) => res.end("rebound"), { port: checked.port });
    const dns = stubLookup({ localhost: (call) => (call === 1 ? ["127.0.0.2"] : ["127.0.0.1"]) });
    const { fetch } = outbound({ allowHttpLoopback: true, lookup: dns.lookup });

    const res = await fetch(`http://localhost:${checked.port}/`);
    expect(await res.text()).toBe("checked");
    expect(dns.calls).toEqual(["localhost"]);
    expect(checked.seen).toHaveLength(1);
    expect(checked.seen[0].headers.host).toBe(`localhost:${checked.port}`); // Host stays the name
    expect(other.seen).toHaveLength(0);

    // The next request resolves afresh (no stale pin across requests).
    expect(await (await fetch(`http://localhost:${checked.port}/`)).text()).toBe("rebound");
    expect(dns.calls).toEqual(["localhost", "localhost"]);
  });

  it("sets the User-Agent, overriding the caller's", async () => {
    const server = await startServer((_req, res) => res.end());
    const { fetch } = outbound({ allowHttpLoopback: true });
    await fetch(`${server.origin}/`, { headers: { "User-Agent": "something-else" } });
    expect(PLATFORM_USER_AGENT).toMatch(/^robot\.wtf-platform\/\d+\.\d+\.\d+/);
    expect(server.seen[0].headers["user-agent"]).toBe(PLATFORM_USER_AGENT);
  });

  it("passes a form-encoded POST body (as PAR sends it) through intact", async () => {
    const server = await startServer((_req, res) => res.writeHead(201, { "Content-Type": "application/json" }).end('{"request_uri":"urn:x"}'));
    const { fetch } = outbound({ allowHttpLoopback: true });
    const form = "client_id=http%3A%2F%2Flocalhost%3Fredirect_uri%3Dhttp%253A%252F%252F127.0.0.1%253A5173&scope=atproto+transition%3Ageneric&state=%C3%A9";
    const res = await fetch(`${server.origin}/oauth/par`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", DPoP: "proof-1" },
      body: form,
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ request_uri: "urn:x" });
    await fetch(`${server.origin}/oauth/par`, { method: "POST", body: new URLSearchParams({ a: "1 2", b: "é&" }) });

    expect(server.seen[0]).toMatchObject({ method: "POST", url: "/oauth/par", body: form });
    expect(server.seen[0].headers).toMatchObject({ "content-type": "application/x-www-form-urlencoded", dpop: "proof-1" });
    expect(server.seen[1].body).toBe("a=1+2&b=%C3%A9%26");
    expect(server.seen[1].headers["content-type"]).toBe("application/x-www-form-urlencoded;charset=UTF-8");
  });

  it("accepts a Request object, and supports the DPoP nonce retry pattern of the OAuth library", async () => {
    // The library builds a Request, sets a DPoP header, reads DPoP-Nonce from the (error)
    // response, cancels its body, and sends `new Request(url, init)` again with the nonce.
    const server = await startServer((req, res) => {
      if (req.headers.dpop !== "proof-with-nonce") {
        res.writeHead(400, { "Content-Type": "application/json", "DPoP-Nonce": "nonce-1", "Set-Cookie": ["a=1", "b=2"] });
        res.end('{"error":"use_dpop_nonce"}');
      } else {
        res.writeHead(200, { "Content-Type": "application/json" }).end('{"access_token":"t"}');
      }
    });
    const { fetch } = outbound({ allowHttpLoopback: true });
    const url = `${server.origin}/oauth/token`;
    const init: RequestInit = { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "grant_type=authorization_code&code=c" };

    const first = new Request(url, init);
    first.headers.set("DPoP", "proof-without-nonce");
    const firstResponse = await fetch(first);
    expect(firstResponse.status).toBe(400);
    expect(firstResponse.headers.get("DPoP-Nonce")).toBe("nonce-1");
    expect(firstResponse.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(firstResponse.url).toBe(url);
    await firstResponse.body?.cancel();

    const retry = new Request(url, init);
    retry.headers.set("DPoP", "proof-with-nonce");
    const retryResponse = await fetch(retry);
    expect(retryResponse.status).toBe(200);
    expect(await retryResponse.json()).toEqual({ access_token: "t" });
    expect(server.seen.map((s) => [s.headers.dpop, s.body])).toEqual([
      ["proof-without-nonce", "grant_type=authorization_code&code=c"],
      ["proof-with-nonce", "grant_type=authorization_code&code=c"],
    ]);
  });

  it("returns non-2xx, non-3xx answers as responses, with empty bodies intact", async () => {
    const server = await startServer((req, res) => {
      if (req.url === "/none") res.writeHead(204).end();
      else res.writeHead(404, { "Content-Type": "text/plain" }).end("");
    });
    const { fetch } = outbound({ allowHttpLoopback: true });
    const missing = await fetch(`${server.origin}/missing`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("");
    const none = await fetch(`${server.origin}/none`);
    expect(none.status).toBe(204);
    expect(none.body).toBeNull();
  });

  it("a connection failure is a network refusal naming the cause", async () => {
    const server = await startServer((_req, res) => res.end());
    const port = server.port;
    await server.close();
    const err = await refusal(outbound({ allowHttpLoopback: true }).fetch(`http://127.0.0.1:${port}/`));
    expect(err.kind).toBe("network");
    expect(err.reason).toMatch(/ECONNREFUSED/);
  });

  it("the caller's own abort passes through as the caller's error, not a refusal", async () => {
    const server = await startServer(() => {}); // never answers
    const { fetch, lines } = outbound({ allowHttpLoopback: true });
    const controller = new AbortController();
    const pending = fetch(`${server.origin}/`, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("caller gave up")), 50);
    await expect(pending).rejects.toThrow("caller gave up");
    expect(lines.filter((l) => l.msg === "outbound request refused")).toHaveLength(0);
  });
});

describe("createOutboundFetch: TLS keeps the host name", () => {
  let dir: string;
  let cert: { key: string; cert: string };
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "outbound-tls-"));
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")],
      { stdio: "ignore" },
    );
    cert = { key: fs.readFileSync(path.join(dir, "key.pem"), "utf8"), cert: fs.readFileSync(path.join(dir, "cert.pem"), "utf8") };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("sends SNI for the URL's name and validates the certificate (a self-signed one fails)", async () => {
    const sni: string[] = [];
    let requests = 0;
    const server = https.createServer(
      {
        ...cert,
        SNICallback: (name, cb) => {
          sni.push(name);
          cb(null, tls.createSecureContext(cert));
        },
      },
      (_req, res) => {
        requests++;
        res.end();
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const dns = stubLookup({ localhost: ["127.0.0.1"] });
      const err = await refusal(outbound({ allowHttpLoopback: true, lookup: dns.lookup }).fetch(`https://localhost:${port}/`));
      expect(err.kind).toBe("network");
      expect(err.reason).toMatch(/SELF_SIGNED|self-signed/i);
      expect(sni).toEqual(["localhost"]);
      expect(requests).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
