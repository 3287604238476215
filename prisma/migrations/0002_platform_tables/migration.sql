-- Platform-private tables (contracts.md §6.3) and the owner index. Additive only, so the
-- Python predecessor can still be rolled back to.

CREATE TABLE "atproto_oauth_state" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "value" TEXT NOT NULL,
    "created_at" TEXT NOT NULL
);

CREATE TABLE "atproto_oauth_session" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "value" TEXT NOT NULL,
    "updated_at" TEXT NOT NULL
);

CREATE TABLE "consent_nonces" (
    "nonce" TEXT NOT NULL PRIMARY KEY,
    "user_did" TEXT NOT NULL,
    "expires_at" INTEGER NOT NULL
);

CREATE INDEX "ix_consent_nonces_user_did" ON "consent_nonces"("user_did");

CREATE TABLE "wiki_disk_journal" (
    "slug" TEXT NOT NULL PRIMARY KEY,
    "operation" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "created_at" TEXT NOT NULL
);

CREATE INDEX "ix_wikis_owner_did" ON "wikis"("owner_did");

-- The predecessor's pending logins and ATProto sessions hold stale flows and unused tokens
-- (security.md #16); the tables stay for compatibility, their rows go.
DELETE FROM "oauth_auth_requests";
DELETE FROM "oauth_sessions";
