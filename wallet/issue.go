package wallet

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// MaxValidity bounds valid_until.
const MaxValidity = 30 * 365 * 24 * time.Hour

// IssueResult is the outcome of one credential of a batch.
type IssueResult struct {
	Response *api.IssueResponse
	Err      error
}

// Issue issues one credential (SPEC §3.2).
func (s *Service) Issue(ctx context.Context, p *Principal, req api.IssueRequest) (*api.IssueResponse, error) {
	res, err := s.IssueBatch(ctx, p, []api.IssueRequest{req})
	if err != nil {
		return nil, err
	}
	return res[0].Response, res[0].Err
}

// pendingIssue is one credential on its way through IssueBatch.
type pendingIssue struct {
	req      api.IssueRequest
	typ      *credentials.Type
	err      error
	holderID string
	list     int
	index    int
	devices  []*Device
	cred     *Credential
	copies   map[string][]byte // device id → sealed SD-JWT
}

// IssueBatch issues credentials for the calling issuer. Each item is
// validated on its own (a bad item fails alone); the good ones are
// allocated their status indices in one transaction, signed in parallel
// outside any transaction, and stored with their activity entries in a
// second one, so a batch costs two commits whatever its size. An index
// allocated to an item that then fails is never reused (SPEC §3.5).
func (s *Service) IssueBatch(ctx context.Context, p *Principal, reqs []api.IssueRequest) ([]IssueResult, error) {
	if err := p.require(api.RoleIssuer); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	items := make([]*pendingIssue, len(reqs))
	var is *Issuer
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		is, err = tx.Issuer(p.Subject)
		return err
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "issuer")
	}
	for i, req := range reqs {
		items[i] = &pendingIssue{req: req}
		items[i].typ, items[i].err = s.checkIssue(is, req, now)
	}
	signer, err := s.activeSigner(is)
	if err != nil {
		return nil, s.storeErr(ctx, err, "issuer key")
	}
	if err := s.store.Update(ctx, func(tx Tx) error { return s.allocate(tx, is.ID, items, now) }); err != nil {
		return nil, s.storeErr(ctx, err, "allocate status")
	}
	s.signAll(signer, is.ID, items, now)
	err = s.store.Update(ctx, func(tx Tx) error {
		for _, it := range items {
			if it.err != nil {
				continue
			}
			if err := tx.PutCredential(it.cred); err != nil {
				return err
			}
			for deviceID, sealed := range it.copies {
				if err := tx.PutCredentialCopy(it.cred.ID, deviceID, sealed); err != nil {
					return err
				}
			}
			if err := s.appendActivity(tx, &api.ActivityEntry{HolderID: it.holderID, At: now, Event: api.EventCredentialIssued,
				Outcome: "ok", IssuerID: is.ID, CredentialID: it.cred.ID}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "store credentials")
	}
	out := make([]IssueResult, len(items))
	issued := 0
	for i, it := range items {
		if it.err != nil {
			out[i].Err = it.err
			continue
		}
		out[i].Response = &api.IssueResponse{CredentialID: it.cred.ID, StatusIndex: it.index, StatusList: s.StatusListURL(is.ID, it.list)}
		issued++
	}
	// One line a batch: bulk issuance runs at thousands a second.
	if len(items) == 1 && issued == 1 {
		s.log.InfoContext(ctx, "credential issued", "issuer_id", is.ID, "credential_id", items[0].cred.ID, "type", items[0].cred.Type, "holder_id", items[0].holderID)
	} else {
		s.log.InfoContext(ctx, "credentials issued", "issuer_id", is.ID, "issued", issued, "refused", len(items)-issued)
	}
	return out, nil
}

// checkIssue validates one request: the issuer's own type (SPEC §3.2: an
// issuer may only issue its own types), the schema, the validity.
func (s *Service) checkIssue(is *Issuer, req api.IssueRequest, now time.Time) (*credentials.Type, error) {
	if !citizenPattern.MatchString(req.CitizenID) {
		return nil, Errorf(api.CodeInvalidRequest, "citizen_id: 12 digits")
	}
	t, ok := s.types.ByID(req.Type)
	if !ok {
		return nil, Errorf(api.CodeInvalidRequest, "type: unknown credential type")
	}
	if is.Retired != nil {
		return nil, Errorf(api.CodeForbidden, "issuer %s is retired", is.ID)
	}
	if !slices.Contains(is.Types, req.Type) {
		return nil, Errorf(api.CodeForbidden, "issuer %s may not issue %s", is.ID, req.Type)
	}
	if err := t.Validate(req.Claims); err != nil {
		return nil, Errorf(api.CodeInvalidRequest, "%v", err)
	}
	if !req.ValidUntil.After(now) || req.ValidUntil.Sub(now) > MaxValidity {
		return nil, Errorf(api.CodeInvalidRequest, "valid_until: in the future, at most 30 years ahead")
	}
	return t, nil
}

// allocate finds each item's holder and devices and claims a random,
// never-used status index for it (SPEC §3.5: herd privacy). A list is
// filled to half before the next one opens, so a random probe rarely
// collides.
func (s *Service) allocate(tx Tx, issuerID string, items []*pendingIssue, now time.Time) error {
	is, err := tx.Issuer(issuerID)
	if err != nil {
		return err
	}
	changed := false
	for _, it := range items {
		if it.err != nil {
			continue
		}
		h, err := s.holderFor(tx, it.req.CitizenID, now)
		if err != nil {
			return err
		}
		it.holderID = h.ID
		if it.devices, err = activeDevices(tx, h.ID); err != nil {
			return err
		}
		if is.ListAllocated >= StatusListSize/2 {
			is.CurrentList++
			is.ListAllocated = 0
			if err := tx.PutStatusList(s.newStatusList(is.ID, is.CurrentList, now)); err != nil {
				return err
			}
		}
		for attempt := 0; ; attempt++ {
			idx, err := s.randomIndex(StatusListSize)
			if err != nil {
				return err
			}
			err = tx.AllocateStatusIndex(is.ID, is.CurrentList, idx)
			if err == nil {
				it.list, it.index = is.CurrentList, idx
				break
			}
			if !errors.Is(err, ErrExists) || attempt == 64 {
				return fmt.Errorf("allocate status index: %w", err)
			}
		}
		is.ListAllocated++
		changed = true
	}
	if !changed {
		return nil
	}
	return tx.PutIssuer(is)
}

// randomIndex is uniform in [0, n) for n a power of two.
func (s *Service) randomIndex(n int) (int, error) {
	var b [4]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint32(b[:]) & uint32(n-1)), nil
}

