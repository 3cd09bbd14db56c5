package main

import (
	"bytes"
	"context"
	"errors"
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
		r := must(is.Issue(ctx, api.IssueRequest{CitizenID: citizenA, Type: typ, Claims: claimsA[typ], ExpiresAt: time.Now().AddDate(1, 0, 0)}))
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
		if in.URL == nil {
			return nil, errors.New("url is required")
		}
		return w.admin.SetVerifierWebhook(ctx, "bank", *in.URL)
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

// The integration guide (docs/integrate.md) is run as written.

const guidePath = "../../docs/integrate.md"

// fence is one fenced block of a Markdown page: its info string and text.
type fence struct{ info, text string }

// fences returns the fenced blocks of md in order.
func fences(md string) []fence {
	var out []fence
	var cur *fence
	for line := range strings.Lines(md) {
		trimmed := strings.TrimRight(line, "\n")
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &fence{info: strings.TrimPrefix(trimmed, "```")}
		case cur != nil && trimmed == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line
		}
	}
	return out
}

// goProgram builds a guide's Go program as an integrator would: its own
// module, requiring this one through a replace directive, offline.
func goProgram(t *testing.T, dir, name, src string) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(dir, "src-"+name)
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	gomod := "module example.com/bank/" + name + "\n\ngo 1.26\n\nrequire github.com/eidwallet/eidwallet v0.0.0\n\nreplace github.com/eidwallet/eidwallet => " + root + "\n"
	for file, b := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(src)} {
		if err := os.WriteFile(filepath.Join(mod, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the guide's %s program: %v\n%s", name, err, out)
	}
	return bin
}

// lineWriter collects a program's output and signals each line.
type lineWriter struct {
	buf   syncBuffer
	lines chan string
	part  []byte
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 100)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	_, _ = w.buf.Write(p)
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- string(w.part[:i])
		w.part = w.part[i+1:]
	}
}

// next is the program's next line, within d.
func (w *lineWriter) next(t *testing.T, d time.Duration) string {
	t.Helper()
	return within(t, w.lines, d, "a line of output")
}

// start runs a program in the background, stopped when the test ends.
func startProgram(t *testing.T, env []string, name string, args ...string) *lineWriter {
	t.Helper()
	out := newLineWriter()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return out
}

// waitListening waits until something accepts connections at addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens at %s", addr)
}

