// Hot-path reads (ADR 008): the few lookups nearly every request makes — the signed-in user,
// a wiki by slug, an owner's wikis — as prepared statements on a read-only better-sqlite3
// connection to robot.db. A Prisma query costs ~0.4–1 ms of CPU here (its query compiler runs
// on every call), a prepared statement ~5 µs. Prisma keeps the schema, the migrations, every
// write and every read inside a transaction; WAL lets this connection read beside it, and each
// statement sees every committed write.
import Database from "better-sqlite3";
import type { User, Wiki } from "~/generated/prisma/client";

export interface Reads {
  userByDid(did: string): User | undefined;
  wikiBySlug(slug: string): Wiki | undefined;
  wikiExists(slug: string): boolean;
  /** An owner's wikis, oldest first (the dashboard's and GET /api/wikis' order). */
  wikisOfOwner(did: string): Wiki[];
  wikiCountOfOwner(did: string): number;
  close(): void;
}

export function openReads(dbPath: string): Reads {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  db.pragma("busy_timeout = 5000");
  const user = db.prepare<[string], User>("SELECT did, handle, display_name, avatar_url, created_at, wiki_count FROM users WHERE did = ?");
  const WIKI = "slug, owner_did, display_name, repo_path, mcp_token_hash, is_public, created_at, last_accessed, page_count, disk_usage_bytes";
  const wiki = db.prepare<[string], Wiki>(`SELECT ${WIKI} FROM wikis WHERE slug = ?`);
  const exists = db.prepare<[string], { one: number }>("SELECT 1 AS one FROM wikis WHERE slug = ?");
  const owned = db.prepare<[string], Wiki>(`SELECT ${WIKI} FROM wikis WHERE owner_did = ? ORDER BY created_at ASC, slug ASC`);
  const count = db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM wikis WHERE owner_did = ?");
  return {
    userByDid: (did) => user.get(did),
    wikiBySlug: (slug) => wiki.get(slug),
    wikiExists: (slug) => exists.get(slug) !== undefined,
    wikisOfOwner: (did) => owned.all(did),
    wikiCountOfOwner: (did) => count.get(did)!.n,
    close: () => db.close(),
  };
}
