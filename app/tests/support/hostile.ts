// Helpers of the hostile suite (app/tests/hostile/): every request answered within a timeout,
// the "clear error" checks (D15), the state a refused write must leave unchanged, and the URLs a
// page could send a browser to.
import fs from "node:fs";
import type http from "node:http";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { decode, wikiPrefs } from "./mgmt";
import { loadBuild, type TestPlatform } from "./platform";

/** No request of the hostile suite may take longer than this (body included). */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface Answer {
  res: Response;
  status: number;
  text: string;
}

/** Rejects when `promise` has not settled within `ms`: a hang is a failure, not a stuck suite. */
export async function bounded<T>(what: string, promise: Promise<T>, ms = REQUEST_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One request through the pipeline, its body read, both within the timeout. */
export function send(tp: TestPlatform, p: string, init: RequestInit & { ip?: string; duplex?: "half" } = {}): Promise<Answer> {
  const what = `${init.method ?? "GET"} ${p.slice(0, 120)}`;
  return bounded(
    what,
    tp.request(p, init).then(async (res) => ({ res, status: res.status, text: await res.text() })),
  );
}

/** Never a 5xx, the security headers on, and no header injected through a value. */
export function expectSound(a: Answer, label: string): void {
  expect(a.status, `${label}: status`).toBeLessThan(500);
  expect(a.res.headers.get("x-content-type-options"), label).toBe("nosniff");
  expect(a.res.headers.get("content-security-policy"), label).toContain("frame-ancestors 'none'");
  for (const c of a.res.headers.getSetCookie()) expect(c, `${label}: injected cookie`).not.toMatch(/^evil=/);
  const location = a.res.headers.get("location");
  if (location !== null) expect(location, `${label}: Location`).not.toMatch(/[\r\n]/);
}

/**
 * A clear error (D15): `{"error": "<message>"}` JSON, or a complete HTML page with a title;
 * never a stack trace or library internals. `message`, when given, must be what it says.
 */
export function expectClearError(a: Answer, kind: "json" | "html", label: string, message?: string | RegExp): void {
  const type = a.res.headers.get("content-type") ?? "";
  expect(a.text, `${label}: internals`).not.toMatch(/\n\s+at |node_modules|TypeError|SyntaxError|RangeError|did not provide an `action`/);
  if (kind === "json") {
    expect(type, `${label}: content type`).toContain("application/json");
    const body = JSON.parse(a.text) as { error?: unknown };
    expect(typeof body.error, `${label}: {"error"}`).toBe("string");
    expect((body.error as string).length, label).toBeGreaterThan(0);
    if (message !== undefined) expect(body.error, label).toMatch(message instanceof RegExp ? message : exact(message));
  } else {
    expect(type, `${label}: content type`).toContain("text/html");
    expect(a.text, `${label}: a page`).toMatch(/<html[\s>]/i);
    expect(a.text, `${label}: a title`).toMatch(/<title>[^<]+<\/title>/);
    if (message !== undefined) expect(pageTextOf(a.text), label).toMatch(message instanceof RegExp ? message : contains(message));
  }
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const exact = (s: string) => new RegExp(`^${escapeRe(s)}$`);
const contains = (s: string) => new RegExp(escapeRe(s));

/** The visible text of a page (scripts and tags removed, entities decoded). */
export function pageTextOf(html: string): string {
  return decode(html.replace(/<script[\s\S]*?<\/script>/g, " ").replace(/<[^>]+>/g, " ")).replace(/\s+/g, " ");
}

/**
 * Everything a refused write must leave as it was: the platform's rows (consent nonces aside,
 * which a refused consent POST uses up by design, auth.md §8.3), the wiki directories and each
 * wiki's preferences.
 */
export async function platformState(tp: TestPlatform): Promise<string> {
  const { db, config } = tp.platform;
  const wikis = await db.wiki.findMany({ orderBy: { slug: "asc" } });
  const prefs = Object.fromEntries(
    wikis.map((w) => [w.slug, fs.existsSync(path.join(config.wikiBase, w.slug, "wiki.db")) ? wikiPrefs(tp, w.slug) : null]),
  );
  const dirs = fs.existsSync(config.wikiBase) ? fs.readdirSync(config.wikiBase).filter((d) => !d.startsWith(".")).sort() : [];
  return JSON.stringify({
    users: await db.user.findMany({ orderBy: { did: "asc" } }),
    wikis,
    prefs,
    dirs,
    clients: await db.mcpOauthClient.findMany({ orderBy: { client_id: "asc" } }),
    flows: await db.atprotoOauthState.count(),
    sessions: await db.atprotoOauthSession.count(),
  });
}

/**
 * Every URL a page could send the browser to: `href`, `src`, `action`, `formaction`, and the
 * target of a `<meta http-equiv="refresh">`, entities decoded.
 */
export function navigableUrls(html: string): string[] {
  const out: string[] = [];
  for (const m of html.matchAll(/\s(?:href|src|action|formaction)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    out.push(decode(m[1] ?? m[2] ?? m[3] ?? ""));
  }
  for (const m of html.matchAll(/<meta\b[^>]*http-equiv\s*=\s*["']?refresh[^>]*>/gi)) {
    const content = /content\s*=\s*["']([^"']*)["']/i.exec(m[0])?.[1] ?? "";
    out.push(decode(content.replace(/^\s*\d+\s*;?\s*(url\s*=\s*)?/i, "")));
  }
  return out;
}

/** The origin a browser on `base` goes to for `ref`, or "invalid" when it cannot be parsed. */
export function originOf(ref: string, base: string): string {
  try {
    return new URL(ref, base).origin;
  } catch {
    return "invalid";
  }
}

/**
 * One raw HTTP/1.1 exchange on a socket (for what a Fetch `Request` cannot express); resolves
 * with what the server sent before it closed or went quiet.
 */
export function rawExchange(port: number, head: string, body?: (sock: net.Socket) => void, idleMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let got = "";
    const done = () => {
      sock.destroy();
      resolve(got);
    };
    let idle = setTimeout(done, idleMs);
    sock.on("data", (d) => {
      got += d.toString("latin1");
      clearTimeout(idle);
      idle = setTimeout(done, 200);
    });
    sock.on("error", () => undefined);
    sock.on("close", () => {
      clearTimeout(idle);
      resolve(got);
    });
    sock.write(head);
    body?.(sock);
  });
}

/** The status code of a raw HTTP/1.1 response, 0 when there was none. */
export const rawStatus = (res: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(res)?.[1] ?? 0);

/** The platform's pipeline on a real socket, as `node build/server/index.js` serves it. */
async function listenOnSocket(tp: TestPlatform): Promise<{ server: http.Server; port: number; close(): Promise<void> }> {
  const b = await loadBuild();
  const running = await b.listen(tp.platform, tp.handle, "127.0.0.1", 0);
  const server: http.Server = running.server;
  return {
    server,
    port: Number(new URL(running.url).port),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Inside a `describe`: the pipeline on a real socket for its tests, opened before and closed after. */
export function onSocket(tp: () => TestPlatform): { readonly port: number; readonly server: http.Server } {
  let socket: Awaited<ReturnType<typeof listenOnSocket>>;
  beforeAll(async () => {
    socket = await listenOnSocket(tp());
  });
  afterAll(() => socket.close());
  return {
    get port() {
      return socket.port;
    },
    get server() {
      return socket.server;
    },
  };
}
