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
	// deferred is set on a principal AuthenticateDeferred took from
	// memory: its key is not yet confirmed, and only a method that
	// confirms it accepts it (require refuses it).
	deferred *deferredKey
}

// Issuer is an issuing authority hosted by the service.
type Issuer struct {
	ID      string
	Name    string
	Types   []string    // credential type ids it may issue
	Keys    []IssuerKey // newest last; exactly one active
	Created time.Time
	// Retired is when the operator retired the issuer: it issues nothing
	// more, its keys leave its JWKS and nothing it signed verifies or
	// redeems from then on (SPEC §3.7, THREATS T33).
	Retired *time.Time
}

// IssuerKey is one ES256 signing key of an issuer.
type IssuerKey struct {
	Kid     string // RFC 7638 thumbprint
	Public  []byte // JWK
	Private []byte // PKCS #8, sealed (SPEC §6)
	Created time.Time
	Active  bool
	Retired *time.Time // out of the JWKS from then on
}

// Verifier is a registered relying party.
type Verifier struct {
	ID       string
	Name     string
	Category string
	// Claims are the claims it may ask for, by credential type id.
	Claims  map[string][]string
	Created time.Time
	// WebhookURL receives request results (SPEC §3.4), signed with the
	// sealed WebhookSecret; empty: results by polling only.
	WebhookURL    string
	WebhookSecret []byte
	// Cert is its certificate (DER) from the verifier CA, and CertKey the
	// certificate's key, sealed: they sign its OpenID4VP request objects
	// (openid4vp.go). Issued on first use.
	Cert    []byte
	CertKey []byte
	// CertChain are the intermediates of an imported certificate (none
	// for the verifier CA's, whose certificate is sent instead), and
	// CertImported says it came from the operator: never renewed here.
	CertChain    [][]byte
	CertImported bool
	// Origins are the web origins whose pages may call the verifier
	// routes with its keys (CORS, issue 13); none by default.
	Origins []string
	// Retired is when the operator retired it: its keys were revoked
	// then, it gets no new one, and no share can name it.
	Retired *time.Time
}

// APIKey authenticates an issuer's, a verifier's or the operator's system.
// Only a hash of the key is kept (SPEC §6).
type APIKey struct {
	ID      string
	Hash    []byte
	Role    api.Role
	Owner   string // issuer or verifier id; "admin"
	Created time.Time
	Revoked *time.Time
}

// Holder is a citizen. The personal identification number is kept only as
// a keyed hash, so the store holds no claim value in the clear.
type Holder struct {
	ID          string
	CitizenHash []byte
	Created     time.Time
}

// Device is a holder's phone, known by its P-256 public key.
type Device struct {
	ID       string
	HolderID string
	Key      []byte // public JWK
	Name     string
	Created  time.Time
	Revoked  *time.Time
	Pool     bool // it has registered pool keys: its shares use batch copies only (issue 12)
}

// PoolKey is a one-time key a device registered for a batch copy.
type PoolKey struct {
	DeviceID   string
	Thumbprint string // RFC 7638
	Key        []byte // public JWK
	Created    time.Time
}

// BatchCopy is one unused copy of a credential on a device, bound to a
// pool key, with its own status index (issue 12).
type BatchCopy struct {
	CredentialID string
	DeviceID     string
	Thumbprint   string    // of Key
	Key          []byte    // the pool key's public JWK, its cnf
	List, Index  int       // its status list entry
	Copy         []byte    // the SD-JWT, sealed; nil while it is being signed
	Claimed      time.Time // when its key and index were claimed
}

// pending reports whether c is still being signed: claimed, not stored
// (heldCopies tells a refill at work from a dead one by Claimed).
func (c *BatchCopy) pending() bool { return c.Copy == nil }

// CopyStatus is the status entry of one batch copy of a credential.
type CopyStatus struct {
	CredentialID string
	List, Index  int
}

