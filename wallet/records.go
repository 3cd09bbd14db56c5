package wallet

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// The record kinds of the service, each declared once: its key, the index
// values the domain computes for it, and its stored row. A store keeps
// them through the Tx primitives (store.go); adding a kind is a
// declaration here, a line in Kinds and, for PostgreSQL, its table in a
// new numbered file of postgres/migrations. Rows are private structs whose
// JSON names are the stored format: a domain field renamed no longer
// converts (or is caught by TestRowsKeepEveryField), it never silently
// changes what is stored.

// Index names.
const (
	byHash    = "hash"
	byCitizen = "citizen"
	byHolder  = "holder"
	byToken   = "token"
	byTAT     = "tat"
	byDue     = "due"
	byExpiry  = "expiry"
	byIssuer  = "issuer"
	byOwner   = "owner"
)

// Issuers are the hosted issuers, listed by id.
var Issuers = records(Kind{Name: "issuers", Key: []Column{{"id", Text}}},
	func(is *Issuer) []any { return []any{is.ID} }, nil,
	func(is *Issuer) *issuerRow {
		return &issuerRow{ID: is.ID, Name: is.Name, Types: is.Types, Created: is.Created, Retired: is.Retired,
			Keys: convert(is.Keys, func(k IssuerKey) issuerKeyRow { return issuerKeyRow(k) })}
	},
	func(r *issuerRow) *Issuer {
		return &Issuer{ID: r.ID, Name: r.Name, Types: r.Types, Created: r.Created, Retired: r.Retired,
			Keys: convert(r.Keys, func(k issuerKeyRow) IssuerKey { return IssuerKey(k) })}
	})

type issuerRow struct {
	ID      string         `json:"id"`
	Name    string         `json:"name"`
	Types   []string       `json:"types"`
	Keys    []issuerKeyRow `json:"keys"`
	Created time.Time      `json:"created"`
	Retired *time.Time     `json:"retired,omitempty"`
}

type issuerKeyRow struct {
	Kid     string     `json:"kid"`
	Public  []byte     `json:"public"`
	Private []byte     `json:"private"`
	Created time.Time  `json:"created"`
	Active  bool       `json:"active"`
	Retired *time.Time `json:"retired,omitempty"`
}

// ExternalIssuers are the issuers hosted elsewhere that the operator
// trusts for some types (external.go), listed by id.
var ExternalIssuers = records(Kind{Name: "external_issuers", Key: []Column{{"id", Text}}},
	func(e *ExternalIssuer) []any { return []any{e.ID} }, nil,
	func(e *ExternalIssuer) *externalIssuerRow { return (*externalIssuerRow)(e) },
	func(r *externalIssuerRow) *ExternalIssuer { return (*ExternalIssuer)(r) })

type externalIssuerRow struct {
	ID        string     `json:"id"`
	Issuer    string     `json:"issuer"`
	JWKSURI   string     `json:"jwks_uri,omitempty"`
	Types     []string   `json:"types"`
	JWKS      []byte     `json:"jwks,omitempty"`
	Fetched   time.Time  `json:"fetched"`
	Due       time.Time  `json:"due"`
	LastError string     `json:"last_error,omitempty"`
	Created   time.Time  `json:"created"`
	Retired   *time.Time `json:"retired,omitempty"`
}

// CompactCodes are the offline codes minted, keyed by a keyed hash of
// their cti (offline.go).
var CompactCodes = records(Kind{Name: "compact_codes", Key: []Column{{"cti_hash", Bytes}},
	Indexes: []Index{{Name: byExpiry, Columns: []Column{{"expires", Time}}}}},
	func(c *CompactCode) []any { return []any{c.CTIHash} },
	func(c *CompactCode) [][]any { return [][]any{{c.Expires}} },
	func(c *CompactCode) *compactCodeRow { return (*compactCodeRow)(c) },
	func(r *compactCodeRow) *CompactCode { return (*CompactCode)(r) })

type compactCodeRow struct {
	CTIHash  []byte    `json:"cti_hash"`
	ShareID  string    `json:"share_id"`
	HolderID string    `json:"holder_id"`
	Expires  time.Time `json:"expires"`
	SeenBy   string    `json:"seen_by,omitempty"`
	SeenKey  string    `json:"seen_key,omitempty"`
	SeenAt   time.Time `json:"seen_at,omitzero"`
}

