package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/gin-gonic/gin"
)

// The token endpoint (SPEC §3.1 step 3) is an OAuth 2.0 token endpoint
// taking the JWT authorization grant of RFC 7523 §2.1, and it refuses as
// one (RFC 6749 §5.2), so that OAuth libraries understand its answers:
//
//	400 invalid_request         a parameter missing or repeated, a malformed
//	                            or oversized body, a body neither form nor JSON
//	400 unsupported_grant_type  a grant_type other than jwt-bearer
//	400 invalid_grant           an assertion that does not verify, is expired
//	                            or too long-lived, has another aud, a jti
//	                            already used, or names an unknown or revoked
//	                            device (RFC 7523 §3.1)
//	401 invalid_client          the request tried client authentication
//
// The device assertion is the authorization grant, not client
// authentication (RFC 7523 §2.1, not §2.2): the app is a public client
// (RFC 6749 §2.1) and no client is registered, so any attempt at client
// authentication — an Authorization header, or client_secret or
// client_assertion parameters — fails as "unknown client". A client_id
// alone identifies, it does not authenticate (RFC 6749 §3.2.1), and is
// ignored like every parameter this endpoint does not use.
//
// 429 rate_limited (Retry-After) and 503 storage_unavailable are no OAuth
// errors and stay as SPEC §5 has them, and so do 500 server_error and the
// router's 405 method_not_allowed.

// grantJWTBearer is the grant type of RFC 7523 §2.1.
const grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// tokenRequest is the JSON form of the token request.
type tokenRequest struct {
	GrantType string `json:"grant_type"`
	Assertion string `json:"assertion"`
}

// clientAuthParams are the body parameters of client authentication, by
// mechanism: a password (RFC 6749 §2.3.1), an assertion (RFC 7521 §4.2).
var clientAuthParams = [][]string{{"client_secret"}, {"client_assertion", "client_assertion_type"}}

// tokenParams are the parameters a repetition of which is named in the
// answer; any other name is not echoed.
var tokenParams = []string{"grant_type", "assertion", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope"}

// tokenNoCache marks every answer of the token endpoint, the rate
// limiter's 429 included, as not to be cached (RFC 6749 §5.1, §5.2).
func tokenNoCache(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

// handleToken exchanges a device-signed assertion for an access token: the
// RFC 7523 §2.1 form body, or the same two members as JSON. It runs after
// tokenNoCache.
func (s *server) handleToken() gin.HandlerFunc {
	return func(c *gin.Context) {
		req, we := s.readTokenRequest(c)
		if we != nil {
			s.tokenError(c, we)
			return
		}
		resp, err := s.svc.Token(c.Request.Context(), req.Assertion)
		if err != nil {
			s.tokenError(c, s.clientError(c, err))
			return
		}
		writeJSON(c, http.StatusOK, resp)
	}
}

// readTokenRequest reads and checks the token request, in the order an
// OAuth server does: the body, the client, the grant type, the grant's
// parameters.
func (s *server) readTokenRequest(c *gin.Context) (tokenRequest, *wallet.Error) {
	var req tokenRequest
	// RFC 6749 §5.2: a body that cannot be read as a token request is
	// "otherwise malformed" — its size or media type included.
	malformed := func(we *wallet.Error) *wallet.Error {
		if we.Code == api.CodeRateLimited { // the bound on bodies being read: try again
			return we
		}
		return &wallet.Error{Code: api.CodeInvalidRequest, Message: we.Message}
	}
	mechanisms := 0 // of client authentication the request tried
	switch mediaType(c) {
	case mediaForm:
		body, we := s.readBody(c)
		if we != nil {
			return req, malformed(we)
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return req, wallet.Errorf(api.CodeInvalidRequest, "the form body is malformed")
		}
		// RFC 6749 §3.2: parameters must not be included more than once.
		for name, v := range form {
			if len(v) > 1 {
				if !slices.Contains(tokenParams, name) {
					return req, wallet.Errorf(api.CodeInvalidRequest, "a parameter is repeated")
				}
				return req, wallet.Errorf(api.CodeInvalidRequest, "parameter %s is repeated", name)
			}
		}
		// RFC 6749 §3.2: a parameter without a value is treated as omitted.
		req.GrantType, req.Assertion = form.Get("grant_type"), form.Get("assertion")
		for _, params := range clientAuthParams {
			if slices.ContainsFunc(params, func(p string) bool { return form.Get(p) != "" }) {
				mechanisms++
			}
		}
	case mediaJSON:
		if we := s.decodeJSON(c, &req); we != nil {
			return req, malformed(we)
		}
	default:
		return req, wallet.Errorf(api.CodeInvalidRequest, "the request body must be %s or %s", mediaForm, mediaJSON)
	}
	if c.GetHeader("Authorization") != "" {
		mechanisms++
	}
	switch {
	case mechanisms > 1: // RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request"
		return req, wallet.Errorf(api.CodeInvalidRequest, "more than one mechanism of client authentication")
	case mechanisms == 1:
		return req, wallet.Errorf(api.CodeInvalidClient, "client authentication failed: no client is registered here; "+
			"send the device assertion as the %s grant without client credentials", grantJWTBearer)
	case req.GrantType == "":
		return req, wallet.Errorf(api.CodeInvalidRequest, "grant_type is required")
	case req.GrantType != grantJWTBearer:
		return req, wallet.Errorf(api.CodeUnsupportedGrantType, "the only grant_type is %s", grantJWTBearer)
	case req.Assertion == "":
		return req, wallet.Errorf(api.CodeInvalidRequest, "assertion is required")
	}
	return req, nil
}

// tokenError answers a refusal of the token endpoint (RFC 6749 §5.2):
// error and error_description only, the description within the characters
// the RFC allows. An invalid_client names, in WWW-Authenticate, the scheme
// the client tried (RFC 6749 §5.2: MUST when it used the Authorization
// header), else Basic, the client authentication scheme of RFC 6749
// §2.3.1.
func (s *server) tokenError(c *gin.Context, we *wallet.Error) {
	switch we.Code {
	case api.CodeInvalidRequest, api.CodeInvalidGrant, api.CodeUnsupportedGrantType, api.CodeInvalidClient,
		api.CodeRateLimited, api.CodeStorageUnavailable, api.CodeInternal:
	default:
		// The service answers the token endpoint with the codes above
		// only (wallet.Service.Token); anything else is a slip, logged
		// here and never sent.
		s.log.ErrorContext(c.Request.Context(), "token endpoint: unexpected error code", "code", string(we.Code))
		we = &wallet.Error{Code: api.CodeInternal, Message: genericInternal}
	}
	if we.Code == api.CodeInvalidClient {
		c.Header("WWW-Authenticate", authScheme(c.GetHeader("Authorization"))+` realm="eidwallet"`)
	}
	s.answerError(c, &wallet.Error{Code: we.Code, Message: oauthText(we.Message)})
}

// authScheme is the scheme of an Authorization header when it is a valid
// auth-scheme token (RFC 9110 §11.1), else Basic.
func authScheme(h string) string {
	scheme, _, _ := strings.Cut(h, " ")
	if scheme == "" || len(scheme) > 32 {
		return "Basic"
	}
	for _, r := range scheme {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return "Basic"
		}
	}
	return scheme
}

// oauthText keeps s within the characters RFC 6749 §5.2 allows in
// error_description (%x20-21 / %x23-5B / %x5D-7E): a double quote becomes
// a single one, a backslash a slash, anything else outside a question
// mark.
func oauthText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}
