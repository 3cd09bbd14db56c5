package server_test

import (
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/openid4vp"
	"github.com/eidwallet/eidwallet/wallet"
)

// A wallet written here from OpenID4VP 1.0 alone drives the verifier side
// (issue 11) over HTTP; the Node interop test (openid4vp_interop_test.go)
// does the same with independent implementations.

// oid4vpWallet is the holder of the world's credential acting as a
// standard wallet: its exported SD-JWT VC and the device key it is bound
// to.
type oid4vpWallet struct {
	h     *harness
	sdjwt string
	key   *ecdsa.PrivateKey
}

func (w *world) oid4vpWallet(h *harness) *oid4vpWallet {
	h.t.Helper()
	var exp api.CredentialExport
	h.call("POST", "/v1/me/credentials/"+w.credential.CredentialID+"/export", w.token, nil, 200, &exp)
	if exp.CredentialID != w.credential.CredentialID || exp.Type != credentials.HealthInsurance || !strings.HasSuffix(exp.SDJWT, "~") {
		h.t.Fatalf("export: %+v", exp)
	}
	return &oid4vpWallet{h: h, sdjwt: exp.SDJWT, key: w.device}
}

// path turns a URL of the service's public URL into a path of the test
// server.
func (ow *oid4vpWallet) path(u string) string {
	ow.h.t.Helper()
	if !strings.HasPrefix(u, ow.h.public+"/") {
		ow.h.t.Fatalf("URL %q is not the service's", u)
	}
	return strings.TrimPrefix(u, ow.h.public)
}

// resolved is a request object as the wallet verified it.
type resolved struct {
	clientID string
	obj      openid4vp.RequestObject
	leaf     *x509.Certificate
}

// resolve follows a link as §5.10 says: POST to the request URI with a
// wallet nonce, then the request object checked: typ, client_id the
// link's, the x5c chain up to the service's verifier CA, the signature
// with the leaf key, the client identifier rule of its prefix, the
// wallet_nonce echoed.
func (ow *oid4vpWallet) resolve(link string) *resolved {
	t := ow.h.t
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Scheme != openid4vp.SchemeOpenID4VP {
		t.Fatalf("link %q", link)
	}
	q := u.Query()
	if q.Get("request_uri_method") != "post" {
		t.Fatalf("link without request_uri_method=post: %s", link)
	}
	nonce := "wn-" + base64.RawURLEncoding.EncodeToString(must(randomBytes(16)))
	resp := ow.h.request("POST", ow.path(q.Get("request_uri")), "", "application/x-www-form-urlencoded",
		[]byte(url.Values{"wallet_nonce": {nonce}, "wallet_metadata": {`{"vp_formats_supported":{"dc+sd-jwt":{}}}`}}.Encode()))
	raw := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != openid4vp.MediaTypeRequestObject {
		t.Fatalf("request object: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 {
		t.Fatalf("request object is not a JWS: %s", raw)
	}
	var hdr struct {
		Alg string   `json:"alg"`
		Typ string   `json:"typ"`
		X5C []string `json:"x5c"`
	}
	var r resolved
	r.clientID = q.Get("client_id")
	if err := json.Unmarshal(must(base64.RawURLEncoding.DecodeString(parts[0])), &hdr); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(must(base64.RawURLEncoding.DecodeString(parts[1])), &r.obj); err != nil {
		t.Fatal(err)
	}
	// A time the service does not set is absent (RFC 9101 §4, RFC 7519
	// §4.1.5): "nbf": 0 would say "since 1970".
	if strings.Contains(string(must(base64.RawURLEncoding.DecodeString(parts[1]))), `"nbf"`) {
		t.Errorf("request object carries an nbf the service never set")
	}
	if hdr.Typ != openid4vp.TypRequestObject || r.obj.ClientID != r.clientID || r.obj.WalletNonce != nonce ||
		!slices.Equal(r.obj.Aud, openid4vp.Audience{openid4vp.StaticAudience}) || r.obj.ResponseType != "vp_token" || len(r.obj.Nonce) < 22 || r.obj.State == "" {
		t.Fatalf("request object: header %+v payload %+v", hdr, r.obj)
	}
	prefix, value := openid4vp.ClientIDPrefix(r.clientID)
	if prefix == openid4vp.PrefixRedirectURI {
		if hdr.Alg != "none" || parts[2] != "" || value != r.obj.ResponseURI || r.obj.Iss != "" {
			t.Fatalf("redirect_uri request: alg %s, client id value %s, response_uri %s, iss %q", hdr.Alg, value, r.obj.ResponseURI, r.obj.Iss)
		}
		return &r
	}
	// The chain: the leaf alone, issued by the service's CA, which is the
	// wallet's trust anchor and so not in x5c (HAIP 1.0 §5).
	var caPEM []byte
	resp = ow.h.request("GET", "/oid4vp/ca.pem", "", "", nil)
	if caPEM = readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("ca.pem: %d", resp.StatusCode)
	}
	block, _ := pem.Decode(caPEM)
	roots := x509.NewCertPool()
	roots.AddCert(must(x509.ParseCertificate(block.Bytes)))
	if hdr.Alg != "ES256" || len(hdr.X5C) != 1 || r.obj.Iss != r.clientID { // RFC 9101 §4: iss the client_id
		t.Fatalf("header %+v, iss %q", hdr, r.obj.Iss)
	}
	leafDER := must(base64.StdEncoding.DecodeString(hdr.X5C[0]))
	r.leaf = must(x509.ParseCertificate(leafDER))
	if _, err := r.leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: ow.h.clock.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("x5c chain: %v", err)
	}
	sig := must(base64.RawURLEncoding.DecodeString(parts[2]))
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	pub := r.leaf.PublicKey.(*ecdsa.PublicKey)
	if len(sig) != 64 || !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("request object signature does not verify with the leaf key")
	}
	switch prefix {
	case openid4vp.PrefixX509SANDNS:
		ru, _ := url.Parse(r.obj.ResponseURI)
		if !slices.Contains(r.leaf.DNSNames, value) || ru.Hostname() != value {
			t.Fatalf("x509_san_dns %s: SANs %v, response_uri %s", value, r.leaf.DNSNames, r.obj.ResponseURI)
		}
	case openid4vp.PrefixX509Hash:
		sum := sha256.Sum256(leafDER)
		if value != base64.RawURLEncoding.EncodeToString(sum[:]) {
			t.Fatalf("x509_hash %s is not the leaf's", value)
		}
	default:
		t.Fatalf("client id %s", r.clientID)
	}
	return &r
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := rand.Read(b)
	return b, err
}

