// Hot-path reads (ADR 008) return exactly what Prisma returns for the same rows, and see every
// committed write at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestPlatform, type TestPlatform } from "./support/platform";

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(() => tp.close());

const at = (n: number) => `2025-03-0${n}T12:00:00.000000+00:00`;
const row = (slug: string, owner: string, created: string) => ({
  slug,
  owner_did: owner,
  display_name: `Wiki ${slug}`,
  repo_path: `/x/${slug}/repo`,
  mcp_token_hash: slug.padEnd(64, "0"),
  created_at: created,
  last_accessed: created,
});

describe("reads equal Prisma's answers", () => {
  it("users, with nulls and numbers as Prisma gives them", async () => {
    await tp.createUser("reader.test", "did:plc:reader", null);
    await tp.createUser("named.test", "did:plc:named", "Named");
    for (const did of ["did:plc:reader", "did:plc:named"]) {
      expect(tp.platform.reads.userByDid(did)).toEqual(await tp.platform.db.user.findUnique({ where: { did } }));
    }
    expect(tp.platform.reads.userByDid("did:plc:nobody")).toBeUndefined();
  });

  it("wikis by slug, by owner (oldest first, then slug) and their count", async () => {
    await tp.platform.db.wiki.create({ data: { ...row("zeta", "did:plc:reader", at(1)), page_count: 7 } });
    await tp.platform.db.wiki.create({ data: row("beta", "did:plc:reader", at(2)) });
    await tp.platform.db.wiki.create({ data: row("alpha", "did:plc:reader", at(2)) });
    await tp.platform.db.wiki.create({ data: row("other", "did:plc:named", at(1)) });
    const reads = tp.platform.reads;
    expect(reads.wikiBySlug("zeta")).toEqual(await tp.platform.db.wiki.findUnique({ where: { slug: "zeta" } }));
    expect(reads.wikiBySlug("nope")).toBeUndefined();
    expect(reads.wikiExists("beta")).toBe(true);
    expect(reads.wikiExists("BETA")).toBe(false);
    expect(reads.wikisOfOwner("did:plc:reader").map((w) => w.slug)).toEqual(["zeta", "alpha", "beta"]);
    expect(reads.wikisOfOwner("did:plc:reader")).toEqual(
      await tp.platform.db.wiki.findMany({ where: { owner_did: "did:plc:reader" }, orderBy: [{ created_at: "asc" }, { slug: "asc" }] }),
    );
    expect(reads.wikiCountOfOwner("did:plc:reader")).toBe(3);
    expect(reads.wikiCountOfOwner("did:plc:nobody")).toBe(0);
  });

  it("see a committed update and delete at once", async () => {
    await tp.platform.db.wiki.update({ where: { slug: "beta" }, data: { display_name: "Renamed" } });
    expect(tp.platform.reads.wikiBySlug("beta")?.display_name).toBe("Renamed");
    await tp.platform.db.wiki.delete({ where: { slug: "beta" } });
    expect(tp.platform.reads.wikiExists("beta")).toBe(false);
    expect(tp.platform.reads.wikiCountOfOwner("did:plc:reader")).toBe(2);
  });
});
