package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/eidwallet/eidwallet/wallet"
)

// tx is a wallet.Tx over one pgx transaction: a table per record kind
// (migrations/), with a column per key and index column and the body in
// rec; an index entry a record lacks is NULL in all its columns.
//
// PostgreSQL aborts a transaction at its first failed statement, but the
// contract lets fn go on, and commit, after a put refused with ErrExists
// (the service tries another status index in the same transaction). So no
// put lets a unique key raise an SQL error: each checks and writes in one
// statement (INSERT … SELECT … WHERE NOT EXISTS … ON CONFLICT) and reports
// ErrExists when it wrote no row. Under SERIALIZABLE a concurrent
// transaction that takes the same key makes that statement, or the
// commit, fail with a serialization failure instead, and Update runs fn
// again; Batch, at READ COMMITTED, puts new keys of Immutable kinds (log
// entries, status indices), whose conflicts ON CONFLICT decides after
// waiting for the other writer, new records (a holder) whose unique value
// a concurrent insert may take first (23505: fn runs again), and changes
// records by swaps. Values wallet.CheckValue
// refuses never reach PostgreSQL, so a lookup by an id from a URL cannot
// abort the transaction either.
type tx struct {
	ctx context.Context
	tx  querier // the transaction, begun with its first statement (pipelined)
	sql *statements
	// failed is the first error a statement returned: from then on
	// PostgreSQL refuses every statement and the commit (see Store.run).
	failed error
	// shard is 1 + the counter shard this transaction adds to (0: none
	// chosen yet): one per transaction, so that two transactions adding
	// to the same counters in the same order take their rows' locks in
	// that order, and never deadlock over them.
	shard int
}

var _ wallet.Tx = (*tx)(nil)

// pruneBatch is how many expired one-time keys each UseOnce call removes:
// more than the one it adds, so the table shrinks back to the live keys
// without a sweeper.
const pruneBatch = 8

func (t *tx) fail(err error) error {
	if t.failed == nil {
		t.failed = err
	}
	return err
}

func (t *tx) List(k *wallet.Kind, index string, o wallet.Order, prefix ...any) ([][]byte, error) {
	cols, err := k.Columns(index)
	if err != nil {
		return nil, fmt.Errorf("postgres: list %w", err)
	}
	out := [][]byte{}
	if wallet.CheckValues(cols, prefix, false) != nil {
		return out, nil // nothing can be stored under it
	}
	args := append([]any(nil), prefix...)
	if o.After != nil {
		if err := k.CheckPosition(index, o.After, prefix); err != nil {
			return nil, fmt.Errorf("postgres: list %w", err)
		}
		if len(o.After) == len(prefix) {
			return out, nil // the whole position is the prefix: nothing after it
		}
		args = append(args, o.After[len(prefix):]...)
	}
	sql := t.listSQL(k, index, cols, len(prefix), o.Desc, o.After != nil)
	var limit any // NULL: no limit
	if o.Limit > 0 {
		limit = o.Limit
	}
	rows, err := t.tx.Query(t.ctx, sql, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list %s %s: %w", k.Name, wallet.Describe(prefix), t.fail(err))
	}
	defer rows.Close()
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("postgres: list %s %s: %w", k.Name, wallet.Describe(prefix), err)
		}
		out = append(out, body)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list %s %s: %w", k.Name, wallet.Describe(prefix), t.fail(err))
	}
	return out, nil
}

// listSQL is the SELECT of a List by index (whose columns are cols) with
// n columns of prefix: parameters the prefix, with after the rest of the
// position (Order.After past the prefix), then the limit.
func (t *tx) listSQL(k *wallet.Kind, index string, cols []wallet.Column, n int, desc, after bool) string {
	st := statement{kind: k.Name, op: "list", index: index, prefix: n, desc: desc, after: after}
	return t.sql.of(st, func() string {
		return selectSQL(k, index, cols, n, desc, after, t.sql.collateC, "rec", dollar(1), "")
	})
}

