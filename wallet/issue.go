package wallet

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/go-json-experiment/json"
)

// MaxValidity bounds a credential's expires_at.
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
	copies   map[string][]byte  // device id → sealed SD-JWT
	idem     *idempotency       // its Idempotency-Key, if any
	answer   *api.IssueResponse // the first answer to its key: nothing to issue
	twin     int                // 1 + the index of an earlier item of the batch with its key and request, 0 if none
}

// skip reports whether there is nothing (more) to issue for it.
func (it *pendingIssue) skip() bool { return it.err != nil || it.answer != nil || it.twin > 0 }

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
	for i, req := range reqs {
		items[i] = &pendingIssue{req: req}
		key := req.IdempotencyKey
		req.IdempotencyKey = ""
		items[i].idem, items[i].err = idempotencyOf("issue", p, key, req)
	}
	twins(items)
	var is *Issuer
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if is, err = Issuers.Get(tx, p.Subject); err != nil {
			return err
		}
		return s.answeredIssues(tx, items)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "issuer")
	}
	for _, it := range items {
		if !it.skip() {
			it.typ, it.err = s.checkIssue(is, it.req, now)
		}
	}
	signer, err := s.activeSigner(is)
	if err != nil {
		return nil, s.storeErr(ctx, err, "issuer key")
	}
	// Both transactions are Batches (on PostgreSQL READ COMMITTED): every
	// decision in them is a key or unique value taken by a put that is
	// refused when taken (a status index, a new holder, a log entry, an
	// idempotent answer), then decided again. As SERIALIZABLE Updates, a
	// batch of 256 lines read so much that any single issuance committing
	// beside it failed it again and again, until it gave up.
	if err := s.store.Batch(ctx, func(tx Tx) error { return s.allocate(tx, is.ID, items, now) }); err != nil {
		return nil, s.storeErr(ctx, err, "allocate status")
	}
	s.signAll(signer, is.ID, items, now)
	err = s.storeIssued(ctx, is, items, now)
	if err != nil {
		return nil, s.storeErr(ctx, err, "store credentials")
	}
	for _, it := range items {
		for _, d := range it.devices {
			if !it.skip() && d.Pool {
				s.refills.add(d.ID) // batch copies, off the request path
			}
		}
	}
	out := make([]IssueResult, len(items))
	issued, refused := 0, 0
	for i, it := range items {
		switch {
		case it.twin > 0:
			out[i] = out[it.twin-1]
		case it.err != nil:
			out[i].Err = it.err
			refused++
		case it.answer != nil:
			out[i].Response = it.answer
		default:
			out[i].Response = s.issueResponse(is.ID, it)
			issued++
		}
	}
	// One line a batch: bulk issuance runs at thousands a second.
	if len(items) == 1 && issued == 1 {
		s.log.InfoContext(ctx, "credential issued", "issuer_id", is.ID, "credential_id", items[0].cred.ID, "type", items[0].cred.Type, "holder_id", items[0].holderID)
	} else {
		s.log.InfoContext(ctx, "credentials issued", "issuer_id", is.ID, "issued", issued, "refused", refused, "answered_again", len(items)-issued-refused)
	}
	return out, nil
}

// storeIssued stores the signed items with their activity entries and
// first answers in one transaction. A key answered by a concurrent call
// between the first check and this one (ErrExists from its put, on a
// store whose transactions overlap) is read again: that item then stores
// nothing and gets the answer given.
func (s *Service) storeIssued(ctx context.Context, is *Issuer, items []*pendingIssue, now time.Time) error {
	for attempt := 1; ; attempt++ {
		err := s.store.Batch(ctx, func(tx Tx) error {
			// A retry of a keyed line answered meanwhile stores nothing.
			if err := s.answeredIssues(tx, items); err != nil {
				return err
			}
			issued := map[counterKey]int64{} // by type (usage.go)
			var entries []*api.ActivityEntry
			for _, it := range items {
				if it.skip() {
					continue
				}
				if err := s.remember(tx, it.idem, s.issueResponse(is.ID, it), now); err != nil {
					return err
				}
				if err := Credentials.Put(tx, it.cred); err != nil {
					return err
				}
				for deviceID, sealed := range it.copies {
					if err := CredentialCopies.Put(tx, sealed, it.cred.ID, deviceID); err != nil {
						return err
					}
				}
				entries = append(entries, &api.ActivityEntry{HolderID: it.holderID, At: now, Event: api.EventCredentialIssued,
					Outcome: "ok", IssuerID: is.ID, CredentialID: it.cred.ID})
				issued[usage{event: eventIssuance, types: it.cred.Type}.key(now)]++
			}
			// The holders' logs in holder order (a holder's entries in line
			// order): two batches naming the same citizens then take their
			// rows in the same order, and on PostgreSQL never wait on each
			// other in a cycle (a deadlock, aborted and tried again until
			// the operation's time runs out).
			slices.SortStableFunc(entries, func(a, b *api.ActivityEntry) int { return strings.Compare(a.HolderID, b.HolderID) })
			for _, e := range entries {
				if err := s.appendActivity(tx, e); err != nil {
					return err
				}
			}
			return s.countAll(tx, issued)
		})
		if !errors.Is(err, ErrExists) || attempt == 3 {
			return err
		}
	}
}

