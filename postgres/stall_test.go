package postgres_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/postgres"
	"github.com/eidwallet/eidwallet/wallet"
)

// stallProxy forwards TCP connections to the database until stalled: then
// it holds every byte, both ways, with the connections open, as a network
// partition or a primary gone behind a virtual address does.
type stallProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	stalled chan struct{} // closed when forwarding may go on
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, stalled: make(chan struct{})}
	close(p.stalled)
	var conns sync.WaitGroup
	t.Cleanup(func() {
		p.resume()
		ln.Close()
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			conns.Add(2)
			go func() { defer conns.Done(); p.pipe(up, c) }()
			go func() { defer conns.Done(); p.pipe(c, up) }()
		}
	}()
	return p
}

// pipe copies from src to dst, each chunk only once forwarding is on.
func (p *stallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.stalled
			p.mu.Unlock()
			<-gate
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = make(chan struct{})
}

func (p *stallProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.stalled:
	default:
		close(p.stalled)
	}
}

// TestStalledDatabaseAnswersInTime: while the database stops answering
// with its connections open, every store operation, called with a context
// that has no deadline, fails within its bound as a deadline (answered 503
// storage_unavailable), never hanging the request (THREATS T42): Ping,
// View, Update, Batch, Fetch and Apply; but for one marked
// wallet.Unbounded, which waits. Once the database answers again, so does
// the store.
func TestStalledDatabaseAnswersInTime(t *testing.T) {
	dsn := testDSN(t)
	const op, ping = 2 * time.Second, time.Second
	defer postgres.SetTimeouts(op, ping)()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skipf("the test DSN is not a URL (%v): cannot route it through a proxy", err)
	}
	p := newStallProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	schema := schemaFor(t.Name())
	s, err := postgres.Open(t.Context(), u.String(), postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropSchema(t, dsn, schema) })
	defer s.Close()

	read := func(tx wallet.Tx) error { // one statement: a transaction of none never reaches the database
		_, err := wallet.Issuers.Get(tx, "mps")
		if errors.Is(err, wallet.ErrNotFound) {
			return nil
		}
		return err
	}
	count := wallet.Added(wallet.UsageCounters, 1, time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC), "issuance", "national_id", "-", "-", "ok", "-", int64(0))
	ops := []struct {
		name  string
		bound time.Duration
		call  func(ctx context.Context) error
	}{
		{"Ping", ping, s.Ping},
		{"View", op, func(ctx context.Context) error { return s.View(ctx, read) }},
		{"Update", op, func(ctx context.Context) error { return s.Update(ctx, read) }},
		{"Batch", op, func(ctx context.Context) error { return s.Batch(ctx, read) }},
		{"Fetch", op, func(ctx context.Context) error { _, err := s.Fetch(ctx, wallet.Issuers.Lookup("", "mps")); return err }},
		{"Apply", op, func(ctx context.Context) error { return s.Apply(ctx, count) }},
	}
	for _, o := range ops { // each works before the stall
		if err := o.call(context.Background()); err != nil {
			t.Fatalf("%s before the stall: %v", o.name, err)
		}
	}

	p.stall()
	var wg sync.WaitGroup
	for _, o := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := o.call(context.Background())
			took := time.Since(start)
			switch {
			case err == nil:
				t.Errorf("%s answered while the database was stalled", o.name)
			case !errors.Is(err, context.DeadlineExceeded):
				t.Errorf("%s: %v, want a deadline", o.name, err)
			case took > o.bound+3*time.Second:
				t.Errorf("%s failed after %v, bound %v", o.name, took, o.bound)
			}
		}()
	}
	wg.Wait()
	// A copy of the whole store (wallet.Unbounded) waits as long as it
	// takes: the same stall does not cut it, and it ends once the
	// database answers again.
	long := make(chan error, 1)
	go func() { long <- s.View(wallet.Unbounded(context.Background()), read) }()
	select {
	case err := <-long:
		t.Fatalf("an unbounded View ended during the stall: %v", err)
	case <-time.After(op + time.Second):
	}
	p.resume()
	select {
	case err := <-long:
		if err != nil {
			t.Errorf("the unbounded View, once the database answers: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("the unbounded View did not end once the database answered")
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.Ping(context.Background())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store does not answer once the database does: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
