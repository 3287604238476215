/** ISO-8601 UTC with microseconds and an explicit offset, the format robot.db uses (contracts.md §6). */
export function isoNow(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000+00:00");
}

/** Parse any ISO-8601 form robot.db may hold (with or without fraction, `Z` or `+00:00`). */
export function parseIso(value: string | null | undefined): Date | undefined {
  if (!value) return undefined;
  const d = new Date(value.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(d.getTime()) ? undefined : d;
}
