package wallet_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// slowViews is the real store with every read transaction 50 ms slower,
// counted: a document build that overlaps another shows.
type slowViews struct {
	wallet.Store
	views atomic.Int64
}

func (s *slowViews) View(ctx context.Context, fn func(wallet.Tx) error) error {
	s.views.Add(1)
	time.Sleep(50 * time.Millisecond)
	return s.Store.View(ctx, fn)
}

// TestTrustBundleBuiltOnceForConcurrentRequests: requests that miss the
// cached trust bundle together (after a status change dropped it) wait
// for one build, which signs every status list, instead of each building
// it (issue 12).
func TestTrustBundleBuiltOnceForConcurrentRequests(t *testing.T) {
	store := &slowViews{Store: servicetest.Open(t)}
	svc, _ := servicetest.New(t, wallet.Config{Store: store})
	ctx := context.Background()
	// The background loop reads at its start, then once a second; the
	// requests come between.
	time.Sleep(500 * time.Millisecond)
	before := store.views.Load()
	var wg sync.WaitGroup
	bodies := make([][]byte, 8)
	for i := range bodies {
		wg.Go(func() {
			doc, err := svc.TrustBundle(ctx)
			if err != nil {
				t.Error(err)
			}
			bodies[i] = doc.Body
		})
	}
	wg.Wait()
	if n := store.views.Load() - before; n != 1 {
		t.Errorf("8 concurrent requests read the store %d times, want one build", n)
	}
	for _, b := range bodies[1:] {
		if string(b) != string(bodies[0]) {
			t.Fatal("concurrent requests got different bundles")
		}
	}
}
