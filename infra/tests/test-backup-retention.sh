#!/usr/bin/env bash
# backup retention: --keep-days (default 7), --keep N, --no-prune; only directories named
# robot-backup-<timestamp> are ever deleted, and the newest never is.
source "$(dirname "$0")/lib.sh"
require_cmd sqlite3; require_cmd git

D="$T/data"
mkdir -p "$D/wikis"
sqlite3 "$D/robot.db" "CREATE TABLE users (did TEXT PRIMARY KEY, handle TEXT NOT NULL);" >/dev/null

stamp_days_ago() { date -u -d "@$(( $(date -u +%s) - $1 * 86400 ))" +%Y%m%dT%H%M%SZ; }
make_old() { # DEST DAYS_AGO...
  local dest=$1 d; shift
  for d in "$@"; do mkdir -p "$dest/robot-backup-$(stamp_days_ago "$d")"; done
}
listing() { find "$1" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort; }
count_backups() { find "$1" -mindepth 1 -maxdepth 1 -type d -name 'robot-backup-*' | grep -cE 'robot-backup-[0-9]{8}T[0-9]{6}Z$' || true; }

# ---- default: 7 days --------------------------------------------------------------------------
B="$T/b1"
make_old "$B" 1 3 6 8 30 400
mkdir -p "$B/pre-upgrade" "$B/robot-backup-manual-copy" "$B/other"
run "$SCRIPTS/backup" --data-dir "$D" --dest "$B"
assert_rc 0 "backup with default retention"
assert_eq 4 "$(count_backups "$B")" "default keeps backups up to 7 days old (new + 1, 3, 6 days)"
for d in 8 30 400; do
  assert_no_path "$B/robot-backup-$(stamp_days_ago "$d")" "a $d-day-old backup is deleted"
done
for x in pre-upgrade robot-backup-manual-copy other; do
  [[ -d "$B/$x" ]] && ok "unrelated directory '$x' is never touched" || bad "unrelated directory '$x' was deleted"
done
assert_contains "$OUT" "retention: deleted" "deletions are reported"

# ---- --keep N --------------------------------------------------------------------------------
B="$T/b2"
make_old "$B" 1 2 3 4 5
run "$SCRIPTS/backup" --data-dir "$D" --dest "$B" --keep 3
assert_rc 0 "backup with --keep 3"
assert_eq 3 "$(count_backups "$B")" "--keep 3 leaves the 3 newest"
newest=$(listing "$B" | tail -n 1)
[[ -d "$B/$newest" && -f "$B/$newest/MANIFEST.sha256" ]] && ok "the new backup is among them" || bad "the new backup is missing"
assert_no_path "$B/robot-backup-$(stamp_days_ago 3)" "the 4th newest is deleted"

# ---- --keep-days D ---------------------------------------------------------------------------
B="$T/b3"
make_old "$B" 2 10
run env ROBOT_BACKUP_KEEP_DAYS=1 "$SCRIPTS/backup" --data-dir "$D" --dest "$B"
assert_rc 0 "backup with ROBOT_BACKUP_KEEP_DAYS=1"
assert_eq 1 "$(count_backups "$B")" "only today's backup is left with 1 day of retention"

# ---- both: a backup must satisfy both limits ---------------------------------------------------
B="$T/b4"
make_old "$B" 1 2 3 20
run "$SCRIPTS/backup" --data-dir "$D" --dest "$B" --keep 10 --keep-days 7
assert_rc 0 "backup with --keep 10 --keep-days 7"
assert_eq 4 "$(count_backups "$B")" "--keep 10 --keep-days 7 drops only the 20-day-old one"

# ---- --no-prune ------------------------------------------------------------------------------
B="$T/b5"
make_old "$B" 100 200
run "$SCRIPTS/backup" --data-dir "$D" --dest "$B" --no-prune
assert_rc 0 "backup with --no-prune"
assert_eq 3 "$(count_backups "$B")" "--no-prune deletes nothing"

# ---- the newest is never deleted, even when everything is "too old" ----------------------------
B="$T/b6"
run "$SCRIPTS/backup" --data-dir "$D" --dest "$B" --keep-days 0
assert_rc 0 "backup with --keep-days 0"
assert_eq 1 "$(count_backups "$B")" "the backup just made survives --keep-days 0"

# ---- two quick backups get distinct names; a concurrent run is refused ---------------------------
B="$T/b7"
run "$SCRIPTS/backup" --data-dir "$D" --dest "$B" -q
assert_rc 0 "quiet backup"
[[ -d "$OUT" ]] && ok "--quiet prints the new backup's path" || bad "--quiet output is not a directory: $OUT"
run "$SCRIPTS/backup" --data-dir "$D" --dest "$B" -q
assert_rc 0 "second backup in the same second"
assert_eq 2 "$(count_backups "$B")" "two backups, two directories"
exec 8>"$B/.backup.lock"; flock 8
run "$SCRIPTS/backup" --data-dir "$D" --dest "$B"
assert_rc 1 "a second concurrent backup is refused"
assert_contains "$OUT" "another backup is running" "…with a message"
exec 8>&-

# ---- usage errors ----------------------------------------------------------------------------
run "$SCRIPTS/backup" --keep 0 --data-dir "$D" --dest "$T/b8"
assert_rc 2 "--keep 0 is a usage error"
run "$SCRIPTS/backup" --keep-days seven --data-dir "$D" --dest "$T/b8"
assert_rc 2 "--keep-days must be a number"
run "$SCRIPTS/backup" --help
assert_rc 0 "--help"; assert_contains "$OUT" "MANIFEST.sha256" "--help describes the layout"

finish
