package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/server"
	"github.com/go-json-experiment/json"
)

func issueLine(t *testing.T, h *harness, citizen string) []byte {
	t.Helper()
	return mustJSON(t, api.IssueRequest{CitizenID: citizen, Type: credentials.HealthInsurance,
		Claims: healthClaims("Bulk Person"), ExpiresAt: h.clock.Now().AddDate(2, 0, 0)})
}

// TestBulk: one result per line, in order, numbered as the body counts
// lines; a bad line fails alone and the stream goes on: malformed JSON, an
// unknown member, a line over the cap, a request the service refuses.
// Blank lines get no result.
func TestBulk(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	var body bytes.Buffer
	body.Write(issueLine(t, h, "100000000001"))
	body.WriteString("\n{\"citizen_id\": \"100000000002\",\n") // line 2: cut short
	body.Write(issueLine(t, h, "100000000003"))
	body.WriteString("\r\n\n") // CRLF, then blank line 4
	body.WriteString(`{"citizen_id":"100000000005","type":"health_insurance","claims":{},"valid_until":"2030-01-01T00:00:00Z","extra":1}` + "\n")
	body.WriteString(`{"citizen_id":"100000000006","type":"national_id","claims":{},"valid_until":"2030-01-01T00:00:00Z"}` + "\n")
	body.WriteString(`{"pad":"` + strings.Repeat("x", 70<<10) + "\"}\n") // line 7: over 64 KiB
	body.Write(issueLine(t, h, "100000000008"))                          // last line, no newline

	resp := h.request("POST", "/v1/issuer/credentials:bulk", w.issuerKey, "application/x-ndjson", body.Bytes())
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got []api.BulkResult
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var r api.BulkResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		got = append(got, r)
	}
	resp.Body.Close()
	want := []struct {
		line int
		code api.Code
	}{{1, ""}, {2, "invalid_request"}, {3, ""}, {5, "invalid_request"}, {6, "forbidden"}, {7, "payload_too_large"}, {8, ""}}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(got), len(want), got)
	}
	for i, wnt := range want {
		r := got[i]
		if r.Line != wnt.line || r.Error != wnt.code {
			t.Errorf("result %d: line %d error %q (%s), want line %d error %q", i, r.Line, r.Error, r.ErrorDescription, wnt.line, wnt.code)
		}
		if wnt.code == "" && (r.IssueResponse == nil || r.CredentialID == "" || r.StatusList == "") {
			t.Errorf("line %d: no credential: %+v", r.Line, r)
		}
		if wnt.code != "" && (r.IssueResponse != nil || r.ErrorDescription == "") {
			t.Errorf("line %d: %+v", r.Line, r)
		}
	}
	if m := h.metric("eidwallet_bulk_issuance_lines_total"); !strings.Contains(m, `result="issued"} 3`) {
		t.Errorf("bulk metrics:\n%s", m)
	}
}

// postBulk sends body, read as it goes, to the bulk route of the service
// at base as the issuer key, and returns the answer as soon as it begins.
func postBulk(base, key string, body io.Reader) (*http.Response, error) {
	req, _ := http.NewRequest("POST", base+"/v1/issuer/credentials:bulk", body)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	return http.DefaultClient.Do(req)
}

// TestBulkStreamsFlat sends 20,000 lines through a pipe and reads results
// as they come. It shows the answer streams (the first results arrive
// while most of the body is still unsent: the writer waits for them) and
// that memory stays flat: the heap after the stream, and its peak during
// it, stay near where they started, far below what 20,000 requests and
// results held at once would take.
func TestBulkStreamsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 issuances")
	}
	h := newHarness(t)
	w := h.setup()
	h.logs.Discard() // the service logs each issuance; the test keeps none of it
	const lines = 20_000
	line := issueLine(t, h, w.citizen) // enrolled: each credential is signed for its device

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse

	var results atomic.Int64
	firstResult := make(chan struct{})
	pr, pw := io.Pipe()
	go func() {
		for i := range lines {
			if i == 2_000 {
				select { // more than a few batches out: results must be flowing
				case <-firstResult:
				case <-time.After(20 * time.Second):
					pw.CloseWithError(fmt.Errorf("no result after %d lines were sent", i))
					return
				}
			}
			if _, err := pw.Write(append(line, '\n')); err != nil {
				return
			}
		}
		pw.Close()
	}()

	peak := before
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()

	resp, err := postBulk(h.url, w.issuerKey, pr)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	next := 1
	for sc.Scan() {
		var r api.BulkResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Line != next || r.Error != "" {
			t.Fatalf("result %+v, want line %d issued", r, next)
		}
		next++
		if results.Add(1) == 1 {
			close(firstResult)
		}
	}
	resp.Body.Close()
	close(stopSampling)
	<-sampled
	if n := results.Load(); n != lines {
		t.Fatalf("%d results for %d lines (scan: %v)", n, lines, sc.Err())
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	after := ms.HeapInuse
	const mib = 1 << 20
	t.Logf("heap in use: before %.1f MiB, peak %.1f MiB, after %.1f MiB", float64(before)/mib, float64(peak)/mib, float64(after)/mib)
	if after > before+16*mib {
		t.Errorf("heap grew from %d to %d bytes over the stream", before, after)
	}
	// Three full batches at most (two issuing, one filling: ~25 MiB with
	// the collector's headroom here, more on a loaded machine), against
	// 20,000 lines with their signed, sealed copies (several KiB each)
	// held at once.
	if peak > before+48*mib {
		t.Errorf("heap peaked at %d bytes (from %d)", peak, before)
	}
}

