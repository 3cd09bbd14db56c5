package credentials_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/eidwallet/eidwallet/credentials"
)

// jweSpecToken is the encrypted authorization response of OpenID4VP 1.0
// §8.3 (line breaks removed), encrypted to jweSpecKey with kid "ac".
const jweSpecToken = "eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTEyOEdDTSIsImtpZCI6ImFjIiwiZXBrIjp7Imt" +
	"0eSI6IkVDIiwieCI6Im5ubVZwbTNWM2piaGNhZlFhUkJrU1ZOSGx3Wkh3dC05ck9wSnVmeVlJdWsiLCJ5I" +
	"joicjRmakRxd0p5czlxVU9QLV9iM21SNVNaRy0tQ3dPMm1pYzVWU05UWU45ZyIsImNydiI6IlAtMjU2In1" +
	"9..uAYcHRUSSn2X0WPX.yVzlGSYG4qbg0bq18JcUiDRw56yVnbKR8E7S7YlEtzT00RqE3Pw5oTpUG3hdLN" +
	"4taHZ9gC1kwak8JOnJgQ.1wR024_3-qtAlx1oFIUpQQ"

// jweSpecKey is the private JWK §8.3 gives to decrypt jweSpecToken.
const jweSpecKey = `{
  "kty":"EC", "kid":"ac", "use":"enc", "crv":"P-256","alg":"ECDH-ES",
  "x":"YO4epjifD-KWeq1sL2tNmm36BhXnkJ0He-WqMYrp9Fk",
  "y":"Hekpm0zfK7C-YccH5iBjcIXgf6YdUvNUac_0At55Okk",
  "d":"Et-3ce0omz8_TuZ96Df9lp0GAaaDoUnDe6X-CRO7Aww"
}`

func jweSpecPrivateKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := jwk.ParseKey([]byte(jweSpecKey))
	if err != nil {
		t.Fatal(err)
	}
	var priv ecdsa.PrivateKey
	if err := k.Raw(&priv); err != nil {
		t.Fatal(err)
	}
	return &priv
}

const jweKid = "resp-key-1"

var jwePayload = []byte(`{"vp_token":{"pid":["eyJhbGciOiJFUzI1NiJ9.e30.c2ln~"]},"state":"s1"}`)

