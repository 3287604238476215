// Starts the whole end-to-end topology (e2e/support/topology.ts) once for the browser suite:
// a real PLC + PDS, the production build twice (dev loopback client on http://127.0.0.1, and
// the confidential client behind Caddy on https://wtf.e2e.internal), and stand-in wiki hosts.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../app/tests/support/process";
import { startTopology } from "./support/topology";
import { startMcpHost } from "./support/mcp-host";
import { startWikiHost } from "./support/wiki-host";

export default async function globalSetup() {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "robot-e2e-"));
  const started = Date.now();
  let topologyRef: Awaited<ReturnType<typeof startTopology>> | undefined;
  const wikiHost = await startWikiHost({
    port: await freePort(),
    jwksUrl: () => `${topologyRef!.https.platformUrl}/.well-known/jwks.json`,
    robotDbPath: () => path.join(topologyRef!.https.dataDir, "robot.db"),
  });
  const mcpHost = await startMcpHost({ port: await freePort(), signingKeyPath: () => path.join(topologyRef!.https.dataDir, "signing_key.pem") });
  const mcpHostPort = mcpHost.port;
  const topology = await startTopology(runDir, { wikiHostPort: wikiHost.port, mcpHostPort });
  topologyRef = topology;
  const file = path.join(runDir, "topology.json");
  fs.writeFileSync(file, JSON.stringify({ ...topology, procs: undefined, mcpHostPort }, null, 2));
  process.env.E2E_TOPOLOGY = file;
  console.log(`[e2e] topology up in ${Date.now() - started} ms: dev ${topology.dev.url}, https ${topology.https.url}, PDS ${topology.pdsUrl}`);

  return async () => {
    for (const p of [...topology.procs].reverse()) await p.stop();
    await wikiHost.close();
    await mcpHost.close();
    if (process.env.E2E_KEEP) console.log(`[e2e] kept ${runDir}`);
    else fs.rmSync(runDir, { recursive: true, force: true });
  };
}
