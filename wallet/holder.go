package wallet

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/openid4vp"
	"github.com/go-json-experiment/json"
)

// Enroll binds a new device to a citizen with a one-time activation code
// (SPEC §3.1 step 2) and gives the device its own copy of every credential
// already issued to the citizen. The code is read as ParseActivationCode
// does; a code that is mistyped, unknown, another citizen's, used or
// expired is the same CodeUnauthenticated.
func (s *Service) Enroll(ctx context.Context, req api.EnrollRequest) (*api.EnrollResponse, error) {
	if !citizenPattern.MatchString(req.CitizenID) || req.ActivationCode == "" {
		return nil, Errorf(api.CodeInvalidRequest, "citizen_id (12 digits) and activation_code are required")
	}
	if err := checkText("device_name", req.DeviceName, 100); err != nil {
		return nil, err
	}
	pub, err := credentials.ParsePublicJWK(req.DeviceKey)
	if err != nil {
		return nil, Errorf(api.CodeInvalidRequest, "device_key: a P-256 public JWK")
	}
	canonical, err := credentials.PublicJWK(pub)
	if err != nil {
		return nil, Errorf(api.CodeInvalidRequest, "device_key: a P-256 public JWK")
	}
	keyJSON, err := json.Marshal(canonical)
	if err != nil {
		return nil, err
	}
	// Any spelling a person may type finds the stored hash; a mistyped
	// code (its check symbol wrong) is refused here, before any lookup,
	// with the answer of an unknown one (THREATS T20).
	var ok bool
	if req.ActivationCode, ok = ParseActivationCode(req.ActivationCode); !ok {
		return nil, errActivationCode
	}
	deviceID, err := s.newID("dev")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	// Read and sign first, outside the single writer; then one short
	// transaction checks the code again and writes. A credential issued or
	// changed in between changes what to bind: then it starts again.
	var resp *api.EnrollResponse
	for attempt := 1; ; attempt++ {
		var h *Holder
		var creds []*Credential
		issuers := map[string]*Issuer{}
		var again *api.EnrollResponse // the answer of this same enrolment, made before
		err = s.store.View(ctx, func(tx Tx) error {
			var code *ActivationCode
			var err error
			if h, code, err = s.activationCode(tx, req, keyJSON, now); err != nil || code.Used {
				if err == nil {
					again, err = s.enrolledAgain(tx, code)
				}
				return err
			}
			if creds, err = Credentials.List(tx, byHolder, Order{}, h.ID); err != nil {
				return err
			}
			for _, c := range creds {
				if issuers[c.IssuerID] == nil {
					if issuers[c.IssuerID], err = Issuers.Get(tx, c.IssuerID); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil || again != nil {
			resp = again
			break
		}
		d := &Device{ID: deviceID, HolderID: h.ID, Key: keyJSON, Name: req.DeviceName, Created: now}
		resp = &api.EnrollResponse{HolderID: h.ID, DeviceID: d.ID}
		var copies map[string][]byte
		if copies, resp.Bound, resp.Skipped, err = s.holderCopies(creds, issuers, d, now); err != nil {
			break
		}
		var answer []byte
		if answer, err = json.Marshal(resp); err != nil {
			break
		}
		err = s.store.Update(ctx, func(tx Tx) error {
			h, code, err := s.activationCode(tx, req, keyJSON, now)
			if err != nil {
				return err
			}
			if code.Used { // this same enrolment, sent twice at once, committed first
				return errCredentialsChanged
			}
			current, err := Credentials.List(tx, byHolder, Order{}, h.ID)
			if err != nil {
				return err
			}
			if !slices.EqualFunc(current, creds, func(a, b *Credential) bool { return a.ID == b.ID && a.Status == b.Status }) {
				return errCredentialsChanged
			}
			code.Used, code.DeviceKey, code.Answer = true, keyJSON, answer
			if err := ActivationCodes.Put(tx, code); err != nil {
				return err
			}
			if err := Devices.Put(tx, d); err != nil {
				return err
			}
			if err := s.enrolDeviceKey(tx, d); err != nil {
				return err
			}
			for _, id := range resp.Bound {
				if err := CredentialCopies.Put(tx, copies[id], id, d.ID); err != nil {
					return err
				}
			}
			if err := s.appendActivity(tx, &api.ActivityEntry{HolderID: h.ID, At: now, Event: api.EventDeviceEnrolled, Outcome: "ok", DeviceID: d.ID}); err != nil {
				return err
			}
			return s.count(tx, usage{event: eventEnrolment}) // usage.go
		})
		if !errors.Is(err, errCredentialsChanged) || attempt == 3 {
			break
		}
	}
	if err != nil {
		return nil, s.storeErr(ctx, err, "enrolment")
	}
	s.log.InfoContext(ctx, "device enrolled", "holder_id", resp.HolderID, "device_id", resp.DeviceID,
		"credentials_bound", len(resp.Bound), "credentials_skipped", len(resp.Skipped))
	return resp, nil
}

// errCredentialsChanged ends an enrolment whose citizen's credentials
// changed between the signing of the new copies and their write.
var errCredentialsChanged = Errorf(api.CodeConflict, "the citizen's credentials changed during the enrolment; try again")

// errActivationCode is every refusal of an activation code: mistyped,
// unknown, another citizen's, used or expired (THREATS T20).
var errActivationCode = Errorf(api.CodeUnauthenticated, "the activation code is not valid")

// activationCode finds the citizen and the activation code of req (in its
// canonical form) and checks that the code is the citizen's, unexpired,
// and unused, or used by this same enrolment (deviceKey, the canonical
// JWK of req's key): then the code is returned as it is, Used, for its
// answer to be given again. Every way it can be wrong is the same answer,
// so the endpoint tells nothing about which citizens or codes exist
// (THREATS T20).
func (s *Service) activationCode(tx Tx, req api.EnrollRequest, deviceKey []byte, now time.Time) (*Holder, *ActivationCode, error) {
	badCode := errActivationCode
	h, err := Holders.By(tx, byCitizen, s.citizenHash(req.CitizenID))
	if errors.Is(err, ErrNotFound) {
		return nil, nil, badCode
	} else if err != nil {
		return nil, nil, err
	}
	code, err := ActivationCodes.Get(tx, hashSecret(req.ActivationCode))
	if errors.Is(err, ErrNotFound) {
		return nil, nil, badCode
	} else if err != nil {
		return nil, nil, err
	}
	if subtle.ConstantTimeCompare([]byte(code.HolderID), []byte(h.ID)) != 1 || !now.Before(code.Expires) ||
		code.Used && (code.Answer == nil || !bytes.Equal(code.DeviceKey, deviceKey)) {
		return nil, nil, badCode
	}
	return h, code, nil
}

// enrolledAgain is the answer of the enrolment that used code, sent again
// by the same device (its answer lost: a dropped connection, a replica
// killed after the commit), while the code's time lasts and the device
// is not revoked; the app learns its device id and can go on.
func (s *Service) enrolledAgain(tx Tx, code *ActivationCode) (*api.EnrollResponse, error) {
	var resp api.EnrollResponse
	if err := json.Unmarshal(code.Answer, &resp); err != nil {
		return nil, errDamaged()
	}
	d, err := Devices.Get(tx, resp.DeviceID)
	if errors.Is(err, ErrNotFound) || err == nil && d.Revoked != nil {
		return nil, errActivationCode
	}
	if err != nil {
		return nil, err
	}
	return &resp, nil
}

// holderCopies signs, bound to device d, a copy of each of creds that can
// be used today (SPEC §2), and lists the others with the reason: an
// expired, revoked or suspended credential is skipped, not an error, and
// so is one whose issuer was retired. It runs outside any transaction.
func (s *Service) holderCopies(creds []*Credential, issuers map[string]*Issuer, d *Device, now time.Time) (map[string][]byte, []string, []api.SkippedCredential, error) {
	copies := map[string][]byte{}
	bound, skipped := []string{}, []api.SkippedCredential{}
	for _, c := range creds {
		is := issuers[c.IssuerID]
		reason := ""
		var e *Error
		if err := credentialUsable(c, now); errors.As(err, &e) {
			reason = e.Reason
		} else if is.Retired != nil {
			reason = string(credentials.ReasonUntrustedIssuer)
		}
		if reason != "" {
			skipped = append(skipped, api.SkippedCredential{CredentialID: c.ID, Type: c.Type, Reason: reason})
			continue
		}
		signer, err := s.activeSigner(is)
		if err != nil {
			return nil, nil, nil, err
		}
		t, ok := s.types.ByID(c.Type)
		if !ok {
			return nil, nil, nil, errors.New("credential of an unknown type " + c.Type)
		}
		claims, err := s.credentialClaims(c)
		if err != nil {
			return nil, nil, nil, err
		}
		if copies[c.ID], err = s.bindCopy(signer, c, t, claims, d, now); err != nil {
			return nil, nil, nil, err
		}
		bound = append(bound, c.ID)
	}
	return copies, bound, skipped, nil
}

// assertionClaims is the device's signed assertion (RFC 7523 §3).
type assertionClaims struct {
	Iss string             `json:"iss"`
	Sub string             `json:"sub"`
	Aud openid4vp.Audience `json:"aud"` // one string or an array (RFC 7519 §4.1.3)
	Iat int64              `json:"iat"`
	Exp int64              `json:"exp"`
	Nbf *int64             `json:"nbf"` // optional (RFC 7523 §3 item 5)
	Jti string             `json:"jti"`
}

// accessClaims is the service's access token (RFC 9068 shape, typ at+jwt).
type accessClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"` // holder id
	Aud      string `json:"aud"`
	DeviceID string `json:"device_id"`
	Iat      int64  `json:"iat"`
	Exp      int64  `json:"exp"`
	Jti      string `json:"jti"`
}

const typAccessToken = "at+jwt"

// Token exchanges a device-signed assertion for an access token (SPEC §3.1
// step 3): signature by the enrolled device key, aud the token endpoint,
// exp at most 5 minutes after iat, jti accepted once. Every refusal of the
// assertion is CodeInvalidGrant (RFC 7523 §3.1), a jti used before
// included; a storage failure is CodeStorageUnavailable.
func (s *Service) Token(ctx context.Context, assertion string) (*api.TokenResponse, error) {
	// RFC 7523 §3.1: a JWT that is not valid, or not within its time
	// window, is invalid_grant; so is a replay and an unknown or revoked
	// device (RFC 6749 §5.2: the grant is invalid or revoked).
	invalid := func(msg string) error { return Errorf(api.CodeInvalidGrant, "assertion: %s", msg) }
	var dev *Device
	var c assertionClaims
	err := credentials.VerifyJWT(assertion, "", func(_, iss string) (*ecdsa.PublicKey, error) {
		var err error
		if err = s.store.View(ctx, func(tx Tx) error {
			dev, err = Devices.Get(tx, iss)
			return err
		}); err != nil {
			return nil, err
		}
		return credentials.ParsePublicJWK(dev.Key)
	}, &c)
	if err != nil {
		if errors.Is(err, ErrNotFound) || credentials.ReasonOf(err) != "" {
			return nil, invalid("not a valid assertion of an enrolled device")
		}
		return nil, s.storeErr(ctx, err, "device")
	}
	now := s.now()
	iat, exp := time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
	switch {
	case dev.Revoked != nil:
		return nil, invalid("the device is revoked")
	case c.Sub != c.Iss: // RFC 7523 §3 item 2: sub is required; here the device itself
		return nil, invalid("sub must be the device id")
	case len(c.Aud) != 1 || c.Aud[0] != s.TokenEndpoint():
		return nil, invalid("aud must be the token endpoint " + s.TokenEndpoint())
	case c.Iat == 0 || c.Exp == 0 || c.Jti == "" || len(c.Jti) > 256:
		return nil, invalid("iat, exp and jti are required")
	case exp.Sub(iat) > MaxAssertionTTL || !exp.After(iat):
		return nil, invalid("exp must be after iat and at most 5 minutes after it")
	case !now.Before(exp.Add(clockSkew)) || now.Add(clockSkew).Before(iat):
		return nil, invalid("expired or not yet valid")
	// RFC 7523 §3 item 5, RFC 7519 §4.1.5: not accepted before nbf.
	case c.Nbf != nil && now.Add(clockSkew).Before(time.Unix(*c.Nbf, 0)):
		return nil, invalid("not valid before its nbf")
	}
	jti, err := s.newID("at")
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		// A jti is accepted once (THREATS T11); the record lives as long as
		// the assertion could otherwise be replayed.
		if err := tx.UseOnce(s.onceKey("jti", dev.ID, c.Jti), exp.Add(clockSkew), now); errors.Is(err, ErrExists) {
			return invalid("jti already used")
		} else if err != nil {
			return err
		}
		// Devices enrolled before device keys were kept fill them in here.
		return s.putDeviceKey(tx, dev)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "token")
	}
	token, err := credentials.SignJWT(s.serviceKey, typAccessToken, s.serviceKid, accessClaims{
		Iss: s.url, Sub: dev.HolderID, Aud: s.url, DeviceID: dev.ID,
		Iat: now.Unix(), Exp: now.Add(AccessTokenTTL).Unix(), Jti: jti,
	})
	if err != nil {
		return nil, err
	}
	return &api.TokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int(AccessTokenTTL / time.Second)}, nil
}

