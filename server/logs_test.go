package server_test

import (
	"encoding/json"
	"strings"
	"testing"
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
