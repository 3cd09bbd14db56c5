package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
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
	args := []string{"verify-presentation", "--jwks", jwks, "--iss", "https://issuer.example.com", "--profile", "plain", "--require-kb",
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
		"no keys":      {"verify-presentation"},
		"bad profile":  {"verify-presentation", "--jwks", "x", "--iss", "i", "--profile", "x"},
		"missing file": {"verify-presentation", "--jwks", filepath.Join(t.TempDir(), "none.json"), "--iss", "i"},
		"bad now":      {"verify-presentation", "--jwks", "x", "--iss", "i", "--now", "yesterday"},
		"empty vct":    {"verify-presentation", "--jwks", "x", "--iss", "i", "--vct", ""},
		"no command":   {},
		"unknown":      {"frobnicate"},
	} {
		if code, _, stderr := runCLI(t, "", args...); code != 2 || stderr == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, stderr)
		}
	}
}

// trustWorld is two issuers (an identity-card ministry and an insurer) with
// their own keys, a service key signing a trust list of both, and the
// files a verifier would hold.
type trustWorld struct {
	t                        *testing.T
	mpsIss, vssIss           string
	mps, vss, service, other *ecdsa.PrivateKey
	nid, hi                  string // genuine presentations
	forgedVss, forgedMps     string // the insurer's key signs a national_id as vss, and as mps
	files                    map[string]string
}

const (
	vctNID = "urn:eidwallet:vct:national_id:1"
	vctHI  = "urn:eidwallet:vct:health_insurance:1"
)

