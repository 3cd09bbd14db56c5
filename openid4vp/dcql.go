// Package openid4vp is the protocol of OpenID for Verifiable Presentations
// 1.0 (final) as HAIP 1.0 profiles it, for SD-JWT VC (dc+sd-jwt): DCQL
// queries, client identifiers, request objects, authorization responses.
// It holds the protocol's rules and nothing of the wallet service: no
// storage, no HTTP server; JOSE comes from package credentials.
package openid4vp

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/credentials"
)

// FormatSDJWTVC is the credential format identifier of IETF SD-JWT VC
// (OpenID4VP 1.0 §B.3.1), the only format this service verifies.
const FormatSDJWTVC = "dc+sd-jwt"

// Bounds on a query, checked before anything else reads it.
const (
	MaxQueryBytes = 16 << 10
	MaxQueryItems = 16 // credential queries, claims per query, sets, options
	maxPathLen    = 8
)

// Query is a DCQL query (OpenID4VP 1.0 §6). Unknown members are ignored,
// as §6 requires; duplicate member names are refused.
type Query struct {
	Credentials    []CredentialQuery    `json:"credentials"`
	CredentialSets []CredentialSetQuery `json:"credential_sets,omitempty"`
}

// CredentialQuery asks for one credential (§6.1).
type CredentialQuery struct {
	ID                 string             `json:"id"`
	Format             string             `json:"format"`
	Multiple           bool               `json:"multiple,omitempty"`
	Meta               *Meta              `json:"meta"`
	TrustedAuthorities []TrustedAuthority `json:"trusted_authorities,omitempty"`
	// RequireHolderBinding is require_cryptographic_holder_binding:
	// absent means true (§6.1).
	RequireHolderBinding *bool         `json:"require_cryptographic_holder_binding,omitempty"`
	Claims               []ClaimsQuery `json:"claims,omitempty"`
	ClaimSets            [][]string    `json:"claim_sets,omitempty"`
}

// Meta is the format-specific part of a credential query; for dc+sd-jwt,
// the accepted vct values (§B.3.5).
type Meta struct {
	VCTValues []string `json:"vct_values,omitempty"`
}

// TrustedAuthority names issuers or trust frameworks the verifier accepts
// (§6.1.1).
type TrustedAuthority struct {
	Type   string   `json:"type"`
	Values []string `json:"values"`
}

// CredentialSetQuery is a choice among combinations of credential queries
// (§6.2); Required absent means true.
type CredentialSetQuery struct {
	Options  [][]string `json:"options"`
	Required *bool      `json:"required,omitempty"`
}

// ClaimsQuery asks for one claim (§6.3), optionally with the values that
// match.
type ClaimsQuery struct {
	ID     string  `json:"id,omitempty"`
	Path   Path    `json:"path"`
	Values []Value `json:"values,omitempty"`
}

// Path is a claims path pointer (§7): each element a string (an object
// member), nil (every element of an array) or a non-negative index.
type Path []any

// key is p as a map key: two pointers to the same claim have the same.
func (p Path) key() string { return fmt.Sprintf("%#v", []any(p)) }

// UnmarshalJSON reads a path, refusing anything but strings, null and
// non-negative integers (§7).
func (p *Path) UnmarshalJSON(b []byte) error {
	var raw []jsontext.Value
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Path, len(raw))
	for i, v := range raw {
		switch v.Kind() {
		case '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			out[i] = s
		case 'n':
			out[i] = nil
		case '0':
			n, err := strconv.ParseUint(string(v), 10, 31)
			if err != nil {
				return errors.New("path: an index is a non-negative integer")
			}
			out[i] = int(n)
		default:
			return errors.New("path: elements are strings, null or non-negative integers")
		}
	}
	*p = out
	return nil
}

// Value is one expected claim value (§6.3): a string, an integer or a
// boolean.
type Value struct{ v any }

// UnmarshalJSON reads a string, an integer or a boolean.
func (x *Value) UnmarshalJSON(b []byte) error {
	v := jsontext.Value(b)
	switch v.Kind() {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		x.v = s
	case 't', 'f':
		x.v = v.Kind() == 't'
	case '0':
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return errors.New("values: numbers must be integers")
		}
		x.v = n
	default:
		return errors.New("values: strings, integers or booleans only")
	}
	return nil
}

// MarshalJSON writes the value back as it was read.
func (x Value) MarshalJSON() ([]byte, error) { return json.Marshal(x.v) }

// matches reports whether claim, as decoded from JSON (strings, bools,
// float64 numbers), has the same type and value (§6.4.1).
func (x Value) matches(claim any) bool {
	switch want := x.v.(type) {
	case int64:
		// Exactly (§6.3): a float64 beyond 2^53 rounds, so the integer it
		// converts back to must be want itself.
		f, ok := claim.(float64)
		return ok && f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 && int64(f) == want && f == float64(want)
	default:
		return claim == want
	}
}

