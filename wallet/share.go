package wallet

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/qr"
)

// CreateShare prepares a share of chosen claims (SPEC §3.3 step 1): one
// presentation per item with only those disclosures, a fresh nonce, and
// the aud (the verifier's id, or the verify endpoint), for the device to
// sign.
func (s *Service) CreateShare(ctx context.Context, p *Principal, req api.ShareRequest) (*api.ShareCreated, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	ttl := DefaultShareTTL
	if req.TTLSeconds != 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	if ttl <= 0 || ttl > MaxShareTTL {
		return nil, Errorf(api.CodeInvalidRequest, "ttl_seconds: 1 to %d", int(MaxShareTTL/time.Second))
	}
	if req.MaxUses == 0 {
		req.MaxUses = 1
	}
	if req.MaxUses < 0 || req.MaxUses > MaxShareUses {
		return nil, Errorf(api.CodeInvalidRequest, "max_uses: 1 to %d", MaxShareUses)
	}
	if req.Offline {
		if err := checkOffline(req); err != nil {
			return nil, err
		}
	}
	key := req.IdempotencyKey
	req.IdempotencyKey = ""
	idem, err := idempotencyOf("share", p, key, req)
	if err != nil {
		return nil, err
	}
	id, err := s.newID("shr")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	sh := &Share{ID: id, HolderID: p.Subject, DeviceID: p.DeviceID, Status: api.SharePending, VerifierID: req.VerifierID,
		Aud: s.VerifyEndpoint(), Created: now, ExpiresAt: now.Add(ApprovalWindow), TTL: int(ttl / time.Second), MaxUses: req.MaxUses,
		Offline: req.Offline}
	if req.VerifierID != "" {
		sh.Aud = req.VerifierID
	}
	resp := &api.ShareCreated{ShareID: id, Status: api.SharePending}
	// Prepared in a read transaction (a stale copy is signed again there),
	// then written in a short one.
	var copies []copyChange
	var first api.ShareCreated // the answer to an earlier request with idem's key
	replayed := false
	err = s.viewCopies(ctx, p.DeviceID, func(tx Tx) error {
		if replayed, err = s.answered(tx, idem, &first); err != nil || replayed {
			return err
		}
		var bound *Verifier
		if req.VerifierID != "" {
			v, err := Verifiers.Get(tx, req.VerifierID)
			if err != nil {
				return mine(err, "verifier", nil)
			}
			if v.Retired != nil {
				return Errorf(api.CodeConflict, "verifier %s is retired", v.ID)
			}
			bound = v
		}
		if err := claimsChosen(req.Items); err != nil {
			return err
		}
		var err error
		if sh.Items, resp.ToSign, copies, err = s.prepareItems(tx, p, sh.ID, sh.Aud, s.shareNonce(sh.ID), req.Items, now); err != nil {
			return err
		}
		// T35: a verifier collects no more than it is registered for, on a
		// share made for it too (the citizen's choice of verifier does not
		// widen its registration).
		if bound != nil && !registered(bound, itemClaimSet(sh.Items)) {
			return errNotRegistered()
		}
		resp.RedeemableBy, resp.RedeemableByCount, err = s.redeemableBy(tx, sh, now)
		return err
	})
	if err == nil && !replayed {
		err = s.store.Update(ctx, func(tx Tx) error {
			if replayed, err = s.answered(tx, idem, &first); err != nil || replayed {
				return err // answered meanwhile: this one is dropped
			}
			if err := putCopies(tx, p.DeviceID, copies); err != nil {
				return err
			}
			if err := s.remember(tx, idem, resp, now); err != nil {
				return err
			}
			return Shares.Put(tx, sh)
		})
	}
	if err != nil {
		return nil, s.storeErr(ctx, err, "share")
	}
	if replayed {
		return &first, nil
	}
	s.log.InfoContext(ctx, "share created", "holder_id", p.Subject, "share_id", id, "items", len(sh.Items))
	return resp, nil
}

