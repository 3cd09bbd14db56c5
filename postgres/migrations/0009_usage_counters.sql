-- Migration 9: the usage counters (issue 13 item 3, wallet.UsageCounters):
-- per UTC hour and combination of the dimensions counted, how many events.
-- A key is spread over shard rows (postgres.CounterShards): an add goes to
-- the row of a shard chosen at random, so concurrent replicas do not all
-- wait on one row's lock; Counts sums the rows. No column holds an id of
-- a holder, device, credential, verifier or share.
CREATE TABLE usage_counters (
    hour       timestamptz NOT NULL,
    event      text NOT NULL,
    type       text NOT NULL,
    category   text NOT NULL,
    flow       text NOT NULL,
    outcome    text NOT NULL,
    reason     text NOT NULL,
    latency_us bigint NOT NULL,
    shard      smallint NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (hour, event, type, category, flow, outcome, reason, latency_us, shard)
);
