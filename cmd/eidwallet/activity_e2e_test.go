package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/go-json-experiment/json"
)

// TestActivityExportChecksIndependently drives `serve` through run() and
// checks a holder's activity export only with what anyone has: the export's
// bytes, the service key published at /.well-known/jwks.json (fetched
// without credentials) and client.CheckActivityExport, which decodes each
// entry into a plain map and recomputes its RFC 8785 hash (SPEC §3.6,
// THREATS T29). Every alteration below fails the check; the CLI says so too.
func TestActivityExportChecksIndependently(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, &syncBuffer{})
	defer srv.stop()
	ctx := context.Background()
	c := client.New(srv.url)
	e := &e2e{t: t, ctx: ctx, c: c, dataDir: dataDir}
	admin := c.Admin(e.adminToken())
	_, err := admin.CreateIssuer(ctx, api.CreateIssuerRequest{ID: "mps", Name: "MPS", Types: []string{"national_id"}})
	e.must(err)
	key, err := admin.CreateIssuerAPIKey(ctx, "mps")
	e.must(err)
	cred, err := c.Issuer(key.Key).Issue(ctx, api.IssueRequest{CitizenID: citizenA, Type: "national_id",
		Claims: claimsA["national_id"], ExpiresAt: time.Now().AddDate(5, 0, 0)})
	e.must(err)
	e.admin = admin
	holder := e.enrol(citizenA, "A's phone")
	v, err := admin.CreateVerifier(ctx, api.CreateVerifierRequest{ID: "shop-one", Name: "Shop one", Category: "retail",
		Claims: map[string][]string{"national_id": {"full_name", "age_over_18"}}})
	e.must(err)
	sh, err := holder.ShareAndApprove(ctx, api.ShareRequest{Items: []api.ShareRequestItem{
		{CredentialID: cred.CredentialID, Claims: []string{"full_name", "age_over_18"}}}})
	e.must(err)
	_, err = c.Verifier(v.APIKey.Key).Verify(ctx, sh.QRText)
	e.must(err)

	t.Run("the service JWKS is public", func(t *testing.T) {
		resp, err := http.Get(srv.url + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/jwk-set+json" ||
			resp.Header.Get("Cache-Control") != "public, max-age=300" {
			t.Fatalf("GET /.well-known/jwks.json without credentials: %d %s %q\n%s", resp.StatusCode,
				resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), body)
		}
		keys, err := credentials.ParseJWKS(body)
		if err != nil || len(keys) != 1 || bytes.Contains(body, []byte(`"d"`)) {
			t.Fatalf("service JWKS: %v, %d keys\n%s", err, len(keys), body)
		}
	})

	jwks, err := c.ServiceJWKS(ctx)
	e.must(err)
	export, err := holder.ExportActivityJSON(ctx)
	e.must(err)
	chk, err := client.CheckActivityExport(export, jwks, srv.url)
	e.must(err)
	if !chk.OK() {
		t.Fatalf("the export as sent does not check: %v", chk.Err())
	}
	// credential_issued, device_enrolled, share_approved, share_redeemed.
	if chk.Entries != 4 || chk.Signed.Sub != holder.Device().HolderID || chk.Signed.Count != 4 || chk.Signed.Iss != srv.url {
		t.Fatalf("check %+v, signed %+v; want 4 entries of holder %s", chk, chk.Signed, holder.Device().HolderID)
	}
	if hdr := jwsHeader(t, exportCheckpoint(t, export)); hdr["typ"] != api.TypActivityCheckpoint || hdr["alg"] != "ES256" || hdr["kid"] != chk.Kid {
		t.Errorf("checkpoint header %v", hdr)
	}

	// A later export, two events longer, to replay checkpoints across.
	e.must(holder.CancelShare(ctx, mustShare(t, holder, cred.CredentialID)))
	later, err := holder.ExportActivityJSON(ctx)
	e.must(err)
	if chk, err := client.CheckActivityExport(later, jwks, srv.url); err != nil || !chk.OK() || chk.Entries != 6 {
		t.Fatalf("the later export: %+v %v", chk, err)
	}

	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherJWKS, err := credentials.JWKS(&otherKey.PublicKey)
	e.must(err)
	accessToken, err := holder.AccessToken(ctx)
	e.must(err)

	tests := []struct {
		name       string
		export     []byte
		jwks       []byte
		issuer     string
		chain, cpt bool   // which checks must pass
		why        string // in the error of the one that fails
	}{
		{"as sent", export, jwks, srv.url, true, true, ""},
		{"re-encoded by another library, members reordered, indented", edit(t, export, func(m map[string]any) {}), jwks, srv.url, true, true, ""},
		{"an entry edited", edit(t, export, func(m map[string]any) { entry(m, 1)["outcome"] = "declined" }), jwks, srv.url, false, true, "entry 2: hash"},
		{"a claim added to an entry", edit(t, export, func(m map[string]any) {
			en := entry(m, 3)
			en["claims"] = append(en["claims"].([]any), "id_number")
		}), jwks, srv.url, false, true, "entry 4: hash"},
		{"the last entry edited and its hash recomputed", edit(t, export, func(m map[string]any) {
			en := entry(m, 3)
			en["verifier_id"] = "someone-else"
			en["hash"] = rehash(t, en)
		}), jwks, srv.url, true, false, "signed for head"},
		{"the last entry dropped", edit(t, export, func(m map[string]any) {
			m["entries"] = m["entries"].([]any)[:3]
		}), jwks, srv.url, true, false, "signed for 4 entries, the export has 3"},
		{"the first entry dropped", edit(t, export, func(m map[string]any) {
			m["entries"] = m["entries"].([]any)[1:]
		}), jwks, srv.url, false, false, "entry 1 has seq 2"},
		{"checkpoint signature altered", edit(t, export, func(m map[string]any) {
			m["checkpoint"] = alterSignature(m["checkpoint"].(string))
		}), jwks, srv.url, true, false, "invalid_signature"},
		{"checkpoint payload altered", edit(t, export, func(m map[string]any) {
			parts := strings.Split(m["checkpoint"].(string), ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			payload = bytes.Replace(payload, []byte(`"count":4`), []byte(`"count":3`), 1)
			m["checkpoint"] = parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
			m["entries"] = m["entries"].([]any)[:3]
		}), jwks, srv.url, true, false, "invalid_signature"},
		{"checkpoint removed", edit(t, export, func(m map[string]any) { delete(m, "checkpoint") }), jwks, srv.url, true, false, "no checkpoint"},
		{"an older checkpoint on a later export", edit(t, later, func(m map[string]any) {
			m["checkpoint"] = exportCheckpoint(t, export)
		}), jwks, srv.url, true, false, "signed for 4 entries, the export has 6"},
		{"a later checkpoint on an older export", edit(t, export, func(m map[string]any) {
			m["checkpoint"] = exportCheckpoint(t, later)
		}), jwks, srv.url, true, false, "signed for 6 entries, the export has 4"},
		{"an access token as checkpoint", edit(t, export, func(m map[string]any) { m["checkpoint"] = accessToken }), jwks, srv.url, true, false, "invalid_typ"},
		{"another key's JWKS", export, otherJWKS, srv.url, true, false, "is not in the service's key set"},
		{"another service's URL", export, jwks, "https://wallet.example", true, false, "not \"https://wallet.example\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chk, err := client.CheckActivityExport(tt.export, tt.jwks, tt.issuer)
			if err != nil {
				t.Fatal(err)
			}
			if (chk.Chain == nil) != tt.chain || (chk.Checkpoint == nil) != tt.cpt || chk.OK() != (tt.chain && tt.cpt) {
				t.Errorf("chain error %v, checkpoint error %v; want chain ok %v, checkpoint ok %v", chk.Chain, chk.Checkpoint, tt.chain, tt.cpt)
			}
			if err := chk.Err(); (err == nil) != (tt.why == "") || err != nil && !strings.Contains(err.Error(), tt.why) {
				t.Errorf("error %v, want one saying %q", err, tt.why)
			}
		})
	}

	t.Run("a repeated member is refused", func(t *testing.T) {
		dup := bytes.Replace(export, []byte(`"outcome":"ok"`), []byte(`"outcome":"ok","outcome":"declined"`), 1)
		if _, err := client.CheckActivityExport(dup, jwks, srv.url); err == nil {
			t.Error("an export with a repeated member name was taken")
		}
	})

	t.Run("cli", func(t *testing.T) {
		devFile := filepath.Join(t.TempDir(), "device.json")
		e.must(holder.Device().Save(devFile))
		var out, errOut bytes.Buffer
		code := run(ctx, []string{"holder", "--device", devFile, "activity", "--export"}, func(string) string { return "" },
			strings.NewReader(""), &out, &errOut)
		if code != exitOK || !strings.Contains(errOut.String(), "activity chain intact: 6 entries") ||
			!strings.Contains(errOut.String(), "activity checkpoint verified: 6 entries") {
			t.Fatalf("holder activity --export: exit %d\n%s", code, errOut.String())
		}
		if chk, err := client.CheckActivityExport(out.Bytes(), jwks, srv.url); err != nil || !chk.OK() {
			t.Errorf("the CLI's output does not check: %v %v", err, chk.Err())
		}
	})
}

