package server_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/server"
	"github.com/go-json-experiment/json"
)

// TestServiceLogsCarryRequestID: the service's own log lines (here
// "credential issued") carry the id of the request that caused them, the
// same id the request line and the X-Request-Id header show.
func TestServiceLogsCarryRequestID(t *testing.T) {
	h := newHarness(t)
	h.setup()
	var issued, requestLine map[string]any
	for _, line := range strings.Split(h.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch {
		case rec["msg"] == "credential issued":
			issued = rec
		case rec["msg"] == "request" && rec["route"] == "/v1/issuer/credentials":
			requestLine = rec
		}
	}
	if issued == nil || requestLine == nil {
		t.Fatalf("log lines missing: issued %v, request %v", issued, requestLine)
	}
	id, _ := issued["request_id"].(string)
	if id == "" || id != requestLine["request_id"] {
		t.Errorf("service line request_id %q, request line %q", id, requestLine["request_id"])
	}
}

// TestLogLinesHaveOneRequestID: every JSON log line of a run decodes with
// a decoder that rejects duplicate member names (RFC 8259 §4 leaves
// duplicates to each reader), and each request line carries request_id
// once, equal to the X-Request-Id of its answer; also when the caller's
// logger was not wrapped in server.LogHandler, and when it was wrapped
// twice.
func TestLogLinesHaveOneRequestID(t *testing.T) {
	for name, wrap := range map[string]func(slog.Handler) slog.Handler{
		"wrapped":       server.LogHandler,
		"plain":         func(h slog.Handler) slog.Handler { return h },
		"wrapped twice": func(h slog.Handler) slog.Handler { return server.LogHandler(server.LogHandler(h)) },
	} {
		t.Run(name, func(t *testing.T) {
			var logs syncBuffer
			h := newHarness(t, func(c *server.Config) {
				c.Logger = slog.New(wrap(slog.NewJSONHandler(&logs, nil)))
			})
			w := h.setup()
			ids := map[string]bool{}
			for _, path := range []string{"/healthz", "/v1/me/credentials", "/v1/me/shares/shr_nosuch", "/v1/nothing"} {
				resp := h.request("GET", path, w.token, "", nil)
				readAll(t, resp)
				ids[resp.Header.Get("X-Request-Id")] = true
			}
			req, _ := http.NewRequest("GET", h.url+"/healthz", nil)
			req.Header.Set("X-Request-Id", "proxy-request-0001")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			ids["proxy-request-0001"] = true

			seen := map[string]int{}
			for _, line := range bytes.Split(bytes.TrimSpace([]byte(logs.String())), []byte("\n")) {
				var rec map[string]any
				if err := json.Unmarshal(line, &rec); err != nil {
					t.Fatalf("log line %s: %v", line, err)
				}
				if rec["msg"] != "request" {
					continue
				}
				id, _ := rec["request_id"].(string)
				if id == "" {
					t.Errorf("request line without request_id: %s", line)
				}
				seen[id]++
			}
			for id := range ids {
				if seen[id] != 1 {
					t.Errorf("request %s: %d request lines, want 1", id, seen[id])
				}
			}
		})
	}
}
