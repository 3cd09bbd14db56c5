package wallet

import (
	"context"
	"time"
)

// Unbounded marks ctx for store operations that take as long as they
// take: a copy of a whole store in one transaction (Copy, CheckCopy:
// migrate-store). Without it a store may bound each operation's wait on
// its database (postgres: 30 s), so that a database that stops answering
// fails a request instead of hanging it.
func Unbounded(ctx context.Context) context.Context {
	return context.WithValue(ctx, unboundedKey{}, true)
}

// IsUnbounded reports whether ctx was marked by Unbounded.
func IsUnbounded(ctx context.Context) bool { return ctx.Value(unboundedKey{}) != nil }

type unboundedKey struct{}

// Store is the persistence the service needs (CONVENTIONS: the domain owns
// its storage contract). Implementations live in bolt/ and postgres/ and
// pass the same contract suite, wallet/storetest.
//
// Every write is durable when Update or Batch returns nil: the service
// answers only after that (SPEC §3.3 step 4, THREATS T31).
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits it durably
	// when fn returns nil; any error rolls it back. A store may run fn more
	// than once (PostgreSQL retries serialization failures), so fn sets,
	// rather than accumulates, what it hands out.
	Update(ctx context.Context, fn func(Tx) error) error
	// Batch is for independent check-and-set transactions: the hot path's
	// (redemptions) and issuance's, whose bulk batches read too much to
	// be serializable beside single issuances. They may be committed
	// together, sharing one fsync (bbolt), and each read may see the
	// latest committed state rather than one snapshot (PostgreSQL runs
	// Batch at READ COMMITTED, so that no serialization failure aborts
	// it). fn's check-and-set is therefore a Swap, a UseOnce, a put of an
	// Immutable kind or of a unique index value, and fn reads again and
	// decides again after ErrChanged or ErrExists. fn may run more than
	// once, so it must only touch the store.
	Batch(ctx context.Context, fn func(Tx) error) error
	// Fetch is a View that runs one Tx.Fetch: on PostgreSQL one statement
	// in one round trip, with no transaction to begin or commit.
	Fetch(ctx context.Context, ls ...Lookup) ([][]byte, error)
	// Apply is a Batch that runs one Tx.Apply and nothing else: on
	// PostgreSQL one round trip, an implicit transaction, shared by
	// concurrent calls (bbolt: a Batch). A refusal in a shared commit
	// rolls back no other call's writes. Its errors are Tx.Apply's, and a
	// refused write leaves nothing written.
	Apply(ctx context.Context, ws ...Write) error
	// Ping reports whether the store can serve (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// Tx is one transaction: a handful of primitives over the record kinds the
// domain declares (records.go), written once by each store. A record is a
// key, the values of its kind's indexes and an opaque body; the store
// never looks inside the body.
//
// Key and index values are string (Text), []byte (Bytes), int64 (Int) and
// time.Time (Time), one per column, checked by CheckValue: a get or list
// with a value no put accepts finds nothing. Every slice a Tx returns is
// the caller's: it stays valid and unchanged after the transaction, and
// whatever is written later.
type Tx interface {
	// List returns the bodies of k's records whose first columns of index
	// (of the key when index is "") equal prefix, in the order of the
	// index's columns then the key's (o.Desc: reversed), at most o.Limit
	// (0: all). A record not in the index is not listed. With o.After,
	// only the records strictly after that position in this order
	// (before it, o.Desc) are listed: keyset pagination. A position
	// that does not fit the columns (CheckPosition) is an error.
	List(k *Kind, index string, o Order, prefix ...any) ([][]byte, error)
	// Fetch runs lookups together, on PostgreSQL in one round trip, and
	// returns one body per lookup in their order: the record List(l.Kind,
	// l.Index, Order{Desc: l.Desc, Limit: 1}, l.Prefix...) would return,
	// nil when it would return none. With a whole key, or all the values
	// of a unique index, that is the record itself (Get, GetBy).
	Fetch(ls ...Lookup) ([][]byte, error)
	// Apply makes writes of distinct records, all or none: when one is
	// refused the transaction is as it was before Apply, and the error is
	// that one's. On PostgreSQL the writes go in one round trip.
	//
	// A put inserts its record, or replaces the record with its key. It
	// is ErrExists when a unique index entry of the record names another
	// record, or when the kind is Immutable and the key is taken. Index
	// entries that did not change are not rewritten.
	//
	// A swap (Write.Swap) replaces the record at its key, as a put does,
	// only while the stored body is still Old: the check-and-set of a
	// record read in an earlier transaction. ErrChanged when the body
	// differs, ErrNotFound when there is no record, ErrExists as for a
	// put. On PostgreSQL it waits for a concurrent writer of the record
	// and checks what that one committed, so of concurrent swaps from one
	// body exactly one succeeds at any isolation level.
	Apply(ws ...Write) error
	// Delete removes the record at key with its index entries; a missing
	// record is not an error.
	Delete(k *Kind, key ...any) error
	// UseOnce records key as used until expires; ErrExists when it is
	// already recorded and not expired at now (jti and nonce replay, T11,
	// T12). Keys expired before now are pruned a few at a time.
	UseOnce(key string, expires time.Time, now time.Time) error
	// Counts returns the counters of k, a Counter kind, whose first key
	// column is at or after from and before to (nil: unbounded on that
	// side), in key order, each with the sum of every add to its key
	// that committed (Write.Add), its times in UTC. A bound no put
	// accepts finds nothing.
	Counts(k *Kind, from, to any) ([]Count, error)
}

// Count is one counter of a Counts read: its key and its total.
type Count struct {
	Key []any
	N   int64
}

// Lookup is one read of a Fetch: the first record of Kind, in the order
// of Index (of the key when ""), whose first columns equal Prefix; the
// last one when Desc.
type Lookup struct {
	Kind   *Kind
	Index  string
	Prefix []any
	Desc   bool
}

// Write is one write of an Apply: a put of Record, or with Swap a swap
// from Old; for a Counter kind, an add of Add to the counter at
// Record.Key (Added makes one).
type Write struct {
	Kind   *Kind
	Record Record
	Swap   bool
	Old    []byte
	// Add is what an add adds (not 0). An add is never refused for what
	// is stored: the counter starts at 0, and concurrent adds to one key
	// all count, at any isolation level, without one hot row to wait on
	// (PostgreSQL spreads a key over shard rows that reads sum).
	Add int64
}

// Added is the write that adds n to the counter of k at key.
func Added(k *Kind, n int64, key ...any) Write {
	return Write{Kind: k, Record: Record{Key: key}, Add: n}
}

// Order is the direction, start and length of a List.
type Order struct {
	Desc  bool // last first
	Limit int  // at most this many; 0: all
	// After is a position in the list's order: the values of every
	// column of the index, then of the key (of the key alone when listing
	// by key), as a record's Record.Index entry and Record.Key give them.
	// nil: from the first (last, Desc). The position need not be a
	// record's, nor under the prefix.
	After []any
}

// Record is what a put stores.
type Record struct {
	Key []any
	// Index holds, per index of the kind (same positions), its column
	// values, or nil when the record is not in that index (a pending share
	// has no token yet).
	Index [][]any
	Body  []byte
}