// maxBearer is the longest bearer credential read (an access token is
// well under it).
const maxBearer = 8 << 10

// Authenticate turns a bearer credential into a principal: an access token
// (holders) or an API key (issuers, verifiers, the operator). Every failure
// is the same 401 (THREATS T20).
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	unauth := errUnauthenticated()
	if bearer == "" || len(bearer) > maxBearer {
		return nil, unauth
	}
	if strings.Count(bearer, ".") == 2 {
		var c accessClaims
		err := credentials.VerifyJWT(bearer, typAccessToken, func(kid, _ string) (*ecdsa.PublicKey, error) {
			if kid != s.serviceKid {
				return nil, errors.New("unknown kid")
			}
			return &s.serviceKey.PublicKey, nil
		}, &c)
		now := s.now()
		if err != nil || c.Iss != s.url || c.Aud != s.url || !now.Before(time.Unix(c.Exp, 0)) {
			return nil, unauth
		}
		got, err := s.store.Fetch(ctx, Devices.Lookup("", c.DeviceID))
		var dev *Device
		if err == nil {
			dev, err = Devices.Read(got[0], c.DeviceID)
		}
		if errors.Is(err, ErrNotFound) {
			return nil, unauth
		} else if err != nil {
			return nil, s.storeErr(ctx, err, "device")
		}
		// Tokens die with their device (SPEC §2: revoking a device makes
		// its copies unusable).
		if dev.Revoked != nil || dev.HolderID != c.Sub {
			return nil, unauth
		}
		return &Principal{Role: api.RoleHolder, Subject: c.Sub, DeviceID: dev.ID}, nil
	}
	hash := hashSecret(bearer)
	got, err := s.store.Fetch(ctx, APIKeys.Lookup(byHash, hash))
	var k *APIKey
	if err == nil {
		k, err = APIKeys.Read(got[0])
	}
	if errors.Is(err, ErrNotFound) {
		return nil, unauth
	} else if err != nil {
		return nil, s.storeErr(ctx, err, "api key")
	}
	if k.Revoked != nil {
		return nil, unauth
	}
	p := Principal{Role: k.Role, Subject: k.Owner, KeyID: k.ID}
	s.keyCache.put(string(hash), &deferredKey{hash: hash, body: got[0], p: p})
	return &p, nil
}