// Verifiers are the registered verifiers, listed by id.
var Verifiers = records(Kind{Name: "verifiers", Key: []Column{{"id", Text}}},
	func(v *Verifier) []any { return []any{v.ID} }, nil,
	func(v *Verifier) *verifierRow { return (*verifierRow)(v) },
	func(r *verifierRow) *Verifier { return (*Verifier)(r) })

type verifierRow struct {
	ID            string              `json:"id"`
	Name          string              `json:"name"`
	Category      string              `json:"category"`
	Claims        map[string][]string `json:"claims"`
	Created       time.Time           `json:"created"`
	WebhookURL    string              `json:"webhook_url,omitempty"`
	WebhookSecret []byte              `json:"webhook_secret,omitempty"`
	Cert          []byte              `json:"cert,omitempty"`
	CertKey       []byte              `json:"cert_key,omitempty"`
	CertChain     [][]byte            `json:"cert_chain,omitempty"`
	CertImported  bool                `json:"cert_imported,omitempty"`
	Origins       []string            `json:"origins,omitempty"`
	Retired       *time.Time          `json:"retired,omitempty"`
}

// APIKeys are the API keys, found by the hash of the key (unique).
var APIKeys = records(Kind{Name: "api_keys", Key: []Column{{"id", Text}},
	Indexes: []Index{{Name: byHash, Columns: []Column{{"hash", Bytes}}, Unique: true}, {Name: byOwner, Columns: []Column{{"owner", Text}}}}},
	func(k *APIKey) []any { return []any{k.ID} },
	func(k *APIKey) [][]any { return [][]any{{k.Hash}, {k.Owner}} },
	func(k *APIKey) *apiKeyRow { return (*apiKeyRow)(k) },
	func(r *apiKeyRow) *APIKey { return (*APIKey)(r) })

type apiKeyRow struct {
	ID      string     `json:"id"`
	Hash    []byte     `json:"hash"`
	Role    api.Role   `json:"role"`
	Owner   string     `json:"owner"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

// Holders are the citizens, found by their citizen hash (unique).
var Holders = records(Kind{Name: "holders", Key: []Column{{"id", Text}},
	Indexes: []Index{{Name: byCitizen, Columns: []Column{{"citizen_hash", Bytes}}, Unique: true}}},
	func(h *Holder) []any { return []any{h.ID} },
	func(h *Holder) [][]any { return [][]any{{h.CitizenHash}} },
	func(h *Holder) *holderRow { return (*holderRow)(h) },
	func(r *holderRow) *Holder { return (*Holder)(r) })

type holderRow struct {
	ID          string    `json:"id"`
	CitizenHash []byte    `json:"citizen_hash"`
	Created     time.Time `json:"created"`
}

// Devices are the holders' devices, listed by holder oldest first.
var Devices = records(Kind{Name: "devices", Key: []Column{{"id", Text}},
	Indexes: []Index{{Name: byHolder, Columns: []Column{{"holder_id", Text}, {"created", Time}}}}},
	func(d *Device) []any { return []any{d.ID} },
	func(d *Device) [][]any { return [][]any{{d.HolderID, d.Created}} },
	func(d *Device) *deviceRow { return (*deviceRow)(d) },
	func(r *deviceRow) *Device { return (*Device)(r) })

type deviceRow struct {
	ID       string     `json:"id"`
	HolderID string     `json:"holder_id"`
	Key      []byte     `json:"key"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	Revoked  *time.Time `json:"revoked,omitempty"`
	Pool     bool       `json:"pool,omitempty"`
}

// ActivationCodes are the enrolment codes, keyed by the code's hash.
var ActivationCodes = records(Kind{Name: "activation_codes", Key: []Column{{"hash", Bytes}}},
	func(a *ActivationCode) []any { return []any{a.Hash} }, nil,
	func(a *ActivationCode) *activationCodeRow { return (*activationCodeRow)(a) },
	func(r *activationCodeRow) *ActivationCode { return (*ActivationCode)(r) })

type activationCodeRow struct {
	Hash      []byte    `json:"hash"`
	HolderID  string    `json:"holder_id"`
	Expires   time.Time `json:"expires"`
	Used      bool      `json:"used"`
	DeviceKey []byte    `json:"device_key,omitempty"`
	Answer    []byte    `json:"answer,omitempty"`
}

