package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// publicDocs are the public documents a CDN may cache: the status list of
// setup's credential, the issuer's keys and metadata, the trust list, the
// service key, the API description, the credential types and a type's
// metadata.
var publicDocs = []string{
	"/status-lists/vss/1",
	"/issuers/vss/jwks.json",
	"/.well-known/jwt-vc-issuer/issuers/vss",
	"/trust-list",
	"/.well-known/jwks.json",
	"/openapi.json",
	"/v1/types",
	"/v1/types/driver_licence",
	"/vct/urn:eidwallet:vct:national_id:1",
}

// conditional sends a GET (or HEAD) with If-None-Match inm (none when
// empty) and returns the response with its body read.
func (h *harness) conditional(method, path, inm string) (*http.Response, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if inm != "" {
		req.Header.Set("If-None-Match", inm)
	}
	// The identity representation, whose ETag is its bytes' (the gzip
	// one of a status list has a tag of its own: TestStatusListRoute).
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, readAll(h.t, resp)
}

// wantETag is the entity tag of body as documented: 96 bits of its
// SHA-256, base64url, quoted.
func wantETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
}

// TestPublicDocumentsRevalidate: every public document carries a strong
// ETag that is the digest of its exact bytes, the same on the next fetch,
// Cache-Control public with max-age 300 and CORS open; If-None-Match
// naming it (alone, weak, in a list, or *) is answered 304 with no body
// and the same validators, on GET and HEAD; another tag gets the 200
// (RFC 9110 §13.1.2, §15.4.5).
func TestPublicDocumentsRevalidate(t *testing.T) {
	h := newHarness(t)
	h.setup()
	for _, path := range publicDocs {
		t.Run(path, func(t *testing.T) {
			resp, body := h.conditional("GET", path, "")
			etag := resp.Header.Get("ETag")
			if resp.StatusCode != 200 || len(body) == 0 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if etag != wantETag(body) {
				t.Errorf("ETag %q, want %q, the digest of the body", etag, wantETag(body))
			}
			for name, want := range map[string]string{
				"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s %q, want %q", name, got, want)
				}
			}
			again, body2 := h.conditional("GET", path, "")
			if again.Header.Get("ETag") != etag || string(body2) != string(body) {
				t.Errorf("a second fetch has ETag %q and other bytes: not stable", again.Header.Get("ETag"))
			}
			for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
				for _, method := range []string{"GET", "HEAD"} {
					resp, body := h.conditional(method, path, inm)
					if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
						t.Errorf("%s If-None-Match %s: %d with %d bytes, want 304 and none", method, inm, resp.StatusCode, len(body))
					}
					if resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") != "public, max-age=300" {
						t.Errorf("%s If-None-Match %s: 304 with ETag %q Cache-Control %q", method, inm,
							resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
					}
				}
			}
			resp, body = h.conditional("GET", path, `"other"`)
			if resp.StatusCode != 200 || resp.Header.Get("ETag") != etag || len(body) == 0 {
				t.Errorf("If-None-Match of another tag: %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
			}
		})
	}
	// An error answer is never cacheable and has no validator.
	resp, _ := h.conditional("GET", "/status-lists/vss/2", "*")
	if resp.StatusCode != 404 || resp.Header.Get("ETag") != "" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("missing list: %d ETag %q Cache-Control %q", resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
	}
}