func newTrustWorld(t *testing.T) *trustWorld {
	t.Helper()
	w := &trustWorld{t: t, mpsIss: "https://wallet.example/issuers/mps", vssIss: "https://wallet.example/issuers/vss", files: map[string]string{}}
	w.mps, w.vss, w.service, w.other = newP256(t), newP256(t), newP256(t), newP256(t)
	holder := newP256(t)
	types, _ := credentials.NewRegistry(credentials.BuiltinTypes()...)
	now := time.Now()
	present := func(iss string, key *ecdsa.PrivateKey, typ string, claims map[string]any, disclose string) string {
		is, err := credentials.NewIssuer(iss, key, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ty, _ := types.ByID(typ)
		sdjwt, err := is.Issue(credentials.IssueParams{Type: ty, Holder: &holder.PublicKey, IssuedAt: now, ExpiresAt: now.Add(time.Hour), Claims: claims})
		if err != nil {
			t.Fatal(err)
		}
		pres, err := credentials.Present(sdjwt, []string{disclose})
		if err != nil {
			t.Fatal(err)
		}
		return pres
	}
	w.nid = present(w.mpsIss, w.mps, credentials.NationalID, claimsA["national_id"], "full_name")
	w.hi = present(w.vssIss, w.vss, credentials.HealthInsurance, claimsA["health_insurance"], "card_number")
	w.forgedVss = present(w.vssIss, w.vss, credentials.NationalID, claimsA["national_id"], "full_name")
	w.forgedMps = present(w.mpsIss, w.vss, credentials.NationalID, claimsA["national_id"], "full_name")

	jwks := func(keys ...*ecdsa.PrivateKey) []byte {
		var pubs []*ecdsa.PublicKey
		for _, k := range keys {
			pubs = append(pubs, &k.PublicKey)
		}
		set, err := credentials.JWKS(pubs...)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	meta := func(iss string, key *ecdsa.PrivateKey) []byte {
		return []byte(`{"issuer":"` + iss + `","jwks":` + string(jwks(key)) + `}`)
	}
	list := credentials.TrustList{Issuer: "https://wallet.example", IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		Issuers: []credentials.TrustedIssuer{
			{ID: "mps", Issuer: w.mpsIss, Name: "Ministry", Keys: keyMap(t, w.mps), VCT: []string{vctNID}},
			{ID: "vss", Issuer: w.vssIss, Name: "Insurer", Keys: keyMap(t, w.vss), VCT: []string{vctHI}},
		}}
	good := w.signList(w.service, list)
	flipped := []byte(good)
	flipped[strings.IndexByte(good, '.')+10] ^= 1 // in the payload: the signature no longer verifies
	expired := list
	expired.IssuedAt, expired.ExpiresAt = now.Add(-25*time.Hour), now.Add(-time.Hour)
	for name, data := range map[string][]byte{
		"merged.jwks":   jwks(w.mps, w.vss),
		"mps.json":      meta(w.mpsIss, w.mps),
		"vss.json":      meta(w.vssIss, w.vss),
		"service.jwks":  jwks(w.service),
		"trust.jwt":     []byte(good + "\n"),
		"flipped.jwt":   flipped,
		"expired.jwt":   []byte(w.signList(w.service, expired)),
		"other-key.jwt": []byte(w.signList(w.other, list)),
		"dup.json":      []byte(`{"issuer":"` + w.mpsIss + `","issuer":"` + w.vssIss + `","jwks":` + string(jwks(w.vss)) + `}`),
		"dup-jwk.json":  []byte(`{"issuer":"` + w.vssIss + `","jwks":{"keys":[{"kty":"EC","kty":"EC"}]}}`),
		"uri.json":      []byte(`{"issuer":"` + w.vssIss + `","jwks_uri":"https://wallet.example/issuers/vss/jwks.json"}`),
		"big.json":      append(meta(w.vssIss, w.vss), bytes.Repeat([]byte(" "), 64<<10)...),
	} {
		w.files[name] = writeFile(t, name, data)
	}
	return w
}

func newP256(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyMap(t *testing.T, k *ecdsa.PrivateKey) map[string]*ecdsa.PublicKey {
	t.Helper()
	kid, err := credentials.Thumbprint(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*ecdsa.PublicKey{kid: &k.PublicKey}
}

func (w *trustWorld) signList(key *ecdsa.PrivateKey, l credentials.TrustList) string {
	w.t.Helper()
	kid, _ := credentials.Thumbprint(&key.PublicKey)
	tok, err := credentials.SignTrustList(key, kid, l)
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

// args expands file names of the world into their paths.
func (w *trustWorld) args(args ...string) []string {
	out := []string{"verify-presentation"}
	for _, a := range args {
		if p, ok := w.files[a]; ok {
			a = p
		}
		out = append(out, a)
	}
	return out
}

// TestVerifyPresentationBindsKeysToIssuers: offline, each key is trusted
// for its own issuer and each issuer for its own types only, whichever way
// the keys are given (THREATS T4, T37). The insurer's key signing a
// national_id is invalid: issuer_not_authorized_for_type under its own
// iss, untrusted_issuer under the ministry's. Trust inputs that cannot be
// used (a merged key set with no issuer named, a trust list that does not
// verify, is expired or is signed by another key) are refused with exit 2
// before anything is verified.
func TestVerifyPresentationBindsKeysToIssuers(t *testing.T) {
	w := newTrustWorld(t)
	byIssuer := []string{"--issuer", "mps.json", "--vct", vctNID, "--issuer", "vss.json", "--vct", vctHI}
	byList := []string{"--trust", "trust.jwt", "--trust-jwks", "service.jwks"}
	for _, tc := range []struct {
		name   string
		args   []string
		pres   string
		exit   int
		reason credentials.Reason
		vct    string
	}{
		{"merged jwks without --iss", []string{"--jwks", "merged.jwks"}, w.forgedVss, exitUsage, "", ""},
		{"merged jwks as the insurer's, national_id", []string{"--jwks", "merged.jwks", "--iss", w.vssIss, "--vct", vctHI}, w.forgedVss, exitInvalid, credentials.ReasonIssuerNotAuthorized, ""},
		{"merged jwks as the insurer's, its own card", []string{"--jwks", "merged.jwks", "--iss", w.vssIss, "--vct", vctHI}, w.hi, exitOK, "", vctHI},
		{"merged jwks as the insurer's, the ministry's card", []string{"--jwks", "merged.jwks", "--iss", w.vssIss}, w.nid, exitInvalid, credentials.ReasonUntrustedIssuer, ""},

		{"issuers: insurer key, national_id as vss", byIssuer, w.forgedVss, exitInvalid, credentials.ReasonIssuerNotAuthorized, ""},
		{"issuers: insurer key, national_id as mps", byIssuer, w.forgedMps, exitInvalid, credentials.ReasonUntrustedIssuer, ""},
		{"issuers: the ministry's identity card", byIssuer, w.nid, exitOK, "", vctNID},
		{"issuers: the insurer's card", byIssuer, w.hi, exitOK, "", vctHI},
		{"issuers: the ministry trusted for the insurer's type only", []string{"--issuer", "mps.json", "--vct", vctHI, "--issuer", "vss.json", "--vct", vctHI}, w.nid, exitInvalid, credentials.ReasonIssuerNotAuthorized, ""},
		{"issuers without --vct", []string{"--issuer", "mps.json", "--issuer", "vss.json"}, w.nid, exitUsage, "", ""},
		{"--vct before any --issuer", []string{"--vct", vctNID, "--issuer", "mps.json"}, w.nid, exitUsage, "", ""},
		{"one issuer in two files", []string{"--issuer", "mps.json", "--vct", vctNID, "--issuer", "mps.json", "--vct", vctHI}, w.nid, exitUsage, "", ""},
		{"metadata with a repeated member", []string{"--issuer", "dup.json", "--vct", vctHI}, w.hi, exitUsage, "", ""},
		{"metadata with a repeated member inside a key", []string{"--issuer", "dup-jwk.json", "--vct", vctHI}, w.hi, exitUsage, "", ""},
		{"metadata with jwks_uri only", []string{"--issuer", "uri.json", "--vct", vctHI}, w.hi, exitUsage, "", ""},
		{"metadata over 64 KiB", []string{"--issuer", "big.json", "--vct", vctHI}, w.hi, exitUsage, "", ""},
		{"--iss with --issuer", append([]string{"--iss", w.mpsIss}, byIssuer...), w.nid, exitUsage, "", ""},

		{"trust list: insurer key, national_id as vss", byList, w.forgedVss, exitInvalid, credentials.ReasonIssuerNotAuthorized, ""},
		{"trust list: insurer key, national_id as mps", byList, w.forgedMps, exitInvalid, credentials.ReasonUntrustedIssuer, ""},
		{"trust list: the ministry's identity card", byList, w.nid, exitOK, "", vctNID},
		{"trust list: the insurer's card", byList, w.hi, exitOK, "", vctHI},
		{"trust list narrowed by --vct", append([]string{"--vct", vctHI}, byList...), w.nid, exitInvalid, credentials.ReasonIssuerNotAuthorized, ""},
		{"trust list with a flipped byte", []string{"--trust", "flipped.jwt", "--trust-jwks", "service.jwks"}, w.nid, exitUsage, "", ""},
		{"trust list expired", []string{"--trust", "expired.jwt", "--trust-jwks", "service.jwks"}, w.nid, exitUsage, "", ""},
		{"trust list signed by another key", []string{"--trust", "other-key.jwt", "--trust-jwks", "service.jwks"}, w.nid, exitUsage, "", ""},
		{"trust list checked with an issuer's keys", []string{"--trust", "trust.jwt", "--trust-jwks", "merged.jwks"}, w.nid, exitUsage, "", ""},
		{"trust list without its key set", []string{"--trust", "trust.jwt"}, w.nid, exitUsage, "", ""},
		{"trust key set without a list", []string{"--trust-jwks", "service.jwks", "--jwks", "merged.jwks", "--iss", w.mpsIss}, w.nid, exitUsage, "", ""},
		{"trust list and issuers at once", append(byIssuer, byList...), w.nid, exitUsage, "", ""},
	} {
		code, res, stderr := runCLI(t, tc.pres, w.args(tc.args...)...)
		switch {
		case code != tc.exit:
			t.Errorf("%s: exit %d, want %d: %+v %s", tc.name, code, tc.exit, res, stderr)
		case tc.exit == exitUsage && (stderr == "" || !reflect.DeepEqual(res, verifyResult{})):
			t.Errorf("%s: a refused trust input must say why and verify nothing: %+v %q", tc.name, res, stderr)
		case tc.exit != exitUsage && (res.Valid != (tc.exit == exitOK) || res.Reason != tc.reason || res.VCT != tc.vct):
			t.Errorf("%s: %+v, want reason %q vct %q", tc.name, res, tc.reason, tc.vct)
		}
	}
}

// TestVerifyPresentationOfflineOverHTTP fetches what the running service
// publishes (the signed trust list, its key set, each issuer's metadata),
// as a verifier preparing to work offline would, and checks the
// presentations of a real /v1/verify answer with them through the command
// line: valid with the trust list and with the metadata, invalid when the
// types are bound to the wrong issuers, and a trust list past its exp is
// refused (THREATS T37).
func TestVerifyPresentationOfflineOverHTTP(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, &syncBuffer{})
	defer srv.stop()
	e := &e2e{t: t, ctx: context.Background(), c: client.New(srv.url), dataDir: dataDir}
	e.setup()
	sh := e.share(api.ShareRequest{Items: []api.ShareRequestItem{
		{CredentialID: e.credsA["national_id"], Claims: []string{"full_name"}},
		{CredentialID: e.credsA["health_insurance"], Claims: []string{"card_number"}},
	}})
	res, err := e.s1.Verify(e.ctx, sh.QRText)
	if err != nil || res.Result != "valid" || len(res.Documents) != 2 {
		t.Fatalf("verify: %+v %v", res, err)
	}

	dir := t.TempDir()
	fetch := func(path, contentType string) string {
		t.Helper()
		resp, err := http.Get(srv.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != contentType ||
			resp.Header.Get("Cache-Control") != "public, max-age=300" {
			t.Fatalf("GET %s: %d %v %s", path, resp.StatusCode, resp.Header, body)
		}
		file := filepath.Join(dir, strings.ReplaceAll(strings.Trim(path, "/"), "/", "_"))
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	trust := fetch("/trust-list", "application/trust-list+jwt")
	service := fetch("/.well-known/jwks.json", "application/jwk-set+json")
	mps := fetch("/.well-known/jwt-vc-issuer/issuers/mps", "application/json")
	vss := fetch("/.well-known/jwt-vc-issuer/issuers/vss", "application/json")
	vcts := map[string]string{"national_id": vctNID, "health_insurance": vctHI}

	for _, doc := range res.Documents {
		kb := []string{"--require-kb", "--aud", doc.KeyBinding.Aud, "--nonce", doc.KeyBinding.Nonce}
		for _, tc := range []struct {
			name   string
			args   []string
			exit   int
			reason credentials.Reason
		}{
			{"the service's trust list", []string{"--trust", trust, "--trust-jwks", service}, exitOK, ""},
			{"issuer metadata", []string{"--issuer", mps, "--vct", vctNID, "--issuer", vss, "--vct", vctHI}, exitOK, ""},
			{"types bound to the wrong issuers", []string{"--issuer", mps, "--vct", vctHI, "--issuer", vss, "--vct", vctNID}, exitInvalid, credentials.ReasonIssuerNotAuthorized},
			{"the trust list a day later", []string{"--trust", trust, "--trust-jwks", service, "--now", strconv.FormatInt(time.Now().Add(25*time.Hour).Unix(), 10)}, exitUsage, ""},
		} {
			args := append(append([]string{"verify-presentation"}, tc.args...), kb...)
			code, got, stderr := runCLI(t, doc.Presentation, args...)
			if code != tc.exit || got.Reason != tc.reason {
				t.Errorf("%s, %s: exit %d %+v %s, want exit %d reason %q", doc.Type, tc.name, code, got, stderr, tc.exit, tc.reason)
				continue
			}
			if code == exitOK && (!got.Valid || got.VCT != vcts[doc.Type] || got.Issuer != srv.url+"/issuers/"+doc.Issuer.ID ||
				!reflect.DeepEqual(got.Disclosed, keys(doc.Claims))) {
				t.Errorf("%s, %s: %+v", doc.Type, tc.name, got)
			}
		}
	}
}
