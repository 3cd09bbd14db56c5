-- Migration 6: offline codes listed by expiry (issue 12), so that each
-- replica's background loop deletes those past their retention
-- (wallet.CompactRetention) without a scan. Codes minted before this
-- migration get their expiry from their record.
ALTER TABLE compact_codes ADD COLUMN expires timestamptz;
UPDATE compact_codes SET expires = (rec->>'expires')::timestamptz;
CREATE INDEX compact_codes_by_expiry ON compact_codes (expires ASC, cti_hash);
