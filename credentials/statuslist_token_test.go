package credentials_test

import (
	"crypto/ecdsa"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/credentials"
)

func TestStatusListTokenRoundTrip(t *testing.T) {
	f := newFixture(t)
	list, err := credentials.NewStatusList(2, 1<<14)
	if err != nil {
		t.Fatal(err)
	}
	for idx, v := range map[int]uint8{42: credentials.StatusInvalid, 43: credentials.StatusSuspended, 9000: 3} {
		if err := list.Set(idx, v); err != nil {
			t.Fatal(err)
		}
	}
	uri := "https://wallet.example/status-lists/mps/1"
	tok, err := credentials.SignStatusList(f.issuerKey, f.kid, credentials.StatusListToken{
		Issuer: testIss, Subject: uri, IssuedAt: f.now, ExpiresAt: f.now.Add(time.Hour), TTL: 5 * time.Minute, List: list,
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := credentials.VerifyStatusList(tok, f.trust, uri, f.now, 0)
	if err != nil {
		t.Fatalf("verify status list: %v", err)
	}
	if got.TTL != 5*time.Minute || got.Subject != uri || got.Issuer != testIss {
		t.Errorf("token = %+v", got)
	}
	for _, tc := range []struct {
		idx    int
		reason credentials.Reason
	}{
		{0, ""},
		{42, credentials.ReasonRevoked},
		{43, credentials.ReasonSuspended},
		{9000, credentials.ReasonStatusInvalid},
		{1 << 14, credentials.ReasonStatusOutOfRange},
		{-1, credentials.ReasonStatusOutOfRange},
	} {
		err := credentials.CheckStatus(got.List, credentials.StatusRef{Index: tc.idx, URI: uri})
		if credentials.ReasonOf(err) != tc.reason || (tc.reason == "" && err != nil) {
			t.Errorf("idx %d: %v, want %q", tc.idx, err, tc.reason)
		}
	}

	attacker := newKey(t)
	other := credentials.NewTrustStore()
	other.AddIssuer(testIss, map[string]*ecdsa.PublicKey{thumb(t, attacker): &attacker.PublicKey})
	for name, check := range map[string]func() error{
		"other uri": func() error {
			_, err := credentials.VerifyStatusList(tok, f.trust, uri+"x", f.now, 0)
			return err
		},
		"expired": func() error {
			_, err := credentials.VerifyStatusList(tok, f.trust, uri, f.now.Add(2*time.Hour), 0)
			return err
		},
		"untrusted key": func() error {
			_, err := credentials.VerifyStatusList(tok, other, uri, f.now, 0)
			return err
		},
		"tampered": func() error {
			_, err := credentials.VerifyStatusList(flipSig(tok), f.trust, uri, f.now, 0)
			return err
		},
		"a credential, not a status list": func() error {
			sdjwt := f.issue(t, credentials.NationalID)
			_, err := credentials.VerifyStatusList(sdjwt[:strings.IndexByte(sdjwt, '~')], f.trust, uri, f.now, 0)
			return err
		},
		"over the entry bound": func() error {
			_, err := credentials.VerifyStatusList(tok, f.trust, uri, f.now, 1000)
			return err
		},
	} {
		if err := check(); credentials.ReasonOf(err) != credentials.ReasonStatusInvalid {
			t.Errorf("%s: %v, want %s", name, err, credentials.ReasonStatusInvalid)
		}
	}
}
