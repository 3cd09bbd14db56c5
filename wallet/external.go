package wallet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// Issuers hosted elsewhere (issue 11): a standard wallet holds credentials
// of its own country's or sector's issuers. The operator trusts one for
// some types; its keys come from its SD-JWT VC issuer metadata (or a JWKS
// URL the operator gives), fetched under the outbound rules of SPEC §6 and
// refreshed on a schedule — never from a credential's content. Its
// credentials' status lists are fetched the same way and kept for their
// ttl. Verifying presentations of our own verifiers (openid4vp.go) trusts
// them beside the hosted issuers.

// ExternalIssuer is an issuer hosted elsewhere.
type ExternalIssuer struct {
	ID        string
	Issuer    string   // its iss, an https URL
	JWKSURI   string   // "" : its keys from its issuer metadata
	Types     []string // the credential types it is trusted for
	JWKS      []byte   // its keys as last fetched
	Fetched   time.Time
	Due       time.Time // the next refresh
	LastError string
	Created   time.Time
	Retired   *time.Time
}

// Refresh rules of external issuers' keys and caps of what is fetched.
const (
	ExternalKeysRefresh = time.Hour       // keys fetched again after
	ExternalKeysRetry   = 5 * time.Minute // after a failed fetch
	// ExternalKeysMaxAge: keys not refreshed for this long are no longer
	// trusted (fail closed).
	ExternalKeysMaxAge = 24 * time.Hour
	maxIssuerMetadata  = 64 << 10
	maxStatusListToken = 1 << 20
	maxStatusCacheTTL  = time.Hour
	maxStatusCache     = 1024
)

// AddExternalIssuer trusts an issuer hosted elsewhere for types, fetching
// its keys now: 201 with them, or 422 verifier_unreachable-like failures
// as invalid_request naming what failed.
func (s *Service) AddExternalIssuer(ctx context.Context, p *Principal, req api.ExternalIssuerRequest) (*api.ExternalIssuerView, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	if !slugPattern.MatchString(req.ID) {
		return nil, Errorf(api.CodeInvalidRequest, "id must be 2 to 32 lower-case letters, digits or -, starting with a letter")
	}
	if err := s.webhooks.policy.checkURL(req.Issuer); err != nil {
		return nil, inField("issuer", err)
	}
	if req.JWKSURI != "" {
		if err := s.webhooks.policy.checkURL(req.JWKSURI); err != nil {
			return nil, inField("jwks_uri", err)
		}
	}
	if len(req.Types) == 0 {
		return nil, Errorf(api.CodeInvalidRequest, "types: at least one credential type")
	}
	for _, t := range req.Types {
		if _, ok := s.types.ByID(t); !ok {
			return nil, Errorf(api.CodeInvalidRequest, "types: unknown credential type %q", t)
		}
	}
	if s.issuerURLIsOurs(req.Issuer) {
		return nil, Errorf(api.CodeInvalidRequest, "issuer: a hosted issuer of this service")
	}
	now := s.now().UTC()
	ei := &ExternalIssuer{ID: req.ID, Issuer: req.Issuer, JWKSURI: req.JWKSURI, Types: slices.Compact(slices.Sorted(slices.Values(req.Types))),
		Created: now}
	jwks, err := s.fetchIssuerKeys(ctx, ei)
	if err != nil {
		return nil, Errorf(api.CodeInvalidRequest, "the issuer's keys: %s", err)
	}
	ei.JWKS, ei.Fetched, ei.Due = jwks, now, now.Add(ExternalKeysRefresh)
	err = s.store.Update(ctx, func(tx Tx) error {
		if _, err := ExternalIssuers.Get(tx, ei.ID); err == nil {
			return Errorf(api.CodeConflict, "external issuer %s exists", ei.ID)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		return ExternalIssuers.Put(tx, ei)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "external issuer")
	}
	s.log.InfoContext(ctx, "external issuer added", "external_issuer_id", ei.ID)
	return externalView(ei), nil
}

// ExternalIssuers lists a page of the external issuers, by id.
func (s *Service) ExternalIssuers(ctx context.Context, p *Principal, pg api.Page) (*api.ExternalIssuerList, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	pgr, err := s.pager(pg, "external_issuers")
	if err != nil {
		return nil, err
	}
	out := &api.ExternalIssuerList{}
	err = s.store.View(ctx, func(tx Tx) error {
		all, next, err := listPage(tx, pgr, ExternalIssuers, "", false, nil)
		out.ExternalIssuers, out.NextCursor = convert(all, externalView), next
		return err
	})
	return out, s.storeErr(ctx, err, "external issuers")
}

// RetireExternalIssuer stops trusting an external issuer, for good: what
// it signed no longer verifies, answers already given included.
func (s *Service) RetireExternalIssuer(ctx context.Context, p *Principal, id string) (*api.ExternalIssuerView, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	var ei *ExternalIssuer
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if ei, err = ExternalIssuers.Get(tx, id); errors.Is(err, ErrNotFound) {
			return errNotFound("external issuer")
		} else if err != nil {
			return err
		}
		if ei.Retired == nil {
			now := s.now().UTC()
			ei.Retired = &now
		}
		return ExternalIssuers.Put(tx, ei)
	})
	if err != nil {
		return nil, s.storeErr(ctx, err, "external issuer")
	}
	return externalView(ei), nil
}