// Credentials are the issued credentials, listed by holder in issuance
// order (a credential has no other creation time), and by issuer and
// status in issuance order for the issuer's own list (issue 13 item 4;
// its time column is issued_at again: a column belongs to one index).
var Credentials = records(Kind{Name: "credentials", Key: []Column{{"id", Text}},
	Indexes: []Index{
		{Name: byHolder, Columns: []Column{{"holder_id", Text}, {"issued_at", Time}}},
		{Name: byIssuer, Columns: []Column{{"issuer_id", Text}, {"status", Text}, {"issued", Time}}},
	}},
	func(c *Credential) []any { return []any{c.ID} },
	func(c *Credential) [][]any {
		return [][]any{{c.HolderID, c.IssuedAt}, {c.IssuerID, c.Status, c.IssuedAt}}
	},
	func(c *Credential) *credentialRow { return (*credentialRow)(c) },
	func(r *credentialRow) *Credential { return (*Credential)(r) })

type credentialRow struct {
	ID          string    `json:"id"`
	HolderID    string    `json:"holder_id"`
	IssuerID    string    `json:"issuer_id"`
	Type        string    `json:"type"`
	StatusList  int       `json:"status_list"`
	StatusIndex int       `json:"status_index"`
	Status      string    `json:"status"`
	IssuedAt    time.Time `json:"issued_at"`
	ValidUntil  time.Time `json:"valid_until"`
	Claims      []byte    `json:"claims"`
}

// CredentialCopies are the sealed SD-JWTs each device holds of a
// credential, keyed (credential id, device id), raw.
var CredentialCopies = raw(Kind{Name: "credential_copies", Key: []Column{{"credential_id", Text}, {"device_id", Text}}})

// PoolKeys are the one-time keys a device registered for its batch copies
// (issue 12), keyed (device, RFC 7638 thumbprint): free until a copy is
// bound to one, which deletes it.
var PoolKeys = records(Kind{Name: "pool_keys", Key: []Column{{"device_id", Text}, {"thumbprint", Text}}},
	func(k *PoolKey) []any { return []any{k.DeviceID, k.Thumbprint} }, nil,
	func(k *PoolKey) *poolKeyRow { return (*poolKeyRow)(k) },
	func(r *poolKeyRow) *PoolKey { return (*PoolKey)(r) })

type poolKeyRow struct {
	DeviceID   string    `json:"device_id"`
	Thumbprint string    `json:"thumbprint"`
	Key        []byte    `json:"key"`
	Created    time.Time `json:"created"`
}

// BatchCopies are the unused copies of a credential on a device, keyed
// (credential, device, thumbprint of the pool key it is bound to): each
// signed with its own salts, key and status index; a share takes one and
// deletes it (issue 12).
var BatchCopies = records(Kind{Name: "batch_copies", Key: []Column{{"credential_id", Text}, {"device_id", Text}, {"thumbprint", Text}}},
	func(c *BatchCopy) []any { return []any{c.CredentialID, c.DeviceID, c.Thumbprint} }, nil,
	func(c *BatchCopy) *batchCopyRow { return (*batchCopyRow)(c) },
	func(r *batchCopyRow) *BatchCopy { return (*BatchCopy)(r) })

type batchCopyRow struct {
	CredentialID string    `json:"credential_id"`
	DeviceID     string    `json:"device_id"`
	Thumbprint   string    `json:"thumbprint"`
	Key          []byte    `json:"key"`
	List         int       `json:"list"`
	Index        int       `json:"index"`
	Copy         []byte    `json:"copy,omitempty"`
	Claimed      time.Time `json:"claimed"`
}

// CopyStatuses are the status indices the batch copies of a credential
// were given, keyed (credential, list, index): a status change of the
// credential sets every one (issue 12), since a used copy may be checked
// by a verifier long after.
var CopyStatuses = records(Kind{Name: "copy_status", Key: []Column{{"credential_id", Text}, {"list", Int}, {"idx", Int}}, Immutable: true},
	func(c *CopyStatus) []any { return []any{c.CredentialID, c.List, c.Index} }, nil,
	func(c *CopyStatus) *copyStatusRow { return (*copyStatusRow)(c) },
	func(r *copyStatusRow) *CopyStatus { return (*CopyStatus)(r) })