// TestIntegrateGuide runs docs/integrate.md against a sandbox started as
// the guide starts it (--demo --dev-loopback-webhooks): its shell blocks
// in order, in one bash, with bin/eidwallet built; its Go programs built
// in a module of their own (verify: a code redeemed, then refused as
// already redeemed; ask: a request answered by the demo citizen; hook: a
// real webhook delivery accepted and a tampered one refused); its
// TypeScript blocks are the kit's examples, byte for byte, which
// TestTypeScriptKit runs — and the webhook receiver is run here too, as
// its command line says.
func TestIntegrateGuide(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq not installed: the guide's shell blocks use it (apt-get install -y jq)")
	}
	md, err := os.ReadFile(guidePath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	srv := startServer(t, dataDir, &syncBuffer{}, "--demo", "--dev-loopback-webhooks")
	t.Cleanup(srv.stop)
	hookAddr := freeAddr(t)
	// The guide's sandbox addresses, here.
	local := strings.NewReplacer("http://127.0.0.1:8080", srv.url, "127.0.0.1:8081", hookAddr)

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	programs := map[string]string{}
	examples := map[string]bool{}
	for _, f := range fences(string(md)) {
		switch f.info {
		case "sh":
			script.WriteString(local.Replace(f.text))
		case "go":
			first, _, _ := strings.Cut(f.text, "\n")
			name, ok := strings.CutPrefix(first, "// Command ")
			name, _, _ = strings.Cut(name, " ")
			if !ok || programs[name] != "" {
				t.Fatalf("a Go block that is not a named program: %q", first)
			}
			programs[name] = local.Replace(f.text)
		case "ts":
			first, _, _ := strings.Cut(f.text, "\n")
			m := regexp.MustCompile(`node build/examples/([a-z-]+)\.js`).FindStringSubmatch(first)
			if m == nil {
				t.Fatalf("a TypeScript block that is not one of sdk/ts/examples: %q", first)
			}
			src, err := os.ReadFile(filepath.Join(sdkTSDir, "examples", m[1]+".ts"))
			if err != nil {
				t.Fatal(err)
			}
			if string(src) != f.text {
				t.Errorf("the guide's %s differs from sdk/ts/examples/%s.ts", m[1], m[1])
			}
			examples[m[1]] = true
		case "json", "console":
		default:
			t.Errorf("a block of %q: the test does not know how to run it", f.info)
		}
	}
	if len(examples) != 3 || len(programs) != 3 {
		t.Fatalf("the guide has TypeScript examples %v and Go programs %v, want 3 of each", examples, programs)
	}
	// What the later steps need of the script's.
	script.WriteString(`printf '%s\n%s\n' "$VERIFIER_KEY" "$SECRET" > guide-vars` + "\n")

	bin := filepath.Join(dir, "bin", "eidwallet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("shell", func(t *testing.T) {
		cmd := exec.Command("bash", "-c", script.String())
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		t.Logf("the guide's shell blocks:\n%s", out)
		if err != nil {
			t.Fatalf("bash: %v", err)
		}
		for _, want := range []string{
			`(?m)^EID1:[A-Z2-7]{26}$`,
			`\{"result":"valid","share_id":"shr_[^"]+","verified_at":"[^"]+","verifier":\{"id":"bank","name":"Example Bank"\}`,
			`"claims":\{"age_over_18":true,"full_name":"Nguyen Van Mau"\}`,
			`\{"error":"share_already_redeemed","error_description":"the share was already used"\}`,
			`\{"valid":true,"issuer":"[^"]+/issuers/mps","vct":"urn:eidwallet:vct:national_id:1","disclosed":\["age_over_18","full_name"\]`,
			`"result":"share_already_redeemed"`,
			`"claims":\["national_id.age_over_18","national_id.full_name"\]`,
			`"status":"approved".*"claims":\{"age_over_18":true\}`,
			`event: status\ndata: \{"request_id":"req_[^"]+","status":"approved"`,
			`(?i)access-control-allow-origin: https://teller.bank.example`,
		} {
			if !regexp.MustCompile(want).Match(out) {
				t.Errorf("the shell blocks' output has nothing matching %s", want)
			}
		}
	})
	vars, err := os.ReadFile(filepath.Join(dir, "guide-vars"))
	if err != nil {
		t.Fatal(err)
	}
	key, secret, _ := strings.Cut(strings.TrimSpace(string(vars)), "\n")
	if key == "" || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the script left key %q and secret %q", key, secret)
	}
	env := []string{"EIDWALLET_URL=" + srv.url, "VERIFIER_KEY=" + key, "WEBHOOK_SECRET=" + secret}

	// The demo citizen's phone, as the CLI left it.
	dev, err := client.LoadDevice(filepath.Join(dataDir, "demo-device.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(srv.url)
	citizen := c.Holder(dev)
	creds, err := citizen.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idCard := ""
	for _, cr := range creds {
		if cr.Type == credentials.NationalID {
			idCard = cr.ID
		}
	}
	approve := func(t *testing.T, qrText string) {
		t.Helper()
		view, err := citizen.Resolve(ctx, qrText)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := citizen.AnswerRequest(ctx, view, []api.ShareRequestItem{{CredentialID: idCard, Claims: []string{"age_over_18"}}}); err != nil {
			t.Fatal(err)
		}
	}
	// request makes a request as the bank and has the citizen approve it.
	request := func(t *testing.T) string {
		t.Helper()
		r, err := c.Verifier(key).CreateRequest(ctx, api.CreateRequestRequest{Claims: map[string][]string{credentials.NationalID: {"age_over_18"}}, Purpose: "Webhook"})
		if err != nil {
			t.Fatal(err)
		}
		approve(t, r.QRText)
		return r.RequestID
	}
	progDir := t.TempDir()

	t.Run("go verify", func(t *testing.T) {
		verify := goProgram(t, progDir, "verify", programs["verify"])
		share, err := citizen.ShareAndApprove(ctx, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: idCard, Claims: []string{"full_name"}}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []struct {
			out  string
			code int
		}{
			{"national_id from Ministry of Public Security (demo): {\"full_name\":\"Nguyen Van Mau\"}\n", 0},
			{"refused: share_already_redeemed\n", 1},
		} {
			cmd := exec.Command(verify, share.QRText)
			cmd.Env = append(os.Environ(), env...)
			out, _ := cmd.Output()
			if string(out) != want.out || cmd.ProcessState.ExitCode() != want.code {
				t.Errorf("verify printed %q and exited %d, want %q and %d", out, cmd.ProcessState.ExitCode(), want.out, want.code)
			}
		}
	})

	t.Run("go ask", func(t *testing.T) {
		out := startProgram(t, env, goProgram(t, progDir, "ask", programs["ask"]))
		code := out.next(t, 10*time.Second)
		if !strings.HasPrefix(code, "EIDR1:") {
			t.Fatalf("ask printed %q first, want the EIDR1: code", code)
		}
		if got := out.next(t, 10*time.Second); got != api.RequestCreated {
			t.Fatalf("ask printed %q, want created", got)
		}
		approve(t, code)
		for {
			line := out.next(t, 10*time.Second)
			if line == api.RequestDelivered {
				continue
			}
			if want := `approved national_id {"age_over_18":true}`; line != want {
				t.Fatalf("ask printed %q, want %q", line, want)
			}
			break
		}
	})

	// deliveries checks that a receiver running at hookAddr prints each
	// approved request's result, and answers a tampered delivery 400.
	deliveries := func(t *testing.T, out *lineWriter) {
		t.Helper()
		waitListening(t, hookAddr)
		id := request(t)
		got := out.next(t, 20*time.Second)
		for !strings.HasPrefix(got, id+" ") { // an earlier subtest's delivery, sent again now that a receiver listens
			got = out.next(t, 20*time.Second)
		}
		if want := id + ` approved [{"age_over_18":true}]`; got != want {
			t.Fatalf("the receiver printed %q, want %q", got, want)
		}
		// A result no delivery brought before, signed: handled once, even
		// sent again under another Webhook-Id (the header is not signed).
		other := id + "x"
		body := []byte(`{"request_id":"` + other + `","status":"declined","expires_at":"2026-12-02T10:00:00Z","nonce":"n"}`)
		sig := api.SignWebhook([]byte(secret), time.Now(), body)
		for _, c := range []struct {
			what string
			body []byte
			sig  string
			want int
		}{
			{"signed with the secret", body, sig, http.StatusNoContent},
			{"the same again, another id", body, sig, http.StatusNoContent},
			{"tampered", bytes.Replace(body, []byte("declined"), []byte("approved"), 1), sig, http.StatusBadRequest},
			{"signed with another secret", body, api.SignWebhook([]byte("whsec_guess"), time.Now(), body), http.StatusBadRequest},
			{"signed an hour ago", body, api.SignWebhook([]byte(secret), time.Now().Add(-time.Hour), body), http.StatusBadRequest},
		} {
			req, _ := http.NewRequest(http.MethodPost, "http://"+hookAddr+"/eidwallet", bytes.NewReader(c.body))
			req.Header.Set(api.SignatureHeader, c.sig)
			req.Header.Set(api.WebhookIDHeader, "whk_test_"+strings.ReplaceAll(c.what, " ", "_"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("%s: %d, want %d", c.what, resp.StatusCode, c.want)
			}
		}
		if got, want := out.next(t, 5*time.Second), other+" declined []"; got != want {
			t.Errorf("after the signed test delivery the receiver printed %q, want %q", got, want)
		}
		// A line of another request is an earlier subtest's delivery, sent
		// again now that a receiver listens; one of the test's result is a
		// replay or a refused delivery handled.
		for quiet := time.After(200 * time.Millisecond); ; {
			select {
			case line := <-out.lines:
				if strings.HasPrefix(line, other+" ") || strings.HasPrefix(line, id+" ") {
					t.Errorf("a replayed or refused delivery was handled: %q", line)
				}
				continue
			case <-quiet:
			}
			break
		}
	}

	t.Run("go hook", func(t *testing.T) {
		hook := goProgram(t, progDir, "hook", programs["hook"])
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		out := newLineWriter()
		cmd := exec.CommandContext(ctx, hook)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		deliveries(t, out)
	})

	t.Run("ts webhook-receiver", func(t *testing.T) {
		needKit(t)
		build := exec.Command("npm", "run", "build")
		build.Dir = sdkTSDir
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("npm run build: %v\n%s", err, out)
		}
		_, port, _ := net.SplitHostPort(hookAddr)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		out := newLineWriter()
		cmd := exec.CommandContext(ctx, "node", filepath.Join(sdkTSDir, "build", "examples", "webhook-receiver.js"))
		cmd.Env = append(os.Environ(), append(env, "PORT="+port)...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		// The TS receiver answers any path; the service posts to /eidwallet.
		deliveries(t, out)
	})

	t.Run("the kit installs from the checkout", func(t *testing.T) {
		needKit(t)
		abs, err := filepath.Abs(sdkTSDir)
		if err != nil {
			t.Fatal(err)
		}
		app := t.TempDir()
		if err := os.WriteFile(filepath.Join(app, "package.json"), []byte(`{"name":"my-app","private":true,"type":"module"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		inst := exec.Command("npm", "install", "--offline", "--no-audit", "--no-fund", abs)
		inst.Dir = app
		if out, err := inst.CombinedOutput(); err != nil {
			t.Fatalf("npm install: %v\n%s", err, out)
		}
		check := exec.Command("node", "--input-type=module", "-e", `
const kit = await import("eidwallet-verifier");
const hook = await import("eidwallet-verifier/webhook");
console.log(typeof kit.VerifierClient, typeof kit.EidwalletError, typeof hook.verifyWebhook);`)
		check.Dir = app
		if out, err := check.CombinedOutput(); err != nil || string(out) != "function function function\n" {
			t.Fatalf("importing the installed kit: %v\n%s", err, out)
		}
	})
}
