package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
)

// Issuing-authority routes (issuer API key).

// handleIssue issues one credential (SPEC §3.2).
func (s *server) handleIssue() gin.HandlerFunc {
	return handle(s, http.StatusCreated, func(c *gin.Context, p *wallet.Principal, req api.IssueRequest) (*api.IssueResponse, error) {
		var err error
		if req.IdempotencyKey, err = idempotencyKey(c, req.IdempotencyKey); err != nil {
			return nil, err
		}
		return s.svc.Issue(c.Request.Context(), p, req)
	})
}

// idempotencyKey is the request's Idempotency-Key: the header
// (draft-ietf-httpapi-idempotency-key-header §2) or the body's
// idempotency_key, which must agree when both are sent.
func idempotencyKey(c *gin.Context, inBody string) (string, error) {
	vals := c.Request.Header.Values(api.IdempotencyKeyHeader)
	switch {
	case len(vals) > 1:
		return "", wallet.Errorf(api.CodeInvalidRequest, "one %s header", api.IdempotencyKeyHeader)
	case len(vals) == 0:
		return inBody, nil
	}
	// An sf-string (RFC 8941 §3.3.3) is quoted; a bare token is taken
	// as it is, as most clients send it.
	key := vals[0]
	if unq, err := strconv.Unquote(key); err == nil && strings.HasPrefix(key, `"`) {
		key = unq
	}
	if inBody != "" && inBody != key {
		return "", wallet.Errorf(api.CodeInvalidRequest, "the %s header and idempotency_key differ", api.IdempotencyKeyHeader)
	}
	return key, nil
}

// handleIssuedCredential is one of the issuer's own credentials.
func (s *server) handleIssuedCredential() gin.HandlerFunc {
	return handle(s, http.StatusOK, byID(s.svc.IssuedCredential))
}

// handleIssuedToCitizen lists a page of the issuer's credentials of the
// citizen the body names; the page's limit and cursor are in the query,
// as every list's.
func (s *server) handleIssuedToCitizen() gin.HandlerFunc {
	return handle(s, http.StatusOK, func(c *gin.Context, p *wallet.Principal, req api.CredentialSearch) (*api.IssuedCredentialList, error) {
		pg, err := pageQuery(c)
		if err != nil {
			return nil, err
		}
		return s.svc.IssuedToCitizen(c.Request.Context(), p, req.CitizenID, pg)
	})
}

// handleIssuedCredentials lists a page of the issuer's credentials of
// the status ?status= names, newest first.
func (s *server) handleIssuedCredentials() gin.HandlerFunc {
	return handle(s, http.StatusOK, func(c *gin.Context, p *wallet.Principal, _ noBody) (*api.IssuedCredentialList, error) {
		pg, err := pageQuery(c)
		if err != nil {
			return nil, err
		}
		return s.svc.IssuedCredentials(c.Request.Context(), p, c.Query("status"), pg)
	})
}

// handleSetStatus revokes, suspends or reinstates one of the issuer's own
// credentials (SPEC §3.2).
func (s *server) handleSetStatus() gin.HandlerFunc {
	return handle(s, http.StatusOK, byIDWithBody(s.svc.SetStatus))
}

// bulkLine is one line of a bulk stream: decoded, refused on its own, or
// the point where the stream broke.
type bulkLine struct {
	n       int // 1-based line number in the request body
	req     api.IssueRequest
	err     *wallet.Error // refused before issuance (too long, bad JSON)
	readErr error         // the body could not be read past here
}

