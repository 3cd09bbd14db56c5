package credentials_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/credentials"
)

// FuzzVerifyJWTWithChain feeds any text to the check of a request object
// signed under an X.509 client identifier: it never panics, every failure
// is typed, and what it accepts was signed by a certificate of the root.
func FuzzVerifyJWTWithChain(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(root)
	valid, err := credentials.SignJWTWithChain(key, "oauth-authz-req+jwt", [][]byte{der}, map[string]string{"client_id": "x"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid + "x")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		payload, leaf, err := credentials.VerifyJWTWithChain(token, "oauth-authz-req+jwt", roots, now)
		if err != nil {
			if credentials.ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if leaf == nil || !leaf.Equal(root) || payload == nil {
			t.Fatalf("accepted %q with leaf %v", token, leaf)
		}
		if _, err := credentials.UnsignedPayload(token, "oauth-authz-req+jwt"); err == nil {
			t.Fatal("a signed request read as an unsigned one")
		}
	})
}
