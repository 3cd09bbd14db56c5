// Package postgres implements wallet.Store on PostgreSQL, the store for
// running several servers over one database (scale-out). It is the only
// importer of the driver, github.com/jackc/pgx/v5.
//
// Layout (migrations/0001_init.sql and the numbered files after it): a
// table per record kind wallet declares (wallet.Kinds), with a column per
// key and index column, indexes for the declared indexes, and the record's
// body in rec (json, or bytea for raw kinds). Open applies the migrations
// the database lacks (migrate.go) and checks every kind has its table and
// columns, so a kind declared without its migration fails at start, not at
// its first use. All tables live in one schema, created at Open, so one
// database can hold several stores.
//
// Transactions: View is a read-only REPEATABLE READ transaction (one
// consistent snapshot). Update is SERIALIZABLE, so the service's
// read-check-write transactions behave as they do under bolt's single
// writer; PostgreSQL fails the losers of a conflict with a serialization
// failure, and Update runs fn again on a fresh transaction, up to
// maxAttempts times: on PostgreSQL, Update's fn may run more than once,
// as Batch's may on every store. Batch, the redemption's and issuance's
// transaction, is READ COMMITTED: its check-and-set is a Swap (a
// conditional UPDATE) or the insert of a key or unique value, which
// PostgreSQL decides on the committed row, so of 50 concurrent redemptions
// of a one-time share exactly one commits (THREATS T15) and none is
// aborted to get there; a unique value a concurrent insert took first
// runs fn again (retryable). Every commit is durable
// before Update returns: Open refuses fsync off and synchronous_commit
// other than on or remote_apply (THREATS T31).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eidwallet/eidwallet/internal/group"
	"github.com/eidwallet/eidwallet/wallet"
)

// DefaultSchema is the schema Open keeps its tables in unless WithSchema
// names another.
const DefaultSchema = "eidwallet"

// maxAttempts bounds how often Update and Batch run fn when PostgreSQL
// aborts the transaction for a serialization failure or a deadlock. Each
// failure means another transaction on the same rows committed, so the
// next attempt usually wins; the bound only stops a pathological storm.
const maxAttempts = 50

// defaultMaxConns is the least pool size when the DSN sets no
// pool_max_conns (see Open).
const defaultMaxConns = 16

// defaultConnectTimeout bounds a connection attempt when the DSN sets no
// connect_timeout.
const defaultConnectTimeout = 10 * time.Second

// ErrUnsafeDurability is Open's answer when the database would acknowledge
// a commit that a crash can lose (THREATS T31); AllowUnsafeDurability
// opens anyway.
var ErrUnsafeDurability = errors.New("the database may lose acknowledged commits (THREATS T31)")

// Store is a wallet.Store on a PostgreSQL connection pool. It is safe for
// concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	sql     statements
	applied []Migration
	// Concurrent Applies and Fetches, each kind a round trip together
	// (group.go).
	applies group.Group[*applyCall]
	fetches group.Group[*fetchCall]
	durable bool // Ping checks the durability settings again (checkDurability)
}

var _ wallet.Store = (*Store)(nil)

// Option changes how Open opens the store.
type Option func(*config)

type config struct {
	schema      string
	noMigrate   bool
	allowUnsafe bool
}

// WithSchema keeps the store's tables in schema name (DefaultSchema when
// name is empty). Open creates the schema when it is missing.
func WithSchema(name string) Option {
	return func(c *config) {
		if name != "" {
			c.schema = name
		}
	}
}

// WithoutMigrations makes Open apply no migration and create nothing: it
// fails when one of this binary's migrations is not applied (eidwallet
// serve --no-migrate, when an operator runs eidwallet migrate first).
func WithoutMigrations() Option { return func(c *config) { c.noMigrate = true } }

// AllowUnsafeDurability makes Open accept a database with fsync off or
// synchronous_commit other than on or remote_apply (tests on a throwaway
// database, never production).
func AllowUnsafeDurability() Option { return func(c *config) { c.allowUnsafe = true } }