// selectSQL is the SELECT of what of k's rows whose first n columns of
// index (cols) equal the parameters param(0) to param(n-1), in the
// index's order then the key's, after the position in the next
// parameters when after; limited to limit, or to the last parameter when
// limit is "".
func selectSQL(k *wallet.Kind, index string, cols []wallet.Column, n int, desc, after, collateC bool, what string, param func(int) string, limit string) string {
	order := cols[n:]
	if index != "" {
		order = append(append([]wallet.Column(nil), order...), k.Key...)
	}
	dir := ""
	if desc {
		dir = " DESC"
	}
	by, row, params := make([]string, len(order)), make([]string, len(order)), make([]string, len(order))
	for i, c := range order {
		row[i] = c.Name
		if c.Type == wallet.Text && collateC {
			row[i] += ` COLLATE "C"` // bytewise, as bbolt (textorder.go)
		}
		by[i] = row[i] + dir
		params[i] = param(n + i)
	}
	// A record not in the index has NULL there: not listed.
	where := cols[0].Name + " IS NOT NULL"
	if n > 0 {
		where = equalTo(cols[:n], param)
	}
	if after {
		// A row comparison on the index's columns past the prefix:
		// an index condition (a leading part of it when a text column
		// is compared COLLATE "C"), so a page costs its own rows.
		op := ">"
		if desc {
			op = "<"
		}
		where += fmt.Sprintf(" AND (%s) %s (%s)", strings.Join(row, ", "), op, strings.Join(params, ", "))
		n += len(order)
	}
	if limit == "" {
		limit = param(n)
	}
	if len(by) == 0 { // the whole key: one record at most
		return fmt.Sprintf("SELECT %s FROM %s WHERE %s LIMIT %s", what, k.Name, where, limit)
	}
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %s", what, k.Name, where, strings.Join(by, ", "), limit)
}

// Fetch sends the lists of one record of every lookup as one statement,
// a UNION ALL of them, each row tagged with its lookup: one round trip and
// one statement to plan and run, whatever their number. A raw kind's
// body comes in a column of its own (bytea), the others' in json's.
func (t *tx) Fetch(ls ...wallet.Lookup) ([][]byte, error) {
	out := make([][]byte, len(ls))
	var queued []int // the lookups sent, in order
	var args []any
	var sig strings.Builder // what the statement is made of: its cache key
	for i, l := range ls {
		cols, err := l.Kind.Columns(l.Index)
		if err != nil {
			return nil, fmt.Errorf("postgres: fetch %w", err)
		}
		if wallet.CheckValues(cols, l.Prefix, false) != nil {
			continue // nothing can be stored under it
		}
		sig.WriteString(l.Kind.Name + "/" + l.Index + "/" + strconv.Itoa(len(l.Prefix)) + "/" + strconv.FormatBool(l.Desc) + ";")
		queued = append(queued, i)
		args = append(args, l.Prefix...)
	}
	if len(queued) == 0 {
		return out, nil
	}
	sql := t.sql.of(statement{op: "fetch", index: sig.String()}, func() string {
		parts := make([]string, len(queued))
		first := 1
		for j, i := range queued {
			l := ls[i]
			cols, _ := l.Kind.Columns(l.Index)
			what := fmt.Sprintf("%d AS i, rec AS doc, NULL::bytea AS raw", j)
			if l.Kind.Raw {
				what = fmt.Sprintf("%d AS i, NULL::json AS doc, rec AS raw", j)
			}
			parts[j] = "(" + selectSQL(l.Kind, l.Index, cols, len(l.Prefix), l.Desc, false, t.sql.collateC, what, dollar(first), "1") + ")"
			first += len(l.Prefix)
		}
		return strings.Join(parts, " UNION ALL ")
	})
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: fetch: %w", t.fail(err))
	}
	defer rows.Close()
	for rows.Next() {
		var j int
		var doc, raw []byte
		if err := rows.Scan(&j, &doc, &raw); err != nil {
			return nil, fmt.Errorf("postgres: fetch: %w", t.fail(err))
		}
		if j < 0 || j >= len(queued) {
			return nil, fmt.Errorf("postgres: fetch: a row of no lookup (%d)", j)
		}
		if doc == nil {
			doc = raw
		}
		out[queued[j]] = doc
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: fetch: %w", t.fail(err))
	}
	return out, nil
}

