package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
)

// The two-replica suite (issue 10): `eidwallet serve` processes over one
// PostgreSQL schema, as an operator runs them behind a load balancer:
// the same master key file and --public-url for every replica, each on
// 127.0.0.1:0. Clients address the public URL; a transport sends each
// client's requests to the replica the test chose, as a load balancer
// would. It runs when EIDWALLET_TEST_POSTGRES_DSN is set (in CI it must
// be).

// replicaPublicURL is the deployment's public URL: the aud of device
// assertions, the iss of credentials, whichever replica serves.
const replicaPublicURL = "http://wallet.replicas.test"

// deployment is one fresh schema and the replicas started on it.
type deployment struct {
	t       *testing.T
	bin     string
	dsn     string
	schema  string
	keyFile string
	flags   []string // for every replica
}

// newDeployment makes a fresh schema, dropped once the replicas started
// on it have stopped.
func newDeployment(t *testing.T, bin string, flags ...string) *deployment {
	t.Helper()
	dsn, schema := testPostgres(t)
	return &deployment{t: t, bin: bin, dsn: dsn, schema: schema, keyFile: filepath.Join(t.TempDir(), "master.key"), flags: flags}
}

// replica is one `eidwallet serve` process.
type replica struct {
	name    string
	cmd     *exec.Cmd
	url     string
	dataDir string
	logs    *syncBuffer
	done    chan struct{}
}

// start starts a replica and waits until it listens. The first one
// started on a fresh schema makes the master key and the admin token.
func (d *deployment) start(name string) *replica {
	t := d.t
	t.Helper()
	r := &replica{name: name, dataDir: t.TempDir(), logs: &syncBuffer{}, done: make(chan struct{})}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", r.dataDir, "--store", "postgres",
		"--postgres-dsn", d.dsn, "--postgres-schema", d.schema, "--master-key", d.keyFile,
		"--public-url", replicaPublicURL, "--dev-loopback-webhooks"}, d.flags...)
	r.cmd = exec.Command(d.bin, args...)
	found := make(chan string, 1)
	r.cmd.Stdout = &urlWatcher{found: found}
	r.cmd.Stderr = r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start replica %s: %v", name, err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(r.stop)
	select {
	case r.url = <-found:
	case <-r.done:
		t.Fatalf("replica %s exited before listening (%v):\n%s", name, r.cmd.ProcessState, r.logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("replica %s did not start:\n%s", name, r.logs.String())
	}
	return r
}

// stop ends the replica as an operator would (SIGTERM), then for good.
func (r *replica) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// kill9 ends the replica with SIGKILL: no shutdown, nothing flushed.
func (r *replica) kill9() {
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// client is a client of the deployment's public URL whose requests go to r.
func (r *replica) client() *client.Client {
	target := strings.TrimPrefix(r.url, "http://")
	return client.New(replicaPublicURL, client.WithHTTPClient(&http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		req = req.Clone(req.Context())
		req.URL.Host = target // the Host header stays the public one, as behind a load balancer
		return http.DefaultTransport.RoundTrip(req)
	})}))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func (r *replica) adminToken(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dataDir, "admin-token"))
	if err != nil {
		t.Fatalf("replica %s: %v", r.name, err)
	}
	return strings.TrimSpace(string(b))
}

// pair is a deployment of two replicas, A and B, with the request world
// of requests_e2e_test.go set up through A, and its parties also on B.
type pair struct {
	a, b       *replica
	w          *reqWorld // through A
	s1B        *client.Verifier
	holderAOnB *client.Holder
	c3OnB      *client.Holder
}

func newPair(t *testing.T, bin string, flags ...string) *pair {
	t.Helper()
	d := newDeployment(t, bin, flags...)
	p := &pair{a: d.start("A")}
	p.b = d.start("B")
	p.w = newReqWorld(t, p.a.client(), p.a.adminToken(t))
	cb := p.b.client()
	p.s1B, p.holderAOnB, p.c3OnB = cb.Verifier(p.w.s1Key), cb.Holder(p.w.a.Device()), cb.Holder(p.w.c3.Device())
	return p
}

