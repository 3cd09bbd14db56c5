package wallet

import (
	"context"
	"errors"

	"github.com/eidwallet/eidwallet/api"
)

// An issuer's view of its own credentials (issue 13 item 4): one by id,
// or a citizen's by their personal identification number. Another
// issuer's credential answers exactly as an unknown id (THREATS T18). The
// claims are not shown: the issuer holds them already, and the service
// keeps them sealed.

// IssuedCredential is one of the calling issuer's credentials.
func (s *Service) IssuedCredential(ctx context.Context, p *Principal, id string) (*api.IssuedCredential, error) {
	if err := p.require(api.RoleIssuer); err != nil {
		return nil, err
	}
	var out *api.IssuedCredential
	err := s.store.View(ctx, func(tx Tx) error {
		c, err := Credentials.Get(tx, id)
		if err := mine(err, "credential", func() bool { return c.IssuerID == p.Subject }); err != nil {
			return err
		}
		out = s.issuedView(c)
		return nil
	})
	return out, s.storeErr(ctx, err, "credential")
}

// IssuedToCitizen lists the calling issuer's credentials of one citizen,
// in issuance order: none for a citizen it never issued to (or unknown).
func (s *Service) IssuedToCitizen(ctx context.Context, p *Principal, citizenID string) ([]*api.IssuedCredential, error) {
	if err := p.require(api.RoleIssuer); err != nil {
		return nil, err
	}
	if !citizenPattern.MatchString(citizenID) {
		return nil, Errorf(api.CodeInvalidRequest, "citizen_id: 12 digits")
	}
	out := []*api.IssuedCredential{}
	err := s.store.View(ctx, func(tx Tx) error {
		h, err := Holders.By(tx, byCitizen, s.citizenHash(citizenID))
		if errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		all, err := Credentials.List(tx, byHolder, Order{}, h.ID)
		for _, c := range all {
			if c.IssuerID == p.Subject {
				out = append(out, s.issuedView(c))
			}
		}
		return err
	})
	return out, s.storeErr(ctx, err, "credentials")
}

func (s *Service) issuedView(c *Credential) *api.IssuedCredential {
	return &api.IssuedCredential{CredentialID: c.ID, Type: c.Type, Status: c.Status, IssuedAt: c.IssuedAt.UTC(),
		ValidUntil: c.ValidUntil.UTC(), StatusList: s.StatusListURL(c.IssuerID, c.StatusList), StatusIndex: c.StatusIndex}
}
