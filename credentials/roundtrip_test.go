package credentials_test

import (
	"crypto/rand"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/credentials"
)

// TestRoundTripEveryType issues each built-in type, presents subsets of its
// claims and checks that exactly those claims come back, with their values.
func TestRoundTripEveryType(t *testing.T) {
	f := newFixture(t)
	for _, ty := range f.types.Types() {
		t.Run(ty.ID, func(t *testing.T) {
			sdjwt := f.issue(t, ty.ID)
			all, err := credentials.Disclosable(sdjwt)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ty.Derive(sampleClaims(ty.ID), f.now.Add(-time.Hour))
			if len(all) != len(want) {
				t.Fatalf("disclosable claims %v, want every claim of %v", all, want)
			}
			subsets := [][]string{nil, all, all[:1], all[len(all)-1:]}
			for range 8 {
				subsets = append(subsets, randomSubset(t, all))
			}
			for _, chosen := range subsets {
				got, err := credentials.Verify(f.present(t, sdjwt, chosen...), f.trust, f.opts())
				if err != nil {
					t.Fatalf("verify %v: %v", chosen, err)
				}
				if !sameSet(got.Disclosed, chosen) {
					t.Fatalf("disclosed %v, chose %v", got.Disclosed, chosen)
				}
				for _, name := range chosen {
					if !jsonEqual(t, got.Claims[name], want[name]) {
						t.Errorf("claim %s = %v, want %v", name, got.Claims[name], want[name])
					}
				}
				if got.VCT != ty.VCT || got.Issuer != testIss || got.Status == nil || got.Status.Index != 42 {
					t.Errorf("vct %q issuer %q status %+v", got.VCT, got.Issuer, got.Status)
				}
				if got.Holder == nil || !got.Holder.Equal(&f.holderKey.PublicKey) || got.KB == nil || got.KB.Nonce != testNonce {
					t.Error("holder key or key binding not returned")
				}
			}
		})
	}
}

// TestArrayElementsDisclosable: each driving-licence class is its own
// disclosure; presenting "classes" brings every class.
func TestArrayElementsDisclosable(t *testing.T) {
	f := newFixture(t)
	sdjwt := f.issue(t, credentials.DriverLicence)
	_, payload, disclosures, _ := sdParts(t, sdjwt)
	if _, plain := payload["classes"]; plain {
		t.Fatal("classes is a plain claim, want it selectively disclosable")
	}
	elements := 0
	for _, d := range disclosures {
		raw, _ := b64.DecodeString(d)
		if raw[0] == '[' && countTopLevel(raw) == 2 {
			elements++
		}
	}
	if elements != 2 {
		t.Errorf("%d array-element disclosures, want 2 (one per class)", elements)
	}
	got, err := credentials.Verify(f.present(t, sdjwt, "classes"), f.trust, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if classes, _ := got.Claims["classes"].([]any); len(classes) != 2 {
		t.Errorf("classes = %v", got.Claims["classes"])
	}
}

// countTopLevel counts the elements of a flat JSON array of scalars and objects.
func countTopLevel(js []byte) int {
	depth, n, inStr, esc := 0, 1, false, false
	for _, c := range js {
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth == 1:
			n++
		}
	}
	return n
}

// TestSaltsAndDecoys: 1,000 issuances never repeat a salt, and every _sd
// array carries decoys (more digests than disclosed claims) in sorted order
// (THREATS T26).
func TestSaltsAndDecoys(t *testing.T) {
	f := newFixture(t)
	salts := map[string]bool{}
	for i := range 1000 {
		sdjwt := f.issue(t, credentials.HealthInsurance)
		_, payload, disclosures, _ := sdParts(t, sdjwt)
		sd, _ := payload["_sd"].([]any)
		if len(sd) <= len(disclosures) {
			t.Fatalf("issuance %d: %d digests for %d disclosures, want decoys", i, len(sd), len(disclosures))
		}
		if !slices.IsSortedFunc(sd, func(a, b any) int { return strings.Compare(a.(string), b.(string)) }) {
			t.Fatalf("issuance %d: _sd not sorted", i)
		}
		for _, d := range disclosures {
			raw, _ := b64.DecodeString(d)
			salt := string(raw[2:24]) // ["<22 chars of base64url salt>", …
			if salts[salt] {
				t.Fatalf("salt repeated after %d issuances", i)
			}
			salts[salt] = true
		}
	}
}