func activeDevices(tx Tx, holderID string) ([]*Device, error) {
	all, err := tx.Devices(holderID)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, d := range all {
		if d.Revoked == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// signAll builds the sealed credential of every good item, one worker a
// core: signing dominates issuance.
func (s *Service) signAll(signer *credentials.Issuer, issuerID string, items []*pendingIssue, now time.Time) {
	work := make(chan *pendingIssue)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				it.err = s.buildCredential(signer, issuerID, it, now)
			}
		}()
	}
	for _, it := range items {
		if it.err == nil {
			work <- it
		}
	}
	close(work)
	wg.Wait()
}

func (s *Service) buildCredential(signer *credentials.Issuer, issuerID string, it *pendingIssue, now time.Time) error {
	id, err := s.newID("crd")
	if err != nil {
		return err
	}
	c := &Credential{
		ID: id, HolderID: it.holderID, IssuerID: issuerID, Type: it.typ.ID,
		StatusList: it.list, StatusIndex: it.index, Status: api.StatusValid,
		IssuedAt: now, ValidUntil: it.req.ValidUntil.UTC(),
	}
	claims, err := json.Marshal(it.req.Claims)
	if err != nil {
		return fmt.Errorf("encode claims: %w", err)
	}
	if c.Claims, err = s.sealBytes(claims, "credential", c.ID, c.HolderID); err != nil {
		return err
	}
	it.copies = make(map[string][]byte, len(it.devices))
	for _, d := range it.devices {
		if it.copies[d.ID], err = s.bindCopy(signer, c, it.typ, it.req.Claims, d, now); err != nil {
			return err
		}
	}
	it.cred = c
	return nil
}

