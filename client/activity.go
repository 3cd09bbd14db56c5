package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
)

// ServiceJWKS fetches GET /.well-known/jwks.json, the service's own key set:
// the key that signs activity checkpoints (SPEC §3.6).
func (c *Client) ServiceJWKS(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, "/.well-known/jwks.json", "application/json")
}

// ExportActivityJSON returns GET /v1/me/activity?export=1 as the service
// sent it: what CheckActivityExport checks and what a citizen keeps.
func (h *Holder) ExportActivityJSON(ctx context.Context) ([]byte, error) {
	var raw jsontext.Value
	if err := h.do(ctx, http.MethodGet, "/v1/me/activity", url.Values{"export": {"1"}}, nil, &raw, max(exportMaxBytes, h.c.maxBody)); err != nil {
		return nil, err
	}
	return raw, nil
}

// ActivityCheck is what CheckActivityExport found.
type ActivityCheck struct {
	Entries int    // entries in the export
	Head    string // the last entry's hash ("" when there is none)
	// Chain is nil when every entry's hash recomputes and links to the
	// entry before it, from the first entry of the log.
	Chain error
	// Checkpoint is nil when the checkpoint verifies against the JWKS and
	// names the issuer, the entries' holder, their count and Head.
	Checkpoint error
	// Signed is the checkpoint's payload once its signature verified, and
	// Kid the key that signed it.
	Signed *api.ActivityCheckpoint
	Kid    string
}

// OK reports whether both the chain and the checkpoint verified.
func (r *ActivityCheck) OK() bool { return r.Chain == nil && r.Checkpoint == nil }

// Err is nil when OK, else what failed.
func (r *ActivityCheck) Err() error {
	var errs []error
	if r.Chain != nil {
		errs = append(errs, fmt.Errorf("chain: %w", r.Chain))
	}
	if r.Checkpoint != nil {
		errs = append(errs, fmt.Errorf("checkpoint: %w", r.Checkpoint))
	}
	return errors.Join(errs...)
}

// CheckActivityExport checks an activity export (the body of
// GET /v1/me/activity?export=1) without taking the service's word for it
// (SPEC §3.6, THREATS T29), the way any reader can with any JSON library:
//
//   - each entry is decoded as a plain JSON object, its hash member taken
//     out, the rest put in RFC 8785 canonical form and hashed with SHA-256;
//     the lower-case hex must be the entry's hash;
//   - entries run seq 1, 2, 3, … and each prev is the hash of the entry
//     before ("" for the first), all of one holder;
//   - the checkpoint is an ES256 JWS of typ activity-checkpoint+jwt that
//     verifies with a key of jwks (the service's, from
//     /.well-known/jwks.json, obtained by a channel the reader trusts),
//     whose iss is issuer (the service's public URL), whose sub is the
//     entries' holder, and whose count and head are the export's.
//
// The service's own chain_valid is ignored. The error is for input that is
// not an export at all; a failed check is in the ActivityCheck.
func CheckActivityExport(export, jwks []byte, issuer string) (*ActivityCheck, error) {
	// Duplicate member names would let two readers see two different
	// exports: refuse them before decoding (encoding/json keeps the last).
	if !jsontext.Value(export).IsValid() {
		return nil, errors.New("activity export is not valid JSON (or repeats a member name)")
	}
	var doc struct {
		Entries    []jsontext.Value `json:"entries"`
		Checkpoint string           `json:"checkpoint"`
	}
	if err := json.Unmarshal(export, &doc); err != nil {
		return nil, fmt.Errorf("activity export: %w", err)
	}
	if doc.Entries == nil {
		return nil, errors.New("activity export has no entries member")
	}
	entries := make([]map[string]any, len(doc.Entries))
	for i, raw := range doc.Entries {
		if err := json.Unmarshal(raw, &entries[i]); err != nil || entries[i] == nil {
			return nil, fmt.Errorf("activity export: entry %d is not a JSON object", i+1)
		}
	}
	r := &ActivityCheck{Entries: len(entries), Chain: checkChain(entries)}
	var holder string
	if n := len(entries); n > 0 {
		holder, _ = entries[0]["holder_id"].(string)
		r.Head, _ = entries[n-1]["hash"].(string)
	}
	r.Signed, r.Kid, r.Checkpoint = checkCheckpoint(doc.Checkpoint, jwks)
	if r.Checkpoint == nil {
		cp := r.Signed
		switch {
		case cp.Iss != strings.TrimRight(issuer, "/"):
			r.Checkpoint = fmt.Errorf("signed by %q, not %q", cp.Iss, issuer)
		case cp.Count != r.Entries:
			r.Checkpoint = fmt.Errorf("signed for %d entries, the export has %d", cp.Count, r.Entries)
		case cp.Head != r.Head:
			r.Checkpoint = fmt.Errorf("signed for head %q, the export ends in %q", cp.Head, r.Head)
		case r.Entries > 0 && cp.Sub != holder:
			r.Checkpoint = fmt.Errorf("signed for holder %q, the entries are %q's", cp.Sub, holder)
		case cp.Iat <= 0:
			r.Checkpoint = errors.New("signed without iat")
		}
	}
	return r, nil
}

