package wallet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/go-json-experiment/json"
)

// require checks the caller's role (THREATS T19). The server checks it per
// route too; the service does not rely on that.
func (p *Principal) require(r api.Role) error {
	if p != nil && p.deferred != nil {
		return errUnauthenticated() // fail closed: nothing confirmed it
	}
	return p.requireDeferred(r)
}

// requireDeferred is require for the methods that confirm a deferred
// principal themselves (Redeem).
func (p *Principal) requireDeferred(r api.Role) error {
	if p == nil || p.Role != r {
		return Errorf(api.CodeForbidden, "this operation is for the %s role", r)
	}
	return nil
}

var slugPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)

// BootstrapAdmin makes the operator's admin key on the first start and
// returns it; later starts return "" (the key is shown once).
func (s *Service) BootstrapAdmin(ctx context.Context) (string, error) {
	var key string
	err := s.store.Update(ctx, func(tx Tx) error {
		key = "" // fn may run again (Store.Update): only a committed key counts
		if _, err := Meta.Get(tx, metaAdminBootstrapped); err == nil {
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		k, err := s.putAPIKey(tx, api.RoleAdmin, bootstrapOwner)
		if err != nil {
			return err
		}
		key = k.Key
		return Meta.Put(tx, []byte(s.now().UTC().Format(time.RFC3339)), metaAdminBootstrapped)
	})
	return key, s.storeErr(ctx, err, "bootstrap admin")
}

// putAPIKey makes and stores a new API key for owner.
func (s *Service) putAPIKey(tx Tx, role api.Role, owner string) (*api.NewAPIKey, error) {
	id, err := s.newID("key")
	if err != nil {
		return nil, err
	}
	secret, err := s.newSecret("ewk_")
	if err != nil {
		return nil, err
	}
	if err := APIKeys.Put(tx, &APIKey{ID: id, Hash: hashSecret(secret), Role: role, Owner: owner, Created: s.now().UTC()}); err != nil {
		return nil, err
	}
	return &api.NewAPIKey{ID: id, Key: secret, Role: role, Owner: owner}, nil
}

// CreateIssuer registers an issuing authority with a fresh ES256 key.
func (s *Service) CreateIssuer(ctx context.Context, p *Principal, req api.CreateIssuerRequest) (*api.IssuerView, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	if !slugPattern.MatchString(req.ID) {
		return nil, Errorf(api.CodeInvalidRequest, "id must be 2 to 32 lower-case letters, digits or -, starting with a letter")
	}
	if err := checkName(req.Name); err != nil {
		return nil, err
	}
	if len(req.Types) == 0 {
		return nil, Errorf(api.CodeInvalidRequest, "types: at least one credential type")
	}
	for _, t := range req.Types {
		if _, ok := s.types.ByID(t); !ok {
			return nil, Errorf(api.CodeInvalidRequest, "types: unknown credential type %q", t)
		}
	}
	now := s.now().UTC()
	is := &Issuer{ID: req.ID, Name: req.Name, Types: slices.Compact(slices.Sorted(slices.Values(req.Types))), Created: now}
	key, err := s.newIssuerKey(is.ID, now)
	if err != nil {
		return nil, err
	}
	is.Keys = []IssuerKey{*key}
	err = s.store.Update(ctx, func(tx Tx) error {
		if _, err := Issuers.Get(tx, is.ID); err == nil {
			return Errorf(api.CodeConflict, "issuer %s exists", is.ID)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := StatusLists.Put(tx, s.newStatusList(is.ID, 1, now)); err != nil {
			return err
		}
		return Issuers.Put(tx, is)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "create issuer")
	}
	s.dropIssuerDocs(is.ID) // the trust list names it now
	s.log.InfoContext(ctx, "issuer created", "issuer_id", is.ID, "kid", key.Kid)
	return s.issuerView(is), nil
}

func checkName(name string) error { return checkText("name", name, 200) }

// checkText checks a required text member: not blank, valid UTF-8, at
// most max characters — characters, not bytes, as the OpenAPI's
// maxLength counts them (a Vietnamese letter is two or three bytes) — and
// none of them a control or format character (displayText).
func checkText(member, v string, max int) error {
	if strings.TrimSpace(v) == "" || !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return Errorf(api.CodeInvalidRequest, "%s: 1 to %d characters", member, max)
	}
	if !displayText(v) {
		return Errorf(api.CodeInvalidRequest, "%s: no control or format characters (line breaks, escapes, bidi overrides)", member)
	}
	return nil
}

// displayText reports whether v, which someone typed and others will read
// (a verifier's name and purpose on a citizen's consent screen, a device
// name), holds no control character (Unicode Cc: escape sequences, line
// breaks that forge another line) and no format character (Cf: bidi
// overrides that reorder it) but the joiners scripts and emoji need
// (U+200C, U+200D).
func displayText(v string) bool { return !strings.ContainsFunc(v, HiddenRune) }

// HiddenRune reports whether r is a control or format character, or a
// line or paragraph separator (U+2028, U+2029): one a reader does not see
// but a terminal, a renderer or a bidi algorithm obeys (the joiners U+200C
// and U+200D excepted).
func HiddenRune(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Zl, unicode.Zp) || (unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d')
}

func (s *Service) newStatusList(issuerID string, id int, now time.Time) *StatusList {
	return &StatusList{IssuerID: issuerID, ID: id, Size: StatusListSize, Created: now}
}

// newIssuerKey makes an active ES256 key, its private half sealed to the
// issuer and kid (SPEC §6: private keys never leave the service unsealed).
func (s *Service) newIssuerKey(issuerID string, now time.Time) (*IssuerKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), s.rand)
	if err != nil {
		return nil, err
	}
	kid, err := credentials.Thumbprint(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	pub, err := credentials.PublicJWK(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealBytes(der, "issuer-key", issuerID, kid)
	if err != nil {
		return nil, err
	}
	return &IssuerKey{Kid: kid, Public: pubJSON, Private: sealed, Created: now, Active: true}, nil
}

func (s *Service) issuerView(is *Issuer) *api.IssuerView {
	v := &api.IssuerView{ID: is.ID, Name: is.Name, Types: is.Types, Iss: s.IssuerURL(is.ID),
		JWKSURI: s.IssuerURL(is.ID) + "/jwks.json", Created: is.Created, Retired: is.Retired}
	for _, k := range is.Keys {
		v.Keys = append(v.Keys, api.KeyView{Kid: k.Kid, Active: k.Active, Created: k.Created, Retired: k.Retired})
	}
	return v
}

// Issuers lists a page of the issuers, by id.
func (s *Service) Issuers(ctx context.Context, p *Principal, pg api.Page) (*api.IssuerList, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	pgr, err := s.pager(pg, "issuers")
	if err != nil {
		return nil, err
	}
	out := &api.IssuerList{}
	err = s.store.View(ctx, func(tx Tx) error {
		all, next, err := listPage(tx, pgr, Issuers, "", false, nil)
		out.Issuers, out.NextCursor = convert(all, s.issuerView), next
		return err
	})
	return out, s.storeErr(ctx, err, "list issuers")
}

// RotateIssuerKey makes a new active key; older keys stay in the JWKS, so
// credentials they signed keep verifying, until retired (THREATS T27).
func (s *Service) RotateIssuerKey(ctx context.Context, p *Principal, issuerID string) (*api.IssuerView, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	key, err := s.newIssuerKey(issuerID, s.now().UTC())
	if err != nil {
		return nil, err
	}
	v, err := s.changeIssuer(ctx, issuerID, func(is *Issuer) error {
		if is.Retired != nil { // it signs nothing more: a key would be published for nothing
			return Errorf(api.CodeConflict, "issuer %s is retired", is.ID)
		}
		for i := range is.Keys {
			is.Keys[i].Active = false
		}
		is.Keys = append(is.Keys, *key)
		return nil
	})
	if err == nil {
		s.log.InfoContext(ctx, "issuer key rotated", "issuer_id", issuerID, "kid", key.Kid)
	}
	return v, err
}

// RetireIssuerKey takes an inactive key out of the JWKS: credentials it
// signed stop verifying, and shares of them stop redeeming (SPEC §3.7).
func (s *Service) RetireIssuerKey(ctx context.Context, p *Principal, issuerID, kid string) (*api.IssuerView, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	v, err := s.changeIssuer(ctx, issuerID, func(is *Issuer) error {
		i := slices.IndexFunc(is.Keys, func(k IssuerKey) bool { return k.Kid == kid })
		switch {
		case i < 0:
			return errNotFound("key")
		case is.Keys[i].Active:
			return Errorf(api.CodeConflict, "the active key cannot be retired; rotate first")
		case is.Keys[i].Retired == nil:
			now := s.now().UTC()
			is.Keys[i].Retired = &now
		}
		return nil
	})
	if err == nil {
		s.log.InfoContext(ctx, "issuer key retired", "issuer_id", issuerID, "kid", kid)
	}
	return v, err
}

// RetireIssuer retires an issuing authority for good: it issues nothing
// more, its keys leave its JWKS, and nothing it signed is approved or
// redeemed from then on (SPEC §3.7, THREATS T33). Its records stay.
func (s *Service) RetireIssuer(ctx context.Context, p *Principal, issuerID string) (*api.IssuerView, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	v, err := s.changeIssuer(ctx, issuerID, func(is *Issuer) error {
		if is.Retired == nil {
			now := s.now().UTC()
			is.Retired = &now
		}
		return nil
	})
	if err == nil {
		s.log.InfoContext(ctx, "issuer retired", "issuer_id", issuerID)
	}
	return v, err
}

// changeIssuer applies change to an issuer in one write transaction,
// forgets the cached public documents it goes into (dropIssuerDocs) and
// returns the issuer as the operator sees it.
func (s *Service) changeIssuer(ctx context.Context, issuerID string, change func(*Issuer) error) (*api.IssuerView, error) {
	var is *Issuer
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if is, err = Issuers.Get(tx, issuerID); err != nil {
			return err
		}
		if err := change(is); err != nil {
			return err
		}
		return Issuers.Put(tx, is)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "issuer")
	}
	s.dropIssuerDocs(issuerID)
	return s.issuerView(is), nil
}

