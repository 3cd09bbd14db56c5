package server_test

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/qr"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// TestStatusListRoute fetches the issuer's JWKS and status list through
// the API, as an outside verifier would, and checks the token with
// credentials.VerifyStatusList against those keys: valid, then revoked
// after the issuer revokes (SPEC §3.5).
func TestStatusListRoute(t *testing.T) {
	h := newHarness(t)
	w := h.setup()

	resp := h.request("GET", "/issuers/vss/jwks.json", "", "", nil)
	jwks := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jwk-set+json" ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
		t.Fatalf("jwks: %d %v", resp.StatusCode, resp.Header)
	}
	keys := must(credentials.ParseJWKS(jwks))
	trust := credentials.NewTrustStore()
	trust.AddIssuer(h.svc.IssuerURL("vss"), keys, "urn:eidwallet:vct:health_insurance:1")

	var meta struct {
		Issuer string         `json:"issuer"`
		JWKS   jsontext.Value `json:"jwks"`
	}
	h.call("GET", "/.well-known/jwt-vc-issuer/issuers/vss", "", nil, 200, &meta)
	if meta.Issuer != h.svc.IssuerURL("vss") || len(must(credentials.ParseJWKS(meta.JWKS))) != len(keys) {
		t.Fatalf("issuer metadata: %+v", meta)
	}

	u := must(url.Parse(w.credential.StatusList))
	check := func(want uint8) {
		t.Helper()
		resp := h.request("GET", u.Path, "", "", nil)
		token := string(readAll(t, resp))
		if resp.StatusCode != 200 {
			t.Fatalf("status list: %d %s", resp.StatusCode, token)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/statuslist+jwt" {
			t.Errorf("Content-Type %q", ct)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
			t.Errorf("Cache-Control %q, want public, max-age=300 (the token's ttl)", cc)
		}
		tok, err := credentials.VerifyStatusList(token, trust, w.credential.StatusList, h.clock.Now(), 0)
		if err != nil {
			t.Fatalf("verify status list: %v", err)
		}
		if tok.TTL.Seconds() != 300 {
			t.Errorf("ttl %v", tok.TTL)
		}
		if got := must(tok.List.Get(w.credential.StatusIndex)); got != want {
			t.Errorf("status of index %d: %d, want %d", w.credential.StatusIndex, got, want)
		}
	}
	check(credentials.StatusValid)
	gzipped(t, h.url+u.Path)
	h.call("POST", "/v1/issuer/credentials/"+w.credential.CredentialID+"/status", w.issuerKey,
		api.StatusRequest{Status: "revoked", Reason: "card lost"}, 200, nil)
	check(credentials.StatusInvalid)

	for _, bad := range []string{"/status-lists/vss/0", "/status-lists/vss/-1", "/status-lists/vss/01", "/status-lists/vss/one"} {
		wantError(t, h.request("GET", bad, "", "", nil), 400, "invalid_request")
	}
	wantError(t, h.request("GET", "/status-lists/vss/2", "", "", nil), 404, "not_found")
	wantError(t, h.request("GET", "/status-lists/nope/1", "", "", nil), 404, "not_found")
	resp = h.request("GET", "/issuers/nope/jwks.json", "", "", nil)
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("an error answer is cacheable: %q", cc)
	}
	wantError(t, resp, 404, "not_found")
}

// gzipped checks that the status list token at url is gzipped for a
// client that accepts it (Token Status List §8.2, RFC 9110 §12.5.3), with
// an ETag of its own, and sent as it is to one that does not.
func gzipped(t *testing.T, url string) {
	t.Helper()
	get := func(acceptEncoding, ifNoneMatch string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Accept-Encoding", acceptEncoding) // set: the transport then leaves the body as sent
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp, readAll(t, resp)
	}
	plain, token := get("identity", "")
	if plain.Header.Get("Content-Encoding") != "" || !strings.Contains(plain.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("identity: Content-Encoding %q, Vary %q", plain.Header.Get("Content-Encoding"), plain.Header.Get("Vary"))
	}
	for _, ae := range []string{"gzip", "br;q=1.0, gzip;q=0.5", "*", "x-gzip"} {
		resp, body := get(ae, "")
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want gzip", ae, resp.Header.Get("Content-Encoding"))
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(zr); err != nil || string(got) != string(token) {
			t.Errorf("Accept-Encoding %q: the gzip body is not the token (%v)", ae, err)
		}
		etag := resp.Header.Get("ETag")
		if etag == plain.Header.Get("ETag") || etag == "" {
			t.Errorf("gzip ETag %q, identity %q: one representation each", etag, plain.Header.Get("ETag"))
		}
		if again, _ := get(ae, etag); again.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match of the gzip ETag: %d, want 304", again.StatusCode)
		}
	}
	for _, ae := range []string{"gzip;q=0", "gzip;Q=0", "gzip;x=1;q=0", "gzip; q=0.0", "gzip;q=0, *", "br", "*;q=0"} {
		if resp, _ := get(ae, ""); resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want none", ae, resp.Header.Get("Content-Encoding"))
		}
	}
}