// issueResponse is the answer for an issued item.
func (s *Service) issueResponse(issuerID string, it *pendingIssue) *api.IssueResponse {
	return &api.IssueResponse{CredentialID: it.cred.ID, StatusIndex: it.index, StatusList: s.StatusListURL(issuerID, it.list)}
}

// twins marks the items whose Idempotency-Key an earlier item of the
// batch has: with the same request it is that item's retry and gets its
// answer, never a second credential; with another it fails alone, as
// with a key answered before the batch.
func twins(items []*pendingIssue) {
	first := map[string]int{}
	for i, it := range items {
		if it.err != nil || it.idem == nil {
			continue
		}
		j, seen := first[string(it.idem.keyHash)]
		switch {
		case !seen:
			first[string(it.idem.keyHash)] = i
		case bytes.Equal(items[j].idem.reqHash, it.idem.reqHash):
			it.twin = j + 1
		default:
			it.err = errIdempotencyReused()
		}
	}
}

// answeredIssues finds the first answers of the keyed items not yet
// answered; an item whose key came with another request fails alone.
func (s *Service) answeredIssues(tx Tx, items []*pendingIssue) error {
	for _, it := range items {
		if it.skip() || it.idem == nil {
			continue
		}
		var first api.IssueResponse
		found, err := s.answered(tx, it.idem, &first)
		var e *Error
		switch {
		case errors.As(err, &e):
			it.err = err
		case err != nil:
			return err
		case found:
			it.answer = &first
		}
	}
	return nil
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
	if req.ValidUntil != nil && !req.ExpiresAt.IsZero() {
		return nil, Errorf(api.CodeInvalidRequest, "expires_at and valid_until are one field: give one")
	}
	if exp := req.Expiry(); !exp.After(now) || exp.Sub(now) > MaxValidity {
		return nil, Errorf(api.CodeInvalidRequest, "expires_at: in the future, at most 30 years ahead")
	}
	return t, nil
}

// allocate finds each item's holder and devices and claims a random,
// never-used status index for it (SPEC §3.5: herd privacy) in the
// issuer's newest list. Claiming an index is creating its record, so
// concurrent issuances rewrite nothing in common (claimIndex).
func (s *Service) allocate(tx Tx, issuerID string, items []*pendingIssue, now time.Time) error {
	list, err := newestList(tx, issuerID)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.skip() {
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
		if list, it.index, err = s.claimIndex(tx, issuerID, list, now); err != nil {
			return err
		}
		it.list = list
	}
	return nil
}

// newestList is the issuer's newest status list, the one new indices are
// claimed in.
func newestList(tx Tx, issuerID string) (int, error) {
	newest, err := StatusLists.List(tx, "", Order{Desc: true, Limit: 1}, issuerID)
	if err != nil {
		return 0, err
	}
	if len(newest) == 0 {
		return 0, fmt.Errorf("issuer %s has no status list", issuerID)
	}
	return newest[0].ID, nil
}

// listFullProbes is how many taken indices in a row make a list full: at
// half full a probe finds a taken index one time in two, so 16 in a row
// come about once in 65,000 claims. Lists fill to about half, a random
// probe rarely collides, and no record counts what is taken.
const listFullProbes = 16

// claimIndex claims a random free index of list, or of the next list
// (opened if need be) once list is full; it returns the list and index.
func (s *Service) claimIndex(tx Tx, issuerID string, list int, now time.Time) (int, int, error) {
	for probes := 0; ; probes++ {
		switch probes {
		case listFullProbes:
			list++
			// Another issuance may have opened it first: then both use it.
			if err := StatusLists.Put(tx, s.newStatusList(issuerID, list, now)); err != nil && !errors.Is(err, ErrExists) {
				return 0, 0, err
			}
		case 4 * listFullProbes: // a fresh list full too: the randomness is broken
			return 0, 0, fmt.Errorf("allocate status index in %s/%d: %d taken in a row", issuerID, list, probes)
		}
		idx, err := s.randomIndex(StatusListSize)
		if err != nil {
			return 0, 0, err
		}
		err = StatusIndices.Put(tx, nil, issuerID, list, idx)
		if err == nil {
			return list, idx, nil
		}
		if !errors.Is(err, ErrExists) {
			return 0, 0, fmt.Errorf("allocate status index: %w", err)
		}
	}
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
	all, err := Devices.List(tx, byHolder, Order{}, holderID)
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
// core: signing dominates issuance. One batch is signed at a time: it
// takes every core already, and two signed at once would only finish
// together, late, leaving the single writer idle meanwhile; one at a time,
// each batch commits while the next is signed (a bulk stream has two in
// flight, server/issuer.go). A single issuance does not wait for that.
func (s *Service) signAll(signer *credentials.Issuer, issuerID string, items []*pendingIssue, now time.Time) {
	if len(items) > 1 {
		s.signing.Lock()
		defer s.signing.Unlock()
	}
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
		if !it.skip() {
			work <- it
		}
	}
	close(work)
	wg.Wait()
}