// CreateIssuerAPIKey gives an issuer's system a new API key.
func (s *Service) CreateIssuerAPIKey(ctx context.Context, p *Principal, issuerID string) (*api.NewAPIKey, error) {
	return s.createOwnerKey(ctx, p, api.RoleIssuer, issuerID)
}

// CreateVerifierAPIKey gives a verifier's device or system a new API key.
func (s *Service) CreateVerifierAPIKey(ctx context.Context, p *Principal, verifierID string) (*api.NewAPIKey, error) {
	return s.createOwnerKey(ctx, p, api.RoleVerifier, verifierID)
}

func (s *Service) createOwnerKey(ctx context.Context, p *Principal, role api.Role, owner string) (*api.NewAPIKey, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	var key *api.NewAPIKey
	err := s.store.Update(ctx, func(tx Tx) error {
		var retired *time.Time
		if role == api.RoleIssuer {
			is, err := Issuers.Get(tx, owner)
			if err != nil {
				return err
			}
			retired = is.Retired
		} else {
			v, err := Verifiers.Get(tx, owner)
			if err != nil {
				return err
			}
			retired = v.Retired
		}
		if retired != nil {
			return Errorf(api.CodeConflict, "%s %s is retired", role, owner)
		}
		var err error
		key, err = s.putAPIKey(tx, role, owner)
		return err
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, string(role))
	}
	s.log.InfoContext(ctx, "api key created", "key_id", key.ID, "role", role, "owner", owner)
	return key, nil
}

