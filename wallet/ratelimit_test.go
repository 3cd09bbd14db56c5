package wallet_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// TestTakeTokensLeasesTheBucket: the leases of a bucket add up to its
// burst and no more, shrinking as it empties (a sixteenth of what is
// left, at least one: one at a time for a burst of 16 or less); an empty
// bucket says when the next token is back, and refills at its rate. Keys
// and limiters have buckets of their own.
func TestTakeTokensLeasesTheBucket(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	svc, _ := servicetest.New(t, wallet.Config{Now: func() time.Time { return now }})
	ctx := t.Context()
	take := func(limiter, key string, rate float64, burst int) (int, time.Duration) {
		t.Helper()
		n, wait, err := svc.TakeTokens(ctx, limiter, key, rate, burst)
		if err != nil {
			t.Fatal(err)
		}
		return n, wait
	}
	var leases []int
	total := 0
	for {
		n, wait := take("verify_key", "k1", 1, 100)
		if n == 0 {
			if wait != time.Second {
				t.Errorf("empty bucket of 1/s: wait %s, want 1s", wait)
			}
			break
		}
		leases = append(leases, n)
		total += n
	}
	if total != 100 || leases[0] != 100/16 || leases[len(leases)-1] != 1 {
		t.Errorf("leases %v: total %d, want 100 from %d down to 1", leases, total, 100/16)
	}
	for i := 1; i < len(leases); i++ {
		if leases[i] > leases[i-1] {
			t.Errorf("leases %v: lease %d is %d, more than the %d before it", leases, i+1, leases[i], leases[i-1])
			break
		}
	}
	if n, _ := take("verify_key", "k2", 1, 100); n != 100/16 {
		t.Errorf("another key's bucket: lease %d, want %d", n, 100/16)
	}
	if n, _ := take("verify_addr", "k1", 1, 100); n != 100/16 {
		t.Errorf("another limiter's bucket: lease %d, want %d", n, 100/16)
	}
	now = now.Add(3 * time.Second)
	if n, _ := take("verify_key", "k1", 1, 100); n != 1 {
		t.Errorf("3 s later at 1/s: lease %d, want 1 (a sixteenth of 3, at least one)", n)
	}
	for i := range 10 {
		if n, _ := take("share_holder", "h1", 0.5, 10); n != 1 {
			t.Fatalf("burst 10, take %d: lease %d, want 1", i, n)
		}
	}
	if n, wait := take("share_holder", "h1", 0.5, 10); n != 0 || wait != 2*time.Second {
		t.Errorf("burst 10 spent: lease %d, wait %s; want 0 and 2s", n, wait)
	}
	if _, _, err := svc.TakeTokens(ctx, "x", "k", 0, 1); err == nil {
		t.Error("rate 0 accepted")
	}
}

// TestFullRateBucketsPruned: the service's background loop deletes the
// buckets that are full again (a minute of its clock after the last
// pruning), and keeps those still owing tokens.
func TestFullRateBucketsPruned(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	svc, store := servicetest.New(t, wallet.Config{Now: func() time.Time { return time.Unix(0, now.Load()).UTC() }})
	ctx := t.Context()
	for _, b := range []struct {
		key  string
		rate float64
	}{{"refills", 1}, {"owes", 1.0 / 3600}} {
		if n, _, err := svc.TakeTokens(ctx, "verify_key", b.key, b.rate, 100); err != nil || n == 0 {
			t.Fatalf("take %s: %d %v", b.key, n, err)
		}
	}
	buckets := func() int {
		var n int
		if err := store.View(ctx, func(tx wallet.Tx) error {
			all, err := wallet.RateBuckets.List(tx, "tat", wallet.Order{})
			n = len(all)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := buckets(); n != 2 {
		t.Fatalf("%d buckets after two takes", n)
	}
	now.Add(int64(2 * time.Minute)) // "refills" is full again, "owes" owes hours
	deadline := time.Now().Add(10 * time.Second)
	for buckets() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d buckets 10 s after one was full again, want 1", buckets())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
