package client

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// Health calls GET /healthz: nil when the process answers.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, "", http.MethodGet, "/healthz", nil, nil)
}

// Ready calls GET /readyz: nil when the service can take traffic (its
// store answers).
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, "", http.MethodGet, "/readyz", nil, nil)
}

// TrustBundle fetches the signed trust bundle of offline verifiers (a
// COSE_Sign1 by the service key; package offline reads it).
func (c *Client) TrustBundle(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, "/v1/trust-bundle", "application/cose")
}

// VerifierCA fetches the certificate (PEM) of the CA that issues this
// service's verifiers' certificates: the trust anchor of their OpenID4VP
// request objects.
func (c *Client) VerifierCA(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, "/oid4vp/ca.pem", "application/pem-certificate-chain")
}

// IssuerJWKS fetches an issuer's JSON Web Key Set as published (SPEC §3.5).
func (c *Client) IssuerJWKS(ctx context.Context, issuerID string) ([]byte, error) {
	return c.raw(ctx, "/issuers/"+escape(issuerID)+"/jwks.json", "application/json")
}

// IssuerKeys fetches an issuer's JWKS and parses it into P-256 keys by kid,
// ready for a credentials.TrustStore.
func (c *Client) IssuerKeys(ctx context.Context, issuerID string) (map[string]*ecdsa.PublicKey, error) {
	b, err := c.IssuerJWKS(ctx, issuerID)
	if err != nil {
		return nil, err
	}
	keys, err := credentials.ParseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", issuerID, err)
	}
	return keys, nil
}

// IssuerMetadata is SD-JWT VC issuer metadata (SD-JWT VC draft §5):
// the issuer identifier and its keys, by reference or by value.
type IssuerMetadata struct {
	Issuer  string         `json:"issuer"`
	JWKSURI string         `json:"jwks_uri,omitempty"`
	JWKS    jsontext.Value `json:"jwks,omitempty"`
}

// IssuerMetadata fetches GET /.well-known/jwt-vc-issuer/issuers/{id}.
func (c *Client) IssuerMetadata(ctx context.Context, issuerID string) (*IssuerMetadata, error) {
	var out IssuerMetadata
	if err := c.do(ctx, "", http.MethodGet, "/.well-known/jwt-vc-issuer/issuers/"+escape(issuerID), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StatusList fetches an issuer's Token Status List JWT (typ statuslist+jwt,
// SPEC §3.5). Verify it with credentials before trusting it.
func (c *Client) StatusList(ctx context.Context, issuerID string, list int) (string, error) {
	b, err := c.raw(ctx, "/status-lists/"+escape(issuerID)+"/"+strconv.Itoa(list), "application/statuslist+jwt")
	return string(b), err
}

// raw GETs path and returns its body (capped).
func (c *Client) raw(ctx context.Context, path, accept string) ([]byte, error) {
	cl := &call{method: http.MethodGet, path: path, accept: accept}
	resp, err := c.roundTrip(ctx, cl, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readCapped(resp.Body, c.maxBody)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return b, nil
}

// Types lists the credential types (GET /v1/types): names in each
// language, the URL of each one's type metadata, and the claims an issuer
// sends as a JSON Schema object.
func (c *Client) Types(ctx context.Context) ([]api.CredentialType, error) {
	var out api.CredentialTypes
	if err := c.do(ctx, "", http.MethodGet, "/v1/types", nil, &out); err != nil {
		return nil, err
	}
	return out.Types, nil
}

// TypeMetadata fetches the SD-JWT VC Type Metadata this service publishes
// for vct (GET /vct/{vct}, draft-ietf-oauth-sd-jwt-vc-18 §4).
func (c *Client) TypeMetadata(ctx context.Context, vct string) (*credentials.TypeMetadata, error) {
	var out credentials.TypeMetadata
	if err := c.do(ctx, "", http.MethodGet, "/vct/"+escape(vct), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