// TestBulkAnswersWhatItHas: a client that sends a few lines and waits for
// their answers before it sends more gets every answer, whether or not a
// batch is in flight when a line comes (with one in flight the handler
// waits for a full batch only until that one is done).
func TestBulkAnswersWhatItHas(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	line := append(issueLine(t, h, w.citizen), '\n')
	pr, pw := io.Pipe()
	defer pw.Close()
	send := func(n int) { go pw.Write(bytes.Repeat(line, n)) } // the pipe blocks until the body is read
	send(1)
	results := make(chan api.BulkResult)
	go func() {
		defer close(results)
		resp, err := postBulk(h.url, w.issuerKey, pr)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var r api.BulkResult
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Error(err)
				return
			}
			results <- r
		}
	}()
	next := 1
	for round := 1; round <= 4; round++ { // 1, 2, 3, then 4 lines sent before their answers are read
		for range round {
			select {
			case r, ok := <-results:
				if !ok || r.Line != next || r.Error != "" {
					t.Fatalf("result %+v (open %t), want line %d issued", r, ok, next)
				}
				next++
			case <-time.After(20 * time.Second):
				t.Fatalf("no answer to line %d, sent in round %d", next, round)
			}
		}
		if round < 4 {
			send(round + 1)
		}
	}
}

// TestBulkBrokenBody: when the body breaks off (here the client stops
// sending, short of its Content-Length, past the idle timeout), the
// complete lines before the break are issued and answered, then one result
// with the next line number says the stream ended early.
func TestBulkBrokenBody(t *testing.T) {
	h := newHarness(t, func(c *server.Config) { c.BulkIdleTimeout = 300 * time.Millisecond })
	w := h.setup()
	u := must(url.Parse(h.url))
	conn := must(net.Dial("tcp", u.Host))
	defer conn.Close()
	lines := string(issueLine(t, h, "300000000001")) + "\n" + string(issueLine(t, h, "300000000002")) + "\n" + `{"citizen_id":"3000`
	fmt.Fprintf(conn, "POST /v1/issuer/credentials:bulk HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n%s", u.Host, w.issuerKey, len(lines)+1000, lines)
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body := string(readAll(t, resp))
	var got []api.BulkResult
	for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
		var r api.BulkResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("result %q: %v", l, err)
		}
		got = append(got, r)
	}
	if len(got) != 3 || got[0].IssueResponse == nil || got[1].IssueResponse == nil ||
		got[2].Line != 3 || got[2].Error != api.CodeInvalidRequest {
		t.Fatalf("results:\n%s", body)
	}
}

// TestBulkEndsAtShutdown: a stream open when the server shuts down ends
// promptly, as if its body had: what was taken is answered, in order, and
// one last result (503 storage_unavailable) names the first line not
// issued, to be sent again; shutdown then completes.
func TestBulkEndsAtShutdown(t *testing.T) {
	srv, resp := bulkToShutDown(t, func(pw *io.PipeWriter, line []byte) {
		for { // an endless body
			if _, err := pw.Write(line); err != nil {
				return
			}
		}
	})
	sc := bufio.NewScanner(resp.Body)
	var got []api.BulkResult
	shut := make(chan error, 1)
	for sc.Scan() {
		var r api.BulkResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
		if len(got) == 1 {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				shut <- srv.Shutdown(ctx)
			}()
		}
	}
	if len(got) == 0 { // no result: nothing started the shutdown
		t.Fatalf("the stream ended with no result: %v", sc.Err())
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	last := got[len(got)-1]
	if last.Error != api.CodeStorageUnavailable || !strings.Contains(last.ErrorDescription, "shutting down") || last.Line != len(got) {
		t.Fatalf("the stream's last result %+v after %d, want storage_unavailable naming line %d", last, len(got)-1, len(got))
	}
	for i, r := range got[:len(got)-1] {
		if r.Line != i+1 || r.Error != "" {
			t.Fatalf("result %d: %+v, want line %d issued", i, r, i+1)
		}
	}
}

// TestBulkEndsAtShutdownWhileTheClientWaits: a client that sent its lines
// and waits for their answers before it sends more does not hold shutdown
// up: the stream ends at once with the line to send next.
func TestBulkEndsAtShutdownWhileTheClientWaits(t *testing.T) {
	srv, resp := bulkToShutDown(t, func(pw *io.PipeWriter, line []byte) {
		_, _ = pw.Write(bytes.Repeat(line, 2)) // and nothing more until answered
	})
	sc := bufio.NewScanner(resp.Body)
	for n := 1; n <= 2; n++ {
		if !sc.Scan() {
			t.Fatalf("no answer to line %d: %v", n, sc.Err())
		}
	}
	shutDownPromptly(t, srv)
	var last api.BulkResult
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &last) != nil || last.Line != 3 || last.Error != api.CodeStorageUnavailable {
		t.Errorf("the stream's last result %+v, want storage_unavailable naming line 3", last)
	}
}

// bulkToShutDown starts a bulk stream, its body written by feed (from a
// goroutine of its own), on a server of its own that the test shuts down.
func bulkToShutDown(t *testing.T, feed func(pw *io.PipeWriter, line []byte)) (*http.Server, *http.Response) {
	t.Helper()
	h := newHarness(t)
	w := h.setup()
	h.logs.Discard()
	srv, url := serveWithTimeouts(t, h, time.Minute)
	line := append(issueLine(t, h, w.citizen), '\n')
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	go feed(pw, line)
	resp, err := postBulk(url, w.issuerKey, pr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return srv, resp
}
