package offline

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Prefix is the text form of a compact signed share: EIDC1: and the
// base45 of its COSE_Sign1 (tagged, 18).
const Prefix = "EIDC1:"

// MaxTextBytes caps an EIDC1: text before it is decoded (a version 40 QR
// holds 4,296 alphanumeric characters).
const MaxTextBytes = 4296

// MaxLifetime is the longest a compact share is valid: exp at most this
// after iat (issue 12 item 1).
const MaxLifetime = 120 * time.Second

// Share is what a compact signed share attests: the claims disclosed of
// one credential of a hosted issuer, the credential's status entry, when,
// and that the holder's device signed the consent (its KB-JWT was
// verified when the code was minted).
type Share struct {
	Type        string         // credential type id
	IssuerID    string         // the hosted issuer
	StatusList  int            // the credential's status list (-1: none)
	StatusIndex int            // its index in it
	Claims      map[string]any // the disclosed claims, by name
	Consent     bool           // the holder's device signed the consent
	IssuedAt    time.Time
	ExpiresAt   time.Time
	CTI         []byte // unique id: a verifier refuses a second scan
}

// cwtShare is the CWT of a share (RFC 8392 §3.1: exp 4, iat 6, cti 7),
// the share itself in the private claim -70001 (RFC 8392 §4: negative
// labels are for private use).
type cwtShare struct {
	Exp   int64        `cbor:"4,keyasint"`
	Iat   int64        `cbor:"6,keyasint"`
	CTI   []byte       `cbor:"7,keyasint"`
	Share sharePayload `cbor:"-70001,keyasint"`
}

type sharePayload struct {
	Type    string         `cbor:"1,keyasint"`
	Issuer  string         `cbor:"2,keyasint"`
	Status  []int          `cbor:"3,keyasint,omitempty"` // [list, index]
	Claims  map[string]any `cbor:"4,keyasint"`
	Consent bool           `cbor:"5,keyasint"`
}

// encMode writes deterministic CBOR (RFC 8949 §4.2.1): the same share
// always encodes to the same bytes.
var encMode = mustEnc(cbor.CoreDetEncOptions())

// decMode reads untrusted CBOR with bounds: no duplicate map keys, no
// indefinite lengths, shallow nesting, small containers; maps of text
// keys as map[string]any.
var decMode = mustDec(cbor.DecOptions{
	DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden, MaxNestedLevels: 8,
	MaxArrayElements: 4096, MaxMapPairs: 4096, DefaultMapType: mapStringAny, ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
})

var mapStringAny = reflect.TypeFor[map[string]any]()

func mustEnc(o cbor.EncOptions) cbor.EncMode {
	m, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

func mustDec(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

// KeyID is the COSE kid of a P-256 key: the first 8 bytes of the SHA-256
// of its uncompressed point (short, as in a QR every byte counts).
func KeyID(pub *ecdsa.PublicKey) []byte {
	b, _ := pub.Bytes()
	sum := sha256.Sum256(b)
	return sum[:8]
}

// Sign makes the EIDC1: text of s, signed ES256 by signer (a P-256 key)
// with its kid in the protected header.
func Sign(random io.Reader, signer crypto.Signer, s Share) (string, error) {
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return "", errors.New("offline: the signer is not a P-256 key")
	}
	if s.ExpiresAt.Sub(s.IssuedAt) > MaxLifetime || !s.ExpiresAt.After(s.IssuedAt) || len(s.CTI) < 8 {
		return "", errors.New("offline: exp within 120 s after iat, and a cti of 8 bytes or more")
	}
	c := cwtShare{Exp: s.ExpiresAt.Unix(), Iat: s.IssuedAt.Unix(), CTI: s.CTI,
		Share: sharePayload{Type: s.Type, Issuer: s.IssuerID, Claims: s.Claims, Consent: s.Consent}}
	if s.StatusList >= 0 {
		c.Share.Status = []int{s.StatusList, s.StatusIndex}
	}
	payload, err := encMode.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("offline: encode share: %w", err)
	}
	raw, err := sign1(random, signer, pub, nil, payload)
	if err != nil {
		return "", err
	}
	return Text(raw), nil
}

// Text is the EIDC1: text of the COSE_Sign1 bytes raw: Prefix, then
// base45 (RFC 9285).
func Text(raw []byte) string { return Prefix + encode45(raw) }