// answerOpts are the defects a test asks of the wallet.
type answerOpts struct {
	aud, nonce, state, queryID string
	iat                        time.Time
	claims                     []string
	encryptTo                  *ecdsa.PublicKey // another key than the request's
	tamperSDHash               bool
}

// presentation makes the SD-JWT+KB answering r with opts' defects.
func (ow *oid4vpWallet) presentation(r *resolved, o answerOpts) string {
	t := ow.h.t
	t.Helper()
	pres := must(credentials.Present(ow.sdjwt, cmpOrSlice(o.claims, []string{"full_name"})))
	aud, nonce, iat := cmp.Or(o.aud, r.clientID), cmp.Or(o.nonce, r.obj.Nonce), o.iat
	if iat.IsZero() {
		iat = ow.h.clock.Now()
	}
	sdHash := credentials.SDHash(pres)
	if o.tamperSDHash {
		sdHash = credentials.SDHash(pres + "x~") // over another presentation
	}
	kb := must(credentials.SignKB(ow.key, credentials.KB{Nonce: nonce, Aud: aud, IssuedAt: iat.Unix(), SDHash: sdHash}))
	return pres + kb
}

// answer posts a VP Token for r in the request's response mode and
// returns the status and body of the response URI's answer.
func (ow *oid4vpWallet) answer(r *resolved, o answerOpts) (int, []byte) {
	ow.h.t.Helper()
	vp := map[string][]string{cmp.Or(o.queryID, credentials.HealthInsurance): {ow.presentation(r, o)}}
	return ow.post(r, map[string]any{"vp_token": vp, "state": cmp.Or(o.state, r.obj.State)}, o.encryptTo)
}

