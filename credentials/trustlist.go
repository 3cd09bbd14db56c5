package credentials

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// TypTrustList is the typ of a signed trust list.
const TypTrustList = "trust-list+jwt"

// MaxTrustListBytes caps a trust list token before anything in it is
// decoded, as MaxSDJWTBytes caps a presentation (SPEC §6).
const MaxTrustListBytes = maxJWTBytes

// TrustList is what a verifier may trust offline, signed by the service
// that hosts the issuers: each issuer's identifier, its keys and the vct it
// may sign (THREATS T4, T37). A verifier holding it needs no other key set
// and no type allow-list of its own.
type TrustList struct {
	Issuer    string    // iss: the signer (the service's public URL)
	IssuedAt  time.Time // iat
	ExpiresAt time.Time // exp: the list is refused from then on
	Issuers   []TrustedIssuer
}

// TrustedIssuer is one issuer of a TrustList.
type TrustedIssuer struct {
	ID     string                      // the service's id for it
	Issuer string                      // the iss of its credentials
	Name   string                      // for people; not checked
	Keys   map[string]*ecdsa.PublicKey // its keys, by kid (the RFC 7638 thumbprint)
	VCT    []string                    // the types it may sign, at least one
}

type trustListClaims struct {
	Iss     string           `json:"iss"`
	Iat     int64            `json:"iat"`
	Exp     int64            `json:"exp"`
	Issuers []trustListEntry `json:"issuers"`
}

type trustListEntry struct {
	ID     string         `json:"id"`
	Issuer string         `json:"issuer"`
	Name   string         `json:"name"`
	JWKS   jsontext.Value `json:"jwks"`
	VCT    []string       `json:"vct"`
}

// SignTrustList signs a trust list as a compact JWS (ES256, typ
// trust-list+jwt, kid). It refuses a list VerifyTrustList would refuse, so
// the service never publishes one that no verifier can use.
func SignTrustList(signer crypto.Signer, kid string, l TrustList) (string, error) {
	c := trustListClaims{Iss: l.Issuer, Iat: l.IssuedAt.Unix(), Exp: l.ExpiresAt.Unix(), Issuers: []trustListEntry{}}
	for _, is := range l.Issuers {
		jwks, err := keySet(is.Keys)
		if err != nil {
			return "", fmt.Errorf("trust list issuer %s: %w", is.ID, err)
		}
		c.Issuers = append(c.Issuers, trustListEntry{ID: is.ID, Issuer: is.Issuer, Name: is.Name, JWKS: jwks, VCT: is.VCT})
	}
	if _, err := c.list(); err != nil {
		return "", fmt.Errorf("trust list: %w", err)
	}
	body, err := marshal(c)
	if err != nil {
		return "", err
	}
	return signJWT(signer, TypTrustList, kid, body)
}

// keySet is the JWKS of keys, in kid order. Each kid must be the key's
// RFC 7638 thumbprint (SPEC §1), the kid JWKS writes.
func keySet(keys map[string]*ecdsa.PublicKey) (jsontext.Value, error) {
	var pubs []*ecdsa.PublicKey
	for _, kid := range slices.Sorted(maps.Keys(keys)) {
		tp, err := Thumbprint(keys[kid])
		if err != nil {
			return nil, err
		}
		if tp != kid {
			return nil, fmt.Errorf("kid %s is not the key's thumbprint", kid)
		}
		pubs = append(pubs, keys[kid])
	}
	return JWKS(pubs...)
}

