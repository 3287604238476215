// The Node process: `node build/server/index.js`. Validates configuration, loads keys, opens and
// migrates robot.db (all before listening), serves on HOST:PORT, and stops gracefully on SIGTERM.
// With WORKERS > 1 this process is the node:cluster primary that does all of that once and forks
// the workers that serve (cluster.server.ts, ADR 009); each worker runs this file too.
// Vite builds this file as the server entry (vite.config.ts); it also exports the pieces that
// integration tests assemble themselves.
import cluster from "node:cluster";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as build from "virtual:react-router/server-build";
import { ConfigError, describeConfig, loadConfig, type Config } from "./config.server";
import { createHandler, type Handler } from "./http.server";
import { createLogger, errorDetails, type Logger } from "./log.server";
import { createRequestListener } from "./node-listener.server";
import { createPlatform, type Platform, type ProcessRole } from "./platform.server";
import { superviseWorkers } from "./cluster.server";

export { build, createHandler, createLogger, createPlatform, loadConfig };

/** How long stop() lets in-flight requests run before it cuts their connections. */
export const SHUTDOWN_GRACE_MS = 20_000;

export interface RunningServer {
  server: http.Server;
  url: string;
  stop(): Promise<void>;
}

/** Serve a handler on HOST:PORT; stop() finishes in-flight requests (bounded) and closes the DB. */
export async function listen(
  platform: Platform,
  handler: Handler,
  host: string,
  port: number,
  { graceMs = SHUTDOWN_GRACE_MS }: { graceMs?: number } = {},
): Promise<RunningServer> {
  const server = http.createServer(createRequestListener(handler, platform.log, platform.config.origin));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= new Promise<void>((resolve) => {
      // Stop accepting; let in-flight requests finish; cut what is still open after the grace period.
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      force.unref();
      // Keep-alive connections turn idle as their last request finishes; close them as they do.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      sweep.unref();
      server.close(() => {
        clearTimeout(force);
        clearInterval(sweep);
        platform
          .close()
          .catch((err) => platform.log.error({ err: errorDetails(err) }, "error while closing"))
          .finally(resolve);
      });
      server.closeIdleConnections();
    }));
  return { server, url: displayUrl(host, actualPort), stop };
}

const displayUrl = (host: string, port: number) => `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;

function clientDirOfBuild(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../client");
}

export async function main(env: Record<string, string | undefined> = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(JSON.stringify({ level: "fatal", msg: err.message, problems: err.problems }));
      process.exit(1);
    }
    throw err;
  }
  // WORKERS=1: one process that serves. Otherwise this is the primary (it prepares, forks and
  // supervises) or one of its workers (it serves).
  const role: ProcessRole | "primary" = config.workers === 1 ? "single" : cluster.isPrimary ? "primary" : "worker";
  const rootLog: Logger = createLogger(config.logLevel);
  // Every line of a worker names its process, so journald shows which one served what.
  const log = role === "worker" ? rootLog.child({ pid: process.pid, worker: cluster.worker?.id }) : rootLog;
  let platform: Platform;
  try {
    platform = await createPlatform(config, log, { role: role === "worker" ? "worker" : "single" });
  } catch (err) {
    log.fatal({ err: errorDetails(err) }, `start-up failed: ${(err as Error).message}`);
    process.exit(1);
  }
  // Whatever escapes every handler is still logged as JSON, with its cause.
  process.on("unhandledRejection", (reason) => log.error({ err: errorDetails(reason) }, "unhandled promise rejection"));
  process.on("uncaughtException", (err) => {
    log.fatal({ err: errorDetails(err) }, "uncaught exception: exiting");
    process.exit(1);
  });
  if (role === "primary") {
    superviseWorkers(platform, {
      count: config.workers,
      exec: fileURLToPath(import.meta.url),
      env,
      graceMs: SHUTDOWN_GRACE_MS,
      url: (port) => displayUrl(config.host, port),
    });
    return;
  }
  const handler = createHandler(platform, build, { clientDir: clientDirOfBuild() });
  const running = await listen(platform, handler, config.host, config.port);
  if (role === "single") log.info({ config: describeConfig(config), url: running.url }, "robot.wtf platform listening");
  else log.debug({ url: running.url }, "worker listening");

  const shutdown = (signal: string) => {
    log.info({ signal }, "shutting down: finishing in-flight requests");
    running.stop().then(() => {
      log.info("stopped");
      process.exit(0);
    });
  };
  // A worker may get a signal twice (from the primary, and from a terminal or `timeout` that
  // signals the whole process group): it keeps stopping gracefully. The single process keeps
  // the usual "a second signal kills".
  const on = role === "worker" ? process.on.bind(process) : process.once.bind(process);
  on("SIGTERM", () => shutdown("SIGTERM"));
  on("SIGINT", () => shutdown("SIGINT"));
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().catch((err) => {
    console.error(JSON.stringify({ level: "fatal", msg: "start-up failed", err: errorDetails(err) }));
    process.exit(1);
  });
}
