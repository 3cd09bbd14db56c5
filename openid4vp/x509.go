package openid4vp

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"time"
)

// Certificates for the x509_san_dns and x509_hash client identifiers
// (OpenID4VP 1.0 §5.9.3): a CA the operator runs, and a leaf per
// verifier whose key signs that verifier's request objects.

// Certificate lifetimes.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	LeafLifetime = 365 * 24 * time.Hour
)

// NewCA makes a self-signed CA certificate (DER) for key, named name, that
// may sign end-entity certificates only (path length 0).
func NewCA(key *ecdsa.PrivateKey, name string, now time.Time, random io.Reader) ([]byte, error) {
	tmpl, err := template(name, now, CALifetime, random)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.MaxPathLenZero = true, true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	tmpl.SubjectKeyId = keyID(&key.PublicKey)
	der, err := x509.CreateCertificate(random, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	return der, nil
}

// IssueLeaf issues a verifier's certificate (DER) for pub under ca: its
// name as the subject's common and organization name and, when dnsName is
// not empty, that dNSName as its subject alternative name — the value of
// an x509_san_dns client identifier.
func IssueLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, pub *ecdsa.PublicKey, name, dnsName string, now time.Time, random io.Reader) ([]byte, error) {
	tmpl, err := template(name, now, LeafLifetime, random)
	if err != nil {
		return nil, err
	}
	tmpl.Subject.Organization = []string{name}
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.SubjectKeyId = keyID(pub)
	if dnsName != "" {
		tmpl.DNSNames = []string{dnsName}
	}
	der, err := x509.CreateCertificate(random, tmpl, ca, pub, caKey)
	if err != nil {
		return nil, fmt.Errorf("create verifier certificate: %w", err)
	}
	return der, nil
}

// template is what both kinds share: a random 128-bit serial (RFC 5280
// §4.1.2.2 allows up to 20 octets), the name, and a validity starting a
// minute back for clock skew.
func template(name string, now time.Time, life time.Duration, random io.Reader) (*x509.Certificate, error) {
	if random == nil {
		random = rand.Reader
	}
	serial, err := rand.Int(random, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(life),
	}, nil
}

// keyID is the subject key identifier of RFC 7093 §2 method 1: the
// leftmost 160 bits of the SHA-256 of the public key.
func keyID(pub *ecdsa.PublicKey) []byte {
	b, _ := pub.Bytes()
	sum := sha256.Sum256(b)
	return sum[:20]
}