// Credentials lists a page of the holder's credentials, in issuance
// order, with their claims, the derived ones computed for today.
func (s *Service) Credentials(ctx context.Context, p *Principal, pg api.Page) (*api.CredentialList, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	pgr, err := s.pager(pg, "credentials", p.Subject)
	if err != nil {
		return nil, err
	}
	out := &api.CredentialList{}
	err = s.store.View(ctx, func(tx Tx) error {
		all, next, err := listPage(tx, pgr, Credentials, byHolder, false, nil, p.Subject)
		if err != nil {
			return err
		}
		out.Credentials, out.NextCursor = []*api.CredentialView{}, next
		for _, c := range all {
			v, err := s.credentialView(tx, c)
			if err != nil {
				return err
			}
			out.Credentials = append(out.Credentials, v)
		}
		return nil
	})
	return out, s.storeErr(ctx, err, "credentials")
}

// Credential returns one of the holder's credentials; another holder's is
// not found, with the same answer as an unknown id (THREATS T18).
func (s *Service) Credential(ctx context.Context, p *Principal, id string) (*api.CredentialView, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	var out *api.CredentialView
	err := s.store.View(ctx, func(tx Tx) error {
		c, err := Credentials.Get(tx, id)
		if err := mine(err, "credential", func() bool { return c.HolderID == p.Subject }); err != nil {
			return err
		}
		out, err = s.credentialView(tx, c)
		return err
	})
	return out, s.storeErr(ctx, err, "credential")
}

