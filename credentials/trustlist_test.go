package credentials_test

import (
	"crypto/ecdsa"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/credentials"
)

const (
	vctNationalID = "urn:eidwallet:vct:national_id:1"
	vctHealth     = "urn:eidwallet:vct:health_insurance:1"
	insurerIss    = "https://wallet.example/issuers/vss"
)

// trustListFixture is a service key and two issuers' keys.
type trustListFixture struct {
	now               time.Time
	service, mps, vss *ecdsa.PrivateKey
	serviceKid        string
	signers           map[string]*ecdsa.PublicKey
	list              credentials.TrustList
}

func newTrustListFixture(t testing.TB) *trustListFixture {
	t.Helper()
	f := &trustListFixture{now: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), service: newKey(t), mps: newKey(t), vss: newKey(t)}
	f.serviceKid = thumb(t, f.service)
	f.signers = map[string]*ecdsa.PublicKey{f.serviceKid: &f.service.PublicKey}
	f.list = credentials.TrustList{Issuer: "https://wallet.example", IssuedAt: f.now, ExpiresAt: f.now.Add(24 * time.Hour),
		Issuers: []credentials.TrustedIssuer{
			{ID: "mps", Issuer: testIss, Name: "Ministry", Keys: map[string]*ecdsa.PublicKey{thumb(t, f.mps): &f.mps.PublicKey}, VCT: []string{vctNationalID}},
			{ID: "vss", Issuer: insurerIss, Name: "Insurer", Keys: map[string]*ecdsa.PublicKey{thumb(t, f.vss): &f.vss.PublicKey}, VCT: []string{vctHealth}},
		}}
	return f
}