// post sends the response parameters params: encrypted for
// direct_post.jwt (to the request's key unless to is given), as a form
// for direct_post.
func (ow *oid4vpWallet) post(r *resolved, params map[string]any, to *ecdsa.PublicKey) (int, []byte) {
	t := ow.h.t
	t.Helper()
	form := url.Values{}
	if r.obj.ResponseMode == openid4vp.DirectPostJWT {
		var jwks struct {
			Keys []struct {
				Kid string `json:"kid"`
				Use string `json:"use"`
				Alg string `json:"alg"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(r.obj.ClientMetadata.JWKS, &jwks); err != nil || len(jwks.Keys) != 1 ||
			jwks.Keys[0].Use != "enc" || jwks.Keys[0].Alg != "ECDH-ES" || jwks.Keys[0].Kid == "" {
			t.Fatalf("client_metadata.jwks: %s", r.obj.ClientMetadata.JWKS)
		}
		keys := must(credentials.ParseJWKS(r.obj.ClientMetadata.JWKS))
		pub := keys[jwks.Keys[0].Kid]
		if to != nil {
			pub = to
		}
		plain := must(json.Marshal(params))
		form.Set("response", must(credentials.EncryptResponse(plain, pub, jwks.Keys[0].Kid, "A256GCM")))
	} else {
		for k, v := range params {
			if s, ok := v.(string); ok {
				form.Set(k, s)
			} else {
				form.Set(k, string(must(json.Marshal(v))))
			}
		}
	}
	resp := ow.h.request("POST", ow.path(r.obj.ResponseURI), "", "application/x-www-form-urlencoded", []byte(form.Encode()))
	return resp.StatusCode, readAll(t, resp)
}

func cmpOrSlice(v, def []string) []string {
	if v == nil {
		return def
	}
	return v
}

// newOID4VPRequest makes an openid4vp request of the world's verifier.
func (w *world) newOID4VPRequest(h *harness, prefix, mode string) api.CreateRequestResponse {
	h.t.Helper()
	var r api.CreateRequestResponse
	h.call("POST", "/v1/verifier/requests", w.verifierKey, api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP,
		Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}, Purpose: "Prescription pickup",
		ClientIDPrefix: prefix, ResponseMode: mode}, 201, &r)
	return r
}

// TestOpenID4VPPresentation: for each client identifier prefix and
// response mode, a standard wallet resolves the request, presents the
// exported credential, and the verifier gets the result — the disclosed
// claim only — as from any request, its log naming it.
func TestOpenID4VPPresentation(t *testing.T) {
	h, w := requestHarness(t)
	ow := w.oid4vpWallet(h)
	asked := map[string]bool{} // the requests made, by id
	for _, c := range []struct{ prefix, mode string }{
		{openid4vp.PrefixX509SANDNS, openid4vp.DirectPostJWT},
		{openid4vp.PrefixX509Hash, openid4vp.DirectPostJWT},
		{openid4vp.PrefixX509SANDNS, openid4vp.DirectPost},
		{openid4vp.PrefixRedirectURI, openid4vp.DirectPost},
		{"", ""}, // the defaults: x509_hash, direct_post.jwt (HAIP 1.0 §5)
	} {
		t.Run(c.prefix+"/"+c.mode, func(t *testing.T) {
			req := w.newOID4VPRequest(h, c.prefix, c.mode)
			asked[req.RequestID] = true
			// A haip-vp:// link only where HAIP allows the request: x509_hash,
			// an encrypted response.
			haip := cmp.Or(c.prefix, openid4vp.PrefixX509Hash) == openid4vp.PrefixX509Hash && cmp.Or(c.mode, openid4vp.DirectPostJWT) == openid4vp.DirectPostJWT
			if !strings.HasPrefix(req.QRText, "openid4vp://?") || strings.HasPrefix(req.HAIPLink, "haip-vp://?") != haip ||
				!strings.HasPrefix(req.ClientID, cmp.Or(c.prefix, openid4vp.PrefixX509Hash)+":") {
				t.Fatalf("created: %+v", req)
			}
			var res api.RequestResult
			h.call("GET", "/v1/verifier/requests/"+req.RequestID, w.verifierKey, nil, 200, &res)
			if res.Status != api.RequestCreated {
				t.Fatalf("before the wallet: %s", res.Status)
			}
			r := ow.resolve(req.QRText)
			if r.obj.ResponseMode != cmp.Or(c.mode, openid4vp.DirectPostJWT) || r.obj.Nonce != req.Nonce {
				t.Fatalf("request object: %+v", r.obj)
			}
			if q := must(openid4vp.ParseQuery(r.obj.DCQLQuery)); q.Credentials[0].ID != credentials.HealthInsurance ||
				q.Credentials[0].Format != openid4vp.FormatSDJWTVC || len(q.Credentials[0].Claims) != 1 {
				t.Fatalf("dcql_query: %s", r.obj.DCQLQuery)
			}
			h.call("GET", "/v1/verifier/requests/"+req.RequestID, w.verifierKey, nil, 200, &res)
			if res.Status != api.RequestDelivered {
				t.Fatalf("after the fetch: %s", res.Status)
			}
			if status, body := ow.answer(r, answerOpts{}); status != 200 || strings.TrimSpace(string(body)) != "{}" {
				t.Fatalf("response: %d %s", status, body)
			}
			h.call("GET", "/v1/verifier/requests/"+req.RequestID+"?wait=5", w.verifierKey, nil, 200, &res)
			if res.Status != api.RequestApproved || res.Result == nil || len(res.Result.Documents) != 1 {
				t.Fatalf("result: %+v", res)
			}
			doc := res.Result.Documents[0]
			raw := must(json.Marshal(doc))
			var got api.Document
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if got.Type != credentials.HealthInsurance || got.Issuer.ID != w.issuerID || got.KeyBinding.Aud != req.ClientID ||
				got.KeyBinding.Nonce != req.Nonce || got.Status != api.StatusValid || len(got.Claims) != 1 || got.Claims["full_name"] != testFullName {
				t.Fatalf("document: %s", raw)
			}
		})
	}
	var log api.VerificationsResponse
	h.call("GET", "/v1/verifier/verifications", w.verifierKey, nil, 200, &log)
	approved := 0
	for _, e := range log.Entries {
		if e.Result == "approved" && slices.Equal(e.Claims, []string{credentials.HealthInsurance + ".full_name"}) && asked[e.RequestID] {
			approved++
			delete(asked, e.RequestID)
		}
	}
	if approved != 5 {
		t.Errorf("verifier log: %d approvals named, each with its request, want 5", approved)
	}
}

// TestOpenID4VPDiscardsFailedPresentation: OpenID4VP 1.0 §8.6, a
// presentation that fails a check of its own is discarded, not the whole
// response. Beside a valid presentation, one bound to another nonce
// leaves the request approved with the valid one's document only.
func TestOpenID4VPDiscardsFailedPresentation(t *testing.T) {
	h, w := requestHarness(t)
	ow := w.oid4vpWallet(h)
	req := w.newOID4VPRequest(h, "", "")
	r := ow.resolve(req.QRText)
	good := ow.presentation(r, answerOpts{})
	replayed := ow.presentation(r, answerOpts{nonce: "not-the-nonce-of-the-request"})
	vp := map[string][]string{credentials.HealthInsurance: {replayed, good}}
	if status, body := ow.post(r, map[string]any{"vp_token": vp, "state": r.obj.State}, nil); status != 200 {
		t.Fatalf("a response with one failed presentation: %d %s", status, body)
	}
	var res api.RequestResult
	h.call("GET", "/v1/verifier/requests/"+req.RequestID+"?wait=5", w.verifierKey, nil, 200, &res)
	if res.Status != api.RequestApproved || res.Result == nil || len(res.Result.Documents) != 1 || res.Result.Documents[0].Presentation != good {
		t.Fatalf("result: %+v, want the valid presentation's document alone", res)
	}
}

// TestOpenID4VPOneCitizenAResponse: a VP Token is one citizen's answer
// (SPEC §3.3, §3.6). Presentations bound to the devices of two citizens,
// one under each of two credential queries, are refused (holder_mismatch)
// and the verifier given nothing: else one citizen's activity would be
// charged with the other's disclosure, and the other's would say nothing.
func TestOpenID4VPOneCitizenAResponse(t *testing.T) {
	h, w := requestHarness(t)
	other := &world{issuerID: w.issuerID, issuerKey: w.issuerKey, verifierID: w.verifierID, verifierKey: w.verifierKey, citizen: "098765432109"}
	other.enroll(h)
	h.call("POST", "/v1/issuer/credentials", w.issuerKey, api.IssueRequest{CitizenID: other.citizen, Type: credentials.HealthInsurance,
		Claims: healthClaims("Someone Else"), ExpiresAt: h.clock.Now().AddDate(1, 0, 0)}, 201, &other.credential)
	mine, theirs := w.oid4vpWallet(h), other.oid4vpWallet(h)
	vct := `{"vct_values":["urn:eidwallet:vct:health_insurance:1"]}`
	query := `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":` + vct + `,"claims":[{"path":["full_name"]}]},` +
		`{"id":"b","format":"dc+sd-jwt","meta":` + vct + `,"claims":[{"path":["full_name"]}]}]}`
	var req api.CreateRequestResponse
	h.call("POST", "/v1/verifier/requests", w.verifierKey, api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP,
		DCQLQuery: []byte(query), Purpose: "Two cards"}, 201, &req)
	r := mine.resolve(req.QRText)
	vp := map[string][]string{"a": {mine.presentation(r, answerOpts{})}, "b": {theirs.presentation(r, answerOpts{})}}
	status, body := mine.post(r, map[string]any{"vp_token": vp, "state": r.obj.State}, nil)
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil || status != 400 || e.Reason != "holder_mismatch" {
		t.Fatalf("presentations of two citizens: %d %s, want 400 holder_mismatch", status, body)
	}
	var res api.RequestResult
	h.call("GET", "/v1/verifier/requests/"+req.RequestID, w.verifierKey, nil, 200, &res)
	if res.Status == api.RequestApproved || res.Result != nil && len(res.Result.Documents) > 0 {
		t.Fatalf("the verifier was given %+v", res)
	}
}

// TestOpenID4VPRefusals are the checks of the OpenID Foundation verifier
// conformance plan, each with its exact answer; none of them ends the
// request, which the right answer then still approves once, and a replay
// of it is refused.
func TestOpenID4VPRefusals(t *testing.T) {
	h, w := requestHarness(t)
	ow := w.oid4vpWallet(h)
	req := w.newOID4VPRequest(h, openid4vp.PrefixX509SANDNS, openid4vp.DirectPostJWT)
	r := ow.resolve(req.QRText)
	other := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	_, value := openid4vp.ClientIDPrefix(r.clientID)
	badSig := func() string {
		// The issuer's signature with one byte changed.
		p := strings.SplitN(ow.sdjwt, "~", 2)
		jws := []byte(p[0])
		i := len(jws) - 5 // inside the signature, not its last character
		if jws[i] == 'A' {
			jws[i] = 'B'
		} else {
			jws[i] = 'A'
		}
		return string(jws) + "~" + p[1]
	}
	for _, c := range []struct {
		name   string
		opts   answerOpts
		sdjwt  string
		reason string
	}{
		{"wrong nonce", answerOpts{nonce: "not-the-nonce-of-the-request"}, "", "kb_nonce_mismatch"},
		{"unprefixed aud", answerOpts{aud: value}, "", "kb_aud_mismatch"},
		{"kb iat a year old", answerOpts{iat: h.clock.Now().AddDate(-1, 0, 0)}, "", "kb_iat_out_of_window"},
		{"bad sd_hash", answerOpts{tamperSDHash: true}, "", "kb_sd_hash_mismatch"},
		{"wrong state", answerOpts{state: "not-the-state"}, "", "state_mismatch"},
		{"unknown dcql id", answerOpts{queryID: "other_credential"}, "", "dcql_unsatisfied"},
		// card_number is disclosed and was not asked: that presentation is
		// discarded (§8.6), and nothing is left to satisfy the query.
		{"claims not asked", answerOpts{claims: []string{"card_number"}}, "", "disclosure_not_requested"},
		{"more than asked", answerOpts{claims: []string{"card_number", "full_name"}}, "", "disclosure_not_requested"},
		{"encrypted to another key", answerOpts{encryptTo: &other.PublicKey}, "", "decryption_failed"},
		{"bad issuer signature", answerOpts{}, badSig(), "invalid_signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			saved := ow.sdjwt
			if c.sdjwt != "" {
				ow.sdjwt = c.sdjwt
			}
			status, body := ow.answer(r, c.opts)
			ow.sdjwt = saved
			var e apiError
			if err := json.Unmarshal(body, &e); err != nil || status != 400 || e.Error != "invalid_request" || e.Reason != c.reason {
				t.Errorf("%d %s, want 400 invalid_request %s", status, body, c.reason)
			}
		})
	}
	// Unencrypted to a direct_post.jwt request: refused.
	form := url.Values{"vp_token": {`{"health_insurance":["x~"]}`}, "state": {r.obj.State}}
	resp := h.request("POST", ow.path(r.obj.ResponseURI), "", "application/x-www-form-urlencoded", []byte(form.Encode()))
	wantError(t, resp, 400, "invalid_request")

	if status, body := ow.answer(r, answerOpts{}); status != 200 {
		t.Fatalf("the right answer: %d %s", status, body)
	}
	status, body := ow.answer(r, answerOpts{})
	if status != 400 || !strings.Contains(string(body), "invalid_request") {
		t.Errorf("replayed response: %d %s", status, body)
	}
	// The same vp_token to another request fails its nonce.
	r2 := ow.resolve(w.newOID4VPRequest(h, "", "").QRText)
	vp := map[string][]string{credentials.HealthInsurance: {ow.presentation(r, answerOpts{})}}
	status, body = ow.post(r2, map[string]any{"vp_token": vp, "state": r2.obj.State}, nil)
	if status != 400 || !strings.Contains(string(body), "kb_nonce_mismatch") {
		t.Errorf("vp_token of another request: %d %s", status, body)
	}
	var log api.VerificationsResponse
	h.call("GET", "/v1/verifier/verifications", w.verifierKey, nil, 200, &log)
	refused := 0
	for _, e := range log.Entries {
		if e.Result == "invalid_request" {
			refused++
		}
	}
	if refused < 10 {
		t.Errorf("verifier log: %d refusals, want every one", refused)
	}
}

// TestOpenID4VPDecline: an error response from the wallet declines the
// request; the verifier sees it declined.
func TestOpenID4VPDecline(t *testing.T) {
	h, w := requestHarness(t)
	ow := w.oid4vpWallet(h)
	req := w.newOID4VPRequest(h, "", openid4vp.DirectPost)
	r := ow.resolve(req.QRText)
	if status, body := ow.post(r, map[string]any{"error": "access_denied", "state": r.obj.State}, nil); status != 200 {
		t.Fatalf("decline: %d %s", status, body)
	}
	var res api.RequestResult
	h.call("GET", "/v1/verifier/requests/"+req.RequestID, w.verifierKey, nil, 200, &res)
	if res.Status != api.RequestDeclined || res.Result != nil {
		t.Errorf("after access_denied: %+v", res)
	}
}

// TestOpenID4VPRequestRules: what a verifier may ask, and what ends a
// request object's life.
func TestOpenID4VPRequestRules(t *testing.T) {
	h, w := requestHarness(t)
	post := func(in api.CreateRequestRequest, want int, code string) {
		t.Helper()
		in.Purpose = "Prescription pickup"
		resp := h.request("POST", "/v1/verifier/requests", w.verifierKey, "application/json", must(json.Marshal(in)))
		if want == 201 {
			if raw := readAll(t, resp); resp.StatusCode != 201 {
				t.Errorf("%+v: %d %s", in, resp.StatusCode, raw)
			}
			return
		}
		wantError(t, resp, want, code)
	}
	claims := map[string][]string{credentials.HealthInsurance: {"full_name"}}
	vct := h.svc.Types()
	hi, _ := vct.ByID(credentials.HealthInsurance)
	dcql := func(q string) []byte { return []byte(strings.ReplaceAll(q, "VCT", hi.VCT)) }
	post(api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, DCQLQuery: dcql(
		`{"credentials":[{"id":"card","format":"dc+sd-jwt","meta":{"vct_values":["VCT"]},"claims":[{"id":"n","path":["full_name"]}],"claim_sets":[["n"]]}]}`)}, 201, "")
	for _, c := range []struct {
		name string
		in   api.CreateRequestRequest
		want int
		code string
	}{
		{"unknown protocol", api.CreateRequestRequest{Protocol: "oid4vp", Claims: claims}, 400, "invalid_request"},
		{"dcql without openid4vp", api.CreateRequestRequest{DCQLQuery: dcql(`{"credentials":[]}`), Claims: claims}, 400, "invalid_request"},
		{"both claims and dcql", api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, Claims: claims, DCQLQuery: dcql(`{"credentials":[]}`)}, 400, "invalid_request"},
		{"bad prefix", api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, Claims: claims, ClientIDPrefix: "did"}, 400, "invalid_request"},
		{"bad mode", api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, Claims: claims, ResponseMode: "fragment"}, 400, "invalid_request"},
		{"presence", api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, Claims: claims, Presence: "EIDP1:AAAA"}, 400, "invalid_request"},
		{"not registered", api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, Claims: map[string][]string{credentials.HealthInsurance: {"birth_date"}}}, 403, "forbidden"},
		{"dcql not registered", api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, DCQLQuery: dcql(
			`{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["VCT"]},"claims":[{"path":["birth_date"]}]}]}`)}, 403, "forbidden"},
		{"dcql unknown vct", api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, DCQLQuery: dcql(
			`{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["urn:other"]}}]}`)}, 400, "invalid_request"},
		{"dcql trusted_authorities", api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, DCQLQuery: dcql(
			`{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["VCT"]},"trusted_authorities":[{"type":"aki","values":["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]}]}]}`)}, 400, "invalid_request"},
		{"dcql mdoc", api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, DCQLQuery: dcql(
			`{"credentials":[{"id":"c","format":"mso_mdoc","meta":{}}]}`)}, 400, "invalid_request"},
		{"dcql claim_sets to nothing", api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, DCQLQuery: dcql(
			`{"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["VCT"]},"claims":[{"id":"n","path":["full_name"]}],"claim_sets":[["x"]]}]}`)}, 400, "invalid_request"},
	} {
		t.Run(c.name, func(t *testing.T) { post(c.in, c.want, c.code) })
	}
	dup := dcql(`{"protocol":"openid4vp","purpose":"p","dcql_query":` +
		`{"credentials":[],"credentials":[{"id":"c","format":"dc+sd-jwt","meta":{"vct_values":["VCT"]}}]}}`)
	wantError(t, h.request("POST", "/v1/verifier/requests", w.verifierKey, "application/json", dup), 400, "invalid_request")

	// The QR: a version 10 QR at level M holds 213 bytes.
	for _, prefix := range []string{openid4vp.PrefixX509SANDNS, openid4vp.PrefixX509Hash} {
		req := w.newOID4VPRequest(h, prefix, "")
		if len(req.QRText) > 213 {
			t.Errorf("%s link is %d bytes: %s", prefix, len(req.QRText), req.QRText)
		}
		t.Logf("%s link: %d bytes (public URL %s)", prefix, len(req.QRText), publicURL)
	}
	// Unknown tokens are 404; an expired request's object is 410; one
	// answered is no longer served.
	wantError(t, h.request("GET", "/oid4vp/requests/AAAAAAAAAAAAAAAAAAAAAAAAAA", "", "", nil), 404, "not_found")
	ow := w.oid4vpWallet(h)
	req := w.newOID4VPRequest(h, "", "")
	r := ow.resolve(req.QRText)
	reqPath := ow.path(must(url.Parse(req.QRText)).Query().Get("request_uri"))
	if resp := h.request("GET", reqPath, "", "", nil); resp.StatusCode != 200 {
		t.Errorf("a second fetch: %d", resp.StatusCode)
	}
	if status, body := ow.answer(r, answerOpts{}); status != 200 {
		t.Fatalf("answer: %d %s", status, body)
	}
	wantError(t, h.request("GET", reqPath, "", "", nil), 409, "conflict")
	late := w.newOID4VPRequest(h, "", "")
	h.clock.Advance(wallet.DefaultRequestTTL + time.Second)
	wantError(t, h.request("GET", ow.path(must(url.Parse(late.QRText)).Query().Get("request_uri")), "", "", nil), 410, "share_expired")
}

