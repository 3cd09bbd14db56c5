package openid4vp

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// The wallet's side of the protocol: reading a request link, judging the
// request object, and choosing what answers a DCQL query.

// MaxLinkBytes caps a request link before it is parsed.
const MaxLinkBytes = 4096

// LinkRequest is what a cross-device request link carries (§5.7, RFC
// 9101 §5.2): the client identifier and the request URI, and how to fetch
// it.
type LinkRequest struct {
	ClientID   string
	RequestURI string
	Post       bool // request_uri_method=post (§5.10)
}

// ParseLink reads an openid4vp://, haip-vp:// or https link. A request by
// value (no request_uri) is refused: this wallet only takes signed
// requests by reference, or unsigned ones of a redirect_uri client.
func ParseLink(link string) (*LinkRequest, error) {
	if len(link) > MaxLinkBytes {
		return nil, fmt.Errorf("link over %d bytes", MaxLinkBytes)
	}
	u, err := url.Parse(link)
	if err != nil {
		return nil, errors.New("link is not a URL")
	}
	switch u.Scheme {
	case SchemeOpenID4VP, SchemeHAIP, "https":
	default:
		return nil, errors.New("link: openid4vp://, haip-vp:// or https:// only")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errors.New("link: malformed query")
	}
	for name, v := range q {
		if len(v) > 1 {
			return nil, fmt.Errorf("link: %s appears more than once", name)
		}
	}
	r := &LinkRequest{ClientID: q.Get("client_id"), RequestURI: q.Get("request_uri")}
	if r.ClientID == "" || r.RequestURI == "" {
		return nil, errors.New("link: client_id and request_uri are required (requests by value are not taken)")
	}
	if ru, err := url.Parse(r.RequestURI); err != nil || ru.Scheme != "https" || ru.Host == "" {
		return nil, errors.New("link: request_uri must be an https URL")
	}
	switch q.Get("request_uri_method") {
	case "":
	case "get":
	case "post":
		r.Post = true
	default:
		return nil, fmt.Errorf("%s: request_uri_method is get or post", ErrInvalidRequestURI)
	}
	return r, nil
}

// WalletRequest is a request object as a wallet reads it: the members it
// uses, and transaction_data, which it must refuse (§5.1).
type WalletRequest struct {
	RequestObject
	RedirectURI     string         `json:"redirect_uri"`
	Scope           string         `json:"scope"`
	TransactionData jsontext.Value `json:"transaction_data"`
	Request         jsontext.Value `json:"request"`
	RequestURI      jsontext.Value `json:"request_uri"`
}

// CheckRequest applies the rules of §5 and §5.9.3 to a decoded request
// object, fetched for link with walletNonce ("" when it was not posted):
// the same client identifier as the link, one this wallet takes, and its
// rule (leaf is the verified signer's certificate, nil for an unsigned
// redirect_uri request); the wallet_nonce echoed (§5.10.1); a vp_token
// request by direct_post or direct_post.jwt to an https response URI with
// a DCQL query and a nonce; no transaction_data (§5.1: refused until
// supported, with ErrTransactionData).
func CheckRequest(obj *WalletRequest, link *LinkRequest, leaf *x509.Certificate, walletNonce string) (*Query, error) {
	if obj.ClientID != link.ClientID {
		return nil, errors.New("the request object's client_id is not the link's")
	}
	if walletNonce != "" && obj.WalletNonce != walletNonce {
		return nil, errors.New("the request object does not echo the wallet_nonce")
	}
	// RFC 7519 §4.1.3 with §5.8: this wallet's metadata is static (it
	// names no issuer), so an aud, when there is one, must name
	// StaticAudience; a request object for another wallet is refused.
	if len(obj.Aud) > 0 && !slices.Contains(obj.Aud, StaticAudience) {
		return nil, errors.New("the request object's aud does not name this wallet (" + StaticAudience + ")")
	}
	if obj.ResponseType != "vp_token" {
		return nil, errors.New("response_type must be vp_token")
	}
	if obj.ResponseMode != DirectPost && obj.ResponseMode != DirectPostJWT {
		return nil, errors.New("response_mode must be direct_post or direct_post.jwt")
	}
	ru, err := url.Parse(obj.ResponseURI)
	if err != nil || ru.Scheme != "https" || ru.Host == "" {
		return nil, errors.New("response_uri must be an https URL")
	}
	if obj.Scope != "" || obj.Request != nil || obj.RequestURI != nil {
		return nil, errors.New("scope, request and request_uri have no place in this request object")
	}
	// §5.2: nonce and state are of URL-safe characters.
	if !urlSafe(obj.Nonce) || obj.State != "" && !urlSafe(obj.State) {
		return nil, errors.New("nonce (required) and state: 1 to 256 of [A-Za-z0-9._~-]")
	}
	if obj.DCQLQuery == nil {
		return nil, errors.New("dcql_query is required")
	}
	prefix, value := ClientIDPrefix(obj.ClientID)
	switch {
	case prefix == PrefixRedirectURI && leaf == nil:
		if value != obj.ResponseURI {
			return nil, errors.New("redirect_uri: the client identifier must be the response_uri")
		}
	case prefix == PrefixX509SANDNS && leaf != nil:
		if !slices.Contains(leaf.DNSNames, value) {
			return nil, errors.New("x509_san_dns: the certificate does not name the client identifier")
		}
		// The wallet trusts no client identifier more than its
		// certificate: the response goes to that host only.
		if !strings.EqualFold(ru.Hostname(), value) {
			return nil, errors.New("x509_san_dns: the response_uri is not on the client identifier's host")
		}
	case prefix == PrefixX509Hash && leaf != nil:
		if X509HashClientID(leaf.Raw) != obj.ClientID {
			return nil, errors.New("x509_hash: the client identifier is not the certificate's hash")
		}
	default:
		return nil, fmt.Errorf("client identifier prefix %q (signed: %v) is not one this wallet takes", prefix, leaf != nil)
	}
	q, err := parseQuery(obj.DCQLQuery, true)
	if err != nil {
		return nil, err
	}
	// Last, so that only an otherwise sound request is told (ToTell).
	switch {
	case obj.RedirectURI != "": // §8.2: with direct_post, redirect_uri must not be there
		return nil, ErrRedirectURI
	case obj.TransactionData != nil:
		return nil, ErrTransactionData
	}
	return q, nil
}

