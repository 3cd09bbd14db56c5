-- Migration 4: the offline codes minted (issue 12), by keyed hash of
-- their cti: whose share each is, and the first verifier that used it, so
-- a code used at two verifiers is flagged in both logs and the holder's
-- activity.
CREATE TABLE compact_codes (
    cti_hash bytea PRIMARY KEY,
    rec      json NOT NULL
);
