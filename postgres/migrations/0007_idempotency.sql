-- Migration 7: the first answers to issuance and share requests sent with
-- an Idempotency-Key (issue 13), by caller scope and key hash, listed by
-- expiry for each replica's sweep.
CREATE TABLE idempotency (
    scope    text,
    key_hash bytea,
    expires  timestamptz,
    rec      json NOT NULL,
    PRIMARY KEY (scope, key_hash)
);
CREATE INDEX idempotency_by_expiry ON idempotency (expires ASC, scope, key_hash);
