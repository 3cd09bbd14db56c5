package credentials

import (
	"strings"

	"github.com/go-json-experiment/json"
)

// Limits applied to untrusted input before it is parsed (SPEC §6, THREATS T22).
const (
	MaxSDJWTBytes  = 64 << 10 // a whole SD-JWT or SD-JWT+KB
	MaxDisclosures = 256
	MaxDepth       = 16 // JSON nesting of the processed payload
)

// Reserved names of RFC 9901 §4.2.
const (
	sdKey    = "_sd"
	arrayKey = "..."
	sdAlgKey = "_sd_alg"
	sdAlg    = "sha-256" // the only _sd_alg accepted (SPEC §6)
)

// validityClaim reports the SD-JWT VC claims that must never be
// selectively disclosed (draft-ietf-oauth-sd-jwt-vc-18 §2.2.2.3 "Registered
// JWT Claims": they "MUST NOT be included in the Disclosures"), as a whole
// or in part. A verifier refuses exactly these, so credentials from issuers
// that disclose iat (which the draft allows) still verify; this issuer never
// discloses iat either (SPEC §2), see issuerReserved.
func validityClaim(name string) bool {
	switch name {
	case "iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "aka_vcts", "status":
		return true
	}
	return false
}

// issuerReserved are the names a credential type may not use for a claim
// of its own: the validity claims, iat, and RFC 9901's reserved names.
func issuerReserved(name string) bool {
	return validityClaim(name) || name == "iat" || name == sdKey || name == arrayKey || name == sdAlgKey
}

// parts is an SD-JWT split at its tildes (RFC 9901 §4): the issuer-signed
// JWT, the disclosures as received, and the KB-JWT ("" when absent).
type parts struct {
	jwt         string
	disclosures []string
	kb          string
	// sdHashInput is everything up to and including the last "~", the
	// exact bytes sd_hash covers (RFC 9901 §4.3.1).
	sdHashInput string
}

// split separates an SD-JWT or SD-JWT+KB. Sizes are capped before any
// allocation proportional to the input (THREATS T22).
func split(s string) (*parts, error) {
	if len(s) > MaxSDJWTBytes {
		return nil, fail(ReasonTooLarge, "sd-jwt over %d bytes", MaxSDJWTBytes)
	}
	n := strings.Count(s, "~")
	if n == 0 {
		return nil, fail(ReasonMalformed, "no ~ separator: not an sd-jwt")
	}
	if n-1 > MaxDisclosures {
		return nil, fail(ReasonTooManyDisclosures, "more than %d disclosures", MaxDisclosures)
	}
	last := strings.LastIndexByte(s, '~')
	p := &parts{sdHashInput: s[:last+1], kb: s[last+1:]}
	fields := strings.Split(s[:last], "~")
	p.jwt, p.disclosures = fields[0], fields[1:]
	if p.jwt == "" {
		return nil, fail(ReasonMalformed, "empty issuer-signed jwt")
	}
	for _, d := range p.disclosures {
		if d == "" {
			return nil, fail(ReasonMalformed, "empty disclosure")
		}
	}
	return p, nil
}

// disclosure is one decoded disclosure (RFC 9901 §4.2.1, §4.2.2).
type disclosure struct {
	raw     string // base64url as received; the digest input
	salt    string
	name    string // "" for an array element
	isArray bool
	value   any
	used    bool
}

// decodeDisclosure decodes [salt, name, value] or [salt, value].
func decodeDisclosure(raw string) (*disclosure, error) {
	// RFC 9901 §4.2.1: base64url, which b64 holds to RFC 7515 §2 (no line
	// breaks); the digest is over raw as received, so a line break the
	// decoder skipped would still match it.
	js, err := b64.DecodeString(raw)
	if err != nil {
		return nil, fail(ReasonInvalidDisclosure, "disclosure is not base64url")
	}
	var arr []any
	if err := unmarshalStrict(js, &arr); err != nil {
		if ReasonOf(err) == ReasonDuplicateKey {
			return nil, err
		}
		return nil, fail(ReasonInvalidDisclosure, "disclosure is not a json array")
	}
	d := &disclosure{raw: raw}
	var ok bool
	switch len(arr) {
	case 3:
		if d.name, ok = arr[1].(string); !ok {
			return nil, fail(ReasonInvalidDisclosure, "disclosure claim name is not a string")
		}
		// RFC 9901 §7.1 step 3.c.ii.3.
		if d.name == sdKey || d.name == arrayKey {
			return nil, fail(ReasonForbiddenClaimName, "disclosure claim name is reserved")
		}
		d.value = arr[2]
	case 2:
		d.isArray, d.value = true, arr[1]
	default:
		return nil, fail(ReasonInvalidDisclosure, "disclosure has %d elements, want 2 or 3", len(arr))
	}
	if d.salt, ok = arr[0].(string); !ok {
		return nil, fail(ReasonInvalidDisclosure, "disclosure salt is not a string")
	}
	return d, nil
}

// processor replaces digests with disclosed values: RFC 9901 §7.1 step 3.
type processor struct {
	byDigest map[string]*disclosure
	// seen holds every digest met in the payload or in a disclosure: RFC
	// 9901 §7.1 step 3 rejects a digest "encountered more than once",
	// decoys included (THREATS T6).
	seen     map[string]bool
	reserved func(string) bool // top-level names never to be disclosed, in whole or in part (nil: none)
	// disclosed lists the top-level claims that came from disclosures.
	disclosed []string
	// within names the top-level claims a disclosure below the top level
	// (an object's property, an array's element) was used inside; under
	// is the top-level claim being processed.
	within map[string]bool
	under  string
}

