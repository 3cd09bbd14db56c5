package client

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/go-json-experiment/json"
)

// reconnectDelay is the pause before an event stream is opened again
// after the server ended it (it does after about 4 minutes) or the
// connection broke, unless the stream said otherwise ("retry:"); it is
// kept within maxReconnectDelay.
const (
	reconnectDelay    = 2 * time.Second
	maxReconnectDelay = time.Minute
)

// openFunc sends cl and returns a 2xx answer (or an error answer as *Error).
type openFunc func(ctx context.Context, cl *call) (*http.Response, error)

// streamEvents reads the server-sent events of cl (SPEC §3.4) and passes
// each to handle until handle says done or fails. When a stream ends or
// breaks after it was open, it is opened again after reconnectDelay; an
// error answer when opening, an "error" event, an event over the size cap
// or the end of ctx end it with that error.
func (c *Client) streamEvents(ctx context.Context, cl *call, open openFunc, handle func(sseEvent) (done bool, err error)) error {
	for {
		resp, err := open(ctx, cl)
		if err != nil {
			return err
		}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
			resp.Body.Close()
			return fmt.Errorf("%s %s: the answer is %q, not an event stream", cl.method, cl.path, mt)
		}
		r := newSSEReader(resp.Body, int(min(c.maxBody, 1<<30)))
		done, err := readEvents(r, handle)
		resp.Body.Close()
		switch {
		case done || err != nil:
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		}
		delay := reconnectDelay
		if r.retry > 0 {
			delay = min(r.retry, maxReconnectDelay)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// readEvents handles the events of one stream. It returns done or a final
// error; neither means the stream ended or broke and may be opened again.
func readEvents(r *sseReader, handle func(sseEvent) (bool, error)) (bool, error) {
	for {
		ev, err := r.next()
		switch {
		case errors.Is(err, ErrTooLarge):
			return false, err
		case err != nil:
			return false, nil // ended or broke: reconnect
		case ev.name == "error":
			var w wireError
			if json.Unmarshal(ev.data, &w) != nil || w.Error == "" {
				return false, errors.New("the event stream ended with an error event the client could not read")
			}
			return false, &Error{Code: w.Error, Description: w.ErrorDescription, Reason: w.Reason}
		}
		if done, err := handle(ev); done || err != nil {
			return done, err
		}
	}
}
