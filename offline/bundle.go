package offline

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/veraison/go-cose"

	"github.com/eidwallet/eidwallet/credentials"
)

// The trust bundle: what an offline verifier needs, signed by the service
// key — each hosted issuer's keys and types, the attestation keys that
// sign compact shares and the types each may attest, each issuer's status
// lists as Token Status List CWTs signed by the issuer, when it was made
// and how long it may be used.

// DefaultMaxAge is how long a bundle may be used after it was issued.
const DefaultMaxAge = 24 * time.Hour

// TypStatusListCWT is the typ of a Token Status List CWT (Token Status
// List §5.2).
const TypStatusListCWT = "application/statuslist+cwt"

// MaxBundleBytes caps a bundle before it is decoded.
const MaxBundleBytes = 64 << 20

// Bundle is a verified (or to be signed) trust bundle.
type Bundle struct {
	Issuer      string // the service's URL
	IssuedAt    time.Time
	MaxAge      time.Duration
	Issuers     []BundleIssuer
	Attesters   []Attester
	StatusLists []StatusListCWT

	mu    sync.Mutex
	lists map[int]readList // StatusLists[i] verified and inflated, on first use
}

// readList is a status list read from the bundle and its CWT's exp (zero:
// none), checked again at each use since the list outlives one clock.
type readList struct {
	list *credentials.StatusList
	exp  time.Time
}

// BundleIssuer is one hosted issuer.
type BundleIssuer struct {
	ID    string
	Name  string
	Keys  []*ecdsa.PublicKey
	Types []string
}

// Attester is a presentation-attestation key and the types it may attest.
type Attester struct {
	Key   *ecdsa.PublicKey
	Types []string
}

// StatusListCWT is one issuer's status list as signed by it.
type StatusListCWT struct {
	IssuerID string
	List     int
	CWT      []byte // COSE_Sign1 of the status list's CWT
}

type bundleCBOR struct {
	Iss         string         `cbor:"1,keyasint"`
	Iat         int64          `cbor:"6,keyasint"`
	MaxAge      int64          `cbor:"-70002,keyasint"`
	Issuers     []issuerCBOR   `cbor:"-70003,keyasint"`
	Attesters   []attesterCBOR `cbor:"-70004,keyasint"`
	StatusLists []statusCBOR   `cbor:"-70005,keyasint"`
}

type issuerCBOR struct {
	ID    string     `cbor:"1,keyasint"`
	Name  string     `cbor:"2,keyasint"`
	Keys  []cose.Key `cbor:"3,keyasint"`
	Types []string   `cbor:"4,keyasint"`
}

type attesterCBOR struct {
	Key   cose.Key `cbor:"1,keyasint"`
	Types []string `cbor:"2,keyasint"`
}

type statusCBOR struct {
	Issuer string `cbor:"1,keyasint"`
	List   int    `cbor:"2,keyasint"`
	CWT    []byte `cbor:"3,keyasint"`
}

// coseKey is pub as a COSE_Key with its kid (RFC 9052 §7).
func coseKey(pub *ecdsa.PublicKey) (cose.Key, error) {
	k, err := cose.NewKeyFromPublic(pub)
	if err != nil {
		return cose.Key{}, err
	}
	k.ID = KeyID(pub)
	return *k, nil
}

func fromCOSEKey(k cose.Key) (*ecdsa.PublicKey, error) {
	pub, err := k.PublicKey()
	if err != nil {
		return nil, err
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 key")
	}
	return ec, nil
}

