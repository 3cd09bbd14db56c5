package server

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// publicMaxAge is how long caches may keep issuer keys and metadata. A
// verifier that meets an unknown kid should fetch again; a retired key
// lingers in caches this long.
const publicMaxAge = 5 * time.Minute

// grantJWTBearer is the grant type of RFC 7523 §2.1.
const grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

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
func (s *server) handleOpenAPI() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.Header("Access-Control-Allow-Origin", "*")
		c.Data(http.StatusOK, mediaJSON, s.openapi)
	}
}

// handleJWKS serves an issuer's public keys, retired keys excluded (SPEC
// §3.5). Anyone may fetch it, browsers included.
func (s *server) handleJWKS() gin.HandlerFunc {
	return func(c *gin.Context) {
		jwks, err := s.svc.JWKS(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		publicCache(c, publicMaxAge)
		c.Data(http.StatusOK, "application/jwk-set+json", jwks)
	}
}

// handleServiceJWKS serves the service's own signing key, the key of
// activity checkpoints (SPEC §3.6). Anyone may fetch it, browsers included.
func (s *server) handleServiceJWKS() gin.HandlerFunc {
	return func(c *gin.Context) {
		jwks, err := s.svc.ServiceJWKS()
		if err != nil {
			s.fail(c, err)
			return
		}
		publicCache(c, publicMaxAge)
		c.Data(http.StatusOK, "application/jwk-set+json", jwks)
	}
}

// handleIssuerMetadata serves SD-JWT VC issuer metadata (issuer and jwks)
// at /.well-known/jwt-vc-issuer/issuers/{id}: the well-known segment goes
// between the host and the path of the issuer identifier.
func (s *server) handleIssuerMetadata() gin.HandlerFunc {
	return func(c *gin.Context) {
		meta, err := s.svc.IssuerMetadata(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		publicCache(c, publicMaxAge)
		c.Data(http.StatusOK, mediaJSON, meta)
	}
}

// handleTrustList serves the service's signed trust list: each hosted
// issuer bound to its keys and the vct it may sign, for verifiers working
// offline (THREATS T37). Cacheable like the keys it lists; the token itself
// is valid for wallet.TrustListTTL.
func (s *server) handleTrustList() gin.HandlerFunc {
	return func(c *gin.Context) {
		token, err := s.svc.TrustList(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		publicCache(c, publicMaxAge)
		c.Data(http.StatusOK, "application/trust-list+jwt", []byte(token))
	}
}

// handleStatusList serves a Token Status List token, cacheable for its
// ttl (SPEC §3.5; Token Status List §8).
func (s *server) handleStatusList() gin.HandlerFunc {
	return func(c *gin.Context) {
		list, ok := positiveInt(c.Param("list"))
		if !ok {
			s.failCode(c, api.CodeInvalidRequest, "list must be a positive integer")
			return
		}
		token, ttl, err := s.svc.StatusListToken(c.Request.Context(), c.Param("issuer"), list)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "max-age="+strconv.Itoa(int(ttl/time.Second)))
		c.Header("Access-Control-Allow-Origin", "*")
		c.Data(http.StatusOK, "application/statuslist+jwt", []byte(token))
	}
}

func publicCache(c *gin.Context, d time.Duration) {
	c.Header("Cache-Control", "public, max-age="+strconv.Itoa(int(d/time.Second)))
	c.Header("Access-Control-Allow-Origin", "*")
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

// tokenRequest is the JSON form of the token request.
type tokenRequest struct {
	GrantType string `json:"grant_type"`
	Assertion string `json:"assertion"`
}

// handleToken exchanges a device-signed assertion for an access token
// (SPEC §3.1 step 3): the RFC 7523 §2.1 form body, or the same two members
// as JSON. A wrong grant_type is invalid_request, SPEC §5 having no
// unsupported_grant_type.
func (s *server) handleToken() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req tokenRequest
		switch mediaType(c) {
		case mediaForm:
			body, we := s.readBody(c)
			if we != nil {
				s.answerError(c, we)
				return
			}
			form, err := url.ParseQuery(string(body))
			if err != nil {
				s.failCode(c, api.CodeInvalidRequest, "the form body is malformed")
				return
			}
			// RFC 6749 §3.2: parameters must not repeat; others are ignored.
			for name, v := range form {
				if len(v) > 1 {
					s.failCode(c, api.CodeInvalidRequest, "parameter %q is repeated", name)
					return
				}
			}
			req.GrantType, req.Assertion = form.Get("grant_type"), form.Get("assertion")
		case mediaJSON:
			if !s.decode(c, &req) {
				return
			}
		default:
			s.failCode(c, api.CodeUnsupportedMedia, "the request body must be %s or %s", mediaForm, mediaJSON)
			return
		}
		switch {
		case req.GrantType != grantJWTBearer:
			s.failCode(c, api.CodeInvalidRequest, "grant_type must be %s", grantJWTBearer)
			return
		case req.Assertion == "":
			s.failCode(c, api.CodeInvalidRequest, "assertion is required")
			return
		}
		resp, err := s.svc.Token(c.Request.Context(), req.Assertion)
		if err != nil {
			s.fail(c, err)
			return
		}
		// RFC 6749 §5.1: token answers are not cached.
		c.Header("Cache-Control", "no-store")
		c.Header("Pragma", "no-cache")
		writeJSON(c, http.StatusOK, resp)
	}
}

// handleNoRoute answers an unknown path 404 not_found.
func (s *server) handleNoRoute() gin.HandlerFunc {
	return func(c *gin.Context) {
		s.failCode(c, api.CodeNotFound, "no such route")
	}
}
