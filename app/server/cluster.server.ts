// The primary of the multi-process mode (WORKERS > 1, ADR 009). By the time it gets here it has
// done, once, what the single process does before listening: configuration, keys, migrations,
// start-up housekeeping; it keeps the periodic housekeeping. It then forks the workers, which
// share the port (node:cluster's round-robin), holds their shared rate-limit counters and the
// ATProto request locks, replaces a worker that dies (backing off when they keep dying), and on
// SIGTERM/SIGINT stops every worker gracefully and exits 0 when the last one has.
import cluster, { type Worker } from "node:cluster";
import { serveRequestLocks } from "./cluster-lock.server";
import { describeConfig } from "./config.server";
import { errorDetails, type Logger } from "./log.server";
import type { Platform } from "./platform.server";
import { serveClusterRateLimits } from "./rate-limit.server";

/** Delay before replacing a dead worker: doubles with every death in the last minute, up to the max. */
export const RESTART_BACKOFF = { firstMs: 250, maxMs: 30_000, windowMs: 60_000 };

export function restartDelay(recentDeaths: number): number {
  return Math.min(RESTART_BACKOFF.maxMs, RESTART_BACKOFF.firstMs * 2 ** Math.max(0, recentDeaths - 1));
}

/**
 * Fork one worker. A message to a worker that has just died (the answer to a rate-limit request
 * it sent before, say) is an 'error' event on it (EPIPE, ERR_IPC_CHANNEL_CLOSED): unhandled,
 * it would crash the primary, and every worker with it. So it is logged.
 */
export function forkWorker(env: Record<string, string | undefined>, log: Pick<Logger, "warn">): Worker {
  const worker = cluster.fork(env);
  worker.on("error", (err) => log.warn({ pid: worker.process.pid, worker: worker.id, err: errorDetails(err) }, "worker channel error"));
  return worker;
}

export interface SuperviseOptions {
  /** How many workers. */
  count: number;
  /** The script every worker runs (the built server entry). */
  exec: string;
  /** Added to the workers' environment. */
  env: Record<string, string | undefined>;
  /** A worker's own grace period for in-flight requests; the primary SIGKILLs stragglers after it. */
  graceMs: number;
  /** How listen() shows an address (0.0.0.0 → 127.0.0.1). */
  url: (port: number) => string;
}

export function superviseWorkers(platform: Platform, opts: SuperviseOptions): void {
  const { log, config } = platform;
  serveClusterRateLimits();
  const stopLocks = serveRequestLocks(log);
  cluster.setupPrimary({ exec: opts.exec, args: [] });

  const alive = new Set<Worker>();
  const listened = new WeakSet<Worker>();
  const deaths: number[] = [];
  const replacements = new Set<NodeJS.Timeout>();
  let started = false;
  let stopping = false;
  let exitCode = 0;

  const fork = () => alive.add(forkWorker(opts.env, log));

  cluster.on("listening", (worker, address) => {
    if (started) {
      log.info({ pid: worker.process.pid, worker: worker.id }, "replacement worker listening");
      return;
    }
    listened.add(worker);
    const listening = [...alive].filter((w) => listened.has(w));
    if (listening.length < opts.count) return;
    started = true;
    log.info(
      { config: describeConfig(config), url: opts.url(address.port), workers: opts.count, pids: listening.map((w) => w.process.pid) },
      "robot.wtf platform listening",
    );
  });

  cluster.on("exit", (worker, code, signal) => {
    alive.delete(worker);
    if (stopping) {
      if (code !== 0) log.warn({ pid: worker.process.pid, worker: worker.id, exitCode: code, signal }, "worker stopped uncleanly");
      if (alive.size === 0) finish();
      return;
    }
    if (!started) {
      log.fatal({ pid: worker.process.pid, worker: worker.id, exitCode: code, signal }, "a worker failed to start: stopping");
      stop(1);
      return;
    }
    const now = Date.now();
    deaths.push(now);
    while (deaths[0] < now - RESTART_BACKOFF.windowMs) deaths.shift();
    const delayMs = restartDelay(deaths.length);
    log.error({ pid: worker.process.pid, worker: worker.id, exitCode: code, signal, restartInMs: delayMs }, "worker died: replacing it");
    const timer = setTimeout(() => {
      replacements.delete(timer);
      if (!stopping) fork();
    }, delayMs);
    replacements.add(timer);
  });

  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    stopLocks();
    platform
      .close()
      .catch(() => undefined)
      .finally(() => {
        log.info("stopped");
        process.exit(exitCode);
      });
  };

  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const timer of replacements) clearTimeout(timer);
    // A signal, not worker.kill(): that disconnects the IPC channel first, and requests still in
    // flight need it (rate limits, request locks). Each worker finishes its in-flight requests.
    for (const worker of alive) worker.process.kill("SIGTERM");
    setTimeout(() => {
      for (const worker of alive) worker.process.kill("SIGKILL");
    }, opts.graceMs + 5_000).unref();
    if (alive.size === 0) finish();
  };

  const shutdown = (signal: string) => {
    if (stopping) return;
    log.info({ signal, workers: alive.size }, "shutting down: stopping the workers, which finish their in-flight requests");
    stop(0);
  };
  // `on`, not `once`: `timeout` and terminals signal the whole process group, this process
  // included, more than once; a second signal must not kill the primary under its workers.
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));

  for (let i = 0; i < opts.count; i++) fork();
}
