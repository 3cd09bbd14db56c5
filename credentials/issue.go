package credentials

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// StatusRef points at a credential's entry in a Token Status List (Token
// Status List §6.2: status.status_list {idx, uri}).
type StatusRef struct {
	Index int    `json:"idx"`
	URI   string `json:"uri"`
}

// Issuer signs SD-JWT VCs for one issuer identifier with one key.
type Issuer struct {
	iss    string
	signer crypto.Signer
	kid    string
	rand   io.Reader
}

// NewIssuer returns an issuer for iss that signs with signer, which must hold
// a P-256 key; an HSM or KMS can stand behind it. rand supplies salts and
// decoys (crypto/rand.Reader in production).
func NewIssuer(iss string, signer crypto.Signer, rand io.Reader) (*Issuer, error) {
	if iss == "" {
		return nil, errors.New("issuer identifier is empty")
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("issuer key is not ECDSA P-256")
	}
	kid, err := Thumbprint(pub)
	if err != nil {
		return nil, err
	}
	return &Issuer{iss: iss, signer: signer, kid: kid, rand: rand}, nil
}

// KeyID is the kid of the issuer's key: its RFC 7638 thumbprint.
func (is *Issuer) KeyID() string { return is.kid }

// ID is the issuer identifier placed in iss.
func (is *Issuer) ID() string { return is.iss }

// IssueParams is what one credential is made of.
type IssueParams struct {
	Type *Type
	// Claims are the issuer-supplied personal claims; Issue validates them
	// against Type and adds the derived claims at IssuedAt.
	Claims    map[string]any
	Holder    *ecdsa.PublicKey // bound as cnf.jwk (RFC 7800)
	IssuedAt  time.Time
	ExpiresAt time.Time
	// DerivedAt is when the derived claims are computed (zero: IssuedAt),
	// for an iat rounded back so that it does not single a copy out.
	DerivedAt time.Time
	Status    *StatusRef // nil: no status list entry
}

// Issue builds and signs an SD-JWT VC (RFC 9901 §4, SD-JWT VC draft §3) and
// returns it with all its disclosures, ending in "~". Every personal claim
// is selectively disclosable, as is each element of an array of objects;
// each _sd array is sorted and padded with a random number of decoys
// (RFC 9901 §4.2.5, THREATS T26).
func (is *Issuer) Issue(p IssueParams) (string, error) {
	if p.Type == nil || p.Holder == nil {
		return "", errors.New("issue: type and holder key are required")
	}
	if !p.ExpiresAt.After(p.IssuedAt) {
		return "", errors.New("issue: expiry must be after issuance")
	}
	if err := p.Type.Validate(p.Claims); err != nil {
		return "", err
	}
	claims, err := p.Type.Derive(p.Claims, cmp.Or(p.DerivedAt, p.IssuedAt))
	if err != nil {
		return "", err
	}
	cnf, err := jwk.FromRaw(p.Holder)
	if err != nil {
		return "", fmt.Errorf("issue: holder key: %w", err)
	}
	b := builder{rand: is.rand}
	payload := map[string]any{
		"iss":    is.iss,
		"vct":    p.Type.VCT,
		"iat":    p.IssuedAt.Unix(),
		"exp":    p.ExpiresAt.Unix(),
		"cnf":    map[string]any{"jwk": cnf},
		sdAlgKey: sdAlg,
	}
	if p.Status != nil {
		payload["status"] = map[string]any{"status_list": p.Status}
	}
	var sd []string
	for _, name := range slices.Sorted(maps.Keys(claims)) {
		v := claims[name]
		if c, ok := p.Type.Claim(name); ok && c.Kind == KindArray && len(c.Items) > 0 {
			if v, err = b.arrayElements(v.([]any)); err != nil {
				return "", err
			}
		}
		dg, err := b.disclose(name, v)
		if err != nil {
			return "", err
		}
		sd = append(sd, dg)
	}
	if sd, err = b.withDecoys(sd); err != nil {
		return "", err
	}
	payload[sdKey] = sd
	body, err := marshal(payload)
	if err != nil {
		return "", fmt.Errorf("issue: encode payload: %w", err)
	}
	jwt, err := signJWT(is.signer, TypSDJWTVC, is.kid, body)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	out.Grow(len(jwt) + len(b.disclosures)*64)
	out.WriteString(jwt)
	out.WriteByte('~')
	for _, d := range b.disclosures {
		out.WriteString(d)
		out.WriteByte('~')
	}
	return out.String(), nil
}

// builder makes disclosures (RFC 9901 §4.2).
type builder struct {
	rand        io.Reader
	disclosures []string
}

// salt returns 128 random bits, base64url (RFC 9901 §4.2.1 recommends 128).
func (b *builder) salt() (string, error) {
	var buf [16]byte
	if _, err := io.ReadFull(b.rand, buf[:]); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	return b64.EncodeToString(buf[:]), nil
}

// disclose makes a disclosure for a claim ([salt, name, value]) or, when
// name is "", an array element ([salt, value]), and returns its digest.
func (b *builder) disclose(name string, value any) (string, error) {
	salt, err := b.salt()
	if err != nil {
		return "", err
	}
	arr := []any{salt, name, value}
	if name == "" {
		arr = []any{salt, value}
	}
	js, err := marshal(arr)
	if err != nil {
		return "", fmt.Errorf("encode disclosure: %w", err)
	}
	d := b64.EncodeToString(js)
	b.disclosures = append(b.disclosures, d)
	return digest(d), nil
}

// arrayElements makes each element selectively disclosable (RFC 9901 §4.2.4.2).
func (b *builder) arrayElements(elems []any) ([]any, error) {
	out := make([]any, len(elems))
	for i, el := range elems {
		dg, err := b.disclose("", el)
		if err != nil {
			return nil, err
		}
		out[i] = map[string]any{arrayKey: dg}
	}
	return out, nil
}

// withDecoys adds 2 to 6 decoy digests, the digests of random salts, and
// sorts the array so its order reveals nothing (RFC 9901 §4.2.5).
func (b *builder) withDecoys(sd []string) ([]string, error) {
	var n [1]byte
	if _, err := io.ReadFull(b.rand, n[:]); err != nil {
		return nil, fmt.Errorf("read decoy count: %w", err)
	}
	for range 2 + int(n[0])%5 {
		s, err := b.salt()
		if err != nil {
			return nil, err
		}
		sd = append(sd, digest(s))
	}
	slices.Sort(sd)
	return sd, nil
}
