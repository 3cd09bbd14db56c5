package main

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/server"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/go-json-experiment/json"
)

// reqWorld is a deployment for the request flows (SPEC §3.4), built over
// HTTP with the client: the identity authority, two shops and three
// enrolled citizens holding an identity card each.
type reqWorld struct {
	t            *testing.T
	ctx          context.Context
	c            *client.Client
	admin        *client.Admin
	s1, s2       *client.Verifier // shop-one may ask full_name, age_over_18, birth_date; shop-two full_name
	s1Key        string
	a, b, c3     *client.Holder
	cardA, cardB string // national_id credential ids
	secrets      []string
}

const (
	reqCitizenA = "001090088001"
	reqCitizenB = "001090088002"
	reqCitizenC = "001090088003"
	reqNameA    = "Tran Thi Requestcase"
)

func newReqWorld(t *testing.T, c *client.Client, adminToken string) *reqWorld {
	t.Helper()
	w := &reqWorld{t: t, ctx: context.Background(), c: c, admin: c.Admin(adminToken), secrets: []string{adminToken}}
	_, err := w.admin.CreateIssuer(w.ctx, api.CreateIssuerRequest{ID: "mps", Name: "Identity Authority", Types: []string{"national_id"}})
	w.must(err)
	ik, err := w.admin.CreateIssuerAPIKey(w.ctx, "mps")
	w.must(err)
	w.secrets = append(w.secrets, ik.Key)
	issuer := c.Issuer(ik.Key)
	for _, v := range []api.CreateVerifierRequest{
		{ID: "shop-one", Name: "Shop One Counter", Category: "retail", Claims: map[string][]string{"national_id": {"full_name", "age_over_18", "birth_date"}}},
		{ID: "shop-two", Name: "Shop Two Counter", Category: "telecom", Claims: map[string][]string{"national_id": {"full_name"}}},
	} {
		vv, err := w.admin.CreateVerifier(w.ctx, v)
		w.must(err)
		w.secrets = append(w.secrets, vv.APIKey.Key)
		if v.ID == "shop-one" {
			w.s1, w.s1Key = c.Verifier(vv.APIKey.Key), vv.APIKey.Key
		} else {
			w.s2 = c.Verifier(vv.APIKey.Key)
		}
	}
	cards := map[string]string{}
	for _, cz := range []struct{ id, name string }{{reqCitizenA, reqNameA}, {reqCitizenB, "Le Van Other"}, {reqCitizenC, "Do Thi Presence"}} {
		r, err := issuer.Issue(w.ctx, api.IssueRequest{CitizenID: cz.id, Type: "national_id", ExpiresAt: time.Now().AddDate(5, 0, 0),
			Claims: map[string]any{"id_number": cz.id, "full_name": cz.name, "birth_date": "1990-02-03", "sex": "F",
				"nationality": "VN", "issue_date": "2022-01-01", "expiry_date": "2037-01-01"}})
		w.must(err)
		cards[cz.id] = r.CredentialID
	}
	w.cardA, w.cardB = cards[reqCitizenA], cards[reqCitizenB]
	w.a, w.b, w.c3 = w.enrol(reqCitizenA), w.enrol(reqCitizenB), w.enrol(reqCitizenC)
	return w
}

func (w *reqWorld) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *reqWorld) enrol(citizen string) *client.Holder {
	w.t.Helper()
	code, err := w.admin.CreateActivationCode(w.ctx, citizen)
	w.must(err)
	w.secrets = append(w.secrets, code.Code)
	dev, err := client.NewDevice("phone " + citizen)
	w.must(err)
	h := w.c.Holder(dev)
	_, err = h.Enroll(w.ctx, citizen, code.Code)
	w.must(err)
	return h
}

// request makes a request of shop-one and keeps its token as a secret.
func (w *reqWorld) request(v *client.Verifier, req api.CreateRequestRequest) *api.CreateRequestResponse {
	w.t.Helper()
	r, err := v.CreateRequest(w.ctx, req)
	w.must(err)
	if r.QRText != "" {
		w.secrets = append(w.secrets, strings.TrimPrefix(r.QRText, "EIDR1:"))
	}
	return r
}