// The refusals of an otherwise sound request that the verifier is told
// (ToTell): redirect_uri with direct_post, which "MUST return an
// invalid_request Authorization Response error" (§8.2), and
// transaction_data, which this wallet does not support (§5.1, §8.5).
var (
	ErrRedirectURI     = errors.New(ErrInvalidRequest + ": redirect_uri has no place with direct_post")
	ErrTransactionData = errors.New(ErrInvalidTransactionData + ": transaction_data is not supported")
)

// ToTell is the error code a verifier is sent for a request CheckRequest
// refused with err (§8.5), or "" when the refusal is not for it to hear:
// a request that is not sound may name any response URI.
func ToTell(err error) string {
	switch {
	case errors.Is(err, ErrRedirectURI):
		return ErrInvalidRequest
	case errors.Is(err, ErrTransactionData):
		return ErrInvalidTransactionData
	}
	return ""
}

// Candidate is one credential a wallet holds, as DCQL sees it.
type Candidate struct {
	ID     string
	Format string
	VCT    string
	Claims map[string]any // the credential's claims, all of them
	// Authorities are what the credential can show of its issuer's
	// trust framework (§6.1.1), by type: aki, etsi_tl, openid_federation.
	Authorities map[string][]string
}

// Chosen answers one credential query: the candidate and the claims to
// disclose (the top-level claims the selected paths fall under: this
// wallet discloses whole claims).
type Chosen struct {
	QueryID     string
	CandidateID string
	Claims      []string
}

// Choose selects what answers q from candidates (§6.4): for each
// credential query the first candidate that satisfies it, with the first
// claim_sets option it can (or all its claims); credential_sets required
// satisfied by their first option that can be, optional ones when they
// can; without credential_sets every query. It returns nil and the ids of
// the queries that cannot be answered when the request cannot be.
func (q *Query) Choose(candidates []Candidate) ([]Chosen, []string) {
	answers := map[string]*Chosen{}
	for i := range q.Credentials {
		c := &q.Credentials[i]
		for _, cand := range candidates {
			if claims, ok := c.answeredBy(cand); ok {
				answers[c.ID] = &Chosen{QueryID: c.ID, CandidateID: cand.ID, Claims: claims}
				break
			}
		}
	}
	var ids, missing []string
	if q.CredentialSets == nil {
		for _, c := range q.Credentials {
			if answers[c.ID] == nil {
				missing = append(missing, c.ID)
			}
			ids = append(ids, c.ID)
		}
	} else {
		for _, set := range q.CredentialSets {
			i := slices.IndexFunc(set.Options, func(opt []string) bool {
				return !slices.ContainsFunc(opt, func(id string) bool { return answers[id] == nil })
			})
			// §6.4.2: optional sets may be left out, and are, so that
			// nothing is sent the verifier does not need.
			required := set.Required == nil || *set.Required
			switch {
			case !required:
			case i >= 0:
				ids = append(ids, set.Options[i]...)
			default:
				missing = append(missing, set.Options[0]...)
			}
		}
	}
	if len(missing) > 0 {
		return nil, slices.Compact(slices.Sorted(slices.Values(missing)))
	}
	var out []Chosen
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		out = append(out, *answers[id])
	}
	return out, nil
}

// answeredBy reports whether cand answers c, and with which top-level
// claims.
func (c *CredentialQuery) answeredBy(cand Candidate) ([]string, bool) {
	if c.Format != cand.Format || c.Format != FormatSDJWTVC || !slices.Contains(c.Meta.VCTValues, cand.VCT) {
		return nil, false
	}
	// §6.1: with trusted_authorities, a credential that matches none of
	// them is not returned.
	if c.TrustedAuthorities != nil && !slices.ContainsFunc(c.TrustedAuthorities, func(ta TrustedAuthority) bool {
		return slices.ContainsFunc(ta.Values, func(v string) bool { return slices.Contains(cand.Authorities[ta.Type], v) })
	}) {
		return nil, false
	}
	p := Presented{VCT: cand.VCT, Claims: cand.Claims}
	pick := func(cls []ClaimsQuery) ([]string, bool) {
		var names []string
		for _, cl := range cls {
			// This wallet discloses whole top-level claims; a path into one
			// would disclose more than it selects (§6.4), so it is not met.
			name, ok := cl.Path[0].(string)
			if !ok || len(cl.Path) > 1 || !cl.matches(p) {
				return nil, false
			}
			names = append(names, name)
		}
		return slices.Compact(slices.Sorted(slices.Values(names))), true
	}
	if c.ClaimSets == nil {
		return pick(c.Claims)
	}
	byID := map[string]ClaimsQuery{}
	for _, cl := range c.Claims {
		byID[cl.ID] = cl
	}
	for _, opt := range c.ClaimSets {
		var cls []ClaimsQuery
		for _, id := range opt {
			cls = append(cls, byID[id])
		}
		if names, ok := pick(cls); ok {
			return names, true
		}
	}
	return nil, false
}

// urlSafe reports whether s is 1 to 256 of the characters §5.2 allows.
func urlSafe(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
