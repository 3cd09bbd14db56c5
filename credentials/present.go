package credentials

import (
	"crypto"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Present returns the presentation of a stored SD-JWT that discloses only
// the named top-level claims (with every disclosure nested inside them),
// ending in "~" and ready for a KB-JWT (RFC 9901 §4, §5.2). Disclosures keep
// their issued order. Each name must be disclosable in the credential.
func Present(sdjwt string, claims []string) (string, error) {
	p, err := split(sdjwt)
	if err != nil {
		return "", err
	}
	if p.kb != "" {
		return "", errors.New("present: input already carries a key-binding jwt")
	}
	jw, err := parseJWS(p.jwt, "")
	if err != nil {
		return "", err
	}
	body, err := b64.DecodeString(jw.payload)
	if err != nil {
		return "", fail(ReasonMalformed, "jwt payload is not base64url")
	}
	var payload map[string]any
	if err := unmarshalStrict(body, &payload); err != nil {
		return "", err
	}
	byDigest := make(map[string]*disclosure, len(p.disclosures))
	for _, raw := range p.disclosures {
		d, err := decodeDisclosure(raw)
		if err != nil {
			return "", err
		}
		byDigest[digest(raw)] = d
	}
	byName := map[string]string{} // top-level claim name → digest
	for _, x := range asSlice(payload[sdKey]) {
		if dg, ok := x.(string); ok {
			if d := byDigest[dg]; d != nil && !d.isArray {
				byName[d.name] = dg
			}
		}
	}
	keep := map[string]bool{}
	var mark func(v any)
	mark = func(v any) {
		// Walk the disclosed value for nested digests (RFC 9901 §4.2.6).
		switch x := v.(type) {
		case map[string]any:
			for k, el := range x {
				if k == sdKey {
					for _, dg := range asSlice(el) {
						if s, ok := dg.(string); ok && byDigest[s] != nil && !keep[s] {
							keep[s] = true
							mark(byDigest[s].value)
						}
					}
					continue
				}
				if s, ok := el.(string); ok && k == arrayKey && len(x) == 1 && byDigest[s] != nil && !keep[s] {
					keep[s] = true
					mark(byDigest[s].value)
					continue
				}
				mark(el)
			}
		case []any:
			for _, el := range x {
				mark(el)
			}
		}
	}
	for _, name := range claims {
		dg, ok := byName[name]
		if !ok {
			return "", &ClaimError{Claim: name, Problem: "not a disclosable claim of this credential"}
		}
		if !keep[dg] {
			keep[dg] = true
			mark(byDigest[dg].value)
		}
	}
	var out strings.Builder
	out.WriteString(p.jwt)
	out.WriteByte('~')
	for _, raw := range p.disclosures {
		if keep[digest(raw)] {
			out.WriteString(raw)
			out.WriteByte('~')
		}
	}
	return out.String(), nil
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// Disclosable lists the top-level claim names a stored SD-JWT can disclose.
func Disclosable(sdjwt string) ([]string, error) {
	p, err := split(sdjwt)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, raw := range p.disclosures {
		d, err := decodeDisclosure(raw)
		if err != nil {
			return nil, err
		}
		if !d.isArray {
			names = append(names, d.name)
		}
	}
	return names, nil
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
	return presentation + kb, nil
}
