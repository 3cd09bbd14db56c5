// Package api is the vocabulary of the eidwallet HTTP API (SPEC §3, §5):
// the requests and answers, the error body's codes, the states and event
// names a client sees, and the webhook signature. It imports only the
// standard library, so that an integrator's client depends on the wire
// format alone; the server, the domain (package wallet) and the Go client
// all speak it.
package api

import (
	"encoding/json"
	"time"
)

// TimeLayout is the one form of a time in an answer: RFC 3339 in UTC with
// exactly three fractional digits, "2026-03-01T08:30:00.000Z". Requests
// may give any RFC 3339 time with upper-case T and Z (RFC 3339 §5.6 lets
// a specification require them).
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Requests and answers of the API (SPEC §3). The server decodes requests
// into these types (unknown members refused) and encodes answers from them;
// the client package uses the same types. Service methods that list return
// an empty slice, never nil, so an empty list is [] on the wire.

// CreateIssuerRequest is POST /v1/admin/issuers.
type CreateIssuerRequest struct {
	ID    string   `json:"issuer_id"`
	Name  string   `json:"name"`
	Types []string `json:"types"`
}

// IssuerView is an issuer as the admin API shows it (no private keys).
type IssuerView struct {
	ID      string     `json:"issuer_id"`
	Name    string     `json:"name"`
	Types   []string   `json:"types"`
	Iss     string     `json:"iss"` // the iss of its credentials
	JWKSURI string     `json:"jwks_uri"`
	Keys    []KeyView  `json:"keys"`
	Created time.Time  `json:"created_at"`
	Retired *time.Time `json:"retired_at,omitempty"`
}

// KeyView is one issuer key.
type KeyView struct {
	Kid     string     `json:"kid"`
	Active  bool       `json:"active"`
	Created time.Time  `json:"created_at"`
	Retired *time.Time `json:"retired_at,omitempty"`
}

// CreateVerifierRequest is POST /v1/admin/verifiers.
type CreateVerifierRequest struct {
	ID       string              `json:"verifier_id,omitempty"` // optional slug; generated when empty
	Name     string              `json:"name"`
	Category string              `json:"category"`
	Claims   map[string][]string `json:"claims"` // credential type id → claim names
}

// VerifierView is a verifier as the admin API shows it.
type VerifierView struct {
	ID       string              `json:"verifier_id"`
	Name     string              `json:"name"`
	Category string              `json:"category"`
	Claims   map[string][]string `json:"claims"`
	Created  time.Time           `json:"created_at"`
	APIKey   *NewAPIKey          `json:"api_key,omitempty"` // only in the creation answer
	// Origins whose pages may call the verifier routes (CORS).
	Origins []string   `json:"origins,omitempty"`
	Retired *time.Time `json:"retired_at,omitempty"`
}

// NewAPIKey is an API key, shown once: only its hash is kept.
type NewAPIKey struct {
	ID    string `json:"key_id"`
	Key   string `json:"key"`
	Role  Role   `json:"role"`
	Owner string `json:"owner"`
}

// APIKeyView is an API key as GET /v1/admin/api-keys lists it: never the
// key itself, which the service keeps only hashed.
type APIKeyView struct {
	ID      string     `json:"key_id"`
	Role    Role       `json:"role"`
	Owner   string     `json:"owner"`
	Created time.Time  `json:"created_at"`
	Revoked *time.Time `json:"revoked_at,omitempty"`
}

// ActivationCodeRequest is POST /v1/admin/activation-codes.
type ActivationCodeRequest struct {
	CitizenID string `json:"citizen_id"`
}

// ActivationCodeResponse carries the one-time code (SPEC §3.1).
type ActivationCodeResponse struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// EnrollRequest is POST /v1/enrollments.
type EnrollRequest struct {
	CitizenID      string  `json:"citizen_id"`
	ActivationCode string  `json:"activation_code"`
	DeviceKey      RawJSON `json:"device_key"` // public JWK
	DeviceName     string  `json:"device_name"`
}

// RawJSON is a JSON value carried as its bytes (a JWK), as encoding/json's
// RawMessage is, for any JSON library.
type RawJSON []byte

// MarshalJSON writes the value as it is (null when empty).
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON keeps a copy of the value.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