// ActivationCode is a one-time enrolment code (SPEC §3.1), kept hashed.
type ActivationCode struct {
	Hash     []byte
	HolderID string
	Expires  time.Time
	Used     bool
	// Once used: the enrolled device's key and the answer given, so that
	// the same enrolment sent again (its answer lost) gets it again.
	DeviceKey []byte
	Answer    []byte
}

// Credential is one issued document. Its claims are sealed with its id and
// owner as associated data; each device's SD-JWT copy is a separate sealed
// blob in the store (CredentialCopies).
type Credential struct {
	ID          string
	HolderID    string
	IssuerID    string
	Type        string
	StatusList  int
	StatusIndex int
	Status      string
	IssuedAt    time.Time
	ValidUntil  time.Time
	Claims      []byte // sealed JSON of the issuer's claims
}

// Share is what a citizen approved to show.
type Share struct {
	ID         string
	HolderID   string
	DeviceID   string // the device that prepared it; only it can approve it
	TokenHash  []byte // set on approval
	Status     string
	VerifierID string
	Aud        string
	Items      []ShareItem
	Created    time.Time
	ExpiresAt  time.Time
	TTL        int // lifetime once approved
	MaxUses    int
	Uses       int
	Offline    bool   // an EIDC1: code is minted at approval (offline.go)
	Compact    []byte // that code, sealed, until CompactExp
	CompactExp time.Time
	CompactCTI []byte // its CompactCodes key (a keyed hash of its cti)
}

// ShareItem is one credential in a share.
type ShareItem struct {
	CredentialID string
	Type         string
	Claims       []string
	// Presentation is sealed: the SD-JWT with the chosen disclosures,
	// awaiting the holder's KB-JWT; dropped once the share is approved.
	// The KB-JWT's nonce is derived, never stored (Service.kbNonce).
	Presentation []byte
	SDHash       string
	// Kid is the issuer key that signed the presented copy, set at
	// approval: every redemption checks it is still trusted (SPEC §3.7).
	Kid string
	// Key is the RFC 7638 thumbprint of the key the KB-JWT must be signed
	// with: the copy's cnf, the device key or one of its pool keys.
	Key string
	// IssuerID is the credential's issuer, set at share creation so that a
	// redemption reads the issuer in the same round as the credential
	// (empty in shares stored before it was: read after the credential).
	IssuerID string
}

// StatusList is one Token Status List of an issuer (2 bits an entry). Its
// values are kept as StatusEntry records, one per entry that is not valid.
type StatusList struct {
	IssuerID string
	ID       int
	Size     int // entries
	Created  time.Time
}

// StatusEntry is an entry of a status list that is not valid (revoked or
// suspended): Value is its Token Status List value.
type StatusEntry struct {
	IssuerID string
	List     int
	Index    int
	Value    uint8
}

// Request is a verifier asking a holder for claims (SPEC §3.4): shown as an
// EIDR1: QR by the verifier, or addressed to a holder through the
// holder's EIDP1: presence QR.
type Request struct {
	ID         string
	VerifierID string
	TokenHash  []byte // EIDR1: token; none for presence requests
	HolderID   string // set at creation (presence) or when resolved
	DeviceID   string // the device that prepared (and approves) the answer
	Status     string
	Claims     map[string][]string // credential type id → claim names asked for
	Purpose    string
	Items      []ShareItem // prepared presentations awaiting KB-JWTs
	Created    time.Time
	ExpiresAt  time.Time
	Decided    *time.Time
	OpenID4VP  *OpenID4VP     // an OpenID4VP request's own fields; nil for EIDR1: and presence requests
	Remote     *RemoteRequest // a standard verifier's OpenID4VP request the holder answers (no VerifierID)
}

// Presence is a holder's presence code (EIDP1:, 60 s, no data): staff who
// scan it can address a request to that holder.
type Presence struct {
	TokenHash []byte
	HolderID  string
	Expires   time.Time
	Used      bool // a presence code addresses one request
}