// TestReplicas runs the two-replica suite on one build of the server.
func TestReplicas(t *testing.T) {
	testPostgresDSN(t)
	if testing.Short() {
		t.Skip("builds the server and starts replicas")
	}
	if os.Getenv("EIDWALLET_TEST_STORE") == "postgres" {
		t.Skip("the replicas are on PostgreSQL whatever the store of this pass: the suite runs in the plain pass")
	}
	// The failpoints build, none armed: the same service.
	bin := buildFailpointServer(t, t.TempDir())

	t.Run("a share made on A is redeemed on B, once among 100 split over both", func(t *testing.T) {
		// 101 redemptions by one key from one address at once: the
		// limits are lifted here (the shared limits have their own test).
		p := newPair(t, bin, "--limit-verify-per-key", "off", "--limit-verify-per-addr", "off")
		ctx := p.w.ctx
		sh, err := p.w.a.ShareAndApprove(ctx, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: p.w.cardA, Claims: []string{"age_over_18"}}}})
		p.w.must(err)
		res, err := p.s1B.Verify(ctx, sh.QRText)
		if err != nil || res.Result != "valid" || len(res.Documents) != 1 || res.Documents[0].Claims["age_over_18"] != true {
			t.Fatalf("redeemed on B: %+v %v", res, err)
		}

		sh, err = p.w.a.ShareAndApprove(ctx, api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: p.w.cardA, Claims: []string{"age_over_18"}}}})
		p.w.must(err)
		redeemedOnce(t, 100, func(i int) error {
			v := p.w.s1
			if i%2 == 1 {
				v = p.s1B
			}
			_, err := v.Verify(ctx, sh.QRText)
			return err
		})
	})

	t.Run("long-polls and events on one replica see the other's changes within 1 s", func(t *testing.T) {
		p := newPair(t, bin)
		p.crossReplicaWaits(t, time.Second)
	})

	t.Run("with --pg-notify=false, a long-poll on A sees B's approval within about 1 s", func(t *testing.T) {
		p := newPair(t, bin, "--pg-notify=false")
		if !strings.Contains(p.a.logs.String(), "postgres notifications off") {
			t.Fatalf("replica A does not say it polls:\n%s", p.a.logs.String())
		}
		created := p.w.request(p.w.s1, asked("Age check", "age_over_18"))
		polled := p.longPoll(t, p.w.s1, created.RequestID)
		answered := p.answerOnB(t, created)
		res, at := within(t, polled, 10*time.Second, "long-poll answer").get()
		if res == nil || res.Status != api.RequestApproved {
			t.Fatalf("long-poll on A: %+v", res)
		}
		// A waiter polls every second, plus the read.
		if lag := at.Sub(answered); lag > 1500*time.Millisecond {
			t.Errorf("the long-poll on A answered %s after the approval on B, want about 1 s at most", lag)
		}
	})

	t.Run("rate limits are the deployment's: a holder's share quota exact, a key's limit within 10 %", func(t *testing.T) {
		p := newPair(t, bin, "--limit-shares-per-holder", "1/h,6", "--limit-verify-per-key", "1/h,40")
		p.limitsShared(t)
	})

	t.Run("a webhook pending on a replica killed with SIGKILL is delivered by the other", func(t *testing.T) {
		p := newPair(t, bin)
		p.webhookSurvivesKill(t)
	})

	t.Run("a replica started before its database is reachable waits for it; one refused starts no more", func(t *testing.T) {
		waitsForDatabase(t, newDeployment(t, bin))
	})
}

// polled is a long-poll's answer and when it came.
type polled struct {
	res *api.RequestResult
	at  time.Time
}

func (p polled) get() (*api.RequestResult, time.Time) { return p.res, p.at }