type copyStatusRow struct {
	CredentialID string `json:"credential_id"`
	List         int    `json:"list"`
	Index        int    `json:"index"`
}

// IdempotentAnswers are the first answers to requests sent with an
// Idempotency-Key (idempotency.go), keyed (scope, key hash), listed by
// expiry for the sweep; never rewritten.
var IdempotentAnswers = records(Kind{Name: "idempotency", Key: []Column{{"scope", Text}, {"key_hash", Bytes}}, Immutable: true,
	Indexes: []Index{{Name: byExpiry, Columns: []Column{{"expires", Time}}}}},
	func(a *IdempotentAnswer) []any { return []any{a.Scope, a.KeyHash} },
	func(a *IdempotentAnswer) [][]any { return [][]any{{a.Expires}} },
	func(a *IdempotentAnswer) *idempotentAnswerRow { return (*idempotentAnswerRow)(a) },
	func(r *idempotentAnswerRow) *IdempotentAnswer { return (*IdempotentAnswer)(r) })

type idempotentAnswerRow struct {
	Scope       string    `json:"scope"`
	KeyHash     []byte    `json:"key_hash"`
	RequestHash []byte    `json:"request_hash"`
	Answer      []byte    `json:"answer"`
	Expires     time.Time `json:"expires"`
}

// DeviceKeys map each device's key, by RFC 7638 thumbprint, to its
// device: written at enrolment, at each token and at export, so that a
// presentation of a hosted credential to our verifiers is taken only from
// a key of an active device (SPEC §2: a revoked device's copies are
// unusable, exported ones too).
var DeviceKeys = raw(Kind{Name: "device_keys", Key: []Column{{"thumbprint", Text}}})

// Shares are the shares, found by token hash once approved (unique; a
// pending share has none) and listed by holder newest first. A
// redemption rewrites only the share record: its index values do not
// change.
var Shares = records(Kind{Name: "shares", Key: []Column{{"id", Text}},
	Indexes: []Index{
		{Name: byToken, Columns: []Column{{"token_hash", Bytes}}, Unique: true},
		{Name: byHolder, Columns: []Column{{"holder_id", Text}, {"created", Time}}},
	}},
	func(s *Share) []any { return []any{s.ID} },
	func(s *Share) [][]any { return [][]any{optional(s.TokenHash), {s.HolderID, s.Created}} },
	func(s *Share) *shareRow {
		return &shareRow{ID: s.ID, HolderID: s.HolderID, DeviceID: s.DeviceID, TokenHash: s.TokenHash, Status: s.Status,
			VerifierID: s.VerifierID, Aud: s.Aud, Items: toItemRows(s.Items), Created: s.Created, ExpiresAt: s.ExpiresAt,
			TTL: s.TTL, MaxUses: s.MaxUses, Uses: s.Uses, Offline: s.Offline, Compact: s.Compact, CompactExp: s.CompactExp,
			CompactCTI: s.CompactCTI}
	},
	func(r *shareRow) *Share {
		return &Share{ID: r.ID, HolderID: r.HolderID, DeviceID: r.DeviceID, TokenHash: r.TokenHash, Status: r.Status,
			VerifierID: r.VerifierID, Aud: r.Aud, Items: fromItemRows(r.Items), Created: r.Created, ExpiresAt: r.ExpiresAt,
			TTL: r.TTL, MaxUses: r.MaxUses, Uses: r.Uses, Offline: r.Offline, Compact: r.Compact, CompactExp: r.CompactExp,
			CompactCTI: r.CompactCTI}
	})

type shareRow struct {
	ID         string         `json:"id"`
	HolderID   string         `json:"holder_id"`
	DeviceID   string         `json:"device_id"`
	TokenHash  []byte         `json:"token_hash,omitempty"`
	Status     string         `json:"status"`
	VerifierID string         `json:"verifier_id,omitempty"`
	Aud        string         `json:"aud"`
	Items      []shareItemRow `json:"items"`
	Created    time.Time      `json:"created"`
	ExpiresAt  time.Time      `json:"expires_at"`
	TTL        int            `json:"ttl_seconds"`
	MaxUses    int            `json:"max_uses"`
	Uses       int            `json:"uses"`
	Offline    bool           `json:"offline,omitempty"`
	Compact    []byte         `json:"compact,omitempty"`
	CompactExp time.Time      `json:"compact_exp,omitzero"`
	CompactCTI []byte         `json:"compact_cti,omitempty"`
}