// EnrollResponse identifies the new device and says which credentials it
// got a copy of; expired, revoked and suspended ones are skipped.
type EnrollResponse struct {
	HolderID string              `json:"holder_id"`
	DeviceID string              `json:"device_id"`
	Bound    []string            `json:"credentials_bound"` // credential ids
	Skipped  []SkippedCredential `json:"credentials_skipped"`
}

// SkippedCredential is a credential enrolment did not bind, with why:
// credential_expired, credential_revoked or credential_suspended.
type SkippedCredential struct {
	CredentialID string `json:"credential_id"`
	Type         string `json:"type"`
	Reason       string `json:"reason"`
}

// TokenResponse is the answer of POST /v1/token (RFC 6749 §5.1 shape).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// DeviceView is one of the holder's devices.
type DeviceView struct {
	ID      string     `json:"device_id"`
	Name    string     `json:"name"`
	Created time.Time  `json:"created_at"`
	Revoked *time.Time `json:"revoked_at,omitempty"`
	Current bool       `json:"current"`
}

// CredentialType is a credential type as GET /v1/types lists it: its
// names, where its SD-JWT VC Type Metadata is (the labels of its claims in
// each language, which are selectively disclosable), and the claims an
// issuer sends for it as a JSON Schema (2020-12) object: properties with
// their types and formats, required, additionalProperties false, the
// claims the service derives marked readOnly (never sent by an issuer).
type CredentialType struct {
	ID          string         `json:"type"`
	VCT         string         `json:"vct"`
	Name        string         `json:"name"` // for developers, in English
	Display     []TypeDisplay  `json:"display"`
	MetadataURI string         `json:"metadata_uri,omitempty"` // none: a vct that is no URL and not served here
	Schema      map[string]any `json:"schema"`
}

// TypeDisplay is a type's name for end users in one language (an RFC 5646
// tag), as its type metadata's display has it.
type TypeDisplay struct {
	Locale      string `json:"locale"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// CredentialTypes is GET /v1/types, ordered by id.
type CredentialTypes struct {
	Types []CredentialType `json:"types"`
}

// IssueRequest is POST /v1/issuer/credentials and one line of the bulk form.
type IssueRequest struct {
	CitizenID string         `json:"citizen_id"`
	Type      string         `json:"type"`
	Claims    map[string]any `json:"claims"`
	ExpiresAt time.Time      `json:"expires_at"`
	// ValidUntil is expires_at under the name SPEC §3.2 gives it, still
	// accepted in a request (one of the two, not both); no answer carries
	// it.
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	// IdempotencyKey makes a retry return the first answer instead of a
	// second credential: a bulk line's own, or the Idempotency-Key
	// header of a single issuance.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Expiry is when the credential r asks for expires: expires_at, or
// valid_until when that is the one given.
func (r *IssueRequest) Expiry() time.Time {
	if r.ValidUntil != nil {
		return *r.ValidUntil
	}
	return r.ExpiresAt
}

// OriginsRequest is PUT /v1/admin/verifiers/{id}/origins: the web
// origins (scheme://host[:port]) whose pages may call the verifier routes
// with the verifier's keys (CORS); empty: none.
type OriginsRequest struct {
	Origins []string `json:"origins"`
}

// IdempotencyKeyHeader is the header that makes issuance and share
// creation safe to retry (draft-ietf-httpapi-idempotency-key-header).
const IdempotencyKeyHeader = "Idempotency-Key"

// IssueResponse is the answer for one issued credential.
type IssueResponse struct {
	CredentialID string `json:"credential_id"`
	StatusIndex  int    `json:"status_index"`
	StatusList   string `json:"status_list"` // its URI
}

// CredentialSearch is POST /v1/issuer/credentials:search: a citizen's
// credentials from the calling issuer.
type CredentialSearch struct {
	CitizenID string `json:"citizen_id"`
}

// IssuedCredential is one of an issuer's own credentials as it looks it
// up: GET /v1/issuer/credentials/{id}, or by citizen (CredentialSearch).
type IssuedCredential struct {
	CredentialID string    `json:"credential_id"`
	Type         string    `json:"type"`
	Status       string    `json:"status"`
	IssuedAt     time.Time `json:"issued_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	StatusList   string    `json:"status_list"` // its URI
	StatusIndex  int       `json:"status_index"`
}

