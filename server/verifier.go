package server

import (
	"net/http"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/gin-gonic/gin"
)

// Relying-party routes (verifier API key).

// handleVerify redeems a scanned share (SPEC §3.3 step 4). The service
// makes the redemption durable before it answers; the answer holds
// personal data and is never cached.
func (s *server) handleVerify() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req api.VerifyRequest
		if we := s.decodeJSON(c, &req); we != nil {
			s.metrics.verifications.WithLabelValues(string(we.Code), "").Inc()
			s.answerError(c, we)
			return
		}
		resp, err := s.svc.Redeem(c.Request.Context(), principalOf(c), req)
		if err != nil {
			we := s.clientError(c, err)
			s.metrics.verifications.WithLabelValues(string(we.Code), we.Reason).Inc()
			s.answerError(c, we)
			return
		}
		s.metrics.verifications.WithLabelValues(resp.Result, "").Inc()
		c.Header("Cache-Control", "no-store")
		writeJSON(c, http.StatusOK, resp)
	}
}

// handleOfflineVerifications takes a counter's offline verifications.
func (s *server) handleOfflineVerifications() gin.HandlerFunc {
	return handle(s, http.StatusOK, body(s.svc.UploadOfflineVerifications))
}

// handleVerifications lists a page of the verifier's own log, newest
// first.
func (s *server) handleVerifications() gin.HandlerFunc {
	return handle(s, http.StatusOK, paged(s.svc.Verifications))
}

// Requests started by the verifier (SPEC §3.4), the verifier's side. The
// service scopes each to the verifier that made it: another verifier's id
// is the same 404 as an unknown one.

// handleCreateRequest makes a request: an EIDR1: QR for the verifier to
// show, or, with the EIDP1: text of a scanned presence code, a request
// addressed to that citizen's app. The per-key limit runs before it.
func (s *server) handleCreateRequest() gin.HandlerFunc {
	return handle(s, http.StatusCreated, body(s.svc.CreateRequest))
}

// sinceQuery reads ?since=STATUS: empty, or one of the request states.
func sinceQuery(c *gin.Context) (string, bool) {
	v := c.Query("since")
	return v, v == "" || requestStates[v]
}

// handleVerifierRequest answers the request's state, with the approved
// documents once approved. ?wait=N (seconds, at most 60) long-polls: until
// the state differs from ?since=, or without since until the request is
// answered or expires, or N seconds pass.
func (s *server) handleVerifierRequest() gin.HandlerFunc {
	return func(c *gin.Context) {
		wait, ok := waitQuery(c)
		if !ok {
			s.badWait(c)
			return
		}
		since, ok := sinceQuery(c)
		if !ok {
			s.failCode(c, api.CodeInvalidRequest, "since must be a request status: created, delivered, approved, declined or expired")
			return
		}
		p, id := principalOf(c), c.Param("id")
		ctx := c.Request.Context()
		if wait > 0 {
			var done func()
			var ok bool
			if ctx, done, ok = s.waitContext(c, wait+5*time.Second); !ok { // the service ends the wait; this is the backstop
				return
			}
			defer done()
		}
		res, err := s.svc.VerifierRequest(ctx, p, id, wait, since)
		if cutShort(c, ctx, err) {
			res, err = s.svc.VerifierRequest(c.Request.Context(), p, id, 0, "")
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, res)
	}
}

// handleVerifierRequestEvents streams the request's state as server-sent
// events: "status" with the RequestResult at once, then at each change,
// ending after a final state (approved with the documents, declined,
// expired); a ": keep-alive" comment when quiet. A stream also ends after
// s.streamMax (the client reconnects and is sent the state again), when
// the client goes, or when the server shuts down.
func (s *server) handleVerifierRequestEvents() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, id := principalOf(c), c.Param("id")
		ctx, done, ok := s.waitContext(c, s.streamMax)
		if !ok {
			return
		}
		defer done()
		// Unknown or someone else's request: a JSON 404, not a stream.
		res, err := s.svc.VerifierRequest(ctx, p, id, 0, "")
		if err != nil {
			s.fail(c, err)
			return
		}
		es, err := s.startEvents(c)
		if err != nil {
			return
		}
		for {
			if es.send("status", res) != nil || finalState(res.Status) {
				return
			}
			last := res.Status
			for res.Status == last {
				if res, err = s.svc.VerifierRequest(ctx, p, id, s.heartbeat, last); err != nil {
					if ctx.Err() == nil {
						s.failStream(c, es, err)
					}
					return
				}
				if res.Status == last && es.heartbeat(s.heartbeat) != nil {
					return
				}
			}
		}
	}
}