type shareItemRow struct {
	CredentialID string   `json:"credential_id"`
	Type         string   `json:"type"`
	Claims       []string `json:"claims"`
	Presentation []byte   `json:"presentation,omitempty"`
	SDHash       string   `json:"sd_hash"`
	Kid          string   `json:"kid,omitempty"`
	Key          string   `json:"key_thumbprint,omitempty"`
	IssuerID     string   `json:"issuer_id,omitempty"`
}

func toItemRows(items []ShareItem) []shareItemRow {
	return convert(items, func(it ShareItem) shareItemRow { return shareItemRow(it) })
}

func fromItemRows(rows []shareItemRow) []ShareItem {
	return convert(rows, func(r shareItemRow) ShareItem { return ShareItem(r) })
}

// ShareDocuments are the sealed documents of an approved share (or
// answered request), one per item, keyed by its id, apart from the record
// a redemption rewrites. They are stored as they are, each prefixed by
// its length (uvarint): no JSON and no base64 to undo when redeeming.
var ShareDocuments = &Blobs[[][]byte]{
	kind: Kind{Name: "share_documents", Key: []Column{{"share_id", Text}}, Raw: true},
	encode: func(docs [][]byte) []byte {
		var b []byte
		for _, d := range docs {
			b = append(binary.AppendUvarint(b, uint64(len(d))), d...)
		}
		return b
	},
	decode: func(b []byte) ([][]byte, error) {
		var docs [][]byte
		for len(b) > 0 {
			n, k := binary.Uvarint(b)
			if k <= 0 || n > uint64(len(b)-k) {
				return nil, errors.New("corrupt framing")
			}
			docs = append(docs, b[k:k+int(n):k+int(n)])
			b = b[k+int(n):]
		}
		return docs, nil
	},
}

// Requests are the verifiers' requests, found by token hash (unique; a
// request addressed through a presence code has none) and listed by
// holder newest first once their holder is known.
var Requests = records(Kind{Name: "requests", Key: []Column{{"id", Text}},
	Indexes: []Index{
		{Name: byToken, Columns: []Column{{"token_hash", Bytes}}, Unique: true},
		{Name: byHolder, Columns: []Column{{"holder_id", Text}, {"created", Time}}},
	}},
	func(r *Request) []any { return []any{r.ID} },
	func(r *Request) [][]any {
		holder := []any{r.HolderID, r.Created}
		if r.HolderID == "" {
			holder = nil
		}
		return [][]any{optional(r.TokenHash), holder}
	},
	func(r *Request) *requestRow {
		return &requestRow{ID: r.ID, VerifierID: r.VerifierID, TokenHash: r.TokenHash, HolderID: r.HolderID, DeviceID: r.DeviceID,
			Status: r.Status, Claims: r.Claims, Purpose: r.Purpose, Items: toItemRows(r.Items), Created: r.Created,
			ExpiresAt: r.ExpiresAt, Decided: r.Decided, OpenID4VP: toOpenID4VPRow(r.OpenID4VP), Remote: toRemoteRow(r.Remote)}
	},
	func(r *requestRow) *Request {
		return &Request{ID: r.ID, VerifierID: r.VerifierID, TokenHash: r.TokenHash, HolderID: r.HolderID, DeviceID: r.DeviceID,
			Status: r.Status, Claims: r.Claims, Purpose: r.Purpose, Items: fromItemRows(r.Items), Created: r.Created,
			ExpiresAt: r.ExpiresAt, Decided: r.Decided, OpenID4VP: fromOpenID4VPRow(r.OpenID4VP), Remote: fromRemoteRow(r.Remote)}
	})