// SignBundle signs b with the service key.
func SignBundle(random io.Reader, signer crypto.Signer, b *Bundle) ([]byte, error) {
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("offline: the signer is not an ECDSA key")
	}
	c := bundleCBOR{Iss: b.Issuer, Iat: b.IssuedAt.Unix(), MaxAge: int64(b.MaxAge / time.Second)}
	for _, is := range b.Issuers {
		ic := issuerCBOR{ID: is.ID, Name: is.Name, Types: is.Types}
		for _, k := range is.Keys {
			ck, err := coseKey(k)
			if err != nil {
				return nil, err
			}
			ic.Keys = append(ic.Keys, ck)
		}
		c.Issuers = append(c.Issuers, ic)
	}
	for _, a := range b.Attesters {
		ck, err := coseKey(a.Key)
		if err != nil {
			return nil, err
		}
		c.Attesters = append(c.Attesters, attesterCBOR{Key: ck, Types: a.Types})
	}
	for _, sl := range b.StatusLists {
		c.StatusLists = append(c.StatusLists, statusCBOR{Issuer: sl.IssuerID, List: sl.List, CWT: sl.CWT})
	}
	payload, err := encMode.Marshal(c)
	if err != nil {
		return nil, err
	}
	return sign1(random, signer, pub, nil, payload)
}

// ReadBundle checks a bundle signed by one of serviceKeys and usable at
// now: not older than its maximum age, and now not before its issue time
// (a clock set back cannot make an old bundle new: fail closed).
func ReadBundle(raw []byte, serviceKeys []*ecdsa.PublicKey, now time.Time) (*Bundle, error) {
	if len(raw) > MaxBundleBytes {
		return nil, refuse(ReasonMalformed, "bundle over %d bytes", MaxBundleBytes)
	}
	_, payload, _, err := open(raw, func(kid []byte) (*ecdsa.PublicKey, error) {
		for _, k := range serviceKeys {
			if bytes.Equal(KeyID(k), kid) {
				return k, nil
			}
		}
		return nil, refuse(ReasonUnknownKey, "the bundle is not signed by the service key")
	})
	if err != nil {
		return nil, err
	}
	var c bundleCBOR
	if err := decMode.Unmarshal(payload, &c); err != nil {
		return nil, refuse(ReasonMalformed, "not a trust bundle")
	}
	b := &Bundle{Issuer: c.Iss, IssuedAt: time.Unix(c.Iat, 0).UTC(), MaxAge: time.Duration(c.MaxAge) * time.Second}
	switch {
	case b.MaxAge <= 0:
		return nil, refuse(ReasonMalformed, "the bundle has no maximum age")
	case now.Before(b.IssuedAt.Add(-time.Minute)):
		return nil, refuse(ReasonStale, "the clock is before the bundle was issued")
	case now.Sub(b.IssuedAt) > min(b.MaxAge, DefaultMaxAge):
		// Its own maximum age, and never more than a day (T40): a bundle
		// signed to last for years is still a day's.
		return nil, refuse(ReasonStale, "the bundle is older than its maximum age")
	}
	for _, ic := range c.Issuers {
		is := BundleIssuer{ID: ic.ID, Name: ic.Name, Types: ic.Types}
		for _, k := range ic.Keys {
			pub, err := fromCOSEKey(k)
			if err != nil {
				return nil, refuse(ReasonMalformed, "issuer %s: %v", ic.ID, err)
			}
			is.Keys = append(is.Keys, pub)
		}
		b.Issuers = append(b.Issuers, is)
	}
	for _, ac := range c.Attesters {
		pub, err := fromCOSEKey(ac.Key)
		if err != nil {
			return nil, refuse(ReasonMalformed, "attester: %v", err)
		}
		b.Attesters = append(b.Attesters, Attester{Key: pub, Types: ac.Types})
	}
	for _, sc := range c.StatusLists {
		b.StatusLists = append(b.StatusLists, StatusListCWT{IssuerID: sc.Issuer, List: sc.List, CWT: sc.CWT})
	}
	return b, nil
}

