package server_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/server"
	"golang.org/x/time/rate"
)

func tight(burst int) server.Limit {
	return server.Limit{Rate: rate.Every(10 * time.Second), Burst: burst}
}

// wantRetryAfter checks a 429 and its Retry-After, in whole seconds.
func wantRetryAfter(t *testing.T, resp *http.Response, lo, hi int) {
	t.Helper()
	ra := resp.Header.Get("Retry-After")
	wantError(t, resp, 429, "rate_limited")
	n, err := strconv.Atoi(ra)
	if err != nil || n < lo || n > hi {
		t.Fatalf("Retry-After %q, want %d to %d seconds", ra, lo, hi)
	}
}

// TestRateLimitVerify: many random tokens from one verifier key are 404
// until the key's limit, then 429 with Retry-After (THREATS T23); another
// key of another verifier is not affected, and time refills the bucket.
func TestRateLimitVerify(t *testing.T) {
	h := newHarness(t, func(c *server.Config) {
		c.RateLimits = server.RateLimits{VerifyPerKey: tight(3), VerifyPerAddr: server.Limit{Rate: rate.Inf}}
	})
	w := h.setup()
	guess := mustJSON(t, api.VerifyRequest{QR: "EID1:AAAAAAAAAAAAAAAAAAAAAAAAAA"})
	for range 3 {
		wantError(t, h.request("POST", "/v1/verify", w.verifierKey, "application/json", guess), 404, "not_found")
	}
	wantRetryAfter(t, h.request("POST", "/v1/verify", w.verifierKey, "application/json", guess), 1, 10)

	var other api.VerifierView
	h.call("POST", "/v1/admin/verifiers", h.admin, api.CreateVerifierRequest{
		Name: "Bank", Category: "bank", Claims: map[string][]string{"health_insurance": {"full_name"}}}, 201, &other)
	wantError(t, h.request("POST", "/v1/verify", other.APIKey.Key, "application/json", guess), 404, "not_found")

	h.clock.Advance(10 * time.Second)
	wantError(t, h.request("POST", "/v1/verify", w.verifierKey, "application/json", guess), 404, "not_found")
	wantRetryAfter(t, h.request("POST", "/v1/verify", w.verifierKey, "application/json", guess), 1, 10)
	if m := h.metric("eidwallet_rate_limited_total"); m == "" {
		t.Error("no rate-limit metric")
	}
}

