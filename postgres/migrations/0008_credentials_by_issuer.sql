-- Migration 8: credentials listed by issuer and status, newest first
-- (issue 13 item 4: GET /v1/issuer/credentials?status=, keyset pages).
-- issued repeats issued_at: in this layout a column belongs to one index
-- (wallet.Kind). Credentials issued before this migration get the three
-- columns from their record; later puts set them, and a status change
-- moves the row in the index.
ALTER TABLE credentials ADD COLUMN issuer_id text, ADD COLUMN status text, ADD COLUMN issued timestamptz;
UPDATE credentials SET issuer_id = rec->>'issuer_id', status = rec->>'status', issued = (rec->>'issued_at')::timestamptz;
CREATE INDEX credentials_by_issuer ON credentials (issuer_id, status, issued, id);
