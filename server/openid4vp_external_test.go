package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/openid4vp"
)

// externalIssuer is an issuer hosted elsewhere, run by the test over TLS
// on 127.0.0.1: its SD-JWT VC issuer metadata and a status list.
type externalIssuer struct {
	t      *testing.T
	iss    string
	issuer *credentials.Issuer
	key    *ecdsa.PrivateKey
	mu     sync.Mutex
	list   *credentials.StatusList
	now    func() time.Time
}

func newExternalIssuer(t *testing.T, cert *tls.Certificate, now func() time.Time) *externalIssuer {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
	e := &externalIssuer{t: t, key: must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)), now: now}
	e.list = must(credentials.NewStatusList(2, 1024))
	ts.Config.Handler = http.HandlerFunc(e.serve)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	e.iss = "https://localhost:" + ts.URL[strings.LastIndexByte(ts.URL, ':')+1:] + "/agency"
	e.issuer = must(credentials.NewIssuer(e.iss, e.key, rand.Reader))
	return e
}

func (e *externalIssuer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/jwt-vc-issuer/agency":
		w.Header().Set("Content-Type", "application/json")
		w.Write(must(json.Marshal(map[string]any{"issuer": e.iss, "jwks": jsontext.Value(must(credentials.JWKS(&e.key.PublicKey)))})))
	case "/agency/status/1":
		e.mu.Lock()
		tok := must(e.issuer.SignStatusList(credentials.StatusListToken{Subject: e.statusURI(), IssuedAt: e.now(), TTL: time.Second, List: e.list}))
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/statuslist+jwt")
		w.Write([]byte(tok))
	default:
		http.NotFound(w, r)
	}
}

func (e *externalIssuer) statusURI() string { return e.iss + "/status/1" }

// issue signs a health insurance card for holder, at status index idx.
func (e *externalIssuer) issue(h *harness, holder *ecdsa.PublicKey, idx int) string {
	hi, _ := h.svc.Types().ByID(credentials.HealthInsurance)
	now := h.clock.Now()
	return must(e.issuer.Issue(credentials.IssueParams{Type: hi, Claims: healthClaims("Tran Van Ngoai"), Holder: holder,
		IssuedAt: now, ExpiresAt: now.AddDate(1, 0, 0), Status: &credentials.StatusRef{Index: idx, URI: e.statusURI()}}))
}

