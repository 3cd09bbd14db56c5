package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/go-json-experiment/json"
	"github.com/prometheus/client_golang/prometheus"
)

// publicURL is the service's own URL in tests: the aud of assertions and
// the base of issuer and status list URIs. Requests go to the httptest
// server whatever it is.
const publicURL = "https://wallet.test"

// clock is a settable clock shared by the service and the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	discard bool // drop what is written (long streams)
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.discard {
		return len(p), nil
	}
	return s.b.Write(p)
}

// Discard stops keeping log output, so a long test's heap is the server's.
func (s *syncBuffer) Discard() {
	s.mu.Lock()
	s.discard = true
	s.b = bytes.Buffer{}
	s.mu.Unlock()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is the real service over a real bolt store behind the real
// handler on a loopback listener.
type harness struct {
	t       *testing.T
	url     string
	handler http.Handler
	svc     *wallet.Service
	clock   *clock
	reg     *prometheus.Registry
	logs    *syncBuffer
	admin   string
	client  *http.Client     // trusts the server's certificate
	public  string           // the service's public URL
	cert    *tls.Certificate // the TLS certificate, if it serves TLS (startHarness)
}

func newHarness(t *testing.T, configure ...func(*server.Config)) *harness {
	t.Helper()
	return newHarnessOver(t, servicetest.Open(t), configure...)
}

// newHarnessOver is newHarness over the given store (a fault-injecting
// wrapper of the real one, for instance).
func newHarnessOver(t *testing.T, store wallet.Store, configure ...func(*server.Config)) *harness {
	t.Helper()
	return startHarness(t, store, nil, configure...)
}

// startHarness is newHarnessOver, serving over TLS with cert when it is
// not nil: then the public URL is https://localhost on the port the
// server listens on (127.0.0.1), so that clients outside this process
// (the Node interop wallet) reach the service at its own URL.
func startHarness(t *testing.T, store wallet.Store, cert *tls.Certificate, configure ...func(*server.Config)) *harness {
	t.Helper()
	return startHarnessWith(t, wallet.Config{Store: store}, cert, configure...)
}

// startHarnessWith is startHarness with more of the service's
// configuration (its store among it).
func startHarnessWith(t *testing.T, wcfg wallet.Config, cert *tls.Certificate, configure ...func(*server.Config)) *harness {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	t.Cleanup(ts.Close)
	public := publicURL
	if cert != nil {
		// The service talks to itself and to local peers over loopback
		// TLS with cert: its outbound rules allow loopback, and trust cert.
		public = fmt.Sprintf("https://localhost:%d", ts.Listener.Addr().(*net.TCPAddr).Port)
		roots := x509.NewCertPool()
		roots.AddCert(must(x509.ParseCertificate(cert.Certificate[0])))
		wcfg.AllowLoopbackWebhooks, wcfg.OutboundRoots = true, roots
	}
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	logs := &syncBuffer{}
	logger := slog.New(server.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	wcfg.PublicURL, wcfg.Now, wcfg.Logger = public, clk.Now, logger
	if wcfg.Store == nil {
		wcfg.Store = servicetest.Open(t)
	}
	svc, _ := servicetest.New(t, wcfg)
	admin, err := svc.BootstrapAdmin(ctx)
	if err != nil || admin == "" {
		t.Fatalf("bootstrap admin: %q %v", admin, err)
	}
	reg := prometheus.NewRegistry()
	cfg := server.Config{Service: svc, Logger: logger, Registerer: reg, Gatherer: reg, Now: clk.Now}
	for _, f := range configure {
		f(&cfg)
	}
	h := server.New(cfg)
	ts.Config.Handler = h
	if cert != nil {
		ts.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		ts.StartTLS()
	} else {
		ts.Start()
	}
	return &harness{t: t, url: ts.URL, handler: h, svc: svc, clock: clk, reg: reg, logs: logs, admin: admin, client: ts.Client(), public: public,
		cert: cert}
}

// request sends a raw request. body may be nil.
func (h *harness) request(method, path, bearer, contentType string, body []byte) *http.Response {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// call sends in as JSON (nil: no body), expects status want, and decodes
// the answer into out (when not nil). It returns the response, its body
// read and closed.
func (h *harness) call(method, path, bearer string, in any, want int, out any) (*http.Response, []byte) {
	h.t.Helper()
	var body []byte
	ct := ""
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			h.t.Fatal(err)
		}
		ct = "application/json"
	}
	resp := h.request(method, path, bearer, ct, body)
	raw := readAll(h.t, resp)
	if resp.StatusCode != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp, raw
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apiError is the SPEC §5 error body.
type apiError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Reason      string `json:"reason"`
}

// wantError checks an error answer: status, code and JSON shape.
func wantError(t *testing.T, resp *http.Response, status int, code string) apiError {
	t.Helper()
	raw := readAll(t, resp)
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	var e apiError
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("error body %s: %v", raw, err)
	}
	if e.Error != code || e.Description == "" {
		t.Fatalf("error %+v, want code %s with a description", e, code)
	}
	return e
}

