#!/usr/bin/env node
// SIGTERM during a slow request, against the real server:
//   node sigterm-check.mjs RELEASE_DIR ENV_FILE LOG_FILE [USER]
// Starts `node build/server/index.js` in RELEASE_DIR with the environment file (as USER when
// run as root), waits for /readyz, then:
//   - opens a POST whose body is only half sent (the server buffers bodies: an in-flight
//     request), and an idle keep-alive connection;
//   - sends SIGTERM; checks that the process is still alive 1.5 s later, that new
//     connections are refused and the idle connection was closed;
//   - sends the rest of the body and reads the complete response;
//   - waits for the process to exit.
// Prints one JSON object with what it saw.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";

const [releaseDir, envFile, logFile, user] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const env = { PATH: process.env.PATH, NODE_ENV: "production" };
for (const line of fs.readFileSync(envFile, "utf8").split("\n")) {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
  if (!m || /^\s*[#;]/.test(line)) continue;
  env[m[1]] = m[2].replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
}
const port = Number(env.PORT);
const host = "127.0.0.1";
const origin = `https://${env.PLATFORM_DOMAIN}`;

const opts = { cwd: releaseDir, env, stdio: ["ignore", "pipe", "pipe"] };
if (user && process.getuid() === 0) {
  opts.uid = Number(execFileSync("id", ["-u", user]).toString().trim());
  opts.gid = Number(execFileSync("id", ["-g", user]).toString().trim());
  env.HOME = "/tmp";
}
const log = fs.createWriteStream(logFile, { flags: "a" });
const child = spawn(process.execPath, ["build/server/index.js"], opts);
child.stdout.pipe(log);
child.stderr.pipe(log);
let exitInfo = null;
const exited = new Promise((resolve) => child.on("exit", (code, signal) => { exitInfo = { code, signal }; resolve(); }));

function httpGet(path) {
  return new Promise((resolve) => {
    const s = net.connect(port, host, () => s.end(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`));
    let data = "";
    s.on("data", (d) => (data += d));
    s.on("end", () => resolve(data));
    s.on("error", () => resolve(""));
  });
}

const result = { ready: false };
try {
  for (let i = 0; i < 600 && !result.ready && exitInfo === null; i++) {
    if ((await httpGet("/readyz")).startsWith("HTTP/1.1 200")) result.ready = true;
    else await sleep(100);
  }
  if (!result.ready) throw new Error("server never became ready");

  // The in-flight request: headers and half the body.
  const body = "handle=" + "a".repeat(4000);
  const slow = net.connect(port, host);
  await new Promise((r) => slow.once("connect", r));
  let response = "";
  let slowClosed = false;
  slow.on("data", (d) => (response += d));
  slow.on("close", () => (slowClosed = true));
  slow.on("error", (e) => (result.slowError = e.code || String(e)));
  slow.write(
    `POST /healthz HTTP/1.1\r\nHost: ${env.PLATFORM_DOMAIN}\r\nOrigin: ${origin}\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n` +
      body.slice(0, 2000),
  );

  // An idle keep-alive connection that has finished one request.
  const idle = net.connect(port, host);
  await new Promise((r) => idle.once("connect", r));
  let idleClosedAt = null;
  idle.on("close", () => (idleClosedAt = Date.now()));
  idle.on("error", () => {});
  idle.write(`GET /healthz HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
  await new Promise((r) => idle.once("data", r));
  await sleep(300);

  const t0 = Date.now();
  child.kill("SIGTERM");
  await sleep(1500);
  result.aliveWithRequestInFlight = exitInfo === null;
  result.idleClosedMs = idleClosedAt === null ? null : idleClosedAt - t0;

  result.newConnection = await new Promise((resolve) => {
    const s = net.connect(port, host);
    s.on("connect", () => { s.destroy(); resolve("accepted"); });
    s.on("error", (e) => resolve(e.code || "error"));
  });

  slow.write(body.slice(2000));
  for (let i = 0; i < 200 && !slowClosed; i++) await sleep(50);
  result.inFlightStatusLine = response.split("\r\n")[0] || "";
  result.inFlightResponseComplete = slowClosed && /^HTTP\/1\.1 \d{3} /.test(response);

  // (a timer that is cleared: a pending 25 s sleep would keep this process alive that long)
  let deadline;
  await Promise.race([exited, new Promise((r) => (deadline = setTimeout(r, 25_000)))]);
  clearTimeout(deadline);
  result.exit = exitInfo;
  result.exitMs = exitInfo ? Date.now() - t0 : null;
} catch (err) {
  result.error = String(err && err.message ? err.message : err);
} finally {
  if (exitInfo === null) child.kill("SIGKILL");
}
console.log(JSON.stringify(result));
