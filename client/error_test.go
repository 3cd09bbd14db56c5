package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
)

// cannedServer answers every request with status, headers and body: a fake
// of the wire format only, for error decoding.
func cannedServer(t *testing.T, status int, header map[string]string, body string) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestErrorDecoding(t *testing.T) {
	jsonCT := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   client.Error
	}{
		{"not found", 404, jsonCT, `{"error":"not_found","error_description":"share not found"}`,
			client.Error{Status: 404, Code: api.CodeNotFound, Description: "share not found"}},
		{"verification failed with reason", 422, jsonCT,
			`{"error":"verification_failed","error_description":"verification failed: credential_revoked","reason":"credential_revoked"}`,
			client.Error{Status: 422, Code: api.CodeVerificationFailed, Description: "verification failed: credential_revoked", Reason: "credential_revoked"}},
		{"audience mismatch", 403, jsonCT, `{"error":"forbidden","error_description":"share bound to another verifier","reason":"audience_mismatch"}`,
			client.Error{Status: 403, Code: api.CodeForbidden, Description: "share bound to another verifier", Reason: api.ReasonAudienceMismatch}},
		{"rate limited", 429, map[string]string{"Content-Type": "application/json", "Retry-After": "7"},
			`{"error":"rate_limited","error_description":"slow down"}`,
			client.Error{Status: 429, Code: api.CodeRateLimited, Description: "slow down", RetryAfter: 7 * time.Second}},
		{"unauthenticated", 401, map[string]string{"Content-Type": "application/json", "WWW-Authenticate": `Bearer error="invalid_token"`},
			`{"error":"unauthenticated","error_description":"missing, invalid or expired credentials"}`,
			client.Error{Status: 401, Code: api.CodeUnauthenticated, Description: "missing, invalid or expired credentials"}},
		{"fail closed", 503, jsonCT, `{"error":"status_unavailable","error_description":"status list unavailable"}`,
			client.Error{Status: 503, Code: api.CodeStatusUnavailable, Description: "status list unavailable"}},
		{"proxy page", 502, map[string]string{"Content-Type": "text/html"}, "<html>\n<body>Bad\tGateway</body></html>",
			client.Error{Status: 502, Description: "<html> <body>Bad Gateway</body></html>"}},
		{"empty body", 500, nil, "", client.Error{Status: 500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := cannedServer(t, tt.status, tt.header, tt.body)
			c := client.New(ts.URL)
			_, err := c.Verifier("vk_secret").Verify(context.Background(), "EID1:AAAAAAAAAAAAAAAAAAAAAAAAAA")
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *client.Error", err, err)
			}
			if *e != tt.want {
				t.Errorf("error = %+v\nwant    %+v", *e, tt.want)
			}
			if client.ErrorCode(err) != tt.want.Code {
				t.Errorf("ErrorCode = %q", client.ErrorCode(err))
			}
			if strings.Contains(err.Error(), "vk_secret") {
				t.Error("the error message carries the API key")
			}
			// The same decoding applies to every role and call shape.
			err = c.Admin("t").RevokeAPIKey(context.Background(), "key_1")
			if !errors.As(err, &e) || e.Status != tt.status {
				t.Errorf("admin call: err = %v", err)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	e := &client.Error{Status: 422, Code: api.CodeVerificationFailed, Reason: "kb_invalid", Description: "verification failed: kb_invalid"}
	if got, want := e.Error(), "422 verification_failed (kb_invalid): verification failed: kb_invalid"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &client.Error{Status: 429, Code: api.CodeRateLimited, RetryAfter: 3 * time.Second}
	if got, want := e.Error(), "429 rate_limited (retry after 3s)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if client.ErrorCode(errors.New("x")) != "" {
		t.Error("ErrorCode of a plain error is not empty")
	}
	if client.ErrorCode(fmt.Errorf("wrapped: %w", e)) != api.CodeRateLimited {
		t.Error("ErrorCode does not unwrap")
	}
}

func TestRetryAfterDate(t *testing.T) {
	at := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	ts := cannedServer(t, 429, map[string]string{"Retry-After": at}, `{"error":"rate_limited"}`)
	_, err := client.New(ts.URL).Verifier("k").Verify(context.Background(), "EID1:X")
	var e *client.Error
	if !errors.As(err, &e) || e.RetryAfter < 80*time.Second || e.RetryAfter > 91*time.Second {
		t.Errorf("RetryAfter from an HTTP date: err = %v", err)
	}
}

func TestResponseCap(t *testing.T) {
	big := `{"result":"valid","share_id":"` + strings.Repeat("a", 2<<10) + `"}`
	ts := cannedServer(t, 200, map[string]string{"Content-Type": "application/json"}, big)
	_, err := client.New(ts.URL, client.WithMaxResponseBytes(1<<10)).Verifier("k").Verify(context.Background(), "EID1:X")
	if !errors.Is(err, client.ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
	if _, err := client.New(ts.URL).Verifier("k").Verify(context.Background(), "EID1:X"); err != nil {
		t.Errorf("under the default cap: %v", err)
	}
}
