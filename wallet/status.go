package wallet

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// activeSigner returns the issuer's active key, unsealed (cached by kid).
func (s *Service) activeSigner(is *Issuer) (*credentials.Issuer, error) {
	priv, err := s.activeKey(is)
	if err != nil {
		return nil, err
	}
	return credentials.NewIssuer(s.IssuerURL(is.ID), priv, s.rand)
}

// activeKey is the issuer's active private key, unsealed (cached by kid).
func (s *Service) activeKey(is *Issuer) (*ecdsa.PrivateKey, error) {
	for _, k := range is.Keys {
		if !k.Active {
			continue
		}
		s.mu.Lock()
		priv, ok := s.signers[k.Kid]
		s.mu.Unlock()
		if !ok {
			sealed, err := s.openBytes(k.Private, "issuer-key", is.ID, k.Kid)
			if err != nil {
				return nil, err
			}
			if priv, err = parsePKCS8(sealed); err != nil {
				return nil, fmt.Errorf("issuer %s key %s: %w", is.ID, k.Kid, err)
			}
			s.mu.Lock()
			s.signers[k.Kid] = priv
			s.mu.Unlock()
		}
		return priv, nil
	}
	return nil, fmt.Errorf("issuer %s has no active key", is.ID)
}

// issuerKeys returns an issuer's keys still in its JWKS, by kid: none once
// the issuer is retired. Parsed keys are cached by kid (content-addressed,
// so never stale): every approval builds the trust store from them.
func (s *Service) issuerKeys(is *Issuer) (map[string]*ecdsa.PublicKey, error) {
	keys := map[string]*ecdsa.PublicKey{}
	for _, k := range is.Keys {
		if k.Retired != nil || is.Retired != nil {
			continue
		}
		s.mu.Lock()
		pub, ok := s.publicKeys[k.Kid]
		s.mu.Unlock()
		if !ok {
			var err error
			if pub, err = credentials.ParsePublicJWK(k.Public); err != nil {
				return nil, fmt.Errorf("issuer %s key %s: %w", is.ID, k.Kid, err)
			}
			s.mu.Lock()
			s.publicKeys[k.Kid] = pub
			s.mu.Unlock()
		}
		keys[k.Kid] = pub
	}
	return keys, nil
}

// trust builds a trust store from issuers: each trusted for its own keys
// (parsed once per kid, issuerKeys) and its own types' vct (THREATS T3,
// T4). An approval builds it from the issuers of its items only.
func (s *Service) trust(issuers []*Issuer) (*credentials.TrustStore, error) {
	ts := credentials.NewTrustStore()
	for _, is := range issuers {
		keys, err := s.issuerKeys(is)
		if err != nil {
			return nil, err
		}
		vcts := s.issuerVCTs(is)
		if len(vcts) > 0 {
			ts.AddIssuer(s.IssuerURL(is.ID), keys, vcts...)
		}
	}
	return ts, nil
}

// issuerVCTs lists the vct of the types an issuer may issue (THREATS T4).
func (s *Service) issuerVCTs(is *Issuer) []string {
	var vcts []string
	for _, t := range is.Types {
		if ty, ok := s.types.ByID(t); ok {
			vcts = append(vcts, ty.VCT)
		}
	}
	return vcts
}

// JWKS returns an issuer's public keys (SPEC §3.5), from memory for half
// of PublicDocTTL (public.go).
func (s *Service) JWKS(ctx context.Context, issuerID string) (Document, error) {
	doc, err := s.document(docKey{kind: docJWKS, issuer: issuerID}, PublicDocTTL, func(time.Time) ([]byte, error) {
		return s.issuerJWKS(ctx, issuerID)
	})
	return doc, s.storeErr(ctx, err, "issuer")
}

