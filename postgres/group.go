package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eidwallet/eidwallet/wallet"
)

// Concurrent Store.Apply calls of a replica go to the database together,
// and so do concurrent Store.Fetch calls (internal/group): one group of
// each kind in flight at a time, so groups grow with the load (a dozen
// calls at 32 concurrent redemptions) and a lone call goes at once,
// alone.

// A group's round trip is bounded by opTimeout (postgres.go) too: no one
// caller's context can cancel it (the group is theirs together), and a
// lone call holds up the calls queued behind it.

// groupContext is the context of a group's round trip: the first call's
// values, no caller's cancellation, opTimeout.
func groupContext(first context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(first), opTimeout)
}

// An applyCall is one Store.Apply in a group. Its writes go in the
// group's batch, which PostgreSQL runs as one implicit transaction: one
// round trip and one commit (one WAL flush) for the group, and its adds
// to one counter summed into one.
//
// A group is all or nothing: when one of its writes is refused (or
// PostgreSQL aborts it for a deadlock), nothing of it committed, and each
// call is run again alone, in its own goroutine, so that each gets its
// own answer. A call that writes a record another call of the group
// writes goes alone from the start (concurrent redemptions of one share:
// one of them must be refused, and it would roll back the rest). Any
// other failure is every call's answer, as it would be alone: whether
// the commit happened is not known, so nothing is run again.
type applyCall struct {
	ctx  context.Context
	ws   []wallet.Write
	done chan error
}

// maxApplyGroup bounds the calls of one group (about four statements each).
const maxApplyGroup = 32

// errAlone tells a call of a group to run alone.
var errAlone = errors.New("postgres: apply: run alone")

// apply queues ws, already checked, and waits until its group committed
// or failed; then, if it must, runs them alone.
func (s *Store) apply(ctx context.Context, ws []wallet.Write) error {
	c := &applyCall{ctx: ctx, ws: ws, done: make(chan error, 1)}
	s.applies.Add(c)
	if err := <-c.done; !errors.Is(err, errAlone) {
		return err
	}
	return s.applyAlone(ctx, ws)
}

// applyAlone is Apply's one batch, tried again after a deadlock.
func (s *Store) applyAlone(ctx context.Context, ws []wallet.Write) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return retry(ctx, "apply", func() error { return s.applyOnce(ctx, ws) })
}

// commitApplies sends calls' writes as one batch: each call's in its
// order, then the adds, summed by counter and in key order.
func (s *Store) commitApplies(calls []*applyCall) {
	written := map[string]bool{}
	adds := map[string]*wallet.Write{}
	var ws []wallet.Write
	var grouped []*applyCall
	for _, c := range calls {
		if slices.ContainsFunc(c.ws, func(w wallet.Write) bool { return w.Add == 0 && written[recordID(w)] }) {
			c.done <- errAlone
			continue
		}
		for _, w := range c.ws {
			id := recordID(w)
			switch {
			case w.Add == 0:
				written[id] = true
				ws = append(ws, w)
			case adds[id] != nil:
				adds[id].Add += w.Add
			default:
				adds[id] = &w
			}
		}
		grouped = append(grouped, c)
	}
	if len(grouped) == 1 { // its own context, as alone, and no longer than a group
		c := grouped[0]
		c.done <- s.applyAlone(c.ctx, c.ws) // bounded there
		return
	}
	for _, id := range slices.Sorted(maps.Keys(adds)) {
		if w := adds[id]; w.Add != 0 {
			ws = append(ws, *w)
		}
	}
	ctx, cancel := groupContext(grouped[0].ctx)
	defer cancel()
	err := s.applyOnce(ctx, ws)
	if errors.Is(err, wallet.ErrChanged) || errors.Is(err, wallet.ErrExists) ||
		errors.Is(err, wallet.ErrNotFound) || retryable(err) {
		err = errAlone // nothing of the group committed
	}
	for _, c := range grouped {
		c.done <- err
	}
}