type requestRow struct {
	ID         string              `json:"id"`
	VerifierID string              `json:"verifier_id"`
	TokenHash  []byte              `json:"token_hash,omitempty"`
	HolderID   string              `json:"holder_id,omitempty"`
	DeviceID   string              `json:"device_id,omitempty"`
	Status     string              `json:"status"`
	Claims     map[string][]string `json:"claims"`
	Purpose    string              `json:"purpose"`
	Items      []shareItemRow      `json:"items,omitempty"`
	Created    time.Time           `json:"created"`
	ExpiresAt  time.Time           `json:"expires_at"`
	Decided    *time.Time          `json:"decided,omitempty"`
	OpenID4VP  *openID4VPRow       `json:"openid4vp,omitempty"`
	Remote     *remoteRow          `json:"remote,omitempty"`
}

type remoteRow struct {
	ClientID     string            `json:"client_id"`
	Verified     bool              `json:"verified"`
	Name         string            `json:"name"`
	ResponseURI  string            `json:"response_uri"`
	ResponseMode string            `json:"response_mode"`
	Nonce        string            `json:"nonce"`
	State        string            `json:"state,omitempty"`
	EncJWKS      []byte            `json:"enc_jwks,omitempty"`
	Enc          string            `json:"enc,omitempty"`
	Chosen       []remoteAnswerRow `json:"chosen,omitempty"`
	RedirectURI  string            `json:"redirect_uri,omitempty"`
}

type remoteAnswerRow struct {
	QueryID      string   `json:"query_id"`
	CredentialID string   `json:"credential_id"`
	Type         string   `json:"type"`
	Claims       []string `json:"claims"`
}

func toRemoteRow(r *RemoteRequest) *remoteRow {
	if r == nil {
		return nil
	}
	row := remoteRow{ClientID: r.ClientID, Verified: r.Verified, Name: r.Name, ResponseURI: r.ResponseURI, ResponseMode: r.ResponseMode,
		Nonce: r.Nonce, State: r.State, EncJWKS: r.EncJWKS, Enc: r.Enc, RedirectURI: r.RedirectURI,
		Chosen: convert(r.Chosen, func(a RemoteAnswer) remoteAnswerRow { return remoteAnswerRow(a) })}
	return &row
}

func fromRemoteRow(r *remoteRow) *RemoteRequest {
	if r == nil {
		return nil
	}
	return &RemoteRequest{ClientID: r.ClientID, Verified: r.Verified, Name: r.Name, ResponseURI: r.ResponseURI, ResponseMode: r.ResponseMode,
		Nonce: r.Nonce, State: r.State, EncJWKS: r.EncJWKS, Enc: r.Enc, RedirectURI: r.RedirectURI,
		Chosen: convert(r.Chosen, func(a remoteAnswerRow) RemoteAnswer { return RemoteAnswer(a) })}
}

type openID4VPRow struct {
	ClientID     string        `json:"client_id"`
	ResponseMode string        `json:"response_mode"`
	Query        []byte        `json:"query"`
	EncKey       []byte        `json:"enc_key,omitempty"`
	Answered     []answeredRow `json:"answered,omitempty"`
}

