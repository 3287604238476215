// The ATProto client's request lock (RuntimeLock) across the processes of the multi-process
// mode (ADR 009). The library takes it around every session read that may refresh tokens; a
// refresh token works once, so two workers refreshing one session at the same time would log
// the user out. The primary holds every lock: a worker asks for one over the cluster IPC
// channel, runs its function when granted, and gives it back. Waiters are served in order of
// arrival; a worker that exits loses what it held and what it waited for, and a holder that
// never gives a lock back loses it after LOCK_LEASE_MS.
import cluster, { type Worker } from "node:cluster";
import type { RuntimeLock } from "@atproto/oauth-client-node";
import type { Logger } from "./log.server";

const CHANNEL = "robot_request_lock";
/**
 * A lock not given back after this long is taken away (and logged). The library bounds its own
 * work under the lock to 30 s (session-getter: AbortSignal.timeout(30e3)), so only a stuck
 * worker reaches this.
 */
export const LOCK_LEASE_MS = 60_000;

type LockMessage = { channel: typeof CHANNEL; op: "acquire" | "release" | "granted"; name: string; id: number };

const isLockMessage = (msg: unknown): msg is LockMessage =>
  typeof msg === "object" && msg !== null && (msg as LockMessage).channel === CHANNEL;

interface Claim {
  worker: Worker;
  id: number;
  lease?: NodeJS.Timeout;
}

/**
 * In the primary: serve the locks of every worker. Returns a function that stops serving.
 * `leaseMs` is for tests.
 */
export function serveRequestLocks(log: Logger, { leaseMs = LOCK_LEASE_MS }: { leaseMs?: number } = {}): () => void {
  const locks = new Map<string, { holder?: Claim; queue: Claim[] }>();

  const grantNext = (name: string) => {
    const lock = locks.get(name);
    if (!lock) return;
    lock.holder = undefined;
    while (!lock.holder && lock.queue.length) {
      const next = lock.queue.shift()!;
      if (next.worker.isDead() || !next.worker.isConnected()) continue;
      try {
        next.worker.send({ channel: CHANNEL, op: "granted", name, id: next.id } satisfies LockMessage);
      } catch {
        continue;
      }
      next.lease = setTimeout(() => {
        log.warn({ lock: name, pid: next.worker.process.pid, leaseMs }, "request lock held too long: taken away");
        if (locks.get(name)?.holder === next) grantNext(name);
      }, leaseMs);
      next.lease.unref();
      lock.holder = next;
    }
    if (!lock.holder) locks.delete(name);
  };

  const onMessage = (worker: Worker, msg: unknown) => {
    if (!isLockMessage(msg)) return;
    const { op, name, id } = msg;
    if (op === "acquire") {
      const lock = locks.get(name) ?? { queue: [] };
      locks.set(name, lock);
      lock.queue.push({ worker, id });
      if (!lock.holder) grantNext(name);
    } else if (op === "release") {
      const lock = locks.get(name);
      if (!lock) return;
      if (lock.holder?.worker === worker && lock.holder.id === id) {
        clearTimeout(lock.holder.lease);
        grantNext(name);
      } else {
        lock.queue = lock.queue.filter((c) => !(c.worker === worker && c.id === id));
      }
    }
  };

  const onExit = (worker: Worker) => {
    for (const [name, lock] of [...locks]) {
      lock.queue = lock.queue.filter((c) => c.worker !== worker);
      if (lock.holder?.worker === worker) {
        clearTimeout(lock.holder.lease);
        grantNext(name);
      } else if (!lock.holder && !lock.queue.length) {
        locks.delete(name);
      }
    }
  };

  cluster.on("message", onMessage);
  cluster.on("exit", onExit);
  return () => {
    cluster.off("message", onMessage);
    cluster.off("exit", onExit);
    for (const lock of locks.values()) clearTimeout(lock.holder?.lease);
    locks.clear();
  };
}

let nextId = 0;
const waiting = new Map<number, () => void>();
let listening = false;

function onGrant(msg: unknown) {
  if (!isLockMessage(msg) || msg.op !== "granted") return;
  const resolve = waiting.get(msg.id);
  waiting.delete(msg.id);
  resolve?.();
}

/** In a worker: the RuntimeLock of the ATProto client, held in the primary. */
export const clusterRequestLock: RuntimeLock = async (name, fn) => {
  const send = process.send?.bind(process);
  if (!cluster.isWorker || !send) throw new Error("clusterRequestLock needs a cluster worker (WORKERS > 1)");
  if (!listening) {
    process.on("message", onGrant);
    listening = true;
  }
  const id = ++nextId;
  const granted = new Promise<void>((resolve) => waiting.set(id, resolve));
  send({ channel: CHANNEL, op: "acquire", name, id } satisfies LockMessage);
  await granted;
  try {
    return await fn();
  } finally {
    // The primary is gone only when this process is about to exit too (cluster workers exit
    // when their IPC channel closes).
    if (process.connected) send({ channel: CHANNEL, op: "release", name, id } satisfies LockMessage);
  }
};
