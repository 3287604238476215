#!/usr/bin/env bash
# backup -> wipe -> restore round trip on a data dir built with sqlite3 and git; a
# refused non-empty target; tampered, incomplete and padded backups are refused; a
# broken database fails the backup without leaving a partial directory.
source "$(dirname "$0")/lib.sh"
require_cmd sqlite3; require_cmd git; require_cmd openssl; require_cmd sha256sum coreutils

ME="$(id -un):$(id -gn)"
D="$T/srv/data"
B="$T/backups"
bash "$HELPERS/make-data-dir.sh" "$D" >"$T/make.log" 2>&1 || fatal "could not build the test data dir: $(cat "$T/make.log")"
git() { command git -c safe.directory='*' "$@"; }

# A writer holds robot.db open with a committed row that is still only in the WAL (no
# checkpoint), as the live platform would: the online backup must contain it.
mkfifo "$T/writer.fifo"
sqlite3 "$D/robot.db" <"$T/writer.fifo" >"$T/writer.log" 2>&1 &
WRITER=$!; BG_PIDS+=("$WRITER")
exec 7>"$T/writer.fifo"
printf "PRAGMA wal_autocheckpoint=0;\nINSERT INTO users VALUES ('did:plc:walonly', 'wal.test', NULL, NULL, '2025-04-01T00:00:00.000000+00:00', 0);\nSELECT 'inserted';\n" >&7
for _ in $(seq 1 50); do grep -q inserted "$T/writer.log" 2>/dev/null && break; sleep 0.1; done
grep -q inserted "$T/writer.log" || fatal "the WAL writer did not start: $(cat "$T/writer.log")"
[[ -s "$D/robot.db-wal" ]] && ok "robot.db has uncheckpointed WAL content during the backup" || bad "expected a non-empty robot.db-wal"

