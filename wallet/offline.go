package wallet

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/offline"
)

// Verifying at a counter with no network (issue 12). When a holder
// approves a share made with "offline": true, the service, having verified
// the device's KB-JWT, mints a compact code (EIDC1:): the disclosed claims
// of the one credential, its status entry, and that the device consented,
// signed by the service's presentation-attestation key. An offline
// verifier trusts that key through the signed trust bundle (GET
// /v1/trust-bundle), which also carries every hosted issuer's keys and
// status lists; the trust model is the service's word that it checked the
// credential and the consent (docs/security.md).

const metaAttestationKey = "attestation_key"

// Offline codes' rules.
const (
	compactLifetime = offline.MaxLifetime
	compactCTIBytes = 12
)

// checkOffline holds the rules of an offline share at creation: one item,
// no portrait, for any verifier.
func checkOffline(req api.ShareRequest) error {
	switch {
	case len(req.Items) != 1:
		return Errorf(api.CodeInvalidRequest, "offline: a share of exactly one credential")
	case req.VerifierID != "":
		return Errorf(api.CodeInvalidRequest, "offline: an offline code is for any verifier (no verifier_id)")
	case req.MaxUses > 1:
		return Errorf(api.CodeInvalidRequest, "offline: an offline share is used once (max_uses 1), by either of its codes")
	}
	for _, c := range req.Items[0].Claims {
		if c == "portrait" {
			return Errorf(api.CodeInvalidRequest, "offline: the portrait does not fit an offline code")
		}
	}
	return nil
}

// mintCompact makes the EIDC1: code of an approved offline share from its
// verified document (sealed) and credential.
func (s *Service) mintCompact(sh *Share, c *Credential, sealedDoc []byte, now time.Time) ([]byte, *CompactCode, error) {
	raw, err := s.openBytes(sealedDoc, "share-document", sh.ID, c.ID)
	if err != nil {
		return nil, nil, err
	}
	var doc api.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, err
	}
	cti := make([]byte, compactCTIBytes)
	if _, err := io.ReadFull(s.rand, cti); err != nil {
		return nil, nil, err
	}
	// The status entry of the copy presented (a batch copy's own, issue
	// 12), so that the code carries no index common to two shares.
	list, index, err := s.presentedStatus(c, doc.Presentation)
	if err != nil {
		return nil, nil, err
	}
	exp := now.Add(min(compactLifetime, time.Duration(sh.TTL)*time.Second))
	text, err := offline.Sign(s.rand, s.attestKey, offline.Share{Type: c.Type, IssuerID: c.IssuerID, StatusList: list,
		StatusIndex: index, Claims: doc.Claims, Consent: true, IssuedAt: now, ExpiresAt: exp, CTI: cti})
	if err != nil {
		return nil, nil, err
	}
	sealed, err := s.sealBytes([]byte(text), "share-compact", sh.ID)
	return sealed, &CompactCode{CTIHash: s.ctiHash(cti), ShareID: sh.ID, HolderID: sh.HolderID, Expires: exp}, err
}

// presentedStatus is the status list and index of a verified presentation
// of hosted credential c (hostedStatusRef).
func (s *Service) presentedStatus(c *Credential, presentation string) (list, index int, err error) {
	ref, err := credentials.StatusOf(presentation)
	if err != nil {
		return 0, 0, err
	}
	if ref == nil {
		return 0, 0, fmt.Errorf("credential %s: the presented copy has no status entry", c.ID)
	}
	return s.hostedStatusRef(c.IssuerID, ref)
}

// compactText is the EIDC1: code of sh while it is valid, "" otherwise.
func (s *Service) compactText(sh *Share, now time.Time) (string, *time.Time) {
	if len(sh.Compact) == 0 || !now.Before(sh.CompactExp) {
		return "", nil
	}
	text, err := s.openBytes(sh.Compact, "share-compact", sh.ID)
	if err != nil { // openBytes logged it; the EID1: code still works
		return "", nil
	}
	exp := sh.CompactExp
	return string(text), &exp
}

