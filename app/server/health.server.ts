// Readiness (D16, management.md §9): database reachable, keys loaded, WIKI_BASE writable.
import fs from "node:fs";
import { errorDetails } from "./log.server";
import type { Platform } from "./platform.server";

export type CheckResult = "ok" | "error";

/** Liveness (D16): the process answers; no database involved. */
export const LIVENESS = { status: "ok" } as const;

export async function readiness(platform: Platform) {
  const checks: Record<"database" | "keys" | "wiki_base", CheckResult> = { database: "ok", keys: "ok", wiki_base: "ok" };
  try {
    await platform.db.$queryRawUnsafe("SELECT 1");
  } catch (err) {
    checks.database = "error";
    platform.log.error({ err: errorDetails(err) }, "readiness: database check failed");
  }
  const k = platform.keys;
  if (!k?.signing?.privateKey || !k.clientJwk?.d || k.consentKey?.length !== 32) {
    checks.keys = "error";
    platform.log.error("readiness: keys are not loaded");
  }
  try {
    if (!fs.statSync(platform.config.wikiBase).isDirectory()) throw new Error("not a directory");
    fs.accessSync(platform.config.wikiBase, fs.constants.W_OK);
  } catch (err) {
    checks.wiki_base = "error";
    platform.log.error({ err: errorDetails(err), wikiBase: platform.config.wikiBase }, "readiness: WIKI_BASE check failed");
  }
  const ready = Object.values(checks).every((c) => c === "ok");
  return { ready, body: { status: ready ? "ready" : "not_ready", checks } };
}
