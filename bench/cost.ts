// `node --import tsx bench/cost.ts [seconds]`: CPU µs per request of each benchmarked endpoint on
// the production build, on stock react-router-serve's stack and on the bare baseline. Unlike
// req/s, CPU time per request hardly moves when something else loads the machine, so this is
// the figure to compare while optimising.
import path from "node:path";
import { loadConfig } from "../app/server/config.server";
import { issuePlatformJwt, jwtSettings } from "../app/server/jwt.server";
import { loadKeys } from "../app/server/keys.server";
import { DOMAIN, cpuSeconds, insertUser, makeDataDir, startNode, wrk } from "./lib";

const seconds = Number(process.argv[2] ?? 4);
const only = process.argv[3];
const { dir, env } = makeDataDir();
const log = path.join(dir, "server.log");
const setup = await startNode(["build/server/index.js"], env, log);
const config = loadConfig(env);
const keys = await loadKeys(config);
const did = "did:plc:costcostcostcostcostcost";
insertUser(env.ROBOT_DB_PATH, did, "cost.bsky.social");
const jwt = await issuePlatformJwt(keys.signing, jwtSettings(config), { did, handle: "cost.bsky.social", name: "c" });
await fetch(setup.url + "/api/wikis", { method: "POST", headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" }, body: JSON.stringify({ slug: "costwiki", display_name: "Cost" }) });
await setup.stop();

const endpoints: [string, string, Record<string, string>][] = [
  ["check-slug", `/api/internal/check-slug?domain=costwiki.${DOMAIN}`, {}],
  ["healthz", "/healthz", {}],
  ["jwks", "/.well-known/jwks.json", {}],
  ["api/wikis", "/api/wikis", { Authorization: `Bearer ${jwt}` }],
  ["app/", "/app/", { Cookie: `platform_token=${jwt}` }],
  ["app/wiki", "/app/wiki/costwiki", { Cookie: `platform_token=${jwt}` }],
  ["auth/login", "/auth/login", {}],
  ["/", "/", {}],
  ["404 page", "/no-such-page", {}],
];
const servers: [string, string[]][] = [
  ["ours", ["build/server/index.js"]],
  ["rr-serve", ["bench/rr-serve.mjs"]],
  ["bare", ["bench/baseline.mjs"]],
];
const table: Record<string, Record<string, string>> = {};
for (const [name, args] of servers) {
  if (only && !name.startsWith(only)) continue;
  const p = await startNode(args, env, log);
  for (const [label, url, headers] of endpoints.filter(([l]) => !process.argv[4] || new RegExp(process.argv[4]).test(l))) {
    await wrk(p.url + url, { connections: 8, seconds: 1, headers });
    const before = cpuSeconds(p.pid);
    const r = await wrk(p.url + url, { connections: 8, seconds, headers });
    const us = ((cpuSeconds(p.pid) - before) * 1e6) / r.requests;
    (table[label] ??= {})[name] = `${us.toFixed(0)} µs (${Math.round(r.rps)}/s${r.non2xx ? `, ${r.non2xx} non-2xx` : ""})`;
    if (name === "ours") {
      // What the answer holds: the render's cost follows the markup (elements), not the data.
      const body = await (await fetch(p.url + url, { headers })).text();
      table[label].bytes = String(body.length);
      table[label].elements = String((body.match(/<[a-z]/g) ?? []).length);
    }
  }
  await p.stop();
}
console.table(table);
