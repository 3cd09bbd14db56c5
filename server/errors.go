package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
)

// statusOf is the one table from error code to HTTP status (SPEC §5, and
// the three OAuth codes of the token endpoint). Every error answer goes
// through it.
var statusOf = map[api.Code]int{
	api.CodeInvalidRequest:     http.StatusBadRequest,
	api.CodeUnauthenticated:    http.StatusUnauthorized,
	api.CodeForbidden:          http.StatusForbidden,
	api.CodeNotFound:           http.StatusNotFound,
	api.CodeMethodNotAllowed:   http.StatusMethodNotAllowed,
	api.CodeAlreadyRedeemed:    http.StatusConflict,
	api.CodeReplay:             http.StatusConflict,
	api.CodeConflict:           http.StatusConflict,
	api.CodeShareExpired:       http.StatusGone,
	api.CodeShareCancelled:     http.StatusGone,
	api.CodeTooLarge:           http.StatusRequestEntityTooLarge,
	api.CodeUnsupportedMedia:   http.StatusUnsupportedMediaType,
	api.CodeVerificationFailed: http.StatusUnprocessableEntity,
	api.CodeRateLimited:        http.StatusTooManyRequests,
	api.CodeStatusUnavailable:  http.StatusServiceUnavailable,
	api.CodeStorageUnavailable: http.StatusServiceUnavailable,
	api.CodeInternal:           http.StatusInternalServerError,
	api.CodeIdempotencyReused:  http.StatusUnprocessableEntity,
	// RFC 6749 §5.2, answered by the token endpoint alone (token.go).
	api.CodeInvalidGrant:         http.StatusBadRequest,
	api.CodeUnsupportedGrantType: http.StatusBadRequest,
	api.CodeInvalidClient:        http.StatusUnauthorized,
}

// HTTPStatus is the status SPEC §5 gives an error code; a code not in the
// table is an internal error.
func HTTPStatus(code api.Code) int {
	if st, ok := statusOf[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// errorBody is the error answer (SPEC §5, the OAuth 2.0 shape of RFC 6749
// §5.2 with the reason of a failed check).
type errorBody struct {
	Error       api.Code `json:"error"`
	Description string   `json:"error_description"`
	Reason      string   `json:"reason,omitempty"`
}

// bearerRealm is the challenge of every 401 (RFC 6750 §3).
const bearerRealm = `Bearer realm="eidwallet"`

// invalidToken is the challenge of a 401 to a request that sent a
// credential (RFC 6750 §3.1).
const invalidToken = bearerRealm + `, error="invalid_token", error_description="the credential is missing, malformed, expired or revoked"`

// genericInternal is all a client learns of an internal error.
const genericInternal = "the server could not complete the request"

// fail answers err and stops the chain. A *wallet.Error is answered as it
// is (its message is safe to show, and the service has logged what it had
// to); anything else is logged here, once, with the request id, and
// answered 500 server_error with a generic description.
func (s *server) fail(c *gin.Context, err error) {
	we := s.clientError(c, err)
	s.answerError(c, we)
}

// clientError turns err into what the client may see, logging internal
// errors once.
func (s *server) clientError(c *gin.Context, err error) *wallet.Error {
	var we *wallet.Error
	switch {
	case errors.As(err, &we):
		return we
	case errors.Is(err, context.DeadlineExceeded):
		return &wallet.Error{Code: api.CodeStorageUnavailable, Message: "the service did not answer in time"}
	case errors.Is(err, context.Canceled):
		// The client went away; the request log line records it.
		return &wallet.Error{Code: api.CodeStorageUnavailable, Message: "the request was cancelled"}
	}
	s.log.ErrorContext(c.Request.Context(), "internal error", "route", routeOf(c), "err", err)
	return &wallet.Error{Code: api.CodeInternal, Message: genericInternal}
}

// statusClientClosed is what the request log and the metrics record for a
// request whose client went away before its answer (nginx's 499).
const statusClientClosed = 499

// answerError writes an error answer and aborts the chain. Error answers
// are never cached; every 401 carries a Bearer challenge.
func (s *server) answerError(c *gin.Context, we *wallet.Error) {
	if errors.Is(c.Request.Context().Err(), context.Canceled) {
		// The client went away (a long-poll it gave up on): nobody reads
		// an answer, and a 503 would count as a storage failure in the
		// request log and the metrics. They say 499, "client closed
		// request" as proxies write it.
		c.AbortWithStatus(statusClientClosed)
		return
	}
	status := HTTPStatus(we.Code)
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		if c.GetHeader("Authorization") != "" { // a key refused after authentication (a deferred one revoked)
			h.Set("WWW-Authenticate", invalidToken)
		} else {
			h.Set("WWW-Authenticate", bearerRealm)
		}
	}
	c.Abort()
	writeJSON(c, status, errorBody{Error: we.Code, Description: we.Message, Reason: we.Reason})
}

// failCode answers a code the server decides on its own.
func (s *server) failCode(c *gin.Context, code api.Code, format string, args ...any) {
	s.answerError(c, &wallet.Error{Code: code, Message: fmt.Sprintf(format, args...)})
}

// rateLimited answers 429 with Retry-After in whole seconds, rounded up
// (RFC 9110 §10.2.3, SPEC §5).
func (s *server) rateLimited(c *gin.Context, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	c.Header("Retry-After", strconv.Itoa(secs))
	s.failCode(c, api.CodeRateLimited, "too many requests; retry after %d s", secs)
}
