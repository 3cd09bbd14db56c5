package server_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/server"
	"github.com/go-json-experiment/json"
	"golang.org/x/time/rate"
)

// Set moves the clock to t. Long-polls wait on the wall clock for a
// request's expiry, so tests that wait run the service on it.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// requestHarness is a harness on the wall clock with the world set up.
func requestHarness(t *testing.T, configure ...func(*server.Config)) (*harness, *world) {
	t.Helper()
	h := newHarness(t, configure...)
	h.clock.Set(time.Now())
	return h, h.setup()
}

// newRequest makes a request of the world's verifier (the pharmacy).
func (w *world) newRequest(h *harness, claims ...string) api.CreateRequestResponse {
	h.t.Helper()
	var r api.CreateRequestResponse
	h.call("POST", "/v1/verifier/requests", w.verifierKey, api.CreateRequestRequest{
		Claims: map[string][]string{credentials.HealthInsurance: claims}, Purpose: "Prescription pickup"}, 201, &r)
	return r
}

// otherVerifier registers a second verifier and returns its key.
func (h *harness) otherVerifier() string {
	h.t.Helper()
	var v api.VerifierView
	h.call("POST", "/v1/admin/verifiers", h.admin, api.CreateVerifierRequest{
		ID: "clinic", Name: "Clinic", Category: "health", Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}}, 201, &v)
	return v.APIKey.Key
}

// TestRequestWaitBounds: wait is whole seconds from 0 to 60 and since a
// request status; anything else is 400 before the service is asked.
func TestRequestWaitBounds(t *testing.T) {
	h, w := requestHarness(t)
	r := w.newRequest(h, "full_name")
	for _, q := range []string{"wait=-1", "wait=61", "wait=abc", "wait=1.5", "wait=", "wait=1e3", "since=approvedd", "wait=1&since=gone"} {
		wantError(t, h.request("GET", "/v1/verifier/requests/"+r.RequestID+"?"+q, w.verifierKey, "", nil), 400, "invalid_request")
		if !strings.HasPrefix(q, "since") && !strings.Contains(q, "since") {
			wantError(t, h.request("GET", "/v1/me/requests?"+q, w.token, "", nil), 400, "invalid_request")
		}
	}
	var list struct {
		Requests []*api.RequestView `json:"requests"`
	}
	_, raw := h.call("GET", "/v1/me/requests?wait=0", w.token, nil, 200, &list)
	if list.Requests == nil || len(list.Requests) != 0 || !strings.Contains(string(raw), `"requests":[]`) {
		t.Errorf("empty list: %s", raw)
	}
	var res api.RequestResult
	h.call("GET", "/v1/verifier/requests/"+r.RequestID+"?wait=0&since=created", w.verifierKey, nil, 200, &res)
	if res.Status != api.RequestCreated || res.RequestID != r.RequestID || res.Result != nil {
		t.Errorf("result: %+v", res)
	}
	// since another state than the current one answers at once, wait or not.
	start := time.Now()
	h.call("GET", "/v1/verifier/requests/"+r.RequestID+"?wait=60&since=delivered", w.verifierKey, nil, 200, &res)
	if d := time.Since(start); d > 5*time.Second || res.Status != api.RequestCreated {
		t.Errorf("since=delivered on a created request: %s after %s", res.Status, d)
	}
	// A long-poll with nothing to wait for ends after wait.
	start = time.Now()
	h.call("GET", "/v1/me/requests?wait=1", w.token, nil, 200, &list)
	if d := time.Since(start); d < time.Second || d > 5*time.Second || len(list.Requests) != 0 {
		t.Errorf("wait=1 answered after %s with %d requests", d, len(list.Requests))
	}
}

// sseLines reads an event stream to its end (or until stop says so) and
// returns its lines.
func sseLines(t *testing.T, resp *http.Response, stop func(lines []string) bool) []string {
	t.Helper()
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if stop != nil && stop(lines) {
			break
		}
	}
	return lines
}

func wantEventStream(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Fatalf("events: status %d: %s", resp.StatusCode, readAll(t, resp))
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
}

// events are the (name, data) pairs of an event stream's lines.
func events(lines []string) (names []string, data []string) {
	name := ""
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "event: "):
			name = strings.TrimPrefix(l, "event: ")
		case strings.HasPrefix(l, "data: "):
			names, data = append(names, name), append(data, strings.TrimPrefix(l, "data: "))
		}
	}
	return names, data
}

