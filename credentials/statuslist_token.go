package credentials

import (
	"crypto"
	"time"
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

type statusListClaims struct {
	Iss        string `json:"iss,omitempty"`
	Sub        string `json:"sub"`
	Iat        int64  `json:"iat"`
	Exp        int64  `json:"exp,omitzero"`
	Nbf        int64  `json:"nbf,omitzero"` // never signed here; checked when another issuer sets it
	TTL        *int64 `json:"ttl,omitempty"`
	StatusList struct {
		Bits int    `json:"bits"`
		Lst  string `json:"lst"`
	} `json:"status_list"`
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
	var c statusListClaims
	if err := unmarshalStrict(body, &c); err != nil {
		return nil, invalid(err)
	}
	switch {
	case keyIss != "" && c.Iss != keyIss:
		return nil, fail(ReasonStatusInvalid, "status list signed by another issuer's key")
	case c.Sub != uri:
		return nil, fail(ReasonStatusInvalid, "status list sub is not the referenced uri")
	case c.Iat == 0:
		return nil, fail(ReasonStatusInvalid, "status list has no iat")
	case c.Exp != 0 && !now.Before(time.Unix(c.Exp, 0)):
		return nil, fail(ReasonStatusInvalid, "status list expired")
	case c.Nbf != 0 && now.Add(DefaultSkew).Before(time.Unix(c.Nbf, 0)):
		return nil, fail(ReasonStatusInvalid, "status list not yet valid (nbf)")
	case c.TTL != nil && *c.TTL <= 0: // §5.1: "MUST be a positive number"
		return nil, fail(ReasonStatusInvalid, "ttl not positive")
	}
	list, err := DecodeStatusList(c.StatusList.Bits, c.StatusList.Lst, maxEntries)
	if err != nil {
		return nil, err
	}
	tok := &StatusListToken{Issuer: c.Iss, Subject: c.Sub, IssuedAt: time.Unix(c.Iat, 0), List: list}
	if c.TTL != nil {
		tok.TTL = time.Duration(*c.TTL) * time.Second
	}
	if c.Exp != 0 {
		tok.ExpiresAt = time.Unix(c.Exp, 0)
	}
	return tok, nil
}

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
