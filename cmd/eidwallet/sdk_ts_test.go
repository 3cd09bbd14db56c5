package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
)

// The verifier integration kit (issue 13 item 5): sdk/ts, the TypeScript
// client, runs its own tests (`npm test`) against this server, started
// through run() on 127.0.0.1.

const sdkTSDir = "../../sdk/ts"

// kitWorld is what the kit's tests are given: a server with two issuers,
// a verifier "bank" and its key, a citizen with two documents.
type kitWorld struct {
	t      *testing.T
	ctx    context.Context
	url    string
	admin  *client.Admin
	token  string // admin
	holder *client.Holder
	creds  map[string]string // type → the citizen's credential id
	key    string            // bank's verifier API key
	vss    *client.Issuer
}

func newKitWorld(t *testing.T, flags ...string) *kitWorld {
	t.Helper()
	ctx := context.Background()
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, &syncBuffer{}, flags...)
	t.Cleanup(srv.stop)
	token, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(srv.url)
	w := &kitWorld{t: t, ctx: ctx, url: srv.url, token: strings.TrimSpace(string(token)), creds: map[string]string{}}
	w.admin = c.Admin(w.token)
	issuers := map[string]*client.Issuer{}
	for _, is := range []api.CreateIssuerRequest{
		{ID: "mps", Name: "Ministry of Public Security", Types: []string{credentials.NationalID}},
		{ID: "vss", Name: "Social Security Agency", Types: []string{"health_insurance"}},
	} {
		must(w.admin.CreateIssuer(ctx, is))
		k := must(w.admin.CreateIssuerAPIKey(ctx, is.ID))
		issuers[is.Types[0]] = c.Issuer(k.Key)
	}
	w.vss = issuers["health_insurance"]
	bank := must(w.admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "bank", Name: "Example Bank", Category: "bank",
		Claims: map[string][]string{credentials.NationalID: {"full_name", "age_over_18"}, "health_insurance": {"card_number"}}}))
	w.key = bank.APIKey.Key
	must(w.admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "other-bank", Name: "Other Bank", Category: "bank",
		Claims: map[string][]string{credentials.NationalID: {"full_name"}}}))

	code := must(w.admin.CreateActivationCode(ctx, citizenA))
	w.holder = c.Holder(must(client.NewDevice("phone")))
	must(w.holder.Enroll(ctx, citizenA, code.Code))
	for typ, is := range issuers {
		r := must(is.Issue(ctx, api.IssueRequest{CitizenID: citizenA, Type: typ, Claims: claimsA[typ], ValidUntil: time.Now().AddDate(1, 0, 0)}))
		w.creds[typ] = r.CredentialID
	}
	return w
}