// redeemableBy lists, for the consent screen, the verifiers that could
// redeem sh (SPEC §3.7), and how many there are: the one it is bound to,
// or else the active verifiers registered for all of its claims, at most
// maxRedeemableBy of them named (directory.go).
func (s *Service) redeemableBy(tx Tx, sh *Share, now time.Time) ([]api.VerifierParty, int, error) {
	if sh.VerifierID != "" {
		v, err := Verifiers.Get(tx, sh.VerifierID)
		if err != nil {
			return nil, 0, err
		}
		return []api.VerifierParty{verifierParty(v)}, 1, nil
	}
	r, err := s.redeemers(tx, itemClaimSet(sh.Items), now)
	return r.first, r.total, err
}

func verifierParty(v *Verifier) api.VerifierParty {
	return api.VerifierParty{ID: v.ID, Name: v.Name, Category: v.Category}
}

// copyChange is a copy prepareItem signed again (freshCopy), for the
// caller's write transaction.
type copyChange struct {
	credentialID string
	fresh        []byte
}

// errNoCopy is a pooled device's share of a credential it holds no unused
// batch copy of, even after refillCopies tried its free pool keys.
var errNoCopy = Errorf(api.CodeConflict, "no one-time copy of this credential is ready on this device: register more device keys (POST /v1/me/device/keys) and try again")

// errCopyTaken is a batch copy spent by another approval of the device
// between this one's preparation and its write.
var errCopyTaken = Errorf(api.CodeConflict, "the one-time copy of a credential was used by another share at the same moment; prepare it again")

// putCopies writes the copies prepareItems signed again for a device.
func putCopies(tx Tx, deviceID string, changes []copyChange) error {
	for _, ch := range changes {
		if ch.fresh != nil {
			if err := CredentialCopies.Put(tx, ch.fresh, ch.credentialID, deviceID); err != nil {
				return err
			}
		}
	}
	return nil
}

// spendCopies deletes, in an approval's write transaction, the batch
// copies its items present (issue 12): a copy is presented by one share
// only. An item presenting the device key's copy spends nothing.
func (s *Service) spendCopies(tx Tx, deviceID string, items []ShareItem) error {
	own, err := s.deviceThumbprintByID(tx, deviceID)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.Key == "" || it.Key == own {
			continue
		}
		if _, err := BatchCopies.Get(tx, it.CredentialID, deviceID, it.Key); errors.Is(err, ErrNotFound) {
			return errCopyTaken
		} else if err != nil {
			return err
		}
		if err := BatchCopies.Delete(tx, it.CredentialID, deviceID, it.Key); err != nil {
			return err
		}
	}
	return nil
}

// deviceThumbprintByID is deviceThumbprint for a device known by id: from
// memory (an approval's verification has just put it there), else from its
// record.
func (s *Service) deviceThumbprintByID(tx Tx, id string) (string, error) {
	if t, ok := s.deviceThumbs.Load(id); ok {
		return t.(string), nil
	}
	d, err := Devices.Get(tx, id)
	if err != nil {
		return "", err
	}
	return s.deviceThumbprint(d)
}

// deviceThumbprint is the RFC 7638 thumbprint of d's key, kept in memory
// once computed: a device's key never changes.
func (s *Service) deviceThumbprint(d *Device) (string, error) {
	if t, ok := s.deviceThumbs.Load(d.ID); ok {
		return t.(string), nil
	}
	pub, err := credentials.ParsePublicJWK(d.Key)
	if err != nil {
		return "", fmt.Errorf("device %s key: %w", d.ID, err)
	}
	t, err := credentials.Thumbprint(pub)
	if err == nil {
		s.deviceThumbs.Store(d.ID, t)
	}
	return t, err
}

// claimsChosen refuses an item of a share, or of an answer to one of our
// verifiers' requests, that discloses no claim. (A standard verifier may
// ask for none: OpenID4VP 1.0 §6.4.1, the mandatory claims only.)
func claimsChosen(items []api.ShareRequestItem) error {
	if slices.ContainsFunc(items, func(it api.ShareRequestItem) bool { return len(it.Claims) == 0 }) {
		return Errorf(api.CodeInvalidRequest, "items: choose at least one claim")
	}
	return nil
}

