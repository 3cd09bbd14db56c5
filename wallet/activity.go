package wallet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ActivityTimePrecision is the precision of an entry's at: appended entries
// are truncated to it, so that at, written like every time in
// api.TimeLayout, is the instant hashed (SPEC §3.6, docs/security.md).
const ActivityTimePrecision = time.Millisecond

// appendActivity chains e after the holder's last entry and appends it in
// the caller's transaction, so the entry commits with its event (SPEC §3.6).
// The entry's key is the next seq: when a concurrent transaction appended
// that one first (Batch reads what is committed, see Store), the last
// entry is read again and e chained after it.
func (s *Service) appendActivity(tx Tx, e *api.ActivityEntry) error {
	for attempt := 1; ; attempt++ {
		last, err := lastActivity(tx, e.HolderID)
		if err != nil {
			return err
		}
		if err := chainAfter(e, last); err != nil {
			return err
		}
		err = ActivityLog.Put(tx, e)
		if !errors.Is(err, ErrExists) || attempt == maxAppendAttempts {
			return err
		}
	}
}

// lastActivity is the holder's last entry; nil when there is none.
func lastActivity(tx Tx, holderID string) (*api.ActivityEntry, error) {
	got, err := tx.Fetch(lastActivityLookup(holderID))
	if err != nil {
		return nil, err
	}
	return fetchedActivity(got[0])
}

// lastActivityLookup reads the holder's last entry, for a Fetch.
func lastActivityLookup(holderID string) Lookup {
	l := ActivityLog.Lookup("", holderID)
	l.Desc = true
	return l
}

// fetchedActivity decodes the body a lastActivityLookup fetched: nil when
// the holder has no entry yet.
func fetchedActivity(b []byte) (*api.ActivityEntry, error) {
	if b == nil {
		return nil, nil
	}
	return ActivityLog.Fetched(b)
}

// chainAfter makes e the entry after last (nil: the holder's first): its
// seq, prev and hash, its time at ActivityTimePrecision in UTC.
func chainAfter(e, last *api.ActivityEntry) error {
	e.Seq, e.Prev = 1, ""
	if last != nil {
		e.Seq, e.Prev = last.Seq+1, last.Hash
	}
	e.At = e.At.UTC().Truncate(ActivityTimePrecision)
	var err error
	if e.Hash, err = entryHash(e); err != nil {
		return fmt.Errorf("activity entry %d of %s: %w", e.Seq, e.HolderID, err)
	}
	return nil
}

// maxAppendAttempts bounds how often an append takes a new key after a
// concurrent append took the one it chose. Each loss means another append
// of the same log committed, so the appends of a log always progress; on
// PostgreSQL a citizen redeemed at a dozen counters at once over replicas
// loses a few dozen times in a row (16 was too few: 503s). The bound only
// stops a storm; the operation's own time (30 s) comes first.
const maxAppendAttempts = 256

// maxVerificationAttempts bounds the same for a verifier's log, whose
// keys are times and a counter of this process (verificationSeq): another
// replica takes one only in the same millisecond, and the next tick is
// another key.
const maxVerificationAttempts = 16

// CanonicalEntry is the RFC 8785 (JCS) form of the entry's JSON without its
// hash member: the bytes EntryHash hashes. The JSON is the entry exactly as
// answers encode it (the struct tags of ActivityEntry): seq, holder_id, at,
// event, outcome and prev always; verifier_id, issuer_id, credential_id,
// share_id, device_id and claims only when not empty. Canonical JSON makes
// the hash independent of member order, whitespace and string escaping, so
// a reader recomputes it from the export with any JSON library.
func CanonicalEntry(e *api.ActivityEntry) ([]byte, error) {
	return canonicalEntry(e, AnswerOptions)
}

// canonicalEntry is CanonicalEntry with the entry encoded with opts.
func canonicalEntry(e *api.ActivityEntry, opts json.Options) ([]byte, error) {
	b, err := json.Marshal(entryWithoutHash{ActivityEntry: e}, opts)
	if err != nil {
		return nil, fmt.Errorf("encode activity entry: %w", err)
	}
	v := jsontext.Value(b)
	if err := v.Canonicalize(); err != nil {
		return nil, fmt.Errorf("canonicalize activity entry: %w", err)
	}
	return v, nil
}

// entryWithoutHash encodes as its entry without the hash member: the outer
// Hash, always empty and omitempty, hides the embedded one (the shallower
// of two fields of one JSON name wins, Go's rule for embedded structs).
// Everything else is the entry's own encoding, so a member added to
// ActivityEntry is hashed without a change here.
type entryWithoutHash struct {
	*api.ActivityEntry
	Hash string `json:"hash,omitempty"`
}

// EntryHash is the chain hash of an entry: SHA-256, in lower-case hex, over
// CanonicalEntry. The canonical form includes prev, the previous entry's
// hash, so altering any entry breaks every later link (THREATS T29). An
// entry that cannot be encoded has the hash "", which no entry carries.
func EntryHash(e *api.ActivityEntry) string {
	h, _ := entryHash(e)
	return h
}

func entryHash(e *api.ActivityEntry) (string, error) { return entryHashWith(e, AnswerOptions) }

