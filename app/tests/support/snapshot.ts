// "Nothing changed": everything a request could have written — every robot.db table, and every
// file under WIKI_BASE (each wiki.db's rows included) — as one comparable value. Tests take it
// before and after a batch of refused requests and expect the two to be equal.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

export interface StateSnapshot {
  robotDb: Record<string, unknown[]>;
  /** Relative path → sha256 of the content (directories map to "dir"). */
  files: Record<string, string>;
  /** Relative path of each wiki.db → its tables' rows. */
  wikiDbs: Record<string, Record<string, unknown[]>>;
}

/** Every table's rows, in a stable order. */
export function dumpSqlite(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as Array<{ name: string }>;
    const out: Record<string, unknown[]> = {};
    for (const { name } of tables) {
      out[name] = (db.prepare(`SELECT * FROM "${name}"`).all() as unknown[]).map((r) => JSON.stringify(r)).sort();
    }
    return out;
  } finally {
    db.close();
  }
}

function walk(root: string, rel = "", out: Record<string, string> = {}): Record<string, string> {
  const here = path.join(root, rel);
  if (!fs.existsSync(here)) return out;
  for (const entry of fs.readdirSync(here, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(rel, entry.name);
    if (entry.isDirectory()) {
      out[p] = "dir";
      walk(root, p, out);
    } else if (entry.name.endsWith(".db-shm") || entry.name.endsWith(".db-wal")) {
      // SQLite's side files come and go with readers; the rows are compared below.
    } else if (entry.name === "wiki.db") {
      out[p] = "wiki.db";
    } else {
      out[p] = crypto.createHash("sha256").update(fs.readFileSync(path.join(root, p))).digest("hex");
    }
  }
  return out;
}

export function snapshotState(robotDbPath: string, wikiBase: string): StateSnapshot {
  const files = walk(wikiBase);
  const wikiDbs: StateSnapshot["wikiDbs"] = {};
  for (const [p, kind] of Object.entries(files)) if (kind === "wiki.db") wikiDbs[p] = dumpSqlite(path.join(wikiBase, p));
  return { robotDb: dumpSqlite(robotDbPath), files, wikiDbs };
}