// ExportCredential hands the holder the SD-JWT VC bound to the calling
// device (its copy, made again if it had to be), with every disclosure,
// so that a standard wallet app on that device can hold and present it
// (issue 11). The export is logged in the holder's activity. A credential
// that is revoked, suspended or expired is not exported (422).
func (s *Service) ExportCredential(ctx context.Context, p *Principal, id string) (*api.CredentialExport, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	var c *Credential
	var d *Device
	var sdjwt, fresh []byte
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if d, err = Devices.Get(tx, p.DeviceID); err != nil {
			return err
		}
		c, err = Credentials.Get(tx, id)
		if err := mine(err, "credential", func() bool { return c.HolderID == p.Subject }); err != nil {
			return err
		}
		if err := credentialUsable(c, now); err != nil {
			return err
		}
		sealed, err := CredentialCopies.Get(tx, c.ID, p.DeviceID)
		if err == nil {
			sdjwt, err = s.openBytes(sealed, "credential-copy", c.ID, p.DeviceID)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		sdjwt, fresh, err = s.freshCopy(tx, c, p.DeviceID, sdjwt, now)
		return err
	})
	if err == nil {
		err = s.store.Update(ctx, func(tx Tx) error {
			if fresh != nil {
				if err := CredentialCopies.Put(tx, fresh, c.ID, p.DeviceID); err != nil {
					return err
				}
			}
			// Remembered, so that the copy dies with its device (SPEC §2).
			if err := s.putDeviceKey(tx, d); err != nil {
				return err
			}
			return s.appendActivity(tx, &api.ActivityEntry{HolderID: p.Subject, At: now, Event: api.EventCredentialExported, Outcome: "ok",
				IssuerID: c.IssuerID, CredentialID: c.ID, DeviceID: p.DeviceID})
		})
	}
	if err != nil {
		return nil, s.storeErr(ctx, err, "credential")
	}
	return &api.CredentialExport{CredentialID: c.ID, Type: c.Type, SDJWT: string(sdjwt)}, nil
}