// world is a small deployment: an issuer, a verifier, and one enrolled
// citizen holding one credential.
type world struct {
	issuerID, issuerKey     string
	verifierID, verifierKey string
	citizen                 string
	device                  *ecdsa.PrivateKey
	deviceID, holderID      string
	token                   string // holder access token
	credential              api.IssueResponse
}

const (
	testCitizen  = "012345678901"
	testFullName = "Nguyen Thi Testcase"
	testCard     = "HI-4012-9981-7"
)

func healthClaims(name string) map[string]any {
	return map[string]any{
		"card_number":  testCard,
		"full_name":    name,
		"birth_date":   "1990-04-17",
		"insured_from": "2025-01-01",
	}
}

// setup builds the world through the API, as the demo would.
func (h *harness) setup() *world {
	h.t.Helper()
	w := &world{issuerID: "vss", citizen: testCitizen}
	h.call("POST", "/v1/admin/issuers", h.admin, api.CreateIssuerRequest{
		ID: w.issuerID, Name: "Social Security", Types: []string{credentials.HealthInsurance}}, 201, nil)
	var ik api.NewAPIKey
	h.call("POST", "/v1/admin/issuers/vss/api-keys", h.admin, nil, 201, &ik)
	w.issuerKey = ik.Key

	var vv api.VerifierView
	h.call("POST", "/v1/admin/verifiers", h.admin, api.CreateVerifierRequest{
		ID: "pharmacy", Name: "Corner Pharmacy", Category: "pharmacy",
		Claims: map[string][]string{credentials.HealthInsurance: {"full_name", "card_number"}}}, 201, &vv)
	if vv.APIKey == nil {
		h.t.Fatal("verifier created without an API key")
	}
	w.verifierID, w.verifierKey = vv.ID, vv.APIKey.Key

	w.enroll(h)
	h.call("POST", "/v1/issuer/credentials", w.issuerKey, api.IssueRequest{
		CitizenID: w.citizen, Type: credentials.HealthInsurance, Claims: healthClaims(testFullName),
		ExpiresAt: h.clock.Now().AddDate(1, 0, 0)}, 201, &w.credential)
	return w
}

// enroll makes a device key, enrols it with an activation code and gets
// an access token.
func (w *world) enroll(h *harness) {
	h.t.Helper()
	var code api.ActivationCodeResponse
	h.call("POST", "/v1/admin/activation-codes", h.admin, api.ActivationCodeRequest{CitizenID: w.citizen}, 201, &code)
	dev, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	jwk, err := credentials.PublicJWK(&dev.PublicKey)
	if err != nil {
		h.t.Fatal(err)
	}
	jwkJSON, err := json.Marshal(jwk)
	if err != nil {
		h.t.Fatal(err)
	}
	var enrolled api.EnrollResponse
	h.call("POST", "/v1/enrollments", "", api.EnrollRequest{
		CitizenID: w.citizen, ActivationCode: code.Code, DeviceKey: jwkJSON, DeviceName: "test phone"}, 201, &enrolled)
	w.device, w.deviceID, w.holderID = dev, enrolled.DeviceID, enrolled.HolderID

	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {w.assertion(h)}}
	resp := h.request("POST", "/v1/token", "", "application/x-www-form-urlencoded", []byte(form.Encode()))
	raw := readAll(h.t, resp)
	if resp.StatusCode != 200 {
		h.t.Fatalf("token: %d %s", resp.StatusCode, raw)
	}
	var tok api.TokenResponse
	if err := json.Unmarshal(raw, &tok); err != nil {
		h.t.Fatal(err)
	}
	w.token = tok.AccessToken
}

// assertion is a device-signed RFC 7523 assertion for the token endpoint.
func (w *world) assertion(h *harness) string {
	h.t.Helper()
	now := h.clock.Now()
	a, err := credentials.SignJWT(w.device, "", "", map[string]any{
		"iss": w.deviceID, "sub": w.deviceID, "aud": h.svc.TokenEndpoint(),
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": rand.Text(),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

// share creates and approves a share of the world's credential and
// returns its id and QR text.
func (w *world) share(h *harness, claims ...string) (id, qrText string) {
	h.t.Helper()
	var created api.ShareCreated
	h.call("POST", "/v1/me/shares", w.token, api.ShareRequest{
		Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: claims}}}, 201, &created)
	var kbs []string
	for _, ts := range created.ToSign {
		kb, err := credentials.SignKB(w.device, credentials.KB{Nonce: ts.Nonce, Aud: ts.Aud, IssuedAt: h.clock.Now().Unix(), SDHash: ts.SDHash})
		if err != nil {
			h.t.Fatal(err)
		}
		kbs = append(kbs, kb)
	}
	var view api.ShareView
	h.call("POST", "/v1/me/shares/"+created.ShareID+"/approve", w.token, api.ApproveRequest{KBJWTs: kbs}, 200, &view)
	if view.QRText == "" {
		h.t.Fatalf("approved share without qr_text: %+v", view)
	}
	return created.ShareID, view.QRText
}

// metric returns the text exposition lines of /metrics containing name.
func (h *harness) metric(name string) string {
	h.t.Helper()
	resp := h.request("GET", "/metrics", "", "", nil)
	raw := readAll(h.t, resp)
	var out []string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, name) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// must returns v, or fails the test by panicking on err (for one-line
// setup calls; a panic fails the test with its stack).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
