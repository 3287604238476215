// Integration over a real socket: the built pipeline served by `listen()` exactly as
// `node build/server/index.js` serves it. What only the socket layer can get wrong: bodies
// over the limit (declared or chunked), unparsable targets, HEAD, several Set-Cookie headers,
// clients that go away, and the bounded graceful stop.
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawExchange, rawStatus } from "./support/hostile";
import { loadBuild, startTestPlatform, type TestPlatform } from "./support/platform";

interface Running {
  url: string;
  server: http.Server;
  stop(): Promise<void>;
}

let tp: TestPlatform;
let srv: Running;
let port: number;
beforeAll(async () => {
  tp = await startTestPlatform();
  const b = await loadBuild();
  srv = await b.listen(tp.platform, tp.handle, "127.0.0.1", 0);
  port = Number(new URL(srv.url).port);
});
afterAll(async () => {
  await new Promise<void>((r) => srv.server.close(() => r()));
  await tp.close();
});

const raw = (head: string, body?: (sock: net.Socket) => void, idleMs?: number) => rawExchange(port, head, body, idleMs);
const statusOf = rawStatus;
const alive = async () => (await fetch(srv.url + "/healthz")).status;

describe("request bodies over the 1 MiB limit", () => {
  it("a chunked body past the limit gets 413 and the server keeps serving", async () => {
    for (const p of ["/healthz", "/auth/login", "/api/wikis"]) {
      const res = await raw(`POST ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n`, (sock) => {
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        for (let i = 0; i < 20; i++) sock.write(chunk.length.toString(16) + "\r\n" + chunk.toString("latin1") + "\r\n");
      });
      expect(statusOf(res), p).toBe(413);
      expect(res.toLowerCase()).toContain("connection: close");
      expect(await alive()).toBe(200);
    }
  });

  it("a declared Content-Length past the limit gets 413 before any body is read", async () => {
    const res = await raw(`POST /api/wikis HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n{`);
    expect(statusOf(res)).toBe(413);
    expect(res).toContain('{"error":"Request body too large"}');
    expect(await alive()).toBe(200);
  });

  it("a client that keeps sending after the 413 is cut off without the server buffering it", async () => {
    const before = process.memoryUsage().rss;
    const res = await raw(`POST /api/wikis HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, (sock) => {
      const chunk = Buffer.alloc(256 * 1024, 0x62);
      let sent = 0;
      const pump = () => {
        while (sent < 200 && !sock.destroyed) {
          sent++;
          if (!sock.write(chunk.length.toString(16) + "\r\n" + chunk.toString("latin1") + "\r\n")) return void sock.once("drain", pump);
        }
      };
      pump();
    }, 3000);
    expect(statusOf(res)).toBe(413);
    expect(process.memoryUsage().rss - before).toBeLessThan(40 * 1024 * 1024);
    expect(await alive()).toBe(200);
  });
});

describe("targets, methods and headers", () => {
  it("an asterisk or absolute-form target never crashes the server", async () => {
    expect(statusOf(await raw("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"))).toBe(400);
    const abs = await raw("GET http://elsewhere.example/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(statusOf(abs)).toBe(200);
    expect(await alive()).toBe(200);
  });

  it("an unparsable Host header never crashes the server", async () => {
    for (const host of ["a b", "[", "x:99999", "exa%mple", "@"]) {
      const res = await raw(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect([200, 400], host).toContain(statusOf(res));
    }
    expect(await alive()).toBe(200);
  });

  it("a `//` path stays a path on the platform origin", async () => {
    const res = await raw("GET //evil.example/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(statusOf(res)).toBe(404);
  });

  it("HEAD gets the headers and no body", async () => {
    const res = await raw("HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(statusOf(res)).toBe(200);
    expect(res.toLowerCase()).toContain("content-security-policy:");
    expect(res.split("\r\n\r\n")[1] ?? "").toBe("");
  });

  it("keeps every Set-Cookie header separate", async () => {
    const b = await loadBuild();
    const two = await b.listen(tp.platform, async () => {
      const h = new Headers();
      h.append("Set-Cookie", "a=1; Path=/");
      h.append("Set-Cookie", "b=2; Path=/");
      return new Response("ok", { headers: h });
    }, "127.0.0.1", 0);
    try {
      const res = await fetch(two.url + "/");
      expect(res.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/"]);
    } finally {
      await new Promise<void>((r) => two.server.close(() => r()));
    }
  });

  it("a client that disconnects mid-response does not take the server down", async () => {
    const b = await loadBuild();
    const slow = await b.listen(tp.platform, async () => {
      let n = 0;
      const body = new ReadableStream({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 10));
          if (++n > 50) c.close();
          else c.enqueue(new Uint8Array(64 * 1024));
        },
      });
      return new Response(body);
    }, "127.0.0.1", 0);
    try {
      await new Promise<void>((resolve) => {
        const req = http.get(slow.url + "/", (res) => res.once("data", () => { req.destroy(); resolve(); }));
        req.on("error", () => resolve());
      });
      await new Promise((r) => setTimeout(r, 200));
      expect((await fetch(slow.url + "/")).status).toBe(200);
    } finally {
      slow.server.closeAllConnections();
      await new Promise<void>((r) => slow.server.close(() => r()));
    }
  });
});

describe("graceful stop", () => {
  it("cuts a request that never finishes after the grace period and closes the database", async () => {
    const own = await startTestPlatform();
    const b = await loadBuild();
    let reached!: () => void;
    const inHandler = new Promise<void>((r) => (reached = r));
    const running: Running = await b.listen(own.platform, () => {
      reached();
      return new Promise<Response>(() => undefined);
    }, "127.0.0.1", 0, { graceMs: 300 });
    const hung = fetch(running.url + "/").then(() => "answered", () => "cut");
    await inHandler;
    const started = Date.now();
    await running.stop();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await hung).toBe("cut");
    // The DB connection is closed: the WAL is checkpointed away.
    expect(fs.existsSync(path.join(own.dataDir, "robot.db-wal"))).toBe(false);
    await expect(fetch(running.url + "/healthz")).rejects.toThrow();
    fs.rmSync(own.dataDir, { recursive: true, force: true });
  });
});