// TestRateLimitByAddress: token, enrolment and verify are limited per
// client address, before any credential is looked at; X-Forwarded-For is
// ignored unless the peer is a trusted proxy.
func TestRateLimitByAddress(t *testing.T) {
	h := newHarness(t, func(c *server.Config) {
		c.RateLimits = server.RateLimits{TokenPerAddr: tight(2), EnrollPerAddr: tight(1), VerifyPerAddr: tight(2)}
	})
	form := []byte("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=x.y.z")
	send := func(path, ct string, body []byte, xff string) *http.Response {
		req, _ := http.NewRequest("POST", h.url+path, nil)
		req.Body = http.NoBody
		if body != nil {
			req, _ = http.NewRequest("POST", h.url+path, bytesReader(body))
		}
		req.Header.Set("Content-Type", ct)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i := range 2 {
		wantError(t, send("/v1/token", "application/x-www-form-urlencoded", form, "192.0.2."+strconv.Itoa(i)), 400, "invalid_grant")
	}
	limited := send("/v1/token", "application/x-www-form-urlencoded", form, "192.0.2.9")
	wantRetryAfter(t, limited, 1, 10)
	// Not an OAuth error, but a token endpoint answer: never cached
	// (RFC 6749 §5.1).
	if limited.Header.Get("Cache-Control") != "no-store" || limited.Header.Get("Pragma") != "no-cache" {
		t.Errorf("the token endpoint's 429 is cacheable: %v", limited.Header)
	}

	enroll := mustJSON(t, api.EnrollRequest{CitizenID: "000000000000", ActivationCode: "nope", DeviceName: "x"})
	wantError(t, send("/v1/enrollments", "application/json", enroll, ""), 400, "invalid_request")
	wantRetryAfter(t, send("/v1/enrollments", "application/json", enroll, ""), 1, 10)

	// Unauthenticated verify floods are cut before the key lookup.
	for range 2 {
		wantError(t, send("/v1/verify", "application/json", []byte("{}"), ""), 401, "unauthenticated")
	}
	wantRetryAfter(t, send("/v1/verify", "application/json", []byte("{}"), ""), 1, 10)
}

// TestTrustedProxy: behind a configured proxy, the client is the
// right-most untrusted X-Forwarded-For hop.
func TestTrustedProxy(t *testing.T) {
	h := newHarness(t, func(c *server.Config) {
		c.RateLimits = server.RateLimits{TokenPerAddr: tight(1)}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	form := []byte("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=x.y.z")
	send := func(xff string) *http.Response {
		req, _ := http.NewRequest("POST", h.url+"/v1/token", bytesReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	wantError(t, send("198.51.100.7"), 400, "invalid_grant")
	wantError(t, send("198.51.100.8"), 400, "invalid_grant")
	// A spoofed left-most hop does not make a new client.
	wantRetryAfter(t, send("203.0.113.1, 198.51.100.7"), 1, 10)
	// A hop written with its port, as some proxies do, is its address:
	// other clients, each its own bucket, not the proxy's one for all.
	wantError(t, send("198.51.100.9:5555"), 400, "invalid_grant")
	wantError(t, send("[2001:db8::1]:5555"), 400, "invalid_grant")
	wantRetryAfter(t, send("198.51.100.9"), 1, 10)
}

// TestShareQuota: a holder's share creations are limited (THREATS T24).
func TestShareQuota(t *testing.T) {
	h := newHarness(t, func(c *server.Config) {
		c.RateLimits = server.RateLimits{SharesPerHolder: server.Limit{Rate: rate.Every(2 * time.Second), Burst: 5}}
	})
	w := h.setup()
	req := api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: w.credential.CredentialID, Claims: []string{"full_name"}}}}
	for range 5 {
		h.call("POST", "/v1/me/shares", w.token, req, 201, nil)
	}
	wantRetryAfter(t, h.request("POST", "/v1/me/shares", w.token, "application/json", mustJSON(t, req)), 1, 2)
	// Reading is not limited.
	h.call("GET", "/v1/me/shares", w.token, nil, 200, nil)
}

// TestWaitsBounded: one holder's device holds at most 8 long-polls and event
// streams at once (THREATS T22: each holds memory); the next is 429 with
// Retry-After, and a place given back is taken again. Another holder is
// not affected.
func TestWaitsBounded(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	var open []*http.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	for range 8 {
		resp := h.request("GET", "/v1/me/requests/events", w.token, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("stream %d: %d", len(open), resp.StatusCode)
		}
		open = append(open, resp)
	}
	wantRetryAfter(t, h.request("GET", "/v1/me/requests?wait=30", w.token, "", nil), 1, 1)
	wantRetryAfter(t, h.request("GET", "/v1/me/requests/events", w.token, "", nil), 1, 1)
	// Without wait, a long-poll takes no place.
	h.call("GET", "/v1/me/requests", w.token, nil, 200, nil)
	other := &world{citizen: "001090000777"}
	other.enroll(h)
	resp := h.request("GET", "/v1/me/requests/events", other.token, "", nil)
	if resp.StatusCode != 200 {
		t.Errorf("another holder's stream: %d", resp.StatusCode)
	}
	open = append(open, resp)
	open[0].Body.Close()
	open = open[1:]
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp := h.request("GET", "/v1/me/requests/events", w.token, "", nil)
		if resp.StatusCode == 200 {
			open = append(open, resp)
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("a place given back is not taken again: %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWaitsBoundedPerKey: one verifier API key holds at most 256
// long-polls and event streams at once (a counter's waits on its
// requests); the next is 429 with Retry-After.
func TestWaitsBoundedPerKey(t *testing.T) {
	h, w := requestHarness(t)
	req := w.newRequest(h, "full_name")
	var open []*http.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	for range 256 {
		resp := h.request("GET", "/v1/verifier/requests/"+req.RequestID+"/events", w.verifierKey, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("stream %d: %d", len(open), resp.StatusCode)
		}
		open = append(open, resp)
	}
	wantRetryAfter(t, h.request("GET", "/v1/verifier/requests/"+req.RequestID+"/events", w.verifierKey, "", nil), 1, 1)
	wantRetryAfter(t, h.request("GET", "/v1/verifier/requests/"+req.RequestID+"?wait=30", w.verifierKey, "", nil), 1, 1)
}

// TestWaitsBoundedPerVerifier: all the keys of one verifier hold at most
// 1024 long-polls and event streams at once, so that one verifier cannot
// take the process's 4096 places from the others; the next, on a fresh
// key of its own, is 429, and another verifier's wait is still served.
func TestWaitsBoundedPerVerifier(t *testing.T) {
	h, w := requestHarness(t)
	req := w.newRequest(h, "full_name")
	keys := []string{w.verifierKey}
	for range 4 {
		var k api.NewAPIKey
		h.call("POST", "/v1/admin/verifiers/"+w.verifierID+"/api-keys", h.admin, nil, 201, &k)
		keys = append(keys, k.Key)
	}
	var open []*http.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	events := "/v1/verifier/requests/" + req.RequestID + "/events"
	for i := range 1024 {
		resp := h.request("GET", events, keys[i/256], "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("stream %d: %d", i, resp.StatusCode)
		}
		open = append(open, resp)
	}
	wantRetryAfter(t, h.request("GET", events, keys[4], "", nil), 1, 1)
	clinic := h.otherVerifier()
	var other api.CreateRequestResponse
	h.call("POST", "/v1/verifier/requests", clinic, api.CreateRequestRequest{
		Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}, Purpose: "Check-in"}, 201, &other)
	resp := h.request("GET", "/v1/verifier/requests/"+other.RequestID+"/events", clinic, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("another verifier's stream: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

// TestWaitsLeaveCitizensTheirPlaces: verifiers together hold at most 3072
// of the server's 4096 long-polls and streams; with three verifiers at
// their 1024 each, a fourth verifier's wait is 429 and a citizen's device
// is still served.
func TestWaitsLeaveCitizensTheirPlaces(t *testing.T) {
	h, w := requestHarness(t)
	var open []*http.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	verifier := func(id string) (key, events string) {
		var v api.VerifierView
		h.call("POST", "/v1/admin/verifiers", h.admin, api.CreateVerifierRequest{ID: id, Name: "Shop", Category: "retail",
			Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}}, 201, &v)
		var r api.CreateRequestResponse
		h.call("POST", "/v1/verifier/requests", v.APIKey.Key, api.CreateRequestRequest{
			Claims: map[string][]string{credentials.HealthInsurance: {"full_name"}}, Purpose: "Check"}, 201, &r)
		return v.APIKey.Key, "/v1/verifier/requests/" + r.RequestID + "/events"
	}
	for i := range 3 {
		first, events := verifier(fmt.Sprintf("shop-%d", i))
		keys := []string{first}
		for range 3 {
			var k api.NewAPIKey
			h.call("POST", fmt.Sprintf("/v1/admin/verifiers/shop-%d/api-keys", i), h.admin, nil, 201, &k)
			keys = append(keys, k.Key)
		}
		for j := range 1024 {
			resp := h.request("GET", events, keys[j/256], "", nil)
			if resp.StatusCode != 200 {
				t.Fatalf("verifier %d, stream %d: %d", i, j, resp.StatusCode)
			}
			open = append(open, resp)
		}
	}
	key, events := verifier("shop-3")
	wantRetryAfter(t, h.request("GET", events, key, "", nil), 1, 1)
	resp := h.request("GET", "/v1/me/requests?wait=1", w.token, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("a citizen's long-poll beside the verifiers' 3072: %d", resp.StatusCode)
	}
	resp.Body.Close()
}