// RevokeAPIKey revokes an API key at once.
func (s *Service) RevokeAPIKey(ctx context.Context, p *Principal, keyID string) error {
	if err := p.require(api.RoleAdmin); err != nil {
		return err
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		k, err := APIKeys.Get(tx, keyID)
		if err != nil {
			return err
		}
		// The admin key is replaced (eidwallet admin-token reset), never
		// only revoked: that would leave the service with no admin, and on
		// bbolt the reset needs the server stopped.
		if k.Role == api.RoleAdmin {
			return Errorf(api.CodeConflict, "an admin key is not revoked here: replace it with eidwallet admin-token reset")
		}
		if k.Revoked == nil {
			now := s.now().UTC()
			k.Revoked = &now
		}
		return APIKeys.Put(tx, k)
	})
	if err == nil {
		s.log.InfoContext(ctx, "api key revoked", "key_id", keyID)
	}
	return s.storeErr(ctx, err, "api key")
}

// CreateVerifier registers a relying party with the claims it may ask for,
// and gives it a first API key.
func (s *Service) CreateVerifier(ctx context.Context, p *Principal, req api.CreateVerifierRequest) (*api.VerifierView, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	if req.ID != "" && !slugPattern.MatchString(req.ID) {
		return nil, Errorf(api.CodeInvalidRequest, "id must be 2 to 32 lower-case letters, digits or -, starting with a letter")
	}
	if err := checkName(req.Name); err != nil {
		return nil, err
	}
	if err := checkText("category", req.Category, 64); err != nil {
		return nil, err
	}
	if err := s.checkClaimSet(req.Claims); err != nil {
		return nil, err
	}
	v := &Verifier{ID: req.ID, Name: req.Name, Category: req.Category, Claims: req.Claims, Created: s.now().UTC()}
	if v.ID == "" {
		id, err := s.newID("vrf")
		if err != nil {
			return nil, err
		}
		v.ID = id
	}
	var key *api.NewAPIKey
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := Verifiers.Get(tx, v.ID); err == nil {
			return Errorf(api.CodeConflict, "verifier %s exists", v.ID)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := Verifiers.Put(tx, v); err != nil {
			return err
		}
		if err := s.touchVerifiers(tx); err != nil { // directory.go
			return err
		}
		var err error
		key, err = s.putAPIKey(tx, api.RoleVerifier, v.ID)
		return err
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "create verifier")
	}
	s.log.InfoContext(ctx, "verifier created", "verifier_id", v.ID, "key_id", key.ID)
	view := verifierView(v)
	view.APIKey = key
	return view, nil
}

