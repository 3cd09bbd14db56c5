package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/veraison/go-cose"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/offline"
)

// The independent decoder of issue 12 ("an independent decoder in CI …
// verifies our EIDC1: codes against the published bundle"):
// offline/testdata/interop/verify.mjs reads the code and the bundle with
// base45, cbor-x and @auth0/cose, none of our code, and must accept what
// the running service mints and refuse each tampering for the reason our
// offline package gives.

const offlineInteropDir = "../../offline/testdata/interop"

// nodeOffline is what verify.mjs prints.
type nodeOffline struct {
	Valid  bool           `json:"valid"`
	Reason string         `json:"reason"`
	Detail string         `json:"detail"`
	Claims map[string]any `json:"claims"`
	Type   string         `json:"type"`
	Issuer string         `json:"issuer"`
	Status *int           `json:"status"`
}

func TestOfflineInteropNode(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed (apt-get install -y nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(offlineInteropDir, "node_modules", "@auth0", "cose", "package.json")); err != nil {
		t.Skip("interop packages not installed: npm ci --prefix offline/testdata/interop (make interop-deps)")
	}
	ctx := context.Background()
	f := newOfflineWorld(t)
	c, holder, issued := f.c, f.holder, f.issued
	issuer := c.Issuer(f.issuerKey)
	view := must(holder.ShareAndApprove(ctx, api.ShareRequest{Offline: true, Items: []api.ShareRequestItem{{
		CredentialID: issued.CredentialID, Claims: []string{"age_over_18", "full_name"}}}}))
	text := view.OfflineQRText
	if !strings.HasPrefix(text, offline.Prefix) {
		t.Fatalf("approved: %+v", view)
	}

	// The service key as published: the JWKS holds the one P-256 key.
	jwksRaw := must(c.ServiceJWKS(ctx))
	var jwks struct {
		Keys []jsontext.Value `json:"keys"`
	}
	if err := json.Unmarshal(jwksRaw, &jwks); err != nil || len(jwks.Keys) != 1 {
		t.Fatalf("service JWKS: %s (%v)", jwksRaw, err)
	}
	serviceKeys := must(parseJWKSKeys(jwksRaw))
	bundle := must(c.TrustBundle(ctx))
	now := time.Now()

	serviceJWK := jwks.Keys[0]
	node := func(text string, bundle []byte, now time.Time) nodeOffline {
		t.Helper()
		in, _ := json.Marshal(map[string]any{"code": text, "bundle_b64": base64.StdEncoding.EncodeToString(bundle),
			"service_jwk": serviceJWK, "now": now.Unix()})
		cmd := exec.Command("node", "verify.mjs")
		cmd.Dir = offlineInteropDir
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("verify.mjs: %v\n%s", err, stderr.String())
		}
		var r nodeOffline
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("verify.mjs printed %s (%v)", out, err)
		}
		return r
	}
	// ours is offline's verdict on the same input: the two must agree.
	ours := func(text string, bundle []byte, now time.Time) string {
		b, err := offline.ReadBundle(bundle, serviceKeys, now)
		if err == nil {
			_, err = b.Verify(text, now)
		}
		return string(offline.ReasonOf(err))
	}
	refused := func(name, text string, bundle []byte, now time.Time, want string) nodeOffline {
		t.Helper()
		r := node(text, bundle, now)
		t.Logf("%s: %s (%s)", name, r.Reason, r.Detail)
		if r.Valid || r.Reason == "" || (want != "" && r.Reason != want) || len(r.Claims) != 0 {
			t.Errorf("%s: the Node decoder answered %v, want %q", name, r, want)
		}
		if got := ours(text, bundle, now); got != r.Reason {
			t.Errorf("%s: the Node decoder says %q (%s), offline says %q", name, r.Reason, r.Detail, got)
		}
		return r
	}

	// Valid, with the claims disclosed and the credential's status read.
	r := node(text, bundle, now)
	if !r.Valid || r.Reason != "" || r.Type != credentials.NationalID || r.Issuer != "mps" || r.Status == nil || *r.Status != 0 ||
		len(r.Claims) != 2 || r.Claims["age_over_18"] != true || r.Claims["full_name"] != claimsA[credentials.NationalID]["full_name"] {
		t.Fatalf("the Node decoder refused our code: %v", r)
	}
	if got := ours(text, bundle, now); got != "" {
		t.Fatalf("offline refused the code: %s", got)
	}

	// What the tamperings below start from: our reading of the code.
	b := must(offline.ReadBundle(bundle, serviceKeys, now))
	attesterKid := offline.KeyID(b.Attesters[0].Key)
	share, _ := must2(offline.Parse(text, func([]byte) (*ecdsa.PublicKey, error) { return b.Attesters[0].Key, nil }, now, time.Minute))
	t.Logf("code of %d characters, status list %d index %d; bundle of %d bytes", len(text), share.StatusList, share.StatusIndex, len(bundle))
	raw := decode45ForTest(t, strings.TrimPrefix(text, offline.Prefix))
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(raw); err != nil {
		t.Fatal(err)
	}
	fresh := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	sign := func(kid, payload []byte) string {
		s := must(cose.NewSigner(cose.AlgorithmES256, fresh))
		m := cose.NewSign1Message()
		m.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
		m.Headers.Protected[cose.HeaderLabelKeyID] = kid
		m.Payload = payload
		if err := m.Sign(rand.Reader, nil, s); err != nil {
			t.Fatal(err)
		}
		return offline.Prefix + encode45ForTest(must(m.MarshalCBOR()))
	}

	i := len(text) - 10 // in the signature
	changed := text[:i] + map[bool]string{true: "1", false: "0"}[text[i] == '0'] + text[i+1:]
	refused("a character changed", changed, bundle, now, "")
	claim := msg // the signature kept, a claim's value changed
	claim.Payload = bytes.Replace(msg.Payload, []byte("Testcase"), []byte("Testcasf"), 1)
	if bytes.Equal(claim.Payload, msg.Payload) {
		t.Fatal("the full name is not in the payload")
	}
	refused("a claim changed", offline.Prefix+encode45ForTest(must(claim.MarshalCBOR())), bundle, now, "invalid_signature")
	refused("expired", text, bundle, now.Add(5*time.Minute), "expired")
	refused("the clock set back before the bundle", text, bundle, now.Add(-2*time.Hour), "cannot_verify_offline")
	// At its maximum age the bundle still holds (the code has expired by
	// then); a second later it cannot verify offline.
	edge := b.IssuedAt.Add(b.MaxAge)
	refused("the bundle at its maximum age", text, bundle, edge, "expired")
	refused("the bundle older than its maximum age", text, bundle, edge.Add(time.Second), "cannot_verify_offline")
	other := *share
	other.CTI = must(randomBytes(16))
	otherText := must(offline.Sign(rand.Reader, fresh, other))
	refused("signed by another key", otherText, bundle, now, "unknown_key")
	refused("another key under the attester's kid", sign(attesterKid, msg.Payload), bundle, now, "invalid_signature")
	refused("not a code", "EIDC1:ABCDEF", bundle, now, "")
	refused("outside base45", text[:len(text)-3]+"abc", bundle, now, "malformed")
	// The bundle itself: a byte of it changed, or another service key.
	changedBundle := bytes.Replace(bundle, []byte("Ministry"), []byte("Ministrz"), 1)
	if bytes.Equal(changedBundle, bundle) {
		t.Fatal("the issuer's name is not in the bundle")
	}
	refused("the bundle changed", text, changedBundle, now, "invalid_signature")
	pub := must(fresh.PublicKey.Bytes())
	enc := base64.RawURLEncoding.EncodeToString
	serviceJWK, serviceKeys = must(json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "x": enc(pub[1:33]), "y": enc(pub[33:])})),
		[]*ecdsa.PublicKey{&fresh.PublicKey}
	refused("the bundle checked with another service key", text, bundle, now, "unknown_key")
	serviceJWK, serviceKeys = jwks.Keys[0], must(parseJWKSKeys(jwksRaw))

	// Suspended, then revoked: a bundle fetched after each refuses the
	// code, the status read from the issuer's list.
	last := bundle
	for _, st := range []struct {
		status, reason string
		value          int
	}{{api.StatusSuspended, "credential_suspended", 2}, {api.StatusRevoked, "credential_revoked", 1}} {
		must(issuer.SetStatus(ctx, issued.CredentialID, api.StatusRequest{Status: st.status}))
		var next []byte
		for range 50 { // the bundle is kept in memory for a while; a status change drops it
			if next = must(c.TrustBundle(ctx)); !bytes.Equal(next, last) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if bytes.Equal(next, last) {
			t.Fatalf("%s: the bundle did not change", st.status)
		}
		last = next
		now := time.Now()
		if r := refused(st.status, text, next, now, st.reason); r.Status == nil || *r.Status != st.value || r.Type != credentials.NationalID {
			t.Errorf("%s: %v, want status %d", st.status, r, st.value)
		}
	}
}