func newProcessor(raws []string, reserved func(string) bool) (*processor, error) {
	p := &processor{
		byDigest: make(map[string]*disclosure, len(raws)),
		seen:     make(map[string]bool, len(raws)+8),
		reserved: reserved,
		within:   map[string]bool{},
	}
	for _, raw := range raws {
		dg := digest(raw)
		// The same disclosure twice hashes to the same digest (T6).
		if _, dup := p.byDigest[dg]; dup {
			return nil, fail(ReasonDuplicateDigest, "a disclosure is repeated")
		}
		d, err := decodeDisclosure(raw)
		if err != nil {
			return nil, err
		}
		p.byDigest[dg] = d
	}
	return p, nil
}

// object processes one JSON object in place and returns it.
func (p *processor) object(obj map[string]any, depth int, top bool) (map[string]any, error) {
	if depth > MaxDepth {
		return nil, fail(ReasonTooDeep, "json nested deeper than %d", MaxDepth)
	}
	// Plain members first, so a disclosed value is never processed twice.
	for k, v := range obj {
		if k == sdKey {
			continue
		}
		// SD-JWT VC draft-18 §2.2.2.3: no part of these claims may be
		// disclosed either, or cnf.jwk would be the holder's to choose and
		// status.status_list the holder's to withhold (THREATS T8).
		if top && p.reserved != nil && p.reserved(k) {
			if err := noDigests(k, v, depth+1); err != nil {
				return nil, err
			}
		}
		if top {
			p.under = k
		}
		nv, err := p.value(v, depth+1)
		if err != nil {
			return nil, err
		}
		obj[k] = nv
	}
	sd, has := obj[sdKey]
	if !has {
		return obj, nil
	}
	delete(obj, sdKey)
	digests, ok := sd.([]any)
	if !ok {
		return nil, fail(ReasonMalformed, "_sd is not an array")
	}
	for _, x := range digests {
		dg, ok := x.(string)
		if !ok {
			return nil, fail(ReasonMalformed, "_sd holds a non-string")
		}
		if p.seen[dg] {
			return nil, fail(ReasonDuplicateDigest, "a digest appears more than once")
		}
		p.seen[dg] = true
		d := p.byDigest[dg]
		if d == nil {
			continue // a decoy, or a claim not disclosed
		}
		if d.isArray {
			return nil, fail(ReasonInvalidDisclosure, "array-element disclosure referenced from _sd")
		}
		// RFC 9901 §7.1 step 3.c.ii.4.
		if _, exists := obj[d.name]; exists {
			return nil, fail(ReasonClaimNameCollision, "disclosed claim name already present")
		}
		// SD-JWT VC draft-18 §2.2.2.3 (THREATS T8).
		if top && p.reserved != nil && p.reserved(d.name) {
			return nil, fail(ReasonSDValidityClaim, "claim %s must not be selectively disclosed", d.name)
		}
		d.used = true
		if top {
			p.under = d.name
		} else {
			p.within[p.under] = true
		}
		v, err := p.value(d.value, depth+1)
		if err != nil {
			return nil, err
		}
		obj[d.name] = v
		if top {
			p.disclosed = append(p.disclosed, d.name)
		}
	}
	return obj, nil
}

// noDigests refuses an _sd member or an array-element digest anywhere in v,
// the value of the claim name that must not be selectively disclosed: a
// digest there is refused whether or not its disclosure was sent, since a
// withheld one would look like a decoy.
func noDigests(name string, v any, depth int) error {
	if depth > MaxDepth {
		return fail(ReasonTooDeep, "json nested deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case map[string]any:
		if _, has := x[sdKey]; has {
			return fail(ReasonSDValidityClaim, "claim %s must not be selectively disclosed in part", name)
		}
		for _, el := range x {
			if err := noDigests(name, el, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, el := range x {
			if obj, ok := el.(map[string]any); ok && len(obj) == 1 {
				if _, isRef := obj[arrayKey]; isRef {
					return fail(ReasonSDValidityClaim, "claim %s must not be selectively disclosed in part", name)
				}
			}
			if err := noDigests(name, el, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// array processes one JSON array: RFC 9901 §7.1 step 3.d.
func (p *processor) array(arr []any, depth int) ([]any, error) {
	if depth > MaxDepth {
		return nil, fail(ReasonTooDeep, "json nested deeper than %d", MaxDepth)
	}
	out := arr[:0]
	for _, el := range arr {
		if obj, ok := el.(map[string]any); ok && len(obj) == 1 {
			if ref, isRef := obj[arrayKey]; isRef {
				dg, ok := ref.(string)
				if !ok {
					return nil, fail(ReasonMalformed, "array element digest is not a string")
				}
				if p.seen[dg] {
					return nil, fail(ReasonDuplicateDigest, "a digest appears more than once")
				}
				p.seen[dg] = true
				d := p.byDigest[dg]
				if d == nil {
					continue // undisclosed or decoy element: removed
				}
				if !d.isArray {
					return nil, fail(ReasonInvalidDisclosure, "object-property disclosure referenced from an array")
				}
				d.used = true
				p.within[p.under] = true
				v, err := p.value(d.value, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
				continue
			}
		}
		v, err := p.value(el, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (p *processor) value(v any, depth int) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		return p.object(x, depth, false)
	case []any:
		return p.array(x, depth)
	}
	return v, nil
}

// finish checks that every disclosure was referenced (RFC 9901 §7.1 step 4).
func (p *processor) finish() error {
	for _, d := range p.byDigest {
		if !d.used {
			return fail(ReasonInvalidDisclosure, "a disclosure is not referenced by any digest")
		}
	}
	return nil
}

// marshal encodes a value for a payload or disclosure. Map keys are sorted
// so that output is reproducible.
func marshal(v any) ([]byte, error) { return json.Marshal(v, json.Deterministic(true)) }