// prepareItems makes, for a share or a request, one presentation per
// chosen credential of the calling device, each credential once, bound for
// aud and the nonce of each credential id. It only reads: what it changes
// in the device's copies is returned for the caller's write transaction
// (putCopies).
func (s *Service) prepareItems(tx Tx, p *Principal, id, aud string, nonce func(credentialID string) string, chosen []api.ShareRequestItem, now time.Time) ([]ShareItem, []api.ToSign, []copyChange, error) {
	if len(chosen) == 0 || len(chosen) > MaxShareItems {
		return nil, nil, nil, Errorf(api.CodeInvalidRequest, "items: 1 to %d credentials", MaxShareItems)
	}
	dev, err := Devices.Get(tx, p.DeviceID)
	if err != nil {
		return nil, nil, nil, err
	}
	var items []ShareItem
	var toSign []api.ToSign
	var changes []copyChange
	for _, it := range chosen {
		if it.CredentialID == "" {
			return nil, nil, nil, Errorf(api.CodeInvalidRequest, "items: credential_id is required")
		}
		if slices.ContainsFunc(items, func(x ShareItem) bool { return x.CredentialID == it.CredentialID }) {
			return nil, nil, nil, Errorf(api.CodeInvalidRequest, "items: a credential appears twice")
		}
		item, ts, ch, err := s.prepareItem(tx, p, dev, id, aud, nonce, it, now)
		if err != nil {
			return nil, nil, nil, err
		}
		changes = append(changes, ch)
		items, toSign = append(items, *item), append(toSign, *ts)
	}
	return items, toSign, changes, nil
}

func (s *Service) prepareItem(tx Tx, p *Principal, dev *Device, id, aud string, nonce func(string) string, it api.ShareRequestItem, now time.Time) (*ShareItem, *api.ToSign, copyChange, error) {
	ch := copyChange{credentialID: it.CredentialID}
	c, err := Credentials.Get(tx, it.CredentialID)
	if err := mine(err, "credential", func() bool { return c.HolderID == p.Subject }); err != nil {
		return nil, nil, ch, err
	}
	if err := credentialUsable(c, now); err != nil {
		return nil, nil, ch, err
	}
	var sdjwt []byte
	var key string
	if dev.Pool {
		sdjwt, key, err = s.batchCopy(tx, c, dev, now)
	} else {
		sdjwt, ch.fresh, key, err = s.deviceCopy(tx, c, dev, now)
	}
	if err != nil {
		return nil, nil, ch, err
	}
	claims := slices.Compact(slices.Sorted(slices.Values(it.Claims)))
	pres, err := credentials.Present(string(sdjwt), claims)
	if err != nil {
		var ce *credentials.ClaimError
		if errors.As(err, &ce) {
			return nil, nil, ch, Errorf(api.CodeInvalidRequest, "claims: %s is not a claim of this credential", ce.Claim)
		}
		return nil, nil, ch, err
	}
	sealedPres, err := s.sealBytes([]byte(pres), "share-item", id, c.ID)
	if err != nil {
		return nil, nil, ch, err
	}
	item := &ShareItem{CredentialID: c.ID, Type: c.Type, Claims: claims, Presentation: sealedPres, SDHash: credentials.SDHash(pres), Key: key, IssuerID: c.IssuerID}
	return item, &api.ToSign{CredentialID: c.ID, Presentation: pres, Aud: aud, Nonce: nonce(c.ID), SDHash: item.SDHash, KeyThumbprint: key}, ch, nil
}

// deviceCopy is the copy of c bound to the device key, as it should be
// presented today, the copy signed again if it had to be (for the write),
// and the device key's thumbprint. A device has none when the credential
// could not be used as it enrolled (suspended then, valid again now):
// freshCopy makes it.
func (s *Service) deviceCopy(tx Tx, c *Credential, dev *Device, now time.Time) (sdjwt, fresh []byte, key string, err error) {
	sealed, err := CredentialCopies.Get(tx, c.ID, dev.ID)
	if err == nil {
		sdjwt, err = s.openBytes(sealed, "credential-copy", c.ID, dev.ID)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, nil, "", err
	}
	if sdjwt, fresh, err = s.freshCopy(tx, c, dev.ID, sdjwt, now); err != nil {
		return nil, nil, "", err
	}
	key, err = s.deviceThumbprint(dev)
	return sdjwt, fresh, key, err
}

