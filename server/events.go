package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/gin-gonic/gin"
)

// Long-polls and server-sent event streams (SPEC §3.4): how the holder's
// app hears of a request addressed to it and how a verifier hears of the
// answer, without a webhook.

// maxWaitSeconds is the longest long-poll a client may ask for.
const maxWaitSeconds = int(api.MaxWait / time.Second)

// holderPollInterval is how often a holder's event stream looks again
// while every pending request has been sent: the service's long-poll
// answers at once while any request is pending, so waiting on it would
// spin.
const holderPollInterval = 2 * time.Second

// waitQuery reads ?wait=N: whole seconds from 0 to 60, absent 0 (answer at
// once). ok is false for anything else.
func waitQuery(c *gin.Context) (wait time.Duration, ok bool) {
	v, present := c.GetQuery("wait")
	if !present {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxWaitSeconds {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

func (s *server) badWait(c *gin.Context) {
	s.failCode(c, api.CodeInvalidRequest, "wait must be an integer number of seconds from 0 to %d", maxWaitSeconds)
}

// requestStates are the values of a request's status, and of ?since=.
var requestStates = map[string]bool{
	api.RequestCreated: true, api.RequestDelivered: true,
	api.RequestApproved: true, api.RequestDeclined: true, api.RequestExpired: true,
}

// finalState reports whether a request in this state will not change.
func finalState(status string) bool {
	return status == api.RequestApproved || status == api.RequestDeclined || status == api.RequestExpired
}

// drains tells long-polls and event streams that their http.Server is
// shutting down. http.Server.Shutdown waits for active requests and does
// not cancel their contexts, so a handler waiting for minutes would hold
// shutdown up (eidwallet serve allows 15 s). The first waiting handler
// under an http.Server (the request context carries it under
// http.ServerContextKey) registers a shutdown hook on it that closes that
// server's channel: the way net/http documents for ending long-lived
// requests (http.Server.RegisterOnShutdown).
type drains struct {
	mu sync.Mutex
	by map[*http.Server]chan struct{}
}

// of returns the channel closed when r's server shuts down (nil, never
// closed, outside an http.Server).
func (d *drains) of(r *http.Request) <-chan struct{} {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.by[srv]; ok {
		return ch
	}
	if d.by == nil {
		d.by = map[*http.Server]chan struct{}{}
	}
	ch := make(chan struct{})
	d.by[srv] = ch
	srv.RegisterOnShutdown(func() { close(ch) })
	return ch
}

// How many long-polls and event streams may be open at once: each holds a
// connection, a goroutine and its buffers (≈ 32 KiB), so one token opening
// thousands would hold the server's memory (THREATS T22). A holder's app
// needs one or two on a device; a verifier API key one per request it waits on at its
// counters, and a verifier with many keys at most maxWaitsPerVerifier in
// all, so that no one verifier takes the process's places from the others;
// and all verifiers together leave citizensWaits of them to the citizens'
// devices. Beyond, 429 rate_limited: poll without wait, or use the
// verifier's webhook.
const (
	maxWaitsPerDevice   = 8
	maxWaitsPerKey      = 256
	maxWaitsPerVerifier = 1024
	maxWaits            = 4096 // the process's
	citizensWaits       = 1024 // of maxWaits, never taken by verifiers
)

// waits counts the long-polls and event streams open, per principal and
// in all.
type waits struct {
	mu    sync.Mutex
	by    map[string]int
	total int
}

// enterWait takes a place for a long-poll or event stream of c's
// principal (waitContext), or answers 429 and returns false. leave gives
// it back.
func (s *server) enterWait(c *gin.Context) (leave func(), ok bool) {
	p := principalOf(c)
	// Each wait counts against every place named here, at most most[i].
	keys, most := []string{"key|" + p.KeyID, "verifier|" + p.Subject, "verifiers"}, []int{maxWaitsPerKey, maxWaitsPerVerifier, maxWaits - citizensWaits}
	if p.Role == api.RoleHolder {
		// A device's: a phone that dropped off the network leaves its
		// half-open streams to time out without holding its other devices'.
		keys, most = []string{"device|" + p.DeviceID}, []int{maxWaitsPerDevice}
	}
	w := &s.waits
	w.mu.Lock()
	full := w.total >= maxWaits
	for i, k := range keys {
		full = full || w.by[k] >= most[i]
	}
	if !full {
		if w.by == nil {
			w.by = map[string]int{}
		}
		for _, k := range keys {
			w.by[k]++
		}
		w.total++
	}
	w.mu.Unlock()
	if full {
		s.rateLimited(c, time.Second)
		return nil, false
	}
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, k := range keys {
			if w.by[k]--; w.by[k] == 0 {
				delete(w.by, k)
			}
		}
		w.total--
	}, true
}

// waitContext is the context of a long-poll or an event stream: the
// request's, ended also after limit and when the server shuts down. It
// takes one of the principal's places for waits first (enterWait): when
// there is none, it has answered 429 and ok is false. done ends the
// context and gives the place back.
//
// It moves the connection's read and write deadlines past limit: with an
// http.Server ReadTimeout (30 s in eidwallet serve) net/http's background
// read of an HTTP/1.1 connection fails at the read deadline and cancels
// the request's context mid-wait, and a WriteTimeout would cut the answer.
func (s *server) waitContext(c *gin.Context, limit time.Duration) (ctx context.Context, done func(), ok bool) {
	leave, ok := s.enterWait(c)
	if !ok {
		return nil, nil, false
	}
	rc := http.NewResponseController(c.Writer)
	deadline := time.Now().Add(limit + 10*time.Second)
	_ = rc.SetReadDeadline(deadline) // not every writer can; httptest's can
	_ = rc.SetWriteDeadline(deadline)
	drained, stop := s.drainContext(c.Request)
	ctx, cancel := context.WithTimeout(drained, limit)
	return ctx, func() { cancel(); stop(); leave() }, true
}

// drainContext is r's context, canceled too when r's http.Server begins
// to shut down (Shutdown waits for handlers but does not cancel them), so
// that a request that may last (a wait, a backup) ends then.
func (s *server) drainContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	if drain := s.drains.of(r); drain != nil {
		go func() {
			select {
			case <-drain:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	return ctx, cancel
}

// cutShort reports whether a wait under ctx ended early for the server's
// sake (shutdown, or its own limit) while the client is still there: the
// handler then answers what there is now instead of an error.
func cutShort(c *gin.Context, ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && c.Request.Context().Err() == nil
}

// eventStream writes server-sent events (HTML Living Standard §9.2): each
// event is "event: NAME", one "data: JSON" line and a blank line; a line
// starting with ':' is a comment, sent as a heartbeat. Every write is
// flushed at once.
type eventStream struct {
	w    gin.ResponseWriter
	rc   *http.ResponseController
	last time.Time // of the last write, for heartbeats
}

// startEvents answers 200 with the event-stream headers. Nothing is
// cached, and X-Accel-Buffering asks nginx-style proxies to pass events
// on as they come instead of buffering the answer.
func (s *server) startEvents(c *gin.Context) (*eventStream, error) {
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	c.Writer.WriteHeaderNow()
	es := &eventStream{w: c.Writer, rc: http.NewResponseController(c.Writer)}
	// retry: how long a client waits before it reconnects (milliseconds).
	return es, es.write("retry: 2000\n\n")
}

func (es *eventStream) write(text string) error {
	if _, err := es.w.WriteString(text); err != nil {
		return err
	}
	es.last = time.Now()
	return es.rc.Flush()
}

// send writes one event with v as JSON on one data line (JSON encoding
// escapes every newline inside strings).
func (es *eventStream) send(event string, v any) error {
	b, err := marshalAnswer(v)
	if err != nil {
		return err
	}
	return es.write(fmt.Sprintf("event: %s\ndata: %s\n\n", event, b))
}

// heartbeat writes a comment if the stream has been quiet for every.
func (es *eventStream) heartbeat(every time.Duration) error {
	if time.Since(es.last) < every {
		return nil
	}
	return es.write(": keep-alive\n\n")
}

// failStream ends a stream with an "error" event carrying the SPEC §5 error body
// (the status line went out with the first event).
func (s *server) failStream(c *gin.Context, es *eventStream, err error) {
	we := s.clientError(c, err)
	_ = es.send("error", errorBody{Error: we.Code, Description: we.Message, Reason: we.Reason})
}
