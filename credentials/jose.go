package credentials

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// JWT media types this package signs and accepts.
const (
	TypSDJWTVC    = "dc+sd-jwt"      // SD-JWT VC draft §3.2.1
	TypKB         = "kb+jwt"         // RFC 9901 §4.3
	TypStatusList = "statuslist+jwt" // Token Status List §5.1
	algES256      = "ES256"          // the only algorithm allowed (SPEC §1, §6)
	maxJWTBytes   = MaxSDJWTBytes    // no JWT of ours is larger than a whole SD-JWT
)

// b64 is base64url without padding (RFC 7515 §2). Strict rejects non-zero
// trailing bits, so every value has exactly one encoding.
var b64 = base64url{base64.RawURLEncoding.Strict()}

// base64url is the encoding of every JWS part (RFC 7515 §7.1) and every
// disclosure (RFC 9901 §4.2) this package reads. encoding/base64 skips CR
// and LF when decoding, even under Strict, so a line break inserted into a
// signature or a disclosure would leave it valid; RFC 7515 §2 allows no line
// breaks, whitespace or other additional characters, so DecodeString
// refuses them.
type base64url struct{ enc *base64.Encoding }

func (e base64url) EncodeToString(b []byte) string { return e.enc.EncodeToString(b) }

func (e base64url) DecodeString(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("base64url with a line break")
	}
	return e.enc.DecodeString(s)
}

// es256Verifier is jwx's ES256 signature check. Verification goes through
// it directly on the signing input we split ourselves, so each JWS is parsed
// once (by this package, with the strict header rules below) rather than
// twice.
var es256Verifier = mustES256Verifier()

func mustES256Verifier() jws.Verifier {
	v, err := jws.NewVerifier(jwa.ES256)
	if err != nil {
		panic(err) // ES256 is built into jwx; this cannot fail
	}
	return v
}

// header is the JOSE header of a JWT this package accepts. Members that
// would let a token pick its own key are captured only to be refused.
type header struct {
	Alg  string         `json:"alg"`
	Typ  string         `json:"typ"`
	Kid  string         `json:"kid"`
	JWK  jsontext.Value `json:"jwk"`
	JKU  jsontext.Value `json:"jku"`
	X5U  jsontext.Value `json:"x5u"`
	X5C  jsontext.Value `json:"x5c"`
	Crit jsontext.Value `json:"crit"`
}

// compactJWS is a split, not yet verified, compact JWS.
type compactJWS struct {
	header       header
	payload      string // base64url, decoded only after the signature is checked
	signingInput string
	rawSignature string // base64url as received, decoded by decodeSignature
	signature    []byte
}

// parseJWS splits a compact JWS of at most maxJWTBytes and checks its
// header: RFC 7515 §5.2 with the SPEC §6 allow-list. The payload is left
// encoded until verify.
func parseJWS(token, wantTyp string) (*compactJWS, error) {
	return parseJWSUpTo(token, wantTyp, maxJWTBytes)
}

// parseJWSUpTo is parseJWS with a size cap of the caller's, for a JWT that
// is not part of an SD-JWT and may be larger (a Status List Token).
func parseJWSUpTo(token, wantTyp string, maxBytes int) (*compactJWS, error) {
	var jw compactJWS
	if err := splitJWS(token, maxBytes, &jw, &jw.header); err != nil {
		return nil, err
	}
	// RFC 8725 §3.1, SPEC §6: the header's alg must be on the allow-list;
	// jwx verifies with the caller's algorithm and never compares it with
	// the header, so this check is ours (THREATS T2).
	if jw.header.Alg != algES256 {
		return nil, fail(ReasonUnsupportedAlg, "alg %q is not allowed", jw.header.Alg)
	}
	// Keys come only from the trust store, never from the token (T3).
	if jw.header.JWK != nil || jw.header.JKU != nil || jw.header.X5U != nil || jw.header.X5C != nil {
		return nil, fail(ReasonUntrustedIssuer, "jwt carries its own key (jwk, jku, x5u or x5c)")
	}
	// RFC 7515 §4.1.11: we understand no extension, so crit is refused.
	if jw.header.Crit != nil {
		return nil, fail(ReasonUnsupportedHeader, "crit header is not supported")
	}
	if wantTyp != "" && !typIs(jw.header.Typ, wantTyp) {
		return nil, fail(ReasonInvalidTyp, "typ %q, want %q", jw.header.Typ, wantTyp)
	}
	if err := jw.decodeSignature(); err != nil {
		return nil, err
	}
	return &jw, nil
}

