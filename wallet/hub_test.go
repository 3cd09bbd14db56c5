package wallet_test

import (
	"context"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/wallet"
)

func wokenWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// TestHub: a Notify wakes the watchers of its key and no other; WakeAll
// wakes every one; a stopped watch is not woken; a polling hub wakes each
// watcher within its interval with no Notify at all (the fallback for
// replicas without a shared channel).
func TestHub(t *testing.T) {
	ctx := context.Background()
	h := wallet.NewHub(0)
	a, stopA := h.Watch("request|a")
	defer stopA()
	b, stopB := h.Watch("request|b")
	if err := h.Notify(ctx, "request|a"); err != nil || !wokenWithin(a, time.Second) {
		t.Fatalf("Notify did not wake its key's watcher (%v)", err)
	}
	if wokenWithin(b, 50*time.Millisecond) {
		t.Error("Notify woke another key's watcher")
	}
	stopB()
	h.WakeAll()
	if wokenWithin(b, 50*time.Millisecond) {
		t.Error("a stopped watch was woken")
	}
	c, stopC := h.Watch("holder|c")
	defer stopC()
	h.WakeAll()
	if !wokenWithin(c, time.Second) {
		t.Error("WakeAll did not wake a watcher")
	}
	if d, stop := h.Watch("holder|d"); wokenWithin(d, 150*time.Millisecond) {
		t.Error("a hub without polling woke a watcher by itself")
	} else {
		stop()
	}

	p := wallet.NewHub(50 * time.Millisecond)
	start := time.Now()
	e, stopE := p.Watch("request|e")
	defer stopE()
	if !wokenWithin(e, time.Second) {
		t.Fatal("a polling hub did not wake its watcher")
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("woken after %s, before the interval", d)
	}
}
