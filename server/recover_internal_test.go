package server

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json"
	"github.com/prometheus/client_golang/prometheus"
)

// TestRecoverPanics: a panicking handler is answered 500 server_error with
// the generic description, logged once with the request id, and the panic
// value (which could hold anything) is not echoed.
func TestRecoverPanics(t *testing.T) {
	var logs bytes.Buffer
	s := &server{log: slog.New(LogHandler(slog.NewJSONHandler(&logs, nil))), metrics: newMetrics(prometheus.NewRegistry()), now: time.Now}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(s.requestID(), s.observe(), s.recoverPanics(), s.securityHeaders())
	e.GET("/v1/boom", func(*gin.Context) { panic("secret-claim-value") })

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/boom", nil))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != "server_error" || body.Description != genericInternal {
		t.Fatalf("body %s (%v)", rec.Body, err)
	}
	id := rec.Header().Get("X-Request-Id")
	panics := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		if entry["msg"] == "panic" {
			panics++
			if entry["request_id"] != id {
				t.Errorf("panic logged with request_id %v, want %s", entry["request_id"], id)
			}
		}
	}
	if panics != 1 {
		t.Errorf("%d panic lines, want 1:\n%s", panics, logs.String())
	}
	if strings.Contains(logs.String()+rec.Body.String(), "secret-claim-value") {
		t.Error("the panic value leaked")
	}
}
