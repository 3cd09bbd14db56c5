package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/openid4vp"
)

// Interoperability of the OpenID4VP verifier side with an independent
// wallet: the OpenWallet Foundation's @openid4vc/openid4vp, the dcql
// package and @sd-jwt/sd-jwt-vc (openid4vp/testdata/interop, versions
// pinned there), over HTTPS to the service on 127.0.0.1 at its own URL.
// The wallet is given the credential the holder exported and the
// service's verifier CA as its trust anchor; without node or its
// node_modules the test skips, naming the command that installs them.

const oid4vpInterop = "../openid4vp/testdata/interop"

// nodeWalletAnswer is what wallet.mjs reports.
type nodeWalletAnswer struct {
	OK       bool           `json:"ok"`
	Status   int            `json:"status"`
	Body     map[string]any `json:"body"`
	Statuses []int          `json:"statuses"`
	ClientID string         `json:"client_id"`
	Error    string         `json:"error"`
	Request  map[string]any `json:"request"`
	Bodies   []any          `json:"bodies"`
}

// localhostCert is a self-signed certificate for localhost, the host of
// the service's public URL in the interop test (x509_san_dns requires
// the response URI's host to be a DNS name), and its PEM.
func localhostCert(t *testing.T) (*tls.Certificate, []byte) {
	t.Helper()
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key))
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// privateJWK is the device key as a private JWK, for the Node wallet.
func privateJWK(k *ecdsa.PrivateKey) map[string]string {
	b := must(k.Bytes()) // the scalar, 32 bytes
	pub := must(k.PublicKey.Bytes())
	enc := base64.RawURLEncoding.EncodeToString
	return map[string]string{"kty": "EC", "crv": "P-256", "x": enc(pub[1:33]), "y": enc(pub[33:]), "d": enc(b)}
}