// typIs reports whether a typ header names the media type want, which has
// no "/" (every typ this package expects): RFC 7515 §4.1.9, a recipient
// "MUST treat it as if 'application/' were prepended to any 'typ' value
// not containing a '/'", and media types compare without regard to case
// (RFC 2045 §5.1). So application/dc+sd-jwt and DC+SD-JWT are dc+sd-jwt.
func typIs(typ, want string) bool {
	const prefix = "application/"
	if len(typ) > len(prefix) && strings.EqualFold(typ[:len(prefix)], prefix) {
		typ = typ[len(prefix):]
	}
	return strings.EqualFold(typ, want)
}

// splitJWS splits a compact JWS of at most maxBytes into jw (payload and
// signature left encoded) and decodes its header strictly into header.
// Nothing of the signature is looked at here, so the caller's alg check
// comes first whatever the signature is: alg none, whose signature is empty
// (RFC 7519 §6.1), is refused as unsupported_alg (THREATS T2). The caller
// then checks the rest of the header and calls decodeSignature.
func splitJWS(token string, maxBytes int, jw *compactJWS, header any) error {
	if len(token) > maxBytes {
		return fail(ReasonTooLarge, "jwt over %d bytes", maxBytes)
	}
	h, rest, ok := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(s, ".") {
		return fail(ReasonMalformed, "jwt is not header.payload.signature")
	}
	hb, err := b64.DecodeString(h)
	if err != nil {
		return fail(ReasonMalformed, "jwt header is not base64url")
	}
	if err := unmarshalStrict(hb, header); err != nil {
		return err
	}
	jw.payload, jw.rawSignature, jw.signingInput = p, s, token[:len(h)+1+len(p)]
	return nil
}

// decodeSignature decodes the signature part, after the header checks.
func (jw *compactJWS) decodeSignature() error {
	sig, err := b64.DecodeString(jw.rawSignature)
	if err != nil {
		return fail(ReasonInvalidSignature, "signature is not base64url")
	}
	jw.signature = sig
	return nil
}

// verify checks the ES256 signature over the signing input (RFC 7515 §5.2
// step 8) and only then decodes the payload.
func (jw *compactJWS) verify(key *ecdsa.PublicKey) ([]byte, error) {
	if err := es256Verifier.Verify(readOnlyBytes(jw.signingInput), jw.signature, key); err != nil {
		return nil, fail(ReasonInvalidSignature, "signature does not verify")
	}
	payload, err := b64.DecodeString(jw.payload)
	if err != nil {
		return nil, fail(ReasonMalformed, "jwt payload is not base64url")
	}
	return payload, nil
}

