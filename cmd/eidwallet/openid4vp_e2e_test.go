package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/openid4vp"
)

// OpenID4VP end to end through run() (issue 11): the server started as an
// operator would, over TLS at https://localhost, and the OpenWallet
// Foundation's wallet (openid4vp/testdata/interop/wallet.mjs) as the
// citizen's standard wallet: the verifier makes the request over the API,
// the Node wallet fetches it, checks it and answers, and the verifier's
// long-poll gets the result; then the OpenWallet Foundation's verifier
// (verifier.mjs), its CA given as --verifier-trust-anchors, asks our
// citizen, who resolves, prepares and approves through the client, and it
// validates what the service posted.

const oid4vpInteropDir = "../../openid4vp/testdata/interop"

// tlsFiles writes a self-signed certificate for localhost and 127.0.0.1
// and its key, and returns the files and the certificate.
func tlsFiles(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return certFile, keyFile, cert
}

// freePort is a port of 127.0.0.1 nothing listens on now (the public URL
// must name the port before the server starts).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestOpenID4VPThroughRun(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed (apt-get install -y nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(oid4vpInteropDir, "node_modules")); err != nil {
		t.Skip("interop packages not installed: npm ci --prefix openid4vp/testdata/interop")
	}
	ctx := context.Background()
	certFile, keyFile, cert := tlsFiles(t)
	port := freePort(t)
	public := fmt.Sprintf("https://localhost:%d", port)
	dataDir := t.TempDir()
	logs := &syncBuffer{}
	// The Node verifier's CA, which the operator trusts for the wallet side.
	bankCA, bankLeaf, bankKey := bankCertificates(t)
	anchors := filepath.Join(t.TempDir(), "anchors.pem")
	if err := os.WriteFile(anchors, []byte(bankCA), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, dataDir, logs, "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--tls-cert", certFile, "--tls-key", keyFile,
		"--public-url", public, "--outbound-ca", certFile, "--verifier-trust-anchors", anchors, "--dev-loopback-webhooks")
	defer srv.stop()
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	c := client.New(public, client.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}))
	adminToken, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := c.Admin(string(bytes.TrimSpace(adminToken)))

	// The world, over the API: an insurer, a pharmacy, a citizen with a card.
	if _, err := admin.CreateIssuer(ctx, api.CreateIssuerRequest{ID: "vss", Name: "Social Security", Types: []string{credentials.HealthInsurance}}); err != nil {
		t.Fatal(err)
	}
	ik, err := admin.CreateIssuerAPIKey(ctx, "vss")
	if err != nil {
		t.Fatal(err)
	}
	vv, err := admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "pharmacy", Name: "Corner Pharmacy", Category: "pharmacy",
		Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}})
	if err != nil {
		t.Fatal(err)
	}
	code, err := admin.CreateActivationCode(ctx, citizenA)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := client.NewDevice("phone")
	if err != nil {
		t.Fatal(err)
	}
	holder := c.Holder(dev)
	if _, err := holder.Enroll(ctx, citizenA, code.Code); err != nil {
		t.Fatal(err)
	}
	issued, err := c.Issuer(ik.Key).Issue(ctx, api.IssueRequest{CitizenID: citizenA, Type: credentials.HealthInsurance,
		Claims: claimsA[credentials.HealthInsurance], ExpiresAt: time.Now().AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := holder.ExportCredential(ctx, issued.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	verifier := c.Verifier(vv.APIKey.Key)
	caPEM, err := c.VerifierCA(ctx)
	if err != nil {
		t.Fatal(err)
	}

	req, err := verifier.CreateRequest(ctx, api.CreateRequestRequest{Protocol: api.ProtocolOpenID4VP, Purpose: "Prescription pickup",
		Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}})
	if err != nil {
		t.Fatal(err)
	}
	key := dev.Key.(*ecdsa.PrivateKey)
	pub, _ := key.PublicKey.Bytes()
	enc := base64.RawURLEncoding.EncodeToString
	in, _ := json.Marshal(map[string]any{"link": req.QRText, "trust_anchor_pem": string(caPEM),
		"credentials": []map[string]any{{"sdjwt": exp.SDJWT, "holder_jwk": map[string]string{"kty": "EC", "crv": "P-256",
			"x": enc(pub[1:33]), "y": enc(pub[33:]), "d": enc(must(key.Bytes()))}}}})
	cmd := exec.Command("node", "wallet.mjs")
	cmd.Dir = oid4vpInteropDir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+certFile)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("wallet.mjs: %v\n%s", err, stderr.String())
	}
	var ans struct {
		OK     bool   `json:"ok"`
		Status int    `json:"status"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal(out, &ans); err != nil || !ans.OK || ans.Status != 200 {
		t.Fatalf("the Node wallet: %s (%v)", out, err)
	}
	res, err := verifier.Request(ctx, req.RequestID, 10*time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != api.RequestApproved || res.Result == nil || len(res.Result.Documents) != 1 {
		t.Fatalf("the verifier's long-poll: %+v", res)
	}
	var doc api.Document
	if err := json.Unmarshal(must(json.Marshal(res.Result.Documents[0])), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Claims["full_name"] != claimsA[credentials.HealthInsurance]["full_name"] || len(doc.Claims) != 1 || doc.KeyBinding.Aud != req.ClientID {
		t.Errorf("document: %+v", doc)
	}

	// The other way: the Node verifier asks our citizen, through the app.
	certPEM, _ := os.ReadFile(certFile)
	keyPEM, _ := os.ReadFile(keyFile)
	jwks, err := c.IssuerJWKS(ctx, "vss")
	if err != nil {
		t.Fatal(err)
	}
	vct := ""
	for _, ty := range credentials.BuiltinTypes() {
		if ty.ID == credentials.HealthInsurance {
			vct = ty.VCT
		}
	}
	config, _ := json.Marshal(map[string]any{"tls_cert_pem": string(certPEM), "tls_key_pem": string(keyPEM), "port": 0,
		"client_id_prefix": "x509_san_dns", "response_mode": "direct_post.jwt", "request_uri_method": "post",
		"signing":     map[string]any{"cert_chain_pem": []string{bankLeaf, bankCA}, "key_pem": bankKey},
		"dcql_query":  jsontext.Value(`{"credentials":[{"id":"card","format":"dc+sd-jwt","meta":{"vct_values":["` + vct + `"]},"claims":[{"path":["full_name"]}]}]}`),
		"issuer_jwks": jsontext.Value(jwks), "issuer": public + "/issuers/vss", "status": "check", "timeout_seconds": 30})
	nv := exec.Command("node", "verifier.mjs")
	nv.Dir = oid4vpInteropDir
	nv.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+certFile)
	nv.Stdin = bytes.NewReader(config)
	nvOut, err := nv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	nv.Stderr = os.Stderr
	if err := nv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = nv.Process.Kill(); _ = nv.Wait() }()
	lines := bufio.NewReader(nvOut)
	var first struct {
		Link string `json:"link"`
	}
	line, err := lines.ReadBytes('\n')
	if err != nil || json.Unmarshal(line, &first) != nil || first.Link == "" {
		t.Fatalf("verifier.mjs: %s %v", line, err)
	}
	view, err := holder.Resolve(ctx, first.Link)
	if err != nil {
		t.Fatal(err)
	}
	if view.Verified == nil || !*view.Verified || view.Verifier.Name != "Example Bank" {
		t.Fatalf("resolved: %+v", view)
	}
	prep, err := holder.PrepareRequest(ctx, view.RequestID, api.PrepareRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if view, err = holder.ApproveRequest(ctx, prep); err != nil || view.Status != api.RequestApproved {
		t.Fatalf("approve: %+v %v", view, err)
	}
	line, err = lines.ReadBytes('\n')
	var got struct {
		Valid  bool                      `json:"valid"`
		Error  string                    `json:"error"`
		Claims map[string]map[string]any `json:"claims"`
	}
	if err != nil || json.Unmarshal(line, &got) != nil || !got.Valid || got.Claims["card"]["full_name"] != claimsA[credentials.HealthInsurance]["full_name"] {
		t.Fatalf("the Node verifier: %s %v", line, err)
	}
}

// bankCertificates are a verifier's CA, its certificate for localhost and
// its key, PEM.
func bankCertificates(t *testing.T) (caPEM, leafPEM, keyPEM string) {
	t.Helper()
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caDER, err := openid4vp.NewCA(caKey, "Bank CA", now, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf, err := openid4vp.IssueLeaf(ca, caKey, &key.PublicKey, "Example Bank", "localhost", now, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	enc := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	return enc("CERTIFICATE", caDER), enc("CERTIFICATE", leaf), enc("PRIVATE KEY", pk)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