// TestRequestEvents: both streams answer with the event-stream headers,
// send heartbeats when quiet, end after the stream limit; the verifier's
// sends each status once and ends after a final one; the holder's sends
// each request once.
func TestRequestEvents(t *testing.T) {
	h, w := requestHarness(t, func(c *server.Config) {
		c.StreamHeartbeat = 50 * time.Millisecond
		// Long enough for a request made after the first event to arrive
		// on a loaded machine (make test runs packages side by side).
		c.StreamMaxDuration = 2 * time.Second
	})

	t.Run("holder: heartbeats, then the stream ends", func(t *testing.T) {
		start := time.Now()
		resp := h.request("GET", "/v1/me/requests/events", w.token, "", nil)
		wantEventStream(t, resp)
		lines := sseLines(t, resp, nil)
		if d := time.Since(start); d < 1900*time.Millisecond || d > 10*time.Second {
			t.Errorf("the stream lasted %s, want about 2s", d)
		}
		if len(lines) == 0 || lines[0] != "retry: 2000" {
			t.Errorf("first line %q", lines)
		}
		beats := 0
		for _, l := range lines {
			if l == ": keep-alive" {
				beats++
			}
		}
		if beats < 3 {
			t.Errorf("%d heartbeats in 2s at one per 50ms", beats)
		}
	})

	t.Run("holder: each waiting request once, new ones as they come", func(t *testing.T) {
		shown := w.newRequest(h, "full_name") // an EIDR1: code nobody resolved: no holder's yet
		byPresence := func(purpose string) api.CreateRequestResponse {
			var p api.PresenceResponse
			h.call("POST", "/v1/me/presence", w.token, nil, 201, &p)
			var r api.CreateRequestResponse
			h.call("POST", "/v1/verifier/requests", w.verifierKey, api.CreateRequestRequest{
				Claims: map[string][]string{credentials.HealthInsurance: {"card_number"}}, Purpose: purpose, Presence: p.QRText}, 201, &r)
			return r
		}
		first := byPresence("Refill")
		resp := h.request("GET", "/v1/me/requests/events", w.token, "", nil)
		wantEventStream(t, resp)
		var second api.CreateRequestResponse
		lines := sseLines(t, resp, func(lines []string) bool {
			if names, _ := events(lines); len(names) == 1 && second.RequestID == "" {
				second = byPresence("Second refill") // arrives while the first waits
			}
			return false
		})
		names, data := events(lines)
		if len(names) != 2 || names[0] != "request" || names[1] != "request" {
			t.Fatalf("events %v (each request once over 2 s of polling)", names)
		}
		var got []api.RequestView
		for _, d := range data {
			var v api.RequestView
			if err := json.Unmarshal([]byte(d), &v); err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
		if got[0].RequestID != first.RequestID || got[0].Verifier.ID != w.verifierID || got[0].Purpose != "Refill" ||
			got[0].Status != api.RequestDelivered || len(got[0].Claims) != 1 || !got[0].Claims[0].Registered {
			t.Errorf("first event %+v", got[0])
		}
		if got[1].RequestID != second.RequestID || got[1].Purpose != "Second refill" {
			t.Errorf("second event %+v", got[1])
		}
		for _, v := range got {
			if v.RequestID == shown.RequestID {
				t.Error("an unresolved EIDR1: request reached a holder")
			}
		}
		for _, r := range []string{first.RequestID, second.RequestID} {
			h.call("POST", "/v1/me/requests/"+r+"/decline", w.token, nil, 200, nil)
		}
	})

	t.Run("verifier: status now and at each change, ends after the final one", func(t *testing.T) {
		var p api.PresenceResponse
		h.call("POST", "/v1/me/presence", w.token, nil, 201, &p)
		var r api.CreateRequestResponse
		h.call("POST", "/v1/verifier/requests", w.verifierKey, api.CreateRequestRequest{
			Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}, Purpose: "Check", Presence: p.QRText}, 201, &r)
		resp := h.request("GET", "/v1/verifier/requests/"+r.RequestID+"/events", w.verifierKey, "", nil)
		wantEventStream(t, resp)
		declined := false
		lines := sseLines(t, resp, func(lines []string) bool {
			if names, _ := events(lines); len(names) == 1 && !declined {
				declined = true
				h.call("POST", "/v1/me/requests/"+r.RequestID+"/decline", w.token, nil, 200, nil)
			}
			return false
		})
		names, data := events(lines)
		var statuses []string
		for i, d := range data {
			var res api.RequestResult
			if names[i] != "status" || json.Unmarshal([]byte(d), &res) != nil || res.RequestID != r.RequestID {
				t.Fatalf("event %s %s", names[i], d)
			}
			statuses = append(statuses, res.Status)
		}
		// created → delivered (the holder's stream above listed nothing of
		// it; the decline moves it) → declined, each once, then the end.
		if len(statuses) < 2 || statuses[0] != api.RequestCreated || statuses[len(statuses)-1] != api.RequestDeclined {
			t.Errorf("statuses %v", statuses)
		}
		for i := 1; i < len(statuses); i++ {
			if statuses[i] == statuses[i-1] {
				t.Errorf("status %s sent twice: %v", statuses[i], statuses)
			}
		}
	})

	t.Run("another verifier's request: 404 as JSON, no stream", func(t *testing.T) {
		r := w.newRequest(h, "full_name")
		other := h.otherVerifier()
		for _, path := range []string{"", "/events", "/qr.png", "/qr.svg", "?wait=1"} {
			wantError(t, h.request("GET", "/v1/verifier/requests/"+r.RequestID+path, other, "", nil), 404, "not_found")
		}
		wantError(t, h.request("GET", "/v1/verifier/requests/req_unknown/events", w.verifierKey, "", nil), 404, "not_found")
	})
}

