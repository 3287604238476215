// The end-to-end topology, built from real parts (acceptance.md §0, issue "Bluesky login"):
//   - a real PLC directory + PDS (e2e/harness) on loopback;
//   - platform "dev": the production build on http://127.0.0.1:<port> (ATProto loopback client);
//   - platform "https": the production build behind Caddy (Debian, `tls internal`) at
//     https://wtf.e2e.internal:<port> as the confidential client, with wiki subdomains
//     *.wtf.e2e.internal served by a stand-in wiki host through the same Caddy;
// Everything binds 127.0.0.1; names under e2e.internal are mapped to it where needed.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { freePort, ROOT, waitForHttp } from "../../app/tests/support/process";

export const E2E_DOMAIN = "wtf.e2e.internal";

export interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

export function startProc(runDir: string, name: string, cmd: string, args: string[], env: Record<string, string>): Proc {
  const logFile = path.join(runDir, `${name}.log`);
  const out = fs.openSync(logFile, "a");
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", out, out] });
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    name,
    child,
    logFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function waitForFile(file: string, timeoutMs: number, proc?: Proc): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (fs.existsSync(file) && fs.statSync(file).size > 0) return fs.readFileSync(file, "utf8");
    if (proc && proc.child.exitCode !== null) throw new Error(`${proc.name} exited early; see ${proc.logFile}:\n${fs.readFileSync(proc.logFile, "utf8").slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Accounts {
  [name: string]: { handle: string; did: string; password: string };
}

export interface Topology {
  runDir: string;
  pdsUrl: string;
  plcUrl: string;
  accounts: Accounts;
  dev: { url: string; dataDir: string };
  https: { url: string; port: number; dataDir: string; caFile: string; platformUrl: string };
  wikiHost: { port: number };
  procs: Proc[];
}

export const ACCOUNT_NAMES = ["alice", "bob", "carol", "dave", "erin", "frank"];

export async function startTopology(runDir: string, opts: { wikiHostPort: number; mcpHostPort: number }): Promise<Topology> {
  const procs: Proc[] = [];
  const [pdsPort, plcPort, devPort, httpsPlatformPort, caddyPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const caddyDir = path.join(runDir, "caddy");
  fs.mkdirSync(caddyDir, { recursive: true });
  const caFile = path.join(caddyDir, "pki/authorities/local/root.crt");

  try {
    // Caddy first: its local CA must exist before the PDS starts trusting it.
    const caddyfile = path.join(runDir, "Caddyfile");
    const render = spawn("bash", [
      "infra/scripts/render-caddyfile", "--test", "--domain", E2E_DOMAIN, "--https-port", String(caddyPort),
      "--platform", `127.0.0.1:${httpsPlatformPort}`, "--wiki", `127.0.0.1:${opts.wikiHostPort}`, "--mcp", `127.0.0.1:${opts.mcpHostPort}`,
      "--storage-dir", caddyDir, "-o", caddyfile,
    ], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    const code = await new Promise<number | null>((r) => render.on("exit", r));
    if (code !== 0) throw new Error("render-caddyfile failed");
    const xdg = { HOME: caddyDir, XDG_DATA_HOME: path.join(caddyDir, "xdg-data"), XDG_CONFIG_HOME: path.join(caddyDir, "xdg-config") };
    procs.push(startProc(runDir, "caddy", "caddy", ["run", "--config", caddyfile, "--adapter", "caddyfile"], xdg));
    await waitForFile(caFile, 30_000, procs.at(-1));

    // The real ATProto network, trusting Caddy's CA and the e2e.internal names.
    const portFile = path.join(runDir, "net.json");
    const accountsArg = ACCOUNT_NAMES.map((n) => `${n}.test:${n}-password`).join(",");
    procs.push(
      startProc(runDir, "pds", process.execPath, [
        "--import", "tsx", "e2e/harness/cli.ts", "--accounts", accountsArg, "--port-file", portFile,
        "--pds-port", String(pdsPort), "--plc-port", String(plcPort), "--trust-internal", "e2e.internal", "--ca-file", caFile,
      ], {}),
    );
    const net = JSON.parse(await waitForFile(portFile, 60_000, procs.at(-1)));
    const accounts: Accounts = {};
    for (const a of net.accounts as { handle: string; did: string; password: string }[]) accounts[a.handle.split(".")[0]] = a;

    const common = {
      NODE_ENV: "test",
      HOST: "127.0.0.1",
      PLC_DIRECTORY_URL: net.plcUrl,
      ATPROTO_HANDLE_RESOLVER: net.pdsUrl,
      BSKY_APPVIEW_URL: net.pdsUrl,
      RATE_LIMITS_ENABLED: "false",
      LOG_LEVEL: "info",
    };
    const devData = path.join(runDir, "platform-dev");
    const httpsData = path.join(runDir, "platform-https");
    procs.push(startProc(runDir, "platform-dev", process.execPath, ["build/server/index.js"], { ...common, DATA_DIR: devData, PORT: String(devPort) }));
    procs.push(
      startProc(runDir, "platform-https", process.execPath, ["build/server/index.js"], {
        ...common,
        DATA_DIR: httpsData,
        PORT: String(httpsPlatformPort),
        PLATFORM_SCHEME: "https",
        PLATFORM_DOMAIN: `${E2E_DOMAIN}:${caddyPort}`,
        ATPROTO_ALLOW_HTTP_LOOPBACK: "true",
        TRUST_PROXY: "true",
      }),
    );
    await waitForHttp(`http://127.0.0.1:${devPort}/healthz`, 60_000);
    await waitForHttp(`http://127.0.0.1:${httpsPlatformPort}/healthz`, 60_000);
    return {
      runDir,
      pdsUrl: net.pdsUrl,
      plcUrl: net.plcUrl,
      accounts,
      dev: { url: `http://127.0.0.1:${devPort}`, dataDir: devData },
      https: { url: `https://${E2E_DOMAIN}:${caddyPort}`, port: caddyPort, dataDir: httpsData, caFile, platformUrl: `http://127.0.0.1:${httpsPlatformPort}` },
      wikiHost: { port: opts.wikiHostPort },
      procs,
    };
  } catch (err) {
    for (const p of procs.reverse()) await p.stop();
    throw err;
  }
}