func parseJWKSKeys(b []byte) ([]*ecdsa.PublicKey, error) {
	m, err := parseJWKS(b)
	var keys []*ecdsa.PublicKey
	for _, k := range m {
		keys = append(keys, k)
	}
	return keys, err
}

// String shows the status read, "none" for none.
func (r nodeOffline) String() string {
	st := "none"
	if r.Status != nil {
		st = fmt.Sprint(*r.Status)
	}
	return fmt.Sprintf("valid %v, reason %q (%s), type %q, issuer %q, status %s, claims %v", r.Valid, r.Reason, r.Detail, r.Type, r.Issuer, st, r.Claims)
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := rand.Read(b)
	return b, err
}

// The test's own base45 (RFC 9285 §4), to re-encode a tampered COSE_Sign1.
const alphabet45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

func encode45ForTest(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i += 2 {
		if i+1 < len(b) {
			n := int(b[i])<<8 | int(b[i+1])
			sb.WriteByte(alphabet45[n%45])
			sb.WriteByte(alphabet45[n/45%45])
			sb.WriteByte(alphabet45[n/2025])
		} else {
			sb.WriteByte(alphabet45[int(b[i])%45])
			sb.WriteByte(alphabet45[int(b[i])/45])
		}
	}
	return sb.String()
}

func decode45ForTest(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for i := 0; i < len(s); i += 3 {
		n, w := 0, 1
		for j := i; j < min(i+3, len(s)); j++ {
			n += strings.IndexByte(alphabet45, s[j]) * w
			w *= 45
		}
		if i+2 < len(s) {
			out = append(out, byte(n>>8))
		}
		out = append(out, byte(n))
	}
	if encode45ForTest(out) != s {
		t.Fatalf("not base45: %q", s)
	}
	return out
}