// checkClaimSet checks type id → claim names against the registry.
func (s *Service) checkClaimSet(set map[string][]string) error {
	if len(set) == 0 {
		return Errorf(api.CodeInvalidRequest, "claims: at least one credential type")
	}
	for typ, names := range set {
		t, ok := s.types.ByID(typ)
		if !ok {
			return Errorf(api.CodeInvalidRequest, "claims: unknown credential type %q", typ)
		}
		if len(names) == 0 {
			return Errorf(api.CodeInvalidRequest, "claims.%s: at least one claim", typ)
		}
		for _, n := range names {
			if _, ok := t.Claim(n); !ok {
				return Errorf(api.CodeInvalidRequest, "claims.%s: unknown claim %q", typ, n)
			}
		}
	}
	return nil
}

func verifierView(v *Verifier) *api.VerifierView {
	return &api.VerifierView{ID: v.ID, Name: v.Name, Category: v.Category, Claims: v.Claims, Created: v.Created, Origins: v.Origins,
		Retired: v.Retired}
}

// Verifiers lists a page of the verifiers, by id.
func (s *Service) Verifiers(ctx context.Context, p *Principal, pg api.Page) (*api.VerifierList, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	pgr, err := s.pager(pg, "verifiers")
	if err != nil {
		return nil, err
	}
	out := &api.VerifierList{}
	err = s.store.View(ctx, func(tx Tx) error {
		all, next, err := listPage(tx, pgr, Verifiers, "", false, nil)
		out.Verifiers, out.NextCursor = convert(all, verifierView), next
		return err
	})
	return out, s.storeErr(ctx, err, "list verifiers")
}

var citizenPattern = regexp.MustCompile(`^[0-9]{12}$`)

// CreateActivationCode makes a one-time enrolment code for a citizen, valid
// 15 minutes, stored hashed (SPEC §3.1 step 1): 80 random bits in grouped
// Crockford base32 with a check symbol (activation.go).
func (s *Service) CreateActivationCode(ctx context.Context, p *Principal, req api.ActivationCodeRequest) (*api.ActivationCodeResponse, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	if !citizenPattern.MatchString(req.CitizenID) {
		return nil, Errorf(api.CodeInvalidRequest, "citizen_id: 12 digits")
	}
	code, err := s.newActivationCode()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	resp := &api.ActivationCodeResponse{Code: code, ExpiresAt: now.Add(ActivationCodeTTL)}
	err = s.store.Update(ctx, func(tx Tx) error {
		h, err := s.holderFor(tx, req.CitizenID, now)
		if err != nil {
			return err
		}
		return ActivationCodes.Put(tx, &ActivationCode{Hash: hashSecret(code), HolderID: h.ID, Expires: resp.ExpiresAt})
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "activation code")
	}
	return resp, nil
}

// holderFor finds the holder of a citizen number, creating it on first
// contact (an activation code or an issued credential).
func (s *Service) holderFor(tx Tx, citizenID string, now time.Time) (*Holder, error) {
	ch := s.citizenHash(citizenID)
	h, err := Holders.By(tx, byCitizen, ch)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return h, err
	}
	id, err := s.newID("hld")
	if err != nil {
		return nil, err
	}
	h = &Holder{ID: id, CitizenHash: ch, Created: now}
	err = Holders.Put(tx, h)
	if errors.Is(err, ErrExists) { // made since the read by a concurrent Batch (READ COMMITTED)
		return Holders.By(tx, byCitizen, ch)
	}
	return h, err
}

// Backuper is a store that writes a consistent copy of itself while it
// serves: the embedded one (bolt). PostgreSQL is backed up by its own
// tools.
type Backuper interface {
	Backup(w io.Writer, sized func(int64)) error
}

// Backup writes a copy of the whole store as it is at one moment, the
// service serving meanwhile (operations.md, "Backups"): the embedded
// store's file, every record as stored, sealed (the master key is not in
// it). sized is told its length before it is written.
func (s *Service) Backup(ctx context.Context, p *Principal, w io.Writer, sized func(int64)) error {
	if err := p.require(api.RoleAdmin); err != nil {
		return err
	}
	b, ok := s.store.(Backuper)
	if !ok {
		return Errorf(api.CodeConflict, "this store is backed up with its database's own tools (PostgreSQL: a base backup and the WAL archive), not through the service")
	}
	var n int64 = -1
	err := b.Backup(w, func(size int64) { n = size; sized(size) })
	switch {
	case err != nil && n < 0: // nothing written: the store's failure
		return s.storeErr(ctx, err, "backup")
	case err != nil: // cut short while written (the client went away)
		return err
	}
	s.log.InfoContext(ctx, "store backed up", "bytes", n)
	return nil
}