// TestRequestRoutes: roles, the literal colon of :resolve, the QR of a
// request, decline without a body, and the webhook route's validation.
func TestRequestRoutes(t *testing.T) {
	h, w := requestHarness(t)
	r := w.newRequest(h, "full_name", "card_number")

	// Each side's routes are closed to the other (T19).
	wantError(t, h.request("POST", "/v1/verifier/requests", w.token, "application/json", mustJSON(t, api.CreateRequestRequest{})), 403, "forbidden")
	wantError(t, h.request("GET", "/v1/me/requests", w.verifierKey, "", nil), 403, "forbidden")
	wantError(t, h.request("PUT", "/v1/admin/verifiers/"+w.verifierID+"/webhook", w.verifierKey, "application/json", mustJSON(t, api.WebhookRequest{})), 403, "forbidden")
	wantError(t, h.request("GET", "/v1/me/requests/events", "", "", nil), 401, "unauthenticated")

	// Not registered for: 403; a bad body: 400.
	wantError(t, h.request("POST", "/v1/verifier/requests", w.verifierKey, "application/json", mustJSON(t, api.CreateRequestRequest{
		Claims: map[string][]string{credentials.HealthInsurance: {"birth_date"}}, Purpose: "x"})), 403, "forbidden")
	wantError(t, h.request("POST", "/v1/verifier/requests", w.verifierKey, "application/json", []byte(`{"claims":{},"purpose":"x","extra":1}`)), 400, "invalid_request")

	// The QR of a request decodes to what creation answered.
	resp := h.request("GET", "/v1/verifier/requests/"+r.RequestID+"/qr.svg?size=128", w.verifierKey, "", nil)
	if body := readAll(t, resp); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(string(body), "<svg") {
		t.Errorf("qr.svg: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	wantError(t, h.request("GET", "/v1/verifier/requests/"+r.RequestID+"/qr.png?size=2000", w.verifierKey, "", nil), 400, "invalid_request")

	// :resolve is one route with a literal colon.
	wantError(t, h.request("POST", "/v1/me/requests:resolve", w.token, "application/json", mustJSON(t, api.ResolveRequest{QR: "EID1:AAAAAAAAAAAAAAAAAAAAAAAAAA"})), 400, "invalid_request")
	var view api.RequestView
	h.call("POST", "/v1/me/requests:resolve", w.token, api.ResolveRequest{QR: r.QRText}, 200, &view)
	if view.RequestID != r.RequestID || view.Verifier.Name != "Corner Pharmacy" || len(view.Claims) != 2 {
		t.Fatalf("resolved %+v", view)
	}
	h.call("GET", "/v1/me/requests/"+r.RequestID, w.token, nil, 200, &view)
	wantError(t, h.request("GET", "/v1/verifier/requests/"+r.RequestID+"/qr.png", w.verifierKey, "", nil), 409, "conflict")

	// Prepare more than asked: 400; then decline, no body, once.
	wantError(t, h.request("POST", "/v1/me/requests/"+r.RequestID+"/prepare", w.token, "application/json", mustJSON(t, api.PrepareRequest{
		Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: []string{"birth_date"}}}})), 400, "invalid_request")
	h.call("POST", "/v1/me/requests/"+r.RequestID+"/decline", w.token, nil, 200, &view)
	if view.Status != api.RequestDeclined {
		t.Errorf("declined: %+v", view)
	}
	wantError(t, h.request("POST", "/v1/me/requests/"+r.RequestID+"/decline", w.token, "", nil), 409, "conflict")

	// The webhook route.
	for _, u := range []string{"http://example.com/hook", "ftp://127.0.0.1/", "not a url"} {
		wantError(t, h.request("PUT", "/v1/admin/verifiers/"+w.verifierID+"/webhook", h.admin, "application/json", mustJSON(t, api.WebhookRequest{URL: &u})), 400, "invalid_request")
	}
	wantError(t, h.request("PUT", "/v1/admin/verifiers/nobody/webhook", h.admin, "application/json", mustJSON(t, api.WebhookRequest{URL: new("https://hooks.example/x")})), 404, "not_found")
	var wh api.WebhookResponse
	h.call("PUT", "/v1/admin/verifiers/"+w.verifierID+"/webhook", h.admin, api.WebhookRequest{URL: new("https://hooks.example/x")}, 200, &wh)
	if wh.URL != "https://hooks.example/x" || !strings.HasPrefix(wh.Secret, "whsec_") {
		t.Errorf("webhook: %+v", wh)
	}
	// url is required ("" removes it): a body without it, or null, is
	// refused, not taken for a removal (SPEC §5).
	for _, body := range []string{`{}`, `null`, `{"url":null}`} {
		wantError(t, h.request("PUT", "/v1/admin/verifiers/"+w.verifierID+"/webhook", h.admin, "application/json", []byte(body)), 400, "invalid_request")
	}
	if strings.Contains(h.logs.String(), wh.Secret) {
		t.Error("the webhook secret is in the logs")
	}
}