// Open connects to the database at dsn (a postgres:// URL or key=value
// string; pool settings such as pool_max_conns go in it too), checks that
// its commits are durable, applies the migrations this binary has and the
// database lacks (migrate.go), and returns the store. The pool sets
// search_path to the schema, default_transaction_isolation to read
// committed and synchronous_commit to on (unless the DSN sets it) on every
// connection, and checks each new one's durability; a connection pooler in front of
// PostgreSQL must pass those startup parameters on.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, pool, err := connect(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	// The first connection is checked as every one is (AfterConnect): a
	// session that would lose commits refuses the start here.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	applied, err := migrate(ctx, pool, cfg.schema, !cfg.noMigrate)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open schema %q: %w", cfg.schema, err)
	}
	bytewise, err := textOrderBytewise(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	st := &Store{pool: pool, applied: applied, durable: !cfg.allowUnsafe}
	st.applies = group.Group[*applyCall]{Max: maxApplyGroup, Run: st.commitApplies}
	st.fetches = group.Group[*fetchCall]{Max: maxFetchGroup, Run: st.fetchTogether}
	st.sql.collateC = !bytewise // textorder.go
	return st, nil
}

// connect makes the pool Open and Status use.
func connect(ctx context.Context, dsn string, opts []Option) (*config, *pgxpool.Pool, error) {
	cfg := &config{schema: DefaultSchema}
	for _, o := range opts {
		o(cfg)
	}
	poolCfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx leaves the password out of its parse errors.
		return nil, nil, fmt.Errorf("postgres: open: %w", err)
	}
	if poolCfg.ConnConfig.ConnectTimeout == 0 {
		// Without connect_timeout in the DSN, a database that does not
		// answer would hold the server's start (and each new connection)
		// for as long as the kernel retries.
		poolCfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgx's default, the number of CPUs (at least 4), queues a busy
		// server's requests for a connection while the database idles:
		// each holds one only for its transaction's round trips.
		poolCfg.MaxConns = int32(max(defaultMaxConns, 4*runtime.NumCPU()))
	}
	poolCfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{cfg.schema}.Sanitize()
	// What a statement sent without a BEGIN runs at (a Fetch, Store.Apply's
	// batch): every transaction the store begins names its own level.
	poolCfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	if !cfg.allowUnsafe {
		// THREATS T31 for as long as the service runs, not only at its
		// start: synchronous_commit is pinned for the pool's sessions (a
		// startup parameter outranks what the role, the database or a
		// reloaded postgresql.conf set later), unless the DSN sets it
		// itself; and every new connection is checked as Open checks the
		// first, so a session that would lose commits is never used.
		params := poolCfg.ConnConfig.RuntimeParams
		if _, set := params["synchronous_commit"]; !set && !strings.Contains(params["options"], "synchronous_commit") {
			params["synchronous_commit"] = "on"
		}
		poolCfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error { return checkDurability(ctx, conn) }
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: open: %w", err)
	}
	return cfg, pool, nil
}

// checkDurability refuses settings under which a commit can be answered
// and then lost: fsync off (a crash of the database server loses or
// corrupts committed data), synchronous_commit off or local (a commit is
// answered before its WAL is flushed, or before a synchronous standby has
// it, so a crash or a failover loses it) or remote_write (the standby has
// it in memory only). The settings are those of the pool's sessions, so
// one set for the service's role or database, or in the DSN
// (options=-c synchronous_commit=off), counts. A database that reports
// neither (not PostgreSQL) is refused too: durability not shown is not
// assumed.
func checkDurability(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	var fsync, syncCommit *string
	err := db.QueryRow(ctx, "SELECT current_setting('fsync', true), current_setting('synchronous_commit', true)").
		Scan(&fsync, &syncCommit)
	if err != nil {
		return fmt.Errorf("read durability settings: %w", err)
	}
	shown := func(v *string) string {
		if v == nil {
			return "not reported"
		}
		return fmt.Sprintf("%q", *v)
	}
	var bad []string
	if fsync == nil || *fsync != "on" {
		bad = append(bad, "fsync is "+shown(fsync)+" (want on)")
	}
	if syncCommit == nil || (*syncCommit != "on" && *syncCommit != "remote_apply") {
		bad = append(bad, "synchronous_commit is "+shown(syncCommit)+" (want on or remote_apply)")
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrUnsafeDurability, strings.Join(bad, "; "))
	}
	return nil
}

// Applied lists the migrations Open applied (none when the database was
// up to date).
func (s *Store) Applied() []Migration { return s.applied }

// A database that stops answering with connections open (a network
// partition, a primary gone behind a virtual address) never closes them,
// so a wait on it is bounded here, not left to the caller's context, which
// a request often does not bound: each store operation (View, Update,
// Batch, with their retries; Apply and Fetch, grouped or alone) fails
// after opTimeout, and Ping after pingTimeout, as storage unavailable
// (503), never hanging (THREATS T42); but for a context marked
// wallet.Unbounded (a copy of the whole store). Variables only for the
// tests.
var (
	opTimeout   = 30 * time.Second
	pingTimeout = 5 * time.Second // a readiness probe is answered before a balancer's own timeout
)

