package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxWait is the longest long-poll (SPEC §3.4): a wait asked for beyond it
// is cut to it.
const MaxWait = 60 * time.Second

// Role is who a caller is (SPEC §2): each route is for one role.
type Role string

const (
	RoleAdmin    Role = "admin"
	RoleIssuer   Role = "issuer"
	RoleVerifier Role = "verifier"
	RoleHolder   Role = "holder"
)

// Credential status values (the API's words for Token Status List 0, 1, 2).
const (
	StatusValid     = "valid"
	StatusRevoked   = "revoked"
	StatusSuspended = "suspended"
)

// Share states (SPEC §3.3).
const (
	SharePending   = "pending_approval"
	ShareActive    = "active"
	ShareRedeemed  = "redeemed"
	ShareCancelled = "cancelled"
	// ShareExpired is shown for an active or pending share past its time;
	// it is never stored.
	ShareExpired = "expired"
)

// Request states (SPEC §3.4): created → delivered → approved | declined,
// or expired when its time runs out first. Each transition happens once.
const (
	RequestCreated   = "created"
	RequestDelivered = "delivered"
	RequestApproved  = "approved"
	RequestDeclined  = "declined"
	RequestExpired   = "expired" // shown, never stored
)

// ActivityEntry is one event in a holder's hash-chained log (SPEC §3.6).
// It names claims, never their values.
type ActivityEntry struct {
	Seq          uint64    `json:"seq"`
	HolderID     string    `json:"holder_id"`
	At           time.Time `json:"at"`
	Event        string    `json:"event"`
	Outcome      string    `json:"outcome"`
	VerifierID   string    `json:"verifier_id,omitempty"`
	IssuerID     string    `json:"issuer_id,omitempty"`
	CredentialID string    `json:"credential_id,omitempty"`
	ShareID      string    `json:"share_id,omitempty"`
	DeviceID     string    `json:"device_id,omitempty"`
	Claims       []string  `json:"claims,omitempty"`
	Prev         string    `json:"prev"` // hash of the previous entry ("" for the first)
	Hash         string    `json:"hash"`
}

// Verification is one entry of a verifier's own log.
type Verification struct {
	Seq        uint64    `json:"seq"`
	VerifierID string    `json:"verifier_id"`
	At         time.Time `json:"at"`
	ShareID    string    `json:"share_id,omitempty"`
	RequestID  string    `json:"request_id,omitempty"` // a request's entries: made, answered, refused
	Result     string    `json:"result"`               // valid or the error code
	Reason     string    `json:"reason,omitempty"`
	Types      []string  `json:"types,omitempty"`
	Claims     []string  `json:"claims,omitempty"`
}

// Code is the transport-neutral error code: the `error` member of SPEC §5.
// The server maps each code to an HTTP status in exactly one table.
type Code string

const (
	CodeInvalidRequest     Code = "invalid_request"
	CodeUnauthenticated    Code = "unauthenticated"
	CodeForbidden          Code = "forbidden"
	CodeNotFound           Code = "not_found"
	CodeMethodNotAllowed   Code = "method_not_allowed" // the server's routing: a path asked with a method it does not take
	CodeAlreadyRedeemed    Code = "share_already_redeemed"
	CodeReplay             Code = "replay_detected"
	CodeConflict           Code = "conflict"
	CodeShareExpired       Code = "share_expired"
	CodeShareCancelled     Code = "share_cancelled"
	CodeTooLarge           Code = "payload_too_large"
	CodeUnsupportedMedia   Code = "unsupported_media_type"
	CodeVerificationFailed Code = "verification_failed"
	CodeRateLimited        Code = "rate_limited"
	CodeStatusUnavailable  Code = "status_unavailable"
	CodeStorageUnavailable Code = "storage_unavailable"
	CodeInternal           Code = "server_error"
	// CodeIdempotencyReused is an Idempotency-Key sent again with another
	// request (draft-ietf-httpapi-idempotency-key-header §2.7: 422).
	CodeIdempotencyReused Code = "idempotency_key_reused"
)