// handleIssueBulk is POST /v1/issuer/credentials:bulk (SPEC §3.2): an
// application/x-ndjson body, one api.IssueRequest per line, answered by
// an application/x-ndjson stream of one api.BulkResult per line.
//
// The whole-body limit does not apply; each line is capped at
// s.maxLine bytes. A line over the cap, a line that is not a valid request,
// or a request the service refuses gets an error result and the stream goes
// on: a bad line fails alone, as in IssueBatch. Blank lines are skipped
// without a result; results carry the line number they answer, counting
// every line of the body, and come in line order.
//
// A reader goroutine decodes lines into a channel of batch size. With no
// batch in flight the handler issues what is ready (at least one line, at
// most a batch) with one IssueBatch call at once; with one in flight it
// waits for a full batch, or for the one in flight to finish, and issues
// it beside that one. It writes and flushes each batch's results as soon
// as they and those before them are done. So a fast client gets full
// batches, two at a time (one signed while the other commits), and a slow
// one prompt answers; at most three batches are held whatever the length
// of the stream (SPEC §7: memory flat).
//
// Clients must read results while they send: the answer is
// flow-controlled like the request. If the body breaks off (the client
// went away, or stalled past the idle timeout) the complete lines before
// the break are issued and answered, then one last result with the next
// line number and invalid_request says the stream ended early. If a batch
// fails as a whole (storage unavailable), each of its lines gets that
// error and the stream goes on; those lines were not issued and may be
// sent again.
func (s *server) handleIssueBulk() gin.HandlerFunc {
	return func(c *gin.Context) {
		if mediaType(c) != mediaNDJSON {
			s.failCode(c, api.CodeUnsupportedMedia, "the request body must be %s, one issuance request a line", mediaNDJSON)
			return
		}
		ctx := c.Request.Context()
		rc := http.NewResponseController(c.Writer)
		// HTTP/1.x servers stop reading a body once the answer begins,
		// unless asked not to; HTTP/2 is full duplex already.
		_ = rc.EnableFullDuplex()
		s.extendDeadlines(rc)

		lines := make(chan bulkLine, s.batchSize)
		stop := make(chan struct{})
		cut := false // by shutdown, not by the body's end
		go s.readBulk(c.Request.Body, lines, stop)
		defer func() {
			// The body must not be touched after the handler returns:
			// wait for the reader, discarding what it still sends. At
			// shutdown a reader still waiting on a client that sends only
			// once answered is woken by a read deadline; not at once, since
			// a read cut with the body's data unread ends the connection
			// with it, before the client has read its answers.
			close(stop)
			if cut {
				wake := time.AfterFunc(time.Second, func() { _ = rc.SetReadDeadline(time.Now()) })
				defer wake.Stop()
			}
			for range lines {
			}
		}()

		h := c.Writer.Header()
		h.Set("Content-Type", mediaNDJSON)
		h.Set("Cache-Control", "no-store")
		c.Status(http.StatusOK)
		c.Writer.WriteHeaderNow()
		if err := rc.Flush(); err != nil {
			return
		}
		// answer writes a batch's results and flushes them; false when the
		// client is gone. gin's Flush reports no error; a client that went
		// away shows in the context (net/http cancels it on a read or write
		// error).
		answer := func(results []api.BulkResult) bool {
			for _, r := range results {
				if writeLine(c.Writer, r) != nil {
					return false
				}
			}
			return rc.Flush() == nil && ctx.Err() == nil
		}
		// Two batches are issued at once: while one commits (the single
		// writer and its fsync) the next is signed on the other cores. The
		// results go out in line order; the handler never returns with a
		// batch in flight, since that batch uses c.
		var issuing chan batchDone // the batch issued before, nil when none
		defer func() {
			if issuing != nil {
				<-issuing
			}
		}()
		// done is a batch's results; a panic while issuing it is raised
		// again here, on the handler's goroutine, for recoverPanics.
		done := func(b batchDone) []api.BulkResult {
			if b.panicked != nil {
				panic(b.panicked)
			}
			return b.results
		}
		// At shutdown (http.Server.Shutdown waits for handlers but does
		// not cancel them) the stream ends as if the body had: the batches
		// read are issued and answered, and one last result names the
		// first line not read, to be sent again (to another replica).
		drain := s.drains.of(c.Request)
		next := 1 // the first line no batch has taken
		for {
			var first bulkLine
			var more bool
			select {
			case b := <-issuing: // a nil channel never delivers
				issuing = nil
				if !answer(done(b)) {
					return
				}
				continue
			case first, more = <-lines:
			case <-drain:
			}
			if isClosed(drain) { // shutdown: a line read as it began is one not issued
				more, cut = false, true
			}
			if !more {
				if issuing != nil {
					b := <-issuing
					issuing = nil
					if !answer(done(b)) {
						return
					}
				}
				if cut {
					s.log.InfoContext(ctx, "bulk stream ended by shutdown", "line", next)
					_ = writeLine(c.Writer, api.BulkResult{Line: next, Error: api.CodeStorageUnavailable,
						ErrorDescription: "the service is shutting down: this line and those after it were not issued; send them again"})
					_ = rc.Flush()
				}
				return
			}
			batch, finished := fill(append(make([]bulkLine, 0, s.batchSize), first), lines, s.batchSize, issuing)
			if finished != nil {
				issuing = nil
				if !answer(done(*finished)) {
					return
				}
			}
			s.extendDeadlines(rc) // progress: another idle period to issue and answer

			next = batch[len(batch)-1].n + 1
			var broken *bulkLine
			for i := range batch {
				if batch[i].readErr != nil {
					broken = &bulkLine{n: batch[i].n, readErr: batch[i].readErr}
					batch = batch[:i]
					break
				}
			}
			inFlight := make(chan batchDone, 1)
			go func() {
				var b batchDone
				defer func() {
					b.panicked = recover()
					inFlight <- b
				}()
				b.results = s.issueBulk(c, batch)
			}()
			prev := issuing
			issuing = inFlight
			if prev != nil && !answer(done(<-prev)) {
				return
			}
			if broken != nil {
				b := <-issuing
				issuing = nil
				answer(done(b))
				s.log.InfoContext(ctx, "bulk stream ended early", "line", broken.n, "err", broken.readErr)
				_ = writeLine(c.Writer, api.BulkResult{Line: broken.n, Error: api.CodeInvalidRequest,
					ErrorDescription: "the stream ended early: the request body could not be read past this line"})
				_ = rc.Flush()
				return
			}
		}
	}
}

