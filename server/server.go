// Package server is the HTTP API of the wallet service (SPEC §3–§6): one
// route table (routes.go), one error table (errors.go), and middleware for
// authentication, body limits, rate limits, request logging, metrics and
// security headers. It is the only importer of gin.
//
// New takes every dependency and returns an http.Handler; nothing here
// reads the environment or keeps package-level state.
package server

import (
	"bytes"
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/docs"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the zero values of Config.
const (
	// DefaultMaxBodyBytes caps a JSON request body (SPEC §5: 64 KiB). It is
	// checked before decoding: a larger body is 413 whatever it holds.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultMaxLineBytes caps one line of the bulk issuance stream.
	DefaultMaxLineBytes = 64 << 10
	// DefaultBulkBatchSize is the most lines of a bulk stream issued by one
	// wallet.Service.IssueBatch call (two store commits each).
	DefaultBulkBatchSize = 256
	// DefaultBulkIdleTimeout is how long a bulk stream may stall, reading
	// or writing, before it is cut. The bulk route extends the connection's
	// deadlines by this much after every batch, so a long stream is not cut
	// by the http.Server's whole-request ReadTimeout or WriteTimeout.
	DefaultBulkIdleTimeout = time.Minute
	// DefaultStreamMaxDuration bounds one server-sent event stream. It is
	// shorter than the 5-minute WriteTimeout of eidwallet serve, so a
	// stream ends cleanly and the client reconnects, instead of being cut.
	DefaultStreamMaxDuration = 4 * time.Minute
	// DefaultStreamHeartbeat is how often an idle event stream sends a
	// comment line, so proxies and NAT do not drop a quiet connection.
	DefaultStreamHeartbeat = 15 * time.Second
)

// Config is everything the HTTP API depends on.
type Config struct {
	// Service runs the flows; required.
	Service *wallet.Service
	// Logger gets one line per request and internal errors (nil: discard).
	Logger *slog.Logger
	// Registerer receives the server's metrics and Gatherer is what
	// /metrics serves (usually one *prometheus.Registry for both). Both
	// nil: a private registry. One nil: the other one, when it is both.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Now is the clock for rate limits (nil: time.Now).
	Now func() time.Time

	// MaxBodyBytes caps JSON request bodies (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxLineBytes caps one bulk NDJSON line (0: DefaultMaxLineBytes).
	MaxLineBytes int
	// BulkBatchSize is the most lines per IssueBatch (0: DefaultBulkBatchSize).
	BulkBatchSize int
	// BulkIdleTimeout bounds a stalled bulk stream (0: DefaultBulkIdleTimeout).
	BulkIdleTimeout time.Duration
	// StreamMaxDuration bounds one event stream (0:
	// DefaultStreamMaxDuration); keep it under the http.Server's
	// WriteTimeout. StreamHeartbeat is the keep-alive period of an idle
	// stream (0: DefaultStreamHeartbeat).
	StreamMaxDuration time.Duration
	StreamHeartbeat   time.Duration

	// RateLimits are the limits of SPEC §6; zero fields take the defaults
	// of DefaultRateLimits.
	RateLimits RateLimits
	// SharedLimits, when set, holds the rate limits' buckets for every
	// replica of the deployment (wallet.Service over PostgreSQL), so that
	// N replicas allow what one does; nil: each server keeps its own.
	SharedLimits SharedBuckets
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// working out a client's address for rate limits. Empty: the TCP peer
	// is the client, whatever the headers say.
	TrustedProxies []netip.Prefix

	// OpenAPI is served at /openapi.json (nil: docs.OpenAPI()).
	OpenAPI []byte
}

// server holds the dependencies the handlers close over.
type server struct {
	svc       *wallet.Service
	log       *slog.Logger
	now       func() time.Time
	maxBody   int64
	maxLine   int
	batchSize int
	bulkIdle  time.Duration
	streamMax time.Duration
	heartbeat time.Duration
	drains    drains     // long-polls and streams end when their http.Server shuts down
	waits     waits      // long-polls and streams open at once, bounded
	bodies    *bodyReads // request bodies being read at once, bounded (bodies.go)
	limits    *limiters
	proxies   []netip.Prefix
	metrics   *metrics
	gatherer  prometheus.Gatherer
	openapi   []byte
	gzipped   gzipCache // status list tokens, gzipped (gzip.go)
}

// New returns the HTTP API over cfg.Service. It panics when cfg has no
// Service: that is a wiring mistake, not a runtime condition.
func New(cfg Config) http.Handler {
	if cfg.Service == nil {
		panic("server: Config.Service is required")
	}
	s := &server{
		svc:       cfg.Service,
		log:       cfg.Logger,
		now:       cfg.Now,
		maxBody:   cfg.MaxBodyBytes,
		maxLine:   cfg.MaxLineBytes,
		batchSize: cfg.BulkBatchSize,
		bulkIdle:  cfg.BulkIdleTimeout,
		streamMax: cfg.StreamMaxDuration,
		heartbeat: cfg.StreamHeartbeat,
		proxies:   cfg.TrustedProxies,
		bodies:    &bodyReads{},
		openapi:   bytes.Clone(cfg.OpenAPI),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// Every line the server logs with a request's context carries its id,
	// whatever handler the caller passed (LogHandler is idempotent).
	s.log = slog.New(LogHandler(s.log.Handler()))
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.maxLine <= 0 {
		s.maxLine = DefaultMaxLineBytes
	}
	if s.batchSize <= 0 {
		s.batchSize = DefaultBulkBatchSize
	}
	if s.bulkIdle <= 0 {
		s.bulkIdle = DefaultBulkIdleTimeout
	}
	if s.streamMax <= 0 {
		s.streamMax = DefaultStreamMaxDuration
	}
	if s.heartbeat <= 0 {
		s.heartbeat = DefaultStreamHeartbeat
	}
	if s.openapi == nil {
		s.openapi = docs.OpenAPI()
	}
	s.limits = newLimiters(cfg.RateLimits.withDefaults(), cfg.SharedLimits)

	reg, gath := cfg.Registerer, cfg.Gatherer
	switch {
	case reg == nil && gath == nil:
		r := prometheus.NewRegistry()
		reg, gath = r, r
	case gath == nil:
		if g, ok := reg.(prometheus.Gatherer); ok {
			gath = g
		} else {
			gath = prometheus.NewRegistry() // nothing to serve
		}
	case reg == nil:
		if r, ok := gath.(prometheus.Registerer); ok {
			reg = r
		} else {
			reg = prometheus.NewRegistry() // counted, not served
		}
	}
	s.metrics = newMetrics(reg)
	register(reg, newOutboxCollector(cfg.Service, s.log))
	s.gatherer = gath

	// Release mode keeps gin from printing routes and warnings to stdout;
	// gin holds the mode in one atomic for the process.
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true // 405 with Allow (RFC 9110 §15.5.6)
	e.RedirectTrailingSlash = false // an API answers the path it was asked
	e.RedirectFixedPath = false
	// Client addresses come from clientAddr, never from gin's header
	// parsing, which trusts every proxy by default.
	_ = e.SetTrustedProxies(nil)
	e.ForwardedByClientIP = false

	e.Use(s.requestID(), s.observe(), s.recoverPanics(), s.securityHeaders(), s.queryOnce())
	e.NoRoute(s.handleNoRoute())
	e.NoMethod(s.handleNoMethod())
	rt := router{&e.RouterGroup}
	s.routes(rt)
	s.pageRoutes(rt)
	return e
}

// router is how routes.go and pages.go register routes: the one place
// that makes every GET route answer HEAD too (RFC 9110 §9.1, SPEC §5),
// with the same handlers, so a new route cannot forget it.
type router struct{ g *gin.RouterGroup }

// Group returns a router for the routes under path, behind handlers.
func (r router) Group(path string, handlers ...gin.HandlerFunc) router {
	return router{r.g.Group(path, handlers...)}
}

// GET registers a GET route and its HEAD twin. A HEAD answer has the
// status and headers of the GET answer and no body: net/http drops what
// a handler writes for HEAD, after counting it for Content-Length (RFC
// 9110 §9.3.2). A handler that flushes (an event stream) has sent all
// the headers there are, so for HEAD its context ends at the first flush
// instead of streaming into nothing.
func (r router) GET(path string, handlers ...gin.HandlerFunc) {
	r.g.GET(path, handlers...)
	r.g.HEAD(path, append([]gin.HandlerFunc{headOnly}, handlers...)...)
}

func (r router) POST(path string, handlers ...gin.HandlerFunc)   { r.g.POST(path, handlers...) }
func (r router) PUT(path string, handlers ...gin.HandlerFunc)    { r.g.PUT(path, handlers...) }
func (r router) DELETE(path string, handlers ...gin.HandlerFunc) { r.g.DELETE(path, handlers...) }

// headOnly runs before the handlers of a HEAD route; see router.GET.
func headOnly(c *gin.Context) {
	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Writer = &headWriter{ResponseWriter: c.Writer, flushed: cancel}
	c.Next()
}

// headWriter ends a HEAD request's context once its headers are flushed.
type headWriter struct {
	gin.ResponseWriter
	flushed context.CancelFunc
}

func (w *headWriter) Flush() {
	w.ResponseWriter.Flush()
	w.flushed()
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (w *headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// allowOrder is the order of the methods in an Allow header.
var allowOrder = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// handleNoMethod answers a known path asked with a method it does not
// route: 405 method_not_allowed with Allow listing the methods it does,
// in a fixed order (RFC 9110 §15.5.6, SPEC §5). gin has set Allow in the
// order its method trees were made.
func (s *server) handleNoMethod() gin.HandlerFunc {
	return func(c *gin.Context) {
		if preflight(c) { // a CORS preflight to a verifier route (cors.go)
			return
		}
		h := c.Writer.Header()
		allowed := strings.Split(h.Get("Allow"), ", ")
		slices.SortStableFunc(allowed, func(a, b string) int {
			return cmp.Compare(methodRank(a), methodRank(b))
		})
		h.Set("Allow", strings.Join(allowed, ", "))
		s.failCode(c, api.CodeMethodNotAllowed, "this route does not take that method; Allow lists those it takes")
	}
}

func methodRank(m string) int {
	if i := slices.Index(allowOrder, m); i >= 0 {
		return i
	}
	return len(allowOrder)
}