# ---- state before -----------------------------------------------------------------------
state() { # DATA_DIR -> a description of everything that must survive
  local d=$1 w
  echo "== robot.db"; sqlite3 "$d/robot.db" .dump
  for w in alice bob carol dave; do
    echo "== $w wiki.db"; sqlite3 "$d/wikis/$w/wiki.db" .dump
    echo "== $w refs"; git -C "$d/wikis/$w/repo" for-each-ref --format='%(objectname) %(refname)'
    echo "== $w HEAD"; git -C "$d/wikis/$w/repo" symbolic-ref -q HEAD || git -C "$d/wikis/$w/repo" rev-parse -q --verify HEAD || echo "(unborn)"
    echo "== $w bare"; git -C "$d/wikis/$w/repo" rev-parse --is-bare-repository
    echo "== $w status"; git -C "$d/wikis/$w/repo" status --porcelain=v1 --untracked-files=all
    echo "== $w config"; git -C "$d/wikis/$w/repo" config --local --list | grep -v '^remote\.' | LC_ALL=C sort
    echo "== $w files"; (cd "$d/wikis/$w/repo" && find . -path ./.git -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
  done
  for k in signing_key.pem signing_key.pub client_jwk.json; do echo "== $k"; sha256sum <"$d/$k"; done
}
state "$D" >"$T/before.txt"
alice_head=$(git -C "$D/wikis/alice/repo" rev-parse HEAD)

# ---- backup -----------------------------------------------------------------------------
run "$SCRIPTS/backup" --data-dir "$D" --dest "$B" --keep 5
assert_rc 0 "backup of a live data dir"
mapfile -t made < <(find "$B" -mindepth 1 -maxdepth 1 -name 'robot-backup-*' -printf '%f\n')
assert_eq 1 "${#made[@]}" "exactly one backup directory"
BK="$B/${made[0]}"
[[ "${made[0]}" =~ ^robot-backup-[0-9]{8}T[0-9]{6}Z$ ]] && ok "backup dir name has a UTC timestamp" || bad "backup dir name: ${made[0]}"
assert_mode "$BK" 700
for f in robot.db signing_key.pem signing_key.pub client_jwk.json INFO MANIFEST.sha256 \
         wikis/alice/wiki.db wikis/alice/repo.bundle wikis/alice/repo.head wikis/alice/repo.config \
         wikis/bob/repo.bundle wikis/carol/repo.empty wikis/carol/wiki.db wikis/dave/repo.bundle; do
  assert_file "$BK/$f" "backup contains $f"
done
assert_mode "$BK/robot.db" 600
assert_mode "$BK/signing_key.pem" 600
assert_mode "$BK/wikis/alice/wiki.db" 600
assert_no_path "$BK/wikis/.tmp" "the platform-private .tmp dir is not backed up"
assert_no_path "$BK/wikis/.trash" "the .trash dir is not backed up"
assert_no_path "$BK/wikis/.orphaned" "the .orphaned dir is not backed up"
assert_no_path "$BK/wikis/carol/repo.bundle" "no bundle for a repository without commits"
assert_eq "refs/heads/drafts" "$(cat "$BK/wikis/bob/repo.head")" "bob's checked-out branch recorded"
run bash -c "cd '$BK' && sha256sum --check --strict --quiet MANIFEST.sha256"
assert_rc 0 "MANIFEST.sha256 verifies with sha256sum -c"
files_on_disk=$(cd "$BK" && find . -type f ! -name MANIFEST.sha256 | wc -l)
assert_eq "$files_on_disk" "$(wc -l <"$BK/MANIFEST.sha256")" "the manifest lists every file"
assert_eq "1" "$(sqlite3 "$BK/robot.db" "SELECT count(*) FROM users WHERE did='did:plc:walonly'")" \
  "the row still in the WAL is in the backup (online .backup)"
assert_eq "$alice_head" "$(git -C "$D/wikis/alice/repo" bundle list-heads "$BK/wikis/alice/repo.bundle" refs/heads/main | cut -d' ' -f1)" \
  "the bundle has alice's main at the same commit"
assert_no_path "$B/.partial-${made[0]}" "no partial directory left"

# stop the writer (its exit checkpoints the WAL into robot.db)
printf '.quit\n' >&7; exec 7>&-; wait "$WRITER" 2>/dev/null || true

# ---- restore: refusals first ----------------------------------------------------------------
mkdir -p "$T/nonempty"; echo keep >"$T/nonempty/file"
run "$SCRIPTS/restore" "$BK" --data-dir "$T/nonempty" --owner "$ME"
assert_rc 1 "restore into a non-empty directory is refused"
assert_contains "$OUT" "refusing to restore into the non-empty directory" "…with a message"
assert_eq "keep" "$(cat "$T/nonempty/file")" "…and the directory is untouched"
assert_eq "1" "$(ls -A "$T/nonempty" | wc -l)" "…and nothing was added"

run "$SCRIPTS/restore" "$BK"
assert_rc 2 "restore without --data-dir is a usage error"

run "$SCRIPTS/restore" "$BK" --verify-only
assert_rc 0 "--verify-only on an intact backup"

# ---- wipe and restore ------------------------------------------------------------------------
rm -rf "$D"
run "$SCRIPTS/restore" "$BK" --data-dir "$D" --owner "$ME"
assert_rc 0 "restore into a fresh directory"
[[ $RC == 0 ]] || fatal "restore failed; the remaining checks need it"
state "$D" >"$T/after.txt" 2>&1 || true
# the restored robot.db additionally holds the WAL-only row, which the live DB had too
if diff -u "$T/before.txt" "$T/after.txt" >"$T/state.diff"; then
  ok "everything survived: robot.db and wiki.db dumps, all refs (same commit ids), HEADs, configs, working trees, keys"
else
  bad "state after restore differs:"$'\n'"$(head -n 60 "$T/state.diff")"
fi
assert_eq "$alice_head" "$(git -C "$D/wikis/alice/repo" rev-parse HEAD)" "alice HEAD commit id equal"
assert_eq "refs/heads/main" "$(git -C "$D/wikis/alice/repo" symbolic-ref HEAD)" "alice has main checked out"
assert_eq "refs/heads/drafts" "$(git -C "$D/wikis/bob/repo" symbolic-ref HEAD)" "bob has drafts checked out"
assert_eq "false" "$(git -C "$D/wikis/bob/repo" rev-parse --is-bare-repository)" "restored repos are non-bare"
assert_file "$D/wikis/bob/repo/Draft.md" "bob's working tree is checked out"
assert_eq "" "$(git -C "$D/wikis/alice/repo" remote)" "no remote pointing at the backup"
assert_eq "updateInstead" "$(git -C "$D/wikis/bob/repo" config receive.denyCurrentBranch)" "repo config restored"
assert_eq "a note" "$(git -C "$D/wikis/alice/repo" notes show HEAD 2>&1)" "git notes restored"
assert_eq "refs/heads/main" "$(git -C "$D/wikis/carol/repo" symbolic-ref HEAD)" "empty repo restored with its branch"
assert_eq "1" "$(sqlite3 "$D/robot.db" "SELECT count(*) FROM users WHERE did='did:plc:walonly'")" "the WAL-only row restored"
assert_eq "ok" "$(sqlite3 "$D/robot.db" 'PRAGMA integrity_check')" "restored robot.db passes integrity_check"
assert_mode "$D/robot.db" 600
assert_mode "$D/signing_key.pem" 600
assert_mode "$D/client_jwk.json" 600
for w in alice bob carol dave; do assert_mode "$D/wikis/$w/wiki.db" 600; done
assert_no_path "$D/wikis/.tmp" "no platform-private dirs restored"

# restoring into an existing EMPTY directory also works
mkdir "$T/empty"
run "$SCRIPTS/restore" "$BK" --data-dir "$T/empty" --owner "$ME" --no-keys
assert_rc 0 "restore into an existing empty directory"
assert_no_path "$T/empty/signing_key.pem" "--no-keys leaves the keys out"

# ---- tampering ------------------------------------------------------------------------------
tamper_case() { # NAME EXPECTED_MESSAGE MUTATION...
  local name=$1 msg=$2; shift 2
  rm -rf "$T/tampered" "$T/target"
  cp -a "$BK" "$T/tampered"
  "$@"
  run "$SCRIPTS/restore" "$T/tampered" --data-dir "$T/target" --owner "$ME"
  assert_rc 1 "tampered backup refused: $name"
  assert_contains "$OUT" "$msg" "…names the problem ($name)"
  assert_contains "$OUT" "nothing was restored" "…and restores nothing ($name)"
  assert_no_path "$T/target" "…the target is not even created ($name)"
}
flip_byte() { # FILE: change one byte in the middle
  local f=$1 size off b
  size=$(stat -c %s "$f"); off=$((size / 2))
  b=$(dd if="$f" bs=1 skip="$off" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
  printf "$(printf '\\%03o' $(( (b + 1) % 256 )))" | dd of="$f" bs=1 seek="$off" count=1 conv=notrunc 2>/dev/null
}
tamper_case "one byte of a wiki.db changed" "wikis/alice/wiki.db: FAILED" flip_byte "$T/tampered/wikis/alice/wiki.db"
tamper_case "one byte of a bundle changed" "wikis/bob/repo.bundle: FAILED" flip_byte "$T/tampered/wikis/bob/repo.bundle"
tamper_case "robot.db replaced" "robot.db: FAILED" cp "$D/wikis/alice/wiki.db" "$T/tampered/robot.db"
tamper_case "a file deleted" "files missing from the backup: wikis/dave/repo.head" rm "$T/tampered/wikis/dave/repo.head"
tamper_case "a file added" "files not in the manifest: wikis/evil/wiki.db" \
  bash -c "mkdir '$T/tampered/wikis/evil' && cp '$T/tampered/wikis/alice/wiki.db' '$T/tampered/wikis/evil/wiki.db'"
tamper_case "manifest path escapes" "unsafe path" \
  bash -c "printf '%064d  ../../etc/passwd\n' 0 >>'$T/tampered/MANIFEST.sha256'"
tamper_case "manifest line edited" "robot.db: FAILED" \
  sed -i -E 's/^[0-9a-f]{64}(  robot\.db)$/0000000000000000000000000000000000000000000000000000000000000000\1/' "$T/tampered/MANIFEST.sha256"
rm -rf "$T/tampered"; cp -a "$BK" "$T/tampered"; rm "$T/tampered/MANIFEST.sha256"
run "$SCRIPTS/restore" "$T/tampered" --data-dir "$T/target" --owner "$ME"
assert_rc 1 "a backup without MANIFEST.sha256 is refused"
assert_contains "$OUT" "has no MANIFEST.sha256" "…with a message"

# ---- ownership: root backs up and restores repositories of the service user ----------------
if [[ $EUID -eq 0 ]]; then
  rm -rf "$T/owned"; mkdir "$T/owned"
  bash "$HELPERS/make-data-dir.sh" "$T/owned/data" >/dev/null 2>&1
  chown -R nobody:nogroup "$T/owned/data"
  run "$SCRIPTS/backup" --data-dir "$T/owned/data" --dest "$T/owned/backups" --no-prune
  assert_rc 0 "root backs up repositories owned by another user (git safe.directory)"
  run "$SCRIPTS/restore" "$(ls -d "$T"/owned/backups/robot-backup-*)" --data-dir "$T/owned/restored" --owner nobody:nogroup
  assert_rc 0 "root restores with --owner nobody:nogroup"
  assert_eq "nobody:nogroup" "$(find "$T/owned/restored" \( ! -user nobody -o ! -group nogroup \) -printf x | wc -c | sed 's/^0$/nobody:nogroup/')" \
    "every restored file belongs to the owner"
  run "$SCRIPTS/restore" "$(ls -d "$T"/owned/backups/robot-backup-*)" --data-dir "$T/owned/restored2"
  if id -u robot >/dev/null 2>&1; then
    assert_rc 0 "default owner robot:robot"
  else
    assert_rc 1 "as root without --owner and without a robot user: refused"
    assert_contains "$OUT" "user 'robot' does not exist" "…with a message"
  fi
else
  note "NOT RUN (needs root): backup/restore of repositories owned by another user; the rest ran as $(id -un)"
fi

# ---- paths from the environment file; rows without directories -----------------------------------
# The database, the wikis and the keys in three different places, as an environment file
# may have them; one wikis row has no directory, one directory has no row.
S="$T/split"
mkdir -p "$S/db" "$S/keys"
cp -a "$D/wikis" "$S/wiki-base"
cp -a "$D/robot.db" "$S/db/robot.db"
cp -a "$D/signing_key.pem" "$D/signing_key.pub" "$D/client_jwk.json" "$S/keys/"
mv "$S/wiki-base/dave" "$S/wiki-base/erin"
cat >"$S/robot.env" <<ENV
# a comment
ROBOT_DB_PATH=$S/db/robot.db
WIKI_BASE="$S/wiki-base"
SIGNING_KEY_PATH=$S/keys/signing_key.pem
CLIENT_JWK_PATH=$S/keys/client_jwk.json
ENV
run "$SCRIPTS/backup" --env-file "$S/robot.env" --dest "$S/backups" --no-prune -q
assert_rc 0 "backup --env-file (robot.db, WIKI_BASE and keys outside one data dir)"
SB=$(ls -d "$S"/backups/robot-backup-* 2>/dev/null | head -n 1)
for f in robot.db signing_key.pem signing_key.pub client_jwk.json wikis/alice/repo.bundle wikis/bob/wiki.db wikis/erin/repo.bundle; do
  assert_file "$SB/$f" "…the backup has $f"
done
assert_contains "$OUT" "the wikis row 'dave' has no usable directory" "…warns about a wikis row without a directory, also with -q"
assert_contains "$OUT" "wiki-base/erin has no wikis row" "…and about a directory without a row"
assert_contains "$(cat "$SB/INFO")" "wiki_base: $S/wiki-base" "…INFO records where the wikis came from"
run "$SCRIPTS/restore" "$SB" --data-dir "$S/restored" --owner "$ME"
assert_rc 0 "…and it restores"
assert_eq "$alice_head" "$(git -C "$S/restored/wikis/alice/repo" rev-parse HEAD)" "…alice's HEAD commit id equal"
run "$SCRIPTS/backup" --env-file "$S/robot.env" --data-dir "$D" --dest "$S/backups"
assert_rc 2 "--env-file and --data-dir together are a usage error"
run "$SCRIPTS/backup" --env-file "$S/nope.env" --dest "$S/backups"
assert_rc 1 "a missing --env-file fails"

# ---- restore --create-user: a new host, where restore runs before install ------------------------
if [[ $EUID -eq 0 ]]; then
  nouser=robot-infra-nouser
  if id -u "$nouser" >/dev/null 2>&1; then fatal "user $nouser exists on this machine; this test needs it absent"; fi
  run "$SCRIPTS/restore" "$BK" --data-dir "$T/cu" --owner "$nouser"
  assert_rc 1 "restore for an owner that does not exist: refused"
  assert_contains "$OUT" "pass --create-user" "…pointing at --create-user"
  # useradd itself is a stand-in here (the tests create no users): it records its arguments
  mkdir -p "$T/fakebin"
  printf '#!/bin/sh\necho "$*" >>"%s"\nexit 9\n' "$T/useradd.args" >"$T/fakebin/useradd"
  chmod +x "$T/fakebin/useradd"
  run env PATH="$T/fakebin:$PATH" "$SCRIPTS/restore" "$BK" --data-dir "$T/cu" --owner "$nouser" --create-user
  assert_rc 1 "restore --create-user when useradd fails: refused"
  assert_contains "$OUT" "could not create user $nouser" "…with a message"
  assert_eq "--system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin --comment robot.wtf services $nouser" \
    "$(cat "$T/useradd.args" 2>/dev/null)" "…it asked for the same system user as install creates"
  assert_no_path "$T/cu" "…and left no target directory behind"
else
  run "$SCRIPTS/restore" "$BK" --data-dir "$T/cu" --create-user
  assert_rc 1 "restore --create-user without root: refused"
  assert_contains "$OUT" "needs root" "…with a message"
fi

# ---- a broken database fails the backup cleanly -----------------------------------------------
printf 'this is not a database at all, just text that is long enough to look like a file\n' >"$D/wikis/bob/wiki.db"
rm -f "$D/wikis/bob/wiki.db-wal" "$D/wikis/bob/wiki.db-shm"
before=$(find "$B" -mindepth 1 -maxdepth 1 | LC_ALL=C sort)
run "$SCRIPTS/backup" --data-dir "$D" --dest "$B"
assert_rc 1 "backup fails on an unreadable wiki.db"
assert_contains "$OUT" "wikis/bob/wiki.db" "…naming the file"
assert_contains "$OUT" "backup FAILED; nothing was kept" "…and says nothing was kept"
assert_eq "$before" "$(find "$B" -mindepth 1 -maxdepth 1 | LC_ALL=C sort)" "…and leaves no partial or new directory"

run "$SCRIPTS/backup" --data-dir "$T/does-not-exist" --dest "$B"
assert_rc 1 "backup of a missing data dir fails"
assert_contains "$OUT" "data directory not found" "…with a message"
run "$SCRIPTS/backup" --data-dir "$D" --dest "$D/backups"
assert_rc 1 "backup into the data dir itself is refused"

finish