func (s *Service) buildCredential(signer *credentials.Issuer, issuerID string, it *pendingIssue, now time.Time) error {
	id, err := s.newOrderedID("crd")
	if err != nil {
		return err
	}
	c := &Credential{
		ID: id, HolderID: it.holderID, IssuerID: issuerID, Type: it.typ.ID,
		StatusList: it.list, StatusIndex: it.index, Status: api.StatusValid,
		IssuedAt: now, ValidUntil: it.req.Expiry().UTC(),
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
	sdjwt, err := s.signCopy(signer, c, t, claims, pub, c.StatusList, c.StatusIndex, now)
	if err != nil {
		return nil, err
	}
	return s.sealBytes([]byte(sdjwt), "credential-copy", c.ID, d.ID)
}

// signCopy signs c for holder (its cnf) with its status entry at (list,
// index), iat and exp rounded (copyTimes), the derived claims as at now.
func (s *Service) signCopy(signer *credentials.Issuer, c *Credential, t *credentials.Type, claims map[string]any, holder *ecdsa.PublicKey, list, index int, now time.Time) (string, error) {
	iat, exp := copyTimes(now, c.ValidUntil)
	sdjwt, err := signer.Issue(credentials.IssueParams{
		Type: t, Claims: claims, Holder: holder, IssuedAt: iat, ExpiresAt: exp, DerivedAt: now,
		Status: &credentials.StatusRef{Index: index, URI: s.StatusListURL(c.IssuerID, list)},
	})
	if err != nil {
		return "", fmt.Errorf("sign credential %s: %w", c.ID, err)
	}
	return sdjwt, nil
}

// copyTimes are the iat and exp of a copy signed at now, rounded so that
// they do not single a copy out (issue 12; THREATS T38): iat the start of
// now's UTC day, exp valid_until rounded down to a whole UTC day — to the
// hour, or the second, for a credential that ends sooner. Rounding down
// never extends what the issuer allowed.
func copyTimes(now, validUntil time.Time) (iat, exp time.Time) {
	iat = now.UTC().Truncate(24 * time.Hour)
	for _, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Second} {
		if exp = validUntil.UTC().Truncate(unit); exp.After(now) {
			return iat, exp
		}
	}
	return iat, validUntil
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
	if strings.TrimSpace(req.Reason) != "" { // optional, and then as any text others read
		if err := checkText("reason", req.Reason, 200); err != nil {
			return nil, err
		}
	}
	now := s.now().UTC()
	err := s.store.Update(ctx, func(tx Tx) error {
		c, err := Credentials.Get(tx, credentialID)
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
		// Only what changed is written: the credential record (its index
		// values stay) and its one status list entry.
		was := c.Status
		c.Status = req.Status
		if err := setStatusEntry(tx, c, v); err != nil {
			return err
		}
		if err := Credentials.Put(tx, c); err != nil {
			return err
		}
		if err := s.appendActivity(tx, &api.ActivityEntry{HolderID: c.HolderID, At: now, Event: api.EventCredentialStatus,
			Outcome: req.Status, IssuerID: c.IssuerID, CredentialID: c.ID}); err != nil {
			return err
		}
		if event := statusEvent(was, req.Status); event != "" {
			return s.count(tx, usage{event: event, types: c.Type}) // usage.go
		}
		return nil
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "credential")
	}
	s.dropStatusTokens(p.Subject)
	s.log.InfoContext(ctx, "credential status changed", "issuer_id", p.Subject, "credential_id", credentialID, "status", req.Status)
	return &api.StatusResponse{CredentialID: credentialID, Status: req.Status}, nil
}

// setStatusEntry sets a credential's status list entries to v, its own
// and each of its batch copies' (CopyStatuses): a StatusEntries record
// while v is not valid, none when it is.
func setStatusEntry(tx Tx, c *Credential, v uint8) error {
	copies, err := CopyStatuses.List(tx, "", Order{}, c.ID)
	if err != nil {
		return err
	}
	entries := []CopyStatus{{List: c.StatusList, Index: c.StatusIndex}}
	for _, cs := range copies {
		entries = append(entries, *cs)
	}
	for _, e := range entries {
		if v == credentials.StatusValid {
			err = StatusEntries.Delete(tx, c.IssuerID, e.List, e.Index)
		} else {
			err = StatusEntries.Put(tx, &StatusEntry{IssuerID: c.IssuerID, List: e.List, Index: e.Index, Value: v})
		}
		if err != nil {
			return err
		}
	}
	return nil
}
