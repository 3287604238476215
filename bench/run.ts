// `npm run bench`: drives the production build on loopback with wrk and, in the same run, the
// two references — (a) bare node:http doing the minimum equivalent work, (b) stock
// react-router-serve's stack on the same build — then the one-off figures (wiki create,
// start-to-ready, RSS over 100k requests, cost as the data grows, the multi-process mode).
// Prints one Markdown report (also written to bench/results/latest.md) with the targets of
// issue 7 marked. BENCH_SECONDS (default 5) sets the length of each wrk run, BENCH_ROUNDS (default 3)
// how many interleaved rounds the endpoint matrix gets.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../app/server/config.server";
import { issuePlatformJwt, jwtSettings } from "../app/server/jwt.server";
import { loadKeys } from "../app/server/keys.server";
import { DOMAIN, ORIGIN, ROOT, insertUser, makeDataDir, median, rssMb, seedWikis, startNode, wrk, type Proc, type WrkResult } from "./lib";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const out: string[] = [];
const say = (line = "") => {
  out.push(line);
  console.log(line);
};
const f = (n: number, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const ms = (n: number) => (n < 10 ? f(n, 2) : f(n, 1));

const { dir, env } = makeDataDir();
const logFile = (name: string) => path.join(dir, `${name}.log`);
const SERVER = ["build/server/index.js"];
const startOurs = (extra: Record<string, string> = {}) => startNode(SERVER, { ...env, ...extra }, logFile("platform"));

// --- set-up: first start (migrations), the bench user, its wiki --------------------------------
const first = await startOurs();
const firstStartMs = first.readyMs;
const config = loadConfig(env);
const keys = await loadKeys(config);
const mint = (did: string, handle: string) => issuePlatformJwt(keys.signing, jwtSettings(config), { did, handle, name: handle });
const dbPath = env.ROBOT_DB_PATH;
const BENCH_DID = "did:plc:benchbenchbenchbenchbenc";
insertUser(dbPath, BENCH_DID, "bench.bsky.social");
const jwt = await mint(BENCH_DID, "bench.bsky.social");
const bearer = { Authorization: `Bearer ${jwt}` };
const cookie = { Cookie: `platform_token=${jwt}` };

async function timed(fn: () => Promise<Response>, want: number): Promise<number> {
  const t = performance.now();
  const res = await fn();
  const body = await res.text();
  if (res.status !== want) throw new Error(`expected ${want}, got ${res.status}: ${body.slice(0, 300)}`);
  return performance.now() - t;
}
const createApi = (url: string, auth: Record<string, string>, slug: string) =>
  fetch(url + "/api/wikis", { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ slug, display_name: `Wiki ${slug}` }) });
const createUi = (url: string, auth: Record<string, string>, slug: string) =>
  fetch(url + "/app/create", {
    method: "POST",
    redirect: "manual",
    headers: { ...auth, Origin: ORIGIN, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ slug, display_name: `Wiki ${slug}` }),
  });

await timed(() => createApi(first.url, bearer, "benchwiki"), 201);
const CREATES = 15;
const apiCreates: number[] = [];
const uiCreates: number[] = [];
for (let i = 0; i < CREATES; i++) {
  for (const [kind, list, fn, want] of [["api", apiCreates, createApi, 201], ["ui", uiCreates, createUi, 200]] as const) {
    const did = `did:plc:create${kind}${String(i).padStart(12, "0")}`;
    insertUser(dbPath, did, `c${kind}${i}.bsky.social`);
    const token = await mint(did, `c${kind}${i}.bsky.social`);
    const auth: Record<string, string> = kind === "api" ? { Authorization: `Bearer ${token}` } : { Cookie: `platform_token=${token}` };
    list.push(await timed(() => fn(first.url, auth, `c${kind}${i}`), want));
  }
}
await first.stop();
seedWikis(dbPath, 100);

// --- the endpoint matrix ---------------------------------------------------------------------
interface Endpoint {
  name: string;
  path: string;
  headers?: Record<string, string>;
  kind: "probe" | "api" | "ssr" | "doc" | "ceiling";
  /** The status it answers (the ceiling is the 404 page). */
  status?: number;
}
const ENDPOINTS: Endpoint[] = [
  { name: "GET /api/internal/check-slug", path: `/api/internal/check-slug?domain=benchwiki.${DOMAIN}`, kind: "probe" },
  { name: "GET /healthz", path: "/healthz", kind: "probe" },
  { name: "GET /.well-known/jwks.json", path: "/.well-known/jwks.json", kind: "doc" },
  { name: "GET /api/wikis (Bearer)", path: "/api/wikis", headers: bearer, kind: "api" },
  { name: "GET /app/ (cookie)", path: "/app/", headers: cookie, kind: "ssr" },
  { name: "GET /app/wiki/benchwiki (cookie)", path: "/app/wiki/benchwiki", headers: cookie, kind: "ssr" },
  { name: "GET /auth/login", path: "/auth/login", kind: "ssr" },
  { name: "GET / (landing page)", path: "/", kind: "doc" },
  // The framework ceiling: an SSR page with no loader work — the root layout and one line.
  { name: "GET /no-such-page (404 page: SSR ceiling)", path: "/no-such-page", kind: "ceiling", status: 404 },
];

