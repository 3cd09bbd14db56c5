package wallet

import (
	"context"

	"github.com/eidwallet/eidwallet/api"
)

// notRetired refuses v's key, as a revoked one, when v is retired: its
// keys are revoked with it (RetireVerifier), but one made by an older
// binary during a rolling upgrade may have been missed (operations.md),
// so the paths that disclose to a verifier, ask for a disclosure or spend
// a share — redemption, requests and their results (webhooks too),
// offline uploads — check the verifier itself too.
func notRetired(v *Verifier) error {
	if v.Retired != nil {
		return errUnauthenticated()
	}
	return nil
}

// APIKeys lists a page of the API keys by id (GET /v1/admin/api-keys,
// issue 13): id, role, owner, when made and revoked — never the key, which
// is kept only hashed (SPEC §6). owner, when set, lists one issuer's or
// verifier's, by the owner index, in the same order (a cursor of either
// list is a key id).
func (s *Service) APIKeys(ctx context.Context, p *Principal, owner string, pg api.Page) (*api.APIKeyList, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	pgr, err := s.pager(pg, "api_keys", owner)
	if err != nil {
		return nil, err
	}
	index, prefix := "", []any(nil)
	if owner != "" {
		index, prefix = byOwner, []any{owner}
	}
	out := &api.APIKeyList{}
	err = s.store.View(ctx, func(tx Tx) error {
		all, next, err := listPage(tx, pgr, APIKeys, index, false, nil, prefix...)
		out.APIKeys, out.NextCursor = convert(all, func(k *APIKey) api.APIKeyView {
			return api.APIKeyView{ID: k.ID, Role: k.Role, Owner: k.Owner, Created: k.Created, Revoked: k.Revoked}
		}), next
		return err
	})
	return out, s.storeErr(ctx, err, "api keys")
}

// RetireVerifier retires a verifier (DELETE /v1/admin/verifiers/{id},
// issue 13): its API keys are revoked in the same transaction, so it is
// refused at once on every replica; it gets no new key, shares can no
// longer name it, and its record and logs stay. Retiring twice is no
// error.
func (s *Service) RetireVerifier(ctx context.Context, p *Principal, verifierID string) (*api.VerifierView, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	revoked := 0
	view, err := s.changeVerifier(ctx, verifierID, func(tx Tx, v *Verifier) error {
		revoked = 0
		if v.Retired == nil {
			v.Retired = &now
		}
		keys, err := APIKeys.List(tx, byOwner, Order{}, verifierID)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.Role == api.RoleVerifier && k.Revoked == nil {
				k.Revoked = &now
				if err := APIKeys.Put(tx, k); err != nil {
					return err
				}
				revoked++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "verifier retired", "verifier_id", verifierID, "api_keys_revoked", revoked)
	return view, nil
}

// changeVerifier applies change to a verifier in one write transaction and
// returns it as the operator sees it.
func (s *Service) changeVerifier(ctx context.Context, verifierID string, change func(Tx, *Verifier) error) (*api.VerifierView, error) {
	var v *Verifier
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if v, err = Verifiers.Get(tx, verifierID); err != nil {
			return err
		}
		if err := change(tx, v); err != nil {
			return err
		}
		if err := s.touchVerifiers(tx); err != nil { // directory.go
			return err
		}
		return Verifiers.Put(tx, v)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "verifier")
	}
	return verifierView(v), nil
}
