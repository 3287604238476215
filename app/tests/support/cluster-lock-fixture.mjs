// A node:cluster primary with two workers that use the cross-process request lock of
// cluster-lock.server.ts (serveRequestLocks in the primary, clusterRequestLock in the workers),
// for cluster.test.ts. The module is loaded from source through tsx: it needs nothing else, and
// twelve processes loading the whole server build at once were slow on 2 cores.
// Usage: node --import tsx cluster-lock-fixture.mjs <scenario>. Prints one line
// `RESULT {"events":[…]}`: what the primary saw, in order of arrival.
//   same      both workers take lock "s" at once and hold it 300 ms
//   different worker 1 takes "a", worker 2 takes "b" (the control: these may overlap)
//   crash     worker 1 takes "c" and dies holding it; then worker 2 asks for "c"
//   lease     worker 1 takes "l" and never gives it back (lease 300 ms); then worker 2 asks
import cluster from "node:cluster";
import path from "node:path";

const lock = await import(path.resolve(import.meta.dirname, "../../server/cluster-lock.server.ts"));
const scenario = process.argv[2] ?? process.env.LOCK_SCENARIO;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (cluster.isPrimary) {
  const log = { warn: (obj, msg) => console.error(msg, JSON.stringify(obj)) };
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