async function checkOk(p: Proc, e: Endpoint) {
  const res = await fetch(p.url + e.path, { headers: e.headers, redirect: "manual" });
  await res.arrayBuffer();
  if (res.status !== (e.status ?? 200)) throw new Error(`${e.name} answered ${res.status} on ${p.url}`);
}
async function measure(p: Proc, e: Endpoint, connections: number, warmUp = 1): Promise<WrkResult> {
  await wrk(p.url + e.path, { connections, seconds: warmUp, headers: e.headers });
  const r = await wrk(p.url + e.path, { connections, seconds: SECONDS, headers: e.headers });
  if ((e.status ? r.non2xx !== r.requests : r.non2xx) || r.errors) throw new Error(`${e.name}: ${r.non2xx} non-2xx of ${r.requests}, ${r.errors} socket errors`);
  return r;
}
/** The run with the median throughput: its latencies go with it. */
const medianOf = (xs: WrkResult[]): WrkResult => [...xs].sort((a, b) => a.rps - b.rps)[Math.floor(xs.length / 2)];

// Every server — ours as one process and as WORKERS=2, and the two references — runs side by
// side on the same data (an idle one costs nothing), and the matrix is measured in ROUNDS
// interleaved rounds: every endpoint on every server in turn, then again. A slow moment of a
// shared machine then lands on one run of each figure, not on all runs of one, the ratios
// compare runs made minutes apart at most, and the median run of each figure is kept.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
type Row = { ours1: WrkResult; ours32: WrkResult; a32: WrkResult; b32: WrkResult };
type Figure = keyof Row | "multi32";
const rows = new Map<string, Row>();
const matrix: Record<string, Partial<Record<Figure, WrkResult[]>>> = {};
const inClusterRun = (e: Endpoint) => e.kind === "api" || e.kind === "ssr" || e.kind === "probe";

const ours = await startOurs();
const multi = await startOurs({ WORKERS: "2" });
const bare = await startNode(["bench/baseline.mjs"], env, logFile("baseline"));
const rrServe = await startNode(["bench/rr-serve.mjs"], env, logFile("rr-serve"));
const plan: [Figure, Proc, number][] = [
  ["ours1", ours, 1],
  ["ours32", ours, 32],
  ["a32", bare, 32],
  ["b32", rrServe, 32],
  ["multi32", multi, 32],
];
for (const e of ENDPOINTS) for (const [, p] of plan) await checkOk(p, e);
for (let round = 0; round < ROUNDS; round++) {
  for (const e of ENDPOINTS) {
    for (const [figure, p, connections] of plan) {
      if (figure === "multi32" && !inClusterRun(e)) continue;
      // Two workers take longer to warm up (each JITs on its own): 3 s the first time.
      const warmUp = figure === "multi32" && round === 0 ? 3 : 1;
      ((matrix[e.name] ??= {})[figure] ??= []).push(await measure(p, e, connections, warmUp));
    }
  }
}
const oursRss = rssMb(ours.pid);
for (const p of [ours, multi, bare, rrServe]) await p.stop();

const cluster: Record<string, WrkResult> = {};
for (const e of ENDPOINTS) {
  const m = matrix[e.name];
  rows.set(e.name, { ours1: medianOf(m.ours1!), ours32: medianOf(m.ours32!), a32: medianOf(m.a32!), b32: medianOf(m.b32!) });
  if (m.multi32) cluster[e.name] = medianOf(m.multi32);
}

// --- start-to-ready ----------------------------------------------------------------------------
const readyTimes: number[] = [];
for (let i = 0; i < 5; i++) {
  const p = await startOurs();
  readyTimes.push(p.readyMs);
  await p.stop();
}

