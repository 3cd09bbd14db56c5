package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
)

// CORS for the verifier routes (issue 13; the Fetch standard's CORS
// protocol): a bank's web page may call POST /v1/verify and /v1/verifier/*
// with its verifier's key from an origin the operator allowed for that
// verifier (PUT /v1/admin/verifiers/{id}/origins; none by default).
//
// A preflight carries no credentials (Fetch §3.2.2 "CORS-preflight
// request"), so it cannot name the verifier: it is answered for any
// https origin and says nothing about any verifier. The request itself,
// once its key names the verifier, is refused from an origin that
// verifier did not allow (403 forbidden, before anything is done: a share
// is not spent for a page that could not read the answer), and answered
// with Access-Control-Allow-Origin from one it did. The service's own
// pages are same-origin and need no entry.

// corsPath reports whether path is a verifier route that takes CORS.
func corsPath(path string) bool {
	return path == "/v1/verify" || strings.HasPrefix(path, "/v1/verifier/")
}

// preflight answers a CORS-preflight request to a verifier route, from
// the method-not-allowed handler (OPTIONS is routed nowhere). It reports
// whether it answered.
func preflight(c *gin.Context) bool {
	r := c.Request
	origin, method := r.Header.Get("Origin"), r.Header.Get("Access-Control-Request-Method")
	if r.Method != http.MethodOptions || origin == "" || method == "" || !corsPath(r.URL.Path) {
		return false
	}
	h := c.Writer.Header()
	h.Del("Allow")
	h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	if wallet.IsOrigin(origin) && (method == http.MethodGet || method == http.MethodPost) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, "+api.IdempotencyKeyHeader+", Last-Event-ID")
		h.Set("Access-Control-Max-Age", "600")
	}
	// Without the headers above the browser sends nothing more (fail
	// closed); the status is 204 either way.
	c.AbortWithStatus(http.StatusNoContent)
	return true
}

// allowOrigin runs after a verifier's authentication on the CORS routes:
// a request with an Origin other than the service's own goes on only from
// an origin the verifier allowed, and its answer then names that origin.
func (s *server) allowOrigin() gin.HandlerFunc {
	own := s.ownOrigin()
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin == "" || origin == own || sameOrigin(c.Request, origin) {
			c.Next()
			return
		}
		c.Writer.Header().Add("Vary", "Origin")
		ok, err := s.svc.OriginAllowed(c.Request.Context(), principalOf(c), origin)
		switch {
		case err != nil:
			s.fail(c, err)
		case !ok:
			s.failCode(c, api.CodeForbidden, "pages of this origin may not use this verifier's keys (an operator allows origins per verifier)")
		default:
			h := c.Writer.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Retry-After, ETag, X-Request-Id") // the id a bank's page quotes to support (integrate.md)
			c.Next()
		}
	}
}

// ownOrigin is the origin of the service's public URL, its pages' own.
func (s *server) ownOrigin() string {
	u, err := url.Parse(s.svc.PublicURL())
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// sameOrigin reports whether a request with Origin origin comes from a
// page of the service itself: the browser says so (Sec-Fetch-Site, which
// a page cannot set), or the origin is the scheme and host the request
// was sent to (an origin is scheme, host and port: a plain-http page on
// the service's host is another origin than its https pages).
func sameOrigin(r *http.Request, origin string) bool {
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return origin == scheme+"://"+r.Host
}