// asked is a request body asking for the given identity-card claims.
func asked(purpose string, claims ...string) api.CreateRequestRequest {
	return api.CreateRequestRequest{Claims: map[string][]string{"national_id": claims}, Purpose: purpose}
}

// webhookReceiver is a verifier's webhook endpoint on 127.0.0.1: it checks
// every delivery's signature with the secret the admin API gave, as a real
// receiver must, and passes the results on.
type webhookReceiver struct {
	url     string
	mu      sync.Mutex
	secret  []byte
	gate    func(*http.Request) bool // nil, or false: answered 503, as a receiver that is down
	results chan *api.RequestResult
	bad     atomic.Int32
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	wr := &webhookReceiver{results: make(chan *api.RequestResult, 10)}
	ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		wr.mu.Lock()
		secret, gate := wr.secret, wr.gate
		wr.mu.Unlock()
		if gate != nil && !gate(r) {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if err != nil || r.Method != http.MethodPost ||
			api.VerifyWebhook(secret, r.Header.Get(api.SignatureHeader), body, time.Now(), time.Minute) != nil {
			wr.bad.Add(1)
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		// A tampered body fails the same check.
		if api.VerifyWebhook(secret, r.Header.Get(api.SignatureHeader), append(body, ' '), time.Now(), time.Minute) == nil {
			wr.bad.Add(1)
		}
		var res api.RequestResult
		if err := json.Unmarshal(body, &res); err != nil {
			wr.bad.Add(1)
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		wr.results <- &res
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ts.Close)
	wr.url = ts.URL + "/hooks/eidwallet"
	return wr
}

// setGate has the receiver answer 503 to each delivery gate refuses.
func (wr *webhookReceiver) setGate(gate func(*http.Request) bool) {
	wr.mu.Lock()
	wr.gate = gate
	wr.mu.Unlock()
}

func (wr *webhookReceiver) setSecret(s string) {
	wr.mu.Lock()
	wr.secret = []byte(s)
	wr.mu.Unlock()
}

// started returns a context whose HTTP request signals on the returned
// channel once it has been written to the connection: a long-poll or
// stream begun before what it waits for.
func started(ctx context.Context) (context.Context, <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(func() { close(ch) }) },
	}), ch
}

func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %s", what, d)
		panic("unreachable")
	}
}

