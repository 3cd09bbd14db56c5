package offline

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"
)

// TestCompactSizes logs the length of EIDC1: codes of the built-in types
// (every claim but the portrait, realistic Vietnamese values) against the
// capacity of a QR at level M in alphanumeric mode: version 10 holds 311
// characters, version 16 715 (ISO/IEC 18004 table 7).
func TestCompactSizes(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Unix(1798372800, 0)
	for _, c := range []struct {
		typ    string
		claims map[string]any
	}{
		{"national_id", map[string]any{"age_over_18": true}},
		{"national_id", map[string]any{"full_name": "Nguyễn Thị Minh Khai", "age_over_18": true}},
		{"national_id", map[string]any{"id_number": "001090077001", "full_name": "Nguyễn Thị Minh Khai", "birth_date": "1991-08-09",
			"sex": "F", "nationality": "VN", "place_of_origin": "Vĩnh Long", "place_of_residence": "Ninh Kiều, Cần Thơ",
			"issue_date": "2023-02-03", "expiry_date": "2038-02-03", "age_over_14": true, "age_over_16": true, "age_over_18": true, "age_over_21": true}},
		{"health_insurance", map[string]any{"card_number": "CT4790123998877", "full_name": "Nguyễn Thị Minh Khai", "birth_date": "1991-08-09",
			"sex": "F", "insured_from": "2026-01-01", "insured_until": "2026-12-31", "registered_facility": "Trạm y tế Cần Thơ 7", "benefit_level": "4"}},
		{"driver_licence", map[string]any{"licence_number": "930177665544", "full_name": "Nguyễn Thị Minh Khai", "birth_date": "1991-08-09",
			"classes":    []any{map[string]any{"class": "B", "issue_date": "2019-04-05", "expiry_date": "2029-04-05"}},
			"issue_date": "2019-04-05", "expiry_date": "2029-04-05", "issuing_authority": "Sở GTVT Cần Thơ"}},
	} {
		text, err := Sign(rand.Reader, key, Share{Type: c.typ, IssuerID: "mps", StatusList: 1, StatusIndex: 734211, Claims: c.claims,
			Consent: true, IssuedAt: now, ExpiresAt: now.Add(MaxLifetime), CTI: make([]byte, 12)})
		if err != nil {
			t.Fatal(err)
		}
		version := "≤ 10"
		if len(text) > 311 {
			version = "> 10"
		}
		t.Logf("%s, %d claims: %d characters (QR version %s at M)", c.typ, len(c.claims), len(text), version)
	}
}
