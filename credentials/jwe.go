package credentials

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/lestrrat-go/jwx/v2/cert"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// What OpenID4VP needs of JOSE beyond credentials: signed request objects
// with an X.509 chain (RFC 9101, OpenID4VP 1.0 §5.9.3) and encrypted
// responses (OpenID4VP 1.0 §8.3: an unsigned JWE, ECDH-ES on P-256 with
// A128GCM or A256GCM, HAIP 1.0 §5). jwx does the cryptography; this file
// holds the rules.

// ECDHES is the only JWE key agreement accepted: direct ECDH-ES on P-256
// (HAIP 1.0 §5).
const ECDHES = "ECDH-ES"

// ResponseEncs are the content encryption algorithms an encrypted response
// may use (HAIP 1.0 §5: A128GCM and A256GCM).
var ResponseEncs = []string{"A128GCM", "A256GCM"}

// MaxJWEBytes caps an encrypted response before it is parsed.
const MaxJWEBytes = 256 << 10

// SignJWTWithChain signs claims as a compact JWS (ES256) with typ and the
// certificate chain chain (DER, leaf first) in x5c, as a request object
// signed under an x509_san_dns or x509_hash client identifier is (RFC 7515
// §4.1.6). The signer must hold the leaf certificate's key.
func SignJWTWithChain(signer crypto.Signer, typ string, chain [][]byte, claims any) (string, error) {
	payload, err := json.Marshal(claims, json.Deterministic(true))
	if err != nil {
		return "", fmt.Errorf("encode jwt claims: %w", err)
	}
	var cc cert.Chain
	for _, der := range chain {
		b, err := cert.EncodeBase64(der)
		if err != nil {
			return "", err
		}
		if err := cc.Add(b); err != nil {
			return "", fmt.Errorf("x5c: %w", err)
		}
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, typ); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.X509CertChainKey, &cc); err != nil {
		return "", err
	}
	out, err := jws.Sign(payload, jws.WithKey(jwa.ES256, signer, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", typ, err)
	}
	return string(out), nil
}

// UnsignedJWT encodes claims as an unsecured JWT (RFC 7519 §6, alg none):
// the request object of a redirect_uri client identifier, which cannot be
// signed (OpenID4VP 1.0 §5.9.3).
func UnsignedJWT(typ string, claims any) (string, error) {
	h, err := json.Marshal(map[string]string{"alg": "none", "typ": typ}, json.Deterministic(true))
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims, json.Deterministic(true))
	if err != nil {
		return "", fmt.Errorf("encode jwt claims: %w", err)
	}
	return b64.EncodeToString(h) + "." + b64.EncodeToString(p) + ".", nil
}

// NewEncryptionKey makes a P-256 key for ECDH-ES: one per request, so a
// response can be read only by the request it answers.
func NewEncryptionKey(rand io.Reader) (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand)
}

// EncryptionJWKS is the JWKS of an encryption key as a verifier publishes it
// in client_metadata (OpenID4VP 1.0 §5.1, §8.3): kid, use enc and alg
// ECDH-ES, all three required there.
func EncryptionJWKS(pub *ecdsa.PublicKey, kid string) (jsontext.Value, error) {
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return nil, fmt.Errorf("jwk from public key: %w", err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.KeyUsageKey: "enc", jwk.AlgorithmKey: jwa.ECDH_ES} {
		if err := k.Set(name, v); err != nil {
			return nil, fmt.Errorf("set jwk %s: %w", name, err)
		}
	}
	key, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string][]jsontext.Value{"keys": {key}})
}

// MarshalPrivateKey and ParsePrivateKey store an encryption key (PKCS #8);
// the caller seals the bytes.
func MarshalPrivateKey(key *ecdsa.PrivateKey) ([]byte, error) {
	return x509.MarshalPKCS8PrivateKey(key)
}

// ParsePrivateKey reads a P-256 key written by MarshalPrivateKey.
func ParsePrivateKey(der []byte) (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 key")
	}
	return ec, nil
}

// jweHeader is the protected header of an encrypted response.
type jweHeader struct {
	Alg  string         `json:"alg"`
	Enc  string         `json:"enc"`
	Kid  string         `json:"kid"`
	EPK  jsontext.Value `json:"epk"`
	Zip  jsontext.Value `json:"zip"`
	Crit jsontext.Value `json:"crit"`
	Typ  string         `json:"typ"`
	Cty  string         `json:"cty"`
	APU  string         `json:"apu"`
	APV  string         `json:"apv"`
}

