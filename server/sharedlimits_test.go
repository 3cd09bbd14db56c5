package server_test

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
)

// TestSharedLimitsFailClosed: with the rate limits kept in the store, as
// replicas over PostgreSQL keep them, a limited route whose bucket cannot
// be read answers 503 storage_unavailable and lets nothing through; with
// the store back, the limit counts: 2 redemption attempts a key pass a
// burst of 2, the third is 429 with Retry-After.
func TestSharedLimitsFailClosed(t *testing.T) {
	store := &failingStore{Store: servicetest.Open(t), fails: func(l wallet.Lookup) bool {
		return l.Kind == wallet.RateBuckets.Kind()
	}}
	h := newHarnessOver(t, store, func(c *server.Config) {
		c.SharedLimits = c.Service
		c.RateLimits.VerifyPerKey = server.Limit{Rate: rate.Every(time.Hour), Burst: 2}
	})
	w := h.setup()
	notAShare := api.VerifyRequest{QR: "EID1:not-a-share"}
	store.armed.Store(true)
	_, body := h.call("POST", "/v1/verify", w.verifierKey, notAShare, 503, nil)
	if !strings.Contains(string(body), string(api.CodeStorageUnavailable)) {
		t.Errorf("bucket unreadable: %s, want storage_unavailable", body)
	}
	store.armed.Store(false)
	for range 2 {
		h.call("POST", "/v1/verify", w.verifierKey, notAShare, 400, nil)
	}
	resp, _ := h.call("POST", "/v1/verify", w.verifierKey, notAShare, 429, nil)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}