// redeemCompact is POST /v1/verify of an EIDC1: code (issue 12 item 4):
// its signature by the attestation key and its times checked, then its
// share redeemed like an EID1: one — the same uses (one: an offline share
// has max_uses 1), the same re-checks (the share not cancelled, the device
// not revoked, the credential's status and validity, the issuer), the
// same logs on both sides. A code already used at another verifier
// (uploaded from an offline counter) is refused and flagged.
func (s *Service) redeemCompact(ctx context.Context, p *Principal, text string) (*api.VerifyResponse, error) {
	now := s.now().UTC()
	// Refused before its share is read, a code writes nothing: its
	// count is tallied in memory (usage.go).
	u := verification(ctx, api.FlowOffline, nil, "").by(p.Subject)
	refused := func(err error) (*api.VerifyResponse, error) {
		s.tallyFailure(u, err)
		return nil, err
	}
	code, _, err := offline.Parse(text, func(kid []byte) (*ecdsa.PublicKey, error) {
		if string(kid) != string(offline.KeyID(&s.attestKey.PublicKey)) {
			return nil, &offline.Error{Reason: offline.ReasonUnknownKey, Detail: "not the service's attestation key"}
		}
		return &s.attestKey.PublicKey, nil
	}, now, clockSkew)
	switch offline.ReasonOf(err) {
	case "":
	case offline.ReasonMalformed:
		return refused(Errorf(api.CodeInvalidRequest, "qr: not a well-formed EIDC1: code"))
	case offline.ReasonExpired:
		return refused(Errorf(api.CodeShareExpired, "the code has expired"))
	case offline.ReasonUnknownKey:
		return refused(failed(credentials.ReasonUntrustedIssuer, "the code is not signed by this service"))
	default:
		return refused(failed(credentials.ReasonInvalidSignature, "the code does not verify"))
	}
	u.types = typesOf([]string{code.Type})
	hash := s.ctiHash(code.CTI)
	got, err := s.store.Fetch(ctx, CompactCodes.Lookup("", hash))
	if err != nil {
		return refused(s.storeErr(ctx, err, "share"))
	}
	cc, err := CompactCodes.Fetched(got[0], hash)
	if errors.Is(err, ErrNotFound) {
		return refused(failed(credentials.ReasonUntrustedIssuer, "the code is not one this service minted"))
	} else if err != nil {
		return refused(s.storeErr(ctx, err, "share"))
	}
	if cc.SeenBy != "" && !cc.seenAt(p.Subject, p.KeyID) && s.mayRedeem(ctx, p, cc.ShareID) {
		used := Errorf(api.CodeAlreadyRedeemed, "the code was already used at another counter")
		err := s.store.Update(ctx, func(tx Tx) error {
			if _, err := s.sawCompact(tx, p.Subject, p.KeyID, hash, now, true, nil); err != nil {
				return err
			}
			return s.countRefusal(tx, u.failed(used))
		})
		if err != nil {
			return refused(s.storeErr(ctx, err, "share"))
		}
		return nil, used
	}
	return s.redeemShare(ctx, p, Shares.Lookup("", cc.ShareID))
}

// mayRedeem reports whether p's verifier may redeem the share shareID
// (redeemableBy). When it may not, or that cannot be read, the code goes
// the way of any redemption, which refuses it (403, once in the logs) or
// fails closed: a verifier a code is not for learns nothing of its use at
// another counter (T14, T35), and flags nothing.
func (s *Service) mayRedeem(ctx context.Context, p *Principal, shareID string) bool {
	got, err := s.fetchAs(storeFetch{ctx, s.store}, p, Shares.Lookup("", shareID), Verifiers.Lookup("", p.Subject))
	if err != nil {
		return false
	}
	sh, err := Shares.Fetched(got[0])
	if err != nil {
		return false
	}
	v, err := Verifiers.Read(got[1], p.Subject)
	return err == nil && redeemableBy(sh, v) == nil
}

// CompactRetention is how long after its expiry an offline code's record
// is kept: an offline verification uploaded later than that (a counter
// offline for more than its bundle's 24 h and two days more) is no longer
// checked against the codes minted, and a code used at two counters then
// is not flagged.
const CompactRetention = 72 * time.Hour

// sweepCompactCodes deletes the records of codes past their retention.
// A record's expiry is set when it is minted and never changes.
func (s *Service) sweepCompactCodes(ctx context.Context) {
	sweep(ctx, s, CompactCodes, "offline codes", s.now().UTC().Add(-CompactRetention), func(c *CompactCode) time.Time { return c.Expires })
}

// isCompact reports whether a scanned text is an EIDC1: code.
func isCompact(text string) bool {
	return strings.HasPrefix(strings.TrimLeft(text, " \t\r\n"), offline.Prefix) // offline.Parse forgives it too
}

