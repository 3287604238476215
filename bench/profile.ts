// `node --import tsx bench/profile.ts <path> [cookie|bearer] [seconds]`: runs the production build
// under --cpu-prof, loads one endpoint with wrk (32 connections), and prints the functions with
// the most self time — the first step whenever a benchmark target is missed.
import fs from "node:fs";
import path from "node:path";
import { loadConfig } from "../app/server/config.server";
import { issuePlatformJwt, jwtSettings } from "../app/server/jwt.server";
import { loadKeys } from "../app/server/keys.server";
import { insertUser, makeDataDir, startNode, wrk } from "./lib";

const [target = "/healthz", auth = "", seconds = "5"] = process.argv.slice(2);
const { dir, env } = makeDataDir();
const profDir = path.join(dir, "prof");
const setup = await startNode(["build/server/index.js"], env, path.join(dir, "platform.log"));
const config = loadConfig(env);
const keys = await loadKeys(config);
insertUser(env.ROBOT_DB_PATH, "did:plc:profileprofileprofilepr", "profile.bsky.social");
const jwt = await issuePlatformJwt(keys.signing, jwtSettings(config), { did: "did:plc:profileprofileprofilepr", handle: "profile.bsky.social", name: "p" });
const headers: Record<string, string> =
  auth === "cookie" ? { Cookie: `platform_token=${jwt}` } : auth === "bearer" ? { Authorization: `Bearer ${jwt}` } : {};
await fetch(setup.url + "/api/wikis", { method: "POST", headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" }, body: JSON.stringify({ slug: "profwiki", display_name: "Prof" }) });
await setup.stop();

const p = await startNode(["--cpu-prof", "--cpu-prof-dir", profDir, "build/server/index.js"], env, path.join(dir, "platform.log"));
const r = await wrk(p.url + target, { connections: 32, seconds: Number(seconds), headers });
await p.stop();
console.log(`${target}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, non-2xx ${r.non2xx}`);

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number; children?: number[] };
const file = fs.readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"))!;
const prof = JSON.parse(fs.readFileSync(path.join(profDir, file), "utf8")) as { nodes: Node[] };
const total = prof.nodes.reduce((a, n) => a + n.hitCount, 0);
const self = new Map<string, number>();
for (const n of prof.nodes) {
  const where = n.callFrame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/build\//, "build/");
  const key = `${n.callFrame.functionName || "(anonymous)"} ${where}:${n.callFrame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + n.hitCount);
}
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 30))) console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
// INCLUSIVE=<regex>: also the total time spent inside functions whose "name file:line" matches
// (their callees included, a recursive call counted once), to see what a loader or a render costs.
if (process.env.INCLUSIVE) {
  const wanted = new RegExp(process.env.INCLUSIVE);
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const keyOf = (n: Node) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/build\//, "build/")}:${n.callFrame.lineNumber + 1}`;
  const inclusive = new Map<string, number>();
  const walk = (n: Node, open: Set<string>) => {
    const key = keyOf(n);
    const counts = wanted.test(key) && !open.has(key);
    if (counts) open.add(key);
    for (const k of open) inclusive.set(k, (inclusive.get(k) ?? 0) + n.hitCount);
    for (const c of n.children ?? []) walk(byId.get(c)!, open);
    if (counts) open.delete(key);
  };
  walk(prof.nodes[0], new Set());
  console.log("inclusive:");
  for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
}
if (process.env.KEEP_PROFILE) console.log("profile:", path.join(profDir, file));
else fs.rmSync(dir, { recursive: true, force: true });
