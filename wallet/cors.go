package wallet

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/eidwallet/eidwallet/api"
)

// maxOrigins bounds the origins one verifier may allow.
const maxOrigins = 16

// SetVerifierOrigins sets the web origins whose pages may call the
// verifier routes with the verifier's keys (CORS, issue 13): each an
// origin as browsers send it (RFC 6454 §6.1: scheme, host, port if not
// the default, nothing else), https only. An empty list allows none, the
// default.
func (s *Service) SetVerifierOrigins(ctx context.Context, p *Principal, verifierID string, req api.OriginsRequest) (*api.VerifierView, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	if req.Origins == nil {
		return nil, Errorf(api.CodeInvalidRequest, "origins is required ([] removes them)")
	}
	if len(req.Origins) > maxOrigins {
		return nil, Errorf(api.CodeInvalidRequest, "origins: at most %d", maxOrigins)
	}
	for _, o := range req.Origins {
		if !IsOrigin(o) {
			return nil, Errorf(api.CodeInvalidRequest, "origins: %q is not an https origin (https://host[:port], no path)", o)
		}
	}
	origins := slices.Compact(slices.Sorted(slices.Values(req.Origins)))
	view, err := s.changeVerifier(ctx, verifierID, func(_ Tx, v *Verifier) error {
		v.Origins = origins
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "verifier origins set", "verifier_id", verifierID, "origins", len(origins))
	return view, nil
}

// IsOrigin reports whether o is an https origin in the serialized form
// of RFC 6454 §6.1, lower case.
func IsOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.Hostname() != "" && u.User == nil &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery && u.Port() != "443" &&
		u.String() == o && o == strings.ToLower(o)
}

// OriginAllowed reports whether a page of origin may call the verifier
// routes with verifier p's keys. A deferred p is confirmed by the same
// read.
func (s *Service) OriginAllowed(ctx context.Context, p *Principal, origin string) (bool, error) {
	if err := p.requireDeferred(api.RoleVerifier); err != nil {
		return false, err
	}
	got, err := s.fetchAs(storeFetch{ctx, s.store}, p, Verifiers.Lookup("", p.Subject))
	if err != nil {
		return false, s.storeErr(ctx, err, "verifier")
	}
	v, err := Verifiers.Fetched(got[0], p.Subject)
	if err != nil {
		return false, s.storeErr(ctx, err, "verifier")
	}
	return slices.Contains(v.Origins, origin), nil
}
