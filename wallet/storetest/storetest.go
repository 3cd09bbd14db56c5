// Package storetest is the contract suite of wallet.Store: every store
// (bolt, postgres) runs it against its real database, so the service can
// rely on one behaviour (CONVENTIONS §9). It checks the Tx primitives once
// on every kind wallet declares (kinds.go), the counters (counters.go), the domain's declarations once
// through its typed records (records.go), and the transactions.
//
// A store's test calls Run with a function that opens the storage kept
// under a directory:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dir string) wallet.Store {
//			s, err := bolt.Open(filepath.Join(dir, "wallet.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
)

// Open opens the storage kept under dir. The suite calls it with a fresh
// t.TempDir() for each test, so the first call for a dir must give an empty
// store; it calls it again with the same dir after closing the first store
// to check that committed writes survive (SPEC §3.3 step 4, THREATS T31).
// A file store keeps its file in dir; a server store can derive a database
// or schema name from dir. The suite closes every store it opens. Open may
// be called from parallel subtests, and fails t when it cannot open.
type Open func(t *testing.T, dir string) wallet.Store

// Run runs the contract suite against the stores open makes. Subtests run
// in parallel, each on its own storage.
//
// Times in the suite have microsecond precision (PostgreSQL's timestamptz);
// a store may keep more.
func Run(t *testing.T, open Open) {
	s := &suite{open: open}
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Kinds", s.testKinds},
		{"Values", s.testValues},
		{"ValuesOutliveTheirTransaction", s.testValuesOutliveTheirTransaction},
		{"UseOnce", s.testUseOnce},
		{"Counters", s.testCounters},
		{"Records", s.testRecords},
		{"Rollback", s.testRollback},
		{"View", s.testView},
		{"CanceledContext", s.testCanceledContext},
		{"RedeemOnce", s.testRedeemOnce},
		{"BatchIsolatesFailures", s.testBatchIsolatesFailures},
		{"StoreApply", s.testStoreApply},
		{"ConcurrentApplies", s.testConcurrentApplies},
		{"ConcurrentFetches", s.testConcurrentFetches},
		{"Durability", s.testDurability},
		{"Ping", s.testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t)
		})
	}
}

type suite struct {
	open Open
}

// fresh opens an empty store for one test; it is closed when the test ends.
func (s *suite) fresh(t *testing.T) wallet.Store {
	t.Helper()
	return s.openAt(t, t.TempDir())
}

// openAt opens the store under dir and closes it when the test ends.
func (s *suite) openAt(t *testing.T, dir string) wallet.Store {
	t.Helper()
	st := s.open(t, dir)
	if st == nil {
		t.Fatalf("open %s: nil store", dir)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return st
}

// at is a fixed instant plus d, with microsecond precision.
func at(d time.Duration) time.Time {
	return time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC).Add(d)
}

// cet is a zone other than UTC: a stored time must compare Equal, not ==.
var cet = time.FixedZone("CET", 3600)