// --- RSS over 100,000 requests ---------------------------------------------------------------
const mix = path.join(dir, "mix.lua");
fs.writeFileSync(
  mix,
  `local paths = { ${ENDPOINTS.map((e) => `{ "${e.path}", ${e.headers ? `"${Object.keys(e.headers)[0]}", "${Object.values(e.headers)[0]}"` : "nil, nil"} }`).join(", ")} }
local i = 0
request = function()
  i = i % #paths + 1
  local p = paths[i]
  local h = {}
  if p[2] then h[p[2]] = p[3] end
  return wrk.format("GET", p[1], h)
end
`,
);
const rssSamples: { requests: number; mb: number }[] = [];
{
  const p = await startOurs();
  let total = 0;
  rssSamples.push({ requests: 0, mb: rssMb(p.pid) });
  while (total < 100_000) {
    const r = await wrk(p.url + "/", { connections: 32, seconds: 3, script: mix });
    total += r.requests;
    rssSamples.push({ requests: total, mb: rssMb(p.pid) });
  }
  await p.stop();
}

// --- cost as the data grows ------------------------------------------------------------------
// One copy of the data directory per size, measured in turn three times (100, 10k, 100k, 100,
// …) and the median kept: a slow moment of the machine then cannot pass for growth.
type Scale = { wikis: number; api1: WrkResult; ssr1: WrkResult; api32: WrkResult; ssr32: WrkResult; check1: WrkResult };
const SIZES = [100, 10_000, 100_000];
const copies = SIZES.map((n) => {
  const copy = `${dir}-${n}`;
  fs.cpSync(dir, copy, { recursive: true });
  const copyEnv = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith(dir) ? copy + v.slice(dir.length) : v]));
  seedWikis(copyEnv.ROBOT_DB_PATH, n);
  return { n, copy, env: copyEnv };
});
const runs = new Map<number, Scale[]>(SIZES.map((n) => [n, []]));
for (let round = 0; round < 3; round++) {
  for (const c of copies) {
    const p = await startNode(SERVER, c.env, logFile(`platform-${c.n}`));
    const [api, ssr, check] = [ENDPOINTS[3], ENDPOINTS[4], ENDPOINTS[0]];
    runs.get(c.n)!.push({
      wikis: c.n,
      api1: await measure(p, api, 1),
      ssr1: await measure(p, ssr, 1),
      api32: await measure(p, api, 32),
      ssr32: await measure(p, ssr, 32),
      check1: await measure(p, check, 1),
    });
    await p.stop();
  }
}
const medianRun = (xs: Scale[], pick: (s: Scale) => WrkResult): WrkResult => {
  const sorted = [...xs].sort((a, b) => pick(a).p50 - pick(b).p50);
  return pick(sorted[1]);
};
const scaling: Scale[] = SIZES.map((n) => {
  const xs = runs.get(n)!;
  return { wikis: n, api1: medianRun(xs, (s) => s.api1), ssr1: medianRun(xs, (s) => s.ssr1), api32: medianRun(xs, (s) => s.api32), ssr32: medianRun(xs, (s) => s.ssr32), check1: medianRun(xs, (s) => s.check1) };
});
for (const c of copies) fs.rmSync(c.copy, { recursive: true, force: true });

