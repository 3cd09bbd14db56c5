package wallet_test

import (
	"context"
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
)

// verificationCounts are the usage counters of verifications in s.
func verificationCounts(t *testing.T, s wallet.Store) []wallet.Count {
	t.Helper()
	var out []wallet.Count
	err := s.View(context.Background(), func(tx wallet.Tx) error {
		all, err := tx.Counts(wallet.UsageCounters, nil, nil)
		for _, c := range all {
			if c.Key[1] == "verification" {
				out = append(out, c)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRefusalsTallied: a refusal that writes nothing (a code that is not
// one) is counted in memory, not by a write of its own; a stats read
// writes the tally first, and so does Close, each count once, under the
// verifier's category read then.
func TestRefusalsTallied(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	shop := e.ageShop(t)
	for range 3 {
		if _, err := e.svc.Redeem(ctx, shop, api.VerifyRequest{QR: "not a code"}); wallet.ErrorCode(err) != api.CodeInvalidRequest {
			t.Fatalf("redeem: %v", err)
		}
	}
	if got := verificationCounts(t, e.store); len(got) != 0 {
		t.Fatalf("refusals written one by one: %v", got)
	}
	if _, err := e.svc.Stats(ctx, e.admin, api.StatsQuery{}); err != nil {
		t.Fatal(err)
	}
	got := verificationCounts(t, e.store)
	if len(got) != 1 || got[0].N != 3 || got[0].Key[3] != "retail" || got[0].Key[4] != api.FlowShare || got[0].Key[6] != "invalid_request" {
		t.Fatalf("after a stats read: %v, want 3 refusals of the retail verifier, invalid_request", got)
	}
	if _, err := e.svc.Redeem(ctx, shop, api.VerifyRequest{QR: "EIDC1:nonsense"}); err == nil {
		t.Fatal("a malformed offline code redeemed")
	}
	e.svc.Close()
	got = verificationCounts(t, e.store)
	if len(got) != 2 || got[0].N+got[1].N != 4 {
		t.Fatalf("after Close: %v, want the offline refusal beside the 3", got)
	}
	if _, err := e.svc.Stats(ctx, &wallet.Principal{Role: api.RoleVerifier, Subject: "shop"}, api.StatsQuery{}); wallet.ErrorCode(err) != api.CodeForbidden {
		t.Errorf("stats for a verifier: %v, want forbidden", err)
	}
}