// TestShareQR renders an approved share as PNG and SVG of the asked size.
func TestShareQR(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	id, _ := w.share(h, "full_name")
	for _, size := range []int{64, 300, 1024} {
		resp := h.request("GET", "/v1/me/shares/"+id+"/qr.png?size="+strconv.Itoa(size), w.token, "", nil)
		body := readAll(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("qr.png: %d %v", resp.StatusCode, resp.Header)
		}
		img, err := png.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Errorf("image %v, want %d×%d", b, size, size)
		}
	}
	resp := h.request("GET", "/v1/me/shares/"+id+"/qr.png", w.token, "", nil)
	img := must(png.Decode(bytes.NewReader(readAll(t, resp))))
	if img.Bounds().Dx() != qr.DefaultSize {
		t.Errorf("default size %d", img.Bounds().Dx())
	}
	resp = h.request("GET", "/v1/me/shares/"+id+"/qr.svg?size=200", w.token, "", nil)
	svg := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !bytes.Contains(svg, []byte("<svg")) {
		t.Fatalf("qr.svg: %d %v %.80s", resp.StatusCode, resp.Header, svg)
	}
	for _, bad := range []string{"63", "1025", "0", "-5", "abc", "256px", ""} {
		wantError(t, h.request("GET", "/v1/me/shares/"+id+"/qr.png?size="+bad, w.token, "", nil), 400, "invalid_request")
	}
	// A share not yet approved has no QR code.
	var created api.ShareCreated
	h.call("POST", "/v1/me/shares", w.token, api.ShareRequest{
		Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: []string{"full_name"}}}}, 201, &created)
	wantError(t, h.request("GET", "/v1/me/shares/"+created.ShareID+"/qr.svg", w.token, "", nil), 409, "conflict")
}

