package credentials_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/credentials"
)

// Interoperability with an independent SD-JWT VC implementation, the
// OpenWallet Foundation TypeScript libraries (@sd-jwt/sd-jwt-vc,
// @sd-jwt/crypto-nodejs, @sd-jwt/jwt-status-list; versions pinned in
// testdata/interop/package.json). SPEC §1: what this service issues and
// presents must verify there, byte for byte as RFC 9901 defines, and the
// reverse. Each test runs one node process over a batch of requests (see
// testdata/interop/interop.mjs); without node or its node_modules the tests
// skip, naming the command that installs them.

const (
	interopDir       = "testdata/interop"
	interopInstall   = "npm ci --prefix credentials/testdata/interop"
	interopStatusURI = "https://wallet.example/status-lists/mps/1" // what fixture.issue references
)

// interopResponse is the union of what interop.mjs answers per request.
type interopResponse struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	// verify
	Valid            bool           `json:"valid"`
	Claims           map[string]any `json:"claims"` // also issue: the library's view of its presentation
	Header           map[string]any `json:"header"`
	KB               map[string]any `json:"kb"`
	KBHeader         map[string]any `json:"kb_header"`
	SDHashExact      string         `json:"sd_hash_exact"`
	IssuerThumbprint string         `json:"issuer_thumbprint"`
	TypeMetadata     map[string]any `json:"type_metadata"` // as the library parsed the one it was given
	// issue
	SDJWT        string `json:"sdjwt"`
	Presentation string `json:"presentation"`
	// status_decode, status_issue
	Bits     int    `json:"bits"`
	Size     int    `json:"size"`
	Statuses []int  `json:"statuses"`
	Token    string `json:"token"`
	Lst      string `json:"lst"`
}