// mustShare makes a share of one claim and returns its id.
func mustShare(t *testing.T, h *client.Holder, credentialID string) string {
	t.Helper()
	sh, err := h.ShareAndApprove(context.Background(), api.ShareRequest{Items: []api.ShareRequestItem{
		{CredentialID: credentialID, Claims: []string{"age_over_18"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return sh.ShareID
}

// edit decodes an export, lets f change it and encodes it again, indented,
// with the library's defaults (members in no set order, <, > and & not
// escaped): member order and escaping change on the way.
func edit(t *testing.T, export []byte, f func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(export, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m, jsontext.WithIndent("   "))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func entry(m map[string]any, i int) map[string]any { return m["entries"].([]any)[i].(map[string]any) }

// rehash is what an editor who knows the public rule computes: SHA-256 of
// the RFC 8785 form of the entry without hash.
func rehash(t *testing.T, en map[string]any) string {
	t.Helper()
	c := map[string]any{}
	for k, v := range en {
		if k != "hash" {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	v := jsontext.Value(b)
	if err := v.Canonicalize(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(v)
	return hex.EncodeToString(sum[:])
}

func exportCheckpoint(t *testing.T, export []byte) string {
	t.Helper()
	var r api.ActivityResponse
	if err := json.Unmarshal(export, &r); err != nil || r.Checkpoint == "" {
		t.Fatalf("export without checkpoint: %v", err)
	}
	return r.Checkpoint
}

// jwsHeader decodes the protected header of a compact JWS.
func jwsHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// alterSignature flips one bit of a compact JWS's signature.
func alterSignature(token string) string {
	i := strings.LastIndex(token, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(token[i+1:])
	sig[10] ^= 1
	return token[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}