// signJWT signs claims as a compact JWS with alg ES256 and the given typ and
// kid. The signer may be any crypto.Signer holding a P-256 key (an HSM or a
// KMS client as well as *ecdsa.PrivateKey).
func signJWT(signer crypto.Signer, typ, kid string, payload []byte) (string, error) {
	hdr := jws.NewHeaders()
	for k, v := range map[string]string{jws.TypeKey: typ, jws.KeyIDKey: kid} {
		if v == "" {
			continue
		}
		if err := hdr.Set(k, v); err != nil {
			return "", fmt.Errorf("set jws header %s: %w", k, err)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(jwa.ES256, signer, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", typ, err)
	}
	return string(out), nil
}

// SignJWT signs a JSON object as a compact JWS (ES256, with typ and kid in
// the protected header). It is for the service's own short JWTs (access
// tokens, device assertions); credentials are made with Issuer.Issue.
func SignJWT(signer crypto.Signer, typ, kid string, claims any) (string, error) {
	payload, err := json.Marshal(claims, json.Deterministic(true))
	if err != nil {
		return "", fmt.Errorf("encode jwt claims: %w", err)
	}
	return signJWT(signer, typ, kid, payload)
}

// VerifyJWT checks a compact JWS made by SignJWT or by a client: header rules
// as for credentials (ES256 only, no embedded keys, no crit), the expected
// typ ("" accepts an absent typ or "JWT"), the signature with the key that
// key returns for the header's kid and the payload's iss, and then decodes
// the payload strictly into out. The iss is read before the signature is
// checked only to choose the key (RFC 7523 §3: the issuer names whose key
// signed); it is the caller's to compare again, with the time claims.
func VerifyJWT(token, typ string, key func(kid, iss string) (*ecdsa.PublicKey, error), out any) error {
	if len(token) > maxClientJWTBytes {
		return fail(ReasonTooLarge, "jwt over %d bytes", maxClientJWTBytes)
	}
	jw, err := parseJWS(token, typ)
	if err != nil {
		return err
	}
	if typ == "" && jw.header.Typ != "" && !typIs(jw.header.Typ, "JWT") {
		return fail(ReasonInvalidTyp, "typ %q is not JWT", jw.header.Typ)
	}
	body, err := b64.DecodeString(jw.payload)
	if err != nil {
		return fail(ReasonMalformed, "jwt payload is not base64url")
	}
	var who struct {
		Iss string `json:"iss"`
	}
	if err := unmarshalStrict(body, &who); err != nil {
		return err
	}
	pub, err := key(jw.header.Kid, who.Iss)
	if err != nil {
		return err
	}
	if _, err := jw.verify(pub); err != nil {
		return err
	}
	return unmarshalStrict(body, out)
}

// maxClientJWTBytes caps access tokens and device assertions.
const maxClientJWTBytes = 8 << 10

// unmarshalStrict decodes JSON rejecting duplicate member names (RFC 9901
// §7.1 and RFC 7519 §4: a JWT with duplicate claim names is invalid) and
// invalid UTF-8, which the go-json-experiment decoder does by default.
func unmarshalStrict(data []byte, out any) error {
	if err := json.Unmarshal(data, out); err != nil {
		var se *jsontext.SyntacticError
		if errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName) {
			return fail(ReasonDuplicateKey, "duplicate member name in json")
		}
		return fail(ReasonMalformed, "invalid json")
	}
	return nil
}

// JSONFault says what is wrong with what, a JSON text another party sent
// that json.Unmarshal refused with err, in words fit to send back: where
// (a JSON pointer), never the value nor the decoder's Go types (SPEC §5:
// internal details never reach a client).
func JSONFault(err error, what string) string {
	var se *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &se) && errors.Is(se.Err, json.ErrUnknownName):
		return fmt.Sprintf("unknown field %q", string(se.JSONPointer))
	case errors.As(err, &se) && se.JSONPointer != "":
		return fmt.Sprintf("field %q: invalid value", string(se.JSONPointer))
	case errors.As(err, &se):
		return what + " must be a JSON object of the documented shape"
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return fmt.Sprintf("duplicate field %q", string(syn.JSONPointer))
	}
	return what + " is not valid JSON"
}

// Thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of a P-256
// public key: the kid of every key this service signs with (SPEC §1).
func Thumbprint(pub *ecdsa.PublicKey) (string, error) {
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return "", fmt.Errorf("jwk from public key: %w", err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("jwk thumbprint: %w", err)
	}
	return b64.EncodeToString(tp), nil
}

