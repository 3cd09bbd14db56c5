package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
)

// Request-scoped values live under unexported keys: the principal in the
// gin context, the request id in the request's context, where the
// service's log lines find it too (LogHandler).
type (
	principalKey struct{}
	requestIDKey struct{}
)

// principalOf returns the authenticated caller (nil on public routes).
func principalOf(c *gin.Context) *wallet.Principal {
	if v, ok := c.Get(principalKey{}); ok {
		p, _ := v.(*wallet.Principal)
		return p
	}
	return nil
}

// routeOf is the route pattern for logs and metric labels: bounded, and
// free of ids; unmatched paths share one label.
func routeOf(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// methodLabel bounds the method label to the methods the API knows.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// incomingRequestID is what a proxy's X-Request-Id may look like to be
// kept: short and plain, so it cannot forge log structure.
var incomingRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// requestID tags each request with an id, kept from a proxy's X-Request-Id
// when it is plain enough, else 128 random bits; it is echoed in the
// answer and in every log line of the request. The request's arrival time
// goes with it: the service measures a verification's latency from it
// (wallet.WithReceived).
func (s *server) requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		arrived := s.now()
		id := c.GetHeader("X-Request-Id")
		if !incomingRequestID.MatchString(id) {
			id = rand.Text()
		}
		ctx := wallet.WithReceived(context.WithValue(c.Request.Context(), requestIDKey{}, id), arrived)
		c.Request = c.Request.WithContext(ctx)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

// observe logs one line per request and records its metrics. The line has
// the method, route pattern, path (never the query string), status,
// duration, request id (added by LogHandler, like every line logged with
// the request's context) and the caller's role and ids; never bodies,
// tokens, keys, claim values or nonces (SPEC §6, T28).
func (s *server) observe() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)
		route, method, status := routeOf(c), methodLabel(c.Request.Method), c.Writer.Status()
		s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		s.metrics.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())

		attrs := []slog.Attr{
			slog.String("method", method),
			slog.String("route", route),
		}
		// The path of a matched route holds ids, but for the :token of the
		// OpenID4VP request and response URIs, a secret kept only hashed
		// (SPEC §6, THREATS T28): there the route stands for the path. An
		// unmatched path is whatever the client typed, which may be
		// anything, so it is left out.
		if c.FullPath() != "" {
			path := c.Request.URL.Path
			if c.Param("token") != "" {
				path = c.FullPath()
			}
			if len(path) > 256 {
				path = path[:256]
			}
			attrs = append(attrs, slog.String("path", path))
		}
		attrs = append(attrs,
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
		)
		if p := principalOf(c); p != nil {
			attrs = append(attrs, slog.String("role", string(p.Role)), slog.String("subject", p.Subject))
			if p.DeviceID != "" {
				attrs = append(attrs, slog.String("device_id", p.DeviceID))
			}
			if p.KeyID != "" {
				attrs = append(attrs, slog.String("key_id", p.KeyID))
			}
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(c.Request.Context(), level, "request", attrs...)
	}
}

// recoverPanics turns a handler panic into a logged 500, instead of gin's
// default recovery, which prints to stderr. http.ErrAbortHandler is passed
// on: it is net/http's way to abort a response on purpose, and what a
// panic after the answer has begun becomes.
func (s *server) recoverPanics() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.ErrorContext(c.Request.Context(), "panic", "route", routeOf(c),
				"panic", fmt.Sprintf("%T", v), "stack", string(debug.Stack()))
			if c.Writer.Written() {
				// The answer has begun (a bulk stream): cut the connection
				// so the client cannot take a truncated answer for a whole
				// one.
				panic(http.ErrAbortHandler)
			}
			s.failCode(c, api.CodeInternal, genericInternal)
		}()
		c.Next()
	}
}

