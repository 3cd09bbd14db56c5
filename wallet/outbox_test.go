package wallet_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// replica is a second service on r's store with the same keys: another
// replica of one deployment, here with its own clock.
func (r *reqEnv) replica(t *testing.T, keys *wallet.Keys, now func() time.Time) *wallet.Service {
	t.Helper()
	svc, _ := servicetest.New(t, wallet.Config{Store: r.store, Keys: keys, Now: now, AllowLoopbackWebhooks: true})
	return svc
}

// waitStats polls svc's outbox figures until ok accepts them.
func waitStats(t *testing.T, svc *wallet.Service, what string, ok func(wallet.WebhookStats) bool) wallet.WebhookStats {
	t.Helper()
	var st wallet.WebhookStats
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if st, err = svc.WebhookStats(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ok(st) {
			return st
		}
	}
	t.Fatalf("%s: outbox %+v", what, st)
	return st
}

// TestWebhookOutboxDeadReplica: a delivery claimed by a replica that never
// finishes its attempt (here: its receiver hangs; in life, it died) is
// claimed again by another replica once the lease has run out, and
// delivered, with the same Webhook-Id; the first replica's late outcome
// does not count.
func TestWebhookOutboxDeadReplica(t *testing.T) {
	keys := servicetest.Keys(t)
	var mu sync.Mutex
	var ids []string
	first := make(chan struct{})
	release := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		mu.Lock()
		ids = append(ids, req.Header.Get(api.WebhookIDHeader))
		n := len(ids)
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release // the first attempt never ends while the test looks
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	defer close(release)
	r := newReqEnv(t, wallet.Config{Keys: keys, Now: time.Now, AllowLoopbackWebhooks: true})
	if _, err := r.svc.SetVerifierWebhook(context.Background(), r.admin, "shop", api.WebhookRequest{URL: new(recv.URL + "/hook")}); err != nil {
		t.Fatal(err)
	}
	r.decline(t)
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("no first attempt")
	}
	if st := waitStats(t, r.svc, "claimed", func(st wallet.WebhookStats) bool { return st.Pending == 1 }); st.Delivered != 0 {
		t.Fatalf("delivered while the receiver hangs: %+v", st)
	}

	// The other replica's clock is past the lease: for it, the first
	// replica is dead.
	b := r.replica(t, keys, func() time.Time { return time.Now().Add(wallet.WebhookLease + time.Second) })
	st := waitStats(t, b, "taken over", func(st wallet.WebhookStats) bool { return st.Delivered == 1 })
	if st.Pending != 0 || st.Failed != 0 {
		t.Errorf("after the other replica delivered: %+v", st)
	}
	mu.Lock()
	got := append([]string(nil), ids...)
	mu.Unlock()
	if len(got) != 2 || got[0] == "" || got[0] != got[1] {
		t.Fatalf("Webhook-Id of the two attempts: %q, want one id twice", got)
	}
	release <- struct{}{} // the hung attempt ends now: its outcome is too late
	time.Sleep(200 * time.Millisecond)
	if st, _ := r.svc.WebhookStats(context.Background()); st.Delivered != 0 {
		t.Errorf("the replica whose claim ran out counted a delivery: %+v", st)
	}
}

// TestWebhookOutboxOneAttemptEach: two replicas dispatching one outbox
// post each delivery once: a claim is won by one of them.
func TestWebhookOutboxOneAttemptEach(t *testing.T) {
	keys := servicetest.Keys(t)
	var mu sync.Mutex
	posts := map[string]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		mu.Lock()
		posts[req.Header.Get(api.WebhookIDHeader)]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	r := newReqEnv(t, wallet.Config{Keys: keys, Now: time.Now, AllowLoopbackWebhooks: true})
	b := r.replica(t, keys, time.Now)
	if _, err := r.svc.SetVerifierWebhook(context.Background(), r.admin, "shop", api.WebhookRequest{URL: new(recv.URL + "/hook")}); err != nil {
		t.Fatal(err)
	}
	// Half the requests are decided on each replica, together: each
	// replica's dispatcher is woken by its own decisions and finds the
	// other's due too.
	const n = 20
	onB := &reqEnv{env: &env{svc: b, store: r.store, admin: r.admin}, holder: r.holder, verifier: r.verifier}
	var wg sync.WaitGroup
	for _, on := range []*reqEnv{r, onB} {
		wg.Go(func() {
			for range n / 2 {
				on.decline(t)
			}
		})
	}
	wg.Wait()
	var a, bs wallet.WebhookStats
	for deadline := time.Now().Add(15 * time.Second); a.Delivered+bs.Delivered < n && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		a, _ = r.svc.WebhookStats(context.Background())
		bs, _ = b.WebhookStats(context.Background())
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != n {
		t.Errorf("%d deliveries posted, want %d", len(posts), n)
	}
	for id, k := range posts {
		if k != 1 || id == "" {
			t.Errorf("delivery %q posted %d times", id, k)
		}
	}
	if a.Delivered+bs.Delivered != n || a.Pending != 0 {
		t.Errorf("outbox: %+v and %+v, want %d delivered in all", a, bs, n)
	}
	t.Logf("replica A delivered %d, replica B %d", a.Delivered, bs.Delivered)
}

// TestWebhookOutboxSweepsDone: done deliveries are kept for their
// retention (7 days), then a replica's background loop deletes them, more
// than one batch (32) at once.
func TestWebhookOutboxSweepsDone(t *testing.T) {
	keys := servicetest.Keys(t)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	r := newReqEnv(t, wallet.Config{Keys: keys, Now: time.Now, AllowLoopbackWebhooks: true})
	if _, err := r.svc.SetVerifierWebhook(context.Background(), r.admin, "shop", api.WebhookRequest{URL: new(recv.URL + "/hook")}); err != nil {
		t.Fatal(err)
	}
	const n = 33
	for range n {
		r.decline(t)
	}
	waitStats(t, r.svc, "delivered", func(st wallet.WebhookStats) bool { return st.Delivered == n })
	kept := func() int {
		t.Helper()
		var all []*wallet.WebhookDelivery
		err := r.store.View(context.Background(), func(tx wallet.Tx) error {
			var err error
			all, err = wallet.WebhookDeliveries.List(tx, "", wallet.Order{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(all)
	}

	// A replica six days on keeps them all.
	r.replica(t, keys, func() time.Time { return time.Now().Add(6 * 24 * time.Hour) })
	time.Sleep(200 * time.Millisecond)
	if k := kept(); k != n {
		t.Fatalf("%d deliveries kept before their retention ended, want %d", k, n)
	}
	// A replica eight days on deletes them all in its first sweep: the
	// next is a minute later.
	r.replica(t, keys, func() time.Time { return time.Now().Add(8 * 24 * time.Hour) })
	for deadline := time.Now().Add(10 * time.Second); kept() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries kept after their retention ended", kept())
		}
	}
}