// bounded is ctx with a deadline opTimeout from now, unless the caller
// marked it wallet.Unbounded.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if wallet.IsUnbounded(ctx) {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, opTimeout)
}

// View runs fn in a read-only transaction on one snapshot. Errors from fn
// come back as they are, so the service sees its own errors unwrapped.
func (s *Store) View(ctx context.Context, fn func(wallet.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: view: %w", err)
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	return s.run(ctx, "view", pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// Fetch runs ls as one statement (tx.Fetch), which PostgreSQL runs on
// one snapshot by itself: no BEGIN or COMMIT to send. Concurrent calls
// share one round trip (fetchCall, group.go).
func (s *Store) Fetch(ctx context.Context, ls ...wallet.Lookup) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: fetch: %w", err)
	}
	return s.fetch(ctx, ls)
}

// fetchAlone is one Fetch's own statement (tx.Fetch).
func (s *Store) fetchAlone(ctx context.Context, ls []wallet.Lookup) ([][]byte, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: fetch: begin: %w", err)
	}
	defer conn.Release()
	return (&tx{ctx: ctx, tx: &pipelined{conn: conn}, sql: &s.sql}).Fetch(ls...)
}

// Update runs fn in a serializable transaction and commits it. When
// PostgreSQL aborts the transaction for a serialization failure or a
// deadlock, fn runs again on a new one (see the package comment), so fn
// must only touch the store.
func (s *Store) Update(ctx context.Context, fn func(wallet.Tx) error) error {
	return s.write(ctx, "update", pgx.Serializable, fn)
}

// Batch runs fn at READ COMMITTED (the wallet.Store contract for Batch):
// its check-and-set is a Swap or a put of a key, which PostgreSQL
// decides on the committed row after waiting for a concurrent writer, so
// a redemption is never aborted by a serialization failure however many
// others run beside it (one verifier's, a holder's). PostgreSQL already
// commits concurrent transactions together, sharing WAL flushes (group
// commit), so there is nothing to gather here.
func (s *Store) Batch(ctx context.Context, fn func(wallet.Tx) error) error {
	return s.write(ctx, "batch", pgx.ReadCommitted, fn)
}

// write runs fn in read-write transactions at iso until one commits, fn
// fails on its own, or maxAttempts transactions were aborted by conflicts
// (at READ COMMITTED only a deadlock aborts one).
func (s *Store) write(ctx context.Context, op string, iso pgx.TxIsoLevel, fn func(wallet.Tx) error) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return retry(ctx, op, func() error {
		return s.run(ctx, op, pgx.TxOptions{IsoLevel: iso, AccessMode: pgx.ReadWrite}, fn)
	})
}

// retry runs attempt until it succeeds, fails but for a conflict, or
// maxAttempts of it were aborted by conflicts.
func retry(ctx context.Context, op string, attempt func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	for n := 1; ; n++ {
		err := attempt()
		if err == nil || !retryable(err) {
			return err
		}
		if n == maxAttempts {
			return fmt.Errorf("postgres: %s: gave up after %d conflicting attempts: %w", op, n, err)
		}
		if err := sleep(ctx, backoff(n)); err != nil {
			return fmt.Errorf("postgres: %s: %w", op, err)
		}
	}
}

// Apply sends ws as one batch with no BEGIN, which PostgreSQL runs as one
// implicit transaction (at the sessions' READ COMMITTED, see connect),
// committed when the batch ends: one round trip, where a Batch running
// Tx.Apply takes two and a savepoint. Each write is sent so that it fails
// when it writes no row (refusing), so a refused one aborts the
// transaction and nothing of it commits; which one, and why, is then said
// as Tx.Apply says it. Concurrent calls share their batch, round trip and
// commit (applyGroup, group.go).
func (s *Store) Apply(ctx context.Context, ws ...wallet.Write) error {
	if err := wallet.CheckWrites(ws); err != nil {
		return fmt.Errorf("postgres: apply %w", err)
	}
	return s.apply(ctx, ws)
}

