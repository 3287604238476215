// Starts the PRODUCTION BUILD of the platform for the browser suite (dev topology:
// http://127.0.0.1:<port>, generated keys in a throwaway DATA_DIR) and tears it down afterwards.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, spawnServer, waitForHttp } from "../app/tests/support/process";

export default async function globalSetup() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "robot-e2e-"));
  const port = await freePort();
  const server = spawnServer({
    NODE_ENV: "test",
    DATA_DIR: dataDir,
    HOST: "127.0.0.1",
    PORT: String(port),
    RATE_LIMITS_ENABLED: "false",
    LOG_LEVEL: "info",
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${baseUrl}/healthz`);
  } catch (err) {
    console.error(server.output());
    throw err;
  }
  process.env.E2E_BASE_URL = baseUrl;
  process.env.E2E_DATA_DIR = dataDir;
  return async () => {
    server.child.kill("SIGTERM");
    await server.exited;
    if (process.env.E2E_KEEP_LOGS) fs.writeFileSync(path.join(os.tmpdir(), "robot-e2e-server.log"), server.output());
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
