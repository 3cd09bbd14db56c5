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
// it decides as the service would.
func (s *Service) TrustList(ctx context.Context) (string, error) {
	now := s.now()
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
		return "", s.storeErr(ctx, err, "trust list")
	}
	return credentials.SignTrustList(s.serviceKey, s.serviceKid, list)
}
