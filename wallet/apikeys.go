package wallet

import (
	"context"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// APIKeys lists the API keys (GET /v1/admin/api-keys, issue 13): id,
// role, owner, when made and revoked — never the key, which is kept only
// hashed (SPEC §6). owner, when set, keeps one issuer's or verifier's.
func (s *Service) APIKeys(ctx context.Context, p *Principal, owner string) ([]api.APIKeyView, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	out := []api.APIKeyView{}
	err := s.store.View(ctx, func(tx Tx) error {
		all, err := APIKeys.List(tx, "", Order{})
		for _, k := range all {
			if owner == "" || k.Owner == owner {
				out = append(out, api.APIKeyView{ID: k.ID, Role: k.Role, Owner: k.Owner, Created: k.Created, Revoked: utcPtr(k.Revoked)})
			}
		}
		return err
	})
	return out, s.storeErr(ctx, err, "api keys")
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