// wantExactly checks the result carries one identity card disclosing
// exactly want (with A's values), bound to shop-one.
func wantExactly(t *testing.T, how string, res *api.RequestResult, id string, want ...string) {
	t.Helper()
	if res == nil || res.RequestID != id || res.Status != api.RequestApproved || res.Result == nil {
		t.Fatalf("%s: %+v", how, res)
	}
	vr := res.Result
	if vr.Result != "valid" || vr.Verifier.ID != "shop-one" || len(vr.Documents) != 1 {
		t.Fatalf("%s: result %+v", how, vr)
	}
	doc := vr.Documents[0]
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range doc.Claims {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(got, want) {
		t.Errorf("%s: claims %v, want exactly %v", how, got, want)
	}
	if doc.Claims["full_name"] != nil && doc.Claims["full_name"] != reqNameA {
		t.Errorf("%s: full_name %v", how, doc.Claims["full_name"])
	}
	if doc.Claims["age_over_18"] != nil && doc.Claims["age_over_18"] != true {
		t.Errorf("%s: age_over_18 %v", how, doc.Claims["age_over_18"])
	}
	if doc.Type != "national_id" || doc.HolderBinding != "verified" || doc.KeyBinding.Aud != "shop-one" || doc.KeyBinding.Nonce == "" {
		t.Errorf("%s: document %s binding %s %+v", how, doc.Type, doc.HolderBinding, doc.KeyBinding)
	}
	// The presentation itself discloses exactly those, and ends in a KB-JWT.
	cut := strings.LastIndex(doc.Presentation, "~")
	names, err := credentials.Disclosable(doc.Presentation[:cut+1])
	if slices.Sort(names); err != nil || !slices.Equal(names, want) || cut < 0 || cut == len(doc.Presentation)-1 {
		t.Errorf("%s: the presentation discloses %v (%v), want exactly %v with a KB-JWT", how, names, err, want)
	}
}

// TestRequestsEndToEnd drives the request flows of SPEC §3.4 (issue 4)
// against the real server, started through run() on 127.0.0.1:0, only
// over HTTP with the client and the CLI.
func TestRequestsEndToEnd(t *testing.T) {
	dataDir := t.TempDir()
	logs := &syncBuffer{}
	srv := startServer(t, dataDir, logs, "--dev-loopback-webhooks") // the webhook receivers are on 127.0.0.1
	token, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	w := newReqWorld(t, client.New(srv.url), strings.TrimSpace(string(token)))

	t.Run("verifier-shown QR: long-poll, events and webhook get exactly the approved claims", w.verifierShown)
	t.Run("presence QR: the holder's long-poll gets the request; decline", w.presence)
	t.Run("failures answer as SPEC §5 says", w.failures)
	t.Run("CLI", func(t *testing.T) { w.cli(t, srv.url, dataDir) })
	// The service logs a delivery after the receiver has answered it: wait
	// for that line before stopping.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), `"msg":"webhook delivered"`) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	srv.stop()

	t.Run("logs hold no token, key, secret or claim value", func(t *testing.T) {
		out := logs.String()
		if !strings.Contains(out, `"route":"/v1/me/requests/:id/approve"`) || !strings.Contains(out, `"msg":"webhook delivered"`) {
			t.Fatal("the request logs were not captured")
		}
		for _, v := range append(w.secrets, reqNameA, reqCitizenA, "1990-02-03") {
			if v != "" && strings.Contains(out, v) {
				t.Errorf("the logs contain a secret or claim value (%.6s…)", v)
			}
		}
	})
}

func (w *reqWorld) verifierShown(t *testing.T) {
	ctx := w.ctx
	hook := newWebhookReceiver(t)
	wh, err := w.admin.SetVerifierWebhook(ctx, "shop-one", hook.url)
	w.must(err)
	if !strings.HasPrefix(wh.Secret, "whsec_") || wh.URL != hook.url {
		t.Fatalf("webhook: %+v", wh)
	}
	hook.setSecret(wh.Secret)
	w.secrets = append(w.secrets, wh.Secret)
	defer func() { _, _ = w.admin.SetVerifierWebhook(ctx, "shop-one", "") }()

	created := w.request(w.s1, asked("Age check for a purchase", "full_name", "age_over_18", "birth_date"))
	if !strings.HasPrefix(created.QRText, "EIDR1:") || created.Status != api.RequestCreated {
		t.Fatalf("created: %+v", created)
	}
	// The verifier shows the code: its PNG decodes to qr_text.
	img, err := w.s1.RequestQRPNG(ctx, created.RequestID, 256)
	w.must(err)
	if text := decodeQR(t, img); text != created.QRText {
		t.Errorf("request QR decodes to another text")
	}

	// Server-sent events, opened before anything happens.
	events := make(chan *api.RequestResult, 10)
	streamErr := make(chan error, 1)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	go func() {
		defer close(events)
		for res, err := range w.s1.RequestEvents(sctx, created.RequestID) {
			if err != nil {
				streamErr <- err
				return
			}
			events <- res
		}
	}()
	if first := within(t, events, 10*time.Second, "first event"); first.Status != api.RequestCreated || first.Result != nil {
		t.Fatalf("first event: %+v", first)
	}

	// A long-poll, started before the citizen answers.
	pctx, wrote := started(ctx)
	polled := make(chan *api.RequestResult, 1)
	go func() {
		res, err := w.s1.Request(pctx, created.RequestID, 30*time.Second, "")
		if err != nil {
			t.Errorf("long-poll: %v", err)
		}
		polled <- res
	}()
	within(t, wrote, 10*time.Second, "long-poll sent")

	// The citizen scans and sees who asks, for what and why.
	view, err := w.a.Resolve(ctx, created.QRText)
	w.must(err)
	if view.RequestID != created.RequestID || view.Status != api.RequestDelivered || view.Purpose != "Age check for a purchase" ||
		view.Verifier != (api.VerifierParty{ID: "shop-one", Name: "Shop One Counter", Category: "retail"}) || len(view.Claims) != 3 {
		t.Fatalf("resolved: %+v", view)
	}
	for _, c := range view.Claims {
		if c.Type != "national_id" || !c.Registered {
			t.Errorf("claim %+v: flagged, but shop-one is registered for it", c)
		}
	}
	if ev := within(t, events, 10*time.Second, "delivered event"); ev.Status != api.RequestDelivered {
		t.Fatalf("second event: %+v", ev)
	}
	select {
	case res := <-polled:
		t.Fatalf("the long-poll answered before the citizen did: %+v", res)
	default:
	}

	// The citizen shares less than asked: no birth date.
	got, err := w.a.AnswerRequest(ctx, view, []api.ShareRequestItem{{CredentialID: w.cardA, Claims: []string{"full_name", "age_over_18"}}})
	w.must(err)
	if got.Status != api.RequestApproved {
		t.Fatalf("approved: %+v", got)
	}

	wantExactly(t, "long-poll", within(t, polled, 10*time.Second, "long-poll answer"), created.RequestID, "age_over_18", "full_name")
	ev := within(t, events, 10*time.Second, "approved event")
	wantExactly(t, "events", ev, created.RequestID, "age_over_18", "full_name")
	if _, open := <-events; open {
		t.Error("the event stream went on after the final status")
	}
	select {
	case err := <-streamErr:
		t.Errorf("event stream: %v", err)
	default:
	}
	hooked := within(t, hook.results, 10*time.Second, "webhook delivery")
	wantExactly(t, "webhook", hooked, created.RequestID, "age_over_18", "full_name")
	if hook.bad.Load() != 0 {
		t.Errorf("%d webhook deliveries failed the signature check", hook.bad.Load())
	}
	// All three are the same approval.
	if n := ev.Result.Documents[0].KeyBinding.Nonce; hooked.Result.Documents[0].KeyBinding.Nonce != n {
		t.Error("the webhook and the events carry different key bindings")
	}
	// Polled later, the result is the same.
	again, err := w.s1.Request(ctx, created.RequestID, 0, "")
	w.must(err)
	wantExactly(t, "poll", again, created.RequestID, "age_over_18", "full_name")

	// Both logs record it, with claim names only.
	act, err := w.a.Activity(ctx)
	w.must(err)
	if !slices.ContainsFunc(act.Entries, func(e *api.ActivityEntry) bool {
		return e.Event == api.EventRequestApproved && e.VerifierID == "shop-one"
	}) {
		t.Error("no request_approved entry in the holder's log")
	}
}

func decodeQR(t *testing.T, img []byte) string {
	t.Helper()
	decoded, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(decoded)
	if err != nil {
		t.Fatal(err)
	}
	got, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return got.GetText()
}

func (w *reqWorld) presence(t *testing.T) {
	ctx := w.ctx
	p, err := w.c3.Presence(ctx)
	w.must(err)
	if !strings.HasPrefix(p.QRText, "EIDP1:") || time.Until(p.ExpiresAt) > time.Minute {
		t.Fatalf("presence: %+v", p)
	}
	w.secrets = append(w.secrets, strings.TrimPrefix(p.QRText, "EIDP1:"))

	// The app long-polls before the staff scan.
	hctx, wrote := started(ctx)
	arrived := make(chan []*api.RequestView, 1)
	go func() {
		list, err := w.c3.Requests(hctx, 30*time.Second)
		if err != nil {
			t.Errorf("holder long-poll: %v", err)
		}
		arrived <- list
	}()
	within(t, wrote, 10*time.Second, "holder long-poll sent")
	time.Sleep(50 * time.Millisecond) // let it reach the wait; either way it must get the request

	created := w.request(w.s1, api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"age_over_18"}},
		Purpose: "Age check", Presence: p.QRText, TTLSeconds: 60})
	if created.QRText != "" {
		t.Errorf("a presence request has a QR code: %+v", created)
	}
	list := within(t, arrived, 10*time.Second, "request in the holder's long-poll")
	if len(list) != 1 || list[0].RequestID != created.RequestID || list[0].Verifier.Name != "Shop One Counter" ||
		len(list[0].Claims) != 1 || list[0].Claims[0].Claim != "age_over_18" || list[0].Status != api.RequestDelivered {
		t.Fatalf("holder long-poll: %+v", list)
	}
	// Nobody else sees it.
	if l, err := w.a.Requests(ctx, 0); err != nil || slices.ContainsFunc(l, func(v *api.RequestView) bool { return v.RequestID == created.RequestID }) {
		t.Errorf("another citizen's list: %v %v", l, err)
	}
	if _, err := w.s1.RequestQRPNG(ctx, created.RequestID, 0); client.ErrorCode(err) != api.CodeNotFound {
		t.Errorf("QR of a presence request: %v", err)
	}

	vctx, vwrote := started(ctx)
	answered := make(chan *api.RequestResult, 1)
	go func() {
		res, err := w.s1.Request(vctx, created.RequestID, 30*time.Second, "")
		if err != nil {
			t.Errorf("verifier long-poll: %v", err)
		}
		answered <- res
	}()
	within(t, vwrote, 10*time.Second, "verifier long-poll sent")
	time.Sleep(50 * time.Millisecond)
	v, err := w.c3.DeclineRequest(ctx, created.RequestID)
	w.must(err)
	if v.Status != api.RequestDeclined {
		t.Fatalf("declined: %+v", v)
	}
	res := within(t, answered, 10*time.Second, "verifier long-poll answer")
	if res == nil || res.Status != api.RequestDeclined || res.Result != nil {
		t.Fatalf("verifier sees %+v, want declined without documents", res)
	}
	// Answered, it is no longer waiting.
	if l, err := w.c3.Requests(ctx, 0); err != nil || len(l) != 0 {
		t.Errorf("after the decline the holder still has %v %v", l, err)
	}
}