// ParseQuery reads and validates a DCQL query: size first, then strict
// JSON (duplicate names refused), then Validate.
func ParseQuery(data []byte) (*Query, error) { return parseQuery(data, false) }

// parseQuery is ParseQuery; a wallet reading a verifier's query passes
// asWallet, and a claims query pointing to a claim an earlier one of its
// credential query points to is then dropped, not refused (§6.1:
// "Wallets SHOULD ignore such duplicate claim queries") — unless
// claim_sets name it, which the query cannot mean without it.
func parseQuery(data []byte, asWallet bool) (*Query, error) {
	if len(data) > MaxQueryBytes {
		return nil, fmt.Errorf("dcql_query over %d bytes", MaxQueryBytes)
	}
	var q Query
	if err := json.Unmarshal(data, &q); err != nil {
		return nil, fmt.Errorf("dcql_query: %s", credentials.JSONFault(err, "dcql_query"))
	}
	if asWallet {
		for i := range q.Credentials {
			q.Credentials[i].dropDuplicateClaims()
		}
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return &q, nil
}

// dropDuplicateClaims drops the claims queries of c whose path an earlier
// one has, but those claim_sets name.
func (c *CredentialQuery) dropDuplicateClaims() {
	seen := map[string]bool{}
	c.Claims = slices.DeleteFunc(c.Claims, func(cl ClaimsQuery) bool {
		key := cl.Path.key()
		named := cl.ID != "" && slices.ContainsFunc(c.ClaimSets, func(set []string) bool { return slices.Contains(set, cl.ID) })
		drop := seen[key] && !named
		seen[key] = true
		return drop
	})
}

// validID is the identifier rule of §6.1 and §6.3: non-empty,
// alphanumeric, underscore or hyphen.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks the structural rules of §6: ids well-formed and unique,
// meta present, claim_sets and credential_sets referring to what exists.
// It does not judge whether a format or type is supported.
func (q *Query) Validate() error {
	if len(q.Credentials) == 0 || len(q.Credentials) > MaxQueryItems {
		return fmt.Errorf("dcql_query: credentials: 1 to %d queries", MaxQueryItems)
	}
	ids := map[string]bool{}
	for i := range q.Credentials {
		c := &q.Credentials[i]
		if !validID(c.ID) || ids[c.ID] {
			return fmt.Errorf("dcql_query: credentials[%d].id: unique, 1 to 64 of [A-Za-z0-9_-]", i)
		}
		ids[c.ID] = true
		if err := c.validate(); err != nil {
			return fmt.Errorf("dcql_query: credentials[%d]: %w", i, err)
		}
	}
	if q.CredentialSets != nil && (len(q.CredentialSets) == 0 || len(q.CredentialSets) > MaxQueryItems) {
		return fmt.Errorf("dcql_query: credential_sets: 1 to %d sets", MaxQueryItems)
	}
	for i, set := range q.CredentialSets {
		if err := checkOptions(set.Options, ids); err != nil {
			return fmt.Errorf("dcql_query: credential_sets[%d].options: %w", i, err)
		}
	}
	return nil
}

func (c *CredentialQuery) validate() error {
	if c.Format == "" {
		return errors.New("format is required")
	}
	if c.Meta == nil {
		return errors.New("meta is required")
	}
	if c.Format == FormatSDJWTVC && len(c.Meta.VCTValues) == 0 {
		return errors.New("meta.vct_values is required for dc+sd-jwt")
	}
	if c.TrustedAuthorities != nil && len(c.TrustedAuthorities) == 0 {
		return errors.New("trusted_authorities: non-empty when present")
	}
	for _, ta := range c.TrustedAuthorities {
		if ta.Type == "" || len(ta.Values) == 0 {
			return errors.New("trusted_authorities: type and values are required")
		}
	}
	if c.Claims != nil && (len(c.Claims) == 0 || len(c.Claims) > MaxQueryItems) {
		return fmt.Errorf("claims: 1 to %d when present", MaxQueryItems)
	}
	claimIDs := map[string]bool{}
	paths := map[string]bool{}
	for j, cl := range c.Claims {
		if len(cl.Path) == 0 || len(cl.Path) > maxPathLen {
			return fmt.Errorf("claims[%d].path: 1 to %d elements", j, maxPathLen)
		}
		// §6.1: a verifier must not point to the same claim twice.
		key := cl.Path.key()
		if paths[key] {
			return fmt.Errorf("claims[%d].path: the same claim twice", j)
		}
		paths[key] = true
		if cl.Values != nil && len(cl.Values) == 0 {
			return fmt.Errorf("claims[%d].values: non-empty when present", j)
		}
		if cl.ID == "" {
			if c.ClaimSets != nil {
				return fmt.Errorf("claims[%d].id is required with claim_sets", j)
			}
			continue
		}
		if !validID(cl.ID) || claimIDs[cl.ID] {
			return fmt.Errorf("claims[%d].id: unique, 1 to 64 of [A-Za-z0-9_-]", j)
		}
		claimIDs[cl.ID] = true
	}
	if c.ClaimSets != nil {
		if c.Claims == nil {
			return errors.New("claim_sets without claims")
		}
		if err := checkOptions(c.ClaimSets, claimIDs); err != nil {
			return fmt.Errorf("claim_sets: %w", err)
		}
	}
	return nil
}

// checkOptions checks a non-empty list of non-empty options, each naming
// only known ids.
func checkOptions(options [][]string, known map[string]bool) error {
	if len(options) == 0 || len(options) > MaxQueryItems {
		return fmt.Errorf("1 to %d options", MaxQueryItems)
	}
	for _, opt := range options {
		if len(opt) == 0 {
			return errors.New("an option is empty")
		}
		for _, id := range opt {
			if !known[id] {
				return fmt.Errorf("unknown id %q", id)
			}
		}
	}
	return nil
}

// Select processes a claims path pointer against a credential's claims
// (§7.1): the selected values, or an error when the path does not fit
// the credential or selects nothing.
func Select(claims map[string]any, p Path) ([]any, error) {
	sel := []any{claims}
	for _, c := range p {
		var next []any
		for _, e := range sel {
			switch c := c.(type) {
			case string:
				obj, ok := e.(map[string]any)
				if !ok {
					return nil, errors.New("path selects a member of a non-object")
				}
				if v, ok := obj[c]; ok {
					next = append(next, v)
				}
			case nil:
				arr, ok := e.([]any)
				if !ok {
					return nil, errors.New("path selects all elements of a non-array")
				}
				next = append(next, arr...)
			case int:
				arr, ok := e.([]any)
				if !ok || c < 0 {
					return nil, errors.New("path selects an element of a non-array, or a negative index")
				}
				if c < len(arr) {
					next = append(next, arr[c])
				}
			default:
				return nil, errors.New("path element of another type")
			}
		}
		sel = next
	}
	if len(sel) == 0 {
		return nil, errors.New("path selects nothing")
	}
	return sel, nil
}

// Presented is what a verifier learned from one verified presentation:
// its vct and its processed claims (RFC 9901 §7.1 step 5).
type Presented struct {
	VCT    string
	Claims map[string]any
}

// matches reports whether the claims query is satisfied by p: the path
// selects something and, with values, one of the selected values is one
// of them (§6.4.1).
func (cl ClaimsQuery) matches(p Presented) bool {
	sel, err := Select(p.Claims, cl.Path)
	if err != nil {
		return false
	}
	if cl.Values == nil {
		return true
	}
	for _, v := range sel {
		if slices.ContainsFunc(cl.Values, func(x Value) bool { return x.matches(v) }) {
			return true
		}
	}
	return false
}

// satisfiedBy reports whether a presentation answers the credential query:
// its format's type rule and its claims, or one of its claim_sets
// (§6.4.1).
func (c *CredentialQuery) satisfiedBy(p Presented) bool {
	if !slices.Contains(c.Meta.VCTValues, p.VCT) {
		return false
	}
	byID := map[string]ClaimsQuery{}
	for _, cl := range c.Claims {
		byID[cl.ID] = cl
	}
	if c.ClaimSets == nil {
		for _, cl := range c.Claims {
			if !cl.matches(p) {
				return false
			}
		}
		return true
	}
	return slices.ContainsFunc(c.ClaimSets, func(opt []string) bool {
		for _, id := range opt {
			if !byID[id].matches(p) {
				return false
			}
		}
		return true
	})
}

// CheckResponse holds the VP Token validation of §8.6 that concerns the
// query: every entry names a credential query, one presentation unless
// multiple, each presentation satisfying its query, and the set of
// entries satisfying credential_sets (or, without them, every query).
// got maps a credential query id to its verified presentations.
func (q *Query) CheckResponse(got map[string][]Presented) error {
	for id, ps := range got {
		i := slices.IndexFunc(q.Credentials, func(c CredentialQuery) bool { return c.ID == id })
		if i < 0 {
			return fmt.Errorf("vp_token: %q is not a credential query of the request", id)
		}
		c := &q.Credentials[i]
		if len(ps) == 0 || (!c.Multiple && len(ps) > 1) {
			return fmt.Errorf("vp_token: %q: one presentation (or more with multiple)", id)
		}
		for _, p := range ps {
			if !c.satisfiedBy(p) {
				return fmt.Errorf("vp_token: %q: the presentation does not satisfy its query", id)
			}
		}
	}
	has := func(opt []string) bool {
		for _, id := range opt {
			if _, ok := got[id]; !ok {
				return false
			}
		}
		return true
	}
	if q.CredentialSets == nil {
		for _, c := range q.Credentials {
			if _, ok := got[c.ID]; !ok {
				return fmt.Errorf("vp_token: no presentation for %q", c.ID)
			}
		}
		return nil
	}
	for i, set := range q.CredentialSets {
		if (set.Required == nil || *set.Required) && !slices.ContainsFunc(set.Options, has) {
			return fmt.Errorf("vp_token: credential_sets[%d] is not satisfied", i)
		}
	}
	return nil
}