// TestRequestRateLimits: request creation is limited per verifier key,
// presence codes per holder.
func TestRequestRateLimits(t *testing.T) {
	h, w := requestHarness(t, func(c *server.Config) {
		c.RateLimits = server.RateLimits{
			RequestsPerKey:    server.Limit{Rate: rate.Every(10 * time.Second), Burst: 2},
			PresencePerHolder: server.Limit{Rate: rate.Every(10 * time.Second), Burst: 1},
		}
	})
	w.newRequest(h, "full_name")
	w.newRequest(h, "full_name")
	body := mustJSON(t, api.CreateRequestRequest{Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}, Purpose: "x"})
	wantRetryAfter(t, h.request("POST", "/v1/verifier/requests", w.verifierKey, "application/json", body), 1, 10)
	// Another verifier's key is not affected.
	h.call("POST", "/v1/verifier/requests", h.otherVerifier(), api.CreateRequestRequest{
		Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}, Purpose: "x"}, 201, nil)

	h.call("POST", "/v1/me/presence", w.token, nil, 201, nil)
	wantRetryAfter(t, h.request("POST", "/v1/me/presence", w.token, "", nil), 1, 10)
}

// serveWithTimeouts serves h's handler from an http.Server with the given
// read and write timeouts, as eidwallet serve does (30 s and 5 min there).
func serveWithTimeouts(t *testing.T, h *harness, timeout time.Duration) (*http.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h.handler, ReadTimeout: timeout, WriteTimeout: timeout}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv, "http://" + ln.Addr().String()
}

// shutDownPromptly shuts srv down, as SIGTERM does, and fails unless
// that ends within 3 s (of the 10 it is given): what a request still
// under way must not hold up.
func shutDownPromptly(t *testing.T, srv *http.Server) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %s", d)
	}
}

// get sends a GET; on failure it reports (from any goroutine) and
// returns nil.
func get(t *testing.T, ctx context.Context, url, bearer string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil
	}
	return resp
}

