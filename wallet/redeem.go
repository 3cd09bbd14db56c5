package wallet

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/qr"
)

// Redeem redeems a scanned share for the calling verifier (SPEC §3.3 step
// 4). The redemption is a check-and-set inside one transaction, durable
// before the answer (THREATS T13, T15, T31); concurrent redemptions share
// their commits. Just before it, everything that can change after the
// approval is checked again (SPEC §3.7, stillValid); the signatures were
// verified when the holder approved. A share is redeemable only by a
// verifier registered for all of its claims, one made for a verifier too
// (T35).
func (s *Service) Redeem(ctx context.Context, p *Principal, req api.VerifyRequest) (*api.VerifyResponse, error) {
	if err := p.requireDeferred(api.RoleVerifier); err != nil {
		return nil, err
	}
	if isCompact(req.QR) {
		c, err := s.confirmed(ctx, p)
		if err != nil {
			return nil, err
		}
		return s.redeemCompact(ctx, c, req.QR)
	}
	kind, token, err := qr.Parse(req.QR)
	if err != nil || kind != qr.Share {
		// The key is confirmed first, as on every other path: a revoked
		// one is 401, its garbage never counted as its verifier's (T20).
		c, err := s.confirmed(ctx, p)
		if err != nil {
			return nil, err
		}
		err = Errorf(api.CodeInvalidRequest, "qr: not an eidwallet share code (EID1:)")
		s.tallyFailure(verification(ctx, api.FlowShare, nil, "").by(c.Subject), err) // usage.go
		return nil, err
	}
	return s.redeemShare(ctx, p, Shares.Lookup(byToken, hashSecret(token)))
}

// errNotRegistered refuses a share holding claims its verifier is not
// registered for (T35): 403, the share not consumed.
func errNotRegistered() error {
	return &Error{Code: api.CodeForbidden, Reason: api.ReasonClaimsNotRegistered,
		Message: "the share holds claims the verifier is not registered for"}
}

// redeemShare redeems the share that find looks up: an EID1: code's, or
// an EIDC1: code's (offline.go), whose uses are the share's.
func (s *Service) redeemShare(ctx context.Context, p *Principal, find Lookup) (*api.VerifyResponse, error) {
	var err error
	now := s.now().UTC()
	var (
		sh       *Share
		body     []byte // sh as stored, for the check-and-set
		verifier *Verifier
		docs     []api.Document     // opened before the share is used: a damaged one consumes nothing
		last     *api.ActivityEntry // the holder's, to chain the redemption's after
	)
	// Read-only checks first, outside the single writer: the caller's key
	// (a deferred one, fetchAs), the share exists, this verifier may redeem
	// it, and what it holds is still valid. The reads go in two Fetches of
	// the store, each one round trip on PostgreSQL and a snapshot of its
	// own: no one snapshot is needed, since the swap checks the share again
	// and stillValid wants the latest state of the rest.
	f := storeFetch{ctx, s.store}
	err = func() error {
		got, err := s.fetchAs(f, p, find, Verifiers.Lookup("", p.Subject))
		if err != nil {
			return err
		}
		if sh, err = Shares.Fetched(got[0]); err != nil {
			return err
		}
		body = got[0]
		if verifier, err = Verifiers.Read(got[1], p.Subject); err != nil {
			return err
		}
		if err := notRetired(verifier); err != nil {
			return err
		}
		// Who may redeem it comes before its state: a verifier it is not
		// for learns nothing of it (T14, T35), not even that it was used.
		if err := redeemableBy(sh, verifier); err != nil {
			return err
		}
		if err := redeemable(sh, now); err != nil {
			return err
		}
		more, err := s.stillValid(f, sh.DeviceID, sh.Items, now, ShareDocuments.Lookup(sh.ID), lastActivityLookup(sh.HolderID))
		if err != nil {
			return err
		}
		if docs, err = s.openDocuments(sh.ID, sh.Items, more[0]); err != nil {
			return err
		}
		last, err = fetchedActivity(more[1])
		return err
	}()
	var w *redemption
	counted := redemptionUsage(ctx, p.Subject, find, sh, verifier) // usage.go
	if err == nil {
		w, err = s.newRedemption(sh, body, last, p, now)
	}
	if err == nil {
		w.count = s.counted(counted.valid())
		err = s.commitRedemption(ctx, w)
	}
	if err != nil {
		if sh != nil {
			s.logFailedVerification(ctx, p.Subject, sh, err, now, counted)
		} else {
			s.tallyFailure(counted, err)
		}
		return nil, s.storeErr(ctx, err, "share")
	}
	resp := &api.VerifyResponse{Result: "valid", ShareID: sh.ID, VerifiedAt: now, Verifier: api.Party{ID: verifier.ID, Name: verifier.Name},
		Documents: docs}
	s.log.InfoContext(ctx, "share redeemed", "verifier_id", p.Subject, "share_id", sh.ID, "holder_id", sh.HolderID)
	return resp, nil
}