// share makes and approves a share of the citizen's claims, by type.
func (w *kitWorld) share(claims map[string][]string, req api.ShareRequest) *api.ShareView {
	w.t.Helper()
	for typ, names := range claims {
		req.Items = append(req.Items, api.ShareRequestItem{CredentialID: w.creds[typ], Claims: names})
	}
	v, err := w.holder.ShareAndApprove(w.ctx, req)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

// answer approves a request the citizen was shown with every claim it
// asks, or declines it.
func (w *kitWorld) answer(ctx context.Context, view *api.RequestView, decline bool) (*api.RequestView, error) {
	if decline {
		return w.holder.DeclineRequest(ctx, view.RequestID)
	}
	byType := map[string][]string{}
	var order []string
	for _, c := range view.Claims {
		if byType[c.Type] == nil {
			order = append(order, c.Type)
		}
		byType[c.Type] = append(byType[c.Type], c.Claim)
	}
	var items []api.ShareRequestItem
	for _, typ := range order {
		items = append(items, api.ShareRequestItem{CredentialID: w.creds[typ], Claims: byType[typ]})
	}
	return w.holder.AnswerRequest(ctx, view, items)
}

// harness serves, on 127.0.0.1, what the kit's tests cannot do as a
// verifier: the citizen's app (share, scan, presence, answer) and the
// operator (webhook, origins), each through the client package against
// the same server. A failure is a 500 with its text.
func (w *kitWorld) harness() string {
	w.t.Helper()
	mux := http.NewServeMux()
	route := func(pattern string, f func(ctx context.Context, body []byte) (any, error)) {
		mux.HandleFunc(pattern, func(rw http.ResponseWriter, r *http.Request) {
			var body bytes.Buffer
			_, _ = body.ReadFrom(r.Body)
			out, err := f(r.Context(), body.Bytes())
			if err != nil {
				http.Error(rw, err.Error(), http.StatusInternalServerError)
				return
			}
			b, _ := json.Marshal(out)
			rw.Header().Set("Content-Type", "application/json")
			_, _ = rw.Write(b)
		})
	}
	route("POST /share", func(ctx context.Context, body []byte) (any, error) {
		var in struct {
			Claims map[string][]string `json:"claims"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		var req api.ShareRequest
		for typ, names := range in.Claims {
			req.Items = append(req.Items, api.ShareRequestItem{CredentialID: w.creds[typ], Claims: names})
		}
		return w.holder.ShareAndApprove(ctx, req)
	})
	route("POST /scan", func(ctx context.Context, body []byte) (any, error) {
		var in struct {
			QR      string `json:"qr"`
			Decline bool   `json:"decline"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		view, err := w.holder.Resolve(ctx, in.QR)
		if err != nil {
			return nil, err
		}
		return w.answer(ctx, view, in.Decline)
	})
	route("POST /presence", func(ctx context.Context, _ []byte) (any, error) { return w.holder.Presence(ctx) })
	route("POST /answer", func(ctx context.Context, body []byte) (any, error) {
		var in struct {
			RequestID string `json:"request_id"`
			Decline   bool   `json:"decline"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		view, err := w.holder.GetRequest(ctx, in.RequestID)
		if err != nil {
			return nil, err
		}
		return w.answer(ctx, view, in.Decline)
	})
	route("PUT /webhook", func(ctx context.Context, body []byte) (any, error) {
		var in api.WebhookRequest
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		return w.admin.SetVerifierWebhook(ctx, "bank", in.URL)
	})
	route("PUT /origins", func(ctx context.Context, body []byte) (any, error) {
		// The client package has no call for it: the operator's HTTP route.
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, w.url+"/v1/admin/verifiers/bank/origins", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+w.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("PUT origins: %d %s", resp.StatusCode, out.String())
		}
		return jsontext.Value(out.Bytes()), nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	w.t.Cleanup(func() { _ = hs.Close() })
	return "http://" + ln.Addr().String()
}

// needKit skips the test when the kit cannot be built here.
func needKit(t *testing.T) {
	t.Helper()
	for _, prog := range []string{"node", "npm"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s not installed: the TypeScript kit's tests are skipped (apt-get install -y nodejs npm)", prog)
		}
	}
	if _, err := os.Stat(filepath.Join(sdkTSDir, "node_modules", "typescript", "package.json")); err != nil {
		t.Skip("the kit's dev dependencies are not installed: npm ci --prefix sdk/ts (make interop-deps)")
	}
}

// TestTypeScriptKit runs sdk/ts's `npm test` against the real server: its
// own tests (errors, event streams, webhook signatures, its types held to
// docs/openapi.json) and those that verify real codes — a valid one with
// only the disclosed claims, a second redemption 409, a bad key 401, each
// refusal with its reason, requests followed by long-poll and events, a
// real webhook delivery whose signature holds and fails when tampered,
// CORS. It fails if any of them fails or is skipped.
func TestTypeScriptKit(t *testing.T) {
	needKit(t)
	w := newKitWorld(t, "--dev-loopback-webhooks") // the tests' webhook receiver is on 127.0.0.1
	ctx := w.ctx
	nid := credentials.NationalID

	once := w.share(map[string][]string{nid: {"full_name", "age_over_18"}}, api.ShareRequest{})
	other := w.share(map[string][]string{nid: {"full_name"}}, api.ShareRequest{VerifierID: "other-bank"})
	unregistered := w.share(map[string][]string{nid: {"full_name", "birth_date"}}, api.ShareRequest{})
	cancelled := w.share(map[string][]string{nid: {"full_name"}}, api.ShareRequest{})
	if err := w.holder.CancelShare(ctx, cancelled.ShareID); err != nil {
		t.Fatal(err)
	}
	revoked := w.share(map[string][]string{"health_insurance": {"card_number"}}, api.ShareRequest{})
	if _, err := w.vss.SetStatus(ctx, w.creds["health_insurance"], api.StatusRequest{Status: api.StatusRevoked, Reason: "card lost"}); err != nil {
		t.Fatal(err)
	}
	expired := w.share(map[string][]string{nid: {"full_name"}}, api.ShareRequest{TTLSeconds: 1})
	harness := w.harness()
	time.Sleep(time.Until(expired.ExpiresAt) + 100*time.Millisecond)

	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "test")
	cmd.Dir = sdkTSDir
	cmd.Env = append(os.Environ(),
		"EIDWALLET_URL="+w.url,
		"EIDWALLET_VERIFIER_KEY="+w.key,
		"EIDWALLET_VERIFIER_ID=bank",
		"EIDWALLET_QR="+once.QRText,
		"EIDWALLET_QR_OTHER_VERIFIER="+other.QRText,
		"EIDWALLET_QR_UNREGISTERED="+unregistered.QRText,
		"EIDWALLET_QR_CANCELLED="+cancelled.QRText,
		"EIDWALLET_QR_EXPIRED="+expired.QRText,
		"EIDWALLET_QR_REVOKED="+revoked.QRText,
		"EIDWALLET_TEST_HARNESS="+harness,
		"NO_COLOR=1",
	)
	out, err := cmd.CombinedOutput()
	t.Logf("npm test in sdk/ts:\n%s", out)
	if err != nil {
		t.Fatalf("npm test: %v", err)
	}
	for _, want := range []string{`(?m)^# fail 0$`, `(?m)^# cancelled 0$`, `(?m)^ok \d+ - against a real server$`,
		`(?m)^    ok \d+ - a valid QR verifies`} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("the output has no line matching %s", want)
		}
	}
	if bytes.Contains(out, []byte("# SKIP")) || bytes.Contains(out, []byte("# TODO")) {
		t.Error("a kit test was skipped: every one must run against the server")
	}
}
