package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/eidwallet/eidwallet/server"
)

// TestStarting: before the service is ready the process is up (/healthz
// 200) and not ready: /readyz and the API are 503 storage_unavailable with
// Retry-After, JSON, not stored.
func TestStarting(t *testing.T) {
	ts := httptest.NewServer(server.Starting())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != 200 || string(body) != `{"status":"ok"}` {
		t.Errorf("/healthz: %d %s", resp.StatusCode, body)
	}
	if resp, err := http.Post(ts.URL+"/healthz", "text/plain", nil); err != nil || resp.StatusCode != 503 {
		t.Errorf("POST /healthz: %v %v, want 503 (only GET and HEAD are the probe)", resp, err)
	}
	for _, path := range []string{"/readyz", "/v1/verify", "/"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Retry-After") != "5" || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
		wantError(t, resp, 503, "storage_unavailable")
	}
}
