package server_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/time/rate"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/openid4vp"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
)

// Our citizens answer a standard verifier (issue 11, wallet side): the
// OpenWallet Foundation's verifier (@openid4vc/openid4vp, dcql,
// @sd-jwt; openid4vp/testdata/interop/verifier.mjs) makes a signed request
// with its own certificate from a CA the operator configured, our holder
// resolves its link through the API, approves, and the Node verifier
// validates what our service posted: the issuer's signature, the KB-JWT
// bound to its client id and nonce, the status over HTTPS, the DCQL query.

// nodeVerifier is a running verifier.mjs.
type nodeVerifier struct {
	cmd   *exec.Cmd
	out   *bufio.Reader
	first struct {
		Link     string `json:"link"`
		ClientID string `json:"client_id"`
		Nonce    string `json:"nonce"`
		Error    string `json:"error"`
	}
}

// nodeResult is verifier.mjs's second line.
type nodeResult struct {
	Received       bool                      `json:"received"`
	Valid          bool                      `json:"valid"`
	Error          string                    `json:"error"`
	Description    string                    `json:"error_description"`
	Claims         map[string]map[string]any `json:"claims"`
	KB             map[string]any            `json:"kb"`
	FormKeys       []string                  `json:"form_keys"`
	JWEHeader      map[string]any            `json:"jwe_header"`
	RequestFetches []map[string]any          `json:"request_fetches"`
	StatusFetches  int                       `json:"status_list_fetches"`
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func startNodeVerifier(t *testing.T, caFile string, config map[string]any) *nodeVerifier {
	t.Helper()
	cmd := exec.Command("node", "verifier.mjs")
	cmd.Dir = oid4vpInterop
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+caFile)
	cmd.Stdin = strings.NewReader(string(must(json.Marshal(config))))
	stdout := must(cmd.StdoutPipe())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nv := &nodeVerifier{cmd: cmd, out: bufio.NewReader(stdout)}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := nv.out.ReadBytes('\n')
	if err != nil {
		t.Fatalf("verifier.mjs: %v", err)
	}
	if err := json.Unmarshal(line, &nv.first); err != nil || nv.first.Error != "" || nv.first.Link == "" {
		t.Fatalf("verifier.mjs: %s (%v)", line, err)
	}
	return nv
}

// result stops the verifier (SIGTERM: it reports what it saw) unless it
// has reported already, and reads its report.
func (nv *nodeVerifier) result(t *testing.T, stop bool) nodeResult {
	t.Helper()
	if stop {
		_ = nv.cmd.Process.Signal(syscall.SIGTERM)
	}
	line, err := nv.out.ReadBytes('\n')
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	var r nodeResult
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("verifier.mjs: %s (%v)", line, err)
	}
	return r
}