func update(t *testing.T, st wallet.Store, fn func(wallet.Tx) error) {
	t.Helper()
	if err := st.Update(t.Context(), fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func view(t *testing.T, st wallet.Store, fn func(wallet.Tx) error) {
	t.Helper()
	if err := st.View(t.Context(), fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// isErr fails t unless errors.Is(err, target).
func isErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// check reports err without stopping the test: for code that may run on a
// goroutine other than the test's (inside Batch).
func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// --- transactions -----------------------------------------------------------

var errBoom = errors.New("storetest: boom")

// putSamples puts records 0 to n-1 of every kind and returns the model of
// what was put, by kind. It may run on a store's batch goroutine, so it
// reports with Errorf, never Fatalf.
func putSamples(t *testing.T, tx wallet.Tx, n, version int) map[*wallet.Kind]map[string]rec {
	t.Helper()
	models := map[*wallet.Kind]map[string]rec{}
	for _, k := range wallet.Kinds() {
		models[k] = map[string]rec{}
		for i := range n {
			r := sample(k, i, version, version > 1)
			check(t, fmt.Sprintf("Put %s %d", k.Name, i), wallet.Put(tx, k, r.record()))
			models[k][keyOf(r)] = r
		}
	}
	check(t, "UseOnce", tx.UseOnce("rb-nonce", at(time.Hour), at(0)))
	return models
}

// checkAll compares the store with the models of every kind.
func checkAll(t *testing.T, st wallet.Store, models map[*wallet.Kind]map[string]rec) {
	t.Helper()
	for _, k := range wallet.Kinds() {
		checkModel(t, st, k, models[k])
	}
}

func (s *suite) testRollback(t *testing.T) {
	for _, mode := range []string{"Update", "Batch"} {
		t.Run(mode, func(t *testing.T) {
			st := s.fresh(t)
			run := st.Update
			if mode == "Batch" {
				run = st.Batch
			}
			err := run(t.Context(), func(tx wallet.Tx) error {
				putSamples(t, tx, 3, 1)
				return fmt.Errorf("wrapped: %w", errBoom)
			})
			isErr(t, mode+" returns fn's error", err, errBoom)
			// No record, no index entry, and no unique key or one-time key
			// still taken: the same writes succeed.
			empty := map[*wallet.Kind]map[string]rec{}
			checkAll(t, st, empty)
			var models map[*wallet.Kind]map[string]rec
			update(t, st, func(tx wallet.Tx) error { models = putSamples(t, tx, 3, 1); return nil })

			// A failed update of existing records (moving their index
			// entries) and a failed insert leave them as they were.
			err = run(t.Context(), func(tx wallet.Tx) error {
				for _, k := range wallet.Kinds() {
					if !k.Immutable {
						check(t, "Put new version", wallet.Put(tx, k, sample(k, 0, 2, true).record()))
					}
					check(t, "Put new record", wallet.Put(tx, k, sample(k, 5, 1, false).record()))
				}
				return errBoom
			})
			isErr(t, mode+" returns fn's error", err, errBoom)
			checkAll(t, st, models)
		})
	}
}

// testView: a View sees what was committed before it, not an Update in
// progress; it cannot write; fn's error comes back through it.
func (s *suite) testView(t *testing.T) {
	st := s.fresh(t)
	holder := func(tx wallet.Tx, id string) error {
		return wallet.Holders.Put(tx, &wallet.Holder{ID: id, CitizenHash: []byte("citizen-" + id), Created: at(0)})
	}
	found := func(id string, want error) {
		t.Helper()
		view(t, st, func(tx wallet.Tx) error {
			_, err := wallet.Holders.Get(tx, id)
			if want == nil {
				noErr(t, "holder "+id, err)
			} else {
				isErr(t, "holder "+id, err, want)
			}
			return nil
		})
	}
	update(t, st, func(tx wallet.Tx) error { return holder(tx, "h1") })
	found("h1", nil)
	isErr(t, "View returns fn's error", st.View(t.Context(), func(wallet.Tx) error { return fmt.Errorf("wrapped: %w", errBoom) }), errBoom)
	if err := st.View(t.Context(), func(tx wallet.Tx) error { return holder(tx, "h-view") }); err == nil {
		t.Errorf("Put in View: no error")
	}
	found("h-view", wallet.ErrNotFound)
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- st.Update(t.Context(), func(tx wallet.Tx) error {
			err := holder(tx, "h2")
			close(started)
			<-release
			return err
		})
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Update ended before its fn ran: %v", err)
	}
	found("h2", wallet.ErrNotFound) // during the Update
	close(release)
	noErr(t, "Update", <-done)
	found("h2", nil)
}

func (s *suite) testCanceledContext(t *testing.T) {
	st := s.fresh(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, run := range map[string]func(context.Context, func(wallet.Tx) error) error{
		"View": st.View, "Update": st.Update, "Batch": st.Batch,
	} {
		called := false
		err := run(ctx, func(wallet.Tx) error { called = true; return nil })
		isErr(t, name+" with a canceled context", err, context.Canceled)
		if called {
			t.Errorf("%s with a canceled context ran fn", name)
		}
	}
	_, err := st.Fetch(ctx, wallet.Lookup{Kind: wallet.Shares.Kind(), Prefix: []any{"s1"}})
	isErr(t, "Fetch with a canceled context", err, context.Canceled)
	isErr(t, "Ping with a canceled context", st.Ping(ctx), context.Canceled)
}

var errRedeemed = errors.New("storetest: already redeemed")

// testRedeemOnce: a check-and-set redemption under 50 concurrent callers
// succeeds exactly MaxUses times (THREATS T15), through Update (read,
// check, put: Update isolates), Batch (read, check, Swap, and again after
// ErrChanged: the Batch contract) and Batch with the swap and the log
// entry in one Apply (as the service redeems), and what each success
// wrote lands once, though fn may run more than once (MaxUses 50: every
// call succeeds).
func (s *suite) testRedeemOnce(t *testing.T) {
	for _, mode := range []string{"Update", "Batch", "Apply", "Store.Apply"} {
		for _, maxUses := range []int{1, 3, 50} {
			t.Run(fmt.Sprintf("%s/max%d", mode, maxUses), func(t *testing.T) {
				st := s.fresh(t)
				run := st.Update
				if mode != "Update" {
					run = st.Batch
				}
				if mode == "Store.Apply" { // the reads in a View, the writes in a Store.Apply
					run = func(ctx context.Context, fn func(wallet.Tx) error) error {
						return fn(storeApply{ctx: ctx, st: st})
					}
				}
				sh := newShare("s1", "h1", at(0))
				sh.TokenHash, sh.Status, sh.MaxUses = []byte("token-1"), api.ShareActive, maxUses
				update(t, st, func(tx wallet.Tx) error { return wallet.Shares.Put(tx, sh) })
				const n = 50
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						errs[i] = run(t.Context(), func(tx wallet.Tx) error {
							for {
								cur, body, err := wallet.Shares.BodyBy(tx, "token", []byte("token-1"))
								if err != nil {
									return err
								}
								if cur.Status != api.ShareActive || cur.Uses >= cur.MaxUses {
									return errRedeemed
								}
								cur.Uses++
								if cur.Uses == cur.MaxUses {
									cur.Status = api.ShareRedeemed
								}
								entry := newActivity("h1", uint64(cur.Uses))
								switch mode {
								case "Update":
									err = wallet.Shares.Put(tx, cur)
								case "Batch":
									err = wallet.Shares.Swap(tx, body, cur)
								case "Apply", "Store.Apply":
									err = applyRedemption(tx, body, cur, entry)
								}
								if errors.Is(err, wallet.ErrChanged) && mode != "Update" {
									continue
								}
								if err != nil || mode != "Update" && mode != "Batch" {
									return err
								}
								return wallet.ActivityLog.Put(tx, entry)
							}
						})
					})
				}
				wg.Wait()
				ok := 0
				for i, err := range errs {
					switch {
					case err == nil:
						ok++
					case !errors.Is(err, errRedeemed):
						t.Errorf("redeem %d: %v, want nil or errRedeemed", i, err)
					}
				}
				if ok != maxUses {
					t.Errorf("%d of %d concurrent redemptions succeeded, want %d", ok, n, maxUses)
				}
				view(t, st, func(tx wallet.Tx) error {
					cur, err := wallet.Shares.Get(tx, "s1")
					noErr(t, "Share", err)
					if cur.Uses != maxUses || cur.Status != api.ShareRedeemed {
						t.Errorf("share after redemptions: uses %d, status %s", cur.Uses, cur.Status)
					}
					all, err := wallet.ActivityLog.List(tx, "", wallet.Order{}, "h1")
					noErr(t, "Activity", err)
					if len(all) != maxUses {
						t.Errorf("activity after %d redemptions: %d entries", maxUses, len(all))
					}
					return nil
				})
			})
		}
	}
}

// applyRedemption writes the share's next use, from body, and its
// activity entry in one Apply.
func applyRedemption(tx wallet.Tx, body []byte, sh *wallet.Share, e *api.ActivityEntry) error {
	next, err := wallet.Shares.Record(sh)
	if err != nil {
		return err
	}
	entry, err := wallet.ActivityLog.Record(e)
	if err != nil {
		return err
	}
	return tx.Apply(wallet.Write{Kind: wallet.Shares.Kind(), Record: next, Swap: true, Old: body},
		wallet.Write{Kind: wallet.ActivityLog.Kind(), Record: entry})
}

// storeApply is a Tx whose reads are Views of their own and whose Apply
// is the store's: how a redemption uses Store.Apply.
type storeApply struct {
	wallet.Tx // nil: only Fetch and Apply are used
	ctx       context.Context
	st        wallet.Store
}

func (a storeApply) Fetch(ls ...wallet.Lookup) ([][]byte, error) { return a.st.Fetch(a.ctx, ls...) }

func (a storeApply) Apply(ws ...wallet.Write) error { return a.st.Apply(a.ctx, ws...) }

// testStoreApply: Store.Apply is all or none, durable, with Tx.Apply's
// errors: a swap from a body no longer stored is ErrChanged, of a record
// not there ErrNotFound, and a put of a taken Immutable key ErrExists —
// each leaving the other writes unwritten.
func (s *suite) testStoreApply(t *testing.T) {
	st := s.fresh(t)
	sh := newShare("s1", "h1", at(0))
	sh.TokenHash, sh.Status, sh.MaxUses = []byte("token-1"), api.ShareActive, 5
	update(t, st, func(tx wallet.Tx) error { return wallet.Shares.Put(tx, sh) })
	var body []byte
	view(t, st, func(tx wallet.Tx) (err error) {
		_, body, err = wallet.Shares.BodyBy(tx, "token", []byte("token-1"))
		return err
	})
	writes := func(from []byte, uses int, seq uint64) []wallet.Write {
		next := *sh
		next.Uses = uses
		rec, err := wallet.Shares.Record(&next)
		noErr(t, "Record", err)
		entry, err := wallet.ActivityLog.Record(newActivity("h1", seq))
		noErr(t, "Record", err)
		return []wallet.Write{{Kind: wallet.Shares.Kind(), Record: rec, Swap: true, Old: from}, {Kind: wallet.ActivityLog.Kind(), Record: entry}}
	}
	noErr(t, "Apply", st.Apply(t.Context(), writes(body, 1, 1)...))
	isErr(t, "Apply from a stale body", st.Apply(t.Context(), writes(body, 2, 2)...), wallet.ErrChanged)
	var now []byte
	view(t, st, func(tx wallet.Tx) (err error) {
		_, now, err = wallet.Shares.BodyBy(tx, "token", []byte("token-1"))
		return err
	})
	isErr(t, "Apply of a taken activity key", st.Apply(t.Context(), writes(now, 2, 1)...), wallet.ErrExists)
	gone := writes(now, 2, 3)
	gone[0].Record.Key = []any{"s2"}
	isErr(t, "Apply of a swap of no record", st.Apply(t.Context(), gone...), wallet.ErrNotFound)
	view(t, st, func(tx wallet.Tx) error {
		cur, err := wallet.Shares.Get(tx, "s1")
		noErr(t, "Share", err)
		if cur.Uses != 1 {
			t.Errorf("share after one Apply and three refused: %d uses", cur.Uses)
		}
		all, err := wallet.ActivityLog.List(tx, "", wallet.Order{}, "h1")
		noErr(t, "Activity", err)
		if len(all) != 1 {
			t.Errorf("activity after one Apply and three refused: %d entries", len(all))
		}
		return nil
	})
	noErr(t, "Apply after the refusals", st.Apply(t.Context(), writes(now, 2, 2)...))
}

// testConcurrentApplies: concurrent Store.Apply calls, which a store
// may commit together (PostgreSQL's group, bolt's Batch), each get their
// own answer: a call with a refused write gets its refusal and writes
// nothing, the others commit whole; of the calls swapping one share from
// one body exactly one commits; and every committed call's add counts
// once. Which calls meet in a group is up to the scheduler, so it runs
// a few times.
func (s *suite) testConcurrentApplies(t *testing.T) {
	for i := range 6 {
		t.Run(fmt.Sprint(i), s.concurrentApplies) // each store closed before the next opens
	}
}

func (s *suite) concurrentApplies(t *testing.T) {
	st := s.fresh(t)
	const n = 64
	shares := make([][]byte, n+1) // bodies as stored; the last is the one all "hot" calls swap
	update(t, st, func(tx wallet.Tx) error {
		for i := range shares {
			sh := newShare(fmt.Sprintf("s%d", i), fmt.Sprintf("h%d", i), at(0))
			sh.TokenHash, sh.Status, sh.MaxUses = fmt.Appendf(nil, "token-%d", i), api.ShareActive, 5
			rec, err := wallet.Shares.Record(sh)
			if err != nil {
				return err
			}
			shares[i] = rec.Body
			if err := wallet.Put(tx, wallet.Shares.Kind(), rec); err != nil {
				return err
			}
		}
		return wallet.ActivityLog.Put(tx, newActivity("taken", 1))
	})
	counter := []any{at(0), "verification", "national_id", "bank", "share", "valid", "-", int64(1000)}
	// call i swaps share i (i%4 == 2: the hot share) and appends an entry
	// to h<i>'s activity; i%4 == 3 also puts the taken entry, refused.
	call := func(i int) []wallet.Write {
		sh := i
		if i%4 == 2 {
			sh = n
		}
		cur, err := wallet.Shares.Fetched(shares[sh])
		noErr(t, "Fetched", err)
		cur.Uses++
		next, err := wallet.Shares.Record(cur)
		noErr(t, "Record", err)
		entry, err := wallet.ActivityLog.Record(newActivity(fmt.Sprintf("h%d", i), 1))
		noErr(t, "Record", err)
		ws := []wallet.Write{{Kind: wallet.Shares.Kind(), Record: next, Swap: true, Old: shares[sh]},
			{Kind: wallet.ActivityLog.Kind(), Record: entry}, wallet.Added(wallet.UsageCounters, 1, counter...)}
		if i%4 == 3 {
			taken, err := wallet.ActivityLog.Record(newActivity("taken", 1))
			noErr(t, "Record", err)
			ws = append(ws, wallet.Write{Kind: wallet.ActivityLog.Kind(), Record: taken})
		}
		return ws
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{}) // all at once, so that they meet in groups
	for i := range n {
		ws := call(i)
		wg.Go(func() {
			<-start
			errs[i] = st.Apply(t.Context(), ws...)
		})
	}
	close(start)
	wg.Wait()
	committed, hot := 0, 0
	for i, err := range errs {
		switch {
		case i%4 == 3:
			isErr(t, fmt.Sprintf("Apply %d (a taken key)", i), err, wallet.ErrExists)
		case i%4 == 2 && err == nil:
			hot++
			committed++
		case i%4 == 2:
			isErr(t, fmt.Sprintf("Apply %d (the hot share)", i), err, wallet.ErrChanged)
		default:
			check(t, fmt.Sprintf("Apply %d", i), err)
			committed++
		}
	}
	if hot != 1 {
		t.Errorf("%d concurrent swaps of one share from one body committed, want 1", hot)
	}
	view(t, st, func(tx wallet.Tx) error {
		for i := range n {
			cur, err := wallet.Shares.Get(tx, fmt.Sprintf("s%d", i))
			noErr(t, "Share", err)
			entries, err := wallet.ActivityLog.List(tx, "", wallet.Order{}, fmt.Sprintf("h%d", i))
			noErr(t, "Activity", err)
			want := 1 // uses, and entries
			if i%4 == 3 || i%4 == 2 && errs[i] != nil {
				want = 0
			}
			if i%4 == 2 {
				if cur.Uses != 0 {
					t.Errorf("share %d, which no call swapped: %d uses", i, cur.Uses)
				}
			} else if cur.Uses != want {
				t.Errorf("share %d after Apply %d (%v): %d uses, want %d", i, i, errs[i], cur.Uses, want)
			}
			if len(entries) != want {
				t.Errorf("activity of h%d after Apply %d (%v): %d entries, want %d", i, i, errs[i], len(entries), want)
			}
		}
		counts, err := tx.Counts(wallet.UsageCounters, nil, nil)
		noErr(t, "Counts", err)
		same(t, "Counts after concurrent applies", counts, []wallet.Count{{Key: counter, N: int64(committed)}})
		return nil
	})
}

// testConcurrentFetches: concurrent Store.Fetch calls, which a store may
// send together (PostgreSQL), each get exactly what the same Fetch alone
// gets: each lookup's first record in its order (the last with Desc),
// nil for none and for a value no put accepts, raw bodies as they are;
// and a call with a lookup of an index its kind lacks gets its error,
// the others their bodies.
func (s *suite) testConcurrentFetches(t *testing.T) {
	st := s.fresh(t)
	const n = 64
	update(t, st, func(tx wallet.Tx) error {
		for i := range n {
			sh := newShare(fmt.Sprintf("s%d", i), fmt.Sprintf("h%d", i), at(0))
			sh.TokenHash, sh.Status = fmt.Appendf(nil, "token-%d", i), api.ShareActive
			if err := wallet.Shares.Put(tx, sh); err != nil {
				return err
			}
			for seq := range uint64(i%3 + 1) {
				if err := wallet.ActivityLog.Put(tx, newActivity(fmt.Sprintf("h%d", i), seq+1)); err != nil {
					return err
				}
			}
			if err := wallet.ShareDocuments.Put(tx, [][]byte{fmt.Appendf(nil, "doc-%d", i)}, sh.ID); err != nil {
				return err
			}
		}
		return nil
	})
	lookups := func(i int) []wallet.Lookup {
		holder := fmt.Sprintf("h%d", (i*5)%(n+8)) // some have no records
		ls := []wallet.Lookup{
			wallet.Shares.Lookup("token", fmt.Appendf(nil, "token-%d", i)),
			{Kind: wallet.ActivityLog.Kind(), Prefix: []any{holder}, Desc: i%2 == 0},
			wallet.ShareDocuments.Lookup(fmt.Sprintf("s%d", (i*7)%(n+8))),
			wallet.Shares.Lookup("", int64(i)), // a value no put accepts
			// Int and Time prefixes: the holder's second entry, a share by holder and creation
			wallet.ActivityLog.Lookup("", holder, int64(2)),
			wallet.Shares.Lookup("holder", holder, at(0)),
		}
		if i%5 == 0 {
			ls = append(ls, wallet.Shares.Lookup("", fmt.Sprintf("s%d", i+1)))
		}
		return ls
	}
	want := make([][][]byte, n)
	for i := range n {
		var err error
		want[i], err = st.Fetch(t.Context(), lookups(i)...)
		noErr(t, fmt.Sprintf("Fetch %d alone", i), err)
		if want[i][0] == nil || want[i][3] != nil {
			t.Fatalf("Fetch %d alone: %q", i, want[i])
		}
	}
	for j, what := range map[int]string{1: "last or first entry", 2: "documents", 4: "second entry", 5: "share by holder and time"} {
		found := 0
		for i := range n {
			if want[i][j] != nil {
				found++
			}
		}
		if found == 0 || found == n {
			t.Fatalf("lookup %d (%s) found in %d of %d calls: the test wants some of each", j, what, found, n)
		}
	}
	for round := range 4 {
		got := make([][][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			ls := lookups(i)
			if i%9 == 4 {
				ls = append(ls, wallet.Lookup{Kind: wallet.Shares.Kind(), Index: "no such index"})
			}
			wg.Go(func() {
				<-start
				got[i], errs[i] = st.Fetch(t.Context(), ls...)
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if i%9 == 4 {
				if errs[i] == nil {
					t.Errorf("round %d: Fetch %d of an index the kind lacks: no error", round, i)
				}
				continue
			}
			noErr(t, fmt.Sprintf("round %d: Fetch %d", round, i), errs[i])
			same(t, fmt.Sprintf("round %d: Fetch %d", round, i), got[i], want[i])
		}
	}
}

// testBatchIsolatesFailures: in concurrent Batch calls, one fn's error
// undoes its own writes only, and comes back to its own caller.
func (s *suite) testBatchIsolatesFailures(t *testing.T) {
	st := s.fresh(t)
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = st.Batch(t.Context(), func(tx wallet.Tx) error {
				if err := wallet.Meta.Put(tx, []byte{byte(i)}, fmt.Sprintf("m%d", i)); err != nil {
					return err
				}
				if i%2 == 1 {
					return fmt.Errorf("batch %d: %w", i, errBoom)
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 1 {
			isErr(t, fmt.Sprintf("Batch %d", i), err, errBoom)
		} else if err != nil {
			t.Errorf("Batch %d: %v", i, err)
		}
	}
	view(t, st, func(tx wallet.Tx) error {
		for i := range n {
			v, err := wallet.Meta.Get(tx, fmt.Sprintf("m%d", i))
			if i%2 == 1 {
				isErr(t, fmt.Sprintf("Meta(m%d) of a failed batch", i), err, wallet.ErrNotFound)
				continue
			}
			noErr(t, "Meta", err)
			same(t, fmt.Sprintf("Meta(m%d)", i), v, []byte{byte(i)})
		}
		return nil
	})
}

// testDurability: what Batch committed, and one-time keys, are there
// after the store is closed and opened again (every kind's records and
// indexes: testKind).
func (s *suite) testDurability(t *testing.T) {
	dir := t.TempDir()
	first := s.open(t, dir)
	var models map[*wallet.Kind]map[string]rec
	err := first.Batch(t.Context(), func(tx wallet.Tx) error {
		models = putSamples(t, tx, 2, 1)
		return tx.UseOnce("jti:1", at(time.Hour), at(0))
	})
	noErr(t, "Batch", err)
	noErr(t, "Close", first.Close())
	st := s.openAt(t, dir)
	checkAll(t, st, models)
	err = st.Update(t.Context(), func(tx wallet.Tx) error { return tx.UseOnce("jti:1", at(time.Hour), at(time.Minute)) })
	isErr(t, "UseOnce(taken) after reopen", err, wallet.ErrExists)
}

func (s *suite) testPing(t *testing.T) {
	dir := t.TempDir()
	st := s.open(t, dir)
	noErr(t, "Ping", st.Ping(t.Context()))
	noErr(t, "Close", st.Close())
	if err := st.Ping(t.Context()); err == nil {
		t.Errorf("Ping after Close: no error")
	}
}

func (s *suite) testUseOnce(t *testing.T) {
	st := s.fresh(t)
	use := func(key string, expires, now time.Time) error {
		return st.Update(t.Context(), func(tx wallet.Tx) error { return tx.UseOnce(key, expires, now) })
	}
	noErr(t, "UseOnce(a) first", use("jti:a", at(5*time.Minute), at(0)))
	isErr(t, "UseOnce(a) before expiry", use("jti:a", at(10*time.Minute), at(time.Minute)), wallet.ErrExists)
	isErr(t, "UseOnce(a) at its expiry", use("jti:a", at(10*time.Minute), at(5*time.Minute)), wallet.ErrExists)
	noErr(t, "UseOnce(b) beside a", use("jti:b", at(5*time.Minute), at(time.Minute)))
	noErr(t, "UseOnce(nonce:a): keys are whole strings", use("nonce:a", at(5*time.Minute), at(time.Minute)))
	// Once expires has passed, the key may be recorded again, until its
	// new expiry.
	noErr(t, "UseOnce(a) after expiry", use("jti:a", at(20*time.Minute), at(6*time.Minute)))
	isErr(t, "UseOnce(a) before the new expiry", use("jti:a", at(30*time.Minute), at(10*time.Minute)), wallet.ErrExists)

	// Twice in one transaction.
	err := st.Update(t.Context(), func(tx wallet.Tx) error {
		noErr(t, "UseOnce(c)", tx.UseOnce("jti:c", at(time.Hour), at(0)))
		return tx.UseOnce("jti:c", at(time.Hour), at(0))
	})
	isErr(t, "UseOnce(c) twice in one tx", err, wallet.ErrExists)

	// Churn: many keys expire while others are live. Whatever a store does
	// with expired keys, a live one stays taken.
	for round := range 5 {
		now := at(time.Duration(round) * time.Hour)
		update(t, st, func(tx wallet.Tx) error {
			for i := range 40 {
				noErr(t, "UseOnce churn", tx.UseOnce(fmt.Sprintf("n:%d:%d", round, i), now.Add(time.Minute), now))
			}
			return nil
		})
	}
	last := at(4*time.Hour + 30*time.Second)
	for i := range 40 {
		isErr(t, "UseOnce(live key after churn)", use(fmt.Sprintf("n:4:%d", i), last.Add(time.Hour), last), wallet.ErrExists)
	}
	noErr(t, "UseOnce(expired key after churn)", use("n:3:0", last.Add(time.Hour), last))
}
