package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type statusBody struct {
	Status string `json:"status"`
}

// handleHealthz answers 200 while the process serves HTTP at all.
func (s *server) handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		writeJSON(c, http.StatusOK, statusBody{Status: "ok"})
	}
}

// handleReadyz answers 200 when the store answers, else 503
// storage_unavailable: a load balancer takes the replica out.
func (s *server) handleReadyz() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		if err := s.svc.Ready(c.Request.Context()); err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, statusBody{Status: "ready"})
	}
}

// handleMetrics serves the Prometheus text format from the configured
// gatherer.
func (s *server) handleMetrics() gin.HandlerFunc {
	h := promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		h.ServeHTTP(c.Writer, c.Request)
	}
}

// handleOpenAPI serves the OpenAPI 3.1 description (docs/openapi.json).
// It changes only with the binary: five minutes is the time a rolling
// upgrade's new description takes to reach every cache.
func (s *server) handleOpenAPI() gin.HandlerFunc {
	etag := wallet.ETag(s.openapi)
	return func(c *gin.Context) {
		servePublic(c, mediaJSON, s.openapi, etag, wallet.PublicDocTTL)
	}
}

// The public documents below are what every relying party fetches, so at
// peak a CDN answers them (docs/operations.md "CDN and caching"). Each
// carries a strong ETag, the digest of its exact bytes, so a cache
// revalidates with a 304 and no body; and a max-age that is what remains
// of the document's lifetime since the store was read for it
// (wallet.Document), so no cache holds a copy longer than that lifetime,
// however long it was kept in the replica's memory before.

// handleJWKS serves an issuer's public keys, retired keys excluded (SPEC
// §3.5). Anyone may fetch it, browsers included. A verifier meeting an
// unknown kid fetches again with Cache-Control: no-cache, which a CDN
// answers by revalidating (RFC 9111 §5.2.1.4).
func (s *server) handleJWKS() gin.HandlerFunc {
	return func(c *gin.Context) {
		doc, err := s.svc.JWKS(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		s.serveDocument(c, "application/jwk-set+json", doc, wallet.PublicDocTTL)
	}
}

// handleServiceJWKS serves the service's own signing key, the key of
// activity checkpoints and the trust list (SPEC §3.6). Anyone may fetch
// it, browsers included. The key is made once per store and held in
// memory, so the set and its tag are made once, here: no store read.
func (s *server) handleServiceJWKS() gin.HandlerFunc {
	jwks, err := s.svc.ServiceJWKS()
	etag := wallet.ETag(jwks)
	return func(c *gin.Context) {
		if err != nil {
			s.fail(c, err)
			return
		}
		servePublic(c, "application/jwk-set+json", jwks, etag, wallet.PublicDocTTL)
	}
}

// handleIssuerMetadata serves SD-JWT VC issuer metadata (issuer and jwks)
// at /.well-known/jwt-vc-issuer/issuers/{id}: the well-known segment goes
// between the host and the path of the issuer identifier.
func (s *server) handleIssuerMetadata() gin.HandlerFunc {
	return func(c *gin.Context) {
		doc, err := s.svc.IssuerMetadata(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		s.serveDocument(c, mediaJSON, doc, wallet.PublicDocTTL)
	}
}

// handleTrustList serves the service's signed trust list: each hosted
// issuer bound to its keys and the vct it may sign, for verifiers working
// offline (THREATS T37). Cacheable like the keys it lists; the token itself
// is valid for wallet.TrustListTTL.
// handleTrustBundle serves the signed trust bundle of offline verifiers
// (issue 12): a COSE_Sign1 by the service key, cacheable like the trust
// list.
func (s *server) handleTrustBundle() gin.HandlerFunc {
	return func(c *gin.Context) {
		doc, err := s.svc.TrustBundle(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		s.serveDocument(c, `application/cose; cose-type="cose-sign1"`, doc, wallet.PublicDocTTL)
	}
}

func (s *server) handleTrustList() gin.HandlerFunc {
	return func(c *gin.Context) {
		doc, err := s.svc.TrustList(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		s.serveDocument(c, "application/trust-list+jwt", doc, wallet.PublicDocTTL)
	}
}

// handleStatusList serves a Token Status List token (SPEC §3.5), fresh in
// HTTP caches until its ttl has passed since it was built: the token's
// ttl is the time a relying party may keep it (Token Status List §5.1),
// so the HTTP lifetime counts from its iat and a status change reaches a
// relying party that honours ttl within twice the ttl. It is gzipped for
// a client that accepts it.
func (s *server) handleStatusList() gin.HandlerFunc {
	return func(c *gin.Context) {
		list, ok := positiveInt(c.Param("list"))
		if !ok {
			s.failCode(c, api.CodeInvalidRequest, "list must be a positive integer")
			return
		}
		doc, err := s.svc.StatusListToken(c.Request.Context(), c.Param("issuer"), list)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Vary", "Accept-Encoding")
		if acceptsGzip(c.GetHeader("Accept-Encoding")) { // Token Status List §8.2 (gzip.go)
			c.Header("Content-Encoding", "gzip")
			doc.Body, doc.ETag = s.gzipped.of(doc.ETag, doc.Body), gzipETag(doc.ETag)
		}
		s.serveDocument(c, "application/statuslist+jwt", doc, wallet.StatusListTTL)
	}
}

// serveDocument answers a public document with max-age what remains of
// its freshness, in whole seconds rounded up, within [0, ttl] whatever
// the clock did.
func (s *server) serveDocument(c *gin.Context, contentType string, doc wallet.Document, ttl time.Duration) {
	left := min(max(doc.FreshUntil.Sub(s.now()), 0), ttl)
	servePublic(c, contentType, doc.Body, doc.ETag, left)
}

// servePublic answers body to anyone, browsers included, cacheable by
// shared caches for maxAge, with etag as its validator: 304 Not Modified
// and no body when If-None-Match names it (RFC 9110 §13.1.2, weak
// comparison), with the same ETag and Cache-Control the 200 would carry
// (§15.4.5), so a cache that revalidates keeps its copy for the new
// max-age.
func servePublic(c *gin.Context, contentType string, body []byte, etag string, maxAge time.Duration) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "public, max-age="+strconv.FormatInt(int64((maxAge+time.Second-1)/time.Second), 10))
	h.Set("Access-Control-Allow-Origin", "*")
	if notModified(c, etag) {
		return
	}
	c.Data(http.StatusOK, contentType, body)
}

// positiveInt parses a canonical decimal integer > 0 ("01" and "+1" are
// not: the status list URI must be the one the credential names).
func positiveInt(v string) (int, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || strconv.Itoa(n) != v {
		return 0, false
	}
	return n, true
}

// handleEnroll binds a device with a one-time activation code (SPEC §3.1
// step 2).
func (s *server) handleEnroll() gin.HandlerFunc {
	return handle(s, http.StatusCreated, func(c *gin.Context, _ *wallet.Principal, req api.EnrollRequest) (*api.EnrollResponse, error) {
		return s.svc.Enroll(c.Request.Context(), req)
	})
}

// handleNoRoute answers an unknown path 404 not_found.
func (s *server) handleNoRoute() gin.HandlerFunc {
	return func(c *gin.Context) {
		s.failCode(c, api.CodeNotFound, "no such route")
	}
}
