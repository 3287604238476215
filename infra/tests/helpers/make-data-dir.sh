#!/usr/bin/env bash
# Populate a data directory like production's /srv/data, using only sqlite3, git and
# openssl (no platform code):  make-data-dir.sh DIR
#   robot.db      spec/contracts.md §6.1 DDL (production variant), WAL, a few rows
#   keys          signing_key.pem (+ .pub), client_jwk.json (a stand-in)
#   wikis/alice   repo on main with history, a feature branch, tags, a note; wiki.db
#   wikis/bob     repo with branch "drafts" checked out and wiki-server config; wiki.db
#   wikis/carol   an empty repo (no commits yet); wiki.db
#   wikis/dave    a repo with a detached HEAD; wiki.db
#   wikis/.tmp, .trash, .orphaned   platform-private dirs that backups must skip
set -euo pipefail
D=${1:?usage: make-data-dir.sh DIR}
mkdir -p "$D/wikis"
umask 077

sqlite3 -batch -bail "$D/robot.db" >/dev/null <<'SQL'
PRAGMA journal_mode=WAL;
CREATE TABLE users (
  did TEXT PRIMARY KEY, handle TEXT NOT NULL, display_name TEXT, avatar_url TEXT,
  created_at TEXT NOT NULL, wiki_count INTEGER DEFAULT 0);
CREATE TABLE wikis (
  slug TEXT PRIMARY KEY, owner_did TEXT NOT NULL REFERENCES users(did), display_name TEXT NOT NULL,
  repo_path TEXT NOT NULL, mcp_token_hash TEXT NOT NULL, is_public INTEGER DEFAULT 0,
  created_at TEXT NOT NULL, last_accessed TEXT NOT NULL, page_count INTEGER DEFAULT 0,
  disk_usage_bytes INTEGER DEFAULT 0);