type answeredRow struct {
	IssuerID    string    `json:"issuer_id"`
	External    bool      `json:"external,omitempty"`
	Kid         string    `json:"kid"`
	Type        string    `json:"type"`
	StatusList  int       `json:"status_list"`
	StatusIndex int       `json:"status_index"`
	StatusURI   string    `json:"status_uri,omitempty"`
	DeviceID    string    `json:"device_id,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
}

func toOpenID4VPRow(o *OpenID4VP) *openID4VPRow {
	if o == nil {
		return nil
	}
	return &openID4VPRow{ClientID: o.ClientID, ResponseMode: o.ResponseMode, Query: o.Query, EncKey: o.EncKey,
		Answered: convert(o.Answered, func(a AnsweredCredential) answeredRow { return answeredRow(a) })}
}

func fromOpenID4VPRow(r *openID4VPRow) *OpenID4VP {
	if r == nil {
		return nil
	}
	return &OpenID4VP{ClientID: r.ClientID, ResponseMode: r.ResponseMode, Query: r.Query, EncKey: r.EncKey,
		Answered: convert(r.Answered, func(a answeredRow) AnsweredCredential { return AnsweredCredential(a) })}
}

// Presences are the holders' presence codes, keyed by the token's hash.
var Presences = records(Kind{Name: "presence", Key: []Column{{"token_hash", Bytes}}},
	func(p *Presence) []any { return []any{p.TokenHash} }, nil,
	func(p *Presence) *presenceRow { return (*presenceRow)(p) },
	func(r *presenceRow) *Presence { return (*Presence)(r) })

type presenceRow struct {
	TokenHash []byte    `json:"token_hash"`
	HolderID  string    `json:"holder_id"`
	Expires   time.Time `json:"expires"`
	Used      bool      `json:"used"`
}

// StatusLists are the issuers' status lists, keyed (issuer, list): created
// once, never rewritten. An issuer's newest list takes new credentials.
var StatusLists = records(Kind{Name: "status_lists", Key: []Column{{"issuer_id", Text}, {"list", Int}}, Immutable: true},
	func(l *StatusList) []any { return []any{l.IssuerID, l.ID} }, nil,
	func(l *StatusList) *statusListRow { return (*statusListRow)(l) },
	func(r *statusListRow) *StatusList { return (*StatusList)(r) })

type statusListRow struct {
	IssuerID string    `json:"issuer_id"`
	ID       int       `json:"id"`
	Size     int       `json:"size"`
	Created  time.Time `json:"created"`
}

// StatusIndices are the claimed status indices, keyed (issuer, list,
// index), empty: an index is claimed by creating its record, which is
// never deleted, so it is never handed out twice (SPEC §3.5) and no
// shared record counts them.
var StatusIndices = raw(Kind{Name: "status_indices", Key: []Column{{"issuer_id", Text}, {"list", Int}, {"idx", Int}},
	Immutable: true})

// StatusEntries are the entries of status lists that are not valid,
// keyed (issuer, list, index): a status change writes or deletes one, and
// a list's token is built from them (status.go), never from a stored
// copy of the whole list.
var StatusEntries = records(Kind{Name: "status_entries", Key: []Column{{"issuer_id", Text}, {"list", Int}, {"idx", Int}}},
	func(e *StatusEntry) []any { return []any{e.IssuerID, e.List, e.Index} }, nil,
	func(e *StatusEntry) *statusEntryRow { return (*statusEntryRow)(e) },
	func(r *statusEntryRow) *StatusEntry { return (*StatusEntry)(r) })

type statusEntryRow struct {
	IssuerID string `json:"issuer_id"`
	List     int    `json:"list"`
	Index    int    `json:"index"`
	Value    uint8  `json:"value"`
}

// ActivityLog is the holders' activity, keyed (holder, seq): appended,
// never rewritten (SPEC §3.6).
var ActivityLog = records(Kind{Name: "activity", Key: []Column{{"holder_id", Text}, {"seq", Int}}, Immutable: true},
	func(e *api.ActivityEntry) []any { return []any{e.HolderID, e.Seq} }, nil,
	func(e *api.ActivityEntry) *activityRow { return (*activityRow)(e) },
	func(r *activityRow) *api.ActivityEntry { return (*api.ActivityEntry)(r) })

type activityRow struct {
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
	Prev         string    `json:"prev"`
	Hash         string    `json:"hash"`
}

// VerificationLog is the verifiers' own logs, keyed (verifier, seq):
// appended, never rewritten.
var VerificationLog = records(Kind{Name: "verifications", Key: []Column{{"verifier_id", Text}, {"seq", Int}}, Immutable: true},
	func(v *api.Verification) []any { return []any{v.VerifierID, v.Seq} }, nil,
	func(v *api.Verification) *verificationRow { return (*verificationRow)(v) },
	func(r *verificationRow) *api.Verification { return (*api.Verification)(r) })

type verificationRow struct {
	Seq        uint64    `json:"seq"`
	VerifierID string    `json:"verifier_id"`
	At         time.Time `json:"at"`
	ShareID    string    `json:"share_id,omitempty"`
	RequestID  string    `json:"request_id,omitempty"`
	Result     string    `json:"result"`
	Reason     string    `json:"reason,omitempty"`
	Types      []string  `json:"types,omitempty"`
	Claims     []string  `json:"claims,omitempty"`
}

// RateBuckets are the token buckets replicas share (ratelimit.go), listed
// by the time each is full again, for pruning.
var RateBuckets = records(Kind{Name: "rate_buckets", Key: []Column{{"id", Bytes}},
	Indexes: []Index{{Name: byTAT, Columns: []Column{{"tat", Time}}}}},
	func(b *rateBucket) []any { return []any{b.ID} },
	func(b *rateBucket) [][]any { return [][]any{{b.TAT}} },
	func(b *rateBucket) *rateBucketRow { return (*rateBucketRow)(b) },
	func(r *rateBucketRow) *rateBucket { return (*rateBucket)(r) })

type rateBucketRow struct {
	ID  []byte    `json:"id"`
	TAT time.Time `json:"tat"`
}

// Meta holds small service-wide values by name (the sealed service key).
var Meta = raw(Kind{Name: "meta", Key: []Column{{"name", Text}}})

// WebhookDeliveries are the webhook outbox: one record per request result
// to post, written in the transaction that decides the request, so a
// restart or a dead replica loses none. Pending ones are listed by when
// they are next due (a claim moves that to the end of its lease); done
// ones, out of that index, by when they are deleted.
var WebhookDeliveries = records(Kind{Name: "webhook_deliveries", Key: []Column{{"id", Text}},
	Indexes: []Index{
		{Name: byDue, Columns: []Column{{"due", Time}}},
		{Name: byExpiry, Columns: []Column{{"expires", Time}}},
	}},
	func(d *WebhookDelivery) []any { return []any{d.ID} },
	func(d *WebhookDelivery) [][]any {
		if d.State == DeliveryPending {
			return [][]any{{d.Due}, nil}
		}
		return [][]any{nil, {d.Expires}}
	},
	func(d *WebhookDelivery) *webhookDeliveryRow { return (*webhookDeliveryRow)(d) },
	func(r *webhookDeliveryRow) *WebhookDelivery { return (*WebhookDelivery)(r) })

type webhookDeliveryRow struct {
	ID          string     `json:"id"`
	VerifierID  string     `json:"verifier_id"`
	RequestID   string     `json:"request_id"`
	Created     time.Time  `json:"created"`
	State       string     `json:"state"`
	Due         time.Time  `json:"due"`
	Lease       string     `json:"lease,omitempty"`
	Attempts    int        `json:"attempts"`
	LastStatus  int        `json:"last_status,omitempty"`
	LastFailure string     `json:"last_failure,omitempty"`
	Done        *time.Time `json:"done,omitempty"`
	Expires     time.Time  `json:"expires"`
}

// Kinds lists every declared kind: what a store prepares when it opens
// (buckets, tables) and what the contract suite runs on.
func Kinds() []*Kind {
	return []*Kind{
		Issuers.Kind(), ExternalIssuers.Kind(), CompactCodes.Kind(), Verifiers.Kind(), APIKeys.Kind(), Holders.Kind(), Devices.Kind(),
		ActivationCodes.Kind(), Credentials.Kind(), CredentialCopies.Kind(), PoolKeys.Kind(), BatchCopies.Kind(),
		CopyStatuses.Kind(), IdempotentAnswers.Kind(), Shares.Kind(),
		ShareDocuments.Kind(), DeviceKeys.Kind(), Requests.Kind(), Presences.Kind(), StatusLists.Kind(),
		StatusIndices.Kind(), StatusEntries.Kind(), ActivityLog.Kind(), VerificationLog.Kind(), Meta.Kind(),
		RateBuckets.Kind(),
		WebhookDeliveries.Kind(),
	}
}

// UsageCounters are the agency's usage statistics (usage.go): per UTC
// hour, how many events of each kind with each combination of
// dimensions, a "-" where a dimension does not apply, and the latency
// bucket of a verification (its upper bound in microseconds; 0: not
// measured, -1: beyond the last bound). Aggregates only: no holder,
// device, credential, verifier or share id is a column.
var UsageCounters = &Kind{Name: "usage_counters", Counter: true, Key: []Column{
	{"hour", Time}, {"event", Text}, {"type", Text}, {"category", Text}, {"flow", Text},
	{"outcome", Text}, {"reason", Text}, {"latency_us", Int},
}}

// CounterKinds lists every declared Counter kind: what a store prepares
// beside the record kinds (a bucket; a table with a shard column).
func CounterKinds() []*Kind { return []*Kind{UsageCounters} }

// optional is an index entry of one value that a record may lack: none
// for an empty value.
func optional(b []byte) []any {
	if len(b) == 0 {
		return nil
	}
	return []any{b}
}