// TestAgeOverComputedAtInstant: age_over_18 follows the instant given,
// birthday included, 29 February falling on 1 March in common years.
func TestAgeOverComputedAtInstant(t *testing.T) {
	types, _ := credentials.NewRegistry(credentials.BuiltinTypes()...)
	nid, _ := types.ByID(credentials.NationalID)
	for _, tc := range []struct {
		birth, at string
		want18    bool
	}{
		{"2008-11-27", "2026-11-26", false},
		{"2008-11-27", "2026-11-27", true},
		{"2008-02-29", "2026-02-28", false},
		{"2008-02-29", "2026-03-01", true},
		{"1990-01-01", "2026-11-27", true},
	} {
		claims := sampleClaims(credentials.NationalID)
		claims["birth_date"] = tc.birth
		at, _ := time.Parse(time.DateOnly, tc.at)
		got, err := nid.Derive(claims, at)
		if err != nil {
			t.Fatal(err)
		}
		if got["age_over_18"] != tc.want18 {
			t.Errorf("born %s, at %s: age_over_18 = %v, want %v", tc.birth, tc.at, got["age_over_18"], tc.want18)
		}
	}
}

// TestValidateClaims: the schema rejects unknown, derived, missing and
// malformed claims, naming the claim and never its value.
func TestValidateClaims(t *testing.T) {
	types, _ := credentials.NewRegistry(credentials.BuiltinTypes()...)
	nid, _ := types.ByID(credentials.NationalID)
	dl, _ := types.ByID(credentials.DriverLicence)
	for _, tc := range []struct {
		name  string
		ty    *credentials.Type
		edit  func(map[string]any)
		claim string
	}{
		{"unknown claim", nid, func(c map[string]any) { c["shoe_size"] = "44" }, "shoe_size"},
		{"derived claim supplied", nid, func(c map[string]any) { c["age_over_18"] = true }, "age_over_18"},
		{"missing required", nid, func(c map[string]any) { delete(c, "full_name") }, "full_name"},
		{"id number 11 digits", nid, func(c map[string]any) { c["id_number"] = "00109001234" }, "id_number"},
		{"id number letters", nid, func(c map[string]any) { c["id_number"] = "00109001234X" }, "id_number"},
		{"date not full-date", nid, func(c map[string]any) { c["birth_date"] = "17/05/1990" }, "birth_date"},
		{"impossible date", nid, func(c map[string]any) { c["birth_date"] = "1990-02-30" }, "birth_date"},
		{"unknown sex", nid, func(c map[string]any) { c["sex"] = "male" }, "sex"},
		{"number for string", nid, func(c map[string]any) { c["full_name"] = 42.0 }, "full_name"},
		{"portrait not a data uri", nid, func(c map[string]any) { c["portrait"] = "https://x/p.png" }, "portrait"},
		{"class without issue date", dl, func(c map[string]any) {
			c["classes"] = []any{map[string]any{"class": "B"}}
		}, "classes[0].issue_date"},
		{"classes not objects", dl, func(c map[string]any) { c["classes"] = []any{"B"} }, "classes"},
		{"null for an optional claim", nid, func(c map[string]any) { c["place_of_origin"] = nil }, "place_of_origin"},
		{"null for a required claim", nid, func(c map[string]any) { c["full_name"] = nil }, "full_name"},
		{"257 characters", nid, func(c map[string]any) { c["full_name"] = strings.Repeat("ễ", 257) }, "full_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims := sampleClaims(tc.ty.ID)
			tc.edit(claims)
			err := tc.ty.Validate(claims)
			ce, ok := err.(*credentials.ClaimError)
			if !ok || ce.Claim != tc.claim {
				t.Fatalf("Validate = %v, want a ClaimError for %s", err, tc.claim)
			}
		})
	}
	for _, ty := range types.Types() {
		if err := ty.Validate(sampleClaims(ty.ID)); err != nil {
			t.Errorf("%s sample: %v", ty.ID, err)
		}
	}
	// The cap counts characters: 256 of three bytes each are a name.
	claims := sampleClaims(credentials.NationalID)
	claims["full_name"] = strings.Repeat("ễ", credentials.DefaultMaxClaimLen)
	if err := nid.Validate(claims); err != nil {
		t.Errorf("a name of %d Vietnamese letters: %v", credentials.DefaultMaxClaimLen, err)
	}
}

func randomSubset(t *testing.T, all []string) []string {
	t.Helper()
	var out []string
	for _, n := range all {
		b, err := rand.Int(rand.Reader, big.NewInt(2))
		if err != nil {
			t.Fatal(err)
		}
		if b.Int64() == 1 {
			out = append(out, n)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