func (f *trustListFixture) sign(t testing.TB, l credentials.TrustList) string {
	t.Helper()
	tok, err := credentials.SignTrustList(f.service, f.serviceKid, l)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTrustListBindsKeysToIssuersAndTypes: a verified trust list trusts
// each issuer's keys for that issuer and its vct only (THREATS T4, T37).
func TestTrustListBindsKeysToIssuersAndTypes(t *testing.T) {
	f := newTrustListFixture(t)
	got, err := credentials.VerifyTrustList(f.sign(t, f.list), f.signers, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Issuer != f.list.Issuer || !got.ExpiresAt.Equal(f.list.ExpiresAt) || len(got.Issuers) != 2 || got.Issuers[1].Name != "Insurer" {
		t.Fatalf("trust list = %+v", got)
	}
	ts := got.TrustStore()
	if key, iss, ok := ts.IssuerKey(thumb(t, f.vss)); !ok || iss != insurerIss || !key.Equal(&f.vss.PublicKey) {
		t.Errorf("insurer key: %v %q %v", key, iss, ok)
	}
	for _, tc := range []struct {
		iss, vct string
		want     bool
	}{
		{testIss, vctNationalID, true},
		{insurerIss, vctHealth, true},
		{insurerIss, vctNationalID, false},
		{testIss, vctHealth, false},
		{"https://evil.example", vctNationalID, false},
	} {
		if ts.MayIssue(tc.iss, tc.vct) != tc.want {
			t.Errorf("MayIssue(%s, %s) = %v", tc.iss, tc.vct, !tc.want)
		}
	}
}

// TestVerifyTrustListRejects: every way a list can be wrong fails closed
// with one reason.
func TestVerifyTrustListRejects(t *testing.T) {
	f := newTrustListFixture(t)
	good := f.sign(t, f.list)
	other := newKey(t)
	kidHeader := `{"alg":"ES256","typ":"trust-list+jwt","kid":"` + f.serviceKid + `"}`
	iat, exp := f.now.Unix(), f.now.Add(time.Hour).Unix()
	claims := func(issuers string) string {
		return `{"iss":"https://wallet.example","iat":` + itoa(iat) + `,"exp":` + itoa(exp) + `,"issuers":[` + issuers + `]}`
	}
	jwks := func(k *ecdsa.PrivateKey) string {
		set, err := credentials.JWKS(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return string(set)
	}
	entry := func(id, iss, vct string, k *ecdsa.PrivateKey) string {
		return `{"id":"` + id + `","issuer":"` + iss + `","name":"x","jwks":` + jwks(k) + `,"vct":[` + vct + `]}`
	}
	dot := strings.LastIndexByte(good, '.')
	flipped := []byte(good)
	flipped[dot-3] ^= 1 // in the payload
	expired := f.list
	expired.IssuedAt, expired.ExpiresAt = f.now.Add(-25*time.Hour), f.now.Add(-time.Hour)
	future := f.list
	future.IssuedAt, future.ExpiresAt = f.now.Add(time.Hour), f.now.Add(25*time.Hour)
	otherKid, err := credentials.SignTrustList(other, thumb(t, other), f.list)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		token  string
		reason credentials.Reason
	}{
		"byte flipped":           {string(flipped), credentials.ReasonInvalidSignature},
		"other key, service kid": {raw(t, other, kidHeader, claims(entry("mps", testIss, `"`+vctNationalID+`"`, f.mps))), credentials.ReasonInvalidSignature},
		"other key and kid":      {otherKid, credentials.ReasonUntrustedIssuer},
		"no kid":                 {raw(t, f.service, `{"alg":"ES256","typ":"trust-list+jwt"}`, claims("")), credentials.ReasonUntrustedIssuer},
		"expired":                {f.sign(t, expired), credentials.ReasonExpired},
		"issued in the future":   {f.sign(t, future), credentials.ReasonNotYetValid},
		"typ JWT":                {raw(t, f.service, `{"alg":"ES256","typ":"JWT","kid":"`+f.serviceKid+`"}`, claims("")), credentials.ReasonInvalidTyp},
		"duplicate member":       {raw(t, f.service, kidHeader, `{"iss":"a","iss":"b","iat":1,"exp":2,"issuers":[]}`), credentials.ReasonDuplicateKey},
		"no exp":                 {raw(t, f.service, kidHeader, `{"iss":"https://wallet.example","iat":`+itoa(iat)+`,"issuers":[]}`), credentials.ReasonMissingClaim},
		"issuer without vct":     {raw(t, f.service, kidHeader, claims(entry("mps", testIss, "", f.mps))), credentials.ReasonMissingClaim},
		"one key, two issuers": {raw(t, f.service, kidHeader, claims(entry("mps", testIss, `"`+vctNationalID+`"`, f.mps)+","+
			entry("vss", insurerIss, `"`+vctHealth+`"`, f.mps))), credentials.ReasonMalformed},
		"one issuer twice": {raw(t, f.service, kidHeader, claims(entry("mps", testIss, `"`+vctNationalID+`"`, f.mps)+","+
			entry("mps2", testIss, `"`+vctHealth+`"`, f.vss))), credentials.ReasonMalformed},
		"over 64 KiB": {strings.Repeat("a", credentials.MaxTrustListBytes+1), credentials.ReasonTooLarge},
	} {
		got, err := credentials.VerifyTrustList(tc.token, f.signers, f.now)
		if credentials.ReasonOf(err) != tc.reason || got != nil {
			t.Errorf("%s: %v, want %s", name, err, tc.reason)
		}
	}
}

// TestSignTrustListRefuses: the service never signs a list a verifier
// would refuse or misread: an issuer with no vct (which a careless verifier
// could take for any vct), a key under a kid that is not its thumbprint.
func TestSignTrustListRefuses(t *testing.T) {
	f := newTrustListFixture(t)
	for name, edit := range map[string]func(*credentials.TrustedIssuer){
		"no vct":    func(is *credentials.TrustedIssuer) { is.VCT = nil },
		"empty vct": func(is *credentials.TrustedIssuer) { is.VCT = []string{""} },
		"no keys":   func(is *credentials.TrustedIssuer) { is.Keys = nil },
		"kid not the thumbprint": func(is *credentials.TrustedIssuer) {
			is.Keys = map[string]*ecdsa.PublicKey{"k1": &f.vss.PublicKey}
		},
	} {
		l := f.list
		l.Issuers = append([]credentials.TrustedIssuer{}, l.Issuers...)
		edit(&l.Issuers[1])
		if _, err := credentials.SignTrustList(f.service, f.serviceKid, l); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

func FuzzVerifyTrustList(f *testing.F) {
	fx := newTrustListFixture(f)
	f.Add(fx.sign(f, fx.list))
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		l, err := credentials.VerifyTrustList(token, fx.signers, fx.now)
		if (l == nil) == (err == nil) {
			t.Fatalf("list %v with error %v", l, err)
		}
	})
}

// raw signs a hand-made payload (signRaw of the fixtures).
func raw(t *testing.T, key *ecdsa.PrivateKey, header, payload string) string {
	t.Helper()
	return signRaw(t, key, header, []byte(payload))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
