// Hostile suite (issue 7), part 3: path traversal in static paths (management.md §8: "paths are
// joined safely; a missing file or an escaping path → 404"). Both roots are probed: the build's
// client files and ROBOT_STATIC_DIR, which here has a secret file beside it and a sibling
// directory whose name starts like it. Sent through the pipeline and as raw bytes on a socket.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStaticPath } from "~/server/static.server";
import { expectClearError, expectSound, onSocket, rawExchange, rawStatus, send } from "../support/hostile";
import { startTestPlatform, type TestPlatform } from "../support/platform";

let tp: TestPlatform;
let outside: string;
beforeAll(async () => {
  outside = fs.mkdtempSync(path.join(os.tmpdir(), "robot-static-"));
  fs.mkdirSync(path.join(outside, "pub"));
  fs.mkdirSync(path.join(outside, "pub-evil"));
  fs.writeFileSync(path.join(outside, "pub", "extra.txt"), "EXTRA-OK");
  fs.writeFileSync(path.join(outside, "secret.txt"), "SECRET-MARKER");
  fs.writeFileSync(path.join(outside, "pub-evil", "x.txt"), "SECRET-MARKER");
  tp = await startTestPlatform({ ROBOT_STATIC_DIR: path.join(outside, "pub") });
});
afterAll(async () => {
  await tp.close();
  fs.rmSync(outside, { recursive: true, force: true });
});

/** What must never appear in an answer: files outside both roots. */
const SECRETS = ["SECRET-MARKER", '"name": "robot-platform"', "root:x:0:", "PRIVATE KEY", "SQLite format 3"];

const deep = (step: string, n = 12) => step.repeat(n);
const TRAVERSALS: string[] = [
  "/assets/../package.json",
  "/assets/../../package.json",
  "/static/../../package.json",
  "/assets/..%2f..%2fpackage.json",
  "/assets/..%2F..%2F..%2Fpackage.json",
  "/assets/%2e%2e/%2e%2e/package.json",
  "/static/%2e%2e%2f%2e%2e%2fpackage.json",
  "/static/.%2e/.%2e/package.json",
  "/static/..%5c..%5cpackage.json",
  "/static/..\\..\\package.json",
  "/static/%5c..%5c..%5cpackage.json",
  "/static/%252e%252e/%252e%252e/package.json",
  "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/package.json",
  "/static/..%c0%af..%c0%afpackage.json",
  "/static/%e0%80%ae%e0%80%ae/package.json",
  "/static/..%e0%80%af..%e0%80%afpackage.json",
  "/static/style.css%00",
  "/static/style.css%00.png",
  "/static/%00/../package.json",
  "/static/.%00./package.json",
  "/static//etc/passwd",
  "/static/%2fetc%2fpasswd",
  "/static/%2F%2Fetc%2Fpasswd",
  `/assets/${deep("%2e%2e%2f")}etc/passwd`,
  `/static/${deep("../")}etc/passwd`,
  `/static/${deep("..%2f")}etc/passwd`,
  `/static/${deep("..%5c")}etc%5cpasswd`,
  "/favicon.ico/../package.json",
  "/favicon.ico%2f..%2fpackage.json",
  "/robots.txt%2f..%2f..%2fpackage.json",
  "/static/....//....//package.json",
  "/static/..;/..;/package.json",
  "/static/%u002e%u002e/package.json",
  "/static/.",
  "/static/..",
  "/static/",
  "/assets/",
  "/static/%ff",
  "/static/%",
  // ROBOT_STATIC_DIR (the fallback root): its parent and a sibling named like it.
  "/static/..%2fsecret.txt",
  "/static/%2e%2e%2fsecret.txt",
  "/static/..%5csecret.txt",
  "/static/.%2e%2fsecret.txt",
  "/static/..%2fpub-evil%2fx.txt",
  "/static/%2e%2e/pub-evil/x.txt",
  "/static/extra.txt%2f..%2f..%2fsecret.txt",
];

/** Where a browser's URL parser (and so fetch and node:http's target handling) puts `p`. */
const normalised = (p: string) => new URL(p, tp.origin).pathname;

describe("static paths × traversal", () => {
  it("the fallback root serves its own files (so the probes below reach it)", async () => {
    const a = await send(tp, "/static/extra.txt");
    expect(a.status).toBe(200);
    expect(a.text).toBe("EXTRA-OK");
    expect((await send(tp, "/static/style.css")).status).toBe(200);
  });

  it.each(TRAVERSALS)("GET %s", async (p) => {
    for (const method of ["GET", "HEAD"]) {
      const a = await send(tp, p, { method });
      const label = `${method} ${p}`;
      expectSound(a, label);
      for (const s of SECRETS) expect(a.text, `${label}: leaked ${s}`).not.toContain(s);
      // Still a static path after normalisation → 404 (management.md §8); anything else is
      // another route's answer, which must not be a file from outside either.
      if (isStaticPath(normalised(p)) && method === "GET") {
        expect(a.status, label).toBe(404);
        expectClearError(a, "html", label, "Not found");
      }
      expect(a.res.headers.get("content-type") ?? "", label).not.toMatch(/octet-stream/);
    }
  });
});

describe("static paths × the data directory", () => {
  it("the signing key and robot.db are out of reach, by relative or absolute path", async () => {
    const clientStatic = path.resolve(import.meta.dirname, "../../../build/client/static");
    for (const file of ["signing_key.pem", "robot.db"]) {
      const full = path.join(tp.dataDir, file);
      expect(fs.existsSync(full), full).toBe(true);
      const relative = path.relative(clientStatic, full);
      for (const p of [`/static/${encodeURIComponent(relative)}`, `/static/${encodeURIComponent(full)}`, `/assets/${encodeURIComponent("../" + relative)}`]) {
        const a = await send(tp, p);
        expect(a.status, p).toBe(404);
        for (const s of SECRETS) expect(a.text, `${p}: leaked ${s}`).not.toContain(s);
      }
    }
  });
});

describe("static paths × traversal, as raw bytes on a socket", () => {
  const socket = onSocket(() => tp);

  it.each([...TRAVERSALS, "/static/..\\secret.txt", "/static/\\..\\..\\package.json", "/static/..%00/secret.txt"])("GET %s", async (p) => {
    const res = await rawExchange(socket.port, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const status = rawStatus(res);
    expect(status, `${p}: ${res.slice(0, 60)}`).toBeGreaterThan(0);
    expect(status, p).toBeLessThan(500);
    for (const s of SECRETS) expect(res, `${p}: leaked ${s}`).not.toContain(s);
  });
});
