package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/wallet"
)

// testCounters: adds to a Counter kind (Write.Add) sum exactly, however
// many transactions add to one key at once, in Batch and Update, in any
// order of keys; Counts reads a range of the first column, in key order;
// an add is undone with its transaction and with a refused Apply, and
// kept when the store is opened again; what is not an add of a counter
// is refused.
func (s *suite) testCounters(t *testing.T) {
	dir := t.TempDir()
	st := s.open(t, dir)
	defer func() { _ = st.Close() }()
	k := wallet.UsageCounters
	key := func(hour int, event string) []any {
		return []any{at(time.Duration(hour) * time.Hour), event, "national_id", "bank", "share", "valid", "-", int64(1000)}
	}
	counts := func(st wallet.Store, from, to any) []wallet.Count {
		t.Helper()
		var got []wallet.Count
		view(t, st, func(tx wallet.Tx) error {
			var err error
			got, err = tx.Counts(k, from, to)
			return err
		})
		return got
	}
	count := func(n int64, key []any) wallet.Count { return wallet.Count{Key: key, N: n} }

	same(t, "Counts of an empty store", counts(st, nil, nil), []wallet.Count{})
	update(t, st, func(tx wallet.Tx) error {
		noErr(t, "Apply(two adds)", tx.Apply(wallet.Added(k, 2, key(0, "b")...), wallet.Added(k, 3, key(0, "a")...)))
		noErr(t, "Apply(add again)", tx.Apply(wallet.Added(k, 5, key(0, "b")...)))
		noErr(t, "Apply(add, other hours)", tx.Apply(wallet.Added(k, 1, key(1, "a")...), wallet.Added(k, 7, key(2, "a")...)))
		// Within the transaction, its own adds are counted.
		got, err := tx.Counts(k, nil, nil)
		noErr(t, "Counts inside the transaction", err)
		same(t, "Counts inside the transaction", got, []wallet.Count{count(3, key(0, "a")), count(7, key(0, "b")), count(1, key(1, "a")), count(7, key(2, "a"))})
		return nil
	})
	all := []wallet.Count{count(3, key(0, "a")), count(7, key(0, "b")), count(1, key(1, "a")), count(7, key(2, "a"))}
	same(t, "Counts(all)", counts(st, nil, nil), all)
	same(t, "Counts(from hour 1)", counts(st, at(time.Hour), nil), all[2:])
	same(t, "Counts(before hour 1)", counts(st, nil, at(time.Hour)), all[:2])
	same(t, "Counts(hour 1 only)", counts(st, at(time.Hour), at(2*time.Hour)), all[2:3])
	same(t, "Counts(from after to)", counts(st, at(2*time.Hour), at(time.Hour)), []wallet.Count{})
	same(t, "Counts(a bound no put accepts)", counts(st, "not a time", nil), []wallet.Count{})

	// Refused: an add of a kind that is not a counter, a counter written
	// otherwise than by an add, an add of 0, a key of the wrong shape;
	// Counts of a record kind. The transaction stays usable.
	update(t, st, func(tx wallet.Tx) error {
		meta := wallet.Meta.Kind()
		plain(t, "add to a record kind", tx.Apply(wallet.Write{Kind: meta, Record: wallet.Record{Key: []any{"x"}, Body: []byte("x")}, Add: 1}))
		plain(t, "put of a counter", tx.Apply(wallet.Write{Kind: k, Record: wallet.Record{Key: key(0, "a"), Body: []byte("x")}}))
		plain(t, "swap of a counter", tx.Apply(wallet.Write{Kind: k, Record: wallet.Record{Key: key(0, "a")}, Swap: true, Add: 1}))
		plain(t, "add of 0", tx.Apply(wallet.Added(k, 0, key(0, "a")...)))
		plain(t, "add to a short key", tx.Apply(wallet.Added(k, 1, key(0, "a")[:3]...)))
		plain(t, "add to a key with an empty text", tx.Apply(wallet.Added(k, 1, key(0, "")...)))
		plain(t, "the same key twice in one Apply", tx.Apply(wallet.Added(k, 1, key(0, "a")...), wallet.Added(k, 1, key(0, "a")...)))
		_, err := tx.Counts(meta, nil, nil)
		plain(t, "Counts of a record kind", err)
		return tx.Apply(wallet.Added(k, 1, key(3, "a")...))
	})
	all = append(all, count(1, key(3, "a")))
	same(t, "Counts after refused writes", counts(st, nil, nil), all)

	// Undone: with a transaction that fails, and with an Apply that is
	// refused for another of its writes (the transaction goes on and
	// commits what came after).
	for _, mode := range []string{"Update", "Batch"} {
		run := st.Update
		if mode == "Batch" {
			run = st.Batch
		}
		err := run(t.Context(), func(tx wallet.Tx) error {
			check(t, mode+": add", tx.Apply(wallet.Added(k, 100, key(0, "a")...)))
			return errBoom
		})
		isErr(t, mode+" returns fn's error", err, errBoom)
	}
	entry := wallet.Record{Key: []any{"h1", int64(1)}, Body: []byte(`{"seq":1}`)}
	update(t, st, func(tx wallet.Tx) error { return wallet.Put(tx, wallet.ActivityLog.Kind(), entry) })
	update(t, st, func(tx wallet.Tx) error {
		err := tx.Apply(wallet.Added(k, 100, key(0, "a")...), wallet.Write{Kind: wallet.ActivityLog.Kind(), Record: entry})
		isErr(t, "Apply(add, a taken immutable key)", err, wallet.ErrExists)
		return tx.Apply(wallet.Added(k, 1, key(0, "b")...))
	})
	all[1].N++
	same(t, "Counts after undone adds", counts(st, nil, nil), all)

	// Concurrent: every add counts once, whatever the transaction and the
	// order its keys come in (two keys added in both orders by concurrent
	// transactions must not lose one to a deadlock, a conflict or a
	// retry).
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run := st.Update
			if w%2 == 1 {
				run = st.Batch
			}
			for i := range each {
				first, second := key(5, "x"), key(5, "y")
				if (w+i)%2 == 1 {
					first, second = second, first
				}
				err := run(t.Context(), func(tx wallet.Tx) error {
					if err := tx.Apply(wallet.Added(k, 1, first...)); err != nil {
						return err
					}
					return tx.Apply(wallet.Added(k, 2, second...))
				})
				check(t, fmt.Sprintf("worker %d add %d", w, i), err)
			}
		}()
	}
	wg.Wait()
	got := counts(st, at(5*time.Hour), at(6*time.Hour))
	same(t, "Counts after concurrent adds", got, []wallet.Count{
		count(workers*each*3/2, key(5, "x")), count(workers*each*3/2, key(5, "y"))})
	all = append(all, got...)

	// Kept when the store is opened again (THREATS T31).
	noErr(t, "Close", st.Close())
	st = s.open(t, dir)
	same(t, "Counts after reopen", counts(st, nil, nil), all)
}
