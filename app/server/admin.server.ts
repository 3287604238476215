// The admin "System Status" page (management.md §3.5). Every block is computed on request
// and degrades on its own: a failure is logged with its cause and the block shows its
// fallback. Commands run with execFile (no shell), a 10 s timeout and 64 KiB of output.
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import { wikiUrl } from "./config.server";
import { errorDetails } from "./log.server";
import type { Platform } from "./platform.server";

export const COMMAND_TIMEOUT_MS = 10_000;
export const COMMAND_OUTPUT_CAP = 64 * 1024;
export const JOURNAL_UNAVAILABLE = "(journal unavailable)";
const GIB = 1024 ** 3;

export interface ServiceStatus {
  unit: string;
  status: string;
  active: boolean;
}

export interface DiskUsage {
  path: string;
  usedGb: string;
  freeGb: string;
  totalGb: string;
  percent: number;
}

export interface AdminWiki {
  slug: string;
  display_name: string;
  url: string;
  owner_did: string;
  owner_handle: string | null;
  created: string;
  last_accessed: string;
  page_count: number;
  disk_usage_bytes: number;
}

export interface SystemStatus {
  services: ServiceStatus[];
  disk: DiskUsage;
  counts: { wikis: number; users: number };
  wikis: AdminWiki[];
  journal: string;
}

/** The executables; tests substitute scripts. */
export interface StatusCommands {
  systemctl: string;
  journalctl: string;
}

const DEFAULT_COMMANDS: StatusCommands = { systemctl: "systemctl", journalctl: "journalctl" };

interface CommandResult {
  stdout: string;
  exitCode: number | null;
  error?: unknown;
}

/** execFile without a shell; output beyond the cap is cut (and the command stopped), not an error. */
function runCommand(file: string, args: string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: COMMAND_TIMEOUT_MS, killSignal: "SIGKILL", maxBuffer: COMMAND_OUTPUT_CAP, encoding: "utf8", windowsHide: true },
      (error, stdout) => {
        const out = String(stdout ?? "").slice(0, COMMAND_OUTPUT_CAP);
        if (!error) return resolve({ stdout: out, exitCode: 0 });
        const code = (error as { code?: unknown }).code;
        if (code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER") return resolve({ stdout: out, exitCode: 0 });
        resolve({ stdout: out, exitCode: typeof code === "number" ? code : null, error });
      },
    );
  });
}

/**
 * `systemctl is-active` prints one state per unit (and exits non-zero when any is not
 * active). Anything else — no systemd, no binary, a timeout — shows `unknown` for every unit.
 */
export async function serviceStatuses(platform: Platform, commands: StatusCommands = DEFAULT_COMMANDS): Promise<ServiceStatus[]> {
  const units = platform.config.adminServices;
  const unknown = units.map((unit) => ({ unit, status: "unknown", active: false }));
  if (units.length === 0) return [];
  const result = await runCommand(commands.systemctl, ["is-active", ...units]);
  const lines = result.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  if (lines.length !== units.length || !lines.every((l) => /^[a-z-]+$/.test(l))) {
    platform.log.warn(
      { exitCode: result.exitCode, err: result.error ? errorDetails(result.error) : undefined },
      "admin: systemctl is-active gave no usable answer",
    );
    return unknown;
  }
  return units.map((unit, i) => ({ unit, status: lines[i], active: lines[i] === "active" }));
}

export async function diskUsage(platform: Platform): Promise<DiskUsage> {
  const target = platform.config.adminDiskPath;
  let total = 0;
  let used = 0;
  let free = 0;
  try {
    const s = await fsp.statfs(target);
    // As Python's shutil.disk_usage: free = space available to unprivileged users.
    total = s.blocks * s.bsize;
    used = (s.blocks - s.bfree) * s.bsize;
    free = s.bavail * s.bsize;
  } catch (err) {
    platform.log.warn({ path: target, err: errorDetails(err) }, "admin: statfs failed");
  }
  const gb = (bytes: number) => (bytes / GIB).toFixed(1);
  return {
    path: target,
    usedGb: gb(used),
    freeGb: gb(free),
    totalGb: gb(total),
    percent: total > 0 ? Math.floor((used / total) * 100) : 0,
  };
}

export async function journalTail(platform: Platform, commands: StatusCommands = DEFAULT_COMMANDS): Promise<string> {
  const units = platform.config.adminServices;
  if (units.length === 0) return JOURNAL_UNAVAILABLE;
  const args = [...units.flatMap((unit) => ["-u", unit]), "-n", "50", "--no-pager"];
  const result = await runCommand(commands.journalctl, args);
  if (result.exitCode !== 0 || result.stdout.trim() === "") {
    platform.log.warn(
      { exitCode: result.exitCode, err: result.error ? errorDetails(result.error) : undefined },
      "admin: journalctl gave no output",
    );
    return JOURNAL_UNAVAILABLE;
  }
  return result.stdout;
}

async function platformCounts(platform: Platform): Promise<{ wikis: number; users: number }> {
  try {
    const [wikis, users] = await Promise.all([platform.db.wiki.count(), platform.db.user.count()]);
    return { wikis, users };
  } catch (err) {
    platform.log.error({ err: errorDetails(err) }, "admin: counting rows failed");
    return { wikis: 0, users: 0 };
  }
}

/**
 * The table shows the newest this many wikis (the counts card has the total): at 100,000 wikis
 * the whole list would be a ~40 MB page that no one reads and a heap spike of hundreds of MB.
 */
export const ADMIN_WIKI_ROWS = 1000;

async function allWikis(platform: Platform): Promise<AdminWiki[]> {
  try {
    const rows = await platform.db.wiki.findMany({
      orderBy: [{ created_at: "desc" }, { slug: "asc" }],
      take: ADMIN_WIKI_ROWS,
      include: { owner: { select: { handle: true } } },
    });
    return rows.map((w) => ({
      slug: w.slug,
      display_name: w.display_name,
      url: wikiUrl(platform.config, w.slug),
      owner_did: w.owner_did,
      owner_handle: w.owner?.handle ?? null,
      created: w.created_at.slice(0, 10),
      last_accessed: w.last_accessed.slice(0, 10),
      page_count: w.page_count ?? 0,
      disk_usage_bytes: w.disk_usage_bytes ?? 0,
    }));
  } catch (err) {
    platform.log.error({ err: errorDetails(err) }, "admin: listing wikis failed");
    return [];
  }
}

export async function systemStatus(platform: Platform, commands: StatusCommands = DEFAULT_COMMANDS): Promise<SystemStatus> {
  const [services, disk, counts, wikis, journal] = await Promise.all([
    serviceStatuses(platform, commands),
    diskUsage(platform),
    platformCounts(platform),
    allWikis(platform),
    journalTail(platform, commands),
  ]);
  return { services, disk, counts, wikis, journal };
}
