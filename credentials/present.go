package credentials

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Present returns the presentation of a stored SD-JWT that discloses only
// the named top-level claims (with every disclosure nested inside them),
// ending in "~" and ready for a KB-JWT (RFC 9901 §4, §5.2). Disclosures keep
// their issued order. Each name must be disclosable in the credential.
func Present(sdjwt string, claims []string) (string, error) {
	st, err := parseStored(sdjwt)
	if err != nil {
		return "", err
	}
	// Keep each chosen claim's disclosure and, walking its value, every
	// disclosure nested inside it (RFC 9901 §4.2.6).
	keep := map[string]bool{}
	var take func(dg string)
	var walk func(v any)
	take = func(dg string) {
		if d := st.byDigest[dg]; d != nil && !keep[dg] {
			keep[dg] = true
			walk(d.value)
		}
	}
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, el := range x {
				s, isString := el.(string)
				switch {
				case k == sdKey:
					for _, dg := range asSlice(el) {
						if s, ok := dg.(string); ok {
							take(s)
						}
					}
				case k == arrayKey && isString:
					take(s)
				default:
					walk(el)
				}
			}
		case []any:
			for _, el := range x {
				walk(el)
			}
		}
	}
	for _, name := range claims {
		dg, ok := st.byName[name]
		if !ok {
			return "", &ClaimError{Claim: name, Problem: "not a disclosable claim of this credential"}
		}
		take(dg)
	}
	var out strings.Builder
	out.WriteString(st.jwt)
	out.WriteByte('~')
	for _, raw := range st.disclosures {
		if keep[digest(raw)] {
			out.WriteString(raw)
			out.WriteByte('~')
		}
	}
	return out.String(), nil
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// Disclosable lists, sorted, the top-level claim names a stored SD-JWT can
// disclose: the names Present accepts.
func Disclosable(sdjwt string) ([]string, error) {
	st, err := parseStored(sdjwt)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(st.byName))
	for n := range st.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// stored is an SD-JWT as its holder keeps it, indexed for presentation.
type stored struct {
	*parts
	byDigest map[string]*disclosure
	byName   map[string]string // top-level claim name → digest
}

// parseStored indexes a stored SD-JWT. Its signature is not checked: the
// holder presents what the issuer gave, and the verifier checks it.
func parseStored(sdjwt string) (*stored, error) {
	p, err := split(sdjwt)
	if err != nil {
		return nil, err
	}
	if p.kb != "" {
		return nil, errors.New("present: input already carries a key-binding jwt")
	}
	jw, err := parseJWS(p.jwt, "")
	if err != nil {
		return nil, err
	}
	body, err := b64.DecodeString(jw.payload)
	if err != nil {
		return nil, fail(ReasonMalformed, "jwt payload is not base64url")
	}
	var payload map[string]any
	if err := unmarshalStrict(body, &payload); err != nil {
		return nil, err
	}
	st := &stored{parts: p, byDigest: make(map[string]*disclosure, len(p.disclosures)), byName: map[string]string{}}
	for _, raw := range p.disclosures {
		d, err := decodeDisclosure(raw)
		if err != nil {
			return nil, err
		}
		st.byDigest[digest(raw)] = d
	}
	for _, x := range asSlice(payload[sdKey]) {
		if dg, ok := x.(string); ok {
			if d := st.byDigest[dg]; d != nil && !d.isArray {
				st.byName[d.name] = dg
			}
		}
	}
	return st, nil
}

// SDHash is the sd_hash of a presentation (RFC 9901 §4.3.1): base64url
// SHA-256 over its exact bytes, from the issuer-signed JWT up to and
// including the last "~".
func SDHash(presentation string) string {
	if i := strings.LastIndexByte(presentation, '~'); i >= 0 {
		presentation = presentation[:i+1]
	}
	return digest(presentation)
}

// KB is the payload of a Key Binding JWT (RFC 9901 §4.3).
type KB struct {
	Nonce    string `json:"nonce"`
	Aud      string `json:"aud"`
	IssuedAt int64  `json:"iat"`
	SDHash   string `json:"sd_hash"`
}

// SignKB signs a KB-JWT (typ kb+jwt, ES256) with the holder's device key.
// Appending it to the presentation it was made for gives the SD-JWT+KB.
func SignKB(holder crypto.Signer, kb KB) (string, error) {
	if kb.Aud == "" || kb.Nonce == "" || kb.SDHash == "" || kb.IssuedAt == 0 {
		return "", errors.New("sign kb-jwt: aud, nonce, iat and sd_hash are required")
	}
	body, err := marshal(kb)
	if err != nil {
		return "", fmt.Errorf("encode kb-jwt: %w", err)
	}
	return signJWT(holder, TypKB, "", body)
}