func jweEncrypt(t testing.TB, key *ecdsa.PrivateKey, enc string) string {
	t.Helper()
	tok, err := credentials.EncryptResponse(jwePayload, &key.PublicKey, jweKid, enc)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// jweHeaderOf decodes the protected header of a compact JWE or JWS.
func jweHeaderOf(t testing.TB, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// jweWithHeader replaces the protected header of token by edit's result,
// the other parts left as they are (so only the header checks can refuse
// it before decryption does).
func jweWithHeader(t testing.TB, token string, edit func(h map[string]any)) string {
	t.Helper()
	h := jweHeaderOf(t, token)
	edit(h)
	return jweWithRawHeader(t, token, mustJSON(t, h))
}

func jweWithRawHeader(t testing.TB, token string, header []byte) string {
	t.Helper()
	parts := strings.Split(token, ".")
	parts[0] = base64.RawURLEncoding.EncodeToString(header)
	return strings.Join(parts, ".")
}

// jwePart replaces part i of token.
func jwePart(token string, i int, part string) string {
	parts := strings.Split(token, ".")
	parts[i] = part
	return strings.Join(parts, ".")
}

// jweFlip changes one byte of part i of token (decoded), re-encoded.
func jweFlip(t testing.TB, token string, i int) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	return jwePart(token, i, base64.RawURLEncoding.EncodeToString(b))
}

// jweEPK is the public JWK of a fresh key on curve, as a header member.
func jweEPK(t testing.TB, curve elliptic.Curve) map[string]any {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jweJWKMap(t, &k.PublicKey)
}

func jweJWKMap(t testing.TB, key any) map[string]any {
	t.Helper()
	j, err := jwk.FromRaw(key)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(mustJSON(t, j), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jweWantReason(t testing.TB, err error, want ...credentials.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("DecryptResponse accepted it, want %v", want)
	}
	if r := credentials.ReasonOf(err); !slices.Contains(want, r) {
		t.Errorf("reason %q (%v), want one of %v", r, err, want)
	}
}

// OpenID4VP 1.0 §8.3: the specification's own encrypted response decrypts
// with the key it gives, to the payload it shows.
func TestDecryptResponseSpecExample(t *testing.T) {
	plain, err := credentials.DecryptResponse(jweSpecToken, jweSpecPrivateKey(t), "ac", []string{"A128GCM"})
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(plain, &got); err != nil {
		t.Fatalf("plaintext %q: %v", plain, err)
	}
	if err := json.Unmarshal([]byte(`{"vp_token": {"example_credential_id": ["eyJhb...YMetA"]}}`), &want); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, got, want) {
		t.Errorf("plaintext %s", plain)
	}
}

// What EncryptResponse makes DecryptResponse opens, for each enc HAIP 1.0
// §5 allows; the header is the one §8.3 describes.
func TestEncryptDecryptResponseRoundTrip(t *testing.T) {
	for _, enc := range credentials.ResponseEncs {
		t.Run(enc, func(t *testing.T) {
			key := newKey(t)
			tok := jweEncrypt(t, key, enc)
			parts := strings.Split(tok, ".")
			if len(parts) != 5 || parts[1] != "" {
				t.Fatalf("not a compact ECDH-ES JWE: %d parts, encrypted key %q", len(parts), parts[1])
			}
			h := jweHeaderOf(t, tok)
			if h["alg"] != credentials.ECDHES || h["enc"] != enc || h["kid"] != jweKid || h["zip"] != nil {
				t.Errorf("header %v", h)
			}
			epk, _ := h["epk"].(map[string]any)
			if epk["kty"] != "EC" || epk["crv"] != "P-256" || epk["d"] != nil {
				t.Errorf("epk %v", epk)
			}
			plain, err := credentials.DecryptResponse(tok, key, jweKid, credentials.ResponseEncs)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(plain, jwePayload) {
				t.Errorf("plaintext %s, want %s", plain, jwePayload)
			}
			// Each encryption has its own ephemeral key.
			if tok2 := jweEncrypt(t, key, enc); tok2 == tok || jweHeaderOf(t, tok2)["epk"].(map[string]any)["x"] == epk["x"] {
				t.Error("two encryptions share an ephemeral key")
			}
		})
	}
}

// EncryptResponse refuses a content encryption HAIP 1.0 §5 does not list.
func TestEncryptResponseRefusesEnc(t *testing.T) {
	for _, enc := range []string{"A192GCM", "A128CBC-HS256", "", "none"} {
		if tok, err := credentials.EncryptResponse(jwePayload, &newKey(t).PublicKey, jweKid, enc); err == nil {
			t.Errorf("enc %q: %s", enc, tok)
		}
	}
}

// DecryptResponse refuses what §8.3 and HAIP 1.0 §5 do not allow, before
// decrypting where a header says so, with the reason that says why.
func TestDecryptResponseRefuses(t *testing.T) {
	key := newKey(t)
	tok := jweEncrypt(t, key, "A128GCM")
	tok256 := jweEncrypt(t, key, "A256GCM")
	pub := &key.PublicKey
	kidHeader := func(t *testing.T) jwe.Headers {
		h := jwe.NewHeaders()
		if err := h.Set(jwe.KeyIDKey, jweKid); err != nil {
			t.Fatal(err)
		}
		return h
	}
	byJWX := func(t *testing.T, opts ...jwe.EncryptOption) string {
		t.Helper()
		out, err := jwe.Encrypt(jwePayload, append(opts, jwe.WithProtectedHeaders(kidHeader(t)), jwe.WithCompact())...)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	offCurve := func(t *testing.T) map[string]any {
		epk := jweHeaderOf(t, tok)["epk"].(map[string]any)
		y, err := base64.RawURLEncoding.DecodeString(epk["y"].(string))
		if err != nil {
			t.Fatal(err)
		}
		y[len(y)-1] ^= 1
		epk["y"] = base64.RawURLEncoding.EncodeToString(y)
		return epk
	}
	privateEPK := func(t *testing.T) map[string]any {
		k := newKey(t)
		return jweJWKMap(t, k)
	}
	cases := []struct {
		name  string
		token func(t *testing.T) string
		kid   string
		encs  []string
		want  []credentials.Reason
	}{
		// §8.3: the kid is the one of the key the request published.
		{"wrong kid", func(*testing.T) string { return tok }, "other-key", nil, []credentials.Reason{credentials.ReasonDecryptionFailed}},
		{"no kid", func(t *testing.T) string { return jweWithHeader(t, tok, func(h map[string]any) { delete(h, "kid") }) },
			"", nil, []credentials.Reason{credentials.ReasonDecryptionFailed}},
		{"encrypted to another key", func(t *testing.T) string { return jweEncrypt(t, newKey(t), "A128GCM") },
			"", nil, []credentials.Reason{credentials.ReasonDecryptionFailed}},
		// HAIP 1.0 §5: alg ECDH-ES only (direct key agreement).
		{"ECDH-ES+A128KW by jwx", func(t *testing.T) string {
			return byJWX(t, jwe.WithKey(jwa.ECDH_ES_A128KW, pub), jwe.WithContentEncryption(jwa.A128GCM))
		}, "", nil, []credentials.Reason{credentials.ReasonUnsupportedAlg, credentials.ReasonMalformed}},
		{"alg ECDH-ES+A128KW in the header", func(t *testing.T) string {
			return jweWithHeader(t, tok, func(h map[string]any) { h["alg"] = "ECDH-ES+A128KW" })
		}, "", nil, []credentials.Reason{credentials.ReasonUnsupportedAlg}},
		{"alg dir", func(t *testing.T) string { return jweWithHeader(t, tok, func(h map[string]any) { h["alg"] = "dir" }) },
			"", nil, []credentials.Reason{credentials.ReasonUnsupportedAlg}},
		{"alg ecdh-es (case)", func(t *testing.T) string {
			return jweWithHeader(t, tok, func(h map[string]any) { h["alg"] = "ecdh-es" })
		},
			"", nil, []credentials.Reason{credentials.ReasonUnsupportedAlg}},
		{"no alg", func(t *testing.T) string { return jweWithHeader(t, tok, func(h map[string]any) { delete(h, "alg") }) },
			"", nil, []credentials.Reason{credentials.ReasonUnsupportedAlg}},
		// §8.3: enc one of encrypted_response_enc_values_supported.
		{"A256GCM when only A128GCM is allowed", func(*testing.T) string { return tok256 },
			"", []string{"A128GCM"}, []credentials.Reason{credentials.ReasonUnsupportedAlg}},
		{"A128CBC-HS256 by jwx", func(t *testing.T) string {
			return byJWX(t, jwe.WithKey(jwa.ECDH_ES, pub), jwe.WithContentEncryption(jwa.A128CBC_HS256))
		}, "", nil, []credentials.Reason{credentials.ReasonUnsupportedAlg}},
		{"no enc", func(t *testing.T) string { return jweWithHeader(t, tok, func(h map[string]any) { delete(h, "enc") }) },
			"", nil, []credentials.Reason{credentials.ReasonUnsupportedAlg}},
		// No compression (a decompression bomb needs no key), no crit.
		{"zip DEF by jwx", func(t *testing.T) string {
			return byJWX(t, jwe.WithKey(jwa.ECDH_ES, pub), jwe.WithContentEncryption(jwa.A128GCM), jwe.WithCompress(jwa.Deflate))
		}, "", nil, []credentials.Reason{credentials.ReasonUnsupportedHeader}},
		{"zip in the header", func(t *testing.T) string { return jweWithHeader(t, tok, func(h map[string]any) { h["zip"] = "DEF" }) },
			"", nil, []credentials.Reason{credentials.ReasonUnsupportedHeader}},
		{"crit", func(t *testing.T) string {
			return jweWithHeader(t, tok, func(h map[string]any) { h["crit"] = []any{"exp"}; h["exp"] = 1 })
		}, "", nil, []credentials.Reason{credentials.ReasonUnsupportedHeader}},
		// The ephemeral key is a public P-256 point (an invalid-curve point
		// would leak the private key).
		{"epk off the curve", func(t *testing.T) string {
			return jweWithHeader(t, tok, func(h map[string]any) { h["epk"] = offCurve(t) })
		}, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"epk on P-384", func(t *testing.T) string {
			return jweWithHeader(t, tok, func(h map[string]any) { h["epk"] = jweEPK(t, elliptic.P384()) })
		}, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"epk on P-521", func(t *testing.T) string {
			return jweWithHeader(t, tok, func(h map[string]any) { h["epk"] = jweEPK(t, elliptic.P521()) })
		}, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"epk P-384 coordinates labelled P-256", func(t *testing.T) string {
			return jweWithHeader(t, tok, func(h map[string]any) {
				epk := jweEPK(t, elliptic.P384())
				epk["crv"] = "P-256"
				h["epk"] = epk
			})
		}, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"epk X25519", func(t *testing.T) string {
			return jweWithHeader(t, tok, func(h map[string]any) {
				h["epk"] = map[string]any{"kty": "OKP", "crv": "X25519", "x": "WPX7wnwq10hFNK9aDSyG1QlLswE_CJY14LdhcFUIVVc"}
			})
		}, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"epk with a private key", func(t *testing.T) string {
			return jweWithHeader(t, tok, func(h map[string]any) { h["epk"] = privateEPK(t) })
		}, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"no epk", func(t *testing.T) string { return jweWithHeader(t, tok, func(h map[string]any) { delete(h, "epk") }) },
			"", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"epk a string", func(t *testing.T) string { return jweWithHeader(t, tok, func(h map[string]any) { h["epk"] = "x" }) },
			"", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"another valid P-256 epk", func(t *testing.T) string {
			return jweWithHeader(t, tok, func(h map[string]any) { h["epk"] = jweEPK(t, elliptic.P256()) })
		}, "", nil, []credentials.Reason{credentials.ReasonDecryptionFailed}},
		// RFC 7516 §7.1: five parts.
		{"4 parts", func(*testing.T) string { return tok[:strings.LastIndexByte(tok, '.')] }, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"6 parts", func(*testing.T) string { return tok + ".AAAA" }, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"a JWS", func(*testing.T) string { return "eyJhbGciOiJub25lIn0.e30." }, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"empty", func(*testing.T) string { return "" }, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"an encrypted key", func(*testing.T) string { return jwePart(tok, 1, "AAAA") }, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"header not base64url", func(*testing.T) string { return jwePart(tok, 0, "eyJ*") }, "", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"header not JSON", func(t *testing.T) string { return jweWithRawHeader(t, tok, []byte(`{"alg":`)) },
			"", nil, []credentials.Reason{credentials.ReasonMalformed}},
		{"header a name twice", func(t *testing.T) string {
			h := string(mustJSON(t, jweHeaderOf(t, tok)))
			return jweWithRawHeader(t, tok, []byte(`{"alg":"dir",`+h[1:]))
		}, "", nil, []credentials.Reason{credentials.ReasonDuplicateKey}},
		// The cap comes before any parsing.
		{"over MaxJWEBytes", func(*testing.T) string {
			return jwePart(tok, 3, strings.Repeat("A", credentials.MaxJWEBytes))
		}, "", nil, []credentials.Reason{credentials.ReasonTooLarge}},
		// AES-GCM authenticates the header (as AAD), the IV, the
		// ciphertext and the tag.
		{"ciphertext tampered", func(t *testing.T) string { return jweFlip(t, tok, 3) }, "", nil, []credentials.Reason{credentials.ReasonDecryptionFailed}},
		{"tag tampered", func(t *testing.T) string { return jweFlip(t, tok, 4) }, "", nil, []credentials.Reason{credentials.ReasonDecryptionFailed}},
		{"iv tampered", func(t *testing.T) string { return jweFlip(t, tok, 2) }, "", nil, []credentials.Reason{credentials.ReasonDecryptionFailed}},
		{"ciphertext truncated", func(t *testing.T) string {
			ct := strings.Split(tok, ".")[3]
			return jwePart(tok, 3, ct[:len(ct)-4])
		}, "", nil, []credentials.Reason{credentials.ReasonDecryptionFailed, credentials.ReasonMalformed}},
		{"header member added", func(t *testing.T) string {
			return jweWithHeader(t, tok, func(h map[string]any) { h["typ"] = "oauth-authz-resp+jwt" })
		}, "", nil, []credentials.Reason{credentials.ReasonDecryptionFailed}},
		{"tag of another response", func(t *testing.T) string {
			return jwePart(tok, 4, strings.Split(jweEncrypt(t, key, "A128GCM"), ".")[4])
		}, "", nil, []credentials.Reason{credentials.ReasonDecryptionFailed}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kid, encs := c.kid, c.encs
			if kid == "" {
				kid = jweKid
			}
			if encs == nil {
				encs = credentials.ResponseEncs
			}
			plain, err := credentials.DecryptResponse(c.token(t), key, kid, encs)
			if err == nil {
				t.Fatalf("accepted, plaintext %s", plain)
			}
			jweWantReason(t, err, c.want...)
		})
	}
	// The untouched token still decrypts: each refusal came from its edit.
	if _, err := credentials.DecryptResponse(tok, key, jweKid, credentials.ResponseEncs); err != nil {
		t.Fatal(err)
	}
}

// jweChain is a CA and a leaf certificate for the leaf's key, made with
// crypto/x509 (as package openid4vp's NewCA and IssueLeaf do).
func jweChain(t testing.TB) (leafKey *ecdsa.PrivateKey, chain [][]byte) {
	t.Helper()
	caKey, leafKey := newKey(t), newKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, NotBefore: now, NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "verifier"}, NotBefore: now, NotAfter: now.Add(time.Hour),
		DNSNames: []string{"verifier.example"}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return leafKey, [][]byte{leafDER, caDER}
}