// openDocuments opens the sealed documents of the share or answered
// request id, one per item, from the body a Fetch of ShareDocuments
// returned.
func (s *Service) openDocuments(id string, items []ShareItem, body []byte) ([]api.Document, error) {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.CredentialID
	}
	return s.openSealedDocuments(id, keys, body)
}

// openSealedDocuments opens the documents of id sealed each with its key
// in keys (the associated data beside id), exactly one per key.
func (s *Service) openSealedDocuments(id string, keys []string, body []byte) ([]api.Document, error) {
	sealed, err := ShareDocuments.Fetched(body, id)
	if err != nil {
		return nil, err
	}
	if len(sealed) != len(keys) {
		return nil, errDamaged()
	}
	docs := make([]api.Document, len(sealed))
	for i, k := range keys {
		raw, err := s.openBytes(sealed[i], "share-document", id, k)
		if err != nil {
			return nil, err
		}
		docs[i] = api.SealedDocument(raw)
	}
	return docs, nil
}

// redemption is what redeeming a share writes, encoded before the write
// transaction: the share's next use and the two log entries, the holder's
// chained after the last one read. The single writer (bbolt) then only
// compares and puts (CONVENTIONS: read, compute, then a short
// check-and-set).
type redemption struct {
	share        *Share // as read
	body         []byte // share as stored
	verifierID   string
	keyID        string // the verifier's API key: the counter (sawCompact)
	now          time.Time
	next         Record             // the share after this use
	entry        *api.ActivityEntry // the holder's entry, and as stored:
	activity     Record
	verification *api.Verification // the verifier's entry, and as stored:
	logged       Record
	count        Write // its count in the usage statistics (usage.go)
}

func (s *Service) newRedemption(sh *Share, body []byte, last *api.ActivityEntry, p *Principal, now time.Time) (*redemption, error) {
	verifierID := p.Subject
	w := &redemption{share: sh, body: body, verifierID: verifierID, keyID: p.KeyID, now: now}
	names := itemClaimNames(sh.Items)
	w.entry = &api.ActivityEntry{HolderID: sh.HolderID, At: now, Event: api.EventShareRedeemed, Outcome: "ok",
		ShareID: sh.ID, VerifierID: verifierID, Claims: names}
	if err := chainAfter(w.entry, last); err != nil {
		return nil, err
	}
	w.verification = &api.Verification{VerifierID: verifierID, At: now, ShareID: sh.ID, Result: "valid",
		Types: itemTypes(sh.Items), Claims: names, Seq: s.verificationSeq(now)}
	var err error
	if w.next, err = Shares.Record(nextUse(sh)); err != nil {
		return nil, err
	}
	if w.activity, err = ActivityLog.Record(w.entry); err != nil {
		return nil, err
	}
	if w.logged, err = VerificationLog.Record(w.verification); err != nil {
		return nil, err
	}
	return w, nil
}

// nextUse is sh after one more redemption.
func nextUse(sh *Share) *Share {
	next := *sh
	next.Uses++
	if next.Uses >= next.MaxUses {
		next.Status = api.ShareRedeemed
	}
	return &next
}

// commitRedemption is the check-and-set: the share is swapped for its
// next use only if it is still the body read before, so of concurrent
// redemptions of a one-time share exactly one succeeds (THREATS T15); the
// activity and verification entries and the usage count commit with it,
// in one Store.Apply (on PostgreSQL one round trip, BEGIN and COMMIT
// included).
// An offline share's EIDC1: code is marked used in the same transaction,
// a Batch, so that a later upload of it is flagged.
func (s *Service) commitRedemption(ctx context.Context, w *redemption) error {
	if !w.share.Offline {
		err := s.store.Apply(ctx, w.writes()...)
		if !refused(err) {
			return err
		}
		return s.store.Batch(ctx, func(tx Tx) error { return s.redeemAgain(tx, w) })
	}
	return s.store.Batch(ctx, func(tx Tx) error {
		err := tx.Apply(w.writes()...)
		if refused(err) {
			err = s.redeemAgain(tx, w)
		}
		if err != nil {
			return err
		}
		_, err = s.sawCompact(tx, w.verifierID, w.keyID, w.share.CompactCTI, w.now, true, nil)
		return err
	})
}