// bindCopy signs the credential for one device key and seals it to the
// credential and device (SPEC §2: each device holds its own copy).
func (s *Service) bindCopy(signer *credentials.Issuer, c *Credential, t *credentials.Type, claims map[string]any, d *Device, now time.Time) ([]byte, error) {
	pub, err := credentials.ParsePublicJWK(d.Key)
	if err != nil {
		return nil, fmt.Errorf("device %s key: %w", d.ID, err)
	}
	sdjwt, err := signer.Issue(credentials.IssueParams{
		Type: t, Claims: claims, Holder: pub, IssuedAt: now, ExpiresAt: c.ValidUntil,
		Status: &credentials.StatusRef{Index: c.StatusIndex, URI: s.StatusListURL(c.IssuerID, c.StatusList)},
	})
	if err != nil {
		return nil, fmt.Errorf("sign credential %s: %w", c.ID, err)
	}
	return s.sealBytes([]byte(sdjwt), "credential-copy", c.ID, d.ID)
}

// credentialClaims unseals the issuer's claims of a credential.
func (s *Service) credentialClaims(c *Credential) (map[string]any, error) {
	raw, err := s.openBytes(c.Claims, "credential", c.ID, c.HolderID)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, fmt.Errorf("credential %s claims: %w", c.ID, err)
	}
	return claims, nil
}

// SetStatus revokes, suspends or reinstates a credential of the calling
// issuer and updates its status list (SPEC §3.2). An unknown id and
// another issuer's credential are the same not_found answer; a revoked
// credential set to anything else is conflict.
func (s *Service) SetStatus(ctx context.Context, p *Principal, credentialID string, req api.StatusRequest) (*api.StatusResponse, error) {
	if err := p.require(api.RoleIssuer); err != nil {
		return nil, err
	}
	v, ok := statusValue(req.Status)
	if !ok {
		return nil, Errorf(api.CodeInvalidRequest, "status: valid, revoked or suspended")
	}
	if len(req.Reason) > 200 {
		return nil, Errorf(api.CodeInvalidRequest, "reason: at most 200 bytes")
	}
	now := s.now().UTC()
	err := s.store.Update(ctx, func(tx Tx) error {
		c, err := tx.Credential(credentialID)
		if err != nil {
			return err
		}
		if c.IssuerID != p.Subject {
			// SPEC §5, THREATS T18: another issuer's credential answers
			// exactly as an unknown id, so an issuer cannot probe which
			// credential ids exist.
			return ErrNotFound
		}
		if c.Status == api.StatusRevoked && req.Status != api.StatusRevoked {
			return Errorf(api.CodeConflict, "a revoked credential stays revoked")
		}
		sl, err := tx.StatusList(c.IssuerID, c.StatusList)
		if err != nil {
			return err
		}
		lst, err := credentials.StatusListFromBytes(2, sl.Values)
		if err != nil {
			return err
		}
		if err := lst.Set(c.StatusIndex, v); err != nil {
			return err
		}
		sl.Values, sl.Updated = lst.Bytes(), now
		c.Status = req.Status
		if err := tx.PutStatusList(sl); err != nil {
			return err
		}
		if err := tx.PutCredential(c); err != nil {
			return err
		}
		return s.appendActivity(tx, &api.ActivityEntry{HolderID: c.HolderID, At: now, Event: api.EventCredentialStatus,
			Outcome: req.Status, IssuerID: c.IssuerID, CredentialID: c.ID})
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "credential")
	}
	s.dropStatusTokens(p.Subject)
	s.log.InfoContext(ctx, "credential status changed", "issuer_id", p.Subject, "credential_id", credentialID, "status", req.Status)
	return &api.StatusResponse{CredentialID: credentialID, Status: req.Status}, nil
}