// longPoll starts a verifier long-poll on v and returns once it has been
// sent and has had time to reach its wait.
func (p *pair) longPoll(t *testing.T, v *client.Verifier, id string) <-chan polled {
	t.Helper()
	ctx, wrote := started(p.w.ctx)
	out := make(chan polled, 1)
	go func() {
		res, err := v.Request(ctx, id, 30*time.Second, "")
		if err != nil {
			t.Errorf("long-poll: %v", err)
		}
		out <- polled{res, time.Now()}
	}()
	within(t, wrote, 10*time.Second, "long-poll sent")
	time.Sleep(100 * time.Millisecond) // into its wait; either way it must see the change
	return out
}

// answerOnB has citizen A resolve and approve the request on replica B,
// and returns when B had answered.
func (p *pair) answerOnB(t *testing.T, created *api.CreateRequestResponse) time.Time {
	t.Helper()
	view, err := p.holderAOnB.Resolve(p.w.ctx, created.QRText)
	p.w.must(err)
	_, err = p.holderAOnB.AnswerRequest(p.w.ctx, view, []api.ShareRequestItem{{CredentialID: p.w.cardA, Claims: []string{"age_over_18"}}})
	p.w.must(err)
	return time.Now()
}

// crossReplicaWaits: a verifier's long-poll and event stream on A, and a
// holder's long-poll on B, each answer within limit of the change made on
// the other replica.
func (p *pair) crossReplicaWaits(t *testing.T, limit time.Duration) {
	ctx := p.w.ctx
	created := p.w.request(p.w.s1, asked("Age check", "age_over_18"))

	// The event stream on A, opened before anything happens.
	type event struct {
		res *api.RequestResult
		at  time.Time
	}
	events := make(chan event, 10)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	go func() {
		defer close(events)
		for res, err := range p.w.s1.RequestEvents(sctx, created.RequestID) {
			if err != nil {
				t.Errorf("event stream on A: %v", err)
				return
			}
			events <- event{res, time.Now()}
		}
	}()
	if ev := within(t, events, 10*time.Second, "first event"); ev.res.Status != api.RequestCreated {
		t.Fatalf("first event: %+v", ev.res)
	}
	polledA := p.longPoll(t, p.w.s1, created.RequestID)

	// Resolved on B: the stream on A hears "delivered".
	view, err := p.holderAOnB.Resolve(ctx, created.QRText)
	p.w.must(err)
	resolved := time.Now()
	ev := within(t, events, 10*time.Second, "delivered event")
	if ev.res.Status != api.RequestDelivered {
		t.Fatalf("second event: %+v", ev.res)
	}
	if lag := ev.at.Sub(resolved); lag > limit {
		t.Errorf("the delivered event on A came %s after the resolve on B, want at most %s", lag, limit)
	}

	// Approved on B: the long-poll and the stream on A answer.
	_, err = p.holderAOnB.AnswerRequest(ctx, view, []api.ShareRequestItem{{CredentialID: p.w.cardA, Claims: []string{"age_over_18"}}})
	p.w.must(err)
	approved := time.Now()
	res, at := within(t, polledA, 10*time.Second, "long-poll answer").get()
	wantExactly(t, "long-poll on A", res, created.RequestID, "age_over_18")
	if lag := at.Sub(approved); lag > limit {
		t.Errorf("the long-poll on A answered %s after the approval on B, want at most %s", lag, limit)
	}
	ev = within(t, events, 10*time.Second, "approved event")
	wantExactly(t, "events on A", ev.res, created.RequestID, "age_over_18")
	if lag := ev.at.Sub(approved); lag > limit {
		t.Errorf("the approved event on A came %s after the approval on B, want at most %s", lag, limit)
	}

	// The holder side: a long-poll on B gets a presence request made on A.
	pr, err := p.w.c3.Presence(ctx)
	p.w.must(err)
	hctx, wrote := started(ctx)
	type listed struct {
		list []*api.RequestView
		at   time.Time
	}
	arrived := make(chan listed, 1)
	go func() {
		list, err := p.c3OnB.Requests(hctx, 30*time.Second)
		if err != nil {
			t.Errorf("holder long-poll on B: %v", err)
		}
		arrived <- listed{list, time.Now()}
	}()
	within(t, wrote, 10*time.Second, "holder long-poll sent")
	time.Sleep(100 * time.Millisecond)
	made := p.w.request(p.w.s1, api.CreateRequestRequest{Claims: map[string][]string{"national_id": {"age_over_18"}},
		Purpose: "Age check", Presence: pr.QRText, TTLSeconds: 60})
	createdAt := time.Now()
	got := within(t, arrived, 10*time.Second, "request in the holder's long-poll on B")
	if len(got.list) != 1 || got.list[0].RequestID != made.RequestID {
		t.Fatalf("holder long-poll on B: %+v", got.list)
	}
	if lag := got.at.Sub(createdAt); lag > limit {
		t.Errorf("the holder's long-poll on B answered %s after the request on A, want at most %s", lag, limit)
	}
}

