package server_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
)

// bucketsDown is the real store with the reads of the shared rate-limit
// buckets failing while down is set.
type bucketsDown struct {
	wallet.Store
	down atomic.Bool
}

func (s *bucketsDown) Update(ctx context.Context, fn func(wallet.Tx) error) error {
	return s.Store.Update(ctx, func(tx wallet.Tx) error { return fn(bucketsDownTx{tx, s}) })
}

type bucketsDownTx struct {
	wallet.Tx
	s *bucketsDown
}

func (t bucketsDownTx) Fetch(ls ...wallet.Lookup) ([][]byte, error) {
	for _, l := range ls {
		if t.s.down.Load() && l.Kind == wallet.RateBuckets.Kind() {
			return nil, errDisk
		}
	}
	return t.Tx.Fetch(ls...)
}

// TestSharedLimitsFailClosed: with the rate limits kept in the store, as
// replicas over PostgreSQL keep them, a limited route whose bucket cannot
// be read answers 503 storage_unavailable and lets nothing through; with
// the store back, the limit counts: 2 redemption attempts a key pass a
// burst of 2, the third is 429 with Retry-After.
func TestSharedLimitsFailClosed(t *testing.T) {
	store := &bucketsDown{Store: servicetest.Open(t)}
	h := newHarnessOver(t, store, func(c *server.Config) {
		c.SharedLimits = c.Service
		c.RateLimits.VerifyPerKey = server.Limit{Rate: rate.Every(time.Hour), Burst: 2}
	})
	w := h.setup()
	notAShare := api.VerifyRequest{QR: "EID1:not-a-share"}
	store.down.Store(true)
	_, body := h.call("POST", "/v1/verify", w.verifierKey, notAShare, 503, nil)
	if !strings.Contains(string(body), string(api.CodeStorageUnavailable)) {
		t.Errorf("bucket unreadable: %s, want storage_unavailable", body)
	}
	store.down.Store(false)
	for range 2 {
		h.call("POST", "/v1/verify", w.verifierKey, notAShare, 400, nil)
	}
	resp, _ := h.call("POST", "/v1/verify", w.verifierKey, notAShare, 429, nil)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}