func TestOpenID4VPHolderInteropVerifier(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed (apt-get install -y nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(oid4vpInterop, "node_modules")); err != nil {
		t.Skip("interop packages not installed: npm ci --prefix openid4vp/testdata/interop")
	}
	// The Node verifier's CA and certificate, which the operator trusts.
	now := time.Now()
	caKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	caDER := must(openid4vp.NewCA(caKey, "Bank CA", now, rand.Reader))
	ca := must(x509.ParseCertificate(caDER))
	leafKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	leafDER := must(openid4vp.IssueLeaf(ca, caKey, &leafKey.PublicKey, "Example Bank", "localhost", now, rand.Reader))
	leafPK := must(x509.MarshalPKCS8PrivateKey(leafKey))

	cert, certPEM := localhostCert(t)
	// Many resolves in a row: past the holder's share quota, which also
	// covers resolving.
	h := startHarnessWith(t, wallet.Config{VerifierTrustAnchors: []*x509.Certificate{ca}}, cert, func(c *server.Config) {
		c.RateLimits = server.RateLimits{SharesPerHolder: server.Limit{Rate: rate.Inf}}
	})
	h.clock.Set(time.Now())
	w := h.setup()
	tlsKey := must(x509.MarshalPKCS8PrivateKey(cert.PrivateKey))
	caFile := filepath.Join(t.TempDir(), "tls.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	hi, _ := h.svc.Types().ByID(credentials.HealthInsurance)
	jwks := readAll(t, h.request("GET", "/issuers/vss/jwks.json", "", "", nil))
	config := func(prefix, mode, method, tamper string) map[string]any {
		return map[string]any{"tls_cert_pem": string(certPEM), "tls_key_pem": pemOf("PRIVATE KEY", tlsKey), "port": 0,
			"client_id_prefix": prefix, "response_mode": mode, "request_uri_method": method, "tamper": tamper,
			"signing":     map[string]any{"cert_chain_pem": []string{pemOf("CERTIFICATE", leafDER), pemOf("CERTIFICATE", caDER)}, "key_pem": pemOf("PRIVATE KEY", leafPK)},
			"dcql_query":  jsontext.Value(`{"credentials":[{"id":"card","format":"dc+sd-jwt","meta":{"vct_values":["` + hi.VCT + `"]},"claims":[{"path":["full_name"]}]}]}`),
			"issuer_jwks": jsontext.Value(jwks), "issuer": h.public + "/issuers/vss", "status": "check", "timeout_seconds": 30}
	}

	for _, c := range []struct{ prefix, mode, method string }{
		{openid4vp.PrefixX509SANDNS, openid4vp.DirectPostJWT, "post"},
		{openid4vp.PrefixX509Hash, openid4vp.DirectPost, "get"},
		{openid4vp.PrefixX509SANDNS, openid4vp.DirectPost, "post"},
		{openid4vp.PrefixX509Hash, openid4vp.DirectPostJWT, "get"},
	} {
		t.Run(c.prefix+"/"+c.mode+"/"+c.method, func(t *testing.T) {
			nv := startNodeVerifier(t, caFile, config(c.prefix, c.mode, c.method, ""))
			var view api.RequestView
			h.call("POST", `/v1/me/requests:resolve`, w.token, api.ResolveRequest{QR: nv.first.Link}, 200, &view)
			if view.Verified == nil || !*view.Verified || view.Verifier.Name != "Example Bank" || view.Verifier.ID != nv.first.ClientID ||
				len(view.Claims) != 1 || view.Claims[0].Claim != "full_name" {
				t.Fatalf("resolved: %+v", view)
			}
			var prep api.RequestPrepared
			h.call("POST", "/v1/me/requests/"+view.RequestID+"/prepare", w.token, api.PrepareRequest{}, 200, &prep)
			h.call("POST", "/v1/me/requests/"+view.RequestID+"/approve", w.token, api.ApproveRequest{KBJWTs: w.signToSign(h, prep.ToSign)}, 200, &view)
			res := nv.result(t, false)
			if !res.Valid || res.Claims["card"]["full_name"] != testFullName || len(res.Claims["card"]) != 1 ||
				res.KB["aud"] != nv.first.ClientID || res.KB["nonce"] != nv.first.Nonce || res.StatusFetches == 0 {
				t.Fatalf("the Node verifier: %+v", res)
			}
			if (c.mode == openid4vp.DirectPostJWT) != (res.JWEHeader != nil) {
				t.Errorf("mode %s, jwe header %v, form %v", c.mode, res.JWEHeader, res.FormKeys)
			}
			if view.Status != api.RequestApproved {
				t.Errorf("the holder's view: %+v", view)
			}
		})
	}
	// OpenID4VP 1.0 §6.4.1: a query of no claims is answered with the
	// claims no holder can withhold only — a presentation of none.
	t.Run("no claims asked", func(t *testing.T) {
		cfg := config(openid4vp.PrefixX509Hash, openid4vp.DirectPostJWT, "post", "")
		cfg["dcql_query"] = jsontext.Value(`{"credentials":[{"id":"card","format":"dc+sd-jwt","meta":{"vct_values":["` + hi.VCT + `"]}}]}`)
		nv := startNodeVerifier(t, caFile, cfg)
		var view api.RequestView
		h.call("POST", `/v1/me/requests:resolve`, w.token, api.ResolveRequest{QR: nv.first.Link}, 200, &view)
		var prep api.RequestPrepared
		h.call("POST", "/v1/me/requests/"+view.RequestID+"/prepare", w.token, api.PrepareRequest{}, 200, &prep)
		if len(prep.ToSign) != 1 || strings.Count(prep.ToSign[0].Presentation, "~") != 1 {
			t.Fatalf("prepared: %+v", prep)
		}
		h.call("POST", "/v1/me/requests/"+view.RequestID+"/approve", w.token, api.ApproveRequest{KBJWTs: w.signToSign(h, prep.ToSign)}, 200, &view)
		res := nv.result(t, false)
		if !res.Valid || res.Claims["card"]["full_name"] != nil || res.KB["nonce"] != nv.first.Nonce {
			t.Fatalf("the Node verifier: %+v", res)
		}
	})
	t.Run("decline", func(t *testing.T) {
		nv := startNodeVerifier(t, caFile, config(openid4vp.PrefixX509SANDNS, openid4vp.DirectPostJWT, "post", ""))
		var view api.RequestView
		h.call("POST", `/v1/me/requests:resolve`, w.token, api.ResolveRequest{QR: nv.first.Link}, 200, &view)
		h.call("POST", "/v1/me/requests/"+view.RequestID+"/decline", w.token, nil, 200, &view)
		if res := nv.result(t, false); !res.Received || res.Valid || res.Error != "access_denied" {
			t.Errorf("the Node verifier after a decline: %+v", res)
		}
	})
	// Requests the wallet side must refuse, fetched and never answered.
	for _, c := range []struct{ tamper, method string }{
		{"bad_signature", "get"}, {"wrong_client_id", "get"}, {"client_id_mismatch", "get"}, {"no_wallet_nonce_echo", "post"},
		{"transaction_data", "get"}, {"redirect", "get"}, {"expired", "get"},
	} {
		t.Run(c.tamper, func(t *testing.T) {
			nv := startNodeVerifier(t, caFile, config(openid4vp.PrefixX509SANDNS, openid4vp.DirectPost, c.method, c.tamper))
			resp := h.request("POST", `/v1/me/requests:resolve`, w.token, "application/json", mustJSON(t, api.ResolveRequest{QR: nv.first.Link}))
			body := readAll(t, resp)
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("resolve: %d %s", resp.StatusCode, body)
			}
			res := nv.result(t, c.tamper != "transaction_data")
			if len(res.RequestFetches) == 0 {
				t.Errorf("the request was never fetched: %+v", res)
			}
			switch {
			case c.tamper == "transaction_data" && (res.Error != "invalid_transaction_data" || res.Valid):
				t.Errorf("transaction_data: the verifier was told %+v", res)
			case c.tamper != "transaction_data" && res.Received:
				t.Errorf("%s: something was sent: %+v", c.tamper, res)
			case c.tamper == "redirect" && len(res.RequestFetches) != 1:
				t.Errorf("the redirect was followed: %+v", res.RequestFetches)
			}
		})
	}
}
