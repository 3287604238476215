-- Baseline: the production robot.db schema (contracts.md §6.1), written by hand.
-- An existing production database is adopted by marking this migration as applied; its
-- tables are never rebuilt. Only difference from production: text primary keys are NOT NULL.

CREATE TABLE "users" (
    "did" TEXT NOT NULL PRIMARY KEY,
    "handle" TEXT NOT NULL,
    "display_name" TEXT,
    "avatar_url" TEXT,
    "created_at" TEXT NOT NULL,
    "wiki_count" INTEGER DEFAULT 0
);

CREATE TABLE "wikis" (
    "slug" TEXT NOT NULL PRIMARY KEY,
    "owner_did" TEXT NOT NULL,
    "display_name" TEXT NOT NULL,
    "repo_path" TEXT NOT NULL,
    "mcp_token_hash" TEXT NOT NULL,
    "is_public" INTEGER DEFAULT 0,
    "created_at" TEXT NOT NULL,
    "last_accessed" TEXT NOT NULL,
    "page_count" INTEGER DEFAULT 0,
    "disk_usage_bytes" INTEGER DEFAULT 0,
    CONSTRAINT "wikis_owner_did_fkey" FOREIGN KEY ("owner_did") REFERENCES "users" ("did") ON DELETE NO ACTION ON UPDATE NO ACTION
);

CREATE UNIQUE INDEX "ix_wikis_mcp_token_hash" ON "wikis"("mcp_token_hash");

CREATE TABLE "oauth_auth_requests" (
    "state" TEXT NOT NULL PRIMARY KEY,
    "authserver_iss" TEXT NOT NULL,
    "did" TEXT,
    "handle" TEXT,
    "pds_url" TEXT,
    "pkce_verifier" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "dpop_authserver_nonce" TEXT NOT NULL,
    "dpop_private_jwk" TEXT NOT NULL,
    "created_at" TEXT NOT NULL
);

CREATE TABLE "oauth_sessions" (
    "did" TEXT NOT NULL PRIMARY KEY,
    "handle" TEXT,
    "pds_url" TEXT NOT NULL,
    "authserver_iss" TEXT NOT NULL,
    "access_token" TEXT,
    "refresh_token" TEXT,
    "dpop_authserver_nonce" TEXT NOT NULL,
    "dpop_private_jwk" TEXT NOT NULL,
    "created_at" TEXT NOT NULL
);

CREATE TABLE "mcp_oauth_clients" (
    "client_id" TEXT NOT NULL PRIMARY KEY,
    "client_name" TEXT,
    "redirect_uris" TEXT NOT NULL,
    "client_secret_hash" TEXT,
    "created_at" TEXT NOT NULL
);

CREATE TABLE "reindex_queue" (
    "wiki_slug" TEXT NOT NULL,
    "page_path" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "queued_at" TEXT NOT NULL,
    PRIMARY KEY ("wiki_slug", "page_path")
);
