-- The tables of the PostgreSQL store, in the schema Open names (its
-- search_path). Open runs this whole script at every start, in one
-- transaction under an advisory lock, so every statement must stay
-- idempotent (CREATE … IF NOT EXISTS).
--
-- Each record is kept whole in rec, as the JSON the store encoded. The type
-- is json, not jsonb: json keeps the text as written, so a record reads back
-- exactly as it was put (jsonb would refuse a \u0000 in any string field),
-- and operators can still query it (rec->>'status'). Beside it are the
-- columns the Tx lookups and orderings need, kept in step by every put.
--
-- Ids are text COLLATE "C": compared and sorted as bytes, so "by id"
-- means byte order whatever the database's locale (the bolt store's order).
-- Hashes, tokens and one-time keys are bytea. An empty token or holder id
-- is stored as NULL, so it is neither indexed nor unique.

CREATE TABLE IF NOT EXISTS issuers (
    id  text COLLATE "C" PRIMARY KEY,
    rec json NOT NULL
);

CREATE TABLE IF NOT EXISTS verifiers (
    id  text COLLATE "C" PRIMARY KEY,
    rec json NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    id   text COLLATE "C" PRIMARY KEY,
    hash bytea NOT NULL UNIQUE,
    rec  json NOT NULL
);

CREATE TABLE IF NOT EXISTS holders (
    id           text COLLATE "C" PRIMARY KEY,
    citizen_hash bytea NOT NULL UNIQUE,
    rec          json NOT NULL
);

CREATE TABLE IF NOT EXISTS devices (
    id        text COLLATE "C" PRIMARY KEY,
    holder_id text COLLATE "C" NOT NULL,
    created   timestamptz NOT NULL,
    rec       json NOT NULL
);
CREATE INDEX IF NOT EXISTS devices_by_holder ON devices (holder_id, created, id);

CREATE TABLE IF NOT EXISTS activation_codes (
    hash bytea PRIMARY KEY,
    rec  json NOT NULL
);

CREATE TABLE IF NOT EXISTS credentials (
    id        text COLLATE "C" PRIMARY KEY,
    holder_id text COLLATE "C" NOT NULL,
    issued_at timestamptz NOT NULL,
    rec       json NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_by_holder ON credentials (holder_id, issued_at, id);

-- The sealed SD-JWT each device holds of a credential, raw.
CREATE TABLE IF NOT EXISTS credential_copies (
    credential_id text COLLATE "C" NOT NULL,
    device_id     text COLLATE "C" NOT NULL,
    sealed        bytea NOT NULL,
    PRIMARY KEY (credential_id, device_id)
);

CREATE TABLE IF NOT EXISTS shares (
    id         text COLLATE "C" PRIMARY KEY,
    holder_id  text COLLATE "C" NOT NULL,
    created    timestamptz NOT NULL,
    token_hash bytea UNIQUE, -- NULL while pending approval
    rec        json NOT NULL
);
CREATE INDEX IF NOT EXISTS shares_by_holder ON shares (holder_id, created, id);

-- The sealed documents of an approved share, raw, apart from the share
-- record that each redemption rewrites.
CREATE TABLE IF NOT EXISTS share_documents (
    share_id text COLLATE "C" PRIMARY KEY,
    docs     bytea[] NOT NULL
);

CREATE TABLE IF NOT EXISTS requests (
    id         text COLLATE "C" PRIMARY KEY,
    holder_id  text COLLATE "C", -- NULL until resolved
    created    timestamptz NOT NULL,
    token_hash bytea UNIQUE,     -- NULL for presence-addressed requests
    rec        json NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_holder ON requests (holder_id, created, id)
    WHERE holder_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS presence (
    token_hash bytea PRIMARY KEY,
    rec        json NOT NULL
);

CREATE TABLE IF NOT EXISTS status_lists (
    issuer_id text COLLATE "C" NOT NULL,
    list      bigint NOT NULL,
    rec       json NOT NULL,
    PRIMARY KEY (issuer_id, list)
);

-- Claimed status indices: rows are never deleted, so an index is never
-- handed out twice (SPEC §3.5).
CREATE TABLE IF NOT EXISTS status_indices (
    issuer_id text COLLATE "C" NOT NULL,
    list      bigint NOT NULL,
    idx       bigint NOT NULL,
    PRIMARY KEY (issuer_id, list, idx)
);

CREATE TABLE IF NOT EXISTS activity (
    holder_id text COLLATE "C" NOT NULL,
    seq       bigint NOT NULL,
    rec       json NOT NULL,
    PRIMARY KEY (holder_id, seq)
);

CREATE TABLE IF NOT EXISTS verifications (
    verifier_id text COLLATE "C" NOT NULL,
    seq         bigint NOT NULL,
    rec         json NOT NULL,
    PRIMARY KEY (verifier_id, seq)
);

-- One-time keys (jti, nonces) until they expire; expired rows are pruned
-- a few at a time by UseOnce, oldest expiry first.
CREATE TABLE IF NOT EXISTS once (
    key     bytea PRIMARY KEY,
    expires timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS once_by_expiry ON once (expires);

CREATE TABLE IF NOT EXISTS meta (
    name  text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);
