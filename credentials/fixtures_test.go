package credentials_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/credentials"
)

var b64 = base64.RawURLEncoding

// fixture is one hosted issuer (mps, identity cards only), one holder
// device and a verifier trust store, at a fixed instant.
type fixture struct {
	now       time.Time
	issuerKey *ecdsa.PrivateKey
	holderKey *ecdsa.PrivateKey
	kid       string
	issuer    *credentials.Issuer
	trust     *credentials.TrustStore
	types     *credentials.Registry
}

const (
	testIss   = "https://wallet.example/issuers/mps"
	testAud   = "https://wallet.example/v1/verify"
	testNonce = "n-0S6_WzA2Mj"
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), issuerKey: newKey(t), holderKey: newKey(t)}
	var err error
	if f.issuer, err = credentials.NewIssuer(testIss, f.issuerKey, rand.Reader); err != nil {
		t.Fatal(err)
	}
	f.kid = f.issuer.KeyID()
	if f.types, err = credentials.NewRegistry(credentials.BuiltinTypes()...); err != nil {
		t.Fatal(err)
	}
	f.trust = credentials.NewTrustStore()
	var vcts []string
	for _, ty := range f.types.Types() {
		vcts = append(vcts, ty.VCT)
	}
	f.trust.AddIssuer(testIss, map[string]*ecdsa.PublicKey{f.kid: &f.issuerKey.PublicKey}, vcts...)
	return f
}

// sampleClaims are made-up claims for each built-in type; no real person.
func sampleClaims(typeID string) map[string]any {
	switch typeID {
	case credentials.NationalID:
		return map[string]any{
			"id_number": "001090012345", "full_name": "Nguyen Van Demo", "birth_date": "1990-05-17",
			"sex": "M", "nationality": "VN", "place_of_origin": "Ha Noi", "place_of_residence": "Da Nang",
			"issue_date": "2024-01-02", "expiry_date": "2034-01-02",
			"portrait": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
		}
	case credentials.HealthInsurance:
		return map[string]any{
			"card_number": "DN4790123456789", "full_name": "Nguyen Van Demo", "birth_date": "1990-05-17",
			"sex": "M", "insured_from": "2026-01-01", "insured_until": "2026-12-31",
			"registered_facility": "Da Nang General Hospital", "benefit_level": "4",
		}
	case credentials.DriverLicence:
		return map[string]any{
			"licence_number": "790123456789", "full_name": "Nguyen Van Demo", "birth_date": "1990-05-17",
			"classes": []any{
				map[string]any{"class": "A1", "issue_date": "2010-06-01"},
				map[string]any{"class": "B", "issue_date": "2015-03-01", "expiry_date": "2035-03-01"},
			},
			"issue_date": "2015-03-01", "expiry_date": "2035-03-01", "issuing_authority": "Da Nang Department of Transport",
		}
	}
	panic("unknown type " + typeID)
}

func (f *fixture) issue(t testing.TB, typeID string) string {
	t.Helper()
	ty, ok := f.types.ByID(typeID)
	if !ok {
		t.Fatalf("no type %s", typeID)
	}
	sdjwt, err := f.issuer.Issue(credentials.IssueParams{
		Type: ty, Claims: sampleClaims(typeID), Holder: &f.holderKey.PublicKey,
		IssuedAt: f.now.Add(-time.Hour), ExpiresAt: f.now.AddDate(1, 0, 0),
		Status: &credentials.StatusRef{Index: 42, URI: "https://wallet.example/status-lists/mps/1"},
	})
	if err != nil {
		t.Fatalf("issue %s: %v", typeID, err)
	}
	return sdjwt
}

// present makes an SD-JWT+KB for the chosen claims, bound for testAud/testNonce.
func (f *fixture) present(t testing.TB, sdjwt string, claims ...string) string {
	t.Helper()
	pres, err := credentials.Present(sdjwt, claims)
	if err != nil {
		t.Fatalf("present: %v", err)
	}
	out, err := credentials.Bind(pres, f.holderKey, testAud, testNonce, f.now)
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	return out
}

func (f *fixture) opts() credentials.VerifyOptions {
	return credentials.VerifyOptions{Now: f.now, RequireKB: true, Audience: testAud, Nonce: testNonce}
}

// signRaw builds a compact JWS by hand, so tests can forge any header or
// payload bytes (duplicate keys, alg none, embedded keys …).
func signRaw(t testing.TB, key *ecdsa.PrivateKey, header string, payload []byte) string {
	t.Helper()
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(payload)
	h := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64.EncodeToString(sig)
}

// sdParts splits an SD-JWT into its issuer JWT's decoded header and payload,
// its disclosures and its KB-JWT.
func sdParts(t testing.TB, sdjwt string) (hdr, payload map[string]any, disclosures []string, kb string) {
	t.Helper()
	fields := strings.Split(sdjwt, "~")
	jwt := strings.Split(fields[0], ".")
	for i, out := range []*map[string]any{&hdr, &payload} {
		raw, err := b64.DecodeString(jwt[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, payload, fields[1 : len(fields)-1], fields[len(fields)-1]
}

// resign re-signs an edited header and payload with key and reattaches the
// disclosures (and nothing else).
func resign(t testing.TB, key *ecdsa.PrivateKey, hdr, payload map[string]any, disclosures []string) string {
	t.Helper()
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, key, string(h), p) + "~" + strings.Join(disclosures, "~") + tilde(disclosures)
}

func tilde(d []string) string {
	if len(d) == 0 {
		return ""
	}
	return "~"
}

// disclosure encodes [salt, name, value] (or [salt, value] when name is nil).
func disclosure(t testing.TB, name any, value any) (raw, digest string) {
	t.Helper()
	arr := []any{"c2FsdHNhbHRzYWx0c2FsdA", name, value}
	if name == nil {
		arr = []any{arr[0], value}
	}
	js, err := json.Marshal(arr)
	if err != nil {
		t.Fatal(err)
	}
	raw = b64.EncodeToString(js)
	return raw, credentials.Digest(raw)
}

// bindRaw appends a KB-JWT with arbitrary payload and header, signed by key.
func bindRaw(t testing.TB, key *ecdsa.PrivateKey, header string, pres string, kb map[string]any) string {
	t.Helper()
	p, err := json.Marshal(kb)
	if err != nil {
		t.Fatal(err)
	}
	return pres + signRaw(t, key, header, p)
}

// highS returns the same ECDSA signature with s replaced by n−s (THREATS T12).
func highS(t testing.TB, jwt string) string {
	t.Helper()
	i := strings.LastIndexByte(jwt, '.')
	sig, err := b64.DecodeString(jwt[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	s.FillBytes(sig[32:])
	return jwt[:i+1] + b64.EncodeToString(sig)
}
