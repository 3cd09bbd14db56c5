package credentials_test

import (
	"crypto/ecdsa"
	"maps"
	"math/rand/v2"
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

	// Tokens another issuer could sign: nbf still ahead (RFC 7519
	// §4.1.5, past the skew) and a ttl that is not positive (§5.1).
	lst, err := list.Encode()
	if err != nil {
		t.Fatal(err)
	}
	signed := func(extra map[string]any) string {
		claims := map[string]any{"iss": testIss, "sub": uri, "iat": f.now.Unix(), "status_list": map[string]any{"bits": 2, "lst": lst}}
		maps.Copy(claims, extra)
		maps.DeleteFunc(claims, func(_ string, v any) bool { return v == nil }) // nil: no such claim
		tok, err := credentials.SignJWT(f.issuerKey, credentials.TypStatusList, f.kid, claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if _, err := credentials.VerifyStatusList(signed(map[string]any{"nbf": f.now.Add(30 * time.Second).Unix(), "ttl": 1}), f.trust, uri, f.now, 0); err != nil {
		t.Errorf("nbf within the skew, ttl 1: %v", err)
	}
	// §5.1 does not require iss: the key's issuer stands for it. And
	// NumericDates and ttl may be non-integers (RFC 7519 §2, §5.1 "a
	// positive number").
	noIss := signed(map[string]any{"iss": nil, "ttl": 90.5, "iat": float64(f.now.Unix()) + 0.25, "exp": float64(f.now.Add(time.Hour).Unix()) + 0.5})
	if got, err := credentials.VerifyStatusList(noIss, f.trust, uri, f.now, 0); err != nil {
		t.Errorf("no iss, non-integer iat, exp and ttl: %v", err)
	} else if got.Issuer != testIss || got.TTL != 90500*time.Millisecond || !got.ExpiresAt.Equal(f.now.Add(time.Hour).Truncate(time.Second).Add(500*time.Millisecond)) {
		t.Errorf("no iss, non-integer iat, exp and ttl: %+v", got)
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
		"nbf ahead": func() error {
			_, err := credentials.VerifyStatusList(signed(map[string]any{"nbf": f.now.Add(time.Hour).Unix()}), f.trust, uri, f.now, 0)
			return err
		},
		"ttl zero": func() error {
			_, err := credentials.VerifyStatusList(signed(map[string]any{"ttl": 0}), f.trust, uri, f.now, 0)
			return err
		},
		"iss of another issuer": func() error {
			_, err := credentials.VerifyStatusList(signed(map[string]any{"iss": "https://other.example"}), f.trust, uri, f.now, 0)
			return err
		},
		"iat not a number": func() error {
			_, err := credentials.VerifyStatusList(signed(map[string]any{"iat": "1700000000"}), f.trust, uri, f.now, 0)
			return err
		},
		"ttl over a year": func() error {
			_, err := credentials.VerifyStatusList(signed(map[string]any{"ttl": 1e12}), f.trust, uri, f.now, 0)
			return err
		},
		"ttl negative": func() error {
			_, err := credentials.VerifyStatusList(signed(map[string]any{"ttl": -5}), f.trust, uri, f.now, 0)
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

// TestStatusListTokenRealisticSize: Token Status List §4 and §8.3 set no
// size limit, so a list of 2^20 entries at 2 bits with about 4% of them set
// at random, a token larger than an SD-JWT may be, verifies; the token has
// its own cap (MaxStatusListTokenBytes), and the SD-JWT one still holds for
// every other JWT.
func TestStatusListTokenRealisticSize(t *testing.T) {
	f := newFixture(t)
	list, err := credentials.NewStatusList(2, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	set := map[int]uint8{}
	for len(set) < list.Len()/25 {
		idx, v := rnd.IntN(list.Len()), uint8(1+rnd.IntN(3))
		set[idx] = v
		if err := list.Set(idx, v); err != nil {
			t.Fatal(err)
		}
	}
	uri := "https://wallet.example/status-lists/mps/1"
	tok, err := credentials.SignStatusList(f.issuerKey, f.kid, credentials.StatusListToken{
		Issuer: testIss, Subject: uri, IssuedAt: f.now, TTL: 5 * time.Minute, List: list,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) <= credentials.MaxSDJWTBytes {
		t.Fatalf("token is %d bytes, want over %d for this test to mean anything", len(tok), credentials.MaxSDJWTBytes)
	}
	got, err := credentials.VerifyStatusList(tok, f.trust, uri, f.now, 0)
	if err != nil {
		t.Fatalf("verify a %d-byte status list token: %v", len(tok), err)
	}
	for idx, want := range set {
		if v, err := got.List.Get(idx); err != nil || v != want {
			t.Fatalf("entry %d = %d %v, want %d", idx, v, err, want)
		}
	}
	huge := tok[:strings.LastIndexByte(tok, '.')] + "." + strings.Repeat("A", credentials.MaxStatusListTokenBytes)
	if _, err := credentials.VerifyStatusList(huge, f.trust, uri, f.now, 0); credentials.ReasonOf(err) != credentials.ReasonStatusInvalid ||
		!strings.Contains(err.Error(), "jwt over") { // refused for its size, before its (bad) signature is looked at
		t.Errorf("token over MaxStatusListTokenBytes: %v, want %s for its size", err, credentials.ReasonStatusInvalid)
	}
	if _, err := credentials.VerifyTrustList(tok, map[string]*ecdsa.PublicKey{f.kid: &f.issuerKey.PublicKey}, f.now); credentials.ReasonOf(err) != credentials.ReasonTooLarge {
		t.Errorf("the same token as a trust list: %v, want %s", err, credentials.ReasonTooLarge)
	}
}
