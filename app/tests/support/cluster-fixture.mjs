// A node:cluster primary and its workers around the multi-process pieces, for cluster.test.ts:
// the cross-process request lock of cluster-lock.server.ts (serveRequestLocks in the primary,
// clusterRequestLock in the workers) and the shared rate limits. The modules are loaded from
// source through tsx: they need nothing else, and a dozen processes loading the whole server
// build at once were slow on 2 cores.
// Usage: node --import tsx cluster-fixture.mjs <scenario>. Prints one line
// `RESULT {"events":[…]}`: what the primary saw, in order of arrival.
//   same        both workers take lock "s" at once and hold it 300 ms
//   different   worker 1 takes "a", worker 2 takes "b" (the control: these may overlap)
//   crash       worker 1 takes "c" and dies holding it; then worker 2 asks for "c"
//   lease       worker 1 takes "l" and never gives it back (lease 300 ms); then worker 2 asks
//   dead-worker a worker forked by forkWorker exits; then the primary sends it a message, as the
//               rate limiter's master does when it answers a request of a worker that died
import cluster from "node:cluster";
import path from "node:path";

const source = (file) => import(path.resolve(import.meta.dirname, "../../server", file));
const scenario = process.argv[2];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = { warn: (obj, msg) => console.error(msg, JSON.stringify(obj)) };

if (scenario === "dead-worker") {
  const { forkWorker } = await source("cluster.server.ts");
  if (cluster.isPrimary) {
    cluster.setupPrimary({ args: [scenario] });
    const events = [];
    const worker = forkWorker({}, { warn: (obj, msg) => events.push({ event: "logged", msg }) });
    worker.on("exit", () => {
      events.push({ event: "exit" });
      worker.send({ late: "answer" }); // what the rate limiter's master does for a request of a worker that died
      setTimeout(() => {
        console.log("RESULT " + JSON.stringify({ events, timedOut: false }));
        process.exit(0);
      }, 200);
    });
  } else {
    process.exit(0);
  }
} else if (cluster.isPrimary) {
  const lock = await source("cluster-lock.server.ts");
  lock.serveRequestLocks(log, { leaseMs: scenario === "lease" ? 300 : 5_000 });
  cluster.setupPrimary({ args: [scenario] });
  const started = Date.now();
  const events = [];
  const workers = [cluster.fork(), cluster.fork()];
  let ready = 0;
  const finish = (timedOut = false) => {
    for (const w of workers) if (!w.isDead()) w.process.kill("SIGKILL");
    console.log("RESULT " + JSON.stringify({ events, timedOut }));
    process.exit(0);
  };
  cluster.on("exit", (worker) => events.push({ worker: worker.id, event: "exit", ms: Date.now() - started }));
  cluster.on("message", (worker, msg) => {
    if (!msg || msg.fixture !== true) return;
    if (msg.event === "ready") {
      if (++ready < 2) return;
      if (scenario === "same" || scenario === "different") for (const w of workers) w.send({ go: true });
      else workers[0].send({ go: true });
      return;
    }
    events.push({ worker: worker.id, event: msg.event, ms: Date.now() - started });
    // Worker 2 asks only once worker 1 holds the lock.
    if ((scenario === "crash" || scenario === "lease") && worker === workers[0] && msg.event === "enter") workers[1].send({ go: true });
    const leaves = events.filter((e) => e.event === "leave").length;
    if (leaves === 2 || (scenario !== "same" && scenario !== "different" && worker === workers[1] && msg.event === "leave")) finish();
  });
  setTimeout(() => finish(true), 20_000).unref();
} else {
  const lock = await source("cluster-lock.server.ts");
  const id = cluster.worker.id;
  const report = (event) => process.send({ fixture: true, event });
  const name = { same: "s", different: id === 1 ? "a" : "b", crash: "c", lease: "l" }[scenario];
  process.on("message", async (msg) => {
    if (!msg || msg.go !== true) return;
    await lock.clusterRequestLock(name, async () => {
      report("enter");
      if (id === 1 && scenario === "crash") {
        await sleep(100);
        process.exit(1);
      }
      if (id === 1 && scenario === "lease") await new Promise(() => undefined); // never gives it back
      await sleep(300);
      report("leave");
    });
  });
  report("ready");
}
