package server

import (
	"net/url"
	"strings"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/qr"
)

// routes lists every route of the API: the one place to see who may call
// what (THREATS T19). docs/openapi.json describes the same set, and
// TestOpenAPIMatchesRoutes holds the two together.
//
// Each group requires its role before any handler runs; the service checks
// the role again on every call. Every GET route answers HEAD too (router).
func (s *server) routes(r router) {
	// Public: probes, metrics, the API description, issuer keys and status
	// lists (SPEC §3.5), the service's own key (§3.6), the signed trust
	// list (THREATS T37), the credential types and their SD-JWT VC type
	// metadata (issue 13), and the two ways into the holder role (§3.1).
	r.GET("/healthz", s.handleHealthz())
	r.GET("/readyz", s.handleReadyz())
	r.GET("/metrics", s.handleMetrics())
	r.GET("/openapi.json", s.handleOpenAPI())
	r.GET("/issuers/:id/jwks.json", s.handleJWKS())
	r.GET("/.well-known/jwks.json", s.handleServiceJWKS())
	r.GET("/.well-known/jwt-vc-issuer/issuers/:id", s.handleIssuerMetadata())
	if p := publicPath(s.svc.PublicURL()); p != "" {
		// SD-JWT VC §5.1: the well-known string goes between the host and
		// the path of iss, so with a public URL of a path (a proxy's
		// prefix) the metadata is asked for at the host's root with that
		// path after the well-known string.
		r.GET("/.well-known/jwt-vc-issuer"+p+"/issuers/:id", s.handleIssuerMetadata())
	}
	r.GET("/trust-list", s.handleTrustList())
	r.GET("/v1/trust-bundle", s.handleTrustBundle())
	r.GET("/status-lists/:issuer/:list", s.handleStatusList())
	r.GET("/v1/types", s.handleTypes())
	r.GET("/v1/types/:id", s.handleType())
	r.GET("/vct/:vct", s.handleTypeMetadata())
	r.POST("/v1/enrollments", s.limitByAddr(s.limits.enrollAddr), s.handleEnroll())
	r.POST("/v1/token", tokenNoCache, s.limitByAddr(s.limits.tokenAddr), s.handleToken())
	// OpenID4VP 1.0 (issue 11): what standard wallets call — the CA of the
	// verifiers' certificates, and the request URI and response URI of
	// each openid4vp request, under the address limit of verification.
	r.GET("/oid4vp/ca.pem", s.handleVerifierCA())
	r.GET("/oid4vp/requests/:token", s.limitByAddr(s.limits.verifyAddr), s.handleRequestObject())
	r.POST("/oid4vp/requests/:token", s.limitByAddr(s.limits.verifyAddr), s.handleRequestObject())
	r.POST("/oid4vp/responses/:token", s.limitByAddr(s.limits.verifyAddr), s.handleResponse())

	// Operator (admin API key).
	admin := r.Group("/v1/admin", s.authenticate(api.RoleAdmin))
	admin.POST("/issuers", s.handleCreateIssuer())
	admin.GET("/issuers", s.handleIssuers())
	admin.DELETE("/issuers/:id", s.handleRetireIssuer())
	admin.POST("/issuers/:id/keys", s.handleRotateIssuerKey())
	admin.DELETE("/issuers/:id/keys/:kid", s.handleRetireIssuerKey())
	admin.POST("/issuers/:id/api-keys", s.handleCreateIssuerAPIKey())
	admin.POST("/external-issuers", s.handleAddExternalIssuer())
	admin.GET("/external-issuers", s.handleExternalIssuers())
	admin.DELETE("/external-issuers/:id", s.handleRetireExternalIssuer())
	admin.POST("/verifiers", s.handleCreateVerifier())
	admin.GET("/verifiers", s.handleVerifiers())
	admin.DELETE("/verifiers/:id", s.handleRetireVerifier())
	admin.POST("/verifiers/:id/api-keys", s.handleCreateVerifierAPIKey())
	admin.PUT("/verifiers/:id/webhook", s.handleSetVerifierWebhook())
	admin.PUT("/verifiers/:id/certificate", s.handleImportVerifierCertificate())
	admin.PUT("/verifiers/:id/origins", s.handleSetVerifierOrigins())
	admin.GET("/api-keys", s.handleAPIKeys())
	admin.DELETE("/api-keys/:id", s.handleRevokeAPIKey())
	admin.POST("/activation-codes", s.handleCreateActivationCode())
	// Usage statistics for the agency (issue 13): aggregates only, small
	// counts suppressed (stats.go).
	admin.GET("/stats", s.handleStats())
	// A copy of the embedded store while it serves (operations.md).
	admin.GET("/backup", s.handleBackup())

	// Issuing authorities (issuer API key). The bulk route has a literal
	// colon inside its last segment (AIP-136 custom-method style); gin
	// takes `\:` as a plain ':' and matches it after its first request.
	issuer := r.Group("/v1/issuer", s.authenticate(api.RoleIssuer))
	issuer.POST("/credentials", s.handleIssue())
	issuer.GET("/credentials", s.handleIssuedCredentials())
	// A citizen's credentials, the number in the body: a query string
	// would carry it into proxies' logs.
	issuer.POST(`/credentials\:search`, s.handleIssuedToCitizen())
	issuer.GET("/credentials/:id", s.handleIssuedCredential())
	issuer.POST(`/credentials\:bulk`, s.handleIssueBulk())
	issuer.POST("/credentials/:id/status", s.handleSetStatus())

	// Citizens (access token of an enrolled device).
	holder := r.Group("/v1/me", s.authenticate(api.RoleHolder))
	holder.GET("/credentials", s.handleCredentials())
	holder.GET("/credentials/:id", s.handleCredential())
	holder.POST("/credentials/:id/export", s.handleExportCredential())
	holder.GET("/devices", s.handleDevices())
	holder.DELETE("/devices/:id", s.handleRevokeDevice())
	// The calling device's pool of one-time keys for batch copies (issue 12).
	holder.GET("/device/keys", s.handleDeviceKeys())
	holder.POST("/device/keys", s.handleRegisterDeviceKeys())
	holder.POST("/shares", s.limitByPrincipal(s.limits.shareHolder), s.handleCreateShare())
	holder.GET("/shares", s.handleShares())
	holder.GET("/shares/:id", s.handleShare())
	holder.POST("/shares/:id/approve", s.handleApproveShare())
	holder.DELETE("/shares/:id", s.handleCancelShare())
	holder.GET("/shares/:id/qr.png", s.handleQR("image/png", qr.PNG, s.svc.ShareQR))
	holder.GET("/shares/:id/qr.svg", s.handleQR("image/svg+xml", qr.SVG, s.svc.ShareQR))
	holder.GET("/activity", s.handleActivity())
	// Requests started by verifiers (§3.4): a presence code for staff to
	// scan; the requests waiting for an answer by long-poll or server-sent
	// events; a scanned EIDR1: code resolved (the same custom-method colon
	// as :bulk); then prepare, approve or decline.
	holder.POST("/presence", s.limitByPrincipal(s.limits.presenceHolder), s.handleCreatePresence())
	holder.GET("/requests", s.handleHolderRequests())
	holder.GET("/requests/events", s.handleHolderRequestEvents())
	// Resolving may fetch a standard verifier's request object: under the
	// share quota, so one token cannot make the service a request cannon.
	holder.POST(`/requests\:resolve`, s.limitByPrincipal(s.limits.shareHolder), s.handleResolveRequest())
	holder.GET("/requests/:id", s.handleHolderRequest())
	holder.POST("/requests/:id/prepare", s.handlePrepareRequest())
	holder.POST("/requests/:id/approve", s.handleApproveRequest())
	holder.POST("/requests/:id/decline", s.handleDeclineRequest())

	// Relying parties (verifier API key). The address limit runs before
	// authentication, so a flood costs no key lookups (THREATS T23).
	// Pages of the origins an operator allowed per verifier may call them
	// (CORS, cors.go).
	r.POST("/v1/verify", s.limitByAddr(s.limits.verifyAddr), s.authenticateDeferred(api.RoleVerifier), s.allowOrigin(),
		s.limitByPrincipal(s.limits.verifyKey), s.handleVerify())
	verifier := r.Group("/v1/verifier", s.authenticate(api.RoleVerifier), s.allowOrigin())
	verifier.GET("/verifications", s.handleVerifications())
	// What a counter verified offline, uploaded when back online (issue 12).
	verifier.POST("/offline-verifications", s.limitByPrincipal(s.limits.verifyKey), s.handleOfflineVerifications())
	// Requests (§3.4): made per API key under a limit; the answer by
	// long-poll, server-sent events (or the verifier's webhook); the QR of
	// a request to show.
	verifier.POST("/requests", s.limitByPrincipal(s.limits.requestKey), s.handleCreateRequest())
	verifier.GET("/requests/:id", s.handleVerifierRequest())
	verifier.GET("/requests/:id/events", s.handleVerifierRequestEvents())
	verifier.GET("/requests/:id/qr.png", s.handleQR("image/png", qr.PNG, s.svc.RequestQR))
	verifier.GET("/requests/:id/qr.svg", s.handleQR("image/svg+xml", qr.SVG, s.svc.RequestQR))
}

// publicPath is the path of the public URL u without its trailing slash,
// when it has one made only of letters, digits and "/._-" (a route then);
// "" otherwise.
func publicPath(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return ""
	}
	p := strings.TrimSuffix(parsed.Path, "/")
	if p == "" || strings.Contains(p, "//") || strings.ContainsFunc(p, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-", r))
	}) {
		return ""
	}
	return p
}