// webhookSurvivesKill: the approval is taken on A while the verifier's
// receiver is down; A records its failed attempt, and is killed with
// SIGKILL; the receiver comes back, and B delivers the result, with the
// Webhook-Id of A's attempt.
func (p *pair) webhookSurvivesKill(t *testing.T) {
	ctx := p.w.ctx
	hook := newWebhookReceiver(t)
	var mu sync.Mutex
	var ids []string
	down := true
	hook.setGate(func(r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, r.Header.Get(api.WebhookIDHeader))
		return !down
	})
	wh, err := p.w.admin.SetVerifierWebhook(ctx, "shop-one", hook.url)
	p.w.must(err)
	hook.setSecret(wh.Secret)

	created := p.w.request(p.w.s1, asked("Age check", "age_over_18"))
	view, err := p.w.a.Resolve(ctx, created.QRText)
	p.w.must(err)
	_, err = p.w.a.AnswerRequest(ctx, view, []api.ShareRequestItem{{CredentialID: p.w.cardA, Claims: []string{"age_over_18"}}})
	p.w.must(err)
	// A's dispatcher, woken by its own approval, makes the first attempt
	// (B only polls); it logs the attempt once it has recorded it.
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(p.a.logs.String(), `"msg":"webhook attempt failed"`); {
		if time.Now().After(deadline) {
			t.Fatalf("replica A made no failed attempt:\n%s", p.a.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.a.kill9()
	mu.Lock()
	down = false
	mu.Unlock()

	res := within(t, hook.results, 20*time.Second, "webhook delivery by B")
	wantExactly(t, "webhook", res, created.RequestID, "age_over_18")
	// B records the delivery, then logs it, after the receiver answered.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.b.logs.String(), `"msg":"webhook delivered"`); {
		if time.Now().After(deadline) {
			t.Fatalf("replica B does not log the delivery:\n%s", p.b.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) < 2 || ids[0] == "" {
		t.Fatalf("Webhook-Id of the attempts: %q", ids)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Errorf("Webhook-Id of the attempts: %q, want one id", ids)
			break
		}
	}
	if hook.bad.Load() != 0 {
		t.Errorf("%d deliveries failed the signature check", hook.bad.Load())
	}
}

// limitsShared: with the quota of 6 shares per holder and 40 redemptions
// per verifier key (neither refilling within the test), one holder's
// shares made alternately on A and B stop at exactly 6, and 100
// concurrent redemptions by one key split over both pass the limit 36 to
// 40 times (leased tokens a replica holds unspent are the only slack):
// what one server would allow, not twice that.
func (p *pair) limitsShared(t *testing.T) {
	ctx := p.w.ctx
	limited := func(err error) bool {
		var ce *client.Error
		return errors.As(err, &ce) && ce.Status == http.StatusTooManyRequests && ce.Code == api.CodeRateLimited
	}
	share := api.ShareRequest{Items: []api.ShareRequestItem{{CredentialID: p.w.cardA, Claims: []string{"age_over_18"}}}}
	made := 0
	for i := range 12 {
		h := p.w.a
		if i%2 == 1 {
			h = p.holderAOnB
		}
		switch _, err := h.Share(ctx, share); {
		case err == nil:
			made++
		case !limited(err):
			t.Fatalf("share %d: %v", i, err)
		}
	}
	if made != 6 {
		t.Errorf("%d shares made over two replicas under a quota of 6", made)
	}

	var passed atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		v := p.w.s1
		if i%2 == 1 {
			v = p.s1B
		}
		wg.Go(func() {
			// Not a share code: 400 once past the limit, 429 before.
			if _, err := v.Verify(ctx, "EID1:not-a-share"); !limited(err) {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := passed.Load(); n < 36 || n > 40 {
		t.Errorf("%d of 100 redemptions passed a limit of 40 over two replicas, want 36 to 40", n)
	}
}

// waitsForDatabase starts a replica whose DSN names a port nothing
// listens on yet, and 2 s later opens there a relay to the database, as a
// database coming up after its replicas: the replica listens once it can
// reach it, having said that it waits. A DSN the database refuses (a
// wrong password) ends the start at once.
func waitsForDatabase(t *testing.T, d *deployment) {
	real, err := url.Parse(d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	later := probe.Addr().String()
	probe.Close()
	relayed := *real
	relayed.Host = later
	// While it waits, the replica's address answers as a process up and
	// not ready: /healthz 200, /readyz and the API 503 with Retry-After
	// (operations.md). The database comes once that is seen, or after 5 s.
	addr := freeAddr(t)
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		get := func(path string) (int, string) {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				return 0, err.Error()
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header.Get("Retry-After") + " " + string(body)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if code, _ := get("/healthz"); code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("no /healthz 200 while waiting for the database")
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, path := range []string{"/readyz", "/v1/admin/issuers"} {
			if code, got := get(path); code != http.StatusServiceUnavailable || !strings.Contains(got, "5 ") || !strings.Contains(got, `"storage_unavailable"`) {
				t.Errorf("%s while waiting for the database: %d %s", path, code, got)
			}
		}
	}()
	go func() {
		select {
		case <-probed:
		case <-time.After(5 * time.Second):
		}
		time.Sleep(time.Second)
		ln, err := net.Listen("tcp", later)
		if err != nil {
			t.Errorf("relay: %v", err)
			return
		}
		t.Cleanup(func() { ln.Close() })
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				db, err := net.Dial("tcp", real.Host)
				if err != nil {
					return
				}
				defer db.Close()
				go io.Copy(db, c)
				io.Copy(c, db)
			}()
		}
	}()
	d.dsn = relayed.String()
	d.flags = append(d.flags, "--addr", addr)
	start := time.Now()
	r := d.start("late")
	<-probed
	if waited := time.Since(start); waited < time.Second || !strings.Contains(r.logs.String(), "postgres unreachable; trying again") {
		t.Errorf("listening after %s, logs:\n%s", waited, r.logs.String())
	}
	if _, err := r.client().Admin(r.adminToken(t)).Issuers(context.Background()); err != nil {
		t.Errorf("served after the wait: %v", err)
	}

	refused := *real
	refused.User = url.UserPassword(real.User.Username(), "not-the-password")
	cmd := exec.Command(d.bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--store", "postgres",
		"--postgres-dsn", refused.String(), "--postgres-schema", d.schema, "--master-key", d.keyFile, "--public-url", replicaPublicURL)
	start = time.Now()
	out, err := cmd.CombinedOutput()
	if err == nil || time.Since(start) > 10*time.Second || strings.Contains(string(out), "trying again") {
		t.Errorf("refused by the database: exit %v after %s:\n%s", err, time.Since(start), out)
	}
}
