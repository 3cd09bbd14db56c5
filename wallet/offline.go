package wallet

import (
	"context"
	"crypto/ecdsa"
	"errors"
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
func (s *Service) mintCompact(sh *Share, c *Credential, sealedDoc []byte, now time.Time) ([]byte, time.Time, error) {
	raw, err := s.openBytes(sealedDoc, "share-document", sh.ID, c.ID)
	if err != nil {
		return nil, time.Time{}, err
	}
	var doc api.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, time.Time{}, err
	}
	cti := make([]byte, compactCTIBytes)
	if _, err := io.ReadFull(s.rand, cti); err != nil {
		return nil, time.Time{}, err
	}
	exp := now.Add(min(compactLifetime, time.Duration(sh.TTL)*time.Second))
	text, err := offline.Sign(s.rand, s.attestKey, offline.Share{Type: c.Type, IssuerID: c.IssuerID, StatusList: c.StatusList,
		StatusIndex: c.StatusIndex, Claims: doc.Claims, Consent: true, IssuedAt: now, ExpiresAt: exp, CTI: cti})
	if err != nil {
		return nil, time.Time{}, err
	}
	sealed, err := s.sealBytes([]byte(text), "share-compact", sh.ID)
	return sealed, exp, err
}

// compactText is the EIDC1: code of sh while it is valid, "" otherwise.
func (s *Service) compactText(sh *Share, now time.Time) (string, *time.Time) {
	if len(sh.Compact) == 0 || !now.Before(sh.CompactExp) {
		return "", nil
	}
	text, err := s.openBytes(sh.Compact, "share-compact", sh.ID)
	if err != nil {
		return "", nil
	}
	exp := sh.CompactExp
	return string(text), &exp
}

// redeemCompact is POST /v1/verify of an EIDC1: code (issue 12 item 4):
// checked as an offline verifier would, against the service's state of
// now (its attestation key, the issuer and its types, the credential's
// status), the verifier registered for its claims, and once: its cti is
// used up for the code's lifetime.
func (s *Service) redeemCompact(ctx context.Context, p *Principal, text string) (*api.VerifyResponse, error) {
	now := s.now().UTC()
	sh, _, err := offline.Parse(text, func(kid []byte) (*ecdsa.PublicKey, error) {
		if string(kid) != string(offline.KeyID(&s.attestKey.PublicKey)) {
			return nil, errors.New("not the service's attestation key")
		}
		return &s.attestKey.PublicKey, nil
	}, now, clockSkew)
	if err != nil {
		reason := string(offline.ReasonOf(err))
		if reason == "" || reason == string(offline.ReasonUnknownKey) {
			reason = string(credentials.ReasonUntrustedIssuer)
		}
		if offline.ReasonOf(err) == offline.ReasonExpired {
			return nil, Errorf(api.CodeShareExpired, "the code has expired")
		}
		return nil, failed(reason, "the code does not verify")
	}
	claims := map[string][]string{sh.Type: {}}
	for n := range sh.Claims {
		claims[sh.Type] = append(claims[sh.Type], n)
	}
	got, err := s.store.Fetch(ctx, Verifiers.Lookup("", p.Subject), Issuers.Lookup("", sh.IssuerID))
	if err != nil {
		return nil, s.storeErr(ctx, err, "share")
	}
	v, err := Verifiers.Fetched(got[0], p.Subject)
	if err != nil {
		return nil, s.storeErr(ctx, err, "share")
	}
	if !registered(v, claims) {
		return nil, &Error{Code: api.CodeForbidden, Reason: api.ReasonClaimsNotRegistered, Message: "the code holds claims the verifier is not registered for"}
	}
	is, err := Issuers.Fetched(got[1], sh.IssuerID)
	if err != nil {
		return nil, s.storeErr(ctx, err, "share")
	}
	if is.Retired != nil || !slices.Contains(is.Types, sh.Type) {
		return nil, failed(credentials.ReasonUntrustedIssuer, "the issuer no longer issues this type")
	}
	if sh.StatusList >= 0 {
		if err := s.checkAnswered(ctx, storeFetch{ctx, s.store}, []AnsweredCredential{{IssuerID: is.ID, Type: sh.Type,
			Kid: activeKid(is), StatusList: sh.StatusList, StatusIndex: sh.StatusIndex}}); err != nil {
			return nil, s.storeErr(ctx, err, "share")
		}
	}
	// One-time (T13), like EID1: codes: the cti is used up until the code
	// expires anyway.
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.UseOnce(s.onceKey("eidc1", "", string(sh.CTI)), sh.ExpiresAt.Add(clockSkew), now); err != nil {
			if errors.Is(err, ErrExists) {
				return Errorf(api.CodeAlreadyRedeemed, "the code was already used")
			}
			return err
		}
		return s.appendVerification(tx, &api.Verification{VerifierID: p.Subject, At: now, Result: "valid", Types: []string{sh.Type},
			Claims: requestClaimNames(claims)})
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "share")
	}
	doc := api.Document{Type: sh.Type, Issuer: api.Party{ID: is.ID, Name: is.Name}, ExpiresAt: sh.ExpiresAt, Status: api.StatusValid,
		HolderBinding: "attested", Claims: sh.Claims, Presentation: text}
	return &api.VerifyResponse{Result: "valid", VerifiedAt: now, Verifier: api.Party{ID: v.ID, Name: v.Name},
		Documents: []api.Document{doc}}, nil
}

// activeKid is a key id the issuer still publishes, for checkAnswered's
// key rule (a compact code names no issuer key: the service attests it).
func activeKid(is *Issuer) string {
	for _, k := range is.Keys {
		if k.Retired == nil {
			return k.Kid
		}
	}
	return ""
}

// isCompact reports whether a scanned text is an EIDC1: code.
func isCompact(text string) bool { return strings.HasPrefix(text, offline.Prefix) }

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
	b := &offline.Bundle{Issuer: s.url, IssuedAt: now, MaxAge: offline.DefaultMaxAge}
	var all []*Issuer
	lists := map[string][]int{}
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if all, err = Issuers.List(tx, "", Order{}); err != nil {
			return err
		}
		for _, is := range all {
			ls, err := StatusLists.List(tx, "", Order{}, is.ID)
			if err != nil {
				return err
			}
			for _, l := range ls {
				lists[is.ID] = append(lists[is.ID], l.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var types []string
	for _, is := range all {
		if is.Retired != nil {
			continue
		}
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
		for _, list := range lists[is.ID] {
			var l *credentials.StatusList
			if err := s.store.View(ctx, func(tx Tx) error {
				var err error
				l, err = buildStatusList(tx, is.ID, list)
				return err
			}); err != nil {
				return nil, err
			}
			cwt, err := offline.SignStatusList(s.rand, key, offline.StatusListURI(s.url, is.ID, list), l, now, StatusListTTL)
			if err != nil {
				return nil, err
			}
			b.StatusLists = append(b.StatusLists, offline.StatusListCWT{IssuerID: is.ID, List: list, CWT: cwt})
		}
	}
	b.Attesters = []offline.Attester{{Key: &s.attestKey.PublicKey, Types: slices.Compact(slices.Sorted(slices.Values(types)))}}
	return offline.SignBundle(s.rand, s.serviceKey, b)
}