// BulkResult is one line of the bulk answer: the line number and either the
// credential or the error.
type BulkResult struct {
	Line int `json:"line"`
	*IssueResponse
	Error            Code   `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
	Reason           string `json:"reason,omitempty"`
}

// StatusRequest is POST /v1/issuer/credentials/{id}/status.
type StatusRequest struct {
	Status string `json:"status"` // valid, revoked, suspended
	Reason string `json:"reason,omitempty"`
}

// StatusResponse is the credential's new status.
type StatusResponse struct {
	CredentialID string `json:"credential_id"`
	Status       string `json:"status"`
}

// CredentialView is a credential as its holder sees it.
type CredentialView struct {
	ID        string         `json:"credential_id"`
	Type      string         `json:"type"`
	TypeName  string         `json:"type_name"`
	Issuer    Party          `json:"issuer"`
	Status    string         `json:"status"`
	IssuedAt  time.Time      `json:"issued_at"`
	ExpiresAt time.Time      `json:"expires_at"`
	Claims    map[string]any `json:"claims"`
}

// Party names an issuer or a verifier.
type Party struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ShareRequest is POST /v1/me/shares.
type ShareRequest struct {
	Items      []ShareRequestItem `json:"items"`
	TTLSeconds int                `json:"ttl_seconds,omitempty"` // default 60, at most 300
	MaxUses    int                `json:"max_uses,omitempty"`    // default 1
	VerifierID string             `json:"verifier_id,omitempty"`
	// Offline asks, besides the EID1: code, for a compact signed code
	// (EIDC1:) that a counter verifies with no network (issue 12): one
	// item, no portrait, for any verifier, valid 120 s at most.
	Offline bool `json:"offline,omitempty"`
	// IdempotencyKey, or the Idempotency-Key header: a retry returns the
	// share first created.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// ShareRequestItem chooses claims of one credential.
type ShareRequestItem struct {
	CredentialID string   `json:"credential_id"`
	Claims       []string `json:"claims"`
}

// ShareCreated is the answer to ShareRequest: what the device must sign,
// and for the consent screen, who could redeem the share (SPEC §3.7).
type ShareCreated struct {
	ShareID      string          `json:"share_id"`
	Status       string          `json:"status"`
	ToSign       []ToSign        `json:"to_sign"`
	RedeemableBy []VerifierParty `json:"redeemable_by"`
	// RedeemableByCount is how many could: RedeemableBy names at most 50.
	RedeemableByCount int `json:"redeemable_by_count"`
}

// ToSign is one presentation awaiting the holder's KB-JWT.
type ToSign struct {
	CredentialID string `json:"credential_id"`
	Presentation string `json:"presentation"`
	Aud          string `json:"aud"`
	Nonce        string `json:"nonce"`
	SDHash       string `json:"sd_hash"`
	// KeyThumbprint is the RFC 7638 thumbprint of the key whose private
	// key must sign this KB-JWT: the device key, or one of its pool keys
	// (a batch copy, issue 12), spent once the item is approved.
	KeyThumbprint string `json:"key_thumbprint"`
}

// DeviceKeysRequest is POST /v1/me/device/keys: one-time public keys
// (P-256 JWKs) for the calling device's pool, each to be bound to one
// batch copy of a credential.
type DeviceKeysRequest struct {
	Keys []RawJSON `json:"keys"`
}

// DeviceKeysView is the calling device's key pool: the answer of GET and
// POST /v1/me/device/keys.
type DeviceKeysView struct {
	Free      int `json:"free"`       // registered, not yet bound to a copy
	Copies    int `json:"copies"`     // unused batch copies held, all credentials
	Wanted    int `json:"wanted"`     // keys the service asks the device to register now
	BatchSize int `json:"batch_size"` // copies kept per credential
}

// ApproveRequest is POST /v1/me/shares/{id}/approve: one KB-JWT per item.
type ApproveRequest struct {
	KBJWTs []string `json:"kb_jwts"`
}

// ShareView is a share as its holder sees it.
type ShareView struct {
	ShareID string `json:"share_id"`
	Status  string `json:"status"`
	QRText  string `json:"qr_text,omitempty"`
	// OfflineQRText is the EIDC1: code of an offline share, until it
	// expires (OfflineExpiresAt).
	OfflineQRText    string          `json:"offline_qr_text,omitempty"`
	OfflineExpiresAt *time.Time      `json:"offline_expires_at,omitempty"`
	ExpiresAt        time.Time       `json:"expires_at"`
	VerifierID       string          `json:"verifier_id,omitempty"`
	MaxUses          int             `json:"max_uses"`
	Uses             int             `json:"uses"`
	Items            []ShareViewItem `json:"items,omitempty"`
	Created          time.Time       `json:"created_at"`
}

// ShareViewItem names what a share carries.
type ShareViewItem struct {
	CredentialID string   `json:"credential_id"`
	Type         string   `json:"type"`
	Claims       []string `json:"claims"`
}

// VerifyRequest is POST /v1/verify.
type VerifyRequest struct {
	QR string `json:"qr"`
}

// VerifyResponse is the verifier's answer (SPEC §3.3 step 4).
type VerifyResponse struct {
	Result     string     `json:"result"`
	ShareID    string     `json:"share_id"`
	VerifiedAt time.Time  `json:"verified_at"`
	Verifier   Party      `json:"verifier"`
	Documents  []Document `json:"documents"`
}

// Document is one verified credential in a VerifyResponse.
type Document struct {
	Type          string         `json:"type"`
	Issuer        Party          `json:"issuer"`
	IssuedAt      time.Time      `json:"issued_at"`
	ExpiresAt     time.Time      `json:"expires_at"`
	Status        string         `json:"status"`
	HolderBinding string         `json:"holder_binding"`
	KeyBinding    KeyBinding     `json:"key_binding"`
	Claims        map[string]any `json:"claims"`
	Presentation  string         `json:"presentation"`

	// raw is the document's JSON as sealed at approval; a redemption
	// answers with it as is instead of decoding and encoding it again.
	raw []byte
}

// SealedDocument is a Document whose JSON is raw, written out unchanged:
// the service answers a redemption with the document it verified and
// sealed at approval, without decoding and encoding it again.
func SealedDocument(raw []byte) Document { return Document{raw: raw} }

// MarshalJSON writes the stored JSON of a redeemed document unchanged,
// and any other document with its times in TimeLayout (after its other
// members: encoding/json lists the outer struct's fields last).
func (d Document) MarshalJSON() ([]byte, error) {
	if d.raw != nil {
		return d.raw, nil
	}
	type plain Document
	return json.Marshal(struct {
		plain
		IssuedAt  string `json:"issued_at"`
		ExpiresAt string `json:"expires_at"`
	}{plain(d), d.IssuedAt.UTC().Format(TimeLayout), d.ExpiresAt.UTC().Format(TimeLayout)})
}

// KeyBinding is the audience and nonce the holder's KB-JWT was bound to.
type KeyBinding struct {
	Aud   string `json:"aud"`
	Nonce string `json:"nonce"`
}

// ActivityResponse is GET /v1/me/activity; with export, the whole chain
// oldest first, the result of checking it and, last, the checkpoint: a JWS
// (typ TypActivityCheckpoint, payload ActivityCheckpoint) signed with the
// service key of /.well-known/jwks.json, absent when the chain is broken.
type ActivityResponse struct {
	Entries    []*ActivityEntry `json:"entries"`
	ChainValid *bool            `json:"chain_valid,omitempty"`
	Checkpoint string           `json:"checkpoint,omitempty"`
	NextCursor string           `json:"next_cursor,omitempty"` // a page's (page.go); never an export's
}

// VerificationsResponse is GET /v1/verifier/verifications, newest first.
type VerificationsResponse struct {
	Entries    []*Verification `json:"entries"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// CreateRequestRequest is POST /v1/verifier/requests (SPEC §3.4): the
// claims asked for, by credential type, a purpose shown to the citizen,
// and either nothing (the verifier shows an EIDR1: QR) or the EIDP1: text
// of a holder's presence QR the staff scanned.
//
// With Protocol "openid4vp" it is an OpenID4VP 1.0 request instead, that
// any standard wallet can answer: the claims, or a DCQL query, asked for
// with the client identifier prefix and response mode given (defaults
// x509_san_dns and direct_post.jwt, as HAIP 1.0 has them).
type CreateRequestRequest struct {
	Claims     map[string][]string `json:"claims,omitempty"`
	Purpose    string              `json:"purpose"`
	TTLSeconds int                 `json:"ttl_seconds,omitempty"` // default 120, at most 600
	Presence   string              `json:"presence,omitempty"`

	Protocol       string          `json:"protocol,omitempty"`         // "" (EIDR1:) or ProtocolOpenID4VP
	DCQLQuery      json.RawMessage `json:"dcql_query,omitempty"`       // instead of claims, openid4vp only
	ClientIDPrefix string          `json:"client_id_prefix,omitempty"` // x509_san_dns, x509_hash or redirect_uri
	ResponseMode   string          `json:"response_mode,omitempty"`    // direct_post.jwt or direct_post
}

// CreateRequestResponse answers CreateRequestRequest.
type CreateRequestResponse struct {
	RequestID string    `json:"request_id"`
	Status    string    `json:"status"`
	QRText    string    `json:"qr_text,omitempty"` // EIDR1:…, for a verifier-shown request
	ExpiresAt time.Time `json:"expires_at"`
	// Nonce is the request's: every KB-JWT answering it carries it, so the
	// verifier can check the presentations on its own.
	Nonce string `json:"nonce"`
	// For openid4vp: QRText is the openid4vp:// link, HAIPLink the same
	// request as haip-vp:// when HAIP allows it (x509_hash, direct_post.jwt),
	// ClientID the client identifier every KB-JWT
	// answering it has as aud, RequestURI where wallets fetch the signed
	// request object.
	HAIPLink   string `json:"haip_link,omitempty"`
	ClientID   string `json:"client_id,omitempty"`
	RequestURI string `json:"request_uri,omitempty"`
}

// CredentialExport is POST /v1/me/credentials/{id}/export: the SD-JWT VC
// as issued to the calling device, with every disclosure, for a standard
// wallet app to hold and present (issue 11).
type CredentialExport struct {
	CredentialID string `json:"credential_id"`
	Type         string `json:"type"`
	SDJWT        string `json:"sd_jwt"`
}

// ExternalIssuerRequest is POST /v1/admin/external-issuers: an issuer
// hosted elsewhere, trusted for the credential types named (issue 11). Its
// keys come from its SD-JWT VC issuer metadata
// (<host>/.well-known/jwt-vc-issuer<path of issuer>), or from jwks_uri when
// given; never from a credential.
type ExternalIssuerRequest struct {
	ID      string   `json:"issuer_id"`
	Issuer  string   `json:"issuer"`
	JWKSURI string   `json:"jwks_uri,omitempty"`
	Types   []string `json:"types"`
}

// ExternalIssuerView is an external issuer as the admin API shows it: its
// key ids as last fetched, when, when next, and the last failure.
type ExternalIssuerView struct {
	ID        string     `json:"issuer_id"`
	Issuer    string     `json:"issuer"`
	JWKSURI   string     `json:"jwks_uri,omitempty"`
	Types     []string   `json:"types"`
	Kids      []string   `json:"kids"`
	Fetched   time.Time  `json:"fetched_at"`
	Due       time.Time  `json:"due_at"`
	LastError string     `json:"last_error,omitempty"`
	Created   time.Time  `json:"created_at"`
	Retired   *time.Time `json:"retired_at,omitempty"`
}

// VerifierCertificateRequest is PUT /v1/admin/verifiers/{id}/certificate:
// a certificate the operator had issued to a verifier elsewhere (an
// imported one, instead of the service's verifier CA), PEM: the leaf
// first, then intermediates; and its P-256 key, PEM (PKCS #8 or SEC 1).
type VerifierCertificateRequest struct {
	CertificateChain string `json:"certificate_chain"`
	PrivateKey       string `json:"private_key"`
}

// VerifierCertificateView describes a verifier's certificate.
type VerifierCertificateView struct {
	VerifierID string    `json:"verifier_id"`
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	DNSNames   []string  `json:"dns_names"`
	ExpiresAt  time.Time `json:"expires_at"`
	Imported   bool      `json:"imported"`
	// X509Hash is the verifier's x509_hash client identifier.
	X509Hash string `json:"x509_hash"`
}

// OfflineVerifications is POST /v1/verifier/offline-verifications: what
// a counter verified with no network, uploaded when it is back online
// (issue 12): at most 500 at a time (what fits in 64 KiB).
type OfflineVerifications struct {
	Verifications []OfflineVerification `json:"verifications"`
}

// OfflineVerification is one code verified offline.
type OfflineVerification struct {
	CTI        string    `json:"cti"` // base64url, as the code carries it
	VerifiedAt time.Time `json:"verified_at"`
	Result     string    `json:"result"` // valid, or the offline reason
	Type       string    `json:"type,omitempty"`
}

// OfflineUploadResult answers OfflineVerifications: how many were taken,
// and the codes already used at another verifier (both logs and the
// holder's activity say so).
type OfflineUploadResult struct {
	Accepted int      `json:"accepted"`
	Flagged  []string `json:"flagged"`
}

// ProtocolOpenID4VP is CreateRequestRequest.Protocol for an OpenID4VP 1.0
// request.
const ProtocolOpenID4VP = "openid4vp"

// OpenID4VPAnswer is what the response URI of an OpenID4VP request answers
// a wallet that posted a response it accepted (OpenID4VP 1.0 §8.2).
type OpenID4VPAnswer struct {
	RedirectURI string `json:"redirect_uri,omitempty"`
}

// RequestedClaim is one claim of a request as the citizen sees it, flagged
// when it is outside what the verifier is registered to ask for.
type RequestedClaim struct {
	Type       string `json:"type"`
	Claim      string `json:"claim"`
	Registered bool   `json:"registered"`
	// CredentialID is, for an OpenID4VP request, the credential that
	// answers the claim.
	CredentialID string `json:"credential_id,omitempty"`
}

// VerifierParty names a verifier to a citizen.
type VerifierParty struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Category string `json:"category"`
}

