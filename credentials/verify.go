package credentials

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Trust answers which keys may sign credentials (SPEC §6: keys only from the
// configured trust store, never from the token).
type Trust interface {
	// IssuerKey returns the trusted key with key id kid ("" when the
	// header has none) and the issuer identifier it belongs to ("" for a
	// key trusted whatever iss the token names, as with a bare JWKS file).
	IssuerKey(kid string) (key *ecdsa.PublicKey, iss string, ok bool)
	// MayIssue reports whether issuer iss may sign credentials of type vct
	// (THREATS T4).
	MayIssue(iss, vct string) bool
}

// TrustStore is an in-memory Trust: issuers, their keys by kid, and the vct
// values each may sign. Build it, then share it read-only.
type TrustStore struct {
	keys map[string]trustedKey
	vcts map[string]map[string]bool // iss → vct set; nil set: any vct
}

type trustedKey struct {
	key *ecdsa.PublicKey
	iss string
}

// NewTrustStore returns an empty trust store.
func NewTrustStore() *TrustStore {
	return &TrustStore{keys: map[string]trustedKey{}, vcts: map[string]map[string]bool{}}
}

// AddIssuer trusts keys (by kid) for issuer iss, for the listed vct values
// (none: any vct). iss "" trusts the keys for any issuer, which is what a
// verifier holding a single issuer's JWKS file means.
func (t *TrustStore) AddIssuer(iss string, keys map[string]*ecdsa.PublicKey, vcts ...string) {
	for kid, k := range keys {
		t.keys[kid] = trustedKey{key: k, iss: iss}
	}
	if len(vcts) == 0 {
		t.vcts[iss] = nil
		return
	}
	set := t.vcts[iss]
	if set == nil {
		set = map[string]bool{}
		t.vcts[iss] = set
	}
	for _, v := range vcts {
		set[v] = true
	}
}

// IssuerKey implements Trust. A header without kid is matched only when the
// store holds exactly one key, so the choice is never a guess.
func (t *TrustStore) IssuerKey(kid string) (*ecdsa.PublicKey, string, bool) {
	if kid == "" && len(t.keys) == 1 {
		for _, k := range t.keys {
			return k.key, k.iss, true
		}
	}
	k, ok := t.keys[kid]
	return k.key, k.iss, ok
}

// MayIssue implements Trust.
func (t *TrustStore) MayIssue(iss, vct string) bool {
	set, ok := t.vcts[iss]
	if !ok {
		set, ok = t.vcts[""]
	}
	return ok && (set == nil || set[vct])
}

// Profile selects the rules a presentation is checked against.
type Profile int

const (
	// ProfileVC is SD-JWT VC: typ dc+sd-jwt, iss and vct required, the
	// issuer authorised for the vct, validity claims never disclosed.
	ProfileVC Profile = iota
	// ProfilePlain is RFC 9901 alone, for generic SD-JWTs: any typ, no vct.
	ProfilePlain
)

// Defaults for VerifyOptions.
const (
	DefaultSkew     = 60 * time.Second
	DefaultMaxKBAge = 5 * time.Minute
)

// VerifyOptions are the verifier's policy.
type VerifyOptions struct {
	Now       time.Time     // the verifier's clock (required)
	Skew      time.Duration // tolerance on exp, nbf, iat (0: DefaultSkew)
	Profile   Profile
	RequireKB bool          // RFC 9901 §7.3: key binding required
	Audience  string        // expected KB-JWT aud ("" : not checked unless RequireKB)
	Nonce     string        // expected KB-JWT nonce ("" : not checked unless RequireKB)
	MaxKBAge  time.Duration // oldest KB-JWT iat accepted (0: DefaultMaxKBAge)
}

// Verified is what a successful verification establishes.
type Verified struct {
	Issuer    string
	VCT       string
	KeyID     string
	IssuedAt  time.Time // zero when absent
	NotBefore time.Time // zero when absent
	ExpiresAt time.Time // zero when absent
	// Claims is the Processed SD-JWT Payload (RFC 9901 §7.1 step 5): the
	// plain claims and the disclosed ones, without _sd and _sd_alg.
	Claims map[string]any
	// Disclosed lists the names of the top-level claims that came from
	// disclosures, i.e. what the holder chose to reveal.
	Disclosed []string
	// DisclosedWithin lists the top-level claims, plain or disclosed,
	// inside which the holder revealed a part: a disclosure of an
	// object's property or an array's element below the top level. What
	// the holder revealed is Disclosed and these together.
	DisclosedWithin []string
	Holder          *ecdsa.PublicKey // cnf.jwk; nil when absent
	Status          *StatusRef       // nil when the credential has none
	KB              *KB              // nil when no KB-JWT was presented
}

// Verify checks an SD-JWT or SD-JWT+KB: RFC 9901 §7.1 (issuer-signed JWT and
// disclosures) and §7.3 (key binding), plus the SD-JWT VC rules under
// ProfileVC. Every failure is an *Error with one Reason. Status is not
// checked here; the caller looks up Verified.Status in the issuer's list.
func Verify(sdjwt string, trust Trust, opts VerifyOptions) (*Verified, error) {
	if opts.Now.IsZero() {
		return nil, errors.New("verify: options need the current time")
	}
	if opts.Skew == 0 {
		opts.Skew = DefaultSkew
	}
	if opts.MaxKBAge == 0 {
		opts.MaxKBAge = DefaultMaxKBAge
	}
	p, err := split(sdjwt)
	if err != nil {
		return nil, err
	}
	// RFC 9901 §7.1 step 2: the issuer-signed JWT.
	wantTyp := ""
	if opts.Profile == ProfileVC {
		wantTyp = TypSDJWTVC // SD-JWT VC draft §3.2.1
	}
	jw, err := parseJWS(p.jwt, wantTyp)
	if err != nil {
		return nil, err
	}
	key, keyIss, ok := trust.IssuerKey(jw.header.Kid)
	if !ok {
		return nil, fail(ReasonUntrustedIssuer, "no trusted key for kid")
	}
	body, err := jw.verify(key)
	if err != nil {
		return nil, err
	}
	var payload map[string]any
	if err := unmarshalStrict(body, &payload); err != nil {
		return nil, err
	}
	v := &Verified{KeyID: jw.header.Kid}
	if err := v.readIssuer(payload, keyIss, trust, opts.Profile); err != nil {
		return nil, err
	}
	// RFC 9901 §7.1 step 3: _sd_alg, then the digests.
	if alg, has := payload[sdAlgKey]; has && alg != sdAlg {
		return nil, fail(ReasonUnsupportedSDAlg, "_sd_alg is not sha-256")
	}
	delete(payload, sdAlgKey)
	reserved := validityClaim
	if opts.Profile == ProfilePlain {
		reserved = nil
	}
	proc, err := newProcessor(p.disclosures, reserved)
	if err != nil {
		return nil, err
	}
	if payload, err = proc.object(payload, 1, true); err != nil {
		return nil, err
	}
	if err := proc.finish(); err != nil {
		return nil, err
	}
	v.Disclosed = proc.disclosed
	slices.Sort(v.Disclosed)
	v.DisclosedWithin = slices.Sorted(maps.Keys(proc.within))
	v.Claims = payload
	// RFC 9901 §7.1 step 5 and RFC 7519 §4.1.4, §4.1.5: validity.
	if err := v.readValidity(payload, opts); err != nil {
		return nil, err
	}
	if err := v.readBinding(payload, p, opts); err != nil {
		return nil, err
	}
	return v, nil
}

// readIssuer checks iss against the key's owner and, under ProfileVC, that
// the issuer may sign the vct.
func (v *Verified) readIssuer(payload map[string]any, keyIss string, trust Trust, profile Profile) error {
	iss, hasIss := payload["iss"].(string)
	if _, present := payload["iss"]; present && !hasIss {
		return fail(ReasonMalformed, "iss is not a string")
	}
	if keyIss != "" && iss != keyIss {
		// The key belongs to another issuer than the one named (T3).
		return fail(ReasonUntrustedIssuer, "key is not trusted for this issuer")
	}
	v.Issuer = iss
	vct, hasVCT := payload["vct"].(string)
	if profile == ProfilePlain {
		v.VCT = vct
		return nil
	}
	// SD-JWT VC draft §3.2.2.2: iss and vct are required.
	if !hasIss || iss == "" {
		return fail(ReasonMissingClaim, "iss is required")
	}
	if !hasVCT || vct == "" {
		return fail(ReasonMissingClaim, "vct is required")
	}
	v.VCT = vct
	if !trust.MayIssue(iss, vct) {
		return fail(ReasonIssuerNotAuthorized, "issuer may not sign this vct")
	}
	return nil
}

func (v *Verified) readValidity(payload map[string]any, opts VerifyOptions) error {
	var err error
	if v.IssuedAt, err = numericDate(payload, "iat"); err != nil {
		return err
	}
	if v.NotBefore, err = numericDate(payload, "nbf"); err != nil {
		return err
	}
	if v.ExpiresAt, err = numericDate(payload, "exp"); err != nil {
		return err
	}
	now := opts.Now
	if !v.ExpiresAt.IsZero() && !now.Before(v.ExpiresAt.Add(opts.Skew)) {
		return fail(ReasonExpired, "credential expired")
	}
	if !v.NotBefore.IsZero() && now.Add(opts.Skew).Before(v.NotBefore) {
		return fail(ReasonNotYetValid, "credential not yet valid (nbf)")
	}
	if !v.IssuedAt.IsZero() && now.Add(opts.Skew).Before(v.IssuedAt) {
		return fail(ReasonNotYetValid, "credential issued in the future (iat)")
	}
	if st, has := payload["status"]; has {
		ref, err := readStatus(st)
		if err != nil {
			return err
		}
		v.Status = ref
	}
	return nil
}

// readStatus reads status.status_list (Token Status List §6.2).
func readStatus(st any) (*StatusRef, error) {
	obj, _ := st.(map[string]any)
	sl, _ := obj["status_list"].(map[string]any)
	if sl == nil {
		return nil, fail(ReasonMalformed, "status has no status_list")
	}
	idx, okIdx := sl["idx"].(float64)
	uri, okURI := sl["uri"].(string)
	if !okIdx || !okURI || uri == "" || idx < 0 || idx != math.Trunc(idx) || idx > math.MaxInt32 {
		return nil, fail(ReasonMalformed, "status_list needs a non-negative integer idx and a uri")
	}
	return &StatusRef{Index: int(idx), URI: uri}, nil
}

// numericDate reads an optional NumericDate claim (RFC 7519 §2).
func numericDate(payload map[string]any, name string) (time.Time, error) {
	x, has := payload[name]
	if !has {
		return time.Time{}, nil
	}
	f, ok := x.(float64)
	if !ok {
		return time.Time{}, fail(ReasonMalformed, "%s is not a NumericDate", name)
	}
	return numericTime(f, name)
}

// rawNumericDate reads an optional NumericDate claim (RFC 7519 §2) kept as
// raw JSON: absent (nil) is the zero time; present, it must be a JSON
// number, so a string or null is refused.
func rawNumericDate(raw jsontext.Value, name string) (time.Time, error) {
	if raw == nil {
		return time.Time{}, nil
	}
	var f float64
	if raw.Kind() != '0' || json.Unmarshal(raw, &f) != nil {
		return time.Time{}, fail(ReasonMalformed, "%s is not a NumericDate", name)
	}
	return numericTime(f, name)
}

// numericTime is the instant of NumericDate f, which must lie between 1970
// and year 5138 (1e11 seconds), so it converts without overflow.
func numericTime(f float64, name string) (time.Time, error) {
	if f < 0 || f > 1e11 {
		return time.Time{}, fail(ReasonMalformed, "%s is not a NumericDate", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// readBinding runs RFC 9901 §7.3 when a KB-JWT is present or required.
func (v *Verified) readBinding(payload map[string]any, p *parts, opts VerifyOptions) error {
	if cnf, has := payload["cnf"]; has {
		holder, err := cnfKey(cnf)
		if err != nil && (p.kb != "" || opts.RequireKB) {
			return err
		}
		v.Holder = holder
	}
	if p.kb == "" {
		if opts.RequireKB {
			return fail(ReasonKBRequired, "key binding is required") // T9
		}
		return nil
	}
	if v.Holder == nil {
		return fail(ReasonMissingHolderKey, "no cnf.jwk to check key binding with")
	}
	kbErr := func(err error) error {
		if r := ReasonOf(err); r == ReasonUnsupportedAlg || r == ReasonTooLarge {
			return err
		}
		return fail(ReasonKBInvalid, "%v", err)
	}
	// §7.3 step 2–4: typ kb+jwt, ES256, signature by the cnf key.
	jw, err := parseJWS(p.kb, TypKB)
	if err != nil {
		return kbErr(err)
	}
	body, err := jw.verify(v.Holder)
	if err != nil {
		return kbErr(err)
	}
	var kb struct {
		Nonce  *string  `json:"nonce"`
		Aud    *string  `json:"aud"`
		Iat    *float64 `json:"iat"`
		SDHash *string  `json:"sd_hash"`
		// Raw, so that a present but non-numeric value (null included)
		// is told from an absent one.
		Exp jsontext.Value `json:"exp"`
		Nbf jsontext.Value `json:"nbf"`
	}
	if err := unmarshalStrict(body, &kb); err != nil {
		return kbErr(err)
	}
	if kb.Nonce == nil || kb.Aud == nil || kb.Iat == nil || kb.SDHash == nil {
		return fail(ReasonKBInvalid, "kb-jwt lacks nonce, aud, iat or sd_hash")
	}
	exp, err := rawNumericDate(kb.Exp, "exp")
	if err != nil {
		return kbErr(err)
	}
	nbf, err := rawNumericDate(kb.Nbf, "nbf")
	if err != nil {
		return kbErr(err)
	}
	iat := time.Unix(int64(*kb.Iat), 0)
	// §7.3 step 5: iat within the acceptable window.
	if opts.Now.Add(opts.Skew).Before(iat) || iat.Before(opts.Now.Add(-opts.MaxKBAge-opts.Skew)) {
		return fail(ReasonKBIatOutOfWindow, "kb-jwt iat outside the accepted window")
	}
	// §7.3 step 5: the KB-JWT is "a valid JWT in all other respects, per
	// [RFC7519]": RFC 7519 §4.1.4, the current time is before exp, and
	// §4.1.5, not before nbf, with the leeway used for iat. Both are
	// optional; the reason is the key binding's own time window (T11).
	if !exp.IsZero() && !opts.Now.Before(exp.Add(opts.Skew)) {
		return fail(ReasonKBIatOutOfWindow, "kb-jwt expired (exp)")
	}
	if !nbf.IsZero() && opts.Now.Add(opts.Skew).Before(nbf) {
		return fail(ReasonKBIatOutOfWindow, "kb-jwt not yet valid (nbf)")
	}
	// §7.3 step 5: nonce and aud as expected.
	if (opts.RequireKB || opts.Nonce != "") && *kb.Nonce != opts.Nonce {
		return fail(ReasonKBNonceMismatch, "kb-jwt nonce is not the expected one")
	}
	if (opts.RequireKB || opts.Audience != "") && *kb.Aud != opts.Audience {
		return fail(ReasonKBAudMismatch, "kb-jwt aud is not the expected one")
	}
	// §7.3 step 6: sd_hash over the exact bytes received (T10).
	if *kb.SDHash != digest(p.sdHashInput) {
		return fail(ReasonKBSDHashMismatch, "sd_hash does not cover this presentation")
	}
	v.KB = &KB{Nonce: *kb.Nonce, Aud: *kb.Aud, IssuedAt: iat.Unix(), SDHash: *kb.SDHash}
	return nil
}

// cnfKey reads cnf.jwk (RFC 7800 §3.2) as a P-256 public key. This is on
// every key-binding check, so the JWK members are read straight from the
// decoded payload (RFC 7518 §6.2.1: x and y are 32 bytes for P-256) and the
// point is decoded and validated by crypto/ecdsa.
func cnfKey(cnf any) (*ecdsa.PublicKey, error) {
	obj, _ := cnf.(map[string]any)
	j, ok := obj["jwk"].(map[string]any)
	if !ok {
		return nil, fail(ReasonMissingHolderKey, "cnf has no jwk")
	}
	if _, private := j["d"]; private || j["kty"] != "EC" || j["crv"] != "P-256" {
		return nil, fail(ReasonMissingHolderKey, "cnf.jwk is not a P-256 public key")
	}
	xs, _ := j["x"].(string)
	ys, _ := j["y"].(string)
	point := make([]byte, 1, 65)
	point[0] = 4 // SEC 1 §2.3.3 uncompressed point
	x, errX := b64.DecodeString(xs)
	y, errY := b64.DecodeString(ys)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, fail(ReasonMissingHolderKey, "cnf.jwk coordinates are not 32 bytes of base64url")
	}
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append(point, x...), y...))
	if err != nil {
		return nil, fail(ReasonMissingHolderKey, "cnf.jwk is not a point on P-256")
	}
	return key, nil
}