// TestPublicDocumentsChangeTheirETag: a revocation changes the status
// list at once on the replica that made it, and a key rotation the JWKS,
// the issuer metadata and the trust list: revalidating with the old tag
// gets a 200 with the new document and a new tag.
func TestPublicDocumentsChangeTheirETag(t *testing.T) {
	h := newHarness(t)
	w := h.setup()
	tags := map[string]string{}
	for _, path := range publicDocs {
		resp, _ := h.conditional("GET", path, "")
		tags[path] = resp.Header.Get("ETag")
	}
	changed := func(what string, paths ...string) map[string][]byte {
		t.Helper()
		bodies := map[string][]byte{}
		for _, path := range paths {
			resp, body := h.conditional("GET", path, tags[path])
			etag := resp.Header.Get("ETag")
			if resp.StatusCode != 200 || etag == tags[path] || etag != wantETag(body) {
				t.Errorf("%s: %s revalidated with the old tag: %d, ETag %q (was %q)", what, path, resp.StatusCode, etag, tags[path])
			}
			tags[path], bodies[path] = etag, body
		}
		return bodies
	}

	h.call("POST", "/v1/issuer/credentials/"+w.credential.CredentialID+"/status", w.issuerKey,
		api.StatusRequest{Status: "revoked", Reason: "card lost"}, 200, nil)
	u := must(url.Parse(w.credential.StatusList))
	token := string(changed("a revocation", u.Path)[u.Path])
	keys := must(credentials.ParseJWKS(must(h.svc.JWKS(context.Background(), "vss")).Body))
	trust := credentials.NewTrustStore()
	trust.AddIssuer(h.svc.IssuerURL("vss"), keys, "urn:eidwallet:vct:health_insurance:1")
	tok := must(credentials.VerifyStatusList(token, trust, w.credential.StatusList, h.clock.Now(), 0))
	if got := must(tok.List.Get(w.credential.StatusIndex)); got != credentials.StatusInvalid {
		t.Errorf("the new status list says %d, want revoked", got)
	}

	h.call("POST", "/v1/admin/issuers/vss/keys", h.admin, nil, 201, nil)
	bodies := changed("a key rotation", "/issuers/vss/jwks.json", "/.well-known/jwt-vc-issuer/issuers/vss", "/trust-list")
	if n := len(must(credentials.ParseJWKS(bodies["/issuers/vss/jwks.json"]))); n != 2 {
		t.Errorf("the JWKS after a rotation has %d keys, want 2", n)
	}
}

// TestPublicDocumentsServedFromMemory: once read, every public document
// is answered from the replica's memory for half its lifetime, the store
// unreachable, with max-age what remains of its lifetime; after that the
// replica reads the store again (here: 503, never a stale 200).
func TestPublicDocumentsServedFromMemory(t *testing.T) {
	store := &failingStore{Store: servicetest.Open(t)} // every read fails while armed
	h := newHarnessOver(t, store)
	h.setup()
	tags := map[string]string{}
	for _, path := range publicDocs {
		resp, _ := h.conditional("GET", path, "")
		tags[path] = resp.Header.Get("ETag")
	}
	store.armed.Store(true)
	h.clock.Advance(100 * time.Second)
	for _, path := range publicDocs {
		for _, inm := range []string{"", tags[path]} {
			resp, _ := h.conditional("GET", path, inm)
			want := http.StatusOK
			if inm != "" {
				want = http.StatusNotModified
			}
			if resp.StatusCode != want || resp.Header.Get("ETag") != tags[path] {
				t.Errorf("%s with the store down, If-None-Match %q: %d ETag %q, want %d from memory", path, inm, resp.StatusCode, resp.Header.Get("ETag"), want)
			}
			maxAge := "public, max-age=200" // 300 s from the read, 100 s later
			if !slices.Contains(publicDocs[:4], path) {
				maxAge = "public, max-age=300" // made from no store read: held in memory from the start
			}
			if cc := resp.Header.Get("Cache-Control"); cc != maxAge {
				t.Errorf("%s: Cache-Control %q, want %q", path, cc, maxAge)
			}
		}
	}
	h.clock.Advance(wallet.StatusListTTL/2 - 100*time.Second)
	for _, path := range publicDocs[:4] {
		resp, _ := h.conditional("GET", path, tags[path])
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s past half its lifetime with the store down: %d, want 503", path, resp.StatusCode)
		}
	}
	store.armed.Store(false)
	for _, path := range publicDocs[:4] {
		resp, _ := h.conditional("GET", path, "")
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=300" {
			t.Errorf("%s read again: %d Cache-Control %q", path, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
}
