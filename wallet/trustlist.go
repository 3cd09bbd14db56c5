package wallet

import (
	"context"
	"time"

	"github.com/eidwallet/eidwallet/credentials"
)

// TrustListTTL is how long a signed trust list is valid. A verifier working
// offline fetches it again before then; a key retired in the meantime stays
// trusted by an old copy at most this long.
const TrustListTTL = 24 * time.Hour

// TrustList returns the service's signed trust list (THREATS T37): every
// hosted issuer that is not retired, with its identifier, name, keys still
// in its JWKS and the vct of its types, signed with the service key (kid:
// its thumbprint, published by ServiceJWKS), valid for TrustListTTL. It is
// the same binding of keys to issuers and issuers to types that the
// service's own verification uses (trust), so an offline verifier holding
// it decides as the service would. It is kept in memory for half of
// PublicDocTTL (public.go); creating, changing or retiring an issuer on
// this replica drops it.
func (s *Service) TrustList(ctx context.Context) (Document, error) {
	doc, err := s.document(docKey{kind: docTrustList}, PublicDocTTL, func(now time.Time) ([]byte, error) {
		token, err := s.signTrustList(ctx, now)
		return []byte(token), err
	})
	return doc, s.storeErr(ctx, err, "trust list")
}

// signTrustList reads the hosted issuers and signs the trust list of now.
func (s *Service) signTrustList(ctx context.Context, now time.Time) (string, error) {
	list := credentials.TrustList{Issuer: s.url, IssuedAt: now, ExpiresAt: now.Add(TrustListTTL)}
	err := s.store.View(ctx, func(tx Tx) error {
		all, err := Issuers.List(tx, "", Order{})
		if err != nil {
			return err
		}
		for _, is := range all {
			if is.Retired != nil {
				continue
			}
			keys, err := s.issuerKeys(is)
			if err != nil {
				return err
			}
			vcts := s.issuerVCTs(is)
			if len(keys) == 0 || len(vcts) == 0 {
				continue // it can sign nothing a verifier should accept
			}
			list.Issuers = append(list.Issuers, credentials.TrustedIssuer{
				ID: is.ID, Issuer: s.IssuerURL(is.ID), Name: is.Name, Keys: keys, VCT: vcts})
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return credentials.SignTrustList(s.serviceKey, s.serviceKid, list)
}
