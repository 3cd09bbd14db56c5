-- Migration 1: the tables of the PostgreSQL store, in the schema Open names
-- (its search_path), one per record kind declared in wallet/records.go. A
-- new kind brings its table in a new numbered file (migrate.go), never an
-- edit here: a migration's checksum is recorded when it is applied and a
-- changed file refuses to start.
--
-- This file is idempotent (CREATE … IF NOT EXISTS) only so that a schema
-- made before migrations were recorded (it has store_format, no
-- schema_migrations) is adopted by running it once; later files need not
-- be.
--
-- A table holds the kind's key columns (its primary key), its index
-- columns (NULL where a record is not in that index: a pending share's
-- token) and the record's body in rec. JSON bodies are json, not jsonb:
-- json keeps the text as written, so a record reads back exactly as it was
-- put (jsonb would refuse a \u0000 in any string field), and operators can
-- still query it (rec->>'status'); raw bodies (sealed blobs) are bytea.
--
-- Ids are text in the database's default collation, with no COLLATE on
-- any column: CockroachDB refuses a column COLLATE "C". Lists still order
-- them by bytes, the bolt store's order: the store asks the database at
-- Open whether its default order is bytewise and, where it is not, says
-- COLLATE "C" in the ORDER BY of a list (textorder.go). Schemas made
-- before this file had text COLLATE "C" columns; they are adopted as
-- they are and order the same. Hashes, tokens and one-time keys are bytea.
--
-- Indexes led by a time say ASC: a no-op on PostgreSQL and CockroachDB;
-- on YugabyteDB, which hash-shards the first column of an index unless
-- told an order, it keeps `ORDER BY expires LIMIT n` a range scan.

-- The layout version of the schemas before migrations, kept so that a schema
-- of the layout before record kinds (tables, no store_format) is still
-- refused.
CREATE TABLE IF NOT EXISTS store_format (version int NOT NULL);
INSERT INTO store_format (version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM store_format);

CREATE TABLE IF NOT EXISTS issuers (
    id  text PRIMARY KEY,
    rec json NOT NULL
);

CREATE TABLE IF NOT EXISTS verifiers (
    id  text PRIMARY KEY,
    rec json NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    id   text PRIMARY KEY,
    hash bytea UNIQUE,
    rec  json NOT NULL
);

CREATE TABLE IF NOT EXISTS holders (
    id           text PRIMARY KEY,
    citizen_hash bytea UNIQUE,
    rec          json NOT NULL
);

CREATE TABLE IF NOT EXISTS devices (
    id        text PRIMARY KEY,
    holder_id text,
    created   timestamptz,
    rec       json NOT NULL
);
CREATE INDEX IF NOT EXISTS devices_by_holder ON devices (holder_id, created, id);

CREATE TABLE IF NOT EXISTS activation_codes (
    hash bytea PRIMARY KEY,
    rec  json NOT NULL
);

CREATE TABLE IF NOT EXISTS credentials (
    id        text PRIMARY KEY,
    holder_id text,
    issued_at timestamptz,
    rec       json NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_by_holder ON credentials (holder_id, issued_at, id);

CREATE TABLE IF NOT EXISTS credential_copies (
    credential_id text,
    device_id     text,
    rec           bytea NOT NULL,
    PRIMARY KEY (credential_id, device_id)
);

CREATE TABLE IF NOT EXISTS shares (
    id         text PRIMARY KEY,
    token_hash bytea UNIQUE,
    holder_id  text,
    created    timestamptz,
    rec        json NOT NULL
);
CREATE INDEX IF NOT EXISTS shares_by_holder ON shares (holder_id, created, id);

CREATE TABLE IF NOT EXISTS share_documents (
    share_id text PRIMARY KEY,
    rec      bytea NOT NULL
);

CREATE TABLE IF NOT EXISTS requests (
    id         text PRIMARY KEY,
    token_hash bytea UNIQUE,
    holder_id  text,
    created    timestamptz,
    rec        json NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_holder ON requests (holder_id, created, id)
    WHERE holder_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS presence (
    token_hash bytea PRIMARY KEY,
    rec        json NOT NULL
);

CREATE TABLE IF NOT EXISTS status_lists (
    issuer_id text,
    list      bigint,
    rec       json NOT NULL,
    PRIMARY KEY (issuer_id, list)
);

-- Claimed status indices: rows are never deleted, so an index is never
-- handed out twice (SPEC §3.5).
CREATE TABLE IF NOT EXISTS status_indices (
    issuer_id text,
    list      bigint,
    idx       bigint,
    rec       bytea NOT NULL,
    PRIMARY KEY (issuer_id, list, idx)
);

-- The entries of status lists that are not valid.
CREATE TABLE IF NOT EXISTS status_entries (
    issuer_id text,
    list      bigint,
    idx       bigint,
    rec       json NOT NULL,
    PRIMARY KEY (issuer_id, list, idx)
);

CREATE TABLE IF NOT EXISTS activity (
    holder_id text,
    seq       bigint,
    rec       json NOT NULL,
    PRIMARY KEY (holder_id, seq)
);

CREATE TABLE IF NOT EXISTS verifications (
    verifier_id text,
    seq         bigint,
    rec         json NOT NULL,
    PRIMARY KEY (verifier_id, seq)
);

CREATE TABLE IF NOT EXISTS meta (
    name text PRIMARY KEY,
    rec  bytea NOT NULL
);

-- One-time keys (jti, nonces) until they expire (Tx.UseOnce); expired rows
-- are pruned a few at a time, oldest expiry first.
CREATE TABLE IF NOT EXISTS once (
    key     bytea PRIMARY KEY,
    expires timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS once_by_expiry ON once (expires ASC);

-- Token buckets the replicas share (wallet/ratelimit.go): by keyed hash of
-- the limiter and key, with when each is full again, for pruning.
CREATE TABLE IF NOT EXISTS rate_buckets (
    id  bytea PRIMARY KEY,
    tat timestamptz,
    rec json NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_buckets_by_tat ON rate_buckets (tat ASC, id);

-- The webhook outbox (wallet.WebhookDeliveries): pending deliveries have
-- due (when any replica may next claim one), done ones expires (when they
-- are deleted); the other column is NULL.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id      text PRIMARY KEY,
    due     timestamptz,
    expires timestamptz,
    rec     json NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_due ON webhook_deliveries (due ASC, id)
    WHERE due IS NOT NULL;
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_expiry ON webhook_deliveries (expires ASC, id)
    WHERE expires IS NOT NULL;
