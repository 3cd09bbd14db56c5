package server

import (
	"net/http"

	"github.com/eidwallet/eidwallet/api"
	"github.com/gin-gonic/gin"
)

// Operator routes (admin API key). API keys and activation codes appear in
// an answer once and are never logged; /v1/ answers are no-store.

func (s *server) handleCreateIssuer() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req api.CreateIssuerRequest
		if !s.decode(c, &req) {
			return
		}
		v, err := s.svc.CreateIssuer(c.Request.Context(), principalOf(c), req)
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusCreated, v)
	}
}

func (s *server) handleIssuers() gin.HandlerFunc {
	return func(c *gin.Context) {
		list, err := s.svc.Issuers(c.Request.Context(), principalOf(c))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, list)
	}
}

// handleRotateIssuerKey makes a new active key (201: a key was created);
// the older ones stay in the JWKS until retired (THREATS T27).
func (s *server) handleRotateIssuerKey() gin.HandlerFunc {
	return func(c *gin.Context) {
		v, err := s.svc.RotateIssuerKey(c.Request.Context(), principalOf(c), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusCreated, v)
	}
}

func (s *server) handleRetireIssuerKey() gin.HandlerFunc {
	return func(c *gin.Context) {
		v, err := s.svc.RetireIssuerKey(c.Request.Context(), principalOf(c), c.Param("id"), c.Param("kid"))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, v)
	}
}

func (s *server) handleRetireIssuer() gin.HandlerFunc {
	return func(c *gin.Context) {
		v, err := s.svc.RetireIssuer(c.Request.Context(), principalOf(c), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, v)
	}
}

func (s *server) handleCreateIssuerAPIKey() gin.HandlerFunc {
	return func(c *gin.Context) {
		k, err := s.svc.CreateIssuerAPIKey(c.Request.Context(), principalOf(c), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusCreated, k)
	}
}

func (s *server) handleCreateVerifier() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req api.CreateVerifierRequest
		if !s.decode(c, &req) {
			return
		}
		v, err := s.svc.CreateVerifier(c.Request.Context(), principalOf(c), req)
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusCreated, v)
	}
}

func (s *server) handleVerifiers() gin.HandlerFunc {
	return func(c *gin.Context) {
		list, err := s.svc.Verifiers(c.Request.Context(), principalOf(c))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, list)
	}
}

func (s *server) handleCreateVerifierAPIKey() gin.HandlerFunc {
	return func(c *gin.Context) {
		k, err := s.svc.CreateVerifierAPIKey(c.Request.Context(), principalOf(c), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusCreated, k)
	}
}

func (s *server) handleRevokeAPIKey() gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.svc.RevokeAPIKey(c.Request.Context(), principalOf(c), c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

func (s *server) handleCreateActivationCode() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req api.ActivationCodeRequest
		if !s.decode(c, &req) {
			return
		}
		resp, err := s.svc.CreateActivationCode(c.Request.Context(), principalOf(c), req)
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusCreated, resp)
	}
}

// handleSetVerifierWebhook sets (or with an empty url removes) the URL a
// verifier's request results are posted to; the answer carries the new
// signing secret, shown once.
func (s *server) handleSetVerifierWebhook() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req api.WebhookRequest
		if !s.decode(c, &req) {
			return
		}
		resp, err := s.svc.SetVerifierWebhook(c.Request.Context(), principalOf(c), c.Param("id"), req)
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, resp)
	}
}
