package wallet

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/openid4vp"
)

// The certificates of the verifiers' OpenID4VP request objects
// (x509_san_dns, x509_hash): the service's verifier CA, the certificate it
// issues each verifier, or one the operator imports.

// VerifierCA is the certificate (PEM) of the CA that issues verifiers'
// certificates: the trust anchor a wallet needs for this service's
// x509_san_dns and x509_hash client identifiers.
func (s *Service) VerifierCA(ctx context.Context) ([]byte, error) {
	ca, err := s.verifierCA(ctx)
	if err != nil {
		return nil, s.storeErr(ctx, err, "verifier CA")
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.der}), nil
}

// verifierCAKeys is the CA as the service holds it.
type verifierCAKeys struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	der  []byte
}

const (
	metaVerifierCAKey  = "verifier_ca_key"
	metaVerifierCACert = "verifier_ca_cert"
)

// verifierCA loads the verifier CA, making it on first use (key sealed in
// the store, self-signed certificate beside it); kept in memory after.
func (s *Service) verifierCA(ctx context.Context) (*verifierCAKeys, error) {
	s.mu.Lock()
	ca := s.ca
	s.mu.Unlock()
	if ca != nil {
		return ca, nil
	}
	read := func(tx Tx) (sealed, der []byte, err error) {
		if sealed, err = Meta.Get(tx, metaVerifierCAKey); err != nil {
			return nil, nil, err
		}
		der, err = Meta.Get(tx, metaVerifierCACert)
		return sealed, der, err
	}
	var sealed, der []byte
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		sealed, der, err = read(tx)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		sealed, der, err = s.makeVerifierCA(ctx, read)
	}
	if err != nil {
		return nil, err
	}
	ad := []byte("meta|" + metaVerifierCAKey)
	key, err := s.unsealKey(sealed, ad)
	if err != nil {
		return nil, fmt.Errorf("verifier CA key: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("verifier CA certificate: %w", err)
	}
	ca = &verifierCAKeys{key: key, cert: cert, der: der}
	s.mu.Lock()
	s.ca = ca
	s.mu.Unlock()
	return ca, nil
}

// makeVerifierCA makes the CA and stores it unless another replica did
// first (then theirs is read back).
func (s *Service) makeVerifierCA(ctx context.Context, read func(Tx) ([]byte, []byte, error)) (sealed, der []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), s.rand)
	if err != nil {
		return nil, nil, err
	}
	if der, err = openid4vp.NewCA(key, "eidwallet verifier CA "+s.url, s.now(), s.rand); err != nil {
		return nil, nil, err
	}
	pk, err := credentials.MarshalPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	if sealed, err = s.seal.Seal(pk, []byte("meta|"+metaVerifierCAKey)); err != nil {
		return nil, nil, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if oldSealed, oldDER, err := read(tx); err == nil {
			sealed, der = oldSealed, oldDER
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := Meta.Put(tx, sealed, metaVerifierCAKey); err != nil {
			return err
		}
		return Meta.Put(tx, der, metaVerifierCACert)
	})
	return sealed, der, err
}

// verifierCertificate returns a verifier's certificate (DER) and key,
// issuing them from the verifier CA when it has none or its certificate
// is within 30 days of expiry.
func (s *Service) verifierCertificate(ctx context.Context, verifierID string) ([]byte, *ecdsa.PrivateKey, error) {
	var v *Verifier
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		v, err = Verifiers.Get(tx, verifierID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if len(v.Cert) > 0 {
		cert, err := x509.ParseCertificate(v.Cert)
		if err != nil {
			return nil, nil, fmt.Errorf("verifier %s certificate: %w", verifierID, err)
		}
		if now.Add(30*24*time.Hour).Before(cert.NotAfter) || v.CertImported && now.Before(cert.NotAfter) {
			key, err := s.unsealKey(v.CertKey, []byte("verifier-cert-key|"+verifierID))
			return v.Cert, key, err
		}
		if v.CertImported { // the operator's to renew
			return nil, nil, Errorf(api.CodeConflict, "the verifier's imported certificate has expired")
		}
	}
	ca, err := s.verifierCA(ctx)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), s.rand)
	if err != nil {
		return nil, nil, err
	}
	host, _ := s.dnsName() // none for a public URL on an IP address: x509_hash only
	der, err := openid4vp.IssueLeaf(ca.cert, ca.key, &key.PublicKey, v.Name, host, now, s.rand)
	if err != nil {
		return nil, nil, err
	}
	pk, err := credentials.MarshalPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := s.seal.Seal(pk, []byte("verifier-cert-key|"+verifierID))
	if err != nil {
		return nil, nil, err
	}
	var out []byte
	err = s.store.Update(ctx, func(tx Tx) error {
		cur, err := Verifiers.Get(tx, verifierID)
		if err != nil {
			return err
		}
		if !slices.Equal(cur.Cert, v.Cert) { // another request issued one meanwhile: use it
			out = cur.Cert
			return nil
		}
		cur.Cert, cur.CertKey, out = der, sealed, der
		return Verifiers.Put(tx, cur)
	})
	if err != nil {
		return nil, nil, err
	}
	if !slices.Equal(out, der) {
		return s.verifierCertificate(ctx, verifierID)
	}
	return der, key, nil
}

