package bolt

import (
	"fmt"
	"sync"

	"go.etcd.io/bbolt"
)

// groupCommit commits concurrent Batch calls together, without a timer: a
// call that finds no commit in flight starts one at once; calls arriving
// while a commit and its fsync are in flight queue up and go together in
// the next. Batches grow with the load and a lone caller never waits
// (group commit with no commit delay, as PostgreSQL does by default).
// bbolt's own DB.Batch instead holds every batch for a timer, which here
// fires no sooner than about a millisecond and caps throughput at
// callers/(delay+fsync).
type groupCommit struct {
	max     int // most calls in one commit
	mu      sync.Mutex
	pending []*groupCall
	running bool // a goroutine is committing
}

type groupCall struct {
	fn   func(*bbolt.Tx) error
	done chan error
}

// do queues fn and waits until it has committed (or failed).
func (g *groupCommit) do(db *bbolt.DB, fn func(*bbolt.Tx) error) error {
	c := &groupCall{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go g.loop(db)
	}
	return <-c.done
}

// loop commits queued calls until the queue is empty.
func (g *groupCommit) loop(db *bbolt.DB) {
	for {
		g.mu.Lock()
		n := min(len(g.pending), g.max)
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		calls := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()
		commitGroup(db, calls)
	}
}

// commitGroup runs calls in one read-write transaction. When one fails the
// transaction is rolled back, the failing call is answered by running it
// alone, and the rest are tried again together.
func commitGroup(db *bbolt.DB, calls []*groupCall) {
	for len(calls) > 0 {
		failed := -1
		err := commit(db, func(btx *bbolt.Tx) error {
			for i, c := range calls {
				if err := safeCall(c.fn, btx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range calls {
				c.done <- err
			}
			return
		}
		solo := calls[failed]
		calls = append(calls[:failed:failed], calls[failed+1:]...)
		solo.done <- commit(db, func(btx *bbolt.Tx) error { return safeCall(solo.fn, btx) })
	}
}

// safeCall turns a panic in fn into an error, so that one bad call cannot
// take the committing goroutine, and every caller waiting on it, down.
func safeCall(fn func(*bbolt.Tx) error, btx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in batch transaction: %v", p)
		}
	}()
	return fn(btx)
}
