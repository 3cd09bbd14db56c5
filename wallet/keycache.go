package wallet

import (
	"bytes"
	"context"
	"errors"

	"github.com/eidwallet/eidwallet/api"
)

// keyCacheSize bounds how many API keys the service remembers: every
// verifier's keys of a country fit, and a flood of wrong secrets adds
// nothing (only keys that authenticated are kept).
const keyCacheSize = 1 << 14

// keyCache remembers the API keys that authenticated, by the hash of their
// secret, with their record as it was read (Service.keyCache). It only saves
// a round trip: a principal taken from it is deferred (Principal.deferred)
// and the method it reaches reads the key's record again among its own
// reads and refuses the call when the record no longer authenticates
// (confirm). So a revoked key is refused at its next use, on every
// replica, with no invalidation to miss.
type keyCache = bounded[*deferredKey]

// deferredKey is a key as last read: its principal and its stored body.
type deferredKey struct {
	hash []byte
	body []byte
	p    Principal
}

// AuthenticateDeferred is Authenticate for the routes whose method reads
// the caller's API key again in its own first read (Redeem): a key that
// authenticated before is answered from memory, as a deferred principal
// that only such a method accepts (every other refuses it, require). A
// cache miss, or an access token, is Authenticate.
func (s *Service) AuthenticateDeferred(ctx context.Context, bearer string) (*Principal, error) {
	if bearer != "" && len(bearer) <= maxBearer {
		if k, ok := s.keyCache.get(string(hashSecret(bearer))); ok {
			p := k.p
			p.deferred = k
			return &p, nil
		}
	}
	return s.Authenticate(ctx, bearer)
}

// keyLookup is the read that confirms p: its key's record, when p is
// deferred; none else.
func keyLookup(p *Principal) []Lookup {
	if p.deferred == nil {
		return nil
	}
	return []Lookup{APIKeys.Lookup(byHash, p.deferred.hash)}
}

// confirm checks a deferred p against its key's record as just read
// (body, from keyLookup's lookup): unchanged, or still the same active
// key of the same owner and role. Anything else is the 401 Authenticate
// would answer now, and the key is forgotten.
func (s *Service) confirm(p *Principal, body []byte) error {
	k := p.deferred
	if k == nil || (body != nil && bytes.Equal(body, k.body)) {
		return nil
	}
	s.keyCache.drop(string(k.hash))
	got, err := APIKeys.Read(body)
	if errors.Is(err, ErrNotFound) || (err == nil && (got.Revoked != nil || got.Role != p.Role || got.Owner != p.Subject)) {
		return errUnauthenticated()
	}
	return err
}

// confirmed confirms a deferred p with a read of its own (the paths that
// read nothing first).
func (s *Service) confirmed(ctx context.Context, p *Principal) error {
	ls := keyLookup(p)
	if ls == nil {
		return nil
	}
	got, err := s.store.Fetch(ctx, ls...)
	if err != nil {
		return s.storeErr(ctx, err, "api key")
	}
	return s.confirm(p, got[0])
}

// errUnauthenticated is every failed authentication (THREATS T20).
func errUnauthenticated() error {
	return Errorf(api.CodeUnauthenticated, "missing, invalid or expired credentials")
}