// VerifyTrustList checks a signed trust list and returns it. It fails
// closed: the token must be at most MaxTrustListBytes, ES256 with typ
// trust-list+jwt and a kid found in keys (the signer's key set, e.g. the
// service's /.well-known/jwks.json), the signature must verify, the JSON is
// decoded strictly (duplicate member names refused), iat must not be in the
// future (beyond DefaultSkew) and now must be before exp. Each issuer needs
// an id, an issuer identifier, at least one vct and at least one P-256 key;
// no id, identifier or kid may appear twice, so a key belongs to exactly
// one issuer. Every failure is an *Error.
func VerifyTrustList(token string, keys map[string]*ecdsa.PublicKey, now time.Time) (*TrustList, error) {
	jw, err := parseJWS(token, TypTrustList)
	if err != nil {
		return nil, err
	}
	key, ok := keys[jw.header.Kid]
	if jw.header.Kid == "" || !ok {
		return nil, fail(ReasonUntrustedIssuer, "trust list signed by a key not in the signer's key set")
	}
	body, err := jw.verify(key)
	if err != nil {
		return nil, err
	}
	var c trustListClaims
	if err := unmarshalStrict(body, &c); err != nil {
		return nil, err
	}
	switch {
	case c.Iss == "":
		return nil, fail(ReasonMissingClaim, "trust list has no iss")
	case c.Iat <= 0 || c.Exp <= c.Iat:
		return nil, fail(ReasonMissingClaim, "trust list needs iat and an exp after it")
	case now.Add(DefaultSkew).Before(time.Unix(c.Iat, 0)):
		return nil, fail(ReasonNotYetValid, "trust list issued in the future")
	case !now.Before(time.Unix(c.Exp, 0)):
		return nil, fail(ReasonExpired, "trust list expired")
	}
	return c.list()
}

// list checks the entries and decodes their key sets.
func (c *trustListClaims) list() (*TrustList, error) {
	l := &TrustList{Issuer: c.Iss, IssuedAt: time.Unix(c.Iat, 0), ExpiresAt: time.Unix(c.Exp, 0)}
	ids, issuers, kids := map[string]bool{}, map[string]bool{}, map[string]string{}
	for _, e := range c.Issuers {
		switch {
		case e.ID == "" || e.Issuer == "":
			return nil, fail(ReasonMissingClaim, "trust list entry without id or issuer")
		case ids[e.ID] || issuers[e.Issuer]:
			return nil, fail(ReasonMalformed, "trust list names issuer %s twice", e.ID)
		case len(e.VCT) == 0 || slices.Contains(e.VCT, ""):
			// No vct must never mean any vct (TrustStore.AddIssuer).
			return nil, fail(ReasonMissingClaim, "trust list issuer %s has no vct", e.ID)
		}
		ids[e.ID], issuers[e.Issuer] = true, true
		keys, err := strictJWKS(e.JWKS)
		if err != nil {
			return nil, fail(ReasonMalformed, "trust list issuer %s: %v", e.ID, err)
		}
		for kid := range keys {
			if other, dup := kids[kid]; dup {
				return nil, fail(ReasonMalformed, "kid %s is listed for issuers %s and %s", kid, other, e.ID)
			}
			kids[kid] = e.ID
		}
		l.Issuers = append(l.Issuers, TrustedIssuer{ID: e.ID, Issuer: e.Issuer, Name: e.Name, Keys: keys, VCT: slices.Clone(e.VCT)})
	}
	return l, nil
}

// strictJWKS parses a JWKS in which every key is a P-256 public key with
// its own kid: ParseJWKS skips other key types and keeps one key per kid,
// which a list that binds keys to issuers must not do silently.
func strictJWKS(data jsontext.Value) (map[string]*ecdsa.PublicKey, error) {
	var set struct {
		Keys []jsontext.Value `json:"keys"`
	}
	if err := unmarshalStrict(data, &set); err != nil {
		return nil, err
	}
	keys, err := ParseJWKS(data)
	if err != nil {
		return nil, err
	}
	if len(keys) != len(set.Keys) {
		return nil, errors.New("jwks repeats a kid or holds a key that is not P-256")
	}
	return keys, nil
}

// TrustStore returns a trust store holding each issuer's keys for that
// issuer and its vct only. An entry without vct trusts nothing.
func (l *TrustList) TrustStore() *TrustStore {
	ts := NewTrustStore()
	for _, is := range l.Issuers {
		if len(is.VCT) > 0 && is.Issuer != "" {
			ts.AddIssuer(is.Issuer, is.Keys, is.VCT...)
		}
	}
	return ts
}
