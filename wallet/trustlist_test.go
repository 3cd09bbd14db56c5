package wallet_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/wallet"
)

// TestTrustListBindsHostedIssuers: the signed trust list names every
// active hosted issuer with its keys still in its JWKS and its types' vct,
// verifies with the service JWKS, and leaves out retired keys and retired
// issuers (THREATS T37).
func TestTrustListBindsHostedIssuers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, is := range []api.CreateIssuerRequest{
		{ID: "vss", Name: "Social Security", Types: []string{credentials.HealthInsurance}},
		{ID: "old", Name: "Old Transport Office", Types: []string{credentials.DriverLicence}},
	} {
		if _, err := e.svc.CreateIssuer(ctx, e.admin, is); err != nil {
			t.Fatal(err)
		}
	}
	rotated, err := e.svc.RotateIssuerKey(ctx, e.admin, "vss")
	if err != nil {
		t.Fatal(err)
	}
	oldKid, newKid := rotated.Keys[0].Kid, rotated.Keys[1].Kid
	if _, err := e.svc.RetireIssuerKey(ctx, e.admin, "vss", oldKid); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RetireIssuer(ctx, e.admin, "old"); err != nil {
		t.Fatal(err)
	}

	doc, err := e.svc.TrustList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	token := string(doc.Body)
	set, err := e.svc.ServiceJWKS()
	if err != nil {
		t.Fatal(err)
	}
	signers, err := credentials.ParseJWKS(set)
	if err != nil {
		t.Fatal(err)
	}
	l, err := credentials.VerifyTrustList(token, signers, e.now)
	if err != nil {
		t.Fatalf("the service's trust list does not verify with its JWKS: %v", err)
	}
	if l.Issuer != e.svc.PublicURL() || !l.ExpiresAt.Equal(e.now.Add(wallet.TrustListTTL).Truncate(time.Second)) {
		t.Errorf("iss %q exp %v", l.Issuer, l.ExpiresAt)
	}
	want := map[string]string{"mps": "urn:eidwallet:vct:national_id:1", "vss": "urn:eidwallet:vct:health_insurance:1"}
	if len(l.Issuers) != len(want) {
		t.Fatalf("issuers %+v, want mps and vss (old is retired)", l.Issuers)
	}
	for _, is := range l.Issuers {
		if !slices.Equal(is.VCT, []string{want[is.ID]}) || is.Issuer != e.svc.IssuerURL(is.ID) || len(is.Keys) != 1 {
			t.Errorf("entry %+v", is)
		}
		if is.ID == "vss" && is.Keys[newKid] == nil {
			t.Errorf("vss keys %v: want only the new key %s, not the retired %s", is.Keys, newKid, oldKid)
		}
	}
	ts := l.TrustStore()
	if ts.MayIssue(e.svc.IssuerURL("vss"), want["mps"]) || !ts.MayIssue(e.svc.IssuerURL("mps"), want["mps"]) {
		t.Error("the insurer is trusted for identity cards, or the ministry is not")
	}
	if _, _, ok := ts.IssuerKey(oldKid); ok {
		t.Error("a retired key is trusted")
	}
	if _, err := credentials.VerifyTrustList(token, signers, e.now.Add(wallet.TrustListTTL)); credentials.ReasonOf(err) != credentials.ReasonExpired {
		t.Errorf("after its ttl: %v, want expired", err)
	}
}
