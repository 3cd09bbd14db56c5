package openid4vp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/openid4vp"
)

// §5.9.3 x509_hash: "the base64url-encoded value of the SHA-256 hash of
// the DER-encoded X.509 certificate". The first two vectors are fixed
// (computed with `openssl dgst -sha256 -binary | basenc --base64url`,
// padding dropped); the last is a certificate made here with crypto/x509
// and hashed in the test.
func TestX509HashClientID(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "verifier.example"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"verifier.example"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	for _, c := range []struct {
		name string
		der  []byte
		want string
	}{
		{"empty input", nil, "x509_hash:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"},
		{"abc", []byte("abc"), "x509_hash:ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"},
		{"a certificate", der, "x509_hash:" + base64.RawURLEncoding.EncodeToString(sum[:])},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := openid4vp.X509HashClientID(c.der)
			if got != c.want {
				t.Errorf("X509HashClientID = %q, want %q", got, c.want)
			}
			if strings.ContainsAny(got, "=+/") {
				t.Errorf("%q is not base64url without padding", got)
			}
		})
	}
}

// §5.9.1 to §5.9.3: the prefix is what precedes the first ':' when it is a
// defined prefix; otherwise the whole identifier is a pre-registered one.
func TestClientIDPrefix(t *testing.T) {
	cases := []struct{ id, prefix, value string }{
		// §5.9.3, each defined prefix with its example.
		{"redirect_uri:https://client.example.org/cb", openid4vp.PrefixRedirectURI, "https://client.example.org/cb"},
		{"openid_federation:https://federation-verifier.example.com", "openid_federation", "https://federation-verifier.example.com"},
		{"decentralized_identifier:did:example:123", "decentralized_identifier", "did:example:123"},
		{"verifier_attestation:verifier.example", "verifier_attestation", "verifier.example"},
		{"x509_san_dns:client.example.org", openid4vp.PrefixX509SANDNS, "client.example.org"},
		{"x509_hash:Uvo3HtuIxuhC92rShpgqcT3YXwrqRxWEviRiA0OZszk", openid4vp.PrefixX509Hash, "Uvo3HtuIxuhC92rShpgqcT3YXwrqRxWEviRiA0OZszk"},
		{"origin:https://verifier.example.com", "origin", "https://verifier.example.com"},
		// §5.9.1: the prefix ends at the first ':'.
		{"x509_san_dns:a:b", openid4vp.PrefixX509SANDNS, "a:b"},
		// §5.9.2: no ':' is a pre-registered client.
		{"example-client", "", "example-client"},
		{"", "", ""},
		{"x509_san_dns", "", "x509_san_dns"},
		// §5.9.2: a ':' after something that is not a defined prefix.
		{"https://client.example.org/cb", "", "https://client.example.org/cb"},
		{"unknown:client", "", "unknown:client"},
		{"did:example:123", "", "did:example:123"},
		{":client", "", ":client"},
		{"X509_SAN_DNS:client.example.org", "", "X509_SAN_DNS:client.example.org"},
		{" x509_san_dns:client.example.org", "", " x509_san_dns:client.example.org"},
		{"x509_san_dns_extra:client.example.org", "", "x509_san_dns_extra:client.example.org"},
	}
	for _, c := range cases {
		p, v := openid4vp.ClientIDPrefix(c.id)
		if p != c.prefix || v != c.value {
			t.Errorf("ClientIDPrefix(%q) = %q, %q; want %q, %q", c.id, p, v, c.prefix, c.value)
		}
	}
}

// §5.7, RFC 9101 §5.2: the link carries client_id and request_uri, and
// request_uri_method=post only when asked (§5.10); each value, however
// awkward, reads back as it went in.
func TestLink(t *testing.T) {
	const requestURI = "https://verifier.example/oid4vp/requests/a b?x=1&y=2#frag+%20"
	clientID := openid4vp.X509HashClientID([]byte("leaf"))
	for _, c := range []struct {
		scheme, clientID string
		post             bool
	}{
		{openid4vp.SchemeOpenID4VP, "x509_san_dns:verifier.example", false},
		{openid4vp.SchemeOpenID4VP, clientID, true},
		{openid4vp.SchemeHAIP, "redirect_uri:https://verifier.example/cb?a=b&c=d", true},
	} {
		link := openid4vp.Link(c.scheme, c.clientID, requestURI, c.post)
		if !strings.HasPrefix(link, c.scheme+"://?") {
			t.Errorf("%s does not start with %s://?", link, c.scheme)
		}
		u, err := url.Parse(link)
		if err != nil {
			t.Fatalf("url.Parse(%s): %v", link, err)
		}
		if u.Scheme != c.scheme || u.Host != "" || u.Path != "" || u.Fragment != "" {
			t.Errorf("%s: scheme %q host %q path %q fragment %q", link, u.Scheme, u.Host, u.Path, u.Fragment)
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		want := url.Values{"client_id": {c.clientID}, "request_uri": {requestURI}}
		if c.post {
			want.Set("request_uri_method", "post")
		}
		if q.Encode() != want.Encode() {
			t.Errorf("%s reads back as %v, want %v", link, q, want)
		}
	}
}
