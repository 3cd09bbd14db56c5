package server

import (
	"net/http"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
)

// Operator routes (admin API key). API keys and activation codes appear in
// an answer once and are never logged; /v1/ answers are no-store.

func (s *server) handleCreateIssuer() gin.HandlerFunc {
	return handle(s, http.StatusCreated, body(s.svc.CreateIssuer))
}

// External issuers (issue 11): trusted for some types, keys fetched from
// their metadata.
func (s *server) handleAddExternalIssuer() gin.HandlerFunc {
	return handle(s, http.StatusCreated, body(s.svc.AddExternalIssuer))
}

func (s *server) handleExternalIssuers() gin.HandlerFunc {
	return handle(s, http.StatusOK, paged(s.svc.ExternalIssuers))
}

func (s *server) handleRetireExternalIssuer() gin.HandlerFunc {
	return handle(s, http.StatusOK, byID(s.svc.RetireExternalIssuer))
}

// handleImportVerifierCertificate sets a verifier's OpenID4VP signing
// certificate to one the operator had issued elsewhere.
func (s *server) handleImportVerifierCertificate() gin.HandlerFunc {
	return handle(s, http.StatusOK, byIDWithBody(s.svc.ImportVerifierCertificate))
}

func (s *server) handleIssuers() gin.HandlerFunc {
	return handle(s, http.StatusOK, paged(s.svc.Issuers))
}

// handleRotateIssuerKey makes a new active key (201: a key was created);
// the older ones stay in the JWKS until retired (THREATS T27).
func (s *server) handleRotateIssuerKey() gin.HandlerFunc {
	return handle(s, http.StatusCreated, byID(s.svc.RotateIssuerKey))
}

func (s *server) handleRetireIssuerKey() gin.HandlerFunc {
	return handle(s, http.StatusOK, func(c *gin.Context, p *wallet.Principal, _ noBody) (*api.IssuerView, error) {
		return s.svc.RetireIssuerKey(c.Request.Context(), p, c.Param("id"), c.Param("kid"))
	})
}

func (s *server) handleRetireIssuer() gin.HandlerFunc {
	return handle(s, http.StatusOK, byID(s.svc.RetireIssuer))
}

func (s *server) handleCreateIssuerAPIKey() gin.HandlerFunc {
	return handle(s, http.StatusCreated, byID(s.svc.CreateIssuerAPIKey))
}

func (s *server) handleCreateVerifier() gin.HandlerFunc {
	return handle(s, http.StatusCreated, body(s.svc.CreateVerifier))
}

func (s *server) handleVerifiers() gin.HandlerFunc {
	return handle(s, http.StatusOK, paged(s.svc.Verifiers))
}

func (s *server) handleCreateVerifierAPIKey() gin.HandlerFunc {
	return handle(s, http.StatusCreated, byID(s.svc.CreateVerifierAPIKey))
}

func (s *server) handleRevokeAPIKey() gin.HandlerFunc {
	return noContent(s, s.svc.RevokeAPIKey)
}

func (s *server) handleCreateActivationCode() gin.HandlerFunc {
	return handle(s, http.StatusCreated, body(s.svc.CreateActivationCode))
}

// handleSetVerifierWebhook sets (or with an empty url removes) the URL a
// verifier's request results are posted to; the answer carries the new
// signing secret, shown once.
// handleRetireVerifier retires a verifier and revokes its keys.
func (s *server) handleRetireVerifier() gin.HandlerFunc {
	return handle(s, http.StatusOK, byID(s.svc.RetireVerifier))
}

// handleAPIKeys lists the API keys, ?owner= one issuer's or verifier's.
func (s *server) handleAPIKeys() gin.HandlerFunc {
	return handle(s, http.StatusOK, func(c *gin.Context, p *wallet.Principal, _ noBody) (*api.APIKeyList, error) {
		pg, err := pageQuery(c)
		if err != nil {
			return nil, err
		}
		return s.svc.APIKeys(c.Request.Context(), p, c.Query("owner"), pg)
	})
}

// handleSetVerifierOrigins sets the web origins allowed to call the
// verifier routes with the verifier's keys (CORS, cors.go).
func (s *server) handleSetVerifierOrigins() gin.HandlerFunc {
	return handle(s, http.StatusOK, byIDWithBody(s.svc.SetVerifierOrigins))
}

func (s *server) handleSetVerifierWebhook() gin.HandlerFunc {
	return handle(s, http.StatusOK, byIDWithBody(s.svc.SetVerifierWebhook))
}