// --- report ------------------------------------------------------------------------------------
const mark = (ok: boolean) => (ok ? "✅" : "❌");
const ceiling = rows.get(ENDPOINTS.find((e) => e.kind === "ceiling")!.name)!;
say(`# robot.wtf platform benchmark — ${new Date().toISOString().slice(0, 16)}Z`);
say();
say(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${f(os.totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, ${os.type()} ${os.release()}; wrk 1 thread on the same host; ${SECONDS} s per run after a 1 s warm-up; every server measured in ${ROUNDS} interleaved rounds, median run shown; production build, NODE_ENV=production, LOG_LEVEL=info to a file.`);
say();
say("## Endpoints (one process)");
say();
say("| endpoint | req/s @1 | p50 @1 ms | p99 @1 ms | req/s @32 | p50 @32 ms | p99 @32 ms | (a) bare req/s @32 | ours/(a) | (b) rr-serve req/s @32 | ours/(b) |");
say("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const e of ENDPOINTS) {
  const r = rows.get(e.name)!;
  say(`| ${e.name} | ${f(r.ours1.rps)} | ${ms(r.ours1.p50)} | ${ms(r.ours1.p99)} | ${f(r.ours32.rps)} | ${ms(r.ours32.p50)} | ${ms(r.ours32.p99)} | ${f(r.a32.rps)} | ${f(r.ours32.rps / r.a32.rps, 2)} | ${f(r.b32.rps)} | ${f(r.ours32.rps / r.b32.rps, 2)} |`);
}
say();
say("## Targets");
say();
for (const e of ENDPOINTS) {
  const r = rows.get(e.name)!;
  if (e.kind === "probe") {
    say(`- ${mark(r.ours32.rps >= 0.5 * r.a32.rps && r.ours32.p99 < 5)} ${e.name}: ${f((100 * r.ours32.rps) / r.a32.rps)} % of bare (≥ 50 %), p99 @32 ${ms(r.ours32.p99)} ms (< 5)`);
  } else if (e.kind === "api") {
    say(`- ${mark(r.ours32.rps >= 2 * r.b32.rps && r.ours32.p99 < 20)} ${e.name}: ${f(r.ours32.rps / r.b32.rps, 2)}× rr-serve (≥ 2×), p99 @32 ${ms(r.ours32.p99)} ms (< 20)`);
  } else if (e.kind === "ssr") {
    say(`- ${mark(r.ours32.rps >= 0.8 * ceiling.ours32.rps && r.ours1.p50 < 5)} ${e.name}: ${f((100 * r.ours32.rps) / ceiling.ours32.rps)} % of the trivial SSR page (≥ 80 %), p50 @1 ${ms(r.ours1.p50)} ms (< 5)`);
  }
}
for (const [name, r] of Object.entries(cluster)) {
  const single = rows.get(name)!.ours32.rps;
  const kind = ENDPOINTS.find((e) => e.name === name)!.kind;
  const target = kind === "probe" ? "(no target)" : "(≥ 1.7×)";
  say(`- ${kind === "probe" ? "·" : mark(r.rps >= 1.7 * single)} WORKERS=2 ${name}: ${f(r.rps)} req/s @32 = ${f(r.rps / single, 2)}× one process ${target}, p99 ${ms(r.p99)} ms`);
}
const createMed = { api: median(apiCreates), ui: median(uiCreates) };
say(`- ${mark(createMed.api < 300 && createMed.ui < 300)} wiki create median: API ${ms(createMed.api)} ms, UI ${ms(createMed.ui)} ms over ${CREATES} each (< 300)`);
const readyMed = median(readyTimes);
say(`- ${mark(readyMed < 2000)} start to /readyz: median ${f(readyMed)} ms over ${readyTimes.length} restarts (< 2000); first start with migrations ${f(firstStartMs)} ms`);
const half = rssSamples.filter((s) => s.requests >= 50_000);
const last = rssSamples[rssSamples.length - 1];
const growth = half.length > 1 ? last.mb - half[0].mb : 0;
const peakRss = Math.max(...rssSamples.map((s) => s.mb));
say(`- ${mark(peakRss < 250 && growth < 10)} RSS: ${f(rssSamples[0].mb)} MB at start, ${f(last.mb)} MB after ${f(last.requests)} requests, peak ${f(peakRss)} MB (< 250); change over the second half ${growth >= 0 ? "+" : ""}${f(growth, 1)} MB (no upward trend)`);
const spread = (pick: (s: (typeof scaling)[number]) => number) => {
  const base = pick(scaling[0]);
  return Math.max(...scaling.map((s) => Math.abs(pick(s) / base - 1)));
};
const apiSpread = spread((s) => s.api1.p50);
const ssrSpread = spread((s) => s.ssr1.p50);
say(`- ${mark(apiSpread <= 0.2 && ssrSpread <= 0.2)} latency from 100 to 100,000 wikis: API p50 @1 within ${f(100 * apiSpread)} %, dashboard p50 @1 within ${f(100 * ssrSpread)} % (±20 %)`);
say();
say("## Cost as the data grows (wikis = users; each size measured three times in turn, the median run shown)");
say();
say("| wikis | /api/wikis p50 @1 | p99 @1 | req/s @32 | /app/ p50 @1 | p99 @1 | req/s @32 | check-slug p50 @1 |");
say("|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const s of scaling) say(`| ${f(s.wikis)} | ${ms(s.api1.p50)} | ${ms(s.api1.p99)} | ${f(s.api32.rps)} | ${ms(s.ssr1.p50)} | ${ms(s.ssr1.p99)} | ${f(s.ssr32.rps)} | ${ms(s.check1.p50)} |`);
say();
say("## RSS over the mixed load (every endpoint above in turn, 32 connections)");
say();
say(rssSamples.map((s) => `${f(s.requests / 1000)}k: ${f(s.mb)} MB`).join(" · "));
say();
say(`RSS after the endpoint matrix: ${f(oursRss)} MB. NODE_OPTIONS=${env.NODE_OPTIONS || "(none)"} (the unit's). Multi-process run: WORKERS=2 on ${os.cpus().length} cores, wrk on the same cores.`);

fs.mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
fs.writeFileSync(path.join(ROOT, "bench/results/latest.md"), out.join("\n") + "\n");
fs.writeFileSync(path.join(ROOT, "bench/results/latest.json"), JSON.stringify({ rows: Object.fromEntries(rows), cluster, apiCreates, uiCreates, readyTimes, firstStartMs, rssSamples, scaling }, null, 2));
fs.rmSync(dir, { recursive: true, force: true });