// rawApprove posts KB-JWTs built by hand to the approve route.
func (w *reqWorld) rawApprove(h *client.Holder, id string, kbs ...string) error {
	w.t.Helper()
	tok, err := h.AccessToken(w.ctx)
	w.must(err)
	body, _ := json.Marshal(api.ApproveRequest{KBJWTs: kbs})
	req, _ := http.NewRequestWithContext(w.ctx, http.MethodPost, w.c.BaseURL()+"/v1/me/requests/"+id+"/approve", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	w.must(err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return errorAnswer(resp.StatusCode, raw)
}

// errorAnswer is the *client.Error of a SPEC §5 error answer read by hand.
func errorAnswer(status int, body []byte) *client.Error {
	var e struct {
		Error       api.Code `json:"error"`
		Description string   `json:"error_description"`
		Reason      string   `json:"reason"`
	}
	_ = json.Unmarshal(body, &e)
	return &client.Error{Status: status, Code: e.Error, Description: e.Description, Reason: e.Reason}
}

func kbFor(t *testing.T, h *client.Holder, item api.ToSign, aud, nonce string) string {
	t.Helper()
	kb, err := credentials.SignKB(h.Device().Key, credentials.KB{Aud: aud, Nonce: nonce, IssuedAt: time.Now().Unix(), SDHash: item.SDHash})
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

func (w *reqWorld) failures(t *testing.T) {
	ctx := w.ctx
	items := []api.ShareRequestItem{{CredentialID: w.cardA, Claims: []string{"age_over_18"}}}

	t.Run("a claim the verifier is not registered for: 403", func(t *testing.T) {
		_, err := w.s1.CreateRequest(ctx, asked("Identity check", "id_number"))
		wantStatus(t, err, 403, api.CodeForbidden, "")
		_, err = w.s2.CreateRequest(ctx, asked("Age check", "full_name", "age_over_18"))
		wantStatus(t, err, 403, api.CodeForbidden, "")
	})

	r1 := w.request(w.s1, asked("Age check", "age_over_18"))
	t.Run("resolved twice: 409; by another holder: 404", func(t *testing.T) {
		_, err := w.a.Resolve(ctx, r1.QRText)
		w.must(err)
		_, err = w.a.Resolve(ctx, r1.QRText)
		wantStatus(t, err, 409, api.CodeConflict, "")
		_, err = w.b.Resolve(ctx, r1.QRText)
		wantStatus(t, err, 404, api.CodeNotFound, "")
		if _, err := w.s1.RequestQRPNG(ctx, r1.RequestID, 0); client.ErrorCode(err) != api.CodeConflict {
			t.Errorf("QR of a resolved request: %v", err)
		}
	})

	t.Run("another holder's request: 404 everywhere", func(t *testing.T) {
		_, err := w.b.GetRequest(ctx, r1.RequestID)
		wantStatus(t, err, 404, api.CodeNotFound, "")
		_, err = w.b.PrepareRequest(ctx, r1.RequestID, api.PrepareRequest{Items: []api.ShareRequestItem{{CredentialID: w.cardB, Claims: []string{"age_over_18"}}}})
		wantStatus(t, err, 404, api.CodeNotFound, "")
		wantStatus(t, w.rawApprove(w.b, r1.RequestID, "x.y.z"), 404, api.CodeNotFound, "")
		_, err = w.b.DeclineRequest(ctx, r1.RequestID)
		wantStatus(t, err, 404, api.CodeNotFound, "")
		// And another verifier's: 404 too.
		_, err = w.s2.Request(ctx, r1.RequestID, 0, "")
		wantStatus(t, err, 404, api.CodeNotFound, "")
	})

	prepared, err := w.a.PrepareRequest(ctx, r1.RequestID, api.PrepareRequest{Items: items})
	w.must(err)
	if len(prepared.ToSign) != 1 || prepared.ToSign[0].Aud != "shop-one" {
		t.Fatalf("prepared: %+v", prepared)
	}
	item := prepared.ToSign[0]
	t.Run("KB-JWT for another verifier: 422 kb_aud_mismatch", func(t *testing.T) {
		wantStatus(t, w.rawApprove(w.a, r1.RequestID, kbFor(t, w.a, item, "shop-two", item.Nonce)), 422, api.CodeVerificationFailed, "kb_aud_mismatch")
	})
	t.Run("KB-JWT with another request's nonce: 422 kb_nonce_mismatch", func(t *testing.T) {
		r2 := w.request(w.s1, asked("Age check", "age_over_18"))
		v2, err := w.a.Resolve(ctx, r2.QRText)
		w.must(err)
		p2, err := w.a.PrepareRequest(ctx, v2.RequestID, api.PrepareRequest{Items: items})
		w.must(err)
		if p2.ToSign[0].Nonce == item.Nonce {
			t.Fatal("two requests share a nonce")
		}
		wantStatus(t, w.rawApprove(w.a, r1.RequestID, kbFor(t, w.a, item, "shop-one", p2.ToSign[0].Nonce)), 422, api.CodeVerificationFailed, "kb_nonce_mismatch")
		_, err = w.a.DeclineRequest(ctx, r2.RequestID)
		w.must(err)
	})
	t.Run("approved twice: 409", func(t *testing.T) {
		// The refused KB-JWTs consumed nothing: the right one is accepted.
		v, err := w.a.ApproveRequest(ctx, prepared)
		w.must(err)
		if v.Status != api.RequestApproved {
			t.Fatalf("approve: %+v", v)
		}
		_, err = w.a.ApproveRequest(ctx, prepared)
		wantStatus(t, err, 409, api.CodeConflict, "")
		_, err = w.a.DeclineRequest(ctx, r1.RequestID)
		wantStatus(t, err, 409, api.CodeConflict, "")
		res, err := w.s1.Request(ctx, r1.RequestID, 0, "")
		w.must(err)
		wantExactly(t, "after a second approval", res, r1.RequestID, "age_over_18")
	})

	t.Run("after expiry: 410 share_expired", func(t *testing.T) {
		short := asked("Quick age check", "age_over_18")
		short.TTLSeconds = 1
		x1, x2 := w.request(w.s1, short), w.request(w.s1, short)
		v1, err := w.a.Resolve(ctx, x1.QRText)
		w.must(err)
		p1, err := w.a.PrepareRequest(ctx, v1.RequestID, api.PrepareRequest{Items: items})
		w.must(err)
		time.Sleep(time.Until(x2.ExpiresAt) + 50*time.Millisecond)
		_, err = w.a.ApproveRequest(ctx, p1)
		wantStatus(t, err, 410, api.CodeShareExpired, "")
		_, err = w.a.Resolve(ctx, x2.QRText)
		wantStatus(t, err, 410, api.CodeShareExpired, "")
		_, err = w.a.DeclineRequest(ctx, x1.RequestID)
		wantStatus(t, err, 410, api.CodeShareExpired, "")
		res, err := w.s1.Request(ctx, x1.RequestID, 0, "")
		if err != nil || res.Status != api.RequestExpired || res.Result != nil {
			t.Errorf("the verifier sees %+v %v, want expired", res, err)
		}
	})
}

// cli drives the same flows through the eidwallet command, as staff and a
// citizen at a terminal would.
func (w *reqWorld) cli(t *testing.T, url, dataDir string) {
	devFile := filepath.Join(t.TempDir(), "device.json")
	w.must(w.a.Device().Save(devFile))
	env := map[string]string{"EIDWALLET_URL": url, "EIDWALLET_VERIFIER_KEY": w.s1Key, "EIDWALLET_DEVICE": devFile}
	getenv := func(k string) string { return env[k] }
	cmd := func(args ...string) (int, string, string) {
		var out, errOut syncBuffer
		code := run(w.ctx, args, getenv, strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}

	t.Run("verifier request --wait; holder request resolve and approve", func(t *testing.T) {
		var out, errOut syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(w.ctx, []string{"verifier", "request", "--claims", "national_id:age_over_18,full_name", "--purpose", "CLI age check",
				"--ttl", "60", "--wait"}, getenv, strings.NewReader(""), &out, &errOut)
		}()
		code := regexp.MustCompile(`EIDR1:[A-Z2-7]{26}`)
		var text string
		for deadline := time.Now().Add(10 * time.Second); text == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			text = code.FindString(out.String())
		}
		if text == "" {
			t.Fatalf("no EIDR1: code printed:\n%s\n%s", out.String(), errOut.String())
		}
		if !strings.Contains(out.String(), "█") {
			t.Error("no QR code drawn")
		}
		w.secrets = append(w.secrets, strings.TrimPrefix(text, "EIDR1:"))

		rc, stdout, stderr := cmd("holder", "request", "resolve", text, "--json")
		var view api.RequestView
		if rc != 0 || json.Unmarshal([]byte(stdout), &view) != nil || view.Purpose != "CLI age check" {
			t.Fatalf("resolve: %d %s %s", rc, stdout, stderr)
		}
		rc, stdout, stderr = cmd("holder", "request", "show", view.RequestID)
		if rc != 0 || !strings.Contains(stdout, "Shop One Counter (retail") || !strings.Contains(stdout, "age_over_18") {
			t.Errorf("show: %d %s %s", rc, stdout, stderr)
		}
		// Only age_over_18 of what was asked.
		if rc, stdout, stderr := cmd("holder", "request", "approve", view.RequestID, "--credential", "national_id", "--claims", "age_over_18"); rc != 0 {
			t.Fatalf("approve: %d %s %s", rc, stdout, stderr)
		}
		if rc := within(t, done, 20*time.Second, "verifier request --wait to end"); rc != 0 {
			t.Fatalf("verifier request --wait: exit %d\n%s", rc, errOut.String())
		}
		js := out.String()[strings.Index(out.String(), "{"):]
		var res api.RequestResult
		if err := json.Unmarshal([]byte(js), &res); err != nil {
			t.Fatalf("verifier result %q: %v", js, err)
		}
		wantExactly(t, "CLI", &res, view.RequestID, "age_over_18")
	})

	t.Run("holder presence; verifier request --presence; holder requests; decline", func(t *testing.T) {
		rc, stdout, stderr := cmd("holder", "presence", "--json")
		var p api.PresenceResponse
		if rc != 0 || json.Unmarshal([]byte(stdout), &p) != nil || !strings.HasPrefix(p.QRText, "EIDP1:") {
			t.Fatalf("presence: %d %s %s", rc, stdout, stderr)
		}
		w.secrets = append(w.secrets, strings.TrimPrefix(p.QRText, "EIDP1:"))
		rc, stdout, stderr = cmd("verifier", "request", "--claims", "national_id:full_name", "--purpose", "Parcel pickup", "--presence", p.QRText, "--json")
		var created api.CreateRequestResponse
		if rc != 0 || json.Unmarshal([]byte(stdout), &created) != nil || created.RequestID == "" {
			t.Fatalf("verifier request --presence: %d %s %s", rc, stdout, stderr)
		}
		rc, stdout, stderr = cmd("holder", "requests", "--wait", "5")
		if rc != 0 || !strings.Contains(stdout, created.RequestID) || !strings.Contains(stdout, "Parcel pickup") {
			t.Fatalf("holder requests: %d %s %s", rc, stdout, stderr)
		}
		if rc, stdout, stderr := cmd("holder", "request", "decline", created.RequestID); rc != 0 {
			t.Fatalf("decline: %d %s %s", rc, stdout, stderr)
		}
		rc, stdout, _ = cmd("verifier", "result", created.RequestID, "--wait")
		if rc != exitInvalid || !strings.Contains(stdout, `"declined"`) {
			t.Errorf("verifier result of a declined request: %d %s", rc, stdout)
		}
	})

	t.Run("admin verifiers webhook", func(t *testing.T) {
		tokenFile := filepath.Join(dataDir, "admin-token")
		rc, stdout, stderr := cmd("admin", "--token-file", tokenFile, "verifiers", "webhook", "shop-two", "--url", "http://127.0.0.1:9/hook")
		var r api.WebhookResponse
		if rc != 0 || json.Unmarshal([]byte(stdout), &r) != nil || r.URL != "http://127.0.0.1:9/hook" || !strings.HasPrefix(r.Secret, "whsec_") {
			t.Fatalf("webhook: %d %s %s", rc, stdout, stderr)
		}
		w.secrets = append(w.secrets, r.Secret)
		if rc, _, stderr := cmd("admin", "--token-file", tokenFile, "verifiers", "webhook", "shop-two", "--url", "http://example.com/hook"); rc != exitInvalid || !strings.Contains(stderr, "invalid_request") {
			t.Errorf("plain http to a public host: %d %s", rc, stderr)
		}
		if rc, _, stderr := cmd("admin", "--token-file", tokenFile, "verifiers", "webhook", "shop-two", "--remove"); rc != 0 {
			t.Errorf("remove: %d %s", rc, stderr)
		}
		if rc, _, _ := cmd("admin", "--token-file", tokenFile, "verifiers", "webhook", "shop-two"); rc != exitUsage {
			t.Errorf("neither --url nor --remove: %d", rc)
		}
	})
}

// TestRequestWebhookRetries: a webhook receiver that is down gets each
// result len(retries)+1 times, no more, and the result stays available by
// polling (issue 4). run() takes no retry setting, so the stack is built
// in-process with short retries.
func TestRequestWebhookRetries(t *testing.T) {
	retries := []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
	var attempts atomic.Int32
	var signed atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		if strings.HasPrefix(r.Header.Get(api.SignatureHeader), "t=") {
			signed.Add(1)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		rw.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)

	ts := httptest.NewUnstartedServer(nil)
	url := "http://" + ts.Listener.Addr().String()
	svc, _ := servicetest.New(t, wallet.Config{PublicURL: url, WebhookRetries: retries, AllowLoopbackWebhooks: true})
	t.Cleanup(svc.Close) // before the store closes: cleanups run last first
	admin, err := svc.BootstrapAdmin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = server.New(server.Config{Service: svc})
	ts.Start()
	t.Cleanup(ts.Close)

	w := newReqWorld(t, client.New(url), admin)
	ctx := w.ctx
	if _, err := w.admin.SetVerifierWebhook(ctx, "shop-one", down.URL); err != nil {
		t.Fatal(err)
	}
	created := w.request(w.s1, asked("Age check", "age_over_18"))
	view, err := w.a.Resolve(ctx, created.QRText)
	w.must(err)
	_, err = w.a.AnswerRequest(ctx, view, []api.ShareRequestItem{{CredentialID: w.cardA, Claims: []string{"age_over_18"}}})
	w.must(err)

	want := int32(len(retries) + 1)
	for deadline := time.Now().Add(10 * time.Second); attempts.Load() < want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // longer than every wait between attempts together: a fifth would show
	if n := attempts.Load(); n != want {
		t.Errorf("%d delivery attempts, want %d (len(retries)+1)", n, want)
	}
	if signed.Load() != attempts.Load() {
		t.Errorf("%d of %d attempts signed", signed.Load(), attempts.Load())
	}
	res, err := w.s1.Request(ctx, created.RequestID, 0, "")
	w.must(err)
	wantExactly(t, "poll after failed webhooks", res, created.RequestID, "age_over_18")
}
