package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/api"
)

// TestCORSVerifierRoutes (issue 13 item 4): a page of an origin the
// operator allowed for a verifier may call the verifier routes with its
// key and read the answer; a page of any other origin is refused before
// anything is done (its share is not spent); the service's own pages need
// no entry; a preflight is answered for any https origin and for the
// verifier routes only; origins are checked when set.
func TestCORSVerifierRoutes(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	const bank = "https://bank.example"
	send := func(method, path, origin string, extra map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, h.url+path, nil)
		if method == "POST" {
			req.Header.Set("Content-Type", "application/json")
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for k, v := range extra {
			req.Header.Set(k, v)
		}
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	verifications := func(origin string) *http.Response {
		return send("GET", "/v1/verifier/verifications", origin, map[string]string{"Authorization": "Bearer " + w.verifierKey})
	}

	// None allowed by default.
	if resp := verifications(bank); resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an origin not allowed: %d, ACAO %q; want 403 and none", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// A share presented from a page not allowed is not spent.
	_, qrText := w.share(h, "full_name")
	body := []byte(`{"qr":"` + qrText + `"}`)
	req, _ := http.NewRequest("POST", h.url+"/v1/verify", bytesReader(body))
	req.Header.Set("Authorization", "Bearer "+w.verifierKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", bank)
	if resp, err := h.client.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("a redemption from an origin not allowed: %v %v, want 403", resp.StatusCode, err)
	}

	// Origins are checked.
	for _, bad := range []string{"http://bank.example", "https://bank.example/", "https://bank.example/app", "https://Bank.example", "bank.example", "https://u@bank.example"} {
		h.call("PUT", "/v1/admin/verifiers/"+w.verifierID+"/origins", h.admin, api.OriginsRequest{Origins: []string{bad}}, 400, nil)
	}
	var view api.VerifierView
	h.call("PUT", "/v1/admin/verifiers/"+w.verifierID+"/origins", h.admin, api.OriginsRequest{Origins: []string{bank}}, 200, &view)
	if len(view.Origins) != 1 || view.Origins[0] != bank {
		t.Fatalf("verifier after setting origins: %+v", view)
	}
	// The member is required ([] removes them): a body without it, or
	// null, is refused and leaves them as they are (SPEC §5).
	for _, body := range []string{`{}`, `null`, `{"origins":null}`} {
		wantError(t, h.request("PUT", "/v1/admin/verifiers/"+w.verifierID+"/origins", h.admin, "application/json", []byte(body)), 400, "invalid_request")
	}
	var list api.VerifierList
	h.call("GET", "/v1/admin/verifiers", h.admin, nil, 200, &list)
	for _, v := range list.Verifiers {
		if v.ID == w.verifierID && (len(v.Origins) != 1 || v.Origins[0] != bank) {
			t.Fatalf("the origins after bodies without them: %+v", v)
		}
	}

	// Allowed: the answer names the origin; the share is redeemed.
	if resp := verifications(bank); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != bank ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Errorf("the allowed origin: %d, ACAO %q, exposed %q (the page reads X-Request-Id, Retry-After)", resp.StatusCode,
			resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Expose-Headers"))
	}
	req, _ = http.NewRequest("POST", h.url+"/v1/verify", bytesReader(body))
	req.Header.Set("Authorization", "Bearer "+w.verifierKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", bank)
	if resp, err := h.client.Do(req); err != nil || resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != bank {
		t.Fatalf("the redemption from the allowed origin: %v %v", resp.StatusCode, err)
	}
	// Another origin still not.
	if resp := verifications("https://evil.example"); resp.StatusCode != 403 {
		t.Errorf("another origin: %d, want 403", resp.StatusCode)
	}
	// The service's own pages (same origin) need no entry: the browser
	// says so, or the origin is the one the request was sent to; on the
	// service's host under another scheme, or any scheme, it is another.
	if resp := send("GET", "/v1/verifier/verifications", "https://evil.example",
		map[string]string{"Authorization": "Bearer " + w.verifierKey, "Sec-Fetch-Site": "same-origin"}); resp.StatusCode != 200 {
		t.Errorf("a same-origin page: %d, want 200", resp.StatusCode)
	}
	host := strings.TrimPrefix(h.url, "http://")
	for origin, want := range map[string]int{"http://" + host: 200, "https://" + host: 403, "x://" + host: 403} {
		if resp := verifications(origin); resp.StatusCode != want {
			t.Errorf("origin %s on a plain-http server: %d, want %d", origin, resp.StatusCode, want)
		}
	}

	// Preflights: the verifier routes, https origins, GET and POST.
	pre := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}
	resp := send("OPTIONS", "/v1/verify", bank, pre)
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != bank ||
		resp.Header.Get("Access-Control-Allow-Headers") == "" || resp.Header.Get("Access-Control-Allow-Methods") != "GET, POST" {
		t.Errorf("preflight of /v1/verify: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := send("OPTIONS", "/v1/verify", "http://plain.example", pre); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("a preflight from an http origin was allowed")
	}
	if resp := send("OPTIONS", "/v1/me/credentials", bank, pre); resp.StatusCode != 405 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight of a holder route: %d, ACAO %q; want 405 and none", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}