// TestOpenID4VPImportedCertificate: an operator imports a verifier's
// certificate from its own CA; the request objects then carry that chain,
// which a wallet trusting that CA accepts, and the wrong key or host is
// refused.
func TestOpenID4VPImportedCertificate(t *testing.T) {
	h, w := requestHarness(t)
	now := h.clock.Now()
	caKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	caDER := must(openid4vp.NewCA(caKey, "Operator CA", now, rand.Reader))
	ca := must(x509.ParseCertificate(caDER))
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	leafDER := must(openid4vp.IssueLeaf(ca, caKey, &key.PublicKey, "Corner Pharmacy", "wallet.test", now, rand.Reader))
	otherDER := must(openid4vp.IssueLeaf(ca, caKey, &key.PublicKey, "Corner Pharmacy", "elsewhere.test", now, rand.Reader))
	pk := must(x509.MarshalPKCS8PrivateKey(key))
	wrong := must(x509.MarshalPKCS8PrivateKey(must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))))
	pemOf := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	path := "/v1/admin/verifiers/" + w.verifierID + "/certificate"
	for _, bad := range []api.VerifierCertificateRequest{
		{CertificateChain: pemOf("CERTIFICATE", leafDER), PrivateKey: pemOf("PRIVATE KEY", wrong)}, // another key
		{CertificateChain: pemOf("CERTIFICATE", otherDER), PrivateKey: pemOf("PRIVATE KEY", pk)},   // another host
		{CertificateChain: "not pem", PrivateKey: pemOf("PRIVATE KEY", pk)},                        // no certificate
	} {
		wantError(t, h.request("PUT", path, h.admin, "application/json", mustJSON(t, bad)), 400, "invalid_request")
	}
	var view api.VerifierCertificateView
	h.call("PUT", path, h.admin, api.VerifierCertificateRequest{CertificateChain: pemOf("CERTIFICATE", leafDER) + pemOf("CERTIFICATE", caDER),
		PrivateKey: pemOf("PRIVATE KEY", pk)}, 200, &view)
	if !view.Imported || view.X509Hash != openid4vp.X509HashClientID(leafDER) {
		t.Fatalf("imported: %+v", view)
	}
	// The request object is signed with the imported key, its chain in x5c.
	req := w.newOID4VPRequest(h, openid4vp.PrefixX509Hash, "")
	if req.ClientID != view.X509Hash {
		t.Fatalf("client id %s, want the imported certificate's hash", req.ClientID)
	}
	raw := readAll(t, h.request("GET", strings.TrimPrefix(req.RequestURI, publicURL), "", "", nil))
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	payload, leaf, err := credentials.VerifyJWTWithChain(string(raw), openid4vp.TypRequestObject, roots, now)
	if err != nil || !bytes.Equal(leaf.Raw, leafDER) || len(payload) == 0 {
		t.Fatalf("the request object under the operator's CA: %v", err)
	}
}