// recordID names the record w writes, kind and key, for telling two
// writes of one record apart from writes of two.
func recordID(w wallet.Write) string {
	var b strings.Builder
	b.WriteString(w.Kind.Name)
	for _, v := range w.Record.Key {
		b.WriteByte(0)
		switch v := v.(type) {
		case []byte:
			b.WriteString(hex.EncodeToString(v))
		case time.Time:
			b.WriteString(v.UTC().Format(time.RFC3339Nano))
		default:
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// A fetchCall is one Store.Fetch in a group. The group's lookups are
// sent as one statement for each shape of lookup (kind, index, prefix
// length, direction), whatever the number of calls: the prefixes go as
// arrays, one row of them per lookup, each joined LATERAL to its first
// record. The statements and a BEGIN and COMMIT around them (REPEATABLE
// READ: one snapshot for the whole group, as each call's own Fetch has)
// go in one pipeline: one round trip for the group.
type fetchCall struct {
	ctx  context.Context
	ls   []wallet.Lookup
	out  [][]byte
	done chan error
}

// maxFetchGroup bounds the calls of one group.
const maxFetchGroup = 32

// fetch queues ls and waits for their bodies.
func (s *Store) fetch(ctx context.Context, ls []wallet.Lookup) ([][]byte, error) {
	c := &fetchCall{ctx: ctx, ls: ls, out: make([][]byte, len(ls)), done: make(chan error, 1)}
	s.fetches.Add(c)
	err := <-c.done
	return c.out, err
}

// fetchShape is the lookups of one shape in a group: where each goes
// (call, lookup) and their prefixes, column by column.
type fetchShape struct {
	first  wallet.Lookup // the kind, index, prefix length and direction
	to     [][2]int      // call and lookup of each row
	params []any         // the row numbers ([]int32), then one array a column
}

// fetchTogether answers calls with one round trip.
func (s *Store) fetchTogether(calls []*fetchCall) {
	if len(calls) == 1 { // its own context, as alone, and no longer than a group
		c := calls[0]
		ctx, cancel := bounded(c.ctx)
		defer cancel()
		var err error
		c.out, err = s.fetchAlone(ctx, c.ls)
		c.done <- err
		return
	}
	shapes := map[statement]*fetchShape{}
	var order []statement // the shapes, as they came
	var grouped []*fetchCall
	for ci, c := range calls {
		if err := checkLookups(c.ls); err != nil {
			c.done <- err
			continue
		}
		grouped = append(grouped, c)
		for li, l := range c.ls {
			cols, _ := l.Kind.Columns(l.Index)
			if wallet.CheckValues(cols, l.Prefix, false) != nil {
				continue // nothing can be stored under it
			}
			st := statement{kind: l.Kind.Name, op: "fetch rows", index: l.Index, prefix: len(l.Prefix), desc: l.Desc}
			sh := shapes[st]
			if sh == nil {
				sh = &fetchShape{first: l, params: []any{[]int32(nil)}}
				for _, c := range cols[:len(l.Prefix)] {
					sh.params = append(sh.params, emptyArray(c.Type))
				}
				shapes[st] = sh
				order = append(order, st)
			}
			sh.params[0] = append(sh.params[0].([]int32), int32(len(sh.to)))
			sh.to = append(sh.to, [2]int{ci, li})
			for i, v := range l.Prefix {
				sh.params[1+i] = appendValue(sh.params[1+i], v)
			}
		}
	}
	if len(grouped) == 0 {
		return
	}
	ctx, cancel := groupContext(grouped[0].ctx)
	defer cancel()
	err := s.fetchRows(ctx, shapes, order, calls)
	for _, c := range grouped {
		c.done <- err
	}
}

// checkLookups is the error tx.Fetch gives for ls before it sends
// anything: a lookup of an index its kind lacks.
func checkLookups(ls []wallet.Lookup) error {
	for _, l := range ls {
		if _, err := l.Kind.Columns(l.Index); err != nil {
			return fmt.Errorf("postgres: fetch %w", err)
		}
	}
	return nil
}

// fetchRows sends the statements of shapes in one pipeline and puts each
// row's body in its call's out.
func (s *Store) fetchRows(ctx context.Context, shapes map[statement]*fetchShape, order []statement, calls []*fetchCall) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: fetch: begin: %w", err)
	}
	// Released inside the transaction when a statement fails: the pool
	// then closes it.
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
	for _, st := range order {
		b.Queue(s.sql.of(st, func() string { return s.fetchRowsSQL(shapes[st].first) }), shapes[st].params...)
	}
	b.Queue("COMMIT")
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("postgres: fetch: begin: %w", err)
	}
	for _, st := range order {
		sh := shapes[st]
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("postgres: fetch: %w", err)
		}
		for rows.Next() {
			var j int32
			var doc, raw []byte
			if err := rows.Scan(&j, &doc, &raw); err != nil {
				rows.Close()
				return fmt.Errorf("postgres: fetch: %w", err)
			}
			if j < 0 || int(j) >= len(sh.to) {
				rows.Close()
				return fmt.Errorf("postgres: fetch: a row of no lookup (%d)", j)
			}
			if doc == nil {
				doc = raw
			}
			to := sh.to[j]
			calls[to[0]].out[to[1]] = doc
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: fetch: %w", err)
		}
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("postgres: fetch: commit: %w", err)
	}
	return br.Close()
}

// fetchRowsSQL is the statement of lookups shaped as l: for each row of
// the arrays (row number, then the prefix's columns), its first record,
// as tx.Fetch would read it.
func (s *Store) fetchRowsSQL(l wallet.Lookup) string {
	cols, _ := l.Kind.Columns(l.Index)
	n := len(l.Prefix)
	arrays, names := []string{"$1::int[]"}, []string{"i"}
	for i, c := range cols[:n] {
		arrays = append(arrays, fmt.Sprintf("$%d::%s[]", i+2, sqlType(c.Type)))
		names = append(names, fmt.Sprintf("p%d", i))
	}
	what := "rec AS doc, NULL::bytea AS raw"
	if l.Kind.Raw {
		what = "NULL::json AS doc, rec AS raw"
	}
	one := selectSQL(l.Kind, l.Index, cols, n, l.Desc, false, s.sql.collateC, what, func(i int) string { return fmt.Sprintf("l.p%d", i) }, "1")
	return fmt.Sprintf("SELECT l.i, r.doc, r.raw FROM unnest(%s) AS l(%s) CROSS JOIN LATERAL (%s) AS r",
		strings.Join(arrays, ", "), strings.Join(names, ", "), one)
}

// emptyArray is the array of a column of type t that appendValue grows.
func emptyArray(t wallet.Type) any {
	switch t {
	case wallet.Text:
		return []string(nil)
	case wallet.Bytes:
		return [][]byte(nil)
	case wallet.Int:
		return []int64(nil)
	default:
		return []time.Time(nil)
	}
}

// appendValue appends v, checked (CheckValues) to be of the array's type.
func appendValue(array, v any) any {
	switch a := array.(type) {
	case []string:
		return append(a, v.(string))
	case [][]byte:
		return append(a, v.([]byte))
	case []int64:
		return append(a, v.(int64))
	default:
		return append(a.([]time.Time), v.(time.Time))
	}
}