// batchCopy is an unused batch copy of c on a pooled device (issue 12)
// and its pool key's thumbprint, as it should be presented today: signed
// again, for the same key and status entry, when it is stale (staleCopy).
// The approval spends it (spendCopies), so it is never presented twice;
// a share abandoned before approval leaves it unused. errNoCopy when the
// device holds none. The copy is one of those held at random, so that
// shares prepared at once (on two replicas, say) seldom pick the same one
// and have their second approval refused.
func (s *Service) batchCopy(tx Tx, c *Credential, dev *Device, now time.Time) ([]byte, string, error) {
	held, _, _, err := heldCopies(tx, c.ID, dev.ID, now)
	if err != nil {
		return nil, "", err
	}
	if len(held) == 0 {
		return nil, "", errNoCopy
	}
	bc := held[mrand.IntN(len(held))] // not a secret: which copy is never disclosed
	sdjwt, err := s.openBytes(bc.Copy, "batch-copy", c.ID, dev.ID, bc.Thumbprint)
	if err != nil {
		return nil, "", err
	}
	re, err := s.staleCopy(tx, c, sdjwt, now)
	if err != nil || re == nil {
		return sdjwt, bc.Thumbprint, err
	}
	pub, err := credentials.ParsePublicJWK(bc.Key)
	if err != nil {
		return nil, "", fmt.Errorf("pool key %s: %w", bc.Thumbprint, err)
	}
	fresh, err := s.signCopy(re.signer, c, re.typ, re.claims, pub, bc.List, bc.Index, now)
	return []byte(fresh), bc.Thumbprint, err
}

// credentialUsable refuses a credential that is revoked, suspended or
// expired, with the SPEC §5 reason.
func credentialUsable(c *Credential, now time.Time) error {
	var reason credentials.Reason
	switch {
	case c.Status == api.StatusRevoked:
		reason = credentials.ReasonRevoked
	case c.Status == api.StatusSuspended:
		reason = credentials.ReasonSuspended
	case !now.Before(c.ValidUntil):
		reason = credentials.ReasonExpired
	default:
		return nil
	}
	return failed(reason, "the credential is not valid: "+string(reason))
}

// ApproveShare checks the device's KB-JWTs, the citizen's signed consent
// (SPEC §3.3 step 2), and activates the share with its one-time QR text.
// The signatures are checked before the write transaction, which re-checks
// only state (CONVENTIONS: read, compute, then a short check-and-set).
func (s *Service) ApproveShare(ctx context.Context, p *Principal, shareID string, req api.ApproveRequest) (*api.ShareView, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	read := func(tx Tx) (*Share, error) {
		sh, err := Shares.Get(tx, shareID)
		if err := mine(err, "share", func() bool { return sh.HolderID == p.Subject }); err != nil {
			return nil, err
		}
		return sh, pending(sh, now)
	}
	var sh *Share
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		sh, err = read(tx)
		return err
	})
	var items []ShareItem
	var docs [][]byte
	if err == nil {
		// Each item's verified answer (the Document of SPEC §3.3 step 4),
		// sealed now so that a redemption needs no signature check.
		items, docs, err = s.verifyItems(ctx, p, sh.ID, sh.Aud, s.shareNonce(sh.ID), sh.Items, req.KBJWTs, now)
	}
	// An offline share's compact code, minted now that the device's
	// consent is verified (issue 12).
	var compact []byte
	var minted *CompactCode
	if err == nil && sh.Offline {
		var got [][]byte
		if got, err = s.store.Fetch(ctx, Credentials.Lookup("", items[0].CredentialID)); err == nil {
			var c *Credential
			if c, err = Credentials.Fetched(got[0], items[0].CredentialID); err == nil {
				compact, minted, err = s.mintCompact(sh, c, docs[0], now)
			}
		}
	}
	var view *api.ShareView
	if err == nil {
		err = s.store.Update(ctx, func(tx Tx) error {
			sh, err := read(tx)
			if err != nil {
				return err
			}
			if err := s.spendValid(tx, p.DeviceID, items, now); err != nil {
				return err
			}
			if err := ShareDocuments.Put(tx, docs, sh.ID); err != nil {
				return err
			}
			sh.Items = items
			sh.TokenHash = hashSecret(s.shareToken(sh.ID))
			sh.Status = api.ShareActive
			sh.ExpiresAt = now.Add(time.Duration(sh.TTL) * time.Second)
			if minted != nil {
				sh.Compact, sh.CompactExp, sh.CompactCTI = compact, minted.Expires, minted.CTIHash
				if err := CompactCodes.Put(tx, minted); err != nil {
					return err
				}
			}
			if err := Shares.Put(tx, sh); err != nil {
				return err
			}
			view = s.shareView(sh, now)
			return s.appendActivity(tx, &api.ActivityEntry{HolderID: sh.HolderID, At: now, Event: api.EventShareApproved, Outcome: "ok",
				ShareID: sh.ID, VerifierID: sh.VerifierID, Claims: itemClaimNames(sh.Items)})
		})
	}
	if err != nil {
		return nil, s.storeErr(ctx, err, "share")
	}
	s.approved(p.DeviceID, err)
	s.log.InfoContext(ctx, "share approved", "holder_id", p.Subject, "share_id", shareID)
	return view, nil
}

