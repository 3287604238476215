// The Node process: `node build/server/index.js`. Validates configuration, loads keys, opens and
// migrates robot.db (all before listening), serves on HOST:PORT, and stops gracefully on SIGTERM.
// Vite builds this file as the server entry (vite.config.ts); it also exports the pieces that
// integration tests assemble themselves.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as build from "virtual:react-router/server-build";
import { ConfigError, describeConfig, loadConfig, type Config } from "./config.server";
import { createHandler, type Handler } from "./http.server";
import { createLogger, errorDetails, type Logger } from "./log.server";
import { createRequestListener } from "./node-listener.server";
import { createPlatform, type Platform } from "./platform.server";

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
  return { server, url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${actualPort}`, stop };
}

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
  const log: Logger = createLogger(config.logLevel);
  let platform: Platform;
  try {
    platform = await createPlatform(config, log);
  } catch (err) {
    log.fatal({ err: errorDetails(err) }, `start-up failed: ${(err as Error).message}`);
    process.exit(1);
  }
  const handler = createHandler(platform, build, { clientDir: clientDirOfBuild() });
  const running = await listen(platform, handler, config.host, config.port);
  log.info({ config: describeConfig(config), url: running.url }, "robot.wtf platform listening");

  const shutdown = (signal: string) => {
    log.info({ signal }, "shutting down: finishing in-flight requests");
    running.stop().then(() => {
      log.info("stopped");
      process.exit(0);
    });
  };
  // Whatever escapes every handler is still logged as JSON, with its cause.
  process.on("unhandledRejection", (reason) => log.error({ err: errorDetails(reason) }, "unhandled promise rejection"));
  process.on("uncaughtException", (err) => {
    log.fatal({ err: errorDetails(err) }, "uncaught exception: exiting");
    process.exit(1);
  });
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
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
