package wallet_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
)

// countingListener is a TCP listener on 127.0.0.1 that counts the
// connections made to it: 0 means nothing connected.
type countingListener struct {
	net.Listener
	accepts atomic.Int32
}

func listenCounting(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &countingListener{Listener: ln}
	t.Cleanup(func() { _ = ln.Close() })
	return l
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepts.Add(1)
	}
	return c, err
}

func (l *countingListener) port() string { return strconv.Itoa(l.Addr().(*net.TCPAddr).Port) }

// serveCounting answers every request on l with h.
func serveCounting(t *testing.T, l *countingListener, h http.HandlerFunc) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// logBuffer collects the service's JSON log lines, written from delivery
// goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls the logs until they contain s.
func (b *logBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(b.String(), s); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the logs:\n%s", s, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// webhookEnv is a service that logs to a buffer, waiting retries between
// webhook attempts (none: one attempt, never DefaultWebhookRetries).
func webhookEnv(t *testing.T, allowLoopback bool, retries ...time.Duration) (*reqEnv, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	r := newReqEnv(t, wallet.Config{Now: time.Now, WebhookRetries: append([]time.Duration{}, retries...),
		AllowLoopbackWebhooks: allowLoopback, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	t.Cleanup(r.svc.Close)
	return r, logs
}

// decline makes a request of the shop and has the holder decline it: the
// result goes to the shop's webhook.
func (r *reqEnv) decline(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	r.now = time.Now()
	created, err := r.svc.CreateRequest(ctx, r.verifier, api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"age_over_18"}}, Purpose: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.ResolveRequest(ctx, r.holder, api.ResolveRequest{QR: created.QRText}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.DeclineRequest(ctx, r.holder, created.RequestID); err != nil {
		t.Fatal(err)
	}
}

// TestWebhookDialChecksResolvedAddress: a name that passes when it is set
// (localhost) but resolves to 127.0.0.1 is refused by the dialer's Control
// hook, after DNS and before connect: a listener on that address sees no
// connection, each attempt fails as refused, and the logs name the rule
// without the URL or its secrets (SPEC §6, THREATS T36: DNS rebinding).
func TestWebhookDialChecksResolvedAddress(t *testing.T) {
	target := listenCounting(t)
	serveCounting(t, target, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	r, logs := webhookEnv(t, false, 10*time.Millisecond)
	u := "https://localhost:" + target.port() + "/hooks/tok-s3cr3t?key=k3y-9"
	if _, err := r.svc.SetVerifierWebhook(context.Background(), r.admin, "shop", api.WebhookRequest{URL: &u}); err != nil {
		t.Fatalf("a DNS name is judged at dial, not when set: %v", err)
	}
	r.decline(t)
	logs.waitFor(t, "webhook undelivered")
	if n := target.accepts.Load(); n != 0 {
		t.Errorf("the listener behind localhost accepted %d connections, want 0", n)
	}
	out := logs.String()
	if got := strings.Count(out, `"failure":"address refused: a loopback address"`); got != 3 { // two attempts, then the last word
		t.Errorf("%d lines name the refused address, want 3:\n%s", got, out)
	}
	for _, secret := range []string{"tok-s3cr3t", "k3y-9", "localhost:" + target.port()} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs contain %q", secret)
		}
	}
}

// TestWebhookRedirectNotFollowed: a 3xx is a failed attempt; the signed
// result never reaches the redirect's target, which sees no connection.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	r, logs := webhookEnv(t, true, 10*time.Millisecond)
	elsewhere := listenCounting(t)
	serveCounting(t, elsewhere, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	redirecting := listenCounting(t)
	serveCounting(t, redirecting, func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "http://127.0.0.1:"+elsewhere.port()+"/stolen", http.StatusTemporaryRedirect)
	})
	if _, err := r.svc.SetVerifierWebhook(context.Background(), r.admin, "shop", api.WebhookRequest{URL: new("http://127.0.0.1:" + redirecting.port() + "/hook")}); err != nil {
		t.Fatal(err)
	}
	r.decline(t)
	logs.waitFor(t, "webhook undelivered")
	if n := redirecting.accepts.Load(); n == 0 {
		t.Error("the webhook was never posted")
	}
	if n := elsewhere.accepts.Load(); n != 0 {
		t.Errorf("the redirect target accepted %d connections, want 0", n)
	}
	if !strings.Contains(logs.String(), `"failure":"redirect not followed","status":307`) {
		t.Errorf("the failed attempts do not say why:\n%s", logs.String())
	}
}

// TestWebhookResponseReadCapped: only the status of the receiver's answer
// counts; an endless body is read up to the cap, not until the timeout.
func TestWebhookResponseReadCapped(t *testing.T) {
	r, logs := webhookEnv(t, true, 10*time.Millisecond)
	endless := listenCounting(t)
	serveCounting(t, endless, func(w http.ResponseWriter, req *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for req.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	if _, err := r.svc.SetVerifierWebhook(context.Background(), r.admin, "shop", api.WebhookRequest{URL: new("http://127.0.0.1:" + endless.port() + "/hook")}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r.decline(t)
	logs.waitFor(t, "webhook delivered")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("delivery took %s: the body was read to the timeout", d)
	}
}

// TestWebhookTimeout: a receiver that never answers costs one attempt of
// about the response-header timeout (5 s), not a delivery goroutine held
// open.
func TestWebhookTimeout(t *testing.T) {
	r, logs := webhookEnv(t, true) // no retry: one attempt
	silent := listenCounting(t)
	release := make(chan struct{})
	serveCounting(t, silent, func(http.ResponseWriter, *http.Request) { <-release })
	t.Cleanup(func() { close(release) })
	if _, err := r.svc.SetVerifierWebhook(context.Background(), r.admin, "shop", api.WebhookRequest{URL: new("http://127.0.0.1:" + silent.port() + "/hook")}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r.decline(t)
	logs.waitFor(t, "webhook undelivered")
	if d := time.Since(start); d < 4*time.Second || d > 9*time.Second {
		t.Errorf("the attempt ended after %s, want about the 5 s response-header timeout", d)
	}
	if !strings.Contains(logs.String(), `"failure":"timeout"`) {
		t.Errorf("the attempt is not logged as a timeout:\n%s", logs.String())
	}
}