// securityHeaders sets what every answer carries: no MIME sniffing, a CSP
// that lets an API answer load or run nothing, no framing, no referrer;
// and no caching of anything under /v1/ unless a handler says otherwise.
func (s *server) securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(c.Request.URL.Path, "/v1/") {
			h.Set("Cache-Control", "no-store")
		}
		// RFC 6797 §7.1: served over TLS, the host tells browsers to come
		// back over TLS only, so that no later visit to the staff page, where
		// a verifier key is typed, goes out in the clear; §7.2: never over
		// plain HTTP (a proxy that ends TLS sets it itself, operations.md).
		if c.Request.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		c.Next()
	}
}

// authenticate requires a bearer credential of the given role (T19, T20):
// none or an invalid one is 401 with a Bearer challenge (RFC 6750 §3), a
// valid one of another role 403. The principal is kept for the handler
// and the log line before the role is checked, so refused calls are
// logged with who made them.
func (s *server) authenticate(role api.Role) gin.HandlerFunc {
	return s.authenticateWith(role, s.svc.Authenticate)
}

// authenticateDeferred is authenticate for a route whose service method
// confirms a key it took from memory in its own first read (POST
// /v1/verify: wallet.Service.AuthenticateDeferred), saving a read.
func (s *server) authenticateDeferred(role api.Role) gin.HandlerFunc {
	return s.authenticateWith(role, s.svc.AuthenticateDeferred)
}

func (s *server) authenticateWith(role api.Role, authenticate func(context.Context, string) (*wallet.Principal, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, present, ok := bearerToken(c.Request.Header)
		if !present {
			c.Header("WWW-Authenticate", bearerRealm)
			s.failCode(c, api.CodeUnauthenticated, "a bearer credential is required")
			return
		}
		if !ok {
			c.Header("WWW-Authenticate", invalidToken)
			s.failCode(c, api.CodeUnauthenticated, "the Authorization header must be: Bearer <credential>")
			return
		}
		p, err := authenticate(c.Request.Context(), token)
		if err != nil {
			if wallet.ErrorCode(err) == api.CodeUnauthenticated {
				c.Header("WWW-Authenticate", invalidToken)
			}
			s.fail(c, err)
			return
		}
		c.Set(principalKey{}, p)
		if p.Role != role {
			c.Header("WWW-Authenticate", bearerRealm+`, error="insufficient_scope"`)
			s.failCode(c, api.CodeForbidden, "this route is for the %s role", role)
			return
		}
		c.Next()
	}
}

// bearerToken reads "Authorization: Bearer <token>" (RFC 6750 §2.1; the
// scheme is case-insensitive, RFC 9110 §11.1). present reports whether an
// Authorization header was sent at all; ok whether it was one well-formed
// bearer credential.
func bearerToken(h http.Header) (token string, present, ok bool) {
	vals := h.Values("Authorization")
	if len(vals) == 0 {
		return "", false, false
	}
	if len(vals) > 1 {
		return "", true, false
	}
	scheme, tok, found := strings.Cut(vals[0], " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", true, false
	}
	tok = strings.TrimLeft(tok, " ")
	if !isB64Token(tok) {
		return "", true, false
	}
	return tok, true, true
}

// isB64Token reports whether t is an RFC 6750 §2.1 b64token of at most
// 8 KiB: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(t string) bool {
	if t == "" || len(t) > 8<<10 {
		return false
	}
	body := strings.TrimRight(t, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		ch := body[i]
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		case ch == '-', ch == '.', ch == '_', ch == '~', ch == '+', ch == '/':
		default:
			return false
		}
	}
	return true
}

// limitByAddr applies l per client address.
func (s *server) limitByAddr(l *limiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.limited(c, l, addrKey(s.clientAddr(c.Request))) {
			return
		}
		c.Next()
	}
}

// limitByPrincipal applies l per API key, or per holder for access tokens
// (which carry no key id). It runs after authenticate.
func (s *server) limitByPrincipal(l *limiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principalOf(c)
		if p == nil { // a wiring mistake: fail closed
			s.failCode(c, api.CodeInternal, genericInternal)
			return
		}
		key := p.KeyID
		if key == "" {
			key = string(p.Role) + ":" + p.Subject
		}
		if s.limited(c, l, key) {
			return
		}
		c.Next()
	}
}