// runInterop sends reqs to one `node interop.mjs` and returns its responses
// in order. It skips the test, never fails it, when node or the npm packages
// are missing.
func runInterop(t *testing.T, reqs []map[string]any) []interopResponse {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("interop: node not on PATH; install Node.js >= 20, then run %q from the repository root", interopInstall)
	}
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "@sd-jwt", "sd-jwt-vc", "package.json")); err != nil {
		t.Skipf("interop: npm packages not installed; run %q from the repository root", interopInstall)
	}
	in, err := json.Marshal(map[string]any{"requests": reqs}, json.Deterministic(true))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "interop.mjs")
	cmd.Dir = interopDir
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node interop.mjs: %v\n%s", err, stderr.String())
	}
	var out struct {
		Responses []interopResponse `json:"responses"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("decode interop.mjs output: %v\n%s", err, stdout.String())
	}
	if len(out.Responses) != len(reqs) {
		t.Fatalf("interop.mjs answered %d of %d requests", len(out.Responses), len(reqs))
	}
	return out.Responses
}

// interopPrivateJWK is a P-256 private key as a JWK, for the JS side to
// sign with (WebCrypto imports it).
func interopPrivateJWK(t *testing.T, k *ecdsa.PrivateKey) map[string]any {
	t.Helper()
	ek, err := k.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	pub := ek.PublicKey().Bytes() // 0x04 || X || Y
	return map[string]any{
		"kty": "EC", "crv": "P-256",
		"x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:]),
		"d": b64.EncodeToString(ek.Bytes()),
	}
}

// interopJWKS is the issuer's JWKS exactly as credentials.JWKS publishes it,
// so the JS side also checks that our JWKS imports and our kid matches.
func interopJWKS(t *testing.T, pubs ...*ecdsa.PublicKey) any {
	t.Helper()
	js, err := credentials.JWKS(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// interopNormal round-trips v through JSON so values decoded by either side
// compare with reflect.DeepEqual.
func interopNormal(t *testing.T, v any) (any, string) {
	t.Helper()
	js, err := json.Marshal(v, json.Deterministic(true))
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	return out, string(js)
}

func interopSameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, gs := interopNormal(t, got)
	w, ws := interopNormal(t, want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %s\n want %s", what, gs, ws)
	}
}

// interopStatusToken signs a 2-bit status list for interopStatusURI with the
// fixture's issuer key: index 42 (what fixture.issue references) valid,
// 43 revoked, 44 suspended.
func interopStatusToken(t *testing.T, f *fixture) string {
	t.Helper()
	list, err := credentials.NewStatusList(2, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for idx, v := range map[int]uint8{43: credentials.StatusInvalid, 44: credentials.StatusSuspended} {
		if err := list.Set(idx, v); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := credentials.SignStatusList(f.issuerKey, f.kid, credentials.StatusListToken{
		Issuer: testIss, Subject: interopStatusURI, IssuedAt: f.now.Add(-time.Minute),
		ExpiresAt: f.now.Add(time.Hour), TTL: 5 * time.Minute, List: list,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestInteropOursVerifyInSDJWTVC: credentials issued by our Issuer and
// presented with Present and Bind verify in @sd-jwt/sd-jwt-vc with key
// binding required (nonce, sd_hash and the cnf.jwk signature by the library;
// aud and iat by interop.mjs, which the library leaves to its caller), with
// the status looked up in our status list token, and the library returns the
// same processed claims as our Verify. Presentations that must fail do.
func TestInteropOursVerifyInSDJWTVC(t *testing.T) {
	f := newFixture(t)
	statusTok := interopStatusToken(t, f)
	jwks := interopJWKS(t, &f.issuerKey.PublicKey)
	verifyReq := func(pres string) map[string]any {
		return map[string]any{
			"op": "verify", "presentation": pres, "issuer_jwks": jwks,
			"status_lists": map[string]any{interopStatusURI: statusTok},
			"aud":          testAud, "nonce": testNonce, "now": f.now.Unix(),
			"max_kb_age": int64(credentials.DefaultMaxKBAge / time.Second),
		}
	}

	type accept struct {
		name string
		pres string
		ours *credentials.Verified
	}
	var accepts []accept
	for _, ty := range f.types.Types() {
		sdjwt := f.issue(t, ty.ID)
		all, err := credentials.Disclosable(sdjwt)
		if err != nil {
			t.Fatal(err)
		}
		some := map[string][]string{
			credentials.NationalID:      {"full_name", "birth_date", "age_over_18", "portrait"},
			credentials.HealthInsurance: {"card_number", "full_name", "insured_until"},
			credentials.DriverLicence:   {"full_name", "classes"}, // classes brings its element disclosures
		}[ty.ID]
		for _, c := range []struct {
			name   string
			claims []string
		}{{"none", nil}, {"some", some}, {"all", all}} {
			pres := f.present(t, sdjwt, c.claims...)
			ours, err := credentials.Verify(pres, f.trust, f.opts())
			if err != nil {
				t.Fatalf("%s/%s: our Verify: %v", ty.ID, c.name, err)
			}
			accepts = append(accepts, accept{ty.ID + "/" + c.name, pres, ours})
		}
	}

	// Values beyond ASCII: the library must decode our UTF-8 disclosures to
	// the same strings.
	nonASCII, err := f.issuer.Issue(credentials.IssueParams{
		Type: interopType(t, f, credentials.NationalID), Claims: interopUnicodeClaims(),
		Holder: &f.holderKey.PublicKey, IssuedAt: f.now.Add(-time.Hour), ExpiresAt: f.now.AddDate(1, 0, 0),
		Status: &credentials.StatusRef{Index: 42, URI: interopStatusURI},
	})
	if err != nil {
		t.Fatal(err)
	}
	pres := f.present(t, nonASCII, "full_name", "place_of_origin")
	ours, err := credentials.Verify(pres, f.trust, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	accepts = append(accepts, accept{"non-ascii values", pres, ours})

	// Presentations the library must reject, and the reason it must give.
	sdjwt := f.issue(t, credentials.NationalID)
	bind := func(pres string, key *ecdsa.PrivateKey, aud, nonce string) string {
		out, err := credentials.Bind(pres, key, aud, nonce, f.now)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	present := func(sdjwt string, claims ...string) string {
		p, err := credentials.Present(sdjwt, claims)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := bind(present(sdjwt, "full_name"), f.holderKey, testAud, testNonce)
	kbOfSmall := small[strings.LastIndexByte(small, '~')+1:]
	revoked, err := f.issuer.Issue(credentials.IssueParams{
		Type: interopType(t, f, credentials.NationalID), Claims: sampleClaims(credentials.NationalID),
		Holder: &f.holderKey.PublicKey, IssuedAt: f.now.Add(-time.Hour), ExpiresAt: f.now.AddDate(1, 0, 0),
		Status: &credentials.StatusRef{Index: 43, URI: interopStatusURI},
	})
	if err != nil {
		t.Fatal(err)
	}
	rejects := []struct {
		name, pres, want string
		ours             credentials.Reason // what our Verify says, for comparison ("" : accepts)
	}{
		{"kb for another nonce", bind(present(sdjwt, "full_name"), f.holderKey, testAud, "another-nonce"), "Invalid Nonce", credentials.ReasonKBNonceMismatch},
		{"kb for another audience", bind(present(sdjwt, "full_name"), f.holderKey, "https://other.example/verify", testNonce), "kb-jwt aud", credentials.ReasonKBAudMismatch},
		{"kb signed by another key", bind(present(sdjwt, "full_name"), newKey(t), testAud, testNonce), "Invalid JWT Signature", credentials.ReasonKBInvalid},
		{"disclosure added after kb", present(sdjwt, "full_name", "birth_date") + kbOfSmall, "Invalid sd_hash", credentials.ReasonKBSDHashMismatch},
		{"no kb", present(sdjwt, "full_name"), "Key Binding JWT not exist", credentials.ReasonKBRequired},
		{"revoked in our status list", bind(present(revoked, "full_name"), f.holderKey, testAud, testNonce), "Status is not valid", ""},
	}

	var reqs []map[string]any
	for _, a := range accepts {
		reqs = append(reqs, verifyReq(a.pres))
	}
	for _, r := range rejects {
		reqs = append(reqs, verifyReq(r.pres))
	}
	res := runInterop(t, reqs)

	for i, a := range accepts {
		t.Run(a.name, func(t *testing.T) {
			r := res[i]
			if !r.OK || !r.Valid {
				t.Fatalf("@sd-jwt/sd-jwt-vc rejects our presentation: %s", r.Error)
			}
			interopSameJSON(t, "claims (theirs vs our Verify)", r.Claims, a.ours.Claims)
			if r.Header["typ"] != credentials.TypSDJWTVC || r.Header["alg"] != "ES256" || r.Header["kid"] != f.kid {
				t.Errorf("issuer jwt header %v", r.Header)
			}
			if r.IssuerThumbprint != f.kid {
				t.Errorf("RFC 7638 thumbprint computed in JS %q, our kid %q", r.IssuerThumbprint, f.kid)
			}
			if r.KBHeader["typ"] != credentials.TypKB || r.KBHeader["alg"] != "ES256" {
				t.Errorf("kb-jwt header %v", r.KBHeader)
			}
			if want := credentials.SDHash(a.pres); r.KB["sd_hash"] != want || r.SDHashExact != want {
				t.Errorf("sd_hash: kb %v, JS over exact bytes %s, ours %s", r.KB["sd_hash"], r.SDHashExact, want)
			}
		})
	}
	for i, rj := range rejects {
		t.Run("reject/"+rj.name, func(t *testing.T) {
			r := res[len(accepts)+i]
			if r.OK {
				t.Fatal("@sd-jwt/sd-jwt-vc accepted it")
			}
			if !strings.Contains(r.Error, rj.want) {
				t.Errorf("rejected with %q, want it to mention %q", r.Error, rj.want)
			}
			_, err := credentials.Verify(rj.pres, f.trust, f.opts())
			if got := credentials.ReasonOf(err); got != rj.ours || (rj.ours == "" && err != nil) {
				t.Errorf("our Verify: %v, want reason %q", err, rj.ours)
			}
		})
	}
}

func interopType(t *testing.T, f *fixture, id string) *credentials.Type {
	t.Helper()
	ty, ok := f.types.ByID(id)
	if !ok {
		t.Fatalf("no type %s", id)
	}
	return ty
}

// TestInteropTheirsVerifyInOurs: @sd-jwt/sd-jwt-vc issues each built-in
// type with our issuer key (kid = our Thumbprint, so our TrustStore finds
// it), with decoys, selectively disclosable array elements and a claim
// nested in an element, and presents a subset with key binding; our Verify
// (ProfileVC, RequireKB, aud, nonce) accepts it and returns the claims the
// library says it disclosed. Our holder side (Present, Bind) also works on
// their credential.
func TestInteropTheirsVerifyInOurs(t *testing.T) {
	f := newFixture(t)
	iat := f.now.Add(-time.Hour)
	holderJWK := interopPrivateJWK(t, f.holderKey)

	type tcase struct {
		name    string
		typeID  string
		claims  map[string]any // nil: sampleClaims with the derived claims
		present map[string]any // presentation frame
		want    []string       // top-level claims disclosed
		cnf     map[string]any // cnf.jwk override (nil: the bare public key)
		sdIat   bool           // iat selectively disclosable, as the SD-JWT VC draft allows
	}
	cases := []tcase{
		{name: "national_id", typeID: credentials.NationalID,
			present: map[string]any{"full_name": true, "birth_date": true, "age_over_18": true},
			want:    []string{"age_over_18", "birth_date", "full_name"}},
		{name: "health_insurance", typeID: credentials.HealthInsurance,
			present: map[string]any{"card_number": true, "insured_from": true, "registered_facility": true},
			want:    []string{"card_number", "insured_from", "registered_facility"}},
		{name: "driver_licence", typeID: credentials.DriverLicence,
			// The second class only, with its selectively disclosable expiry.
			present: map[string]any{"full_name": true, "classes": map[string]any{"1": map[string]any{"expiry_date": true}}},
			want:    []string{"classes", "full_name"}},
		{name: "driver_licence/no classes", typeID: credentials.DriverLicence,
			present: map[string]any{"licence_number": true},
			want:    []string{"licence_number"}},
		{name: "nothing disclosed", typeID: credentials.HealthInsurance,
			present: map[string]any{}, want: nil},
		{name: "non-ascii values", typeID: credentials.NationalID, claims: interopUnicodeClaims(),
			present: map[string]any{"full_name": true, "place_of_origin": true},
			want:    []string{"full_name", "place_of_origin"}},
		{name: "iat disclosed", typeID: credentials.HealthInsurance, sdIat: true,
			present: map[string]any{"iat": true, "full_name": true},
			want:    []string{"full_name", "iat"}},
		// cnf.jwk the way WebCrypto exports a public key, with key_ops and ext.
		{name: "webcrypto cnf", typeID: credentials.NationalID,
			present: map[string]any{"nationality": true}, want: []string{"nationality"},
			cnf: map[string]any{
				"kty": "EC", "crv": "P-256", "x": holderJWK["x"], "y": holderJWK["y"],
				"key_ops": []any{"verify"}, "ext": true,
			}},
	}
	tops := make([][]string, len(cases)) // every top-level disclosable claim of case i
	var reqs []map[string]any
	for i, c := range cases {
		ty := interopType(t, f, c.typeID)
		if c.claims == nil {
			c.claims = sampleClaims(c.typeID)
		}
		claims, err := ty.Derive(c.claims, iat)
		if err != nil {
			t.Fatal(err)
		}
		for k := range claims {
			tops[i] = append(tops[i], k)
		}
		if c.sdIat {
			tops[i] = append(tops[i], "iat")
		}
		slices.Sort(tops[i])
		frame := map[string]any{"_sd": tops[i], "_sd_decoy": 3}
		if c.typeID == credentials.DriverLicence {
			frame["classes"] = map[string]any{
				"_sd": []any{0, 1}, "_sd_decoy": 2,
				"1": map[string]any{"_sd": []any{"expiry_date"}, "_sd_decoy": 1},
			}
		}
		req := map[string]any{
			"op": "issue", "issuer_jwk": interopPrivateJWK(t, f.issuerKey), "kid": f.kid,
			"holder_jwk": holderJWK, "iss": testIss, "vct": ty.VCT,
			"iat": iat.Unix(), "exp": f.now.AddDate(1, 0, 0).Unix(),
			"status": map[string]any{"status_list": map[string]any{"idx": 7 + i, "uri": interopStatusURI}},
			"claims": claims, "frame": frame, "presentation_frame": c.present,
			"aud": testAud, "nonce": testNonce, "kb_iat": f.now.Unix(),
		}
		if c.cnf != nil {
			req["cnf_jwk"] = c.cnf
		}
		reqs = append(reqs, req)
	}
	res := runInterop(t, reqs)

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := res[i]
			if !r.OK {
				t.Fatalf("@sd-jwt/sd-jwt-vc could not issue and present: %s", r.Error)
			}
			v, err := credentials.Verify(r.Presentation, f.trust, f.opts())
			if err != nil {
				t.Fatalf("our Verify rejects their presentation: %v\n%s", err, r.Presentation)
			}
			interopSameJSON(t, "claims (ours vs theirs)", v.Claims, r.Claims)
			if !slices.Equal(v.Disclosed, c.want) {
				t.Errorf("disclosed %v, want %v", v.Disclosed, c.want)
			}
			if v.Issuer != testIss || v.VCT != interopType(t, f, c.typeID).VCT || v.KeyID != f.kid ||
				!v.IssuedAt.Equal(iat) || v.Status == nil || v.Status.Index != 7+i || v.Status.URI != interopStatusURI {
				t.Errorf("issuer %q vct %q kid %q iat %v status %+v", v.Issuer, v.VCT, v.KeyID, v.IssuedAt, v.Status)
			}
			if v.Holder == nil || !v.Holder.Equal(&f.holderKey.PublicKey) || v.KB == nil || v.KB.Nonce != testNonce || v.KB.Aud != testAud {
				t.Errorf("holder %v kb %+v", v.Holder, v.KB)
			}
			// The library's decoys (RFC 9901 §4.2.5) were there to skip: its
			// _sd holds one digest per claim plus exactly the 3 decoys asked
			// for, and classes its 2 elements plus 2 decoys.
			_, payload, _, _ := sdParts(t, r.SDJWT)
			if sd, _ := payload["_sd"].([]any); len(sd) != len(tops[i])+3 {
				t.Errorf("%d digests in _sd, want %d claims + 3 decoys", len(sd), len(tops[i]))
			}
			if classes, ok := payload["classes"].([]any); ok && len(classes) != 4 {
				t.Errorf("classes holds %d entries, want 2 elements + 2 decoys", len(classes))
			}
			// Another nonce must fail in ours too.
			opts := f.opts()
			opts.Nonce = "another-nonce"
			if _, err := credentials.Verify(r.Presentation, f.trust, opts); credentials.ReasonOf(err) != credentials.ReasonKBNonceMismatch {
				t.Errorf("verify with another nonce: %v", err)
			}
			// Our holder side on their credential: Present every top-level
			// claim, Bind, Verify.
			ours, err := credentials.Verify(f.present(t, r.SDJWT, tops[i]...), f.trust, f.opts())
			if err != nil {
				t.Fatalf("our Present+Bind of their credential: %v", err)
			}
			if !slices.Equal(ours.Disclosed, tops[i]) {
				t.Errorf("our presentation of theirs disclosed %v, want %v", ours.Disclosed, tops[i])
			}
			// Disclosable documents "the top-level claim names".
			names, err := credentials.Disclosable(r.SDJWT)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Sort(names); !slices.Equal(names, tops[i]) {
				t.Errorf("Disclosable(their credential) = %v, want the top-level claims %v", names, tops[i])
			}
		})
	}
}

// TestInteropTheirWalletPresentsOurs: a wallet built on @sd-jwt/sd-jwt-vc
// (a companion app in JavaScript, say) holds a credential our Issuer made,
// selects claims — array elements one by one — and binds the presentation
// with the device key; our Verify accepts it with the claims the library
// says it disclosed.
func TestInteropTheirWalletPresentsOurs(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		typeID  string
		present map[string]any
		want    []string
	}{
		{credentials.NationalID, map[string]any{"full_name": true, "age_over_18": true}, []string{"age_over_18", "full_name"}},
		{credentials.HealthInsurance, map[string]any{"card_number": true}, []string{"card_number"}},
		// The first licence class only: one array-element disclosure of two.
		{credentials.DriverLicence, map[string]any{"full_name": true, "classes": map[string]any{"0": true}}, []string{"classes", "full_name"}},
		{credentials.DriverLicence, map[string]any{}, nil},
	}
	var reqs []map[string]any
	for _, c := range cases {
		reqs = append(reqs, map[string]any{
			"op": "present", "sdjwt": f.issue(t, c.typeID), "holder_jwk": interopPrivateJWK(t, f.holderKey),
			"presentation_frame": c.present, "aud": testAud, "nonce": testNonce, "kb_iat": f.now.Unix(),
		})
	}
	res := runInterop(t, reqs)
	for i, c := range cases {
		t.Run(c.typeID+"/"+strconv.Itoa(len(c.want)), func(t *testing.T) {
			r := res[i]
			if !r.OK {
				t.Fatalf("@sd-jwt/sd-jwt-vc could not present our credential: %s", r.Error)
			}
			v, err := credentials.Verify(r.Presentation, f.trust, f.opts())
			if err != nil {
				t.Fatalf("our Verify rejects their presentation of our credential: %v", err)
			}
			interopSameJSON(t, "claims (ours vs theirs)", v.Claims, r.Claims)
			if !slices.Equal(v.Disclosed, c.want) {
				t.Errorf("disclosed %v, want %v", v.Disclosed, c.want)
			}
			if classes, ok := v.Claims["classes"].([]any); ok && len(classes) != 1 {
				t.Errorf("classes %v, want the first class only", classes)
			}
		})
	}
}

// interopUnicodeClaims is an identity card whose values need more than
// ASCII: Vietnamese diacritics, a character outside the BMP (a surrogate
// pair in JavaScript), U+2028, and characters JSON encoders may escape.
func interopUnicodeClaims() map[string]any {
	c := sampleClaims(credentials.NationalID)
	c["full_name"] = "Nguyễn Văn Đệ"
	c["place_of_origin"] = "Hà Nội <&> \"quoted\" \u2028 \U0001F600 \\ /"
	return c
}

// TestInteropStatusList: a Status List Token made by SignStatusList decodes
// in @sd-jwt/jwt-status-list to the same statuses, and one made by that
// library (compressed with pako, signed with our issuer key) passes our
// VerifyStatusList and reads the same, for every allowed bits value and a
// size that does not fill its last byte.
func TestInteropStatusList(t *testing.T) {
	f := newFixture(t)
	const size = 1003
	rng := rand.New(rand.NewPCG(1, 2)) // fixed seed: the same lists every run
	type listCase struct {
		bits   int
		set    map[int]uint8
		sample []int // indices compared
	}
	var cases []listCase
	for _, bits := range []int{1, 2, 4, 8} {
		c := listCase{bits: bits, set: map[int]uint8{}, sample: []int{0, 1, 7, 8, 9, size - 1}}
		for range 40 {
			idx := rng.IntN(size)
			c.set[idx] = uint8(1 + rng.IntN(1<<bits-1))
			c.sample = append(c.sample, idx)
		}
		c.set[size-1] = uint8(1<<bits - 1) // the last entry, in the padded byte
		cases = append(cases, c)
	}

	var reqs []map[string]any
	for _, c := range cases { // ours → theirs
		list, err := credentials.NewStatusList(c.bits, size)
		if err != nil {
			t.Fatal(err)
		}
		for idx, v := range c.set {
			if err := list.Set(idx, v); err != nil {
				t.Fatal(err)
			}
		}
		tok, err := credentials.SignStatusList(f.issuerKey, f.kid, credentials.StatusListToken{
			Issuer: testIss, Subject: interopStatusURI, IssuedAt: f.now, ExpiresAt: f.now.Add(time.Hour), List: list,
		})
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, map[string]any{"op": "status_decode", "token": tok, "indices": c.sample})
	}
	for _, c := range cases { // theirs → ours
		set := map[string]any{}
		for idx, v := range c.set {
			set[strconv.Itoa(idx)] = v
		}
		reqs = append(reqs, map[string]any{
			"op": "status_issue", "issuer_jwk": interopPrivateJWK(t, f.issuerKey), "kid": f.kid,
			"bits": c.bits, "size": size, "set": set, "iss": testIss, "sub": interopStatusURI,
			"iat": f.now.Unix(), "exp": f.now.Add(time.Hour).Unix(), "ttl": 300,
		})
	}
	res := runInterop(t, reqs)

	want := func(c listCase, idx int) uint8 { return c.set[idx] }
	for i, c := range cases {
		t.Run("ours_in_theirs/bits="+strconv.Itoa(c.bits), func(t *testing.T) {
			r := res[i]
			if !r.OK {
				t.Fatalf("@sd-jwt/jwt-status-list cannot read our token: %s", r.Error)
			}
			entries := (size*c.bits + 7) / 8 * 8 / c.bits // whole bytes
			if r.Bits != c.bits || r.Size != entries {
				t.Errorf("bits %d size %d, want %d and %d", r.Bits, r.Size, c.bits, entries)
			}
			for j, idx := range c.sample {
				if got := r.Statuses[j]; got != int(want(c, idx)) {
					t.Errorf("index %d: they read %d, we wrote %d", idx, got, want(c, idx))
				}
			}
		})
	}
	for i, c := range cases {
		t.Run("theirs_in_ours/bits="+strconv.Itoa(c.bits), func(t *testing.T) {
			r := res[len(cases)+i]
			if !r.OK {
				t.Fatalf("@sd-jwt/jwt-status-list could not make a list: %s", r.Error)
			}
			tok, err := credentials.VerifyStatusList(r.Token, f.trust, interopStatusURI, f.now, 0)
			if err != nil {
				t.Fatalf("our VerifyStatusList rejects their token: %v", err)
			}
			list, err := credentials.DecodeStatusList(c.bits, r.Lst, 0)
			if err != nil {
				t.Fatalf("our DecodeStatusList rejects their lst: %v", err)
			}
			if tok.TTL != 5*time.Minute || tok.List.Bits() != c.bits || list.Len() < size {
				t.Errorf("ttl %v bits %d len %d", tok.TTL, tok.List.Bits(), list.Len())
			}
			for idx := range size {
				got, err := tok.List.Get(idx)
				if err != nil || got != want(c, idx) {
					t.Errorf("index %d: we read %d (%v), they wrote %d", idx, got, err, want(c, idx))
				}
			}
		})
	}
}