// TestWaitsOutliveServerTimeouts: an http.Server's ReadTimeout would cancel
// a waiting request's context (net/http's background read fails at the
// read deadline) and its WriteTimeout cut the answer; long-polls and
// streams move both deadlines.
func TestWaitsOutliveServerTimeouts(t *testing.T) {
	h, w := requestHarness(t, func(c *server.Config) {
		c.StreamHeartbeat = 100 * time.Millisecond
		c.StreamMaxDuration = 1200 * time.Millisecond
	})
	_, url := serveWithTimeouts(t, h, 300*time.Millisecond)
	ctx := context.Background()

	start := time.Now()
	resp := get(t, ctx, url+"/v1/me/requests?wait=1", w.token)
	if resp == nil {
		t.FailNow()
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || time.Since(start) < time.Second || !strings.Contains(string(body), `"requests":[]`) {
		t.Errorf("long-poll past ReadTimeout: %d after %s: %s", resp.StatusCode, time.Since(start), body)
	}

	start = time.Now()
	resp = get(t, ctx, url+"/v1/me/requests/events", w.token)
	if resp == nil {
		t.FailNow()
	}
	wantEventStream(t, resp)
	lines := sseLines(t, resp, nil)
	if d := time.Since(start); d < time.Second {
		t.Errorf("the stream was cut after %s (%d lines), before its own limit", d, len(lines))
	}
	if n := strings.Count(strings.Join(lines, "\n"), ": keep-alive"); n < 8 {
		t.Errorf("%d heartbeats over 1.2 s at one per 100 ms", n)
	}
}

// TestWaitsEndAtShutdown: http.Server.Shutdown does not cancel waiting
// requests; the server ends its long-polls (answering what there is) and
// streams when shutdown begins, so shutdown is prompt.
func TestWaitsEndAtShutdown(t *testing.T) {
	h, w := requestHarness(t)
	srv, url := serveWithTimeouts(t, h, time.Minute)
	ctx := context.Background()
	r := w.newRequest(h, "full_name")

	polled := make(chan *http.Response, 1)
	go func() { polled <- get(t, ctx, url+"/v1/me/requests?wait=60", w.token) }()
	verifierPolled := make(chan *http.Response, 1)
	go func() {
		verifierPolled <- get(t, ctx, url+"/v1/verifier/requests/"+r.RequestID+"?wait=60", w.verifierKey)
	}()
	stream := get(t, ctx, url+"/v1/verifier/requests/"+r.RequestID+"/events", w.verifierKey)
	if stream == nil {
		t.FailNow()
	}
	wantEventStream(t, stream)
	ended := make(chan []string, 1)
	go func() { ended <- sseLines(t, stream, nil) }()
	time.Sleep(200 * time.Millisecond) // the long-polls are waiting

	shutDownPromptly(t, srv)
	for name, ch := range map[string]chan *http.Response{"holder": polled, "verifier": verifierPolled} {
		select {
		case resp := <-ch:
			if resp == nil {
				continue
			}
			if body := readAll(t, resp); resp.StatusCode != 200 {
				t.Errorf("%s long-poll at shutdown: %d %s", name, resp.StatusCode, body)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s long-poll still open after shutdown", name)
		}
	}
	select {
	case lines := <-ended:
		if names, _ := events(lines); len(names) != 1 {
			t.Errorf("stream events %v", names)
		}
	case <-time.After(5 * time.Second):
		t.Error("the event stream is still open after shutdown")
	}
}

// TestWaitClientGoneIsNoStorageFailure: a long-poll whose client gives up
// is recorded as 499 (client closed request) in the metrics, never as 503
// storage_unavailable, which SPEC §5 keeps for a storage failure.
func TestWaitClientGoneIsNoStorageFailure(t *testing.T) {
	h, w := requestHarness(t)
	r := w.newRequest(h, "full_name")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.url+"/v1/verifier/requests/"+r.RequestID+"?wait=30&since=created", nil)
	req.Header.Set("Authorization", "Bearer "+w.verifierKey)
	if resp, err := h.client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the long-poll answered %d before its client gave up", resp.StatusCode)
	}
	route := `route="/v1/verifier/requests/:id"`
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := h.metric("eidwallet_http_requests_total")
		if strings.Contains(m, `code="503"`) {
			t.Fatalf("a client gone counted as a storage failure:\n%s", m)
		}
		if strings.Contains(m, `code="499",method="GET",`+route) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 499 for the long-poll given up:\n%s", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
