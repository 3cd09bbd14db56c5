package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/credentials"
)

func runCLI(t *testing.T, stdin string, args ...string) (int, verifyResult, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(stdin), &out, &errOut)
	var res verifyResult
	if out.Len() > 0 {
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("output is not json: %v\n%s", err, out.String())
		}
	}
	return code, res, errOut.String()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVerifyPresentationRFC9901 checks the RFC 9901 §5 presentation with
// key binding through the command line, as a verifier would.
func TestVerifyPresentationRFC9901(t *testing.T) {
	raw, err := os.ReadFile("../../credentials/testdata/vectors/rfc9901-section5.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		IssuerJWK jsontext.Value `json:"issuer_jwk"`
		Pres      string         `json:"presentation_kb"`
		KB        struct{ Aud, Nonce string }
		Expected  map[string]any `json:"expected_disclosed_claims"`
		At        int64          `json:"verify_at_unix"`
	}
	if err := json.Unmarshal(raw, &v, json.MatchCaseInsensitiveNames(true)); err != nil {
		t.Fatal(err)
	}
	jwks := writeFile(t, "jwks.json", []byte(`{"keys":[`+string(v.IssuerJWK)+`]}`))
	args := []string{"verify-presentation", "--jwks", jwks, "--profile", "plain", "--require-kb",
		"--aud", v.KB.Aud, "--nonce", v.KB.Nonce, "--now", strconv.FormatInt(v.At, 10)}
	code, res, stderr := runCLI(t, v.Pres+"\n", args...)
	if code != 0 || !res.Valid {
		t.Fatalf("exit %d, %+v, %s", code, res, stderr)
	}
	got, _ := json.Marshal(res.Claims, json.Deterministic(true))
	want, _ := json.Marshal(v.Expected, json.Deterministic(true))
	var g, w any
	_ = json.Unmarshal(got, &g)
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("claims\n got %s\nwant %s", got, want)
	}
	// The SD-JWT VC profile refuses its typ (example+sd-jwt); a wrong nonce fails.
	if code, res, _ := runCLI(t, v.Pres, append(append([]string{}, args...), "--profile", "vc")...); code != 1 || res.Reason != credentials.ReasonInvalidTyp {
		t.Errorf("vc profile: exit %d, %+v", code, res)
	}
	if code, res, _ := runCLI(t, v.Pres, append(append([]string{}, args...), "--nonce", "other")...); code != 1 || res.Reason != credentials.ReasonKBNonceMismatch {
		t.Errorf("other nonce: exit %d, %+v", code, res)
	}
}

// TestVerifyPresentationVC verifies what this service issues, with the
// issuer's JWKS as published, and rejects the same presentation tampered.
func TestVerifyPresentationVC(t *testing.T) {
	issuerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	holderKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	iss := "https://wallet.example/issuers/vss"
	issuer, err := credentials.NewIssuer(iss, issuerKey, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	types, _ := credentials.NewRegistry(credentials.BuiltinTypes()...)
	ty, _ := types.ByID(credentials.HealthInsurance)
	now := time.Now()
	sdjwt, err := issuer.Issue(credentials.IssueParams{Type: ty, Holder: &holderKey.PublicKey, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
		Claims: map[string]any{"card_number": "DN4790123456789", "full_name": "Tran Thi Demo", "birth_date": "1985-02-01", "insured_from": "2026-01-01"}})
	if err != nil {
		t.Fatal(err)
	}
	pres, _ := credentials.Present(sdjwt, []string{"card_number"})
	pres, err = credentials.Bind(pres, holderKey, "verifier-1", "nonce-1", now)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := credentials.JWKS(&issuerKey.PublicKey)
	jwks := writeFile(t, "jwks.json", set)
	args := []string{"verify-presentation", "--jwks", jwks, "--iss", iss, "--require-kb", "--aud", "verifier-1", "--nonce", "nonce-1"}
	code, res, stderr := runCLI(t, pres, args...)
	if code != 0 || !res.Valid || res.VCT != ty.VCT || res.Issuer != iss || !reflect.DeepEqual(res.Disclosed, []string{"card_number"}) {
		t.Fatalf("exit %d, %+v, %s", code, res, stderr)
	}
	if _, leaked := res.Claims["full_name"]; leaked {
		t.Error("an undisclosed claim came back")
	}
	for name, tc := range map[string]struct {
		in     string
		args   []string
		reason credentials.Reason
	}{
		"other issuer pinned": {pres, append(append([]string{}, args...), "--iss", "https://evil.example"), credentials.ReasonUntrustedIssuer},
		"other vct pinned":    {pres, append(append([]string{}, args...), "--vct", "urn:other"), credentials.ReasonIssuerNotAuthorized},
		"kb stripped":         {pres[:strings.LastIndexByte(pres, '~')+1], args, credentials.ReasonKBRequired},
		"over 64 KiB":         {strings.Repeat("~", 70<<10), args, credentials.ReasonTooLarge},
		"empty input":         {"", args, credentials.ReasonMalformed},
	} {
		if code, res, _ := runCLI(t, tc.in, tc.args...); code != 1 || res.Valid || res.Reason != tc.reason {
			t.Errorf("%s: exit %d, %+v, want reason %s", name, code, res, tc.reason)
		}
	}
}

func TestVerifyPresentationUsage(t *testing.T) {
	for name, args := range map[string][]string{
		"no jwks":      {"verify-presentation"},
		"bad profile":  {"verify-presentation", "--jwks", "x", "--profile", "x"},
		"missing file": {"verify-presentation", "--jwks", filepath.Join(t.TempDir(), "none.json")},
		"bad now":      {"verify-presentation", "--jwks", "x", "--now", "yesterday"},
		"no command":   {},
		"unknown":      {"frobnicate"},
	} {
		if code, _, stderr := runCLI(t, "", args...); code != 2 || stderr == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, stderr)
		}
	}
}