// TrustBundle is the signed trust bundle of offline verifiers (issue 12
// item 2): every hosted issuer's keys and types, the attestation key and
// the types it may attest, each issuer's status lists as Token Status
// List CWTs, the issue time and the maximum age (24 h). Kept in memory
// for half of PublicDocTTL, like the trust list.
func (s *Service) TrustBundle(ctx context.Context) (Document, error) {
	doc, err := s.document(docKey{kind: docTrustBundle}, PublicDocTTL, func(now time.Time) ([]byte, error) {
		return s.signTrustBundle(ctx, now)
	})
	return doc, s.storeErr(ctx, err, "trust bundle")
}

func (s *Service) signTrustBundle(ctx context.Context, now time.Time) ([]byte, error) {
	type builtList struct {
		id   int
		list *credentials.StatusList
	}
	// The active issuers and their lists, then each list built in a read
	// of its own (each is signed on its own too): a country's hundreds of
	// lists in one transaction would outlast a store's bound on one (30 s
	// on PostgreSQL). The signing comes after, outside any transaction.
	var active []*Issuer
	ids := map[string][]int{}
	err := s.store.View(ctx, func(tx Tx) error {
		all, err := Issuers.List(tx, "", Order{})
		if err != nil {
			return err
		}
		for _, is := range all {
			if is.Retired != nil {
				continue
			}
			active = append(active, is)
			ls, err := StatusLists.List(tx, "", Order{}, is.ID)
			if err != nil {
				return err
			}
			for _, l := range ls {
				ids[is.ID] = append(ids[is.ID], l.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	lists := map[string][]builtList{}
	for _, is := range active {
		for _, id := range ids[is.ID] {
			var built *credentials.StatusList
			if err := s.store.View(ctx, func(tx Tx) (err error) { built, err = buildStatusList(tx, is.ID, id); return err }); err != nil {
				return nil, err
			}
			lists[is.ID] = append(lists[is.ID], builtList{id, built})
		}
	}
	b := &offline.Bundle{Issuer: s.url, IssuedAt: now, MaxAge: offline.DefaultMaxAge}
	var types []string
	for _, is := range active {
		keys, err := s.issuerKeys(is)
		if err != nil {
			return nil, err
		}
		bi := offline.BundleIssuer{ID: is.ID, Name: is.Name, Types: is.Types}
		for _, k := range keys {
			bi.Keys = append(bi.Keys, k)
		}
		b.Issuers = append(b.Issuers, bi)
		types = append(types, is.Types...)
		key, err := s.activeKey(is)
		if err != nil {
			return nil, err
		}
		for _, l := range lists[is.ID] {
			cwt, err := offline.SignStatusList(s.rand, key, offline.StatusListURI(s.url, is.ID, l.id), l.list, now, StatusListTTL)
			if err != nil {
				return nil, err
			}
			b.StatusLists = append(b.StatusLists, offline.StatusListCWT{IssuerID: is.ID, List: l.id, CWT: cwt})
		}
	}
	b.Attesters = []offline.Attester{{Key: &s.attestKey.PublicKey, Types: slices.Compact(slices.Sorted(slices.Values(types)))}}
	return offline.SignBundle(s.rand, s.serviceKey, b)
}

// CompactCode is an offline code minted: whose share it is, and the first
// verifier that used it.
type CompactCode struct {
	CTIHash  []byte
	ShareID  string
	HolderID string
	Expires  time.Time
	SeenBy   string // the verifier of its first use
	SeenKey  string // and the API key, the counter, it used (none before counters were told apart)
	SeenAt   time.Time
}

// seenAt reports whether c was first used at the counter keyID of
// verifierID (a code seen before counters were told apart counts as any of
// its verifier's).
func (c *CompactCode) seenAt(verifierID, keyID string) bool {
	return c.SeenBy == verifierID && (c.SeenKey == keyID || c.SeenKey == "")
}

// usedOffline records the first use of code c, uploaded by a counter that
// verified it with no network and is registered for its share's claims
// (sawCompact then marks the code used by it).
// It is the share's one use, spent at that counter (T39: an offline
// share's max_uses 1 is spent by either of its two codes), and it goes in
// the holder's log with the counter and the claims, and in the counter's
// with the share, as a redemption does (SPEC §3.3 step 5, §3.7).
func (s *Service) usedOffline(tx Tx, c *CompactCode, sh *Share, up *upload) error {
	names := itemClaimNames(sh.Items)
	up.entry.ShareID, up.entry.Types, up.entry.Claims = sh.ID, itemTypes(sh.Items), names
	if sh.Status == api.ShareActive {
		sh.Uses, sh.Status = sh.MaxUses, api.ShareRedeemed
		if err := Shares.Put(tx, sh); err != nil {
			return err
		}
	}
	return s.appendActivity(tx, &api.ActivityEntry{HolderID: c.HolderID, At: s.now().UTC(), Event: api.EventShareRedeemed,
		Outcome: "ok", ShareID: sh.ID, VerifierID: up.verifier.ID, Claims: names})
}

// refusedOffline records an upload of code c by a counter not registered
// for its share's claims (T35): it saw what it may not collect, and its
// use counts for nothing. The share is not spent, the code not used, no
// other counter's use is flagged for it; the counter's log has it as
// forbidden, without the share or its claims (as any share it is not for
// says), and the holder's, once, as a refusal naming the counter.
func (s *Service) refusedOffline(tx Tx, c *CompactCode, sh *Share, up *upload, hash []byte) error {
	up.entry.Result, up.entry.Reason, up.entry.Types = string(api.CodeForbidden), api.ReasonClaimsNotRegistered, nil
	now := s.now().UTC()
	err := tx.UseOnce(s.onceKey("cti-refused", up.verifier.ID, string(hash)), c.Expires.Add(offline.DefaultMaxAge), now)
	if errors.Is(err, ErrExists) {
		return nil // an upload sent again
	} else if err != nil {
		return err
	}
	return s.appendActivity(tx, &api.ActivityEntry{HolderID: c.HolderID, At: now, Event: api.EventShareRefused,
		Outcome: api.ReasonClaimsNotRegistered, ShareID: sh.ID, VerifierID: up.verifier.ID, Claims: itemClaimNames(sh.Items)})
}

// ctiHash keys a code's record: a keyed hash, so the store never holds a
// cti a verifier could match against a scan.
func (s *Service) ctiHash(cti []byte) []byte { return s.indexHash("cti", string(cti)) }

// Upload rules: at most this many at a time, and a counter's clock may be
// this far ahead of the service's (a week behind at most).
const (
	maxOfflineUpload = 500 // what fits in a 64 KiB body (SPEC §5)
	uploadClockSkew  = 15 * time.Minute
)

// UploadOfflineVerifications takes what a counter verified with no network
// (issue 12 item 3): each entry in the verifier's log, and each code
// already used at another verifier flagged — in this verifier's log, the
// first one's, and the holder's activity.
func (s *Service) UploadOfflineVerifications(ctx context.Context, p *Principal, req api.OfflineVerifications) (*api.OfflineUploadResult, error) {
	if err := p.require(api.RoleVerifier); err != nil {
		return nil, err
	}
	if len(req.Verifications) == 0 || len(req.Verifications) > maxOfflineUpload {
		return nil, Errorf(api.CodeInvalidRequest, "verifications: 1 to %d", maxOfflineUpload)
	}
	ctis := make([][]byte, len(req.Verifications))
	for i, v := range req.Verifications {
		cti, err := base64.RawURLEncoding.DecodeString(v.CTI)
		if err != nil || len(cti) < 8 || len(cti) > 32 || v.VerifiedAt.IsZero() || v.Result == "" || len(v.Result) > 64 || len(v.Type) > 64 ||
			v.VerifiedAt.After(s.now().Add(uploadClockSkew)) || v.VerifiedAt.Before(s.now().Add(-7*offline.DefaultMaxAge)) {
			return nil, Errorf(api.CodeInvalidRequest, "verifications[%d]: cti (base64url, 8 to 32 bytes), verified_at (at most 15 minutes ahead, a week old) and result are required", i)
		}
		ctis[i] = cti
	}
	now := s.now().UTC()
	res := &api.OfflineUploadResult{Flagged: []string{}}
	err := s.store.Update(ctx, func(tx Tx) error {
		res.Accepted, res.Flagged = 0, []string{}
		verifier, err := Verifiers.Get(tx, p.Subject)
		if err != nil {
			return err
		}
		if err := notRetired(verifier); err != nil {
			return err
		}
		counts := map[counterKey]int64{} // one add a key (usage.go)
		for i, v := range req.Verifications {
			counts[s.uploaded(v, verifier.Category).key(v.VerifiedAt)]++ // in the hour it was verified
			e := &api.Verification{VerifierID: p.Subject, At: v.VerifiedAt.UTC(), Result: v.Result, Reason: "offline"}
			if v.Type != "" {
				e.Types = []string{v.Type}
			}
			flagged, err := s.sawCompact(tx, p.Subject, p.KeyID, s.ctiHash(ctis[i]), v.VerifiedAt.UTC(), v.Result == "valid", &upload{verifier, e})
			if err != nil {
				return err
			}
			if err := s.appendVerification(tx, e); err != nil {
				return err
			}
			if flagged {
				res.Flagged = append(res.Flagged, v.CTI)
			}
			res.Accepted++
		}
		return s.countAll(tx, counts)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "offline verifications")
	}
	s.log.InfoContext(ctx, "offline verifications uploaded", "verifier_id", p.Subject, "accepted", res.Accepted, "flagged", len(res.Flagged), "at", now)
	return res, nil
}

// upload is an offline use a counter uploaded: its verifier, and the entry
// for its log that the caller writes (sawCompact completes it).
type upload struct {
	verifier *Verifier
	entry    *api.Verification
}

// sawCompact records that the counter keyID of verifierID (its API key:
// each staff device has its own) used the code whose CompactCodes key is
// hash, at at (up, for a use uploaded by a counter: at is as it says,
// checked against the code's life; nil for a use online); a code first
// used at another counter is flagged (THREATS T39), once per counter, in
// the logs of both verifiers (one, when both counters are its) and in the
// holder's activity, at the service's time (reports true). The same
// counter using it again is its own seen-cti store's to refuse (an upload
// sent again is no reuse). A code this service did not mint is just
// logged by the caller.
func (s *Service) sawCompact(tx Tx, verifierID, keyID string, hash []byte, at time.Time, used bool, up *upload) (bool, error) {
	c, err := CompactCodes.Get(tx, hash)
	if errors.Is(err, ErrNotFound) || err == nil && !used {
		return false, nil
	} else if err != nil {
		return false, err
	}
	// An upload's time is the counter's word: it must fall in the code's
	// life (an online use is at the service's time, and an EID1: use of an
	// offline share may come after its EIDC1: code expired).
	if up != nil {
		if at.Before(c.Expires.Add(-compactLifetime-uploadClockSkew)) || at.After(c.Expires.Add(uploadClockSkew)) {
			return false, Errorf(api.CodeInvalidRequest, "verified_at: outside the code's life")
		}
		sh, err := Shares.Get(tx, c.ShareID)
		if err != nil {
			return false, err // a share outlives its codes' upload window
		}
		switch {
		case !registered(up.verifier, itemClaimSet(sh.Items)):
			return false, s.refusedOffline(tx, c, sh, up, hash)
		case c.SeenBy == "":
			if err := s.usedOffline(tx, c, sh, up); err != nil {
				return false, err
			}
		}
	}
	switch {
	case c.SeenBy == "":
		c.SeenBy, c.SeenKey, c.SeenAt = verifierID, keyID, at
		return false, CompactCodes.Put(tx, c)
	case c.seenAt(verifierID, keyID):
		return false, nil
	}
	now := s.now().UTC()
	err = tx.UseOnce(s.onceKey("cti-flag", verifierID+"/"+keyID, string(hash)), c.Expires.Add(offline.DefaultMaxAge), now)
	if errors.Is(err, ErrExists) {
		return true, nil // flagged already
	} else if err != nil {
		return false, err
	}
	logs, reason := []string{c.SeenBy, verifierID}, "offline_code_at_two_verifiers"
	if c.SeenBy == verifierID {
		logs, reason = logs[:1], "offline_code_at_two_counters"
	}
	for _, v := range logs {
		if err := s.appendVerification(tx, &api.Verification{VerifierID: v, At: now, ShareID: c.ShareID, Result: "reused",
			Reason: reason}); err != nil {
			return false, err
		}
	}
	return true, s.appendActivity(tx, &api.ActivityEntry{HolderID: c.HolderID, At: now, Event: api.EventCompactReused,
		Outcome: "flagged", ShareID: c.ShareID, VerifierID: verifierID})
}
