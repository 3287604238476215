// Once per vitest run: a migrated template robot.db that tests copy (so each test database is
// real and fresh without running the Prisma CLI every time), and a check that the production
// build exists, since integration tests drive the built request handler.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");

export default function setup() {
  if (!fs.existsSync(path.join(root, "build/server/index.js"))) {
    throw new Error("build/server/index.js is missing: run `npm run build` before vitest (npm test does).");
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "robot-template-"));
  const db = path.join(dir, "robot.db");
  execFileSync(process.execPath, ["node_modules/prisma/build/index.js", "migrate", "deploy", "--config", "prisma/prisma.config.ts"], {
    cwd: root,
    env: { ...process.env, ROBOT_DB_PATH: db },
    stdio: "pipe",
  });
  process.env.ROBOT_TEMPLATE_DB = db;
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
