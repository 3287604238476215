// robot.db is written by more than one process (the workers of the multi-process mode, the wiki
// and MCP servers). SQLite lets a deferred transaction that READ first write only if no other
// connection committed in between; otherwise it fails at once with SQLITE_BUSY, whatever the
// busy timeout. So every write transaction of the platform (writeTx) takes the write lock as it
// begins: another process then waits its turn instead of making this one fail.
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTx } from "~/server/wikis.server";
import { startTestPlatform, type TestPlatform } from "./support/platform";

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(() => tp.close());

describe("writeTx holds the write lock from its first statement", () => {
  it("a transaction that reads first still commits its write, and another connection cannot write in between", async () => {
    const user = await tp.createUser("locker.bsky.social");
    // Another process: no busy wait, so a held lock shows as an error at once.
    const other = new Database(path.join(tp.dataDir, "robot.db"), { timeout: 0 });
    try {
      let otherWrite: unknown = "not tried";
      await writeTx(tp.platform, async (tx) => {
        await tx.user.findUnique({ where: { did: user.did } });
        try {
          other.prepare("UPDATE users SET display_name = 'other' WHERE did = ?").run(user.did);
          otherWrite = "written";
        } catch (err) {
          otherWrite = (err as { code?: string }).code;
        }
        await tx.user.update({ where: { did: user.did }, data: { display_name: "mine" } });
      });
      expect(otherWrite).toBe("SQLITE_BUSY");
      expect(other.prepare("SELECT display_name FROM users WHERE did = ?").get(user.did)).toEqual({ display_name: "mine" });
    } finally {
      other.close();
    }
  });
});