// TestProbesAndMetrics: healthz always, readyz while the store answers,
// metrics in the Prometheus text format with request counts by route
// pattern, the OpenAPI document as JSON.
func TestProbesAndMetrics(t *testing.T) {
	h := newHarness(t)
	h.call("GET", "/healthz", "", nil, 200, nil)
	h.call("GET", "/readyz", "", nil, 200, nil)
	h.request("GET", "/v1/me/shares/shr_abc", "", "", nil).Body.Close()
	resp := h.request("GET", "/metrics", "", "", nil)
	body := string(readAll(t, resp))
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("metrics Content-Type %q", resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`eidwallet_http_requests_total{code="200",method="GET",route="/healthz"} 1`,
		`eidwallet_http_requests_total{code="401",method="GET",route="/v1/me/shares/:id"} 1`,
		`eidwallet_http_request_duration_seconds_bucket{method="GET",route="/readyz",le="+Inf"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	var doc map[string]any
	h.call("GET", "/openapi.json", "", nil, 200, &doc)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi %v", doc["openapi"])
	}
}

// TestSecurityHeaders: every answer has nosniff, a strict CSP and a
// request id; /v1/ answers are no-store; over TLS, and only over TLS,
// Strict-Transport-Security (RFC 6797 §7.1, §7.2), the staff page too.
func TestSecurityHeaders(t *testing.T) {
	plain := newHarness(t)
	cert, _ := localhostCert(t)
	overTLS := startHarness(t, servicetest.Open(t), cert)
	for _, h := range []*harness{plain, overTLS} {
		w := h.setup()
		for _, c := range []struct{ path, bearer string }{
			{"/healthz", ""}, {"/v1/me/credentials", w.token}, {"/v1/me/credentials", ""}, {"/nope", ""}, {"/issuers/vss/jwks.json", ""}, {"/verify", ""},
		} {
			resp := h.request("GET", c.path, c.bearer, "", nil)
			resp.Body.Close()
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
				!strings.HasPrefix(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
				len(resp.Header.Get("X-Request-Id")) < 16 {
				t.Errorf("%s: headers %v", c.path, resp.Header)
			}
			if strings.HasPrefix(c.path, "/v1/") && resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Cache-Control %q", c.path, resp.Header.Get("Cache-Control"))
			}
			want := ""
			if h == overTLS {
				want = "max-age=31536000"
			}
			if got := resp.Header.Get("Strict-Transport-Security"); got != want {
				t.Errorf("%s (TLS %v): Strict-Transport-Security %q, want %q", c.path, resp.TLS != nil, got, want)
			}
		}
	}
}

// TestLogs: one line per request with route, status, request id and the
// caller's ids; nothing of what THREATS T28 forbids: no tokens, keys,
// codes, claim values, nonces or query strings.
func TestLogs(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	_, qrText := w.share(h, "full_name", "card_number")
	var vr api.VerifyResponse
	h.call("POST", "/v1/verify", w.verifierKey, api.VerifyRequest{QR: qrText}, 200, &vr)
	h.call("GET", "/v1/me/activity?export=1", w.token, nil, 200, nil)
	const uriToken = "LOGGEDNOWHERE7QX2ZKD5MWJ3A" // the secret of an OpenID4VP request or response URI
	h.request("GET", "/oid4vp/requests/"+uriToken, "", "", nil)
	h.request("POST", "/oid4vp/responses/"+uriToken, "", "application/x-www-form-urlencoded", []byte("error=access_denied"))
	logs := h.logs.String()

	found := false
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "request" && rec["route"] == "/v1/verify" {
			found = true
			if rec["status"] != float64(200) || rec["role"] != "verifier" || rec["subject"] != w.verifierID || rec["request_id"] == "" {
				t.Errorf("verify log line %v", rec)
			}
		}
	}
	if !found {
		t.Fatal("no request line for /v1/verify")
	}
	secrets := map[string]string{
		"access token": w.token, "issuer key": w.issuerKey, "verifier key": w.verifierKey, "admin key": h.admin,
		"full name": testFullName, "card number": testCard, "citizen id": testCitizen, "qr token": strings.TrimPrefix(qrText, "EID1:"),
		"nonce": vr.Documents[0].KeyBinding.Nonce, "jwt": "eyJ", "query": "export=1", "request uri token": uriToken,
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs carry the %s", what)
		}
	}
}

// TestEnrolmentCodeAsTyped: an activation code enrols however the citizen
// types it (case, spaces, hyphens, I/L for 1, O for 0); a mistyped one is
// the very answer of an unknown one, byte for byte (THREATS T20).
func TestEnrolmentCodeAsTyped(t *testing.T) {
	h := newHarness(t)
	const citizen = "001090000401"
	enrol := func(code string) *http.Response {
		t.Helper()
		key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		jwk := must(json.Marshal(must(credentials.PublicJWK(&key.PublicKey))))
		return h.request("POST", "/v1/enrollments", "", "application/json", mustJSON(t, api.EnrollRequest{
			CitizenID: citizen, ActivationCode: code, DeviceKey: jwk, DeviceName: "phone"}))
	}
	var code api.ActivationCodeResponse
	h.call("POST", "/v1/admin/activation-codes", h.admin, api.ActivationCodeRequest{CitizenID: citizen}, 201, &code)
	// The code as the OpenAPI describes it: a client that validates takes it.
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Pattern string `json:"pattern"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	h.call("GET", "/openapi.json", "", nil, 200, &doc)
	if p := doc.Components.Schemas["ActivationCodeResponse"].Properties["code"].Pattern; p == "" || !regexp.MustCompile(p).MatchString(code.Code) {
		t.Errorf("the code %s does not match the OpenAPI's pattern %q", code.Code, p)
	}
	typed := strings.ToLower(strings.ReplaceAll(code.Code, "-", " "))
	typed = strings.NewReplacer("1", "l", "0", "o").Replace(typed)
	if resp := enrol(typed); resp.StatusCode != 201 {
		t.Fatalf("enrol with %q for %s: %d %s", typed, code.Code, resp.StatusCode, readAll(t, resp))
	}

	h.call("POST", "/v1/admin/activation-codes", h.admin, api.ActivationCodeRequest{CitizenID: citizen}, 201, &code)
	// The same code with another check symbol: a typo the check catches.
	const check = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U"
	last := len(code.Code) - 1
	wrong := code.Code[:last] + string(check[(strings.Index(check, code.Code[last:])+1)%len(check)])
	unknownResp := enrol("0000-0000-0000-0000-0000-0000-000")
	unknown := readAll(t, unknownResp)
	if unknownResp.StatusCode != 401 {
		t.Fatalf("an unknown code: %d %s", unknownResp.StatusCode, unknown)
	}
	for name, c := range map[string]string{"mistyped": wrong, "too short": code.Code[:28], "the 80-bit format": "7K3Q-9XWD-2MZA-H4PN-T", "the old format": "mfrggzdfmztwq2lknnwg23tpobyxe43u"} {
		resp := enrol(c)
		if body := readAll(t, resp); resp.StatusCode != 401 || !bytes.Equal(body, unknown) {
			t.Errorf("%s code %q: %d %s, want the unknown code's 401 %s", name, c, resp.StatusCode, body, unknown)
		}
	}
	// The code is still good: the refusals did not touch it.
	if resp := enrol(code.Code); resp.StatusCode != 201 {
		t.Fatalf("enrol with %s after the refusals: %d %s", code.Code, resp.StatusCode, readAll(t, resp))
	}
}

// TestIssuerMetadataUnderAPublicPath (SD-JWT VC §5.1): with a public URL
// of a path, iss is under that path, and its metadata is where a verifier
// looks for it: the well-known string between the host and iss's path.
func TestIssuerMetadataUnderAPublicPath(t *testing.T) {
	svc, _ := servicetest.New(t, wallet.Config{PublicURL: "https://wallet.example/eid"})
	admin := &wallet.Principal{Role: api.RoleAdmin, Subject: "admin"}
	if _, err := svc.CreateIssuer(t.Context(), admin, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{credentials.NationalID}}); err != nil {
		t.Fatal(err)
	}
	handler := server.New(server.Config{Service: svc})
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/jwt-vc-issuer/eid/issuers/mps", nil))
	var meta struct {
		Issuer string `json:"issuer"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &meta) != nil || meta.Issuer != "https://wallet.example/eid/issuers/mps" {
		t.Fatalf("metadata: %d %s", rec.Code, rec.Body)
	}
}
