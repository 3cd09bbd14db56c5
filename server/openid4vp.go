package server

import (
	"net/http"
	"net/url"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/openid4vp"
	"github.com/gin-gonic/gin"
)

// The endpoints a standard wallet calls for an OpenID4VP request (issue
// 11), public: the wallet is not a client of this API. What it may do is
// bound by the request's token in the path, the request's nonce and state,
// and the checks of the response.

// handleVerifierCA serves the certificate of the CA that issues the
// verifiers' certificates: the trust anchor of x509_san_dns and x509_hash
// request objects, for wallet providers to configure.
func (s *server) handleVerifierCA() gin.HandlerFunc {
	return func(c *gin.Context) {
		pemCert, err := s.svc.VerifierCA(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "public, max-age=3600")
		c.Data(http.StatusOK, "application/pem-certificate-chain", pemCert)
	}
}

// handleRequestObject is the request URI (OpenID4VP 1.0 §5.10, RFC 9101
// §5.2): GET, or POST with the wallet's metadata and nonce (form); the
// answer is the request object, application/oauth-authz-req+jwt, never
// cached (it carries the wallet's nonce and a fresh iat).
func (s *server) handleRequestObject() gin.HandlerFunc {
	return func(c *gin.Context) {
		var walletNonce string
		if c.Request.Method == http.MethodPost {
			form, ok := s.readForm(c, s.maxBody)
			if !ok {
				return
			}
			// wallet_metadata is read only to be ignored: the request
			// asks for what the service supports (§5.10).
			walletNonce = form.Get("wallet_nonce")
		}
		jwt, err := s.svc.OpenID4VPRequestObject(c.Request.Context(), c.Param("token"), walletNonce)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusOK, openid4vp.MediaTypeRequestObject, []byte(jwt))
	}
}

// handleResponse is the response URI (OpenID4VP 1.0 §8.2): the wallet's
// authorization response as a form, answered 200 with a JSON object when
// taken, or the error table's answer (invalid_request with a reason for
// a response that fails its checks).
func (s *server) handleResponse() gin.HandlerFunc {
	return func(c *gin.Context) {
		form, ok := s.readForm(c, openid4vp.MaxResponseBytes)
		if !ok {
			return
		}
		ans, err := s.svc.OpenID4VPResponse(c.Request.Context(), c.Param("token"), form)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		writeJSON(c, http.StatusOK, ans)
	}
}

// readForm reads an application/x-www-form-urlencoded body of at most max
// bytes, each parameter at most once (RFC 6749 §3.1); on failure it has
// answered.
func (s *server) readForm(c *gin.Context, max int64) (url.Values, bool) {
	if mediaType(c) != mediaForm {
		s.failCode(c, api.CodeUnsupportedMedia, "the request body must be %s", mediaForm)
		return nil, false
	}
	body, we := s.readBodyUpTo(c, max)
	if we != nil {
		s.answerError(c, we)
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.failCode(c, api.CodeInvalidRequest, "the form body is malformed")
		return nil, false
	}
	for name, v := range form {
		if len(v) > 1 {
			s.failCode(c, api.CodeInvalidRequest, "parameter %q is repeated", name)
			return nil, false
		}
	}
	return form, true
}