// RFC 7515 §4.1.6, OpenID4VP 1.0 §5.9.3: a request object signed under an
// x509 client identifier carries typ and x5c — standard base64 (not
// base64url) DER, the leaf first — and verifies with the leaf's key.
func TestSignJWTWithChain(t *testing.T) {
	leafKey, chain := jweChain(t)
	claims := map[string]any{"client_id": "x509_san_dns:verifier.example", "nonce": "n-0S6_WzA2Mj", "iat": 1700000000}
	tok, err := credentials.SignJWTWithChain(leafKey, "oauth-authz-req+jwt", chain, claims)
	if err != nil {
		t.Fatal(err)
	}
	h := jweHeaderOf(t, tok)
	if h["alg"] != "ES256" || h["typ"] != "oauth-authz-req+jwt" {
		t.Errorf("header %v", h)
	}
	x5c, _ := h["x5c"].([]any)
	if len(x5c) != len(chain) {
		t.Fatalf("x5c %v, want %d certificates", h["x5c"], len(chain))
	}
	for i, der := range chain {
		if x5c[i] != base64.StdEncoding.EncodeToString(der) {
			t.Errorf("x5c[%d] is not the standard base64 of certificate %d", i, i)
		}
	}
	payload, err := jws.Verify([]byte(tok), jws.WithKey(jwa.ES256, &leafKey.PublicKey))
	if err != nil {
		t.Fatalf("does not verify with the leaf key: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(payload, &got); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, got, claims) {
		t.Errorf("payload %s", payload)
	}
	if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.ES256, &newKey(t).PublicKey)); err == nil {
		t.Error("verifies with another key")
	}
	// The leaf in x5c is the key that signed.
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.ES256, leaf.PublicKey)); err != nil {
		t.Errorf("does not verify with the x5c leaf's key: %v", err)
	}
}