// issuerJWKS reads an issuer's keys still in its JWKS, in the issuer's
// key order, as a JWK Set.
func (s *Service) issuerJWKS(ctx context.Context, issuerID string) ([]byte, error) {
	var out []byte
	err := s.store.View(ctx, func(tx Tx) error {
		is, err := Issuers.Get(tx, issuerID)
		if err != nil {
			return err
		}
		keys, err := s.issuerKeys(is)
		if err != nil {
			return err
		}
		var pubs []*ecdsa.PublicKey
		for _, k := range is.Keys { // keep the issuer's key order
			if pub, ok := keys[k.Kid]; ok {
				pubs = append(pubs, pub)
			}
		}
		out, err = credentials.JWKS(pubs...)
		return err
	})
	return out, err
}

// IssuerMetadata is the SD-JWT VC issuer metadata (SD-JWT VC draft §5:
// `issuer` and `jwks`), served under /.well-known/jwt-vc-issuer/issuers/{id},
// from memory like the JWKS.
func (s *Service) IssuerMetadata(ctx context.Context, issuerID string) (Document, error) {
	doc, err := s.document(docKey{kind: docMetadata, issuer: issuerID}, PublicDocTTL, func(time.Time) ([]byte, error) {
		jwks, err := s.issuerJWKS(ctx, issuerID)
		if err != nil {
			return nil, err
		}
		// A struct, not a map: v2 does not sort a map's members by default,
		// and the bytes (and the ETag caches keep) must not change order
		// from one build of the document to the next.
		return json.Marshal(struct {
			Issuer string         `json:"issuer"`
			JWKS   jsontext.Value `json:"jwks"`
		}{s.IssuerURL(issuerID), jwks})
	})
	return doc, s.storeErr(ctx, err, "issuer")
}

// StatusListToken returns the signed Token Status List of an issuer's list,
// from memory until half its ttl has passed or a status in it changes on
// this replica (public.go): fresh for StatusListTTL after it was read.
func (s *Service) StatusListToken(ctx context.Context, issuerID string, list int) (Document, error) {
	doc, err := s.document(docKey{kind: docStatusList, issuer: issuerID, list: list}, StatusListTTL, func(now time.Time) ([]byte, error) {
		var token string
		err := s.store.View(ctx, func(tx Tx) error {
			is, err := Issuers.Get(tx, issuerID)
			if err != nil {
				return err
			}
			lst, err := buildStatusList(tx, issuerID, list)
			if err != nil {
				return err
			}
			signer, err := s.activeSigner(is)
			if err != nil {
				return err
			}
			token, err = signer.SignStatusList(credentials.StatusListToken{
				Issuer: s.IssuerURL(issuerID), Subject: s.StatusListURL(issuerID, list), IssuedAt: now,
				ExpiresAt: now.Add(24 * time.Hour), TTL: StatusListTTL, List: lst,
			})
			return err
		})
		return []byte(token), err
	})
	return doc, s.storeErr(ctx, err, "status list")
}

// buildStatusList makes a list from its entries that are not valid, the
// compact form it is kept in: issuing, a status change and a redemption
// never write a whole list; the token built from it is cached (see
// StatusListToken). ErrNotFound when the list does not exist.
func buildStatusList(tx Tx, issuerID string, list int) (*credentials.StatusList, error) {
	sl, err := StatusLists.Get(tx, issuerID, list)
	if err != nil {
		return nil, err
	}
	lst, err := credentials.NewStatusList(2, sl.Size)
	if err != nil {
		return nil, err
	}
	entries, err := StatusEntries.List(tx, "", Order{}, issuerID, list)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := lst.Set(e.Index, e.Value); err != nil {
			return nil, fmt.Errorf("status list %s/%d entry %d: %w", issuerID, list, e.Index, err)
		}
	}
	return lst, nil
}

// statusValue is the Token Status List value of an API status word.
func statusValue(status string) (uint8, bool) {
	switch status {
	case api.StatusValid:
		return credentials.StatusValid, true
	case api.StatusRevoked:
		return credentials.StatusInvalid, true
	case api.StatusSuspended:
		return credentials.StatusSuspended, true
	}
	return 0, false
}