CREATE UNIQUE INDEX ix_wikis_mcp_token_hash ON wikis (mcp_token_hash);
CREATE TABLE oauth_auth_requests (
  state TEXT PRIMARY KEY, authserver_iss TEXT NOT NULL, did TEXT, handle TEXT, pds_url TEXT,
  pkce_verifier TEXT NOT NULL, scope TEXT NOT NULL, dpop_authserver_nonce TEXT NOT NULL,
  dpop_private_jwk TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE oauth_sessions (
  did TEXT PRIMARY KEY, handle TEXT, pds_url TEXT NOT NULL, authserver_iss TEXT NOT NULL,
  access_token TEXT, refresh_token TEXT, dpop_authserver_nonce TEXT NOT NULL,
  dpop_private_jwk TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE mcp_oauth_clients (
  client_id TEXT PRIMARY KEY, client_name TEXT, redirect_uris TEXT NOT NULL,
  client_secret_hash TEXT, created_at TEXT NOT NULL);
CREATE TABLE reindex_queue (
  wiki_slug TEXT NOT NULL, page_path TEXT NOT NULL, action TEXT NOT NULL, queued_at TEXT NOT NULL,
  PRIMARY KEY (wiki_slug, page_path));
INSERT INTO users VALUES
  ('did:plc:alice111', 'alice.test', 'Alice', NULL, '2025-03-01T12:34:56.789000+00:00', 1),
  ('did:plc:bob22222', 'bob.test', NULL, NULL, '2025-03-02T08:00:00+00:00', 1),
  ('did:web:carol.example', 'carol.example', 'Carol ✓', NULL, '2025-03-03T09:10:11.000001+00:00', 2);
INSERT INTO wikis VALUES
  ('alice', 'did:plc:alice111', 'Alice''s wiki', '/srv/data/wikis/alice/repo',
   'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 0,
   '2025-03-01T12:35:00.000000+00:00', '2025-03-01T12:35:00.000000+00:00', 3, 12345),
  ('bob', 'did:plc:bob22222', 'Bob', '/srv/data/wikis/bob/repo',
   'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 0,
   '2025-03-02T08:01:00.000000+00:00', '2025-03-02T08:01:00.000000+00:00', 2, 999),
  ('carol', 'did:web:carol.example', 'Carol', '/srv/data/wikis/carol/repo', 'invalidated:carol', 0,
   '2025-03-03T09:11:00.000000+00:00', '2025-03-03T09:11:00.000000+00:00', 0, 0),
  ('dave', 'did:web:carol.example', 'Dave', '/srv/data/wikis/dave/repo',
   'dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd', 0,
   '2025-03-04T09:11:00.000000+00:00', '2025-03-04T09:11:00.000000+00:00', 1, 10);
INSERT INTO mcp_oauth_clients VALUES ('client-1', 'Claude', '["https://claude.ai/api/mcp/auth_callback"]', NULL, '2025-03-01T00:00:00+00:00');
INSERT INTO reindex_queue VALUES ('alice', 'Home.md', 'upsert', '2025-03-05T00:00:00+00:00');
SQL

openssl genrsa -out "$D/signing_key.pem" 2048 2>/dev/null
openssl pkey -in "$D/signing_key.pem" -pubout -out "$D/signing_key.pub" 2>/dev/null
chmod 0644 "$D/signing_key.pub"
printf '{"kty":"EC","crv":"P-256","x":"stand-in","y":"stand-in","d":"stand-in","kid":"test-kid","use":"sig","alg":"ES256"}\n' >"$D/client_jwk.json"

wikidb() { # SLUG SITE_NAME
  sqlite3 -batch -bail "$D/wikis/$1/wiki.db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS preferences (name VARCHAR(256) PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS drafts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, pagepath VARCHAR(2048), revision VARCHAR(64),
  author_email VARCHAR(256), content TEXT, cursor_line INTEGER, cursor_ch INTEGER,
  datetime DATETIME);
CREATE INDEX IF NOT EXISTS ix_drafts_pagepath ON drafts (pagepath);
CREATE TABLE IF NOT EXISTS "user" (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(128), email VARCHAR(128) UNIQUE,
  password_hash VARCHAR(512), first_seen DATETIME, last_seen DATETIME,
  is_approved BOOLEAN DEFAULT 0, is_admin BOOLEAN DEFAULT 0, email_confirmed BOOLEAN DEFAULT 0,
  allow_read BOOLEAN DEFAULT 0, allow_write BOOLEAN DEFAULT 0, allow_upload BOOLEAN DEFAULT 0);
CREATE TABLE IF NOT EXISTS cache (key VARCHAR(64) PRIMARY KEY, value TEXT, datetime DATETIME);
CREATE INDEX IF NOT EXISTS ix_cache_key ON cache (key);
INSERT INTO preferences VALUES ('READ_ACCESS','APPROVED'),('WRITE_ACCESS','APPROVED'),
  ('ATTACHMENT_ACCESS','APPROVED'),('AUTH_METHOD','PROXY_HEADER'),('DISABLE_REGISTRATION','True'),
  ('AUTO_APPROVAL','False'),('_schema_version','3'),('SITE_ICON','/platform/robot.wtf.svg'),
  ('SITE_LOGO','/platform/robot.wtf.svg'),('GIT_WEB_SERVER','False'),('SITE_NAME','$2');
INSERT INTO "user" (name, email, is_approved, is_admin, allow_read, allow_write, allow_upload, first_seen, last_seen)
  VALUES ('$1', '@$1.test', 1, 1, 1, 1, 1, '2025-03-01 12:35:00.000000', '2025-03-01 12:35:00.000000');
INSERT INTO drafts (pagepath, revision, author_email, content, cursor_line, cursor_ch, datetime)
  VALUES ('Home', 'abc', '@$1.test', 'draft with ''quotes'' and
a newline', 1, 2, '2025-03-01 12:36:00.000000');
SQL
}

export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=tester@robot.wtf GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=tester@robot.wtf
commit() { # REPO FILE CONTENT MESSAGE DATE
  printf '%s\n' "$3" >"$1/$2"
  git -C "$1" add -A
  GIT_AUTHOR_DATE="$5" GIT_COMMITTER_DATE="$5" git -C "$1" commit -q -m "$4"
}

# alice: main with history, a feature branch, tags, a note; a file in a subdirectory
mkdir -p "$D/wikis/alice"
git init -q -b main "$D/wikis/alice/repo"
commit "$D/wikis/alice/repo" Home.md "# Home" "initial" "2025-03-01T12:35:00Z"
mkdir -p "$D/wikis/alice/repo/sub dir"
commit "$D/wikis/alice/repo" "sub dir/Page Ä.md" "# Page with spaces and ümlauts" "add page" "2025-03-01T12:40:00Z"
git -C "$D/wikis/alice/repo" tag -a v1 -m "annotated tag"
git -C "$D/wikis/alice/repo" checkout -q -b feature
commit "$D/wikis/alice/repo" Feature.md "feature work" "feature" "2025-03-02T10:00:00Z"
git -C "$D/wikis/alice/repo" checkout -q main
commit "$D/wikis/alice/repo" Home.md "# Home, edited" "edit home" "2025-03-03T10:00:00Z"
git -C "$D/wikis/alice/repo" tag light
git -C "$D/wikis/alice/repo" notes add -m "a note" HEAD
wikidb alice "Alice''s wiki"

# bob: branch "drafts" checked out; config the wiki server sets
mkdir -p "$D/wikis/bob"
git init -q -b master "$D/wikis/bob/repo"
commit "$D/wikis/bob/repo" Home.md "# Bob" "initial" "2025-03-02T08:01:00Z"
git -C "$D/wikis/bob/repo" checkout -q -b drafts
commit "$D/wikis/bob/repo" Draft.md "draft" "draft" "2025-03-02T09:00:00Z"
git -C "$D/wikis/bob/repo" config core.symlinks false
git -C "$D/wikis/bob/repo" config receive.denyCurrentBranch updateInstead
wikidb bob "Bob"

# carol: no commits yet
mkdir -p "$D/wikis/carol"
git init -q -b main "$D/wikis/carol/repo"
wikidb carol "Carol"

# dave: detached HEAD
mkdir -p "$D/wikis/dave"
git init -q -b main "$D/wikis/dave/repo"
commit "$D/wikis/dave/repo" Home.md "one" "one" "2025-03-04T09:11:00Z"
first=$(git -C "$D/wikis/dave/repo" rev-parse HEAD)
commit "$D/wikis/dave/repo" Home.md "two" "two" "2025-03-04T09:12:00Z"
git -C "$D/wikis/dave/repo" checkout -q --detach "$first"
wikidb dave "Dave"

# platform-private directories: never backed up
mkdir -p "$D/wikis/.tmp/build-123/repo" "$D/wikis/.trash/old-wiki" "$D/wikis/.orphaned/stray"
git init -q "$D/wikis/.tmp/build-123/repo"
printf 'junk\n' >"$D/wikis/.trash/old-wiki/wiki.db"
printf 'junk\n' >"$D/wikis/.orphaned/stray/file"
