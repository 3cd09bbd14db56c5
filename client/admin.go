package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// Admin is the operator's view of the API (bearer: the admin token the
// service writes to its data dir on first start, SPEC §8).
type Admin struct {
	c     *Client
	token string
}

// Admin returns the operator view authenticated by token.
func (c *Client) Admin(token string) *Admin { return &Admin{c: c, token: token} }

func (a *Admin) do(ctx context.Context, method, path string, in, out any) error {
	return a.c.do(ctx, a.token, method, path, in, out)
}

// CreateIssuer registers an issuing authority with its first signing key.
func (a *Admin) CreateIssuer(ctx context.Context, req api.CreateIssuerRequest) (*api.IssuerView, error) {
	var out api.IssuerView
	if err := a.do(ctx, http.MethodPost, "/v1/admin/issuers", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Issuers lists every issuer, by id, reading every page.
func (a *Admin) Issuers(ctx context.Context) ([]*api.IssuerView, error) {
	return walk(ctx, walkSize, func(ctx context.Context, pg api.Page) ([]*api.IssuerView, string, error) {
		l, err := a.IssuersPage(ctx, pg)
		if err != nil {
			return nil, "", err
		}
		return l.Issuers, l.NextCursor, nil
	})
}

// IssuersPage reads one page of the issuers.
func (a *Admin) IssuersPage(ctx context.Context, pg api.Page) (*api.IssuerList, error) {
	var out api.IssuerList
	if err := a.c.doQuery(ctx, a.token, http.MethodGet, "/v1/admin/issuers", pageQuery(nil, pg), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateIssuerKey makes a new active signing key for the issuer; older keys
// stay published for verification until retired.
func (a *Admin) RotateIssuerKey(ctx context.Context, issuerID string) (*api.IssuerView, error) {
	var out api.IssuerView
	if err := a.do(ctx, http.MethodPost, "/v1/admin/issuers/"+escape(issuerID)+"/keys", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RetireIssuerKey retires an inactive key: credentials signed with it no
// longer verify.
func (a *Admin) RetireIssuerKey(ctx context.Context, issuerID, kid string) (*api.IssuerView, error) {
	var out api.IssuerView
	if err := a.do(ctx, http.MethodDelete, "/v1/admin/issuers/"+escape(issuerID)+"/keys/"+escape(kid), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RetireIssuer retires an issuer for good: it issues nothing more, and
// nothing it signed is approved or redeemed from then on.
func (a *Admin) RetireIssuer(ctx context.Context, issuerID string) (*api.IssuerView, error) {
	var out api.IssuerView
	if err := a.do(ctx, http.MethodDelete, "/v1/admin/issuers/"+escape(issuerID), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AddExternalIssuer trusts an issuer hosted elsewhere for some types; the
// service fetches its keys at once (400 when it cannot).
func (a *Admin) AddExternalIssuer(ctx context.Context, req api.ExternalIssuerRequest) (*api.ExternalIssuerView, error) {
	var out api.ExternalIssuerView
	if err := a.do(ctx, http.MethodPost, "/v1/admin/external-issuers", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExternalIssuers lists every external issuer, by id, reading every page.
func (a *Admin) ExternalIssuers(ctx context.Context) ([]*api.ExternalIssuerView, error) {
	return walk(ctx, walkSize, func(ctx context.Context, pg api.Page) ([]*api.ExternalIssuerView, string, error) {
		var l api.ExternalIssuerList
		err := a.c.doQuery(ctx, a.token, http.MethodGet, "/v1/admin/external-issuers", pageQuery(nil, pg), nil, &l)
		return l.ExternalIssuers, l.NextCursor, err
	})
}

// RetireExternalIssuer stops trusting an external issuer, for good.
func (a *Admin) RetireExternalIssuer(ctx context.Context, id string) (*api.ExternalIssuerView, error) {
	var out api.ExternalIssuerView
	if err := a.do(ctx, http.MethodDelete, "/v1/admin/external-issuers/"+escape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateIssuerAPIKey makes an API key for the issuer's systems. The key is
// in the answer only: store it now.
func (a *Admin) CreateIssuerAPIKey(ctx context.Context, issuerID string) (*api.NewAPIKey, error) {
	var out api.NewAPIKey
	if err := a.do(ctx, http.MethodPost, "/v1/admin/issuers/"+escape(issuerID)+"/api-keys", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateVerifier registers a relying party; the answer carries its first
// API key (shown once).
func (a *Admin) CreateVerifier(ctx context.Context, req api.CreateVerifierRequest) (*api.VerifierView, error) {
	var out api.VerifierView
	if err := a.do(ctx, http.MethodPost, "/v1/admin/verifiers", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Verifiers lists every verifier, by id, reading every page.
func (a *Admin) Verifiers(ctx context.Context) ([]*api.VerifierView, error) {
	return walk(ctx, walkSize, func(ctx context.Context, pg api.Page) ([]*api.VerifierView, string, error) {
		l, err := a.VerifiersPage(ctx, pg)
		if err != nil {
			return nil, "", err
		}
		return l.Verifiers, l.NextCursor, nil
	})
}

// VerifiersPage reads one page of the verifiers.
func (a *Admin) VerifiersPage(ctx context.Context, pg api.Page) (*api.VerifierList, error) {
	var out api.VerifierList
	if err := a.c.doQuery(ctx, a.token, http.MethodGet, "/v1/admin/verifiers", pageQuery(nil, pg), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// APIKeys lists every API key, by id (owner: one issuer's or verifier's
// only), reading every page: never the keys themselves.
func (a *Admin) APIKeys(ctx context.Context, owner string) ([]api.APIKeyView, error) {
	return walk(ctx, walkSize, func(ctx context.Context, pg api.Page) ([]api.APIKeyView, string, error) {
		q := pageQuery(nil, pg)
		if owner != "" {
			q.Set("owner", owner)
		}
		var l api.APIKeyList
		err := a.c.doQuery(ctx, a.token, http.MethodGet, "/v1/admin/api-keys", q, nil, &l)
		return l.APIKeys, l.NextCursor, err
	})
}

// CreateVerifierAPIKey makes another API key for a verifier (one per staff
// device or system).
func (a *Admin) CreateVerifierAPIKey(ctx context.Context, verifierID string) (*api.NewAPIKey, error) {
	var out api.NewAPIKey
	if err := a.do(ctx, http.MethodPost, "/v1/admin/verifiers/"+escape(verifierID)+"/api-keys", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeAPIKey revokes an issuer or verifier API key by its id.
func (a *Admin) RevokeAPIKey(ctx context.Context, keyID string) error {
	return a.do(ctx, http.MethodDelete, "/v1/admin/api-keys/"+escape(keyID), nil, nil)
}

// CreateActivationCode makes the one-time code a citizen enrols a device
// with (SPEC §3.1 step 1: valid 15 minutes, single use).
func (a *Admin) CreateActivationCode(ctx context.Context, citizenID string) (*api.ActivationCodeResponse, error) {
	var out api.ActivationCodeResponse
	if err := a.do(ctx, http.MethodPost, "/v1/admin/activation-codes", api.ActivationCodeRequest{CitizenID: citizenID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetVerifierWebhook sets the URL a verifier's request results are posted
// to (https to a public unicast address, loopback only on a development
// server; "" removes it). The answer carries the new signing secret, shown
// once: the receiver checks each delivery with it (api.VerifyWebhook).
func (a *Admin) SetVerifierWebhook(ctx context.Context, verifierID, url string) (*api.WebhookResponse, error) {
	var out api.WebhookResponse
	if err := a.do(ctx, http.MethodPut, "/v1/admin/verifiers/"+escape(verifierID)+"/webhook", api.WebhookRequest{URL: &url}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetVerifierOrigins sets the https origins whose web pages may call the
// verifier routes with the verifier's keys (CORS; at most 16, none by
// default; an empty list removes them all).
func (a *Admin) SetVerifierOrigins(ctx context.Context, verifierID string, origins []string) (*api.VerifierView, error) {
	if origins == nil {
		origins = []string{} // the member is required; [] removes them
	}
	var out api.VerifierView
	if err := a.do(ctx, http.MethodPut, "/v1/admin/verifiers/"+escape(verifierID)+"/origins", api.OriginsRequest{Origins: origins}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RetireVerifier retires a verifier: its keys stop working at once, no
// share can name it, its record stays.
func (a *Admin) RetireVerifier(ctx context.Context, verifierID string) (*api.VerifierView, error) {
	var out api.VerifierView
	if err := a.do(ctx, http.MethodDelete, "/v1/admin/verifiers/"+escape(verifierID), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Stats reads the usage statistics (aggregates only, small counts
// suppressed) of q: by "day" or "hour", From and To on its boundaries in
// UTC; zero times and "" ask the service's defaults.
func (a *Admin) Stats(ctx context.Context, q api.StatsQuery) (*api.Stats, error) {
	v := url.Values{}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	if q.By != "" {
		v.Set("by", q.By)
	}
	var out api.Stats
	if err := a.c.doQuery(ctx, a.token, http.MethodGet, "/v1/admin/stats", v, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Backup downloads a copy of the embedded store as it is now (GET
// /v1/admin/backup) into w and returns its length; a copy cut short of
// the length the service gave is an error (net/http's io.ErrUnexpectedEOF).
// A PostgreSQL deployment answers 409 conflict: its database's own tools
// back it up.
func (a *Admin) Backup(ctx context.Context, w io.Writer) (int64, error) {
	const path = "/v1/admin/backup"
	resp, err := a.c.roundTrip(ctx, &call{method: http.MethodGet, path: path, accept: "application/octet-stream"}, a.token)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("GET %s: %w", path, err)
	}
	return n, nil
}
