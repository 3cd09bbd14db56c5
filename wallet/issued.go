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

// IssuedToCitizen lists a page of the calling issuer's credentials of one
// citizen, in issuance order: none for a citizen it never issued to (or
// unknown). The citizen's credentials are few: the page reads past other
// issuers'. Its cursor is bound to the citizen (by keyed hash).
func (s *Service) IssuedToCitizen(ctx context.Context, p *Principal, citizenID string, pg api.Page) (*api.IssuedCredentialList, error) {
	if err := p.require(api.RoleIssuer); err != nil {
		return nil, err
	}
	if !citizenPattern.MatchString(citizenID) {
		return nil, Errorf(api.CodeInvalidRequest, "citizen_id: 12 digits")
	}
	hash := s.citizenHash(citizenID)
	pgr, err := s.pager(pg, "issued_to", p.Subject, string(hash))
	if err != nil {
		return nil, err
	}
	out := &api.IssuedCredentialList{Credentials: []*api.IssuedCredential{}}
	err = s.store.View(ctx, func(tx Tx) error {
		h, err := Holders.By(tx, byCitizen, hash)
		if errors.Is(err, ErrNotFound) {
			out.Credentials, out.NextCursor = []*api.IssuedCredential{}, ""
			return nil
		} else if err != nil {
			return err
		}
		mine := func(c *Credential) (bool, bool) { return c.IssuerID == p.Subject, true }
		all, next, err := listPage(tx, pgr, Credentials, byHolder, false, mine, h.ID)
		out.Credentials, out.NextCursor = convert(all, s.issuedView), next
		return err
	})
	return out, s.storeErr(ctx, err, "credentials")
}

// IssuedCredentials lists a page of the calling issuer's credentials of
// one status (valid, revoked or suspended), newest first, ties by id
// (GET /v1/issuer/credentials, issue 13 item 4).
func (s *Service) IssuedCredentials(ctx context.Context, p *Principal, status string, pg api.Page) (*api.IssuedCredentialList, error) {
	if err := p.require(api.RoleIssuer); err != nil {
		return nil, err
	}
	switch status {
	case api.StatusValid, api.StatusRevoked, api.StatusSuspended:
	default:
		return nil, Errorf(api.CodeInvalidRequest, "status must be %s, %s or %s", api.StatusValid, api.StatusRevoked, api.StatusSuspended)
	}
	pgr, err := s.pager(pg, "issued", p.Subject, status)
	if err != nil {
		return nil, err
	}
	// A replica of the binary before migration 8 puts credentials without
	// these index columns, or leaves them behind a status change: what
	// the index holds is checked against the record (docs/operations.md).
	same := func(c *Credential) (bool, bool) { return c.IssuerID == p.Subject && c.Status == status, true }
	out := &api.IssuedCredentialList{}
	err = s.store.View(ctx, func(tx Tx) error {
		all, next, err := listPage(tx, pgr, Credentials, byIssuer, true, same, p.Subject, status)
		out.Credentials, out.NextCursor = convert(all, s.issuedView), next
		return err
	})
	return out, s.storeErr(ctx, err, "credentials")
}

func (s *Service) issuedView(c *Credential) *api.IssuedCredential {
	return &api.IssuedCredential{CredentialID: c.ID, Type: c.Type, Status: c.Status, IssuedAt: c.IssuedAt.UTC(),
		ExpiresAt: c.ValidUntil.UTC(), StatusList: s.StatusListURL(c.IssuerID, c.StatusList), StatusIndex: c.StatusIndex}
}
