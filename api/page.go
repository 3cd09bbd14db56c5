package api

// Pagination (issue 13 item 4). Every list takes the query parameters
// limit (1 to MaxLimit; DefaultLimit when absent) and cursor (the
// next_cursor of the page before; absent for the first page), and answers
// one JSON object: the page's items under the list's name, [] when none,
// and next_cursor when more may follow. One rule for every list, as
// Google's AIP-158 has it: the items keep the name they had (an answer
// that was a bare array became an object with one array); the cursor
// beside them is always next_cursor. Only a missing next_cursor ends a
// list: a page may hold fewer than limit items, even none. A cursor is
// opaque: it is bound to its list, its caller and its filters, and any
// other use of it is 400 invalid_request.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	MaxCursor    = 512 // characters; a longer cursor is refused unread
)

// Page is which page of a list to read.
type Page struct {
	Limit  int    // 0: DefaultLimit
	Cursor string // "": the first page
}

// IssuerList is GET /v1/admin/issuers, by id.
type IssuerList struct {
	Issuers    []*IssuerView `json:"issuers"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// ExternalIssuerList is GET /v1/admin/external-issuers, by id.
type ExternalIssuerList struct {
	ExternalIssuers []*ExternalIssuerView `json:"external_issuers"`
	NextCursor      string                `json:"next_cursor,omitempty"`
}

// VerifierList is GET /v1/admin/verifiers, by id.
type VerifierList struct {
	Verifiers  []*VerifierView `json:"verifiers"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// APIKeyList is GET /v1/admin/api-keys, by id.
type APIKeyList struct {
	APIKeys    []APIKeyView `json:"api_keys"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// CredentialList is GET /v1/me/credentials, in issuance order.
type CredentialList struct {
	Credentials []*CredentialView `json:"credentials"`
	NextCursor  string            `json:"next_cursor,omitempty"`
}

// DeviceList is GET /v1/me/devices, oldest first.
type DeviceList struct {
	Devices    []*DeviceView `json:"devices"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// ShareList is GET /v1/me/shares, newest first.
type ShareList struct {
	Shares     []*ShareView `json:"shares"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// RequestList is GET /v1/me/requests: the requests waiting for the
// citizen's answer, newest first.
type RequestList struct {
	Requests   []*RequestView `json:"requests"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// IssuedCredentialList is an issuer's own credentials: GET
// /v1/issuer/credentials?status= (newest first) and POST
// /v1/issuer/credentials:search (one citizen's, in issuance order).
type IssuedCredentialList struct {
	Credentials []*IssuedCredential `json:"credentials"`
	NextCursor  string              `json:"next_cursor,omitempty"`
}