func (s *Service) credentialView(tx Tx, c *Credential) (*api.CredentialView, error) {
	claims, err := s.credentialClaims(c)
	if err != nil {
		return nil, err
	}
	v := &api.CredentialView{ID: c.ID, Type: c.Type, Status: c.Status, IssuedAt: c.IssuedAt, ExpiresAt: c.ValidUntil, Claims: claims,
		Issuer: api.Party{ID: c.IssuerID}}
	if t, ok := s.types.ByID(c.Type); ok {
		v.TypeName = t.Name
		if derived, err := t.Derive(claims, s.now()); err == nil {
			v.Claims = derived
		}
	}
	// Every credential's issuer is stored (issuers are retired, never
	// deleted): a failed read is a storage failure, not a missing name.
	is, err := Issuers.Get(tx, c.IssuerID)
	if err != nil {
		return nil, err
	}
	v.Issuer.Name = is.Name
	return v, nil
}

// Devices lists a page of the holder's devices, oldest first.
func (s *Service) Devices(ctx context.Context, p *Principal, pg api.Page) (*api.DeviceList, error) {
	if err := p.require(api.RoleHolder); err != nil {
		return nil, err
	}
	pgr, err := s.pager(pg, "devices", p.Subject)
	if err != nil {
		return nil, err
	}
	out := &api.DeviceList{}
	err = s.store.View(ctx, func(tx Tx) error {
		all, next, err := listPage(tx, pgr, Devices, byHolder, false, nil, p.Subject)
		out.Devices, out.NextCursor = convert(all, func(d *Device) *api.DeviceView {
			return &api.DeviceView{ID: d.ID, Name: d.Name, Created: d.Created, Revoked: d.Revoked, Current: d.ID == p.DeviceID}
		}), next
		return err
	})
	return out, s.storeErr(ctx, err, "devices")
}

