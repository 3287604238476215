// Prisma CLI configuration: fully offline (JS schema engine + better-sqlite3 driver adapter),
// see ../docs/decisions/003-prisma-offline.md. The database URL is derived from ROBOT_DB_PATH
// exactly as the server derives it, so the CLI and the server always use the same file.
import path from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { defineConfig } from "prisma/config";

function databaseUrl(): string {
  const explicit = process.env.ROBOT_DB_PATH;
  const dataDir = process.env.DATA_DIR ?? "./data";
  const file =
    explicit ?? (process.env.NODE_ENV === "production" ? "/srv/data/robot.db" : path.join(dataDir, "robot.db"));
  return "file:" + path.resolve(file);
}

// The CLI parses the schema before it calls adapter(); without a URL it falls back to the
// Rust engine and tries to download it.
process.env.DATABASE_URL = databaseUrl();

// migrate dev replays each migration through a one-statement call; fall back to a script.
function wrapMultiStatement<T extends object>(adapter: T): T {
  const a = adapter as unknown as { executeRaw?: (q: { sql: string }) => Promise<number>; executeScript?: (s: string) => Promise<void> };
  const original = a.executeRaw?.bind(adapter);
  if (original && a.executeScript) {
    a.executeRaw = async (q) => {
      try {
        return await original(q);
      } catch (err) {
        if (/more than one statement/i.test(JSON.stringify(err) + String((err as Error)?.message ?? err))) {
          await a.executeScript!(q.sql);
          return 0;
        }
        throw err;
      }
    };
  }
  return adapter;
}

// The wasm engine leaves a long timer armed after the command finishes; don't let it hold the CLI.
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const t = realSetTimeout(fn, ms, ...args);
  if ((ms ?? 0) > 10_000) (t as unknown as { unref?: () => void }).unref?.();
  return t;
}) as typeof setTimeout;

export default defineConfig({
  schema: path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "schema.prisma"),
  engine: "js",
  experimental: { adapter: true },
  async adapter() {
    const factory = new PrismaBetterSQLite3({ url: databaseUrl() });
    const connect = factory.connect.bind(factory);
    const connectShadow = factory.connectToShadowDb.bind(factory);
    return Object.assign(factory, {
      connect: async () => wrapMultiStatement(await connect()),
      connectToShadowDb: async () => wrapMultiStatement(await connectShadow()),
    });
  },
});