func entryHashWith(e *api.ActivityEntry, opts json.Options) (string, error) {
	b, err := canonicalEntry(e, opts)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// entryChecks reports whether e's hash recomputes: over its canonical
// form, or, for an entry appended before answers wrote every time in
// api.TimeLayout, over the form it was hashed in then, at written with
// its trailing fractional zeros dropped (legacyAnswerOptions). Both are
// the same entry, the same instant in the same member: accepting either
// lets no entry be altered without breaking its hash.
func entryChecks(e *api.ActivityEntry) bool {
	if e.Hash == "" {
		return false
	}
	if EntryHash(e) == e.Hash {
		return true
	}
	h, err := entryHashWith(e, legacyAnswerOptions)
	return err == nil && h == e.Hash
}

// CheckChain reports whether entries, oldest first, form an unbroken chain
// from the first entry of a log: seq 1, 2, 3, …, each prev the hash of the
// entry before ("" for the first) and each hash recomputed (entryChecks).
func CheckChain(entries []*api.ActivityEntry) bool {
	return chainBreak(entries) < 0
}

// chainBreak is the index of the first entry that does not check, or -1.
func chainBreak(entries []*api.ActivityEntry) int {
	prev := ""
	for i, e := range entries {
		if e.Seq != uint64(i+1) || e.Prev != prev || !entryChecks(e) {
			return i
		}
		prev = e.Hash
	}
	return -1
}

// Activity lists a page of the holder's log, newest first; with export,
// the whole chain oldest first, whether it checks out and, when it does, a
// checkpoint signed with the service key over its count and head (SPEC
// §3.6). The service signs no checkpoint over a chain it finds broken:
// that store was altered, and the export says so with chain_valid false.
// An export is one document, never paged: it takes no limit or cursor. A
// page's entries carry their hash and prev as the export's do, so pages
// link up, but only the export's checkpoint vouches for the whole chain.
func (s *Service) Activity(ctx context.Context, p *Principal, export bool, pg api.Page) (*api.ActivityResponse, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	if export {
		if pg != (api.Page{}) {
			return nil, Errorf(api.CodeInvalidRequest, "export is the whole chain: it takes no limit or cursor")
		}
		return s.exportActivity(ctx, p)
	}
	pgr, err := s.pager(pg, "activity", p.Subject)
	if err != nil {
		return nil, err
	}
	resp := &api.ActivityResponse{}
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		resp.Entries, resp.NextCursor, err = listPage(tx, pgr, ActivityLog, "", true, nil, p.Subject)
		return err
	})
	return resp, s.storeErr(ctx, err, "activity")
}

// exportActivity is the export of the holder's whole chain (Activity).
func (s *Service) exportActivity(ctx context.Context, p *Principal) (*api.ActivityResponse, error) {
	var entries []*api.ActivityEntry
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		entries, err = ActivityLog.List(tx, "", Order{}, p.Subject)
		return err
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "activity")
	}
	resp := &api.ActivityResponse{Entries: entries}
	broken := chainBreak(entries) // oldest first, the order the chain is checked in
	ok := broken < 0
	resp.ChainValid = &ok
	if !ok {
		s.log.ErrorContext(ctx, "activity chain broken", "holder_id", p.Subject, "position", broken+1)
		return resp, nil
	}
	cp := api.ActivityCheckpoint{Iss: s.url, Sub: p.Subject, Count: len(entries), Iat: s.now().Unix()}
	if len(entries) > 0 {
		cp.Head = entries[len(entries)-1].Hash
	}
	if resp.Checkpoint, err = s.signAsService(api.TypActivityCheckpoint, cp); err != nil {
		return nil, fmt.Errorf("sign activity checkpoint: %w", err)
	}
	return resp, nil
}

// appendVerification adds to a verifier's own log.
func (s *Service) appendVerification(tx Tx, v *api.Verification) error {
	for attempt := 1; ; attempt++ {
		v.Seq = s.verificationSeq(v.At)
		err := VerificationLog.Put(tx, v)
		if !errors.Is(err, ErrExists) || attempt == maxVerificationAttempts {
			return err
		}
	}
}

// verificationSeq is the key of a verifier's log entry at: its time in
// milliseconds, then 20 bits of a counter of this process that starts at
// random. Entries are listed in time order (those one process appended in
// one millisecond in the order it did), yet an append reads nothing and
// two appends of one verifier touch no common row, so a verifier's
// redemptions never wait on each other for the log (a last seq + 1 would
// make every one of them conflict on PostgreSQL). A key another replica
// took in the same millisecond is ErrExists, and the next tick is tried.
func (s *Service) verificationSeq(at time.Time) uint64 {
	return uint64(at.UnixMilli())<<20 | s.logTick.Add(1)&(1<<20-1)
}

// Verifications lists a page of the calling verifier's log, newest first.
func (s *Service) Verifications(ctx context.Context, p *Principal, pg api.Page) (*api.VerificationsResponse, error) {
	if err := p.require(api.RoleVerifier); err != nil {
		return nil, err
	}
	pgr, err := s.pager(pg, "verifications", p.Subject)
	if err != nil {
		return nil, err
	}
	resp := &api.VerificationsResponse{}
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		resp.Entries, resp.NextCursor, err = listPage(tx, pgr, VerificationLog, "", true, nil, p.Subject)
		return err
	})
	return resp, s.storeErr(ctx, err, "verifications")
}