// TestOpenID4VPExportedCopyDiesWithItsDevice: a copy the holder exported
// to a standard wallet is unusable once its device is revoked (SPEC §2),
// like the copies the service keeps: an answer already given is no longer
// handed out, and a new presentation is refused.
func TestOpenID4VPExportedCopyDiesWithItsDevice(t *testing.T) {
	h, w := requestHarness(t)
	ow := w.oid4vpWallet(h)
	req := w.newOID4VPRequest(h, "", "")
	if status, body := ow.answer(ow.resolve(req.QRText), answerOpts{}); status != 200 {
		t.Fatalf("before: %d %s", status, body)
	}
	h.call("DELETE", "/v1/me/devices/"+w.deviceID, w.token, nil, 204, nil)
	wantError(t, h.request("GET", "/v1/verifier/requests/"+req.RequestID, w.verifierKey, "", nil), 422, "verification_failed")
	status, body := ow.answer(ow.resolve(w.newOID4VPRequest(h, "", "").QRText), answerOpts{})
	if status != 400 || !strings.Contains(string(body), "device_revoked") {
		t.Errorf("after the device's revocation: %d %s", status, body)
	}
	// A public key is no secret (verifiers see it as cnf.jwk): another
	// citizen enrolling the revoked device's key is refused, and the copy
	// stays dead.
	var code api.ActivationCodeResponse
	h.call("POST", "/v1/admin/activation-codes", h.admin, api.ActivationCodeRequest{CitizenID: "100000000777"}, 201, &code)
	jwk, _ := credentials.PublicJWK(&w.device.PublicKey)
	jwkJSON, _ := json.Marshal(jwk)
	wantError(t, h.request("POST", "/v1/enrollments", "", "application/json", mustJSON(t, api.EnrollRequest{
		CitizenID: "100000000777", ActivationCode: code.Code, DeviceKey: jwkJSON, DeviceName: "not mine"})), 409, "conflict")
	status, body = ow.answer(ow.resolve(w.newOID4VPRequest(h, "", "").QRText), answerOpts{})
	if status != 400 || !strings.Contains(string(body), "device_revoked") {
		t.Errorf("after another citizen tried the revoked device's key: %d %s", status, body)
	}
}
