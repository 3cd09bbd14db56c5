package openid4vp_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/openid4vp"
)

var certNow = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func p256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// certAuthority is a CA made by NewCA, parsed.
type certAuthority struct {
	key  *ecdsa.PrivateKey
	der  []byte
	cert *x509.Certificate
}

func newCA(t testing.TB) *certAuthority {
	t.Helper()
	key := p256(t)
	der, err := openid4vp.NewCA(key, "eidwallet verifier CA", certNow, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &certAuthority{key, der, cert}
}

func (ca *certAuthority) leaf(t testing.TB, pub *ecdsa.PublicKey, dnsName string) *x509.Certificate {
	t.Helper()
	der, err := openid4vp.IssueLeaf(ca.cert, ca.key, pub, "Age Shop", dnsName, certNow, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func verifyLeaf(leaf *x509.Certificate, ca *certAuthority, dnsName string, at time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: dnsName, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// §5.9.3: the wallet validates the leaf's chain to a trusted root and, for
// x509_san_dns, the dNSName SAN; crypto/x509 does both here.
func TestIssueLeafChainVerifies(t *testing.T) {
	ca := newCA(t)
	leafKey := p256(t)
	leaf := ca.leaf(t, &leafKey.PublicKey, "verifier.example")
	if err := verifyLeaf(leaf, ca, "verifier.example", certNow); err != nil {
		t.Fatalf("the chain does not verify: %v", err)
	}
	if err := verifyLeaf(leaf, ca, "other.example", certNow); err == nil {
		t.Error("the leaf verifies for a DNS name it does not carry")
	}
	if err := verifyLeaf(leaf, newCA(t), "verifier.example", certNow); err == nil {
		t.Error("the leaf verifies under another CA")
	}
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(&leafKey.PublicKey) {
		t.Error("the leaf does not certify the verifier's key")
	}
	if leaf.Subject.CommonName != "Age Shop" || len(leaf.Subject.Organization) != 1 || leaf.Subject.Organization[0] != "Age Shop" {
		t.Errorf("leaf subject %v", leaf.Subject)
	}
	if !bytes.Equal(leaf.AuthorityKeyId, ca.cert.SubjectKeyId) || len(leaf.SubjectKeyId) == 0 {
		t.Errorf("key ids: leaf authority %x, CA subject %x, leaf subject %x", leaf.AuthorityKeyId, ca.cert.SubjectKeyId, leaf.SubjectKeyId)
	}
}

// The validity windows: both start a little before now, and end after the
// package's lifetimes.
func TestCertificateValidity(t *testing.T) {
	ca := newCA(t)
	leaf := ca.leaf(t, &p256(t).PublicKey, "verifier.example")
	for _, c := range []struct {
		name string
		cert *x509.Certificate
		life time.Duration
	}{{"CA", ca.cert, openid4vp.CALifetime}, {"leaf", leaf, openid4vp.LeafLifetime}} {
		if c.cert.NotBefore.After(certNow) || certNow.Sub(c.cert.NotBefore) > time.Hour {
			t.Errorf("%s not before %v, now %v", c.name, c.cert.NotBefore, certNow)
		}
		if !c.cert.NotAfter.Equal(certNow.Add(c.life)) {
			t.Errorf("%s not after %v, want %v", c.name, c.cert.NotAfter, certNow.Add(c.life))
		}
	}
	if err := verifyLeaf(leaf, ca, "verifier.example", certNow.Add(openid4vp.LeafLifetime+time.Minute)); err == nil {
		t.Error("the leaf verifies after it expired")
	}
}

// The dNSName SAN (the x509_san_dns client identifier's value) is there
// only when asked for.
func TestIssueLeafDNSName(t *testing.T) {
	ca := newCA(t)
	with := ca.leaf(t, &p256(t).PublicKey, "verifier.example")
	if len(with.DNSNames) != 1 || with.DNSNames[0] != "verifier.example" {
		t.Errorf("DNS names %v, want [verifier.example]", with.DNSNames)
	}
	without := ca.leaf(t, &p256(t).PublicKey, "")
	if len(without.DNSNames)+len(without.EmailAddresses)+len(without.IPAddresses)+len(without.URIs) != 0 {
		t.Errorf("a leaf with no DNS name has SANs: %v %v %v %v", without.DNSNames, without.EmailAddresses, without.IPAddresses, without.URIs)
	}
	if err := verifyLeaf(without, ca, "", certNow); err != nil {
		t.Errorf("a leaf with no DNS name (x509_hash) does not verify: %v", err)
	}
}

// The CA signs end-entity certificates only: path length 0.
func TestNewCAPathLenZero(t *testing.T) {
	ca := newCA(t).cert
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("IsCA %v, basic constraints %v, MaxPathLen %d, MaxPathLenZero %v", ca.IsCA, ca.BasicConstraintsValid, ca.MaxPathLen, ca.MaxPathLenZero)
	}
	if ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("key usage %b lacks certSign", ca.KeyUsage)
	}
	if !bytes.Equal(ca.RawSubject, ca.RawIssuer) || ca.CheckSignatureFrom(ca) != nil {
		t.Error("the CA is not self-signed")
	}
}

// The leaf signs request objects, not certificates: digitalSignature only,
// not a CA, and a certificate it signs does not chain.
func TestIssueLeafCannotSignCertificates(t *testing.T) {
	ca := newCA(t)
	leafKey := p256(t)
	leaf := ca.leaf(t, &leafKey.PublicKey, "verifier.example")
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("leaf key usage %b, want digitalSignature only", leaf.KeyUsage)
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Errorf("leaf IsCA %v, basic constraints %v", leaf.IsCA, leaf.BasicConstraintsValid)
	}
	childKey := p256(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "child"},
		NotBefore: certNow.Add(-time.Minute), NotAfter: certNow.Add(time.Hour), DNSNames: []string{"child.example"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, leaf, &childKey.PublicKey, leafKey)
	if err != nil {
		t.Logf("crypto/x509 refuses to sign with the leaf: %v", err)
		return // as good as a chain that does not verify
	}
	child, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ca.cert)
	inter.AddCert(leaf)
	if _, err := child.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "child.example", CurrentTime: certNow,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Error("a certificate signed by the leaf chains to the CA")
	}
}

// RFC 5280 §4.1.2.2: serials are unique per CA (and positive, at most 20
// octets).
func TestCertificateSerials(t *testing.T) {
	ca := newCA(t)
	seen := map[string]bool{ca.cert.SerialNumber.String(): true}
	pub := &p256(t).PublicKey
	for range 20 {
		s := ca.leaf(t, pub, "verifier.example").SerialNumber
		if s.Sign() <= 0 || len(s.Bytes()) > 20 {
			t.Errorf("serial %v", s)
		}
		if seen[s.String()] {
			t.Errorf("serial %v twice", s)
		}
		seen[s.String()] = true
	}
}

// A nil random source means crypto/rand (template's fallback).
func TestCertificatesWithNilRandom(t *testing.T) {
	key := p256(t)
	der, err := openid4vp.NewCA(key, "CA", certNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openid4vp.IssueLeaf(ca, key, &p256(t).PublicKey, "Shop", "shop.example", certNow, nil); err != nil {
		t.Fatal(err)
	}
}
