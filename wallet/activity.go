package wallet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"

	json "github.com/go-json-experiment/json/v1" // encoding/json semantics and bytes, faster engine: appends run inside the single writer
)

// Activity events (SPEC §3.6).
const (
	EventCredentialIssued = "credential_issued"
	EventCredentialStatus = "credential_status_changed"
	EventDeviceEnrolled   = "device_enrolled"
	EventDeviceRevoked    = "device_revoked"
	EventShareApproved    = "share_approved"
	EventShareCancelled   = "share_cancelled"
	EventShareRedeemed    = "share_redeemed"
)

// appendActivity chains e after the holder's last entry and appends it in
// the caller's transaction, so the entry commits with its event (SPEC §3.6).
func (s *Service) appendActivity(tx Tx, e *ActivityEntry) error {
	last, err := tx.Activity(e.HolderID, 1)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	e.Seq, e.Prev = 1, ""
	if len(last) > 0 {
		e.Seq, e.Prev = last[0].Seq+1, last[0].Hash
	}
	e.Hash = EntryHash(e)
	return tx.AppendActivity(e)
}

// EntryHash is the chain hash of an entry: SHA-256 over the JSON of the
// entry with its hash empty; the JSON includes prev, the previous entry's
// hash, so altering any entry breaks every later link (THREATS T29).
func EntryHash(e *ActivityEntry) string {
	c := *e
	c.Hash = ""
	b, _ := json.Marshal(&c) // a struct of plain fields always encodes
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// CheckChain reports whether entries, oldest first, form an unbroken chain
// from the first entry of a log.
func CheckChain(entries []*ActivityEntry) bool {
	prev := ""
	for i, e := range entries {
		if e.Seq != uint64(i+1) || e.Prev != prev || EntryHash(e) != e.Hash {
			return false
		}
		prev = e.Hash
	}
	return true
}

// Activity lists the holder's log newest first; with export, the whole
// chain oldest first and whether it checks out (SPEC §3.6).
func (s *Service) Activity(ctx context.Context, p *Principal, export bool) (*ActivityResponse, error) {
	if err := p.require(RoleHolder); err != nil {
		return nil, err
	}
	limit := 200
	if export {
		limit = 0
	}
	var entries []*ActivityEntry
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		entries, err = tx.Activity(p.Subject, limit)
		return err
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "activity")
	}
	resp := &ActivityResponse{Entries: entries}
	if export {
		slices.Reverse(entries) // oldest first, the order the chain is checked in
		ok := CheckChain(entries)
		resp.ChainValid = &ok
	}
	if resp.Entries == nil {
		resp.Entries = []*ActivityEntry{}
	}
	return resp, nil
}

// appendVerification adds to a verifier's own log.
func (s *Service) appendVerification(tx Tx, v *Verification) error {
	last, err := tx.Verifications(v.VerifierID, 1)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	v.Seq = 1
	if len(last) > 0 {
		v.Seq = last[0].Seq + 1
	}
	return tx.AppendVerification(v)
}

// Verifications lists the calling verifier's log, newest first.
func (s *Service) Verifications(ctx context.Context, p *Principal, limit int) (*VerificationsResponse, error) {
	if err := p.require(RoleVerifier); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	resp := &VerificationsResponse{Entries: []*Verification{}}
	err := s.store.View(ctx, func(tx Tx) error {
		all, err := tx.Verifications(p.Subject, limit)
		resp.Entries = append(resp.Entries, all...)
		return err
	})
	return resp, s.storeErr(ctx, err, "verifications")
}