// limited takes one event of key from l; when it may not go ahead it
// answers (429, or 503 when shared buckets cannot be reached) and says so.
func (s *server) limited(c *gin.Context, l *limiter, key string) bool {
	wait, err := l.allow(c.Request.Context(), key, s.now())
	switch {
	case err != nil:
		s.fail(c, err)
	case wait > 0:
		s.metrics.rateLimited.WithLabelValues(l.name).Inc()
		s.rateLimited(c, wait)
	default:
		return false
	}
	return true
}

// clientAddr is the client's IP address: the TCP peer, unless the peer is
// a configured trusted proxy, in which case the right-most address of
// X-Forwarded-For that is not itself a trusted proxy.
func (s *server) clientAddr(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		// httptest and unix sockets may give a bare or odd address.
		if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
			return a.Unmap()
		}
		return netip.Addr{}
	}
	addr := peer.Addr().Unmap()
	if !s.trusted(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := forwardedAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr // a garbled hop: stop at what we know
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a
		}
	}
	return addr
}

// forwardedAddr is the address of an X-Forwarded-For hop: an address, or
// an address and port as some proxies write it (1.2.3.4:5555, [::1]:5555),
// the port dropped; otherwise an error.
func forwardedAddr(hop string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(hop); err == nil {
		return a, nil
	}
	ap, err := netip.ParseAddrPort(hop)
	return ap.Addr(), err
}

func (s *server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addrKey is the rate-limit key of an address: IPv6 clients are limited
// per /64, the smallest block a subscriber is usually given, so one client
// cannot mint fresh limiters from its own prefix.
func addrKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// LogHandler wraps a slog handler so that every record logged with a
// request's context (the server's request line and the service's own
// lines alike) carries that request's id as request_id: a store failure
// can be tied to the request that met it. It is the one place that key is
// added, so no line has it twice (a duplicate JSON member, which a strict
// log reader rejects and a lax one resolves either way); a record that
// already has a request_id of its own keeps it. Wrapping twice is
// wrapping once.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{Handler: h}
}

type requestIDHandler struct {
	slog.Handler
	grouped bool // attributes go into a group from now on
	has     bool // WithAttrs has set a top-level request_id
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok && !h.grouped && !h.has && !hasRequestID(r) {
		r.AddAttrs(slog.String(logRequestID, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	has := h.has
	if !h.grouped {
		for _, a := range attrs {
			has = has || a.Key == logRequestID
		}
	}
	return requestIDHandler{Handler: h.Handler.WithAttrs(attrs), grouped: h.grouped, has: has}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return requestIDHandler{Handler: h.Handler.WithGroup(name), grouped: true, has: h.has}
}

// logRequestID is the log key of the request id.
const logRequestID = "request_id"

func hasRequestID(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == logRequestID
		return !found
	})
	return found
}

// queryOnce refuses a query that names a parameter more than once
// (limit=1&limit=2), or that does not parse (limit=1;limit=2, a bad %
// escape), 400 invalid_request, before any route reads it: a route reads
// one value, and which one it took, or that it took none, would be a
// guess the client cannot see (the strict JSON rule: a repeated member is
// 400).
func (s *server) queryOnce() gin.HandlerFunc {
	return func(c *gin.Context) {
		if raw := c.Request.URL.RawQuery; raw != "" {
			q, err := url.ParseQuery(raw)
			if err != nil { // a bad escape or a ';', which Query would drop silently
				s.failCode(c, api.CodeInvalidRequest, "the query is malformed")
				return
			}
			for name, vs := range q {
				if len(vs) > 1 {
					s.failCode(c, api.CodeInvalidRequest, "query parameter %q is repeated", name)
					return
				}
			}
		}
		c.Next()
	}
}