// Verify checks an EIDC1: text against the bundle at now: signed by an
// attestation key of the bundle that may attest its type, of an issuer of
// the bundle that issues that type, and its credential's status valid in
// that issuer's list (fail closed when the list is missing).
func (b *Bundle) Verify(text string, now time.Time) (*Share, error) {
	var attester *Attester
	s, _, err := Parse(text, func(kid []byte) (*ecdsa.PublicKey, error) {
		for i := range b.Attesters {
			if bytes.Equal(KeyID(b.Attesters[i].Key), kid) {
				attester = &b.Attesters[i]
				return attester.Key, nil
			}
		}
		return nil, refuse(ReasonUnknownKey, "no attestation key of the bundle has this kid")
	}, now, time.Minute)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(attester.Types, s.Type) {
		return nil, refuse(ReasonNotAuthorized, "the attestation key may not attest %s", s.Type)
	}
	// The service attests a code only once the holder's device signed the
	// share; one that does not say so is no share of the holder's.
	if !s.Consent {
		return nil, refuse(ReasonMalformed, "the code does not say the holder's device consented")
	}
	i := slices.IndexFunc(b.Issuers, func(is BundleIssuer) bool { return is.ID == s.IssuerID })
	if i < 0 || !slices.Contains(b.Issuers[i].Types, s.Type) {
		return nil, refuse(ReasonNotAuthorized, "the issuer is not one of the bundle's for %s", s.Type)
	}
	// Fail closed: every credential of a hosted issuer has a status entry.
	if s.StatusList < 0 {
		return nil, refuse(ReasonStatusUnknown, "the code names no status entry")
	}
	if err := b.checkStatus(&b.Issuers[i], s.StatusList, s.StatusIndex, now); err != nil {
		return nil, err
	}
	return s, nil
}

// checkStatus reads a status in the issuer's list of the bundle.
func (b *Bundle) checkStatus(is *BundleIssuer, list, index int, now time.Time) error {
	j := slices.IndexFunc(b.StatusLists, func(sl StatusListCWT) bool { return sl.IssuerID == is.ID && sl.List == list })
	if j < 0 {
		return refuse(ReasonStatusUnknown, "the bundle has no status list %s/%d", is.ID, list)
	}
	b.mu.Lock()
	l, ok := b.lists[j]
	b.mu.Unlock()
	if !ok {
		var err error
		if l, err = readStatusList(b.StatusLists[j].CWT, is.Keys, StatusListURI(b.Issuer, is.ID, list)); err != nil {
			return err
		}
		b.mu.Lock()
		if b.lists == nil {
			b.lists = map[int]readList{}
		}
		b.lists[j] = l
		b.mu.Unlock()
	}
	if err := l.at(now); err != nil {
		return err
	}
	v, err := l.list.Get(index)
	if err != nil {
		return refuse(ReasonStatusUnknown, "status index out of range")
	}
	switch v {
	case 0:
		return nil
	case 1:
		return refuse(ReasonRevoked, "the credential is revoked")
	case 2:
		return refuse(ReasonSuspended, "the credential is suspended")
	}
	return refuse(ReasonStatusUnknown, "status value %d", v)
}

// StatusListURI is the uri of a hosted issuer's status list (its sub).
func StatusListURI(service, issuerID string, list int) string {
	return fmt.Sprintf("%s/status-lists/%s/%d", service, issuerID, list)
}

// statusListClaims is the CWT of a status list (Token Status List §5.2:
// sub 2, iat 6, exp 4, ttl 65534, status_list 65533).
type statusListClaims struct {
	Sub        string        `cbor:"2,keyasint"`
	Iat        int64         `cbor:"6,keyasint"`
	Exp        int64         `cbor:"4,keyasint,omitempty"`
	TTL        int64         `cbor:"65534,keyasint,omitempty"`
	StatusList statusListMap `cbor:"65533,keyasint"`
}

type statusListMap struct {
	Bits int    `cbor:"bits"`
	Lst  []byte `cbor:"lst"` // ZLIB-compressed (RFC 1950) entries
}