func (s *Store) applyOnce(ctx context.Context, ws []wallet.Write) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: apply: begin: %w", err)
	}
	defer conn.Release()
	t := &tx{ctx: ctx, tx: &pipelined{conn: conn}, sql: &s.sql} // its statements sent below, as one batch
	b := &pgx.Batch{}
	for _, w := range ws {
		sql, args := t.write(w, true)
		b.Queue(sql, args...)
	}
	br := conn.SendBatch(ctx, b)
	var failed error
	refused := -1
	for i := range b.Len() {
		if _, err := br.Exec(); err != nil && failed == nil {
			failed = err
			if isRefusal(err) {
				refused = i
			}
		}
	}
	if err := br.Close(); err != nil && failed == nil {
		failed = err
	}
	if failed == nil {
		return nil
	}
	if refused < 0 {
		return fmt.Errorf("postgres: apply: %w", failed)
	}
	w := ws[refused]
	if !w.Swap {
		return fmt.Errorf("postgres: put %s %s: %w", w.Kind.Name, wallet.Describe(w.Record.Key), wallet.ErrExists)
	}
	return t.swapRefused(w.Kind, w.Old, w.Record.Key) // one read of its own: the batch has ended
}

// run runs fn in one transaction and commits it when fn returns nil.
// fn's own error comes back as it is; when a statement of the transaction
// failed with a conflict, that error comes back instead, whatever fn made
// of it, so that write can tell a conflict and try again.
func (s *Store) run(ctx context.Context, op string, opts pgx.TxOptions, fn func(wallet.Tx) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %s: begin: %w", op, err)
	}
	// The pool closes a connection released inside a transaction, so one
	// that fn panicked out of, or whose ROLLBACK failed, is not reused.
	defer conn.Release()
	ptx := &pipelined{conn: conn, begin: beginSQL(opts)}
	committed := false
	defer func() {
		if !committed {
			_ = ptx.end(ctx, false)
		}
	}()
	t := &tx{ctx: ctx, tx: ptx, sql: &s.sql}
	fnErr := fn(t)
	if fnErr != nil || t.failed != nil {
		switch {
		case retryable(t.failed) && !retryable(fnErr):
			return fmt.Errorf("postgres: %s: %w", op, t.failed)
		case fnErr != nil:
			return fnErr
		default:
			// fn went on after a failed statement: PostgreSQL has
			// aborted the transaction, so it cannot commit.
			return fmt.Errorf("postgres: %s: transaction aborted by an earlier statement: %w", op, t.failed)
		}
	}
	committed = true
	if err := ptx.end(ctx, true); err != nil {
		return fmt.Errorf("postgres: %s: commit: %w", op, err)
	}
	return nil
}

// Unreachable reports whether err, Open's, says the database gave no
// session at all: no answer on the network (refused, timed out, no route,
// no such host) or not yet taking connections (starting up, shutting
// down). It is false when the database answered and refused this service
// (its password, database name, durability settings, migrations): those
// need the operator, not time.
func Unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "57P03" || pgErr.Code == "57P01" // cannot_connect_now, admin_shutdown
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// retryable reports whether err is a conflict that running fn again
// resolves: a serialization failure or a deadlock, or at READ COMMITTED
// (Batch) a unique violation. A put's guard refuses a unique value
// another row holds, but not one a concurrent transaction is inserting
// and has not committed: the insert then waits for it and fails with
// 23505. Run again, the guard sees the committed row (under SERIALIZABLE
// PostgreSQL reports such a race as 40001).
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01" || pgErr.Code == "23505")
}

// backoff is the pause before attempt+1: exponential from 1 ms to at most
// 64 ms, jittered so that the transactions that lost together do not all
// come back together.
func backoff(attempt int) time.Duration {
	return jitter(time.Millisecond << min(attempt-1, 6))
}

// jitter is a pause drawn evenly from d/2 to d.
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ping reports whether the store can serve: one round trip to the
// database, which is the durability check again (fsync is the server's,
// and a reload can turn it off under running sessions).
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	var err error
	if s.durable {
		err = checkDurability(ctx, s.pool)
	} else {
		err = s.pool.Ping(ctx)
	}
	if err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to come back.
// Closing twice is harmless.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// DropSchema removes a schema and everything in it. It is for tests and
// for operators tearing down a deployment; the service never calls it.
func DropSchema(ctx context.Context, dsn, schema string) error {
	// Parsed as Open parses it, so that pool settings in the DSN are not
	// sent to the server as parameters.
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("postgres: drop schema: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("postgres: drop schema %s: %w", schema, err)
	}
	return nil
}
