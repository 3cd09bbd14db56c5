package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eidwallet/eidwallet/wallet"
)

// applyGroup commits concurrent Store.Apply calls together, as bolt's
// groupCommit does its Batches: a call that finds no group in flight
// starts one at once; calls arriving while it is in flight queue and go
// together in the next, their writes in one batch, which PostgreSQL runs
// as one implicit transaction. A group costs one round trip and one
// commit (one WAL flush) where each call alone costs its own, and its
// adds to one counter are summed into one. Nothing waits on a timer, so
// a lone call goes at once.
//
// A group is all or nothing: when one of its writes is refused (or
// PostgreSQL aborts it for a deadlock), nothing of it committed, and each
// call is run again alone, as Apply runs it without a group, so that each
// gets its own answer. A call that writes a record another call of the
// group writes goes alone from the start (concurrent redemptions of one
// share: one of them must be refused, and it would roll back the rest).
// Any other failure is every call's answer, as it would be alone: whether
// the commit happened is not known, so nothing is run again.
type applyGroup struct {
	mu      sync.Mutex
	pending []*applyCall
	running bool
}

type applyCall struct {
	ctx  context.Context
	ws   []wallet.Write
	done chan error
}

// maxApplyGroup bounds the calls of one group (about four statements each).
const maxApplyGroup = 32

// applyTimeout bounds a group's round trip, which no caller's context
// can cancel: the group is theirs together.
const applyTimeout = 30 * time.Second

// errAlone tells a call of a group to run alone.
var errAlone = errors.New("postgres: apply: run alone")

// apply queues ws, already checked, and waits until its group committed
// or failed; then, if it must, runs them alone.
func (g *applyGroup) apply(s *Store, ctx context.Context, ws []wallet.Write) error {
	c := &applyCall{ctx: ctx, ws: ws, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go g.loop(s)
	}
	if err := <-c.done; !errors.Is(err, errAlone) {
		return err
	}
	return retry(ctx, "apply", func() error { return s.applyAlone(ctx, ws) })
}

// loop commits queued calls, a group at a time, until none is left.
func (g *applyGroup) loop(s *Store) {
	for {
		g.mu.Lock()
		n := min(len(g.pending), maxApplyGroup)
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		calls := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()
		s.commitGroup(calls)
	}
}

// commitGroup sends calls' writes as one batch: each call's in its order,
// then the adds, summed by counter and in key order.
func (s *Store) commitGroup(calls []*applyCall) {
	if len(calls) == 1 {
		calls[0].done <- errAlone
		return
	}
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
	if len(grouped) == 1 {
		grouped[0].done <- errAlone
		return
	}
	for _, id := range slices.Sorted(maps.Keys(adds)) {
		if w := adds[id]; w.Add != 0 {
			ws = append(ws, *w)
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(grouped[0].ctx), applyTimeout)
	defer cancel()
	err := s.applyAlone(ctx, ws)
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
