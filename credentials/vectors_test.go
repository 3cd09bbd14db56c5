package credentials_test

import (
	"crypto/ecdsa"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/credentials"
)

// rfcVector is testdata/vectors/rfc9901-section5.json, copied from ../shared/vectors (RFC 9901 §5).
type rfcVector struct {
	IssuerJWK   jsontext.Value `json:"issuer_jwk"`
	HolderJWK   jsontext.Value `json:"holder_jwk"`
	SDJWT       string         `json:"sd_jwt"`
	Disclosures []struct {
		B64    string `json:"b64"`
		Digest string `json:"digest"`
	} `json:"disclosures"`
	PresentationKB string         `json:"presentation_kb"`
	KB             credentials.KB `json:"kb"`
	SDHashInput    string         `json:"sd_hash_input"`
	ExpectedClaims map[string]any `json:"expected_disclosed_claims"`
	VerifyAtUnix   int64          `json:"verify_at_unix"`
}

const vectorsDir = "testdata/vectors/"

func loadRFCVector(t testing.TB) (rfcVector, *ecdsa.PublicKey) {
	t.Helper()
	data, err := os.ReadFile(vectorsDir + "rfc9901-section5.json")
	if err != nil {
		t.Fatalf("read vector: %v", err)
	}
	var v rfcVector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode vector: %v", err)
	}
	key, err := credentials.ParsePublicJWK(v.IssuerJWK)
	if err != nil {
		t.Fatalf("issuer jwk: %v", err)
	}
	return v, key
}

// vectorTrust trusts the Appendix A.5 key for any issuer, as a verifier
// holding that JWKS would.
func vectorTrust(t testing.TB, key *ecdsa.PublicKey) *credentials.TrustStore {
	t.Helper()
	kid, err := credentials.Thumbprint(key)
	if err != nil {
		t.Fatal(err)
	}
	trust := credentials.NewTrustStore()
	trust.AddIssuer("", map[string]*ecdsa.PublicKey{kid: key})
	return trust
}

func TestRFC9901Section5Presentation(t *testing.T) {
	v, key := loadRFCVector(t)
	got, err := credentials.Verify(v.PresentationKB, vectorTrust(t, key), credentials.VerifyOptions{
		Now:       time.Unix(v.VerifyAtUnix, 0),
		Profile:   credentials.ProfilePlain,
		RequireKB: true,
		Audience:  v.KB.Aud,
		Nonce:     v.KB.Nonce,
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !jsonEqual(t, got.Claims, v.ExpectedClaims) {
		t.Errorf("processed payload\n got %v\nwant %v", got.Claims, v.ExpectedClaims)
	}
	if got.KB == nil || *got.KB != v.KB {
		t.Errorf("key binding = %+v, want %+v", got.KB, v.KB)
	}
	if got.Issuer != "https://issuer.example.com" {
		t.Errorf("issuer = %q", got.Issuer)
	}
}

func TestRFC9901Section5Digests(t *testing.T) {
	v, _ := loadRFCVector(t)
	for _, d := range v.Disclosures {
		if got := credentials.Digest(d.B64); got != d.Digest {
			t.Errorf("digest(%s…) = %s, want %s", d.B64[:12], got, d.Digest)
		}
	}
	if !strings.HasPrefix(v.PresentationKB, v.SDHashInput) || !strings.HasSuffix(v.SDHashInput, "~") {
		t.Fatal("vector sd_hash_input is not the presentation up to its last ~")
	}
	if got := credentials.SDHash(v.PresentationKB); got != v.KB.SDHash {
		t.Errorf("SDHash(presentation) = %s, want %s", got, v.KB.SDHash)
	}
	if got := credentials.SDHash(v.SDHashInput); got != v.KB.SDHash {
		t.Errorf("SDHash(sd_hash_input) = %s, want %s", got, v.KB.SDHash)
	}
}

func TestRFC9901Section5IssuedSDJWT(t *testing.T) {
	v, key := loadRFCVector(t)
	got, err := credentials.Verify(v.SDJWT, vectorTrust(t, key), credentials.VerifyOptions{
		Now: time.Unix(v.VerifyAtUnix, 0), Profile: credentials.ProfilePlain,
	})
	if err != nil {
		t.Fatalf("verify issued sd-jwt: %v", err)
	}
	for _, name := range []string{"given_name", "family_name", "email", "phone_number", "phone_number_verified", "address", "birthdate", "updated_at"} {
		if _, ok := got.Claims[name]; !ok {
			t.Errorf("claim %s missing", name)
		}
	}
	if nat := got.Claims["nationalities"]; !reflect.DeepEqual(nat, []any{"US", "DE"}) {
		t.Errorf("nationalities = %v", nat)
	}
	// Its two elements are disclosures inside a plain claim: revealed, but
	// not a disclosed top-level claim.
	if !slices.Equal(got.DisclosedWithin, []string{"nationalities"}) || slices.Contains(got.Disclosed, "nationalities") {
		t.Errorf("disclosed %v, within %v; want nationalities within only", got.Disclosed, got.DisclosedWithin)
	}
	// The same SD-JWT without key binding fails when binding is required,
	// and fails the SD-JWT VC profile for its typ (example+sd-jwt).
	for name, opts := range map[string]credentials.VerifyOptions{
		string(credentials.ReasonKBRequired): {Now: time.Unix(v.VerifyAtUnix, 0), Profile: credentials.ProfilePlain, RequireKB: true},
		string(credentials.ReasonInvalidTyp): {Now: time.Unix(v.VerifyAtUnix, 0), Profile: credentials.ProfileVC},
	} {
		if _, err := credentials.Verify(v.SDJWT, vectorTrust(t, key), opts); credentials.ReasonOf(err) != credentials.Reason(name) {
			t.Errorf("want %s, got %v", name, err)
		}
	}
}

// TestRFC9901Section5Present re-presents the issued SD-JWT with our
// Present and checks it selects exactly the disclosures of §5.2's example
// (given_name, family_name, address) plus the chosen claims only.
func TestRFC9901Section5Present(t *testing.T) {
	v, key := loadRFCVector(t)
	pres, err := credentials.Present(v.SDJWT, []string{"given_name", "family_name", "address"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := credentials.Verify(pres, vectorTrust(t, key), credentials.VerifyOptions{
		Now: time.Unix(v.VerifyAtUnix, 0), Profile: credentials.ProfilePlain,
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	want := map[string]bool{"given_name": true, "family_name": true, "address": true}
	for _, n := range got.Disclosed {
		if !want[n] {
			t.Errorf("claim %s disclosed but not asked for", n)
		}
		delete(want, n)
	}
	if len(want) != 0 {
		t.Errorf("claims not disclosed: %v", want)
	}
	if _, ok := got.Claims["nationalities"]; !ok {
		t.Error("plain array claim nationalities dropped")
	}
	if n := got.Claims["nationalities"].([]any); len(n) != 0 {
		t.Errorf("undisclosed array elements leaked: %v", n)
	}
	if len(got.DisclosedWithin) != 0 {
		t.Errorf("parts of claims revealed: %v, want none", got.DisclosedWithin)
	}
}

// jsonEqual compares two values as JSON values.
func jsonEqual(t testing.TB, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a, json.Deterministic(true))
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b, json.Deterministic(true))
	if err != nil {
		t.Fatal(err)
	}
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}