// ImportVerifierCertificate sets a verifier's certificate to one the
// operator had issued elsewhere: the chain's leaf must hold a P-256 key
// matching privateKey, be valid now and, for x509_san_dns, name the
// public URL's host. It replaces the verifier CA's, and is never renewed
// by the service. Requests made before keep the client identifier they
// were made with (an x509_hash one then no longer signs: 409).
func (s *Service) ImportVerifierCertificate(ctx context.Context, p *Principal, verifierID string, req api.VerifierCertificateRequest) (*api.VerifierCertificateView, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	if len(req.CertificateChain) > 64<<10 || len(req.PrivateKey) > 8<<10 {
		return nil, Errorf(api.CodeInvalidRequest, "certificate_chain: at most 64 KiB; private_key: at most 8 KiB")
	}
	var chain [][]byte
	for rest := []byte(req.CertificateChain); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			chain = append(chain, b.Bytes)
		}
	}
	if len(chain) == 0 || len(chain) > 4 {
		return nil, Errorf(api.CodeInvalidRequest, "certificate_chain: 1 to 4 PEM certificates, the leaf first")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, Errorf(api.CodeInvalidRequest, "certificate_chain: the leaf is not a certificate")
	}
	kb, _ := pem.Decode([]byte(req.PrivateKey))
	if kb == nil {
		return nil, Errorf(api.CodeInvalidRequest, "private_key: not PEM")
	}
	key, err := credentials.ParsePrivateKey(kb.Bytes)
	if err != nil {
		if ec, err2 := x509.ParseECPrivateKey(kb.Bytes); err2 == nil && ec.Curve == elliptic.P256() {
			key, err = ec, nil
		}
	}
	if err != nil {
		return nil, Errorf(api.CodeInvalidRequest, "private_key: a P-256 key, PKCS #8 or SEC 1")
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, Errorf(api.CodeInvalidRequest, "private_key: not the key of the leaf certificate")
	}
	if now := s.now(); now.Before(leaf.NotBefore) || !now.Before(leaf.NotAfter) {
		return nil, Errorf(api.CodeInvalidRequest, "certificate_chain: the leaf is not valid now")
	}
	if host, err := s.dnsName(); err == nil && !slices.Contains(leaf.DNSNames, host) {
		return nil, Errorf(api.CodeInvalidRequest, "certificate_chain: the leaf must name %s (the public URL's host) as a DNS SAN", host)
	}
	der, err := credentials.MarshalPrivateKey(key)
	if err != nil {
		return nil, err
	}
	sealed, err := s.seal.Seal(der, []byte("verifier-cert-key|"+verifierID))
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		v, err := Verifiers.Get(tx, verifierID)
		if err != nil {
			return err
		}
		v.Cert, v.CertKey, v.CertChain, v.CertImported = chain[0], sealed, chain[1:], true
		return Verifiers.Put(tx, v)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "verifier")
	}
	s.log.InfoContext(ctx, "verifier certificate imported", "verifier_id", verifierID)
	return &api.VerifierCertificateView{VerifierID: verifierID, Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(),
		DNSNames: leaf.DNSNames, ExpiresAt: leaf.NotAfter, Imported: true, X509Hash: openid4vp.X509HashClientID(chain[0])}, nil
}

// withoutRoot is chain (DER, the leaf first) without a self-signed root at
// its end: HAIP 1.0 §5, the trust anchor is never sent in x5c.
func withoutRoot(chain [][]byte) [][]byte {
	if n := len(chain); n > 1 {
		if root, err := x509.ParseCertificate(chain[n-1]); err == nil && bytes.Equal(root.RawSubject, root.RawIssuer) && root.CheckSignatureFrom(root) == nil {
			return chain[:n-1]
		}
	}
	return chain
}
