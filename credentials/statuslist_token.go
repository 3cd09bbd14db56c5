package credentials

import (
	"cmp"
	"crypto"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// MaxStatusListTokenBytes caps a Status List Token before it is parsed.
// Token Status List §4 and §8.3 set no size limit, and a realistic list
// (2^20 entries at 2 bits, a few percent of them set) is tens of kilobytes
// compressed, more than the MaxSDJWTBytes every other JWT is held to; 1 MiB
// is what this service reads when it fetches a list.
const MaxStatusListTokenBytes = 1 << 20

// StatusListToken is a Status List Token in JWT form (Token Status List
// §5.1 "Status List Token in JWT Format").
type StatusListToken struct {
	Issuer    string // iss
	Subject   string // sub: the URI the referenced credentials carry in status.status_list.uri
	IssuedAt  time.Time
	ExpiresAt time.Time     // zero: no exp
	TTL       time.Duration // how long a verifier may cache it (zero: no ttl)
	List      *StatusList
}

// statusListClaims are the claims this service signs.
type statusListClaims struct {
	Iss        string         `json:"iss,omitempty"`
	Sub        string         `json:"sub"`
	Iat        int64          `json:"iat"`
	Exp        int64          `json:"exp,omitzero"`
	TTL        *int64         `json:"ttl,omitempty"`
	StatusList statusListJSON `json:"status_list"`
}

// statusListRead are the claims read from any Status List Token, whose
// NumericDates may be non-integers (RFC 7519 §2) and whose ttl is "a
// positive number" (Token Status List §5.1), not only an integer.
type statusListRead struct {
	Iss        string         `json:"iss"`
	Sub        string         `json:"sub"`
	Iat        jsontext.Value `json:"iat"` // NumericDates, absent: nil
	Exp        jsontext.Value `json:"exp"`
	Nbf        jsontext.Value `json:"nbf"`
	TTL        *float64       `json:"ttl"`
	StatusList statusListJSON `json:"status_list"`
}

type statusListJSON struct {
	Bits int    `json:"bits"`
	Lst  string `json:"lst"`
}

// SignStatusList signs a Status List Token: typ statuslist+jwt, ES256, kid
// (Token Status List §5.1).
func SignStatusList(signer crypto.Signer, kid string, tok StatusListToken) (string, error) {
	var c statusListClaims
	c.Iss, c.Sub, c.Iat = tok.Issuer, tok.Subject, tok.IssuedAt.Unix()
	if !tok.ExpiresAt.IsZero() {
		c.Exp = tok.ExpiresAt.Unix()
	}
	if ttl := int64(tok.TTL / time.Second); ttl > 0 {
		c.TTL = &ttl
	}
	lst, err := tok.List.Encode()
	if err != nil {
		return "", err
	}
	c.StatusList.Bits, c.StatusList.Lst = tok.List.Bits(), lst
	body, err := marshal(c)
	if err != nil {
		return "", err
	}
	return signJWT(signer, TypStatusList, kid, body)
}

// VerifyStatusList checks a Status List Token against the trust store and
// the URI the credential referenced (Token Status List §8.3 "Validation
// Rules"): typ, ES256 by a trusted key of the issuer, sub equal to uri, iat
// present, exp not passed, nbf reached (RFC 7519 §4.1.5, within
// DefaultSkew), a ttl present positive (§5.1). The token is at most MaxStatusListTokenBytes;
// the list inflates to at most maxEntries entries
// (< 1: DefaultMaxStatusEntries). Every failure is ReasonStatusInvalid, so a
// caller can fail closed on one reason (SPEC §3.5).
func VerifyStatusList(token string, trust Trust, uri string, now time.Time, maxEntries int) (*StatusListToken, error) {
	invalid := func(err error) error { return fail(ReasonStatusInvalid, "%v", err) }
	// Token Status List §4, §8.3: no size limit, so the token has a cap of
	// its own rather than the SD-JWT one (maxJWTBytes).
	jw, err := parseJWSUpTo(token, TypStatusList, MaxStatusListTokenBytes)
	if err != nil {
		return nil, invalid(err)
	}
	key, keyIss, ok := trust.IssuerKey(jw.header.Kid)
	if !ok {
		return nil, fail(ReasonStatusInvalid, "no trusted key for the status list's kid")
	}
	body, err := jw.verify(key)
	if err != nil {
		return nil, invalid(err)
	}
	var c statusListRead
	if err := unmarshalStrict(body, &c); err != nil {
		return nil, invalid(err)
	}
	iat, err := rawNumericDate(c.Iat, "iat")
	if err != nil {
		return nil, invalid(err)
	}
	exp, err := rawNumericDate(c.Exp, "exp")
	if err != nil {
		return nil, invalid(err)
	}
	nbf, err := rawNumericDate(c.Nbf, "nbf")
	if err != nil {
		return nil, invalid(err)
	}
	switch {
	// §5.1 does not require iss (a draft removed the rule that it match
	// the Referenced Token's): the key's issuer is who signed it. An iss
	// that names another issuer is refused.
	case keyIss != "" && c.Iss != "" && c.Iss != keyIss:
		return nil, fail(ReasonStatusInvalid, "status list signed by another issuer's key")
	case c.Sub != uri:
		return nil, fail(ReasonStatusInvalid, "status list sub is not the referenced uri")
	case iat.IsZero():
		return nil, fail(ReasonStatusInvalid, "status list has no iat")
	case !exp.IsZero() && !now.Before(exp):
		return nil, fail(ReasonStatusInvalid, "status list expired")
	case !nbf.IsZero() && now.Add(DefaultSkew).Before(nbf):
		return nil, fail(ReasonStatusInvalid, "status list not yet valid (nbf)")
	case c.TTL != nil && !(*c.TTL > 0 && *c.TTL <= maxTTLSeconds): // §5.1: "MUST be a positive number"
		return nil, fail(ReasonStatusInvalid, "ttl not a positive number of seconds")
	}
	list, err := DecodeStatusList(c.StatusList.Bits, c.StatusList.Lst, maxEntries)
	if err != nil {
		return nil, err
	}
	tok := &StatusListToken{Issuer: cmp.Or(c.Iss, keyIss), Subject: c.Sub, IssuedAt: iat, ExpiresAt: exp, List: list}
	if c.TTL != nil {
		tok.TTL = time.Duration(*c.TTL * float64(time.Second))
	}
	return tok, nil
}

// maxTTLSeconds bounds a ttl read (a year), so that it converts to a
// time.Duration; callers cap how long they cache a list anyway.
const maxTTLSeconds = 365 * 24 * 3600

// CheckStatus looks up ref in a verified list and returns nil when the
// credential is valid, ReasonRevoked, ReasonSuspended, or
// ReasonStatusOutOfRange / ReasonStatusInvalid when no status can be
// established (fail closed, SPEC §3.5).
func CheckStatus(list *StatusList, ref StatusRef) error {
	v, err := list.Get(ref.Index)
	if err != nil {
		return err
	}
	return StatusError(v)
}

// SignStatusList signs a Status List Token with the issuer's key.
func (is *Issuer) SignStatusList(tok StatusListToken) (string, error) {
	if tok.Issuer == "" {
		tok.Issuer = is.iss
	}
	return SignStatusList(is.signer, is.kid, tok)
}
