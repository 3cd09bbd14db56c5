package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
)

// eventServer answers each GET of an event stream with the next of
// streams (the last one again when they run out), as the server would
// over reconnections.
func eventServer(t *testing.T, streams ...string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/token":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"tok","token_type":"Bearer","expires_in":600}`)
			return
		case !strings.HasSuffix(r.URL.Path, "/events") || r.Header.Get("Authorization") == "":
			http.Error(w, `{"error":"not_found","error_description":"no"}`, http.StatusNotFound)
			return
		}
		i := int(n.Add(1)) - 1
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, streams[min(i, len(streams)-1)])
	}))
	t.Cleanup(ts.Close)
	return ts, &n
}

func status(s string) string {
	return fmt.Sprintf("event: status\ndata: {\"request_id\":\"req_1\",\"status\":%q,\"expires_at\":\"2026-01-01T00:00:00Z\"}\n\n", s)
}

// TestVerifierRequestEvents: the iterator reconnects when a stream ends
// before a final status (honouring retry:), skips a status it already
// yielded, and ends after the final one.
func TestVerifierRequestEvents(t *testing.T) {
	ts, opened := eventServer(t,
		"retry: 10\n\n"+status("created")+": keep-alive\n\n",
		"retry: 10\n\n"+status("created")+status("delivered"),
		"retry: 10\n\n"+status("delivered")+status("approved")+status("should-not-be-read"),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for res, err := range client.New(ts.URL).Verifier("key").RequestEvents(ctx, "req_1") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.Status)
	}
	if strings.Join(got, ",") != "created,delivered,approved" || opened.Load() != 3 {
		t.Errorf("statuses %v over %d connections", got, opened.Load())
	}
}

// TestRequestEventsErrors: an error answer when opening, or an error event
// inside the stream, is yielded once as *Error and ends the loop; a loop
// that stops early stops the stream.
func TestRequestEventsErrors(t *testing.T) {
	ctx := context.Background()
	ts, _ := eventServer(t, "retry: 10\n\n"+status("created")+"event: error\ndata: {\"error\":\"storage_unavailable\",\"error_description\":\"down\"}\n\n")
	v := client.New(ts.URL).Verifier("key")
	var errs []error
	n := 0
	for res, err := range v.RequestEvents(ctx, "req_1") {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
		if res.Status != api.RequestCreated {
			t.Errorf("status %s", res.Status)
		}
	}
	if n != 1 || len(errs) != 1 || client.ErrorCode(errs[0]) != api.CodeStorageUnavailable {
		t.Errorf("%d events, errors %v", n, errs)
	}

	// No credential: the fake answers 404 before any stream.
	for _, err := range client.New(ts.URL).Verifier("").RequestEvents(ctx, "req_1") {
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 404 {
			t.Errorf("open: %v", err)
		}
	}

	// Stopping early.
	for range v.RequestEvents(ctx, "req_1") {
		break
	}
}

// TestHolderRequestEvents: each request once across reconnections; the
// loop ends with ctx's error when ctx ends.
func TestHolderRequestEvents(t *testing.T) {
	view := func(id string) string {
		return fmt.Sprintf("event: request\ndata: {\"request_id\":%q,\"status\":\"delivered\",\"verifier\":{\"id\":\"v\",\"name\":\"V\",\"category\":\"c\"},\"purpose\":\"p\",\"claims\":[],\"created\":\"2026-01-01T00:00:00Z\",\"expires_at\":\"2026-01-01T00:02:00Z\"}\n\n", id)
	}
	ts, _ := eventServer(t, "retry: 10\n\n"+view("req_a"), "retry: 10\n\n"+view("req_a")+view("req_b"), "retry: 10\n\n: keep-alive\n\n")
	dev, err := client.NewDevice("test")
	if err != nil {
		t.Fatal(err)
	}
	dev.ID = "dev_test"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	var end error
	for v, err := range client.New(ts.URL).Holder(dev).RequestEvents(ctx) {
		if err != nil {
			end = err
			break
		}
		got = append(got, v.RequestID)
		if len(got) == 2 {
			time.AfterFunc(50*time.Millisecond, cancel)
		}
	}
	if strings.Join(got, ",") != "req_a,req_b" || !errors.Is(end, context.Canceled) {
		t.Errorf("requests %v, end %v", got, end)
	}
}
