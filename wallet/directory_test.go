package wallet_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// TestRedeemableByAcrossReplicas: the consent screen's redeemable_by
// (SPEC §3.7) is read from each replica's directory of verifiers, which a
// verifier created, changed or retired on another replica changes at the
// next share creation; it names at most 50, by name, and counts them all.
func TestRedeemableByAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := servicetest.Open(t)
	keys := servicetest.Keys(t)
	a, _ := servicetest.New(t, wallet.Config{Store: store, Keys: keys, Now: clock})
	b, _ := servicetest.New(t, wallet.Config{Store: store, Keys: keys, Now: clock})
	e := &env{svc: a, store: store, now: now, admin: &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}}
	if _, err := a.CreateIssuer(ctx, e.admin, api.CreateIssuerRequest{ID: "mps", Name: "Ministry of Public Security", Types: []string{"national_id"}}); err != nil {
		t.Fatal(err)
	}
	e.issuer = &wallet.Principal{Role: api.RoleIssuer, Subject: "mps"}
	_, cred, holder := e.citizen(t, "001090000001")
	ageOnly := map[string][]string{"national_id": {"age_over_18"}}
	redeemers := func(svc *wallet.Service, claims ...string) ([]string, int) {
		t.Helper()
		created, err := svc.CreateShare(ctx, holder, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: cred.CredentialID, Claims: claims}}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, v := range created.RedeemableBy {
			names = append(names, v.Name)
		}
		return names, created.RedeemableByCount
	}
	want := func(what string, gotNames []string, gotN int, names []string, n int) {
		t.Helper()
		if !slices.Equal(gotNames, names) || gotN != n {
			t.Errorf("%s: redeemable_by %q, count %d; want %q, %d", what, gotNames, gotN, names, n)
		}
	}
	names, n := redeemers(b, "age_over_18")
	want("no verifier", names, n, nil, 0)

	// Created on a: b's next share sees it.
	if _, err := a.CreateVerifier(ctx, e.admin, api.CreateVerifierRequest{ID: "shop", Name: "Shop", Category: "retail", Claims: ageOnly}); err != nil {
		t.Fatal(err)
	}
	names, n = redeemers(b, "age_over_18")
	want("a verifier created on the other replica", names, n, []string{"Shop"}, 1)
	names, n = redeemers(b, "age_over_18", "full_name")
	want("a claim it is not registered for", names, n, nil, 0)

	// Retired on b: a's next share no longer names it.
	names, n = redeemers(a, "age_over_18")
	want("on the replica that created it", names, n, []string{"Shop"}, 1)
	if _, err := b.RetireVerifier(ctx, e.admin, "shop"); err != nil {
		t.Fatal(err)
	}
	names, n = redeemers(a, "age_over_18")
	want("a verifier retired on the other replica", names, n, nil, 0)

	// More than 50: the first 50 by name, and the count of all.
	var all []string
	for i := range 60 {
		name := fmt.Sprintf("Pharmacy %02d", 59-i)
		if _, err := b.CreateVerifier(ctx, e.admin, api.CreateVerifierRequest{Name: name, Category: "pharmacy", Claims: ageOnly}); err != nil {
			t.Fatal(err)
		}
		all = append(all, name)
	}
	slices.Sort(all)
	names, n = redeemers(a, "age_over_18")
	want("60 verifiers", names, n, all[:50], 60)

	// A bound share names its verifier alone.
	created, err := a.CreateShare(ctx, holder, api.ShareRequest{VerifierID: "shop-2", Items: []api.ShareRequestItem{{CredentialID: cred.CredentialID, Claims: []string{"age_over_18"}}}})
	if err == nil {
		t.Fatalf("a share bound to a verifier not created yet: %+v", created)
	}
	if _, err := b.CreateVerifier(ctx, e.admin, api.CreateVerifierRequest{ID: "shop-2", Name: "Shop 2", Category: "retail", Claims: ageOnly}); err != nil {
		t.Fatal(err)
	}
	created, err = a.CreateShare(ctx, holder, api.ShareRequest{VerifierID: "shop-2", Items: []api.ShareRequestItem{{CredentialID: cred.CredentialID, Claims: []string{"age_over_18"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.RedeemableBy) != 1 || created.RedeemableBy[0].ID != "shop-2" || created.RedeemableByCount != 1 {
		t.Errorf("a share bound to shop-2: redeemable_by %+v, count %d", created.RedeemableBy, created.RedeemableByCount)
	}
}