// checkChain recomputes the chain of entries, oldest first: seq 1, 2, 3,
// …, one holder, each prev the hash before and each hash recomputed.
func checkChain(entries []map[string]any) error {
	var holder, prev string
	for i, m := range entries {
		hash, _ := m["hash"].(string)
		id, _ := m["holder_id"].(string)
		if seq, ok := m["seq"].(float64); !ok || seq != float64(i+1) {
			return fmt.Errorf("entry %d has seq %v", i+1, m["seq"])
		}
		if p, ok := m["prev"].(string); !ok || p != prev {
			return fmt.Errorf("entry %d: prev %v is not the hash of the entry before (%q)", i+1, m["prev"], prev)
		}
		if i == 0 {
			holder = id
		} else if id != holder {
			return fmt.Errorf("entry %d belongs to holder %q, not %q", i+1, id, holder)
		}
		without := make(map[string]any, len(m))
		for k, v := range m {
			if k != "hash" {
				without[k] = v
			}
		}
		got, err := canonicalSHA256(without)
		if err != nil {
			return fmt.Errorf("entry %d: %w", i+1, err)
		}
		if got != hash && legacyAt(without) {
			got, _ = canonicalSHA256(without)
		}
		if hash == "" || got != hash {
			return fmt.Errorf("entry %d: hash %q, recomputed %q", i+1, hash, got)
		}
		prev = hash
	}
	return nil
}

// legacyAt rewrites the at of entry m in the form entries appended before
// every answer wrote times in api.TimeLayout were hashed in: RFC 3339 in
// UTC with the trailing fractional zeros dropped (docs/security.md, "The
// hash rule"). It reports whether that changed at; an at not in
// api.TimeLayout, the one form exports write, is left as it is.
func legacyAt(m map[string]any) bool {
	at, _ := m["at"].(string)
	t, err := time.Parse(api.TimeLayout, at)
	if err != nil || t.Format(api.TimeLayout) != at {
		return false
	}
	legacy := t.UTC().Format(time.RFC3339Nano)
	m["at"] = legacy
	return legacy != at
}

// canonicalSHA256 is the lower-case hex SHA-256 of the RFC 8785 form of v.
func canonicalSHA256(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	c := jsontext.Value(b)
	if err := c.Canonicalize(); err != nil {
		return "", fmt.Errorf("canonicalize: %w", err)
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// checkCheckpoint verifies the checkpoint's signature with a key of jwks.
func checkCheckpoint(token string, jwks []byte) (*api.ActivityCheckpoint, string, error) {
	if token == "" {
		return nil, "", errors.New("the export carries no checkpoint")
	}
	keys, err := credentials.ParseJWKS(jwks)
	if err != nil {
		return nil, "", fmt.Errorf("service keys: %w", err)
	}
	var cp api.ActivityCheckpoint
	var used string
	err = credentials.VerifyJWT(token, api.TypActivityCheckpoint, func(kid, _ string) (*ecdsa.PublicKey, error) {
		k, ok := keys[kid]
		if !ok {
			return nil, fmt.Errorf("kid %q is not in the service's key set", kid)
		}
		used = kid
		return k, nil
	}, &cp)
	if err != nil {
		return nil, "", err
	}
	return &cp, used, nil
}