// recordArgs are the parameters of r's row: its key, every index column
// (NULL where r is not in the index), its body.
func recordArgs(k *wallet.Kind, r wallet.Record) []any {
	args := append([]any(nil), r.Key...)
	for i, ix := range k.Indexes {
		for j := range ix.Columns {
			if r.Index[i] == nil {
				args = append(args, nil)
			} else {
				args = append(args, r.Index[i][j])
			}
		}
	}
	body := r.Body
	if body == nil {
		body = []byte{} // NULL is no record
	}
	return append(args, body)
}

func putSQL(k *wallet.Kind) string {
	var cols, vals, guards, set []string
	add := func(c wallet.Column) string {
		cols = append(cols, c.Name)
		p := fmt.Sprintf("$%d", len(cols))
		vals = append(vals, p+"::"+sqlType(c.Type))
		return p
	}
	var key []string
	for _, c := range k.Key {
		key = append(key, add(c))
	}
	for _, ix := range k.Indexes {
		var ps []string
		for _, c := range ix.Columns {
			ps = append(ps, add(c))
			set = append(set, c.Name+" = excluded."+c.Name)
		}
		if ix.Unique {
			guards = append(guards, fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s WHERE (%s) = (%s) AND (%s) <> (%s))",
				k.Name, names(ix.Columns), strings.Join(ps, ", "), names(k.Key), strings.Join(key, ", ")))
		}
	}
	cols = append(cols, "rec")
	vals = append(vals, fmt.Sprintf("$%d::%s", len(cols), bodyType(k)))
	set = append(set, "rec = excluded.rec")
	where := ""
	if len(guards) > 0 {
		where = " WHERE " + strings.Join(guards, " AND ")
	}
	onConflict := "DO UPDATE SET " + strings.Join(set, ", ")
	if k.Immutable {
		onConflict = "DO NOTHING"
	}
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT %s%s ON CONFLICT (%s) %s",
		k.Name, strings.Join(cols, ", "), strings.Join(vals, ", "), where, names(k.Key), onConflict)
}

// swapRefused says why a swap from old of the record at key wrote no row.
func (t *tx) swapRefused(k *wallet.Kind, old []byte, key []any) error {
	cur, err := wallet.Get(t, k, key...)
	switch {
	case err != nil:
		return err
	case !bytes.Equal(cur, old):
		return fmt.Errorf("postgres: swap %s %s: %w", k.Name, wallet.Describe(key), wallet.ErrChanged)
	default:
		return fmt.Errorf("postgres: swap %s %s: %w", k.Name, wallet.Describe(key), wallet.ErrExists)
	}
}

// Apply sends the writes as one pipeline, after a savepoint when there
// are several. Each is one statement that checks and writes: a put
// inserts the row unless a unique value is another record's, and on a key
// conflict replaces it (Immutable: leaves it); a swap is an UPDATE
// conditional on the stored body and on the unique values being free,
// which under READ COMMITTED (Batch) PostgreSQL decides on what a
// concurrent writer of the row committed, so of swaps from one body
// exactly one writes. When one wrote no row, a rollback to the savepoint
// undoes the others, and for a swap one more read says why.
func (t *tx) Apply(ws ...wallet.Write) error {
	if err := wallet.CheckWrites(ws); err != nil {
		return fmt.Errorf("postgres: apply %w", err)
	}
	b := &pgx.Batch{}
	several := len(ws) > 1 // one write that wrote no row wrote nothing
	if several {
		b.Queue("SAVEPOINT apply")
	}
	for _, w := range ws {
		sql, args := t.write(w, false)
		b.Queue(sql, args...)
	}
	br, err := t.tx.SendBatch(t.ctx, b)
	if err != nil {
		return fmt.Errorf("postgres: apply: %w", t.fail(err))
	}
	refused := -1
	for i := range b.Len() {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return fmt.Errorf("postgres: apply: %w", t.fail(err))
		}
		if w := i - (b.Len() - len(ws)); w >= 0 && tag.RowsAffected() == 0 && refused < 0 {
			refused = w
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("postgres: apply: %w", t.fail(err))
	}
	if refused < 0 {
		return nil
	}
	if several {
		if _, err := t.tx.Exec(t.ctx, "ROLLBACK TO SAVEPOINT apply"); err != nil {
			return fmt.Errorf("postgres: apply: %w", t.fail(err))
		}
	}
	w := ws[refused]
	if w.Swap {
		return t.swapRefused(w.Kind, w.Old, w.Record.Key)
	}
	return fmt.Errorf("postgres: put %s %s: %w", w.Kind.Name, wallet.Describe(w.Record.Key), wallet.ErrExists)
}

