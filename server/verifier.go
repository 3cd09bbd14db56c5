package server

import (
	"net/http"
	"strconv"

	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
)

// Relying-party routes (verifier API key).

// handleVerify redeems a scanned share (SPEC §3.3 step 4). The service
// makes the redemption durable before it answers; the answer holds
// personal data and is never cached.
func (s *server) handleVerify() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req wallet.VerifyRequest
		if we := s.decodeJSON(c, &req); we != nil {
			s.metrics.verifications.WithLabelValues(string(we.Code), "").Inc()
			s.answerError(c, we)
			return
		}
		resp, err := s.svc.Verify(c.Request.Context(), principalOf(c), req)
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

// maxVerificationsLimit is the largest page of the verifier's log.
const maxVerificationsLimit = 1000

// handleVerifications lists the verifier's own log, newest first,
// ?limit=N (1 to 1000, default 100).
func (s *server) handleVerifications() gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := 0 // the service's default
		if v, ok := c.GetQuery("limit"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxVerificationsLimit {
				s.failCode(c, wallet.CodeInvalidRequest, "limit must be an integer from 1 to %d", maxVerificationsLimit)
				return
			}
			limit = n
		}
		resp, err := s.svc.Verifications(c.Request.Context(), principalOf(c), limit)
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, resp)
	}
}