func externalView(ei *ExternalIssuer) *api.ExternalIssuerView {
	keys, _ := credentials.ParseJWKS(ei.JWKS)
	return &api.ExternalIssuerView{ID: ei.ID, Issuer: ei.Issuer, JWKSURI: ei.JWKSURI, Types: ei.Types,
		Kids: slices.Sorted(maps.Keys(keys)), Fetched: ei.Fetched, Due: ei.Due, LastError: ei.LastError, Created: ei.Created, Retired: ei.Retired}
}

// issuerURLIsOurs reports whether iss names a hosted issuer's URL space.
func (s *Service) issuerURLIsOurs(iss string) bool {
	return strings.HasPrefix(iss, s.url+"/")
}

// metadataURL is where SD-JWT VC issuer metadata lives for iss (SD-JWT VC
// draft §5.1): /.well-known/jwt-vc-issuer inserted between the host and
// the path.
func metadataURL(iss string) (string, error) {
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("issuer must be an https URL without query or fragment")
	}
	u.Path = "/.well-known/jwt-vc-issuer" + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// fetchIssuerKeys fetches an external issuer's JWKS: from jwks_uri, or
// from its issuer metadata, whose issuer must be the one configured and
// which carries jwks or jwks_uri (SD-JWT VC draft §5.2). Only P-256 keys
// count (ParseJWKS); the set is stored as fetched.
func (s *Service) fetchIssuerKeys(ctx context.Context, ei *ExternalIssuer) ([]byte, error) {
	jwksURI := ei.JWKSURI
	if jwksURI == "" {
		mu, err := metadataURL(ei.Issuer)
		if err != nil {
			return nil, err
		}
		raw, err := s.fetchJSON(ctx, mu)
		if err != nil {
			return nil, fmt.Errorf("issuer metadata: %w", err)
		}
		var md struct {
			Issuer  string         `json:"issuer"`
			JWKS    jsontext.Value `json:"jwks"`
			JWKSURI string         `json:"jwks_uri"`
		}
		if err := json.Unmarshal(raw, &md); err != nil {
			return nil, errors.New("issuer metadata is not a JSON object of the draft's members")
		}
		switch {
		case md.Issuer != ei.Issuer:
			return nil, errors.New("issuer metadata names another issuer")
		case (md.JWKS == nil) == (md.JWKSURI == ""):
			return nil, errors.New("issuer metadata must hold jwks or jwks_uri, one of the two")
		case md.JWKS != nil:
			return checkedJWKS(md.JWKS)
		}
		if err := s.webhooks.policy.checkURL(md.JWKSURI); err != nil {
			return nil, fmt.Errorf("jwks_uri: %w", err)
		}
		jwksURI = md.JWKSURI
	}
	raw, err := s.fetchJSON(ctx, jwksURI)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return checkedJWKS(raw)
}