// write is the statement of w (an add's, a put's or a swap's), a put or
// swap refusing when refuse (an add always writes its row), and its
// parameters.
func (t *tx) write(w wallet.Write, refuse bool) (string, []any) {
	if w.Add != 0 {
		return t.sql.of(statement{kind: w.Kind.Name, op: "add"}, func() string { return addSQL(w.Kind) }),
			append(slices.Clone(w.Record.Key), t.counterShard(), w.Add)
	}
	args := recordArgs(w.Kind, w.Record)
	op, build := "put", putSQL
	if w.Swap {
		op, build, args = "swap", swapSQL, append(args, w.Old)
	}
	if refuse {
		op += " refusing"
	}
	return t.sql.of(statement{kind: w.Kind.Name, op: op}, func() string {
		if refuse {
			return refusing(build(w.Kind))
		}
		return build(w.Kind)
	}), args
}

// refusing makes a write statement fail when it writes no row: its
// RETURNING rows counted in a data-modifying WITH and divided into 1, so a
// refused write raises division_by_zero and aborts its transaction — the
// portable way (PostgreSQL, CockroachDB, YugabyteDB; no function to
// install) to have a refusal undo the writes pipelined with it
// (Store.Apply).
func refusing(sql string) string {
	return "WITH w AS (" + sql + " RETURNING 1) SELECT 1 / count(*) FROM w"
}

// isRefusal reports whether err is a refusing statement's refusal.
func isRefusal(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "22012" // division_by_zero
}

// CounterShards is how many rows a counter's key is spread over: an add
// goes to the row of its transaction's shard, chosen at random, so
// that concurrent adds to one key (every replica's redemptions of one
// hour, type and flow) wait on one another only when they pick the same
// row, each row's lock held from its statement to its commit. Counts sums
// the rows. Changing it needs no migration: rows of any shard are summed.
const CounterShards = 16

// counterShard is the shard of this transaction's adds.
func (t *tx) counterShard() int {
	if t.shard == 0 {
		t.shard = 1 + rand.N(CounterShards)
	}
	return t.shard - 1
}

// addSQL is the upsert of an add: the key's row of a shard created with
// n, or n added to it. Parameters: the key, the shard, n.
func addSQL(k *wallet.Kind) string {
	vals := make([]string, 0, len(k.Key)+2)
	for i, c := range k.Key {
		vals = append(vals, fmt.Sprintf("$%d::%s", i+1, sqlType(c.Type)))
	}
	n := len(k.Key)
	vals = append(vals, fmt.Sprintf("$%d::smallint", n+1), fmt.Sprintf("$%d::bigint", n+2))
	return fmt.Sprintf("INSERT INTO %s (%s, shard, n) VALUES (%s) ON CONFLICT (%s, shard) DO UPDATE SET n = %s.n + excluded.n",
		k.Name, names(k.Key), strings.Join(vals, ", "), names(k.Key), k.Name)
}