// TestOpenID4VPExternalIssuer: a wallet presents a credential of an issuer
// hosted elsewhere that the operator trusts for the type: accepted with
// its keys from the issuer's metadata and its status from its list; a
// revocation there, or the operator retiring the issuer, ends it.
func TestOpenID4VPExternalIssuer(t *testing.T) {
	h, w := tlsWorld(t)
	ext := newExternalIssuer(t, h.cert, h.clock.Now) // its TLS certificate is the one the service trusts

	ow := w.oid4vpWallet(h)
	ow.sdjwt = ext.issue(h, &w.device.PublicKey, 7)

	present := func() (int, []byte, api.CreateRequestResponse) {
		t.Helper()
		req := w.newOID4VPRequest(h, openid4vp.PrefixX509Hash, "")
		r := ow.resolve(req.QRText)
		status, body := ow.answer(r, answerOpts{})
		return status, body, req
	}
	// Not trusted yet: its key is nobody's.
	if status, body, _ := present(); status != 400 || !strings.Contains(string(body), "untrusted_issuer") {
		t.Fatalf("before the operator trusts it: %d %s", status, body)
	}
	var view api.ExternalIssuerView
	h.call("POST", "/v1/admin/external-issuers", h.admin, api.ExternalIssuerRequest{ID: "agency", Issuer: ext.iss,
		Types: []string{credentials.HealthInsurance}}, 201, &view)
	if kid := must(credentials.Thumbprint(&ext.key.PublicKey)); len(view.Kids) != 1 || view.Kids[0] != kid || view.Issuer != ext.iss {
		t.Fatalf("added: %+v", view)
	}
	var list api.ExternalIssuerList
	h.call("GET", "/v1/admin/external-issuers", h.admin, nil, 200, &list)
	if l := list.ExternalIssuers; len(l) != 1 || l[0].ID != "agency" {
		t.Errorf("list: %+v", l)
	}
	status, body, req := present()
	if status != 200 {
		t.Fatalf("trusted: %d %s", status, body)
	}
	var res api.RequestResult
	h.call("GET", "/v1/verifier/requests/"+req.RequestID, w.verifierKey, nil, 200, &res)
	if res.Status != api.RequestApproved || len(res.Result.Documents) != 1 {
		t.Fatalf("result: %+v", res)
	}
	var doc api.Document
	if err := json.Unmarshal(must(json.Marshal(res.Result.Documents[0])), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer.ID != "agency" || doc.Claims["full_name"] != "Tran Van Ngoai" {
		t.Errorf("document: %+v", doc)
	}
	// Revoked at the issuer: once the cached list's ttl has passed, the
	// answer is no longer handed out, and a new presentation is refused.
	ext.mu.Lock()
	if err := ext.list.Set(7, 1); err != nil {
		t.Fatal(err)
	}
	ext.mu.Unlock()
	h.clock.Advance(2 * time.Second)
	wantError(t, h.request("GET", "/v1/verifier/requests/"+req.RequestID, w.verifierKey, "", nil), 422, "verification_failed")
	if status, body, _ := present(); status != 400 || !strings.Contains(string(body), "credential_revoked") {
		t.Errorf("revoked: %d %s", status, body)
	}
	// Retired by the operator: its credentials are nobody's again.
	ow.sdjwt = ext.issue(h, &w.device.PublicKey, 8)
	h.call("DELETE", "/v1/admin/external-issuers/agency", h.admin, nil, 200, &view)
	if view.Retired == nil {
		t.Errorf("retired: %+v", view)
	}
	if status, body, _ := present(); status != 400 || !strings.Contains(string(body), "untrusted_issuer") {
		t.Errorf("after retirement: %d %s", status, body)
	}
	// The rules of adding one.
	for _, in := range []api.ExternalIssuerRequest{
		{ID: "x1", Issuer: "http://localhost/agency", Types: []string{credentials.HealthInsurance}}, // not https
		{ID: "x2", Issuer: "https://10.1.2.3/agency", Types: []string{credentials.HealthInsurance}}, // private address
		{ID: "x3", Issuer: ext.iss, Types: []string{"passport"}},                                    // unknown type
		{ID: "x4", Issuer: h.public + "/issuers/vss", Types: []string{credentials.HealthInsurance}}, // hosted here
		{ID: "x5", Issuer: ext.iss + "/nothing-here", Types: []string{credentials.HealthInsurance}}, // no metadata
		{ID: "agency", Issuer: ext.iss, Types: []string{credentials.HealthInsurance}},               // exists
	} {
		resp := h.request("POST", "/v1/admin/external-issuers", h.admin, "application/json", mustJSON(t, in))
		if resp.StatusCode != 400 && resp.StatusCode != 409 {
			t.Errorf("%+v: %d", in, resp.StatusCode)
		}
		resp.Body.Close()
	}
	// The refusal names the field and the rule once, in the outbound
	// client's words, not the webhooks'.
	var e struct {
		Description string `json:"error_description"`
	}
	h.call("POST", "/v1/admin/external-issuers", h.admin,
		api.ExternalIssuerRequest{ID: "x6", Issuer: "https://10.1.2.3/agency", Types: []string{credentials.HealthInsurance}}, 400, &e)
	if want := "issuer: url: the host is a private-use address (RFC 1918); the service connects only to public unicast addresses"; e.Description != want {
		t.Errorf("a private address: %q, want %q", e.Description, want)
	}
}

// TestOpenID4VPNestedDisclosureNotRequested: SPEC §3.7, T35. A credential
// of an external issuer holds a selectively disclosable part inside a
// plain claim (medical.diagnosis); a wallet answering a request for
// full_name alone that adds that part's disclosure is refused
// (disclosure_not_requested), the verifier given nothing: the
// presentation is handed over whole, so it may reveal no more than the
// request named.
func TestOpenID4VPNestedDisclosureNotRequested(t *testing.T) {
	h, w := tlsWorld(t)
	ext := newExternalIssuer(t, h.cert, h.clock.Now)
	h.call("POST", "/v1/admin/external-issuers", h.admin, api.ExternalIssuerRequest{ID: "agency", Issuer: ext.iss,
		Types: []string{credentials.HealthInsurance}}, 201, nil)
	disclosure := func(salt, name, value string) (string, string) {
		d := base64.RawURLEncoding.EncodeToString(must(json.Marshal([]string{salt, name, value})))
		sum := sha256.Sum256([]byte(d))
		return d, base64.RawURLEncoding.EncodeToString(sum[:])
	}
	name, nameDigest := disclosure("c2FsdHNhbHRzYWx0c2FsdA", "full_name", "Tran Van Ngoai")
	secret, secretDigest := disclosure("b3RoZXJzYWx0b3RoZXJzYWx0", "diagnosis", "private")
	hi, _ := h.svc.Types().ByID(credentials.HealthInsurance)
	now := h.clock.Now()
	jwt := must(credentials.SignJWT(ext.key, "dc+sd-jwt", must(credentials.Thumbprint(&ext.key.PublicKey)), map[string]any{
		"iss": ext.iss, "vct": hi.VCT, "iat": now.Unix(), "exp": now.AddDate(1, 0, 0).Unix(),
		"cnf":     map[string]any{"jwk": must(credentials.PublicJWK(&w.device.PublicKey))},
		"status":  map[string]any{"status_list": map[string]any{"idx": 9, "uri": ext.statusURI()}},
		"_sd_alg": "sha-256", "_sd": []string{nameDigest},
		"medical": map[string]any{"_sd": []string{secretDigest}},
	}))
	ow := w.oid4vpWallet(h)
	req := w.newOID4VPRequest(h, openid4vp.PrefixX509Hash, "") // health_insurance full_name
	r := ow.resolve(req.QRText)
	for _, c := range []struct {
		disclosures string
		status      int
	}{
		{name + "~" + secret + "~", 400}, // the part not asked for
		{name + "~", 200},                // what was asked, on the same request
	} {
		vp := must(credentials.Bind(jwt+"~"+c.disclosures, w.device, r.clientID, r.obj.Nonce, h.clock.Now()))
		status, body := ow.post(r, map[string]any{"vp_token": map[string][]string{credentials.HealthInsurance: {vp}}, "state": r.obj.State}, nil)
		if status != c.status || status == 400 && !strings.Contains(string(body), "disclosure_not_requested") {
			t.Fatalf("%d disclosures: %d %s, want %d", strings.Count(c.disclosures, "~"), status, body, c.status)
		}
	}
	var res api.RequestResult
	h.call("GET", "/v1/verifier/requests/"+req.RequestID, w.verifierKey, nil, 200, &res)
	if res.Result == nil || len(res.Result.Documents) != 1 || strings.Contains(res.Result.Documents[0].Presentation, secret) {
		t.Fatalf("the verifier's result: %+v", res.Result)
	}
}