// DecryptResponse opens a compact JWE encrypted to key (whose kid is kid):
// alg ECDH-ES, enc one of encs, the kid the one the request published
// (OpenID4VP 1.0 §8.3), an ephemeral key on P-256, no compression (a
// decompression bomb needs no key) and no crit. It returns the plaintext.
func DecryptResponse(token string, key *ecdsa.PrivateKey, kid string, encs []string) ([]byte, error) {
	if len(token) > MaxJWEBytes {
		return nil, fail(ReasonTooLarge, "jwe over %d bytes", MaxJWEBytes)
	}
	// RFC 7516 §7.1: five parts; the encrypted key is empty for ECDH-ES.
	parts := strings.Split(token, ".")
	if len(parts) != 5 {
		return nil, fail(ReasonMalformed, "jwe is not a compact serialization")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fail(ReasonMalformed, "jwe header is not base64url")
	}
	var h jweHeader
	if err := unmarshalStrict(hb, &h); err != nil {
		return nil, err
	}
	switch {
	case h.Alg != ECDHES:
		return nil, fail(ReasonUnsupportedAlg, "jwe alg %q is not ECDH-ES", h.Alg)
	case !slices.Contains(encs, h.Enc):
		return nil, fail(ReasonUnsupportedAlg, "jwe enc %q is not one the request allowed", h.Enc)
	case h.Kid != kid:
		return nil, fail(ReasonDecryptionFailed, "jwe kid is not the request's key")
	case h.Zip != nil || h.Crit != nil:
		return nil, fail(ReasonUnsupportedHeader, "jwe zip and crit are not supported")
	case parts[1] != "": // RFC 7518 §4.6: direct key agreement has no encrypted key
		return nil, fail(ReasonMalformed, "an ECDH-ES jwe with an encrypted key")
	}
	// The ephemeral key must be a valid P-256 point (an invalid-curve
	// point would leak the private key bit by bit).
	if _, err := ParsePublicJWK(h.EPK); err != nil {
		return nil, fail(ReasonMalformed, "jwe epk: not a P-256 public key")
	}
	plain, err := jwe.Decrypt([]byte(token), jwe.WithKey(jwa.ECDH_ES, key))
	if err != nil {
		return nil, fail(ReasonDecryptionFailed, "jwe does not decrypt with the request's key")
	}
	return plain, nil
}

// ResponseEncryptionKey picks, from a verifier's client_metadata.jwks,
// the key a direct_post.jwt response is encrypted to (OpenID4VP 1.0
// §8.3): the first P-256 public key for ECDH-ES ("The alg parameter MUST
// be present in the JWKs") whose use, if any, is enc. It returns the key
// and its kid, which may be absent ("").
func ResponseEncryptionKey(jwks []byte) (*ecdsa.PublicKey, string, error) {
	if len(jwks) > 1<<20 {
		return nil, "", errors.New("jwks over 1 MiB")
	}
	set, err := jwk.Parse(jwks)
	if err != nil {
		// The library's words name Go types: not for the other party.
		return nil, "", errors.New("not a JWKS of public keys")
	}
	for i := range set.Len() {
		k, _ := set.Key(i)
		if _, private := k.(jwk.ECDSAPrivateKey); private {
			return nil, "", errors.New("jwks holds a private key")
		}
		if k.KeyType() != jwa.EC || k.Algorithm().String() != ECDHES || (k.KeyUsage() != "" && k.KeyUsage() != "enc") {
			continue
		}
		if pub, err := ecPublicKey(k); err == nil {
			return pub, k.KeyID(), nil
		}
	}
	return nil, "", errors.New("no P-256 ECDH-ES key for encryption")
}

// EncryptResponse encrypts payload to the verifier key pub with ECDH-ES
// and enc, as a wallet answering with direct_post.jwt does (OpenID4VP 1.0
// §8.3); the JWE names kid when the key has one ("If the selected public
// key contains a kid parameter, the JWE MUST include the same value").
func EncryptResponse(payload []byte, pub *ecdsa.PublicKey, kid, enc string) (string, error) {
	if !slices.Contains(ResponseEncs, enc) {
		return "", fmt.Errorf("enc %q is not supported", enc)
	}
	hdr := jwe.NewHeaders()
	if kid != "" {
		if err := hdr.Set(jwe.KeyIDKey, kid); err != nil {
			return "", err
		}
	}
	out, err := jwe.Encrypt(payload, jwe.WithKey(jwa.ECDH_ES, pub), jwe.WithContentEncryption(jwa.ContentEncryptionAlgorithm(enc)),
		jwe.WithProtectedHeaders(hdr), jwe.WithCompact())
	if err != nil {
		return "", fmt.Errorf("encrypt response: %w", err)
	}
	return string(out), nil
}