// RequestView is a request as its holder sees it.
type RequestView struct {
	RequestID string           `json:"request_id"`
	Status    string           `json:"status"`
	Verifier  VerifierParty    `json:"verifier"`
	Purpose   string           `json:"purpose"`
	Claims    []RequestedClaim `json:"claims"`
	Created   time.Time        `json:"created_at"`
	ExpiresAt time.Time        `json:"expires_at"`

	// For a standard verifier's OpenID4VP request (issue 11): the
	// protocol, its client identifier (the verifier's id above), whether
	// its request object was signed by a certificate of a trusted CA
	// (false: a redirect_uri client, shown as unverified), the credential
	// queries no credential of the holder answers (then the request can
	// only be declined), and, once approved, where the verifier asked the
	// app to go next.
	Protocol    string   `json:"protocol,omitempty"`
	Verified    *bool    `json:"verified,omitempty"`
	Unsatisfied []string `json:"unsatisfied,omitempty"`
	RedirectURI string   `json:"redirect_uri,omitempty"`
}

// ResolveRequest is POST /v1/me/requests:resolve: the scanned EIDR1:
// text, or an OpenID4VP request link (openid4vp://, haip-vp:// or
// https://) of any standard verifier.
type ResolveRequest struct {
	QR string `json:"qr"`
}