// The OAuth 2.0 token endpoint's own codes (RFC 6749 §5.2, RFC 7523 §3.1),
// answered by POST /v1/token alone, so that OAuth libraries understand its
// refusals; it shares invalid_request with SPEC §5. Every other route
// answers the codes above.
const (
	CodeInvalidGrant         Code = "invalid_grant"          // 400: the assertion does not verify, is expired, misdirected, replayed, or names an unknown or revoked device
	CodeUnsupportedGrantType Code = "unsupported_grant_type" // 400: a grant_type other than RFC 7523's jwt-bearer
	CodeInvalidClient        Code = "invalid_client"         // 401: the request tried client authentication, which no client here has
)

// Reasons the service adds to those of credentials (SPEC §5, THREATS).
const (
	ReasonAudienceMismatch    = "audience_mismatch"     // 403: a share bound to another verifier (T14)
	ReasonClaimsNotRegistered = "claims_not_registered" // 403: a share holding claims the verifier is not registered for (T35)
	ReasonDeviceRevoked       = "device_revoked"        // 422: the approving device was revoked after the approval (T33)
)

// Activity events (SPEC §3.6).
const (
	EventCredentialIssued = "credential_issued"
	EventCredentialStatus = "credential_status_changed"
	EventDeviceEnrolled   = "device_enrolled"
	EventDeviceRevoked    = "device_revoked"
	EventShareApproved    = "share_approved"
	EventShareCancelled   = "share_cancelled"
	EventShareRedeemed    = "share_redeemed"
	EventShareRefused     = "share_refused" // a verifier the share is not for tried it (403); outcome is the reason
)

// TypActivityCheckpoint is the typ of the checkpoint JWS that ends an export
// (SPEC §3.6). No other JWS the service key signs has it.
const TypActivityCheckpoint = "activity-checkpoint+jwt"

// ActivityCheckpoint is the payload of the checkpoint: the service key
// attests that holder sub's log, as of iat, is count entries whose last
// hash is head ("" for an empty log). With the chain it lets anyone prove
// that the export came from the service and that no entry was dropped from
// its end (THREATS T29).
type ActivityCheckpoint struct {
	Iss   string `json:"iss"` // the service's public URL
	Sub   string `json:"sub"` // the holder id
	Count int    `json:"count"`
	Head  string `json:"head"`
	Iat   int64  `json:"iat"`
}

// Activity and verifier-log events of requests (issue 4: both sides'
// logs record requests, approvals and declines, claim names only).
const (
	EventRequestReceived = "request_received"
	EventRequestApproved = "request_approved"
	EventRequestDeclined = "request_declined"
	// EventCredentialExported: the holder took its own copy of a
	// credential, bound to one of its devices (issue 11).
	EventCredentialExported = "credential_exported"
	// EventCompactReused: an offline code of the holder's was used at
	// two verifiers (issue 12); the outcome names the second.
	EventCompactReused = "offline_code_reused"
)

// SignatureHeader carries a webhook's signature: t=<unix seconds>,
// v1=<hex HMAC-SHA256(secret, "<t>." ‖ body)>. The timestamp inside the MAC
// lets a receiver refuse replays of old deliveries.
const SignatureHeader = "Eidwallet-Signature"

// WebhookIDHeader carries a delivery's id: the same on every attempt of
// one delivery (and one delivery per decided request), so a receiver that
// sees an id twice, as it may when a replica died after posting, can
// ignore the second.
const WebhookIDHeader = "Webhook-Id"

// SignWebhook is the SignatureHeader value for body at t.
func SignWebhook(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// VerifyWebhook checks a delivery as a receiver should: the HMAC over the
// timestamp and the exact body, in constant time, and a timestamp within
// tolerance of now.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("webhook: malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: timestamp %s off by more than %s", ts, tolerance)
	}
	want := SignWebhook(secret, time.Unix(sec, 0), body)
	if !hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig)) {
		return errors.New("webhook: signature does not match")
	}
	return nil
}

// Events lists the event names of the activity log (SPEC §3.6), in the
// order docs/openapi.json lists them. The description's ActivityEntry
// enum is held to this list (server.TestOpenAPIMatchesRoutes), so a new
// event is one line here and one in the enum.
func Events() []string {
	return []string{
		EventCredentialIssued,
		EventCredentialStatus,
		EventDeviceEnrolled,
		EventDeviceRevoked,
		EventShareApproved,
		EventShareCancelled,
		EventShareRedeemed,
		EventShareRefused,
		EventRequestReceived,
		EventRequestApproved,
		EventRequestDeclined,
		EventCredentialExported,
		EventCompactReused,
	}
}