// RevokeDevice revokes one of the holder's devices: its access tokens stop
// working and its credential copies are deleted (SPEC §2).
func (s *Service) RevokeDevice(ctx context.Context, p *Principal, deviceID string) error {
	if err := p.require(api.RoleHolder); err != nil {
		return err
	}
	now := s.now().UTC()
	err := s.store.Update(ctx, func(tx Tx) error {
		d, err := Devices.Get(tx, deviceID)
		if err := mine(err, "device", func() bool { return d.HolderID == p.Subject }); err != nil {
			return err
		}
		if d.Revoked != nil {
			return nil
		}
		d.Revoked = &now
		if err := Devices.Put(tx, d); err != nil {
			return err
		}
		creds, err := Credentials.List(tx, byHolder, Order{}, p.Subject)
		if err != nil {
			return err
		}
		for _, c := range creds {
			if err := CredentialCopies.Delete(tx, c.ID, deviceID); err != nil {
				return err
			}
			batch, err := BatchCopies.List(tx, "", Order{}, c.ID, deviceID)
			if err != nil {
				return err
			}
			for _, bc := range batch {
				if err := BatchCopies.Delete(tx, c.ID, deviceID, bc.Thumbprint); err != nil {
					return err
				}
			}
		}
		free, err := PoolKeys.List(tx, "", Order{}, deviceID)
		if err != nil {
			return err
		}
		for _, k := range free {
			if err := PoolKeys.Delete(tx, deviceID, k.Thumbprint); err != nil {
				return err
			}
		}
		return s.appendActivity(tx, &api.ActivityEntry{HolderID: p.Subject, At: now, Event: api.EventDeviceRevoked, Outcome: "ok", DeviceID: deviceID})
	})
	if err == nil {
		s.log.InfoContext(ctx, "device revoked", "holder_id", p.Subject, "device_id", deviceID)
	}
	return s.storeErr(ctx, err, "device")
}

// putDeviceKey records d's key thumbprint → d (DeviceKeys), when d has
// just proved it holds the key (a device assertion, an export by its
// token): a device enrolled before keys were recorded is filled in, and an
// entry a device enrolled with the same key before enrolDeviceKey refused
// that is taken back. It writes only when the entry differs.
func (s *Service) putDeviceKey(tx Tx, d *Device) error {
	thumb, err := s.deviceThumbprint(d)
	if err != nil {
		return err
	}
	if id, err := DeviceKeys.Get(tx, thumb); err == nil && string(id) == d.ID {
		return nil
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return DeviceKeys.Put(tx, []byte(d.ID), thumb)
}

// enrolDeviceKey records the key of d, a device being enrolled. A key
// names one device, ever (as pool keys do, batch.go): enrolment proves
// no possession of the key, and a public key is no secret (verifiers see
// it as cnf.jwk), so a key another device has, active or revoked, is
// refused — else a second citizen could take over the entry by which a
// revoked device's exported copies are refused (SPEC §2, THREATS T33).
func (s *Service) enrolDeviceKey(tx Tx, d *Device) error {
	thumb, err := s.deviceThumbprint(d)
	if err != nil {
		return err
	}
	if _, err := DeviceKeys.Get(tx, thumb); err == nil {
		return Errorf(api.CodeConflict, "device_key: the key of another device")
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	return DeviceKeys.Put(tx, []byte(d.ID), thumb)
}