// PrepareRequest chooses what answers a request: at most the claims asked.
type PrepareRequest struct {
	Items []ShareRequestItem `json:"items"`
}

// RequestPrepared is what the device must sign (aud: the verifier's id;
// nonce: the request's).
type RequestPrepared struct {
	RequestID string   `json:"request_id"`
	ToSign    []ToSign `json:"to_sign"`
}

// RequestResult is the verifier's view of its request, and the body of the
// webhook: with the documents once approved (the same shape as POST
// /v1/verify answers), never more than the approved claims.
type RequestResult struct {
	RequestID string          `json:"request_id"`
	Status    string          `json:"status"`
	ExpiresAt time.Time       `json:"expires_at"`
	Nonce     string          `json:"nonce"`
	Result    *VerifyResponse `json:"result,omitempty"`
}

// PresenceResponse carries a holder's presence QR (EIDP1:, no data).
type PresenceResponse struct {
	QRText    string    `json:"qr_text"`
	ExpiresAt time.Time `json:"expires_at"`
}

// WebhookRequest is PUT /v1/admin/verifiers/{id}/webhook.
type WebhookRequest struct {
	URL *string `json:"url"` // required: https to a public unicast address (loopback only in development mode); "" removes it
}

// WebhookResponse carries the new signing secret, shown once.
type WebhookResponse struct {
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
}