// batchDone is what issuing a batch of a bulk stream came to: its results,
// or the panic that cut it short.
type batchDone struct {
	results  []api.BulkResult
	panicked any
}

// writeLine writes r as one line of the bulk answer.
func writeLine(w io.Writer, r api.BulkResult) error {
	b, err := marshalAnswer(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// fill appends lines to batch until it holds size or the lines end. With
// busy nil it takes only those already waiting; with busy, the batch in
// flight, it waits for more until that one is done, then takes those
// waiting and returns its result as finished.
func fill(batch []bulkLine, lines <-chan bulkLine, size int, busy <-chan batchDone) (_ []bulkLine, finished *batchDone) {
	for len(batch) < size {
		var l bulkLine
		var ok bool
		if busy == nil {
			select {
			case l, ok = <-lines:
			default:
				return batch, nil
			}
		} else {
			select {
			case l, ok = <-lines:
			case b := <-busy:
				batch, _ = fill(batch, lines, size, nil)
				return batch, &b
			}
		}
		if !ok {
			return batch, nil
		}
		batch = append(batch, l)
	}
	return batch, nil
}

// isClosed reports whether ch is closed (false for nil).
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// extendDeadlines gives a bulk stream another idle period to read and
// write (a no-op where the writer cannot set deadlines).
func (s *server) extendDeadlines(rc *http.ResponseController) {
	deadline := time.Now().Add(s.bulkIdle)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
}

// readBulk reads the body line by line into out until the body ends, breaks
// or stop is closed; it closes out when done.
func (s *server) readBulk(body io.Reader, out chan<- bulkLine, stop <-chan struct{}) {
	defer close(out)
	br := bufio.NewReaderSize(body, s.maxLine+2) // a line at the cap, "\r\n" included, fits
	tooLong := &wallet.Error{Code: api.CodeTooLarge, Message: fmt.Sprintf("the line is over %d bytes", s.maxLine)}
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		line, long, err := readLine(br, s.maxLine)
		if errors.Is(err, io.EOF) {
			return
		}
		l := bulkLine{n: n}
		switch {
		case err != nil:
			l.readErr = err
		case long:
			l.err = tooLong
		case len(bytes.TrimSpace(line)) == 0:
			continue
		default:
			l.err = unmarshalStrict(line, &l.req, "the line")
		}
		select {
		case out <- l:
		case <-stop:
			return
		}
		if l.readErr != nil {
			return
		}
	}
}

// readLine returns the next line without its "\n" or "\r\n". A line over
// max bytes is read to its end and dropped (long is true), so the cap holds
// however long it is. The last line may lack its newline; io.EOF comes
// after it. The line is valid until the next call.
func readLine(br *bufio.Reader, max int) (line []byte, long bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			long = true
			continue
		case errors.Is(err, io.EOF):
			if len(frag) == 0 && !long {
				return nil, false, io.EOF
			}
		case err != nil:
			return nil, false, err
		}
		if long {
			return nil, true, nil
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(frag, []byte("\n")), []byte("\r"))
		if len(line) > max {
			return nil, true, nil
		}
		return line, false, nil
	}
}

// issueBulk issues the good lines of a batch with one IssueBatch call and
// returns one result per line, in order. A batch once started runs to its
// end (bounded by the idle timeout) even if the client goes away: lines
// the server has read are issued and answered, not half done.
func (s *server) issueBulk(c *gin.Context, batch []bulkLine) []api.BulkResult {
	out := make([]api.BulkResult, len(batch))
	reqs := make([]api.IssueRequest, 0, len(batch))
	for _, l := range batch {
		if l.err == nil {
			reqs = append(reqs, l.req)
		}
	}
	var (
		results  []wallet.IssueResult
		batchErr *wallet.Error
	)
	if len(reqs) > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), s.bulkIdle)
		res, err := s.svc.IssueBatch(ctx, principalOf(c), reqs)
		cancel()
		switch {
		case err != nil:
			batchErr = s.clientError(c, err)
		case len(res) != len(reqs):
			batchErr = s.clientError(c, fmt.Errorf("IssueBatch returned %d results for %d requests", len(res), len(reqs)))
		default:
			results = res
		}
	}
	j := 0
	for i, l := range batch {
		out[i].Line = l.n
		we := l.err
		if we == nil {
			switch r := indexOr(results, j); {
			case batchErr != nil:
				we = batchErr
			case r.Err != nil:
				we = s.clientError(c, r.Err)
			default:
				out[i].IssueResponse = r.Response
			}
			j++
		}
		if we != nil {
			out[i].Error, out[i].ErrorDescription, out[i].Reason = we.Code, we.Message, we.Reason
			s.metrics.bulkLines.WithLabelValues(string(we.Code)).Inc()
		} else {
			s.metrics.bulkLines.WithLabelValues("issued").Inc()
		}
	}
	return out
}

func indexOr(results []wallet.IssueResult, i int) wallet.IssueResult {
	if i < len(results) {
		return results[i]
	}
	return wallet.IssueResult{}
}
