// Package wallet is the domain of the e-ID wallet service: issuers,
// verifiers, holders and their devices, credentials, shares and the activity
// log, and the Service that runs the flows of SPEC §3 over a Store.
package wallet

import (
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// Principal is an authenticated caller.
type Principal struct {
	Role     api.Role
	Subject  string // issuer id, verifier id, holder id, or "admin"
	DeviceID string // holders only
	KeyID    string // API key id, for logs and rate limits
}

// Issuer is an issuing authority hosted by the service.
type Issuer struct {
	ID      string      `json:"id"`
	Name    string      `json:"name"`
	Types   []string    `json:"types"` // credential type ids it may issue
	Keys    []IssuerKey `json:"keys"`  // newest last; exactly one active
	Created time.Time   `json:"created"`
	// Retired is when the operator retired the issuer: it issues nothing
	// more, its keys leave its JWKS and nothing it signed verifies or
	// redeems from then on (SPEC §3.7, THREATS T33).
	Retired *time.Time `json:"retired,omitempty"`
	// CurrentList is the status list new credentials are allocated in,
	// ListAllocated how many of its indices are taken.
	CurrentList   int `json:"current_list"`
	ListAllocated int `json:"list_allocated"`
}

// IssuerKey is one ES256 signing key of an issuer.
type IssuerKey struct {
	Kid     string     `json:"kid"`     // RFC 7638 thumbprint
	Public  []byte     `json:"public"`  // JWK
	Private []byte     `json:"private"` // PKCS #8, sealed (SPEC §6)
	Created time.Time  `json:"created"`
	Active  bool       `json:"active"`
	Retired *time.Time `json:"retired,omitempty"` // out of the JWKS from then on
}

// Verifier is a registered relying party.
type Verifier struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Category string `json:"category"`
	// Claims are the claims it may ask for, by credential type id.
	Claims  map[string][]string `json:"claims"`
	Created time.Time           `json:"created"`
	// WebhookURL receives request results (SPEC §3.4), signed with the
	// sealed WebhookSecret; empty: results by polling only.
	WebhookURL    string `json:"webhook_url,omitempty"`
	WebhookSecret []byte `json:"webhook_secret,omitempty"`
}

// APIKey authenticates an issuer's, a verifier's or the operator's system.
// Only a hash of the key is kept (SPEC §6).
type APIKey struct {
	ID      string     `json:"id"`
	Hash    []byte     `json:"hash"`
	Role    api.Role   `json:"role"`
	Owner   string     `json:"owner"` // issuer or verifier id; "admin"
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

// Holder is a citizen. The personal identification number is kept only as
// a keyed hash, so the store holds no claim value in the clear.
type Holder struct {
	ID          string    `json:"id"`
	CitizenHash []byte    `json:"citizen_hash"`
	Created     time.Time `json:"created"`
}

// Device is a holder's phone, known by its P-256 public key.
type Device struct {
	ID       string     `json:"id"`
	HolderID string     `json:"holder_id"`
	Key      []byte     `json:"key"` // public JWK
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	Revoked  *time.Time `json:"revoked,omitempty"`
}

// ActivationCode is a one-time enrolment code (SPEC §3.1), kept hashed.
type ActivationCode struct {
	Hash     []byte    `json:"hash"`
	HolderID string    `json:"holder_id"`
	Expires  time.Time `json:"expires"`
	Used     bool      `json:"used"`
}

// Credential is one issued document. Its claims are sealed with its id and
// owner as associated data; each device's SD-JWT copy is a separate sealed
// blob in the store (Tx.CredentialCopy).
type Credential struct {
	ID          string    `json:"id"`
	HolderID    string    `json:"holder_id"`
	IssuerID    string    `json:"issuer_id"`
	Type        string    `json:"type"`
	StatusList  int       `json:"status_list"`
	StatusIndex int       `json:"status_index"`
	Status      string    `json:"status"`
	IssuedAt    time.Time `json:"issued_at"`
	ValidUntil  time.Time `json:"valid_until"`
	Claims      []byte    `json:"claims"` // sealed JSON of the issuer's claims
}

// Share is what a citizen approved to show.
type Share struct {
	ID         string      `json:"id"`
	HolderID   string      `json:"holder_id"`
	DeviceID   string      `json:"device_id"`            // the device that prepared it; only it can approve it
	TokenHash  []byte      `json:"token_hash,omitempty"` // set on approval
	Status     string      `json:"status"`
	VerifierID string      `json:"verifier_id,omitempty"`
	Aud        string      `json:"aud"`
	Items      []ShareItem `json:"items"`
	Created    time.Time   `json:"created"`
	ExpiresAt  time.Time   `json:"expires_at"`
	TTL        int         `json:"ttl_seconds"` // lifetime once approved
	MaxUses    int         `json:"max_uses"`
	Uses       int         `json:"uses"`
}

// ShareItem is one credential in a share.
type ShareItem struct {
	CredentialID string   `json:"credential_id"`
	Type         string   `json:"type"`
	Claims       []string `json:"claims"`
	// Presentation is sealed: the SD-JWT with the chosen disclosures,
	// awaiting the holder's KB-JWT; dropped once the share is approved.
	// The KB-JWT's nonce is derived, never stored (Service.kbNonce).
	Presentation []byte `json:"presentation,omitempty"`
	SDHash       string `json:"sd_hash"`
	// Kid is the issuer key that signed the presented copy, set at
	// approval: every redemption checks it is still trusted (SPEC §3.7).
	Kid string `json:"kid,omitempty"`
}

// StatusList is one Token Status List of an issuer (2 bits an entry).
type StatusList struct {
	IssuerID string    `json:"issuer_id"`
	ID       int       `json:"id"`
	Size     int       `json:"size"`   // entries
	Values   []byte    `json:"values"` // the raw list (credentials.StatusList bytes)
	Updated  time.Time `json:"updated"`
}

// Request is a verifier asking a holder for claims (SPEC §3.4): shown as an
// EIDR1: QR by the verifier, or addressed to a holder through the
// holder's EIDP1: presence QR.
type Request struct {
	ID         string              `json:"id"`
	VerifierID string              `json:"verifier_id"`
	TokenHash  []byte              `json:"token_hash,omitempty"` // EIDR1: token; none for presence requests
	HolderID   string              `json:"holder_id,omitempty"`  // set at creation (presence) or when resolved
	DeviceID   string              `json:"device_id,omitempty"`  // the device that prepared (and approves) the answer
	Status     string              `json:"status"`
	Claims     map[string][]string `json:"claims"` // credential type id → claim names asked for
	Purpose    string              `json:"purpose"`
	Items      []ShareItem         `json:"items,omitempty"` // prepared presentations awaiting KB-JWTs
	Created    time.Time           `json:"created"`
	ExpiresAt  time.Time           `json:"expires_at"`
	Decided    *time.Time          `json:"decided,omitempty"`
}

// Presence is a holder's presence code (EIDP1:, 60 s, no data): staff who
// scan it can address a request to that holder.
type Presence struct {
	TokenHash []byte    `json:"token_hash"`
	HolderID  string    `json:"holder_id"`
	Expires   time.Time `json:"expires"`
	Used      bool      `json:"used"` // a presence code addresses one request
}
