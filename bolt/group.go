package bolt

import (
	"fmt"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// Batch calls are committed together (internal/group): concurrent ones
// share one transaction and its fsync. bbolt's own DB.Batch instead holds
// every batch for a timer, which here fires no sooner than about a
// millisecond and caps throughput at callers/(delay+fsync).

type groupCall struct {
	fn   func(*bbolt.Tx) error
	done chan error
}

// batch queues fn and waits until it has committed (or failed).
func (s *Store) batch(fn func(*bbolt.Tx) error) error {
	c := &groupCall{fn: fn, done: make(chan error, 1)}
	s.group.Add(c)
	return <-c.done
}

// commitGroup runs calls in one read-write transaction. When one fails the
// transaction is rolled back, the failing call is answered by running it
// alone, and the rest are tried again together.
func (s *Store) commitGroup(calls []*groupCall) {
	for len(calls) > 0 {
		failed := -1
		err := s.commit(len(calls), func(btx *bbolt.Tx) error {
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
		solo.done <- s.commit(1, func(btx *bbolt.Tx) error { return safeCall(solo.fn, btx) })
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

// WriterStats is what the store's single writer has done since Open: the
// transactions it committed (each one fsync), the writes they carried
// (Update and Batch calls: more writes than commits is fsyncs shared), and
// the time it was held, rolled-back transactions included: the
// transactions' own work, and bbolt's commit of them (spilling the tree,
// writing the pages out and fsyncing, as bbolt's TxStats count them).
// Busy growing at nearly a second a second means writes queue for it:
// the limit of one machine (docs/performance.md), where replicas over
// PostgreSQL take over.
type WriterStats struct {
	Commits, Writes int64
	Busy            time.Duration
	Written         time.Duration // of Busy, writing the pages out and fsyncing them (bbolt's TxStats.WriteTime)
}

// WriterStats returns the writer's counts so far.
func (s *Store) WriterStats() WriterStats {
	tx, at := s.db.Stats().TxStats, &s.writer.opened
	committing := tx.GetSpillTime() + tx.GetRebalanceTime() + tx.GetWriteTime() - at.GetSpillTime() - at.GetRebalanceTime() - at.GetWriteTime()
	return WriterStats{Commits: s.writer.commits.Load(), Writes: s.writer.writes.Load(),
		Busy: time.Duration(s.writer.ran.Load()) + committing, Written: tx.GetWriteTime() - at.GetWriteTime()}
}

type writerCounts struct {
	commits, writes, ran atomic.Int64
	opened               bbolt.TxStats // bbolt's at the end of Open, which wrote its buckets and indexes
}

func (c *writerCounts) count(writes int, committed bool) {
	if committed {
		c.commits.Add(1)
		c.writes.Add(int64(writes))
	}
}