func TestOpenID4VPInteropWallet(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed (apt-get install -y nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(oid4vpInterop, "node_modules")); err != nil {
		t.Skip("interop packages not installed: npm ci --prefix openid4vp/testdata/interop")
	}
	cert, certPEM := localhostCert(t)
	caFile := filepath.Join(t.TempDir(), "tls.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, servicetest.Open(t), cert)
	h.clock.Set(time.Now()) // the Node wallet dates its KB-JWTs by the wall clock
	w := h.setup()
	var exp api.CredentialExport
	h.call("POST", "/v1/me/credentials/"+w.credential.CredentialID+"/export", w.token, nil, 200, &exp)
	anchor := readAll(t, h.request("GET", "/oid4vp/ca.pem", "", "", nil))

	sdjwt := exp.SDJWT
	run := func(t *testing.T, link, tamper string) nodeWalletAnswer {
		t.Helper()
		in := must(json.Marshal(map[string]any{"link": link, "trust_anchor_pem": string(anchor), "tamper": tamper,
			"credentials": []map[string]any{{"sdjwt": sdjwt, "holder_jwk": privateJWK(w.device)}}}))
		cmd := exec.Command("node", "wallet.mjs")
		cmd.Dir = oid4vpInterop
		cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+caFile)
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("wallet.mjs: %v\n%s", err, stderr.String())
		}
		var ans nodeWalletAnswer
		if err := json.Unmarshal(out, &ans); err != nil {
			t.Fatalf("wallet.mjs answered %s: %v", out, err)
		}
		return ans
	}
	newRequest := func(t *testing.T, prefix, mode string) api.CreateRequestResponse {
		t.Helper()
		var r api.CreateRequestResponse
		h.call("POST", "/v1/verifier/requests", w.verifierKey, api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP,
			Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}, Purpose: "Prescription pickup",
			ClientIDPrefix: prefix, ResponseMode: mode}, 201, &r)
		return r
	}

	for _, prefix := range []string{openid4vp.PrefixX509SANDNS, openid4vp.PrefixX509Hash} {
		for _, mode := range []string{openid4vp.DirectPost, openid4vp.DirectPostJWT} {
			t.Run(prefix+"/"+mode, func(t *testing.T) {
				req := newRequest(t, prefix, mode)
				ans := run(t, req.QRText, "")
				if !ans.OK || ans.Status != 200 || ans.ClientID != req.ClientID {
					t.Fatalf("wallet: %+v", ans)
				}
				var res api.RequestResult
				h.call("GET", "/v1/verifier/requests/"+req.RequestID+"?wait=5", w.verifierKey, nil, 200, &res)
				if res.Status != api.RequestApproved || res.Result == nil || len(res.Result.Documents) != 1 {
					t.Fatalf("verifier: %+v", res)
				}
				var doc api.Document
				if err := json.Unmarshal(must(json.Marshal(res.Result.Documents[0])), &doc); err != nil {
					t.Fatal(err)
				}
				if doc.Claims["full_name"] != testFullName || len(doc.Claims) != 1 || doc.KeyBinding.Aud != req.ClientID {
					t.Errorf("document: %+v", doc)
				}
			})
		}
	}

	// The conformance plan's negative cases, made by the independent
	// wallet: each answered 400 invalid_request with its reason.
	for _, c := range []struct{ tamper, reason string }{
		{"wrong_nonce", "kb_nonce_mismatch"},
		{"no_nonce", "kb_invalid"},
		{"unprefixed_aud", "kb_aud_mismatch"},
		{"old_iat", "kb_iat_out_of_window"},
		{"bad_sd_hash", "kb_sd_hash_mismatch"},
		{"bad_issuer_signature", "invalid_signature"},
		{"wrong_state", "state_mismatch"},
		{"unknown_query_id", "dcql_unsatisfied"},
		{"wrong_enc_key", "decryption_failed"},
	} {
		t.Run(c.tamper, func(t *testing.T) {
			req := newRequest(t, "", "")
			ans := run(t, req.QRText, c.tamper)
			if ans.Status != 400 || ans.Body["error"] != "invalid_request" || ans.Body["reason"] != c.reason {
				t.Errorf("%s: %d %v, want 400 invalid_request %s (%s)", c.tamper, ans.Status, ans.Body, c.reason, ans.Error)
			}
		})
	}
	t.Run("replay", func(t *testing.T) {
		req := newRequest(t, "", "")
		ans := run(t, req.QRText, "replay")
		if len(ans.Statuses) != 2 || ans.Statuses[0] != 200 || ans.Statuses[1] != 400 {
			t.Errorf("replay: %+v %s", ans.Statuses, ans.Bodies)
		}
	})
	t.Run("decline", func(t *testing.T) {
		req := newRequest(t, "", "")
		if ans := run(t, req.QRText, "decline"); ans.Status != 200 {
			t.Fatalf("decline: %+v", ans)
		}
		var res api.RequestResult
		h.call("GET", "/v1/verifier/requests/"+req.RequestID, w.verifierKey, nil, 200, &res)
		if res.Status != api.RequestDeclined {
			t.Errorf("after decline: %s", res.Status)
		}
	})
	// A credential of an issuer hosted elsewhere that the test runs,
	// trusted by the operator for the type.
	t.Run("external issuer", func(t *testing.T) {
		ext := newExternalIssuer(t, h.cert, h.clock.Now)
		h.call("POST", "/v1/admin/external-issuers", h.admin, api.ExternalIssuerRequest{ID: "agency", Issuer: ext.iss,
			Types: []string{credentials.HealthInsurance}}, 201, nil)
		sdjwt = ext.issue(h, &w.device.PublicKey, 3)
		defer func() { sdjwt = exp.SDJWT }()
		req := newRequest(t, openid4vp.PrefixX509SANDNS, openid4vp.DirectPostJWT)
		if ans := run(t, req.QRText, ""); !ans.OK || ans.Status != 200 {
			t.Fatalf("wallet: %+v", ans)
		}
		var res api.RequestResult
		h.call("GET", "/v1/verifier/requests/"+req.RequestID, w.verifierKey, nil, 200, &res)
		if res.Status != api.RequestApproved || len(res.Result.Documents) != 1 {
			t.Fatalf("verifier: %+v", res)
		}
	})
	if strings.Contains(h.logs.String(), testFullName) {
		t.Error("a claim value reached the log")
	}
}