// checkedJWKS keeps a JWKS that holds at least one P-256 key.
func checkedJWKS(raw []byte) ([]byte, error) {
	if _, err := credentials.ParseJWKS(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// fetchJSON GETs u with the outbound client: 200 and at most
// maxIssuerMetadata bytes.
func (s *Service) fetchJSON(ctx context.Context, u string) ([]byte, error) {
	if err := s.webhooks.policy.checkURL(u); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	raw, status, err := s.outbound(req, maxIssuerMetadata)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("answered %d", status)
	}
	return raw, nil
}

// refreshExternalIssuers fetches again the keys of the external issuers
// that are due, from the background loop. A failure keeps the keys it
// had, until ExternalKeysMaxAge, and tries again after ExternalKeysRetry.
func (s *Service) refreshExternalIssuers(ctx context.Context) {
	now := s.now().UTC()
	var due []*ExternalIssuer
	err := s.store.View(ctx, func(tx Tx) error {
		all, err := ExternalIssuers.List(tx, "", Order{})
		for _, ei := range all {
			if ei.Retired == nil && !now.Before(ei.Due) {
				due = append(due, ei)
			}
		}
		return err
	})
	if err != nil {
		s.log.WarnContext(ctx, "external issuers: list", "err", err)
		return
	}
	for _, ei := range due {
		jwks, err := s.fetchIssuerKeys(ctx, ei)
		err = s.store.Update(ctx, func(tx Tx) error {
			cur, gerr := ExternalIssuers.Get(tx, ei.ID)
			if gerr != nil {
				return gerr
			}
			if err != nil {
				cur.LastError, cur.Due = err.Error(), now.Add(ExternalKeysRetry)
			} else {
				cur.JWKS, cur.Fetched, cur.Due, cur.LastError = jwks, now, now.Add(ExternalKeysRefresh), ""
			}
			return ExternalIssuers.Put(tx, cur)
		})
		if err != nil {
			s.log.WarnContext(ctx, "external issuers: refresh", "external_issuer_id", ei.ID, "err", err)
		}
	}
}

// trustExternal adds the external issuers fresh enough to trust to ts,
// and to byISS; a kid a hosted issuer already uses is skipped, so no
// external JWKS can shadow a hosted key.
func (s *Service) trustExternal(ts *credentials.TrustStore, all []*ExternalIssuer, byISS map[string]trustedIssuer, now time.Time) {
	for _, ei := range all {
		if ei.Retired != nil || now.Sub(ei.Fetched) > ExternalKeysMaxAge {
			continue
		}
		keys, err := credentials.ParseJWKS(ei.JWKS)
		if err != nil {
			continue
		}
		for kid := range keys {
			if _, _, taken := ts.IssuerKey(kid); taken {
				delete(keys, kid)
			}
		}
		var vcts []string
		for _, t := range ei.Types {
			if ty, ok := s.types.ByID(t); ok {
				vcts = append(vcts, ty.VCT)
			}
		}
		if len(keys) > 0 && len(vcts) > 0 {
			ts.AddIssuer(ei.Issuer, keys, vcts...)
			byISS[ei.Issuer] = trustedIssuer{ID: ei.ID, Name: ei.Issuer, External: true}
		}
	}
}

// externalTrusts reports whether ei is still trusted for typ with the key
// kid at now.
func externalTrusts(ei *ExternalIssuer, typ, kid string, now time.Time) bool {
	if ei.Retired != nil || now.Sub(ei.Fetched) > ExternalKeysMaxAge || !slices.Contains(ei.Types, typ) {
		return false
	}
	keys, err := credentials.ParseJWKS(ei.JWKS)
	return err == nil && keys[kid] != nil
}

// cachedStatus is a verified status list of an external issuer, kept
// until its ttl runs out.
type cachedStatus struct {
	list  *credentials.StatusList
	until time.Time
}

// externalStatus checks the status of an external issuer's credential:
// its status list fetched (outbound rules, 1 MiB), verified with the
// issuer's keys for that uri (Token Status List §8.3), and kept for its
// ttl (at most an hour, and not past its exp). Any failure is 503
// status_unavailable (SPEC §3.5: fail closed).
func (s *Service) externalStatus(ctx context.Context, ei *ExternalIssuer, ref credentials.StatusRef) error {
	now := s.now()
	s.mu.Lock()
	c, ok := s.statusCache[ref.URI]
	s.mu.Unlock()
	if !ok || !now.Before(c.until) {
		unavailable := &Error{Code: api.CodeStatusUnavailable, Message: "the credential's status could not be established"}
		if !strings.HasPrefix(ref.URI, "https://") {
			return unavailable
		}
		if err := s.webhooks.policy.checkURL(ref.URI); err != nil {
			return unavailable
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref.URI, nil)
		if err != nil {
			return unavailable
		}
		req.Header.Set("Accept", "application/statuslist+jwt")
		raw, status, err := s.outbound(req, maxStatusListToken)
		if err != nil || status != http.StatusOK {
			s.log.InfoContext(ctx, "external status list not fetched", "external_issuer_id", ei.ID, "status", status, "err", outboundFailure(err))
			return unavailable
		}
		keys, err := credentials.ParseJWKS(ei.JWKS)
		if err != nil {
			return unavailable
		}
		ts := credentials.NewTrustStore()
		ts.AddIssuer(ei.Issuer, keys)
		tok, err := credentials.VerifyStatusList(strings.TrimSpace(string(raw)), ts, ref.URI, now, 0)
		if err != nil {
			s.log.InfoContext(ctx, "external status list refused", "external_issuer_id", ei.ID, "reason", string(credentials.ReasonOf(err)))
			return unavailable
		}
		c = cachedStatus{list: tok.List, until: now.Add(min(max(tok.TTL, 0), maxStatusCacheTTL))}
		if !tok.ExpiresAt.IsZero() && tok.ExpiresAt.Before(c.until) {
			c.until = tok.ExpiresAt
		}
		s.mu.Lock()
		if len(s.statusCache) >= maxStatusCache {
			clear(s.statusCache) // bounded: start again rather than grow
		}
		s.statusCache[ref.URI] = c
		s.mu.Unlock()
	}
	if err := credentials.CheckStatus(c.list, ref); err != nil {
		if r := credentials.ReasonOf(err); r == credentials.ReasonRevoked || r == credentials.ReasonSuspended {
			return failed(r, "the credential is "+strings.TrimPrefix(string(r), "credential_"))
		}
		return &Error{Code: api.CodeStatusUnavailable, Message: "the credential's status could not be established"}
	}
	return nil
}