// Bind appends a KB-JWT over presentation, signed by holder, for audience
// aud and nonce at iat: the holder's side of RFC 9901 §4.3 in one call.
func Bind(presentation string, holder crypto.Signer, aud, nonce string, iat time.Time) (string, error) {
	if !strings.HasSuffix(presentation, "~") {
		return "", errors.New("bind: presentation must end in ~")
	}
	kb, err := SignKB(holder, KB{Nonce: nonce, Aud: aud, IssuedAt: iat.Unix(), SDHash: SDHash(presentation)})
	if err != nil {
		return "", err
	}
	return Attach(presentation, kb)
}

// Attach appends kb to presentation, a verifier's side of RFC 9901 §4.3:
// presentation is what the caller itself prepared (the issuer-signed JWT
// and the chosen disclosures, ending in "~"), kb must be exactly one
// compact JWS (RFC 7515 §7.1: three base64url parts, no "~"), so nothing
// the holder sends can add a disclosure (THREATS T32). A header alg other
// than ES256 is refused as ReasonUnsupportedAlg, any other kb that is not
// one compact JWS as ReasonKBInvalid. The KB-JWT itself is checked by
// Verify.
func Attach(presentation, kb string) (string, error) {
	if !strings.HasSuffix(presentation, "~") {
		return "", errors.New("attach: presentation must end in ~")
	}
	if len(kb) > maxJWTBytes {
		return "", fail(ReasonKBInvalid, "kb-jwt is not one compact JWS")
	}
	// SPEC §6, THREATS T2: the header's alg is read before the shape is
	// checked, so alg none, whose signature is empty (RFC 7519 §6.1) and
	// would fail the shape, is refused as what it is. Any kb gets past here
	// only with an ES256 header or none readable, and then faces the shape.
	var jw compactJWS
	var hdr struct {
		Alg string `json:"alg"`
	}
	if splitJWS(kb, maxJWTBytes, &jw, &hdr) == nil && hdr.Alg != algES256 {
		return "", fail(ReasonUnsupportedAlg, "kb-jwt alg %q is not allowed", hdr.Alg)
	}
	if !compactJWSShape(kb) {
		return "", fail(ReasonKBInvalid, "kb-jwt is not one compact JWS")
	}
	return presentation + kb, nil
}

// compactJWSShape reports whether s is three non-empty base64url parts
// (RFC 7515 §7.1, RFC 4648 §5 without padding) joined by two dots.
func compactJWSShape(s string) bool {
	parts, part := 1, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if part == 0 {
				return false
			}
			parts, part = parts+1, 0
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			part++
		default:
			return false
		}
	}
	return parts == 3 && part > 0
}

// SignedBy returns the kid in the header of an SD-JWT's issuer-signed JWT,
// not verified: it is for the holder's side, to see which issuer key
// signed a stored copy (for instance one retired since).
func SignedBy(sdjwt string) (string, error) {
	jwt, _, _ := strings.Cut(sdjwt, "~")
	jw, err := parseJWS(jwt, "")
	if err != nil {
		return "", err
	}
	return jw.header.Kid, nil
}

// StatusOf returns the status reference (Token Status List §6.2) in an
// SD-JWT's issuer-signed JWT, nil when it has none, not verified: it is for
// a presentation the caller has verified.
func StatusOf(sdjwt string) (*StatusRef, error) {
	jwt, _, _ := strings.Cut(sdjwt, "~")
	jw, err := parseJWS(jwt, "")
	if err != nil {
		return nil, err
	}
	body, err := b64.DecodeString(jw.payload)
	if err != nil {
		return nil, fail(ReasonMalformed, "payload is not base64url")
	}
	var payload struct {
		Status any `json:"status"`
	}
	if err := unmarshalStrict(body, &payload); err != nil {
		return nil, err
	}
	if payload.Status == nil {
		return nil, nil
	}
	return readStatus(payload.Status)
}

// DisclosableValues returns the values of the top-level claims a stored
// SD-JWT can disclose, read from its own disclosures without verifying the
// issuer's signature: it is for the holder's side, to see what a stored
// credential says (for instance whether its derived claims are stale).
func DisclosableValues(sdjwt string) (map[string]any, error) {
	st, err := parseStored(sdjwt)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(st.byName))
	for name, dg := range st.byName {
		out[name] = st.byDigest[dg].value
	}
	return out, nil
}
