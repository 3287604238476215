// Housekeeping (management.md §5.5): at start-up and every 10 minutes. Start-up first settles
// the disk journal, so that after any crash no `wikis` row lacks its directory and no slug
// directory the platform created lacks its row. Every step runs on its own; a failing step
// is logged and the others still run.
import { errorDetails } from "./log.server";
import type { Platform } from "./platform.server";
import { purgeExpiredStates } from "./atproto.server";
import { purgeExpiredNonces } from "./consent.server";
import { parseIso } from "./time.server";
import { sweepPrivateDirs } from "./wiki-disk.server";
import { finishDelete, undoCreate, wikiDirOf } from "./wikis.server";

export const HOUSEKEEPING_INTERVAL_MS = 10 * 60 * 1000;
/** `.tmp`/`.trash` entries older than this are removed; journal entries this old are stale. */
export const PRIVATE_DIR_MAX_AGE_MS = 60 * 60 * 1000;

export interface HousekeepingReport {
  journal: { undone: string[]; finished: string[]; failed: string[] };
  swept: string[];
  oauthStatesPurged: number;
  consentNoncesPurged: number;
}

export interface HousekeepingOptions {
  /**
   * Start-up: settle every journal entry and sweep every `.tmp`/`.trash` entry. Periodic runs
   * only settle and sweep what is older than an hour, because younger ones may belong to a
   * request that is still running.
   */
  startup?: boolean;
  /** The clock of the sweep, the journal age and the nonce expiry (tests move it forward). */
  now?: number;
}

export async function runHousekeeping(platform: Platform, opts: HousekeepingOptions = {}): Promise<HousekeepingReport> {
  const now = opts.now ?? Date.now();
  const { log } = platform;
  const report: HousekeepingReport = {
    journal: { undone: [], finished: [], failed: [] },
    swept: [],
    oauthStatesPurged: 0,
    consentNoncesPurged: 0,
  };
  const step = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      log.error({ step: name, err: errorDetails(err) }, "housekeeping step failed");
    }
  };

  await step("journal", () => settleJournal(platform, opts.startup ? Infinity : now - PRIVATE_DIR_MAX_AGE_MS, report));
  await step("sweep", async () => {
    // At start-up nothing of this process is building or deleting yet, so every `.tmp`/`.trash`
    // entry is a crash's leftover (issue 7: none may remain after start-up housekeeping). Like
    // the journal step, this assumes start-up housekeeping runs before the process serves.
    const maxAge = opts.startup ? -Infinity : PRIVATE_DIR_MAX_AGE_MS;
    report.swept = (await sweepPrivateDirs(platform.config.wikiBase, maxAge, log, now)).removed;
  });
  await step("oauth_state", async () => {
    report.oauthStatesPurged = await purgeExpiredStates(platform.db);
  });
  await step("consent_nonces", async () => {
    report.consentNoncesPurged = await purgeExpiredNonces(platform.db, Math.floor(now / 1000));
  });

  const changed =
    report.journal.undone.length + report.journal.finished.length + report.journal.failed.length + report.swept.length +
    report.oauthStatesPurged + report.consentNoncesPurged;
  if (changed > 0) log.info({ report }, "housekeeping done");
  else log.debug("housekeeping: nothing to do");
  return report;
}

/**
 * Each journal entry is settled the way that leaves no half-done wiki behind:
 * - `create` (row committed, rename or clean-up unfinished; the client never got its token)
 *   is undone: build directory or renamed directory removed, row and counter reverted;
 * - `delete` (row already gone) is finished: the directory goes to its tombstone and away.
 */
async function settleJournal(platform: Platform, createdBefore: number, report: HousekeepingReport): Promise<void> {
  const entries = await platform.db.wikiDiskJournal.findMany({ orderBy: { created_at: "asc" } });
  for (const entry of entries) {
    const created = parseIso(entry.created_at)?.getTime() ?? -Infinity;
    if (created >= createdBefore) continue;
    try {
      if (entry.operation === "create") {
        await undoCreate(platform, entry.slug, entry.path);
        report.journal.undone.push(entry.slug);
      } else if (entry.operation === "delete") {
        if (await platform.db.wiki.findUnique({ where: { slug: entry.slug }, select: { slug: true } })) {
          // Cannot happen through the platform (the entry holds the slug); never delete a live wiki's files.
          platform.log.error({ slug: entry.slug, dir: wikiDirOf(platform.config, entry.slug) }, "journal: delete entry for a live wiki; entry dropped");
          await platform.db.wikiDiskJournal.delete({ where: { slug: entry.slug } });
          report.journal.failed.push(entry.slug);
        } else if (await finishDelete(platform, entry.slug, entry.path)) {
          report.journal.finished.push(entry.slug);
        } else {
          report.journal.failed.push(entry.slug);
        }
      } else {
        platform.log.error({ entry }, "journal: unknown operation; entry kept for ops");
        report.journal.failed.push(entry.slug);
      }
    } catch (err) {
      platform.log.error({ slug: entry.slug, operation: entry.operation, err: errorDetails(err) }, "journal: settling an entry failed");
      report.journal.failed.push(entry.slug);
    }
  }
}

/**
 * Runs housekeeping every 10 minutes on an unref'd timer (so it never keeps the process
 * alive). Runs never overlap. The returned function stops the timer and waits for a run in
 * progress.
 */
export function startHousekeeping(platform: Platform, intervalMs = HOUSEKEEPING_INTERVAL_MS): () => Promise<void> {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = runHousekeeping(platform)
      .catch((err: unknown) => platform.log.error({ err: errorDetails(err) }, "housekeeping run failed"))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

