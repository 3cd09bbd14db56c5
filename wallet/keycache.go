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

// fetchAs reads ls with f as p: for a deferred p, its key's record is read
// in the same Fetch and confirmed before any of the rest is used, so
// nothing is told to a key that no longer authenticates. It returns the
// bodies of ls.
func (s *Service) fetchAs(f fetcher, p *Principal, ls ...Lookup) ([][]byte, error) {
	k := p.deferred
	if k == nil {
		return f.Fetch(ls...)
	}
	got, err := f.Fetch(append(ls[:len(ls):len(ls)], APIKeys.Lookup(byHash, k.hash))...)
	if err != nil {
		return nil, err
	}
	if err := s.confirm(p, got[len(ls)]); err != nil {
		return nil, err
	}
	return got[:len(ls)], nil
}

// confirm checks a deferred p against its key's record as just read:
// unchanged, or still the same active key of the same owner and role.
// Anything else is the 401 Authenticate would answer now, and the key is
// forgotten.
func (s *Service) confirm(p *Principal, body []byte) error {
	k := p.deferred
	if body != nil && bytes.Equal(body, k.body) {
		return nil
	}
	s.keyCache.drop(string(k.hash))
	got, err := APIKeys.Read(body)
	if errors.Is(err, ErrNotFound) || (err == nil && (got.Revoked != nil || got.Role != p.Role || got.Owner != p.Subject)) {
		return errUnauthenticated()
	}
	return err
}

// confirmed is p confirmed by a read of its own (the paths that read
// nothing first), no longer deferred: what it is passed on to reads the
// key no more.
func (s *Service) confirmed(ctx context.Context, p *Principal) (*Principal, error) {
	if p.deferred == nil {
		return p, nil
	}
	if _, err := s.fetchAs(storeFetch{ctx, s.store}, p); err != nil {
		return nil, s.storeErr(ctx, err, "api key")
	}
	c := *p
	c.deferred = nil
	return &c, nil
}

// errUnauthenticated is every failed authentication (THREATS T20).
func errUnauthenticated() error {
	return Errorf(api.CodeUnauthenticated, "missing, invalid or expired credentials")
}
