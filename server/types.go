package server

import (
	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
)

// The credential types (issue 13): what each one is called, the claims an
// issuer sends for it, and its SD-JWT VC Type Metadata. All public and
// made from the type registry, which is fixed when the service starts:
// each answer is encoded once, here, and, like /openapi.json, cacheable
// for PublicDocTTL with the ETag of its bytes.

// handleTypes lists every credential type with its claims as JSON Schema,
// so that an issuer finds what it must send before its first 400.
func (s *server) handleTypes() gin.HandlerFunc {
	body, err := marshalAnswer(api.CredentialTypes{Types: s.svc.CredentialTypes()})
	etag := wallet.ETag(body)
	return func(c *gin.Context) {
		if err != nil {
			s.fail(c, err)
			return
		}
		servePublic(c, mediaJSON, body, etag, wallet.PublicDocTTL)
	}
}

// handleType is one credential type of the list, by id.
func (s *server) handleType() gin.HandlerFunc {
	type answer struct {
		body []byte
		etag string
	}
	byID := map[string]answer{}
	var err error
	for _, t := range s.svc.CredentialTypes() {
		var body []byte
		if body, err = marshalAnswer(t); err != nil {
			break
		}
		byID[t.ID] = answer{body, wallet.ETag(body)}
	}
	return func(c *gin.Context) {
		if err != nil {
			s.fail(c, err)
			return
		}
		a, ok := byID[c.Param("id")]
		if !ok {
			s.failCode(c, api.CodeNotFound, "no such credential type")
			return
		}
		servePublic(c, mediaJSON, a.body, a.etag, wallet.PublicDocTTL)
	}
}

// handleTypeMetadata serves a type's SD-JWT VC Type Metadata document as
// application/json (draft-ietf-oauth-sd-jwt-vc-18 §4.3.1) at
// /vct/{vct}: the service is the registry of its URN vct values (§4.3.2),
// and a type whose vct is this URL is served at its own vct.
func (s *server) handleTypeMetadata() gin.HandlerFunc {
	return func(c *gin.Context) {
		doc, err := s.svc.TypeMetadata(c.Param("vct"))
		if err != nil {
			s.fail(c, err)
			return
		}
		s.serveDocument(c, mediaJSON, doc, wallet.PublicDocTTL)
	}
}