// VerifyJWTWithChain checks a request object signed under an X.509
// client identifier (OpenID4VP 1.0 §5.9.3): typ, alg ES256 only, no key
// but the x5c chain (no jwk, jku, x5u), the chain valid at now up to one
// of roots, the signature with the leaf's key. It returns the payload,
// undecoded, and the leaf certificate.
func VerifyJWTWithChain(token, typ string, roots *x509.CertPool, now time.Time) ([]byte, *x509.Certificate, error) {
	var hdr struct {
		Alg  string         `json:"alg"`
		Typ  string         `json:"typ"`
		X5C  []string       `json:"x5c"`
		JWK  jsontext.Value `json:"jwk"`
		JKU  jsontext.Value `json:"jku"`
		X5U  jsontext.Value `json:"x5u"`
		Crit jsontext.Value `json:"crit"`
	}
	var jw compactJWS
	if err := splitJWS(token, maxJWTBytes, &jw, &hdr); err != nil {
		return nil, nil, err
	}
	switch {
	case hdr.Alg != algES256:
		return nil, nil, fail(ReasonUnsupportedAlg, "alg %q is not allowed", hdr.Alg)
	case !typIs(hdr.Typ, typ):
		return nil, nil, fail(ReasonInvalidTyp, "typ %q, want %q", hdr.Typ, typ)
	case hdr.JWK != nil || hdr.JKU != nil || hdr.X5U != nil:
		return nil, nil, fail(ReasonUntrustedIssuer, "jwt carries a key other than its x5c chain")
	case hdr.Crit != nil:
		return nil, nil, fail(ReasonUnsupportedHeader, "crit header is not supported")
	case len(hdr.X5C) == 0 || len(hdr.X5C) > 5:
		return nil, nil, fail(ReasonUntrustedIssuer, "x5c: 1 to 5 certificates")
	}
	if err := jw.decodeSignature(); err != nil {
		return nil, nil, err
	}
	// RFC 7515 §4.1.6: standard base64 DER, the leaf first.
	certs := make([]*x509.Certificate, len(hdr.X5C))
	for i, c := range hdr.X5C {
		der, err := base64.StdEncoding.DecodeString(c)
		if err == nil {
			certs[i], err = x509.ParseCertificate(der)
		}
		if err != nil {
			return nil, nil, fail(ReasonMalformed, "x5c[%d] is not a certificate", i)
		}
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, nil, fail(ReasonUntrustedIssuer, "x5c does not chain to a trusted CA")
	}
	// The leaf signs: a CA certificate, or one not for signatures, does not.
	if certs[0].IsCA || certs[0].KeyUsage != 0 && certs[0].KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, nil, fail(ReasonUntrustedIssuer, "the x5c leaf is not a signing certificate")
	}
	pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, nil, fail(ReasonUnsupportedAlg, "the leaf key is not P-256")
	}
	payload, err := jw.verify(pub)
	if err != nil {
		return nil, nil, err
	}
	return payload, certs[0], nil
}

// UnsignedPayload reads an unsecured JWT (alg none, RFC 7519 §6) of typ:
// the request object of a redirect_uri client identifier, which the
// caller must show as unverified.
func UnsignedPayload(token, typ string) ([]byte, error) {
	if len(token) > maxJWTBytes {
		return nil, fail(ReasonTooLarge, "jwt over %d bytes", maxJWTBytes)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[2] != "" {
		return nil, fail(ReasonMalformed, "an unsecured jwt is header.payload.")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fail(ReasonMalformed, "jwt header is not base64url")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := unmarshalStrict(hb, &hdr); err != nil {
		return nil, err
	}
	if hdr.Alg != "none" || !typIs(hdr.Typ, typ) {
		return nil, fail(ReasonInvalidTyp, "an unsecured jwt of typ %q, want alg none and typ %q", hdr.Typ, typ)
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, fail(ReasonMalformed, "jwt payload is not base64url")
	}
	return payload, nil
}