// writes are w's writes: the share's next use, the two log entries and
// the count.
func (w *redemption) writes() []Write {
	return []Write{{Kind: Shares.Kind(), Record: w.next, Swap: true, Old: w.body},
		{Kind: ActivityLog.Kind(), Record: w.activity}, {Kind: VerificationLog.Kind(), Record: w.logged}, w.count}
}

// refused reports whether the writes were refused because another
// transaction changed the share or took a log key since the read.
func refused(err error) bool { return errors.Is(err, ErrChanged) || errors.Is(err, ErrExists) }

// redeemAgain makes w's writes one at a time after another transaction
// changed the share or took a log key since the read, each read and
// decided again; w is left as it is, since fn may run again.
func (s *Service) redeemAgain(tx Tx, w *redemption) error {
	if err := useShare(tx, w); err != nil {
		return err
	}
	err := Put(tx, ActivityLog.Kind(), w.activity)
	if errors.Is(err, ErrExists) { // another entry of the holder's came first
		e := *w.entry
		err = s.appendActivity(tx, &e)
	}
	if err != nil {
		return err
	}
	err = Put(tx, VerificationLog.Kind(), w.logged)
	if errors.Is(err, ErrExists) { // another replica took the key
		v := *w.verification
		err = s.appendVerification(tx, &v)
	}
	if err == nil {
		err = tx.Apply(w.count)
	}
	return err
}

// useShare swaps w's share for its next use. When another redemption or a
// cancellation committed since the read, the share is read and judged
// again: each lost swap means one of its bounded uses went, so it ends.
func useShare(tx Tx, w *redemption) error {
	body, next := w.body, w.next
	for {
		err := Swap(tx, Shares.Kind(), body, next)
		if !errors.Is(err, ErrChanged) {
			return err
		}
		var sh *Share
		if sh, body, err = Shares.BodyBy(tx, byToken, w.share.TokenHash); err != nil {
			return err
		}
		if err := redeemable(sh, w.now); err != nil { // who may redeem it does not change
			return err
		}
		if next, err = Shares.Record(nextUse(sh)); err != nil {
			return err
		}
	}
}

