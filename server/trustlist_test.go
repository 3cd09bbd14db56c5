package server_test

import (
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/credentials"
)

// TestTrustListRoute: GET /trust-list answers without credentials, is
// cacheable like the issuer keys, and verifies with the service key set
// served at /.well-known/jwks.json, binding the hosted issuer to its types
// only (THREATS T37).
func TestTrustListRoute(t *testing.T) {
	h := newHarness(t)
	h.setup()

	resp := h.request("GET", "/trust-list", "", "", nil)
	token := string(readAll(t, resp))
	if resp.StatusCode != 200 {
		t.Fatalf("trust list: %d %s", resp.StatusCode, token)
	}
	for name, want := range map[string]string{
		"Content-Type":                "application/trust-list+jwt",
		"Cache-Control":               "public, max-age=300",
		"Access-Control-Allow-Origin": "*",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	resp = h.request("GET", "/.well-known/jwks.json", "", "", nil)
	signers := must(credentials.ParseJWKS(readAll(t, resp)))
	l, err := credentials.VerifyTrustList(strings.TrimSpace(token), signers, h.clock.Now())
	if err != nil {
		t.Fatalf("the trust list does not verify with the service key set: %v", err)
	}
	ts := l.TrustStore()
	hi, nid := "urn:eidwallet:vct:health_insurance:1", "urn:eidwallet:vct:national_id:1"
	if len(l.Issuers) != 1 || !ts.MayIssue(h.svc.IssuerURL("vss"), hi) || ts.MayIssue(h.svc.IssuerURL("vss"), nid) {
		t.Errorf("trust list %+v", l)
	}
}
