-- Migration 10: API keys listed by owner (wallet.APIKeys' index "owner"),
-- so that retiring a verifier, resetting the admin key and the admin
-- list of one owner's keys read that owner's keys, not every key of the
-- deployment. Keys made before this migration get the column from their
-- record; later puts set it.
ALTER TABLE api_keys ADD COLUMN owner text;
UPDATE api_keys SET owner = rec->>'owner';
CREATE INDEX api_keys_by_owner ON api_keys (owner, id);