// pending is the share state machine before an approval.
func pending(sh *Share, now time.Time) error {
	switch sh.Status {
	case api.SharePending:
	case api.ShareCancelled: // SPEC §5: 410 share_cancelled
		return Errorf(api.CodeShareCancelled, "the share was cancelled")
	default:
		// The nonces of this share were consumed by its first approval.
		return Errorf(api.CodeReplay, "the share was already approved")
	}
	if !now.Before(sh.ExpiresAt) {
		return Errorf(api.CodeShareExpired, "the share was not approved in time")
	}
	return nil
}

// verifyItems checks one KB-JWT per item of a share or request, bound for
// aud and each item's nonce and signed by the key of the calling device
// (THREATS T34), outside any write transaction: it reads what it needs in
// a read transaction, then verifies. It returns the items as approved (the
// signing kid kept, the bare presentation dropped) and their verified
// documents, sealed. The caller's write transaction re-checks the state
// they depend on (stillValid).
func (s *Service) verifyItems(ctx context.Context, p *Principal, id, aud string, nonce func(string) string, items []ShareItem, kbs []string, now time.Time) ([]ShareItem, [][]byte, error) {
	if len(kbs) != len(items) {
		return nil, nil, Errorf(api.CodeInvalidRequest, "kb_jwts: one per item (%d)", len(items))
	}
	var dev *Device
	var keys map[string]bool
	creds := make([]*Credential, len(items))
	issuers := map[string]*Issuer{}
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if dev, err = Devices.Get(tx, p.DeviceID); err != nil {
			return err
		}
		if keys, err = s.deviceKeysOf(tx, dev, items); err != nil {
			return err
		}
		for i, it := range items {
			if creds[i], err = Credentials.Get(tx, it.CredentialID); err != nil {
				return err
			}
			if id := creds[i].IssuerID; issuers[id] == nil {
				if issuers[id], err = Issuers.Get(tx, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if dev.Revoked != nil {
		return nil, nil, failed(api.ReasonDeviceRevoked, "the device is revoked")
	}
	devKey, err := credentials.ParsePublicJWK(dev.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("device %s key: %w", dev.ID, err)
	}
	trust, err := s.trust(slices.Collect(maps.Values(issuers)))
	if err != nil {
		return nil, nil, err
	}
	approved := slices.Clone(items)
	docs := make([][]byte, len(items))
	for i := range approved {
		c := creds[i]
		if err := credentialUsable(c, now); err != nil {
			return nil, nil, err
		}
		if docs[i], err = s.approveItem(trust, devKey, keys, id, aud, nonce(c.ID), &approved[i], c, issuers[c.IssuerID], kbs[i], now); err != nil {
			return nil, nil, err
		}
	}
	return approved, docs, nil
}

// approveItem verifies one KB-JWT over its presentation, RFC 9901 §7.3 in
// full, and returns the verified document, sealed. The service builds what
// it stores: the presentation it prepared plus exactly one compact KB-JWT
// (THREATS T32), so the disclosed claims are the item's, which both logs
// name.
func (s *Service) approveItem(trust credentials.Trust, devKey *ecdsa.PublicKey, keys map[string]bool, id, aud, nonce string, it *ShareItem, c *Credential, is *Issuer, kb string, now time.Time) ([]byte, error) {
	pres, err := s.openBytes(it.Presentation, "share-item", id, it.CredentialID)
	if err != nil {
		return nil, err
	}
	full, err := credentials.Attach(string(pres), kb)
	if err != nil {
		return nil, verificationFailed(err)
	}
	v, err := credentials.Verify(full, trust, credentials.VerifyOptions{
		Now: now, RequireKB: true, Audience: aud, Nonce: nonce,
	})
	if err != nil {
		return nil, verificationFailed(err)
	}
	// RFC 9901 §7.3 step 5 verifies the KB-JWT with cnf; the copy must also
	// be the calling device's own (THREATS T34): bound to the key the item
	// names, the device key or one of its pool keys.
	if !holderIs(v.Holder, it.Key, keys, devKey) {
		return nil, failed(credentials.ReasonKBInvalid, "the key binding is not the calling device's")
	}
	// What was prepared is what is disclosed, a part of a claim (a nested
	// disclosure) only inside one prepared; anything else is refused.
	if !slices.Equal(slices.Sorted(slices.Values(v.Disclosed)), it.Claims) ||
		slices.ContainsFunc(v.DisclosedWithin, func(n string) bool { return !slices.Contains(it.Claims, n) }) {
		return nil, failed(credentials.ReasonInvalidDisclosure, "the presentation discloses other claims than prepared")
	}
	disclosed := make(map[string]any, len(it.Claims))
	for _, n := range it.Claims {
		disclosed[n] = v.Claims[n]
	}
	it.Kid = v.KeyID
	doc := api.Document{Type: c.Type, Issuer: api.Party{ID: c.IssuerID, Name: is.Name}, IssuedAt: v.IssuedAt.UTC(), ExpiresAt: v.ExpiresAt.UTC(),
		Status: api.StatusValid, HolderBinding: "verified", KeyBinding: api.KeyBinding{Aud: v.KB.Aud, Nonce: v.KB.Nonce},
		Claims: disclosed, Presentation: full}
	raw, err := json.Marshal(doc, AnswerOptions)
	if err != nil {
		return nil, err
	}
	// The document supersedes the bare presentation, which is dropped to
	// keep the share record small: redemptions rewrite it.
	it.Presentation = nil
	return s.sealBytes(raw, "share-document", id, it.CredentialID)
}

// holderIs reports whether holder is the key of thumbprint want and want
// is one of the calling device's keys; for an item prepared before items
// named their key, whether it is the device key.
func holderIs(holder *ecdsa.PublicKey, want string, keys map[string]bool, devKey *ecdsa.PublicKey) bool {
	if want == "" {
		return holder.Equal(devKey)
	}
	got, err := credentials.Thumbprint(holder)
	return err == nil && got == want && keys[want]
}

// deviceKeysOf is the set of the keys items name that are dev's: its
// device key, and its pool keys by DeviceKeys. A share prepared on another
// device names that device's keys, none of which are.
func (s *Service) deviceKeysOf(tx Tx, dev *Device, items []ShareItem) (map[string]bool, error) {
	own, err := s.deviceThumbprint(dev)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{own: true}
	for _, it := range items {
		if it.Key == "" || keys[it.Key] {
			continue
		}
		id, err := DeviceKeys.Get(tx, it.Key)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		keys[it.Key] = err == nil && string(id) == dev.ID
	}
	return keys, nil
}

// shareNonce gives each item of a share its KB-JWT nonce: derived, not
// stored (SPEC §6: nonces never in the clear at rest), and fresh because
// share ids are.
func (s *Service) shareNonce(shareID string) func(string) string {
	return func(credentialID string) string { return s.kbNonce("share|" + shareID + "|" + credentialID) }
}

// shareToken derives a share's QR token from the token key and its id: the
// store keeps only the token's hash (SPEC §4), yet the owner can fetch the
// QR again. Without the master key the token cannot be computed.
func (s *Service) shareToken(shareID string) string { return s.derivedToken("share", shareID) }

// itemClaimSet is what items disclose, by credential type.
func itemClaimSet(items []ShareItem) map[string][]string {
	set := map[string][]string{}
	for _, it := range items {
		set[it.Type] = append(set[it.Type], it.Claims...)
	}
	return set
}

// itemClaimNames names what items disclose, type.claim, for the logs.
func itemClaimNames(items []ShareItem) []string {
	var names []string
	for _, it := range items {
		for _, c := range it.Claims {
			names = append(names, it.Type+"."+c)
		}
	}
	return names
}

// shareView shows a share to its holder; the QR text only while it can be
// redeemed.
func (s *Service) shareView(sh *Share, now time.Time) *api.ShareView {
	v := &api.ShareView{ShareID: sh.ID, Status: sh.Status, ExpiresAt: sh.ExpiresAt, VerifierID: sh.VerifierID,
		MaxUses: sh.MaxUses, Uses: sh.Uses, Created: sh.Created}
	if sh.Status == api.ShareActive && now.Before(sh.ExpiresAt) {
		v.QRText = qr.Text(qr.Share, s.shareToken(sh.ID))
		v.OfflineQRText, v.OfflineExpiresAt = s.compactText(sh, now)
	}
	if (sh.Status == api.ShareActive || sh.Status == api.SharePending) && !now.Before(sh.ExpiresAt) {
		v.Status = api.ShareExpired
	}
	for _, it := range sh.Items {
		v.Items = append(v.Items, api.ShareViewItem{CredentialID: it.CredentialID, Type: it.Type, Claims: it.Claims})
	}
	return v
}

// Share returns one of the holder's shares (404 for anyone else's).
func (s *Service) Share(ctx context.Context, p *Principal, shareID string) (*api.ShareView, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	var v *api.ShareView
	err := s.store.View(ctx, func(tx Tx) error {
		sh, err := Shares.Get(tx, shareID)
		if err := mine(err, "share", func() bool { return sh.HolderID == p.Subject }); err != nil {
			return err
		}
		v = s.shareView(sh, s.now())
		return nil
	})
	return v, s.storeErr(ctx, err, "share")
}

// Shares lists a page of the holder's shares, newest first.
func (s *Service) Shares(ctx context.Context, p *Principal, pg api.Page) (*api.ShareList, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	pgr, err := s.pager(pg, "shares", p.Subject)
	if err != nil {
		return nil, err
	}
	out := &api.ShareList{}
	now := s.now()
	err = s.store.View(ctx, func(tx Tx) error {
		all, next, err := listPage(tx, pgr, Shares, byHolder, true, nil, p.Subject)
		out.Shares, out.NextCursor = convert(all, func(sh *Share) *api.ShareView { return s.shareView(sh, now) }), next
		return err
	})
	return out, s.storeErr(ctx, err, "shares")
}

// CancelShare cancels a share that has not been redeemed (SPEC §3.3 step 3).
func (s *Service) CancelShare(ctx context.Context, p *Principal, shareID string) error {
	if err := p.require(api.RoleHolder); err != nil {
		return err
	}
	now := s.now().UTC()
	err := s.store.Update(ctx, func(tx Tx) error {
		sh, err := Shares.Get(tx, shareID)
		if err := mine(err, "share", func() bool { return sh.HolderID == p.Subject }); err != nil {
			return err
		}
		switch {
		case sh.Status == api.ShareCancelled:
			return nil
		case sh.Status == api.ShareRedeemed:
			return Errorf(api.CodeConflict, "the share was already redeemed")
		case !now.Before(sh.ExpiresAt):
			return nil // expired: it stays so (shareView), and its history is not rewritten
		}
		sh.Status = api.ShareCancelled
		if err := Shares.Put(tx, sh); err != nil {
			return err
		}
		return s.appendActivity(tx, &api.ActivityEntry{HolderID: sh.HolderID, At: now, Event: api.EventShareCancelled, Outcome: "ok", ShareID: sh.ID})
	})
	return s.storeErr(ctx, err, "share")
}

// ShareQR returns the QR text of one of the holder's active shares, for the
// PNG and SVG renderings; a share that can no longer be redeemed answers
// as a redemption would.
func (s *Service) ShareQR(ctx context.Context, p *Principal, shareID string) (string, error) {
	v, err := s.Share(ctx, p, shareID)
	if err != nil {
		return "", err
	}
	switch {
	case v.QRText != "":
		return v.QRText, nil
	case v.Status == api.ShareCancelled:
		return "", Errorf(api.CodeShareCancelled, "the share was cancelled")
	case v.Status == api.ShareRedeemed:
		return "", Errorf(api.CodeAlreadyRedeemed, "the share was already used")
	case v.Status == api.SharePending:
		return "", Errorf(api.CodeConflict, "the share is not approved yet")
	}
	return "", Errorf(api.CodeShareExpired, "the share has expired")
}

// freshCopy returns the device's copy of c as it should be presented
// today: when the device has none (nil sdjwt), when its signing key has
// been retired since (THREATS T27: rotation must not strand the citizen's
// copies), or when age_over_NN computed at
// issuance no longer holds at now (a birthday has passed since; issue 4:
// ages are computed at share time), the hosted issuer re-issues the copy
// for the device with its active key before anything is presented; the
// new copy is returned, sealed, for the caller's write transaction (freshCopy
// only reads). Other copies are refreshed when they are used. A retired
// issuer's credentials cannot be presented (SPEC §3.7).
func (s *Service) freshCopy(tx Tx, c *Credential, deviceID string, sdjwt []byte, now time.Time) (current, resealed []byte, err error) {
	re, err := s.staleCopy(tx, c, sdjwt, now)
	if err != nil || re == nil {
		return sdjwt, nil, err
	}
	dev, err := Devices.Get(tx, deviceID)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := s.bindCopy(re.signer, c, re.typ, re.claims, dev, now)
	if err != nil {
		return nil, nil, err
	}
	s.log.Info("credential copy re-issued", "credential_id", c.ID, "device_id", deviceID)
	current, err = s.openBytes(sealed, "credential-copy", c.ID, deviceID)
	return current, sealed, err
}

// resign is what a stale copy is signed again with.
type resign struct {
	signer *credentials.Issuer
	typ    *credentials.Type
	claims map[string]any
}

// staleCopy is nil when sdjwt, a copy of c, can be presented at now as it
// is, else what to sign it again with (freshCopy). nil sdjwt is stale.
func (s *Service) staleCopy(tx Tx, c *Credential, sdjwt []byte, now time.Time) (*resign, error) {
	is, err := Issuers.Get(tx, c.IssuerID)
	if err != nil {
		return nil, err
	}
	if is.Retired != nil {
		return nil, failed(credentials.ReasonUntrustedIssuer, "the issuer was retired")
	}
	t, ok := s.types.ByID(c.Type)
	if !ok {
		return nil, errors.New("credential of an unknown type " + c.Type)
	}
	stale := sdjwt == nil
	if !stale {
		kid, err := credentials.SignedBy(string(sdjwt))
		if err != nil {
			return nil, err
		}
		stale = !issuerTrusts(is, c.Type, kid)
	}
	if !stale && !t.HasDerived() {
		return nil, nil
	}
	// The claims are unsealed only when they are needed: to compute
	// today's derived claims, or to sign the copy again.
	claims, err := s.credentialClaims(c)
	if err != nil {
		return nil, err
	}
	if !stale {
		want, err := t.Derive(claims, now)
		if err != nil {
			return nil, err
		}
		have, err := credentials.DisclosableValues(string(sdjwt))
		if err != nil {
			return nil, err
		}
		for _, cl := range t.Claims {
			if cl.Derived && have[cl.Name] != want[cl.Name] {
				stale = true
			}
		}
	}
	if !stale {
		return nil, nil
	}
	signer, err := s.activeSigner(is)
	if err != nil {
		return nil, err
	}
	return &resign{signer: signer, typ: t, claims: claims}, nil
}
