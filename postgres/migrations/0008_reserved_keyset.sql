-- Migration 8 is keyset pagination's (wallet.Order.After), made on another
-- branch; this placeholder only keeps the numbering without a gap on the
-- branch of migration 9. When both branches are merged, that branch's
-- 0008 replaces this file (delete it).
SELECT 1;