// PublicJWK returns the JSON Web Key of a P-256 public key with its
// thumbprint as kid, alg ES256 and use sig, as published in a JWKS.
func PublicJWK(pub *ecdsa.PublicKey) (jwk.Key, error) {
	if pub == nil || pub.Curve != elliptic.P256() {
		return nil, errors.New("public key is not P-256")
	}
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return nil, fmt.Errorf("jwk from public key: %w", err)
	}
	kid, err := Thumbprint(pub)
	if err != nil {
		return nil, err
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.ES256, jwk.KeyUsageKey: "sig"} {
		if err := k.Set(name, v); err != nil {
			return nil, fmt.Errorf("set jwk %s: %w", name, err)
		}
	}
	return k, nil
}

// JWKS encodes public keys as a JSON Web Key Set (RFC 7517 §5).
func JWKS(pubs ...*ecdsa.PublicKey) ([]byte, error) {
	set := jwk.NewSet()
	for _, pub := range pubs {
		k, err := PublicJWK(pub)
		if err != nil {
			return nil, err
		}
		if err := set.AddKey(k); err != nil {
			return nil, fmt.Errorf("add key to jwks: %w", err)
		}
	}
	return json.Marshal(set)
}

// ParsePublicJWK reads one public JWK and returns it as a P-256 key. Private
// members and any other key type or curve are refused: a device key or an
// issuer key is always a P-256 public key (SPEC §1, §2).
func ParsePublicJWK(data []byte) (*ecdsa.PublicKey, error) {
	if len(data) > 4096 {
		return nil, errors.New("jwk over 4 KiB")
	}
	var probe map[string]jsontext.Value
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("jwk is not a json object: %w", err)
	}
	if _, ok := probe["d"]; ok {
		return nil, errors.New("jwk holds a private key")
	}
	k, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("parse jwk: %w", err)
	}
	return ecPublicKey(k)
}

// ParseJWKS reads a JSON Web Key Set of P-256 public keys, keyed by kid (the
// RFC 7638 thumbprint where the set gives none).
func ParseJWKS(data []byte) (map[string]*ecdsa.PublicKey, error) {
	if len(data) > 1<<20 {
		return nil, errors.New("jwks over 1 MiB")
	}
	set, err := jwk.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse jwks: %w", err)
	}
	keys := make(map[string]*ecdsa.PublicKey, set.Len())
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		if k.KeyType() != "EC" {
			continue // other key types can never verify ES256
		}
		if _, isPrivate := k.(jwk.ECDSAPrivateKey); isPrivate {
			return nil, errors.New("jwks holds a private key")
		}
		pub, err := ecPublicKey(k)
		if err != nil {
			return nil, err
		}
		kid := k.KeyID()
		if kid == "" {
			if kid, err = Thumbprint(pub); err != nil {
				return nil, err
			}
		}
		keys[kid] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks holds no P-256 key")
	}
	return keys, nil
}

func ecPublicKey(k jwk.Key) (*ecdsa.PublicKey, error) {
	var pub ecdsa.PublicKey
	if err := k.Raw(&pub); err != nil {
		return nil, fmt.Errorf("jwk is not an EC public key: %w", err)
	}
	if pub.Curve != elliptic.P256() {
		return nil, errors.New("jwk is not on P-256")
	}
	// ECDH conversion validates the point (off-curve and infinity refused).
	if _, err := pub.ECDH(); err != nil {
		return nil, errors.New("jwk point is not on P-256")
	}
	return &pub, nil
}

// digest is base64url(SHA-256(ASCII of s)), the hash RFC 9901 §4.2.3 uses
// for disclosures and §4.3.1 for sd_hash.
func digest(s string) string {
	sum := sha256.Sum256(readOnlyBytes(s))
	return b64.EncodeToString(sum[:])
}

// readOnlyBytes views a string's bytes without copying them. Verification
// hashes the whole presentation (sd_hash) and each signing input, tens of
// kilobytes a second per core on the hot path; the callees (SHA-256, jwx's
// ES256 verifier) only read their input, so the view is never written.
func readOnlyBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