// Counts sums each key's shard rows with its first column in [from, to).
func (t *tx) Counts(k *wallet.Kind, from, to any) ([]wallet.Count, error) {
	out := []wallet.Count{}
	if ok, err := wallet.CheckCounts(k, from, to); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	} else if !ok {
		return out, nil
	}
	var args []any
	op := "counts"
	for _, v := range []struct {
		op  string
		val any
	}{{"-from", from}, {"-to", to}} {
		if v.val != nil {
			op += v.op
			args = append(args, v.val)
		}
	}
	sql := t.sql.of(statement{kind: k.Name, op: op}, func() string {
		first := k.Key[0]
		var where []string
		if from != nil {
			where = append(where, fmt.Sprintf("%s >= $1::%s", first.Name, sqlType(first.Type)))
		}
		if to != nil {
			where = append(where, fmt.Sprintf("%s < $%d::%s", first.Name, len(where)+1, sqlType(first.Type)))
		}
		cond := ""
		if len(where) > 0 {
			cond = " WHERE " + strings.Join(where, " AND ")
		}
		by := make([]string, len(k.Key))
		for i, c := range k.Key {
			by[i] = c.Name
			if c.Type == wallet.Text && t.sql.collateC {
				by[i] += ` COLLATE "C"` // bytewise, as bbolt (textorder.go)
			}
		}
		return fmt.Sprintf("SELECT %s, sum(n)::bigint FROM %s%s GROUP BY %s ORDER BY %s",
			names(k.Key), k.Name, cond, names(k.Key), strings.Join(by, ", "))
	})
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: counts %s: %w", k.Name, t.fail(err))
	}
	defer rows.Close()
	vals := make([]columnValue, len(k.Key))
	dest := make([]any, len(k.Key)+1)
	for i, c := range k.Key {
		vals[i] = newColumnValue(c.Type)
		dest[i] = vals[i].dest
	}
	for rows.Next() {
		var c wallet.Count
		dest[len(k.Key)] = &c.N
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("postgres: counts %s: %w", k.Name, err)
		}
		for i := range k.Key {
			v, ok := vals[i].get()
			if !ok {
				return nil, fmt.Errorf("postgres: counts %s: NULL in key column %s", k.Name, k.Key[i].Name)
			}
			if tm, isTime := v.(time.Time); isTime {
				v = tm.UTC()
			}
			c.Key = append(c.Key, v)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: counts %s: %w", k.Name, t.fail(err))
	}
	return out, nil
}

// swapSQL is UPDATE … SET every index column and rec WHERE the key is
// r's, rec is still old and no other record holds r's unique values.
// Parameters: the key, the index columns, the new body, the old body.
func swapSQL(k *wallet.Kind) string {
	n := len(k.Key)
	var set, guards []string
	for _, ix := range k.Indexes {
		first := n + 1
		for _, c := range ix.Columns {
			n++
			set = append(set, fmt.Sprintf("%s = $%d::%s", c.Name, n, sqlType(c.Type)))
		}
		if ix.Unique {
			var ps []string
			for i := range ix.Columns {
				ps = append(ps, fmt.Sprintf("$%d", first+i))
			}
			guards = append(guards, fmt.Sprintf(" AND NOT EXISTS (SELECT 1 FROM %s AS other WHERE (%s) = (%s) AND (%s) <> (%s))",
				k.Name, qualified("other", ix.Columns), strings.Join(ps, ", "), qualified("other", k.Key), keyParams(k)))
		}
	}
	set = append(set, fmt.Sprintf("rec = $%d::%s", n+1, bodyType(k)))
	same := fmt.Sprintf("rec::text = $%d::text", n+2)
	if k.Raw {
		same = fmt.Sprintf("rec = $%d::bytea", n+2)
	}
	return fmt.Sprintf("UPDATE %s SET %s WHERE %s AND %s%s",
		k.Name, strings.Join(set, ", "), equal(k.Key, 1), same, strings.Join(guards, ""))
}

// qualified is the columns' names prefixed with the table alias t.
func qualified(t string, cols []wallet.Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = t + "." + c.Name
	}
	return strings.Join(parts, ", ")
}

// keyParams is $1 … $n for k's key columns.
func keyParams(k *wallet.Kind) string {
	parts := make([]string, len(k.Key))
	for i := range k.Key {
		parts[i] = fmt.Sprintf("$%d", i+1)
	}
	return strings.Join(parts, ", ")
}