// RFC 7519 §6: an unsecured JWT has alg none and an empty signature part.
func TestUnsignedJWT(t *testing.T) {
	claims := map[string]any{"client_id": "redirect_uri:https://verifier.example/cb", "nonce": "n"}
	tok, err := credentials.UnsignedJWT("oauth-authz-req+jwt", claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[2] != "" {
		t.Fatalf("%s: %d parts, signature %q", tok, len(parts), parts[len(parts)-1])
	}
	h := jweHeaderOf(t, tok)
	if len(h) != 2 || h["alg"] != "none" || h["typ"] != "oauth-authz-req+jwt" {
		t.Errorf("header %v", h)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload is not base64url without padding: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, got, claims) {
		t.Errorf("payload %s", raw)
	}
}

// OpenID4VP 1.0 §5.1, §8.3: the JWKS in client_metadata has one key with
// kid, use enc and alg ECDH-ES, public only.
func TestEncryptionJWKS(t *testing.T) {
	key := newKey(t)
	set, err := credentials.EncryptionJWKS(&key.PublicKey, jweKid)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]jsontext.Value `json:"keys"`
	}
	if err := json.Unmarshal(set, &doc); err != nil {
		t.Fatalf("%s: %v", set, err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("%d keys, want 1", len(doc.Keys))
	}
	k := doc.Keys[0]
	str := func(name string) string {
		var s string
		if v, ok := k[name]; !ok || json.Unmarshal(v, &s) != nil {
			return "<absent>"
		}
		return s
	}
	for name, want := range map[string]string{"kid": jweKid, "use": "enc", "alg": "ECDH-ES", "kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(key.X.FillBytes(make([]byte, 32))),
		"y": base64.RawURLEncoding.EncodeToString(key.Y.FillBytes(make([]byte, 32)))} {
		if got := str(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, ok := k["d"]; ok {
		t.Error("the JWKS holds the private key")
	}
	keys, err := credentials.ParseJWKS(set)
	if err != nil {
		t.Fatal(err)
	}
	if pub := keys[jweKid]; pub == nil || !pub.Equal(&key.PublicKey) {
		t.Errorf("ParseJWKS reads %v", keys)
	}
	// A wallet that encrypts to the published key is read.
	pub, err := credentials.ParsePublicJWK(mustJSON(t, k))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := credentials.EncryptResponse(jwePayload, pub, str("kid"), "A128GCM")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := credentials.DecryptResponse(tok, key, jweKid, credentials.ResponseEncs); err != nil {
		t.Error(err)
	}
}

// FuzzDecryptResponse feeds any token to DecryptResponse with the key of
// OpenID4VP 1.0 §8.3: it never panics, every refusal is typed, and what it
// accepts has the header §8.3 and HAIP 1.0 §5 allow.
func FuzzDecryptResponse(f *testing.F) {
	key := jweSpecPrivateKey(f)
	f.Add(jweSpecToken)
	if tok, err := credentials.EncryptResponse(jwePayload, &key.PublicKey, "ac", "A256GCM"); err == nil {
		f.Add(tok)
	}
	f.Add(jwePart(jweSpecToken, 1, "AAAA"))
	f.Add("eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTEyOEdDTSIsImtpZCI6ImFjIiwiemlwIjoiREVGIn0..AAAA.AAAA.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		plain, err := credentials.DecryptResponse(tok, key, "ac", credentials.ResponseEncs)
		if err != nil {
			if credentials.ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		if err != nil {
			t.Fatalf("accepted a header that is not base64url: %v", err)
		}
		var h map[string]jsontext.Value
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatalf("accepted a header that is not a JSON object: %v", err)
		}
		var alg, enc, kid string
		_ = json.Unmarshal(h["alg"], &alg)
		_ = json.Unmarshal(h["enc"], &enc)
		_ = json.Unmarshal(h["kid"], &kid)
		_, zip := h["zip"]
		_, crit := h["crit"]
		if alg != credentials.ECDHES || !slices.Contains(credentials.ResponseEncs, enc) || kid != "ac" || zip || crit {
			t.Fatalf("accepted header %s (plaintext %d bytes)", raw, len(plain))
		}
		if _, err := credentials.ParsePublicJWK(h["epk"]); err != nil {
			t.Fatalf("accepted epk %s: %v", h["epk"], err)
		}
	})
}

// TestResponseEncryptionKey (OpenID4VP 1.0 §8.3): the wallet encrypts to a
// P-256 ECDH-ES key of the verifier's JWKS; alg must be there, use may be
// absent or enc, and kid is optional: a key without one is used, and the
// JWE then names none.
func TestResponseEncryptionKey(t *testing.T) {
	key := newKey(t)
	jwkOf := func(members string) string {
		x := base64.RawURLEncoding.EncodeToString(key.X.FillBytes(make([]byte, 32)))
		y := base64.RawURLEncoding.EncodeToString(key.Y.FillBytes(make([]byte, 32)))
		return `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"` + members + `}`
	}
	other := newKey(t)
	sig, _ := credentials.EncryptionJWKS(&other.PublicKey, "sig-key")
	sig = jsontext.Value(strings.Replace(string(sig), `"use":"enc"`, `"use":"sig"`, 1))
	for name, c := range map[string]struct {
		jwks, kid string
		ok        bool
	}{
		"no kid":          {`{"keys":[` + jwkOf(`,"alg":"ECDH-ES"`) + `]}`, "", true},
		"kid and use enc": {`{"keys":[` + jwkOf(`,"alg":"ECDH-ES","use":"enc","kid":"k1"`) + `]}`, "k1", true},
		"a sig key first": {`{"keys":[` + strings.TrimSuffix(strings.TrimPrefix(string(sig), `{"keys":[`), `]}`) + `,` + jwkOf(`,"alg":"ECDH-ES","kid":"k2"`) + `]}`, "k2", true},
		"no alg":          {`{"keys":[` + jwkOf(`,"kid":"k3"`) + `]}`, "", false},
		"another alg":     {`{"keys":[` + jwkOf(`,"alg":"ECDH-ES+A128KW"`) + `]}`, "", false},
	} {
		t.Run(name, func(t *testing.T) {
			pub, kid, err := credentials.ResponseEncryptionKey([]byte(c.jwks))
			if !c.ok {
				if err == nil {
					t.Fatalf("picked a key from %s", c.jwks)
				}
				return
			}
			if err != nil || kid != c.kid || !pub.Equal(&key.PublicKey) {
				t.Fatalf("key %v, kid %q, %v; want kid %q", pub, kid, err, c.kid)
			}
			token, err := credentials.EncryptResponse([]byte(`{"state":"s"}`), pub, kid, "A128GCM")
			if err != nil {
				t.Fatal(err)
			}
			msg, err := jwe.Parse([]byte(token))
			if err != nil {
				t.Fatal(err)
			}
			if got := msg.ProtectedHeaders().KeyID(); got != kid {
				t.Errorf("the JWE names kid %q, want %q", got, kid)
			}
			plain, err := jwe.Decrypt([]byte(token), jwe.WithKey(jwa.ECDH_ES, key))
			if err != nil || string(plain) != `{"state":"s"}` {
				t.Errorf("decrypted %q, %v", plain, err)
			}
		})
	}
}