// SignStatusList signs a status list as a Token Status List CWT with the
// issuer's key: typ application/statuslist+cwt (Token Status List §5.2).
func SignStatusList(random io.Reader, signer crypto.Signer, uri string, l *credentials.StatusList, iat time.Time, ttl time.Duration) ([]byte, error) {
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("offline: the signer is not an ECDSA key")
	}
	// The same ZLIB stream as the JWT form's lst, in bytes.
	enc, err := l.Encode()
	if err != nil {
		return nil, err
	}
	lst, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, err
	}
	payload, err := encMode.Marshal(statusListClaims{Sub: uri, Iat: iat.Unix(), TTL: int64(ttl / time.Second),
		StatusList: statusListMap{Bits: l.Bits(), Lst: lst}})
	if err != nil {
		return nil, err
	}
	return sign1(random, signer, pub, TypStatusListCWT, payload)
}

// ReadStatusList checks a Token Status List CWT at now: typ, signed by one
// of keys, sub equal to uri, iat present, exp (when present) not passed, ttl
// (when present) positive; its list inflated within the bounds of
// credentials.DecodeStatusList. Every refusal is ReasonStatusUnknown.
func ReadStatusList(raw []byte, keys []*ecdsa.PublicKey, uri string, now time.Time) (*credentials.StatusList, error) {
	l, err := readStatusList(raw, keys, uri)
	if err == nil {
		err = l.at(now)
	}
	return l.list, err
}

// at refuses l at now once its CWT's exp has passed (Token Status List
// §8.3 step 4.c; from exp on, as the JWT form, credentials.VerifyStatusList):
// checked at each use, since a list read once outlives one clock.
func (l readList) at(now time.Time) error {
	if !l.exp.IsZero() && !now.Before(l.exp) {
		return refuse(ReasonStatusUnknown, "the status list has expired")
	}
	return nil
}

// readStatusList is ReadStatusList but for the time: the list and its
// CWT's exp (zero when it has none).
func readStatusList(raw []byte, keys []*ecdsa.PublicKey, uri string) (readList, error) {
	_, payload, typ, err := open(raw, func(kid []byte) (*ecdsa.PublicKey, error) {
		for _, k := range keys {
			if bytes.Equal(KeyID(k), kid) {
				return k, nil
			}
		}
		return nil, refuse(ReasonStatusUnknown, "the status list is not signed by its issuer's key")
	})
	if err != nil {
		return readList{}, err
	}
	if typ != TypStatusListCWT {
		return readList{}, refuse(ReasonStatusUnknown, "status list typ is not %s", TypStatusListCWT)
	}
	var c statusListClaims
	if err := decMode.Unmarshal(payload, &c); err != nil || c.Sub != uri {
		return readList{}, refuse(ReasonStatusUnknown, "status list sub is not its uri")
	}
	var exp time.Time
	if c.Exp != 0 {
		exp = time.Unix(c.Exp, 0)
	}
	// Token Status List §8.3: step 3.b, iat is required (§5.2); step 4.c,
	// an exp, when present, must not have passed (at, at each use); step
	// 4 checks ttl by §5.2, a positive number. Step 4.b (iat against a freshness policy)
	// is the bundle's maximum age, checked by ReadBundle; step 4.d (ttl)
	// tells a cache when to fetch again, which an offline verifier cannot
	// do, so the bundle's maximum age stands for it too.
	switch {
	case c.Iat == 0:
		return readList{}, refuse(ReasonStatusUnknown, "status list has no iat")
	case c.TTL < 0:
		return readList{}, refuse(ReasonStatusUnknown, "status list ttl is negative")
	}
	// The JWT form's decoder, which caps what the list may inflate to,
	// takes the same compressed bytes in base64url.
	l, err := credentials.DecodeStatusList(c.StatusList.Bits, base64.RawURLEncoding.EncodeToString(c.StatusList.Lst), 0)
	if err != nil {
		return readList{}, refuse(ReasonStatusUnknown, "status list: %v", err)
	}
	return readList{l, exp}, nil
}