// stillValid checks again, before a share or request answer is handed out,
// everything that can change after its approval (SPEC §3.7, THREATS T33):
// the approving device is still active, each credential's status and
// validity, the key that signed each copy is still in its issuer's JWKS,
// and the issuer is still active and still issues that type. It reads and
// compares; it verifies no signature. It reads in one Fetch, which also
// reads more, whose bodies it returns (a redemption's documents and last
// activity entry) — two when an item does not name its issuer (a share
// stored before items did).
func (s *Service) stillValid(tx fetcher, deviceID string, items []ShareItem, now time.Time, more ...Lookup) ([][]byte, error) {
	ls := []Lookup{Devices.Lookup("", deviceID)}
	for _, it := range items {
		ls = append(ls, Credentials.Lookup("", it.CredentialID))
	}
	named := !slices.ContainsFunc(items, func(it ShareItem) bool { return it.IssuerID == "" })
	if named {
		for _, it := range items {
			ls = append(ls, Issuers.Lookup("", it.IssuerID))
		}
	}
	got, err := tx.Fetch(append(ls, more...)...)
	if err != nil {
		return nil, err
	}
	d, err := Devices.Read(got[0], deviceID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil || d.Revoked != nil {
		return nil, failed(api.ReasonDeviceRevoked, "the device that approved this was revoked")
	}
	creds := make([]*Credential, len(items))
	var issuers []Lookup
	for i, it := range items {
		if creds[i], err = Credentials.Read(got[1+i], it.CredentialID); err != nil {
			return nil, err
		}
		if named && creds[i].IssuerID != it.IssuerID {
			return nil, errDamaged()
		}
		if err := credentialUsable(creds[i], now); err != nil {
			return nil, err
		}
		issuers = append(issuers, Issuers.Lookup("", creds[i].IssuerID))
	}
	gotIssuers := got[1+len(items):]
	if !named {
		if gotIssuers, err = tx.Fetch(issuers...); err != nil {
			return nil, err
		}
	}
	for i, it := range items {
		is, err := Issuers.Read(gotIssuers[i], creds[i].IssuerID)
		if err != nil {
			return nil, err
		}
		if !issuerTrusts(is, creds[i].Type, it.Kid) {
			return nil, failed(credentials.ReasonUntrustedIssuer, "the issuer or its signing key is no longer trusted")
		}
	}
	return got[len(ls):], nil
}

// fetcher reads lookups together: a Tx, or the store itself (storeFetch).
type fetcher interface {
	Fetch(ls ...Lookup) ([][]byte, error)
}

// storeFetch is the store as a fetcher: each Fetch a transaction of its
// own.
type storeFetch struct {
	ctx   context.Context
	store Store
}

func (f storeFetch) Fetch(ls ...Lookup) ([][]byte, error) { return f.store.Fetch(f.ctx, ls...) }

// issuerTrusts reports whether is is active, issues typ and still
// publishes the key kid (not retired).
func issuerTrusts(is *Issuer, typ, kid string) bool {
	if is.Retired != nil || !slices.Contains(is.Types, typ) {
		return false
	}
	return slices.ContainsFunc(is.Keys, func(k IssuerKey) bool { return k.Kid == kid && k.Retired == nil })
}

// redeemableBy checks that verifier may redeem sh: the one it was made
// for, if any (T14: a share bound to another verifier is refused, 403
// audience_mismatch), and registered for all of its claims (T35: 403
// claims_not_registered). Neither consumes the share.
func redeemableBy(sh *Share, verifier *Verifier) error {
	if sh.VerifierID != "" && sh.VerifierID != verifier.ID {
		return &Error{Code: api.CodeForbidden, Reason: api.ReasonAudienceMismatch, Message: "the share is for another verifier"}
	}
	if !registered(verifier, itemClaimSet(sh.Items)) {
		return errNotRegistered()
	}
	return nil
}

// redeemable is the share state machine at redemption (THREATS T13, T16,
// T17), checked after redeemableBy.
func redeemable(sh *Share, now time.Time) error {
	switch sh.Status {
	case api.ShareCancelled:
		return Errorf(api.CodeShareCancelled, "the share was cancelled")
	case api.ShareRedeemed:
		return Errorf(api.CodeAlreadyRedeemed, "the share was already used")
	case api.ShareActive:
	default:
		return Errorf(api.CodeConflict, "the share is not approved")
	}
	if !now.Before(sh.ExpiresAt) {
		return Errorf(api.CodeShareExpired, "the share has expired")
	}
	return nil
}

// itemTypes lists the credential types of items.
func itemTypes(items []ShareItem) []string {
	var t []string
	for _, it := range items {
		t = append(t, it.Type)
	}
	return t
}

// logFailedVerification records a refused redemption in the verifier's own
// log, and a share refused to this verifier (403: another verifier's, or
// claims it is not registered for) in the holder's activity too, claim
// names only, and counts it (u, failed with cause); failing to do so is
// logged, never turned into the answer, and the count is tallied.
func (s *Service) logFailedVerification(ctx context.Context, verifierID string, sh *Share, cause error, now time.Time, u usage) {
	var e *Error
	if !errors.As(cause, &e) || e.Code == api.CodeStorageUnavailable {
		s.tallyFailure(u, cause)
		return
	}
	u = u.failed(cause)
	err := s.store.Batch(ctx, func(tx Tx) error {
		// Once per share, verifier and answer: a verifier holding a code
		// it may not redeem must not fill the citizen's activity (kept
		// for good), nor its own log and the statistics, by scanning it
		// again and again. A day past the share's end, once more.
		once := s.onceKey("share-refused", verifierID+"/"+sh.ID, string(e.Code)+"|"+e.Reason)
		if err := tx.UseOnce(once, latest(sh.ExpiresAt, now).Add(24*time.Hour), now); errors.Is(err, ErrExists) {
			return nil
		} else if err != nil {
			return err
		}
		if e.Code == api.CodeForbidden {
			if err := s.appendActivity(tx, &api.ActivityEntry{HolderID: sh.HolderID, At: now, Event: api.EventShareRefused, Outcome: e.Reason,
				ShareID: sh.ID, VerifierID: verifierID, Claims: itemClaimNames(sh.Items)}); err != nil {
				return err
			}
		}
		// A verifier the share is not for (403) learns nothing of it from
		// its own log either: not its id, not the kinds of document.
		logged := &api.Verification{VerifierID: verifierID, At: now, Result: string(e.Code), Reason: e.Reason}
		if e.Code != api.CodeForbidden {
			logged.ShareID, logged.Types = sh.ID, itemTypes(sh.Items)
		}
		if err := s.appendVerification(tx, logged); err != nil {
			return err
		}
		return s.countRefusal(tx, u)
	})
	if err != nil {
		s.log.WarnContext(ctx, "verification log", "verifier_id", verifierID, "err", err)
		s.tally(u)
	}
}
