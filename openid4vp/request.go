package openid4vp

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Client identifier prefixes this service uses (OpenID4VP 1.0 §5.9.3).
const (
	PrefixX509SANDNS  = "x509_san_dns"
	PrefixX509Hash    = "x509_hash"
	PrefixRedirectURI = "redirect_uri"
)

// Response modes (§8.2, §8.3.1).
const (
	DirectPost    = "direct_post"
	DirectPostJWT = "direct_post.jwt"
)

// Request object constants.
const (
	TypRequestObject = "oauth-authz-req+jwt" // RFC 9101 §10.8, required by §5
	// StaticAudience is the aud of a request object when the wallet's
	// metadata is static, as with the openid4vp:// scheme (§5.8).
	StaticAudience = "https://self-issued.me/v2"
	// MediaTypeRequestObject is what the request URI answers (§5.10.1).
	MediaTypeRequestObject = "application/oauth-authz-req+jwt"
)

// Link schemes a cross-device request is shown with: the scheme of
// §13.1.2 and HAIP 1.0's.
const (
	SchemeOpenID4VP = "openid4vp"
	SchemeHAIP      = "haip-vp"
)

// X509HashClientID is the x509_hash client identifier of a leaf
// certificate: base64url of the SHA-256 of its DER (§5.9.3).
func X509HashClientID(leafDER []byte) string {
	sum := sha256.Sum256(leafDER)
	return PrefixX509Hash + ":" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// ClientIDPrefix splits a client identifier into its prefix and value
// ("" prefix for a pre-registered identifier, §5.9.1).
func ClientIDPrefix(clientID string) (prefix, value string) {
	p, v, ok := strings.Cut(clientID, ":")
	switch p {
	case PrefixX509SANDNS, PrefixX509Hash, PrefixRedirectURI, "openid_federation", "decentralized_identifier",
		"verifier_attestation", "origin":
		if ok {
			return p, v
		}
	}
	return "", clientID
}

// RequestObject is the payload of a request object (§5, §5.10.1).
type RequestObject struct {
	ResponseType   string          `json:"response_type"`
	ResponseMode   string          `json:"response_mode"`
	ClientID       string          `json:"client_id"`
	ResponseURI    string          `json:"response_uri"`
	Nonce          string          `json:"nonce"`
	State          string          `json:"state"`
	DCQLQuery      jsontext.Value  `json:"dcql_query"`
	ClientMetadata *ClientMetadata `json:"client_metadata,omitempty"`
	Iss            string          `json:"iss,omitempty"` // RFC 9101 §4: the client_id, in a signed request
	Aud            Audience        `json:"aud"`
	Iat            int64           `json:"iat"`
	Nbf            int64           `json:"nbf,omitzero"`
	Exp            int64           `json:"exp"`
	WalletNonce    string          `json:"wallet_nonce,omitempty"`
}

// Audience is a JWT's aud: one string or an array of them (RFC 7519
// §4.1.3), written as a string when it is one.
type Audience []string

func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *Audience) UnmarshalJSON(b []byte) error {
	if string(b) == "null" { // as absent
		*a = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// CheckTimes applies RFC 7519 §4.1.4 and §4.1.5 to a request object at
// now, with leeway either way: not expired (exp), not yet valid (nbf), or
// issued in the future (iat).
func (o *RequestObject) CheckTimes(now time.Time, leeway time.Duration) error {
	switch {
	case o.Exp != 0 && !now.Before(time.Unix(o.Exp, 0).Add(leeway)):
		return ErrRequestExpired
	case o.Nbf != 0 && now.Add(leeway).Before(time.Unix(o.Nbf, 0)):
		return errors.New("the request object is not valid yet (nbf)")
	case o.Iat != 0 && now.Add(leeway).Before(time.Unix(o.Iat, 0)):
		return errors.New("the request object is issued in the future (iat)")
	}
	return nil
}

// ErrRequestExpired is a request object past its exp.
var ErrRequestExpired = errors.New("the request object has expired")

// ClientMetadata is the verifier metadata a request carries (§5.1, §11).
type ClientMetadata struct {
	JWKS                  jsontext.Value        `json:"jwks,omitempty"`
	EncryptedResponseEncs []string              `json:"encrypted_response_enc_values_supported,omitempty"`
	VPFormatsSupported    map[string]FormatAlgs `json:"vp_formats_supported"`
}

// FormatAlgs are the algorithms a verifier accepts for one format
// (§B.3.4).
type FormatAlgs struct {
	SDJWTAlgs []string `json:"sd-jwt_alg_values,omitempty"`
	KBJWTAlgs []string `json:"kb-jwt_alg_values,omitempty"`
}

// SDJWTES256 is what this service accepts: ES256 for the issuer's JWT and
// for the key binding (SPEC §1).
var SDJWTES256 = map[string]FormatAlgs{FormatSDJWTVC: {SDJWTAlgs: []string{"ES256"}, KBJWTAlgs: []string{"ES256"}}}

// Link is the cross-device authorization request by reference (§5.7,
// RFC 9101 §5.2): the client identifier and the request URI, and
// request_uri_method=post when the verifier takes the wallet's metadata
// and nonce (§5.10).
func Link(scheme, clientID, requestURI string, post bool) string {
	q := url.Values{"client_id": {clientID}, "request_uri": {requestURI}}
	if post {
		q.Set("request_uri_method", "post")
	}
	return scheme + "://?" + q.Encode()
}