// sign1 is a tagged COSE_Sign1 ES256 of payload with kid (and typ, when
// not empty) in the protected header.
func sign1(random io.Reader, signer crypto.Signer, pub *ecdsa.PublicKey, typ any, payload []byte) ([]byte, error) {
	s, err := cose.NewSigner(cose.AlgorithmES256, signer)
	if err != nil {
		return nil, err
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = KeyID(pub)
	if typ != nil {
		msg.Headers.Protected[cose.HeaderLabelType] = typ
	}
	msg.Payload = payload
	if err := msg.Sign(random, nil, s); err != nil {
		return nil, fmt.Errorf("offline: sign: %w", err)
	}
	return msg.MarshalCBOR()
}

// Reason is why a code or a bundle is refused.
type Reason string

const (
	ReasonMalformed        Reason = "malformed"
	ReasonUnsupportedAlg   Reason = "unsupported_alg"
	ReasonUnknownKey       Reason = "unknown_key"
	ReasonInvalidSignature Reason = "invalid_signature"
	ReasonExpired          Reason = "expired"
	ReasonNotYetValid      Reason = "not_yet_valid"
	ReasonNotAuthorized    Reason = "not_authorized_for_type"
	ReasonRevoked          Reason = "credential_revoked"
	ReasonSuspended        Reason = "credential_suspended"
	ReasonStatusUnknown    Reason = "status_unknown"
	ReasonStale            Reason = "cannot_verify_offline" // the bundle is too old, or the clock before it
	ReasonAlreadyUsed      Reason = "already_used"          // the code is in the counter's seen-cti store (a verifier's, THREATS T39)
)

// Error is a refusal with its reason.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Detail }

func refuse(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf is the reason of err, "" when it is not an *Error.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// open checks a tagged COSE_Sign1: ES256 in the protected header (the
// only algorithm, RFC 9053 §2.1), no crit, the kid's key from keyFor, the
// signature; it returns the kid and the payload.
func open(raw []byte, keyFor func(kid []byte) (*ecdsa.PublicKey, error)) ([]byte, []byte, any, error) {
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(raw); err != nil {
		return nil, nil, nil, refuse(ReasonMalformed, "not a COSE_Sign1")
	}
	if alg, err := msg.Headers.Protected.Algorithm(); err != nil || alg != cose.AlgorithmES256 {
		return nil, nil, nil, refuse(ReasonUnsupportedAlg, "alg must be ES256 in the protected header")
	}
	if _, crit := msg.Headers.Protected[cose.HeaderLabelCritical]; crit {
		return nil, nil, nil, refuse(ReasonMalformed, "crit is not supported")
	}
	// Nothing unprotected: a header no signature covers could only mislead
	// a verifier that reads it (and makes one code many texts).
	if len(msg.Headers.Unprotected) > 0 {
		return nil, nil, nil, refuse(ReasonMalformed, "an unprotected header")
	}
	kid, _ := msg.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	if kid == nil {
		return nil, nil, nil, refuse(ReasonUnknownKey, "no kid in the protected header")
	}
	pub, err := keyFor(kid)
	if err != nil {
		return nil, nil, nil, err
	}
	v, err := cose.NewVerifier(cose.AlgorithmES256, pub)
	if err != nil {
		return nil, nil, nil, refuse(ReasonUnknownKey, "the key is not P-256")
	}
	if err := msg.Verify(nil, v); err != nil {
		return nil, nil, nil, refuse(ReasonInvalidSignature, "signature does not verify")
	}
	return kid, msg.Payload, msg.Headers.Protected[cose.HeaderLabelType], nil
}

// Parse checks an EIDC1: text: its form, its signature by the key keyFor
// gives for its kid, and its times against now (skew allowed for the
// verifier's clock). It returns the share and the kid that signed it; who
// may attest what, and the status, are the caller's (Bundle.Verify).
func Parse(text string, keyFor func(kid []byte) (*ecdsa.PublicKey, error), now time.Time, skew time.Duration) (*Share, []byte, error) {
	if len(text) > MaxTextBytes {
		return nil, nil, refuse(ReasonMalformed, "over %d characters", MaxTextBytes)
	}
	// Surrounding ASCII whitespace is forgiven, as for EID1: codes: a
	// counter scanner types an Enter after the code. Space is a base45
	// character, but never a code's last (RFC 9285 §4: the last of three
	// is at most 65535/2025 = 32, of two at most 255/45 = 5; space is 36).
	text = strings.Trim(text, " \t\r\n")
	body, ok := strings.CutPrefix(text, Prefix)
	if !ok {
		return nil, nil, refuse(ReasonMalformed, "not an EIDC1: code")
	}
	raw, err := decode45(body)
	if err != nil {
		return nil, nil, refuse(ReasonMalformed, "not base45")
	}
	kid, payload, _, err := open(raw, keyFor)
	if err != nil {
		return nil, nil, err
	}
	var c cwtShare
	if err := decMode.Unmarshal(payload, &c); err != nil {
		return nil, nil, refuse(ReasonMalformed, "not a share's CWT")
	}
	s := &Share{Type: c.Share.Type, IssuerID: c.Share.Issuer, StatusList: -1, Claims: c.Share.Claims, Consent: c.Share.Consent,
		IssuedAt: time.Unix(c.Iat, 0).UTC(), ExpiresAt: time.Unix(c.Exp, 0).UTC(), CTI: c.CTI}
	switch len(c.Share.Status) {
	case 0:
	case 2:
		s.StatusList, s.StatusIndex = c.Share.Status[0], c.Share.Status[1]
	default:
		return nil, nil, refuse(ReasonMalformed, "status is [list, index]")
	}
	switch {
	case s.Type == "" || s.IssuerID == "" || len(s.CTI) < 8 || s.Claims == nil:
		return nil, nil, refuse(ReasonMalformed, "type, issuer, cti and claims are required")
	case s.ExpiresAt.Sub(s.IssuedAt) > MaxLifetime || !s.ExpiresAt.After(s.IssuedAt):
		return nil, nil, refuse(ReasonMalformed, "exp must be within 120 s after iat")
	case !now.Before(s.ExpiresAt.Add(skew)):
		return nil, nil, refuse(ReasonExpired, "the code has expired")
	case now.Add(skew).Before(s.IssuedAt):
		return nil, nil, refuse(ReasonNotYetValid, "the code is from the future")
	}
	return s, kid, nil
}