func (t *tx) Delete(k *wallet.Kind, key ...any) error {
	if err := wallet.CheckValues(k.Key, key, true); err != nil {
		return fmt.Errorf("postgres: delete %s: %w", k.Name, err)
	}
	sql := t.sql.of(statement{kind: k.Name, op: "delete"}, func() string {
		return fmt.Sprintf("DELETE FROM %s WHERE %s", k.Name, equal(k.Key, 1))
	})
	if _, err := t.tx.Exec(t.ctx, sql, key...); err != nil {
		return fmt.Errorf("postgres: delete %s %s: %w", k.Name, wallet.Describe(key), t.fail(err))
	}
	return nil
}

// UseOnce records key until expires. A recorded key is taken while now is
// not after its expiry (the boundary counts as taken: the safe side for a
// replay check); an expired one is recorded anew. The same statement
// removes a few other keys that expired before now, oldest expiry first,
// skipping any a concurrent transaction holds.
func (t *tx) UseOnce(key string, expires time.Time, now time.Time) error {
	if err := wallet.CheckOnceKey(key); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	tag, err := t.tx.Exec(t.ctx, `
		WITH pruned AS (
			DELETE FROM once WHERE key IN (
				SELECT key FROM once WHERE expires < $3 AND key <> $1
				ORDER BY expires LIMIT $4 FOR UPDATE SKIP LOCKED))
		INSERT INTO once (key, expires) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE once.expires < $3`,
		[]byte(key), expires, now, pruneBatch)
	if err != nil {
		return fmt.Errorf("postgres: use once: %w", t.fail(err))
	}
	if tag.RowsAffected() == 0 {
		// The key may be a nonce: not in the error.
		return fmt.Errorf("postgres: use once: %w", wallet.ErrExists)
	}
	return nil
}

// --- statements -------------------------------------------------------------

// statements caches the SQL of each kind's operations, made from its
// declaration on first use (pgx then caches the prepared statement).
type statements struct {
	sql sync.Map // statement → SQL
	// collateC: the database's default collation does not order text
	// bytewise, so lists order Text columns COLLATE "C" (textorder.go).
	// Set by Open before any statement is made.
	collateC bool
}

// statement names a statement of a kind: its operation and, for a list,
// the index, the number of prefix columns and the direction. It is a
// comparable value, so that finding the SQL on the hot path allocates
// nothing.
type statement struct {
	kind, op, index string
	prefix          int
	desc, after     bool
}

func (s *statements) of(st statement, build func() string) string {
	if sql, ok := s.sql.Load(st); ok {
		return sql.(string)
	}
	sql, _ := s.sql.LoadOrStore(st, build())
	return sql.(string)
}

// equal is "c1 = $from AND c2 = $from+1 …".
func equal(cols []wallet.Column, from int) string { return equalTo(cols, dollar(from)) }

// equalTo is "c1 = param(0) AND c2 = param(1) …".
func equalTo(cols []wallet.Column, param func(int) string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.Name + " = " + param(i)
	}
	return strings.Join(parts, " AND ")
}

// dollar names the parameters from $first on: dollar(first)(i) is
// $(first+i).
func dollar(first int) func(int) string {
	return func(i int) string { return "$" + strconv.Itoa(first+i) }
}

func names(cols []wallet.Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.Name
	}
	return strings.Join(parts, ", ")
}

// sqlType is the column type of a wallet.Type. Text columns have the
// database's default collation; lists order them bytewise, as bbolt does
// (textorder.go). Equality needs no collation: PostgreSQL's default
// collations are deterministic, so equal means the same bytes.
func sqlType(t wallet.Type) string {
	switch t {
	case wallet.Text:
		return "text"
	case wallet.Bytes:
		return "bytea"
	case wallet.Int:
		return "bigint"
	default:
		return "timestamptz"
	}
}

// bodyType is json for JSON records (kept as written, readable by
// operators: rec->>'status'), bytea for raw ones.
func bodyType(k *wallet.Kind) string {
	if k.Raw {
		return "bytea"
	}
	return "json"
}
