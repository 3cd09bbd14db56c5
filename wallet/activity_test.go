package wallet_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/wallet"
)

// The activity log's hash rule (SPEC §3.6, docs/security.md "The activity
// log"): SHA-256 over the RFC 8785 canonical JSON of the entry as exported,
// without its hash member.

// docExample is the entry of the worked example in docs/security.md.
func docExample() *api.ActivityEntry {
	return &api.ActivityEntry{
		Seq: 4, HolderID: "hld_3kq7w2mzr5xg4y6pbnvd2c7haq",
		At:    time.Date(2026, 11, 27, 12, 0, 5, 250_000_000, time.UTC),
		Event: api.EventShareRedeemed, Outcome: "ok",
		VerifierID: "shop-one", ShareID: "shr_b4jz6x2q7mkf3wrn5tpy2ve6ga",
		Claims: []string{"national_id.full_name", "national_id.age_over_18"},
		Prev:   "9f2c3e5d1a7b4c6e8f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e",
	}
}

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// exported is the entry as GET /v1/me/activity?export=1 carries it.
func exported(t *testing.T, e *api.ActivityEntry) []byte {
	t.Helper()
	b, err := jsonv2.Marshal(e, wallet.AnswerOptions)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sha256Hex is lower-case hex SHA-256.
func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestEntryHashIsSHA256OfCanonicalJSON: EntryHash is SHA-256 over
// CanonicalEntry, and CanonicalEntry is what RFC 8785's reference
// implementation (npm canonicalize, run by node over JSON.parse of the
// exported entry minus hash) makes of it, byte for byte. Skipped, with the
// install command, without node or the package.
func TestEntryHashIsSHA256OfCanonicalJSON(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 5, 0, time.UTC)
	entries := []*api.ActivityEntry{
		docExample(),
		{Seq: 1, HolderID: "hld_a", At: at, Event: api.EventDeviceEnrolled, Outcome: "ok", DeviceID: "dev_x"},
		{Seq: 2, HolderID: "hld_a", At: at.Add(120 * time.Millisecond), Event: api.EventCredentialIssued, Outcome: "ok",
			IssuerID: "mps", CredentialID: "crd_y", Prev: strings.Repeat("ab", 32)},
		// Strings that libraries escape differently: HTML characters
		// (escaped by Go's encoding/json), non-ASCII, U+2028, a control
		// character, quotes and backslashes, a character outside the BMP.
		{Seq: 1 << 40, HolderID: "hld_<b>&amp;", At: at.Add(time.Millisecond), Event: "share_redeemed", Outcome: "claims_not_registered",
			VerifierID: "Nhà thuốc Long Châu", Claims: []string{"a\u2028b", "tab\there", `q"uote\back`, "😀", "é"}, Prev: ""},
	}
	for _, e := range entries {
		c := *e
		c.Hash = wallet.EntryHash(e)
		canonical, err := wallet.CanonicalEntry(&c)
		if err != nil {
			t.Fatal(err)
		}
		if !hexHash.MatchString(c.Hash) {
			t.Errorf("seq %d: EntryHash %q is not 64 lower-case hex digits", e.Seq, c.Hash)
		}
		if got := sha256Hex(canonical); got != c.Hash {
			t.Errorf("seq %d: EntryHash %s, SHA-256 of CanonicalEntry %s", e.Seq, c.Hash, got)
		}
		if bytes.Contains(canonical, []byte(`"hash"`)) {
			t.Errorf("seq %d: the canonical form holds the hash member: %s", e.Seq, canonical)
		}
	}

	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not on PATH: install Node.js >= 20, then run `make interop-deps` (npm ci --prefix wallet/testdata/jcs)")
	}
	const dir = "testdata/jcs"
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "canonicalize", "package.json")); err != nil {
		t.Skip("npm package canonicalize not installed: run `make interop-deps` (npm ci --prefix wallet/testdata/jcs)")
	}
	var in struct {
		Entries []string `json:"entries"`
	}
	for _, e := range entries {
		c := *e
		c.Hash = wallet.EntryHash(e)
		in.Entries = append(in.Entries, string(exported(t, &c)))
	}
	stdin, _ := json.Marshal(in)
	cmd := exec.CommandContext(t.Context(), node, "jcs.mjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node jcs.mjs: %v\n%s", err, stderr.String())
	}
	var res struct {
		Results []struct {
			Canonical string `json:"canonical"`
			SHA256    string `json:"sha256"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Results) != len(entries) {
		t.Fatalf("node answered %d results (%v): %s", len(res.Results), err, out)
	}
	for i, e := range entries {
		canonical, _ := wallet.CanonicalEntry(e)
		if got := res.Results[i]; got.Canonical != string(canonical) || got.SHA256 != wallet.EntryHash(e) {
			t.Errorf("seq %d:\n go   %s %s\n node %s %s", e.Seq, canonical, wallet.EntryHash(e), got.Canonical, got.SHA256)
		}
	}
}

// TestEntryJSONForm pins the members an entry's JSON carries, as
// docs/security.md lists them: always seq, holder_id, at, event, outcome,
// prev and hash; the others only when not empty. A new member must be added
// to the documentation with this list.
func TestEntryJSONForm(t *testing.T) {
	members := func(e *api.ActivityEntry) []string {
		var m map[string]any
		if err := json.Unmarshal(exported(t, e), &m); err != nil {
			t.Fatal(err)
		}
		var names []string
		for k := range m {
			names = append(names, k)
		}
		slices.Sort(names)
		return names
	}
	always := []string{"at", "event", "hash", "holder_id", "outcome", "prev", "seq"}
	if got := members(&api.ActivityEntry{}); !slices.Equal(got, always) {
		t.Errorf("members of an entry with nothing set: %v, want %v", got, always)
	}
	full := &api.ActivityEntry{Seq: 1, HolderID: "h", At: time.Unix(0, 0), Event: "e", Outcome: "o", VerifierID: "v", IssuerID: "i",
		CredentialID: "c", ShareID: "s", DeviceID: "d", Claims: []string{"x"}, Prev: "p", Hash: "h"}
	all := append(slices.Clone(always), "claims", "credential_id", "device_id", "issuer_id", "share_id", "verifier_id")
	slices.Sort(all)
	if got := members(full); !slices.Equal(got, all) {
		t.Errorf("members of an entry with everything set: %v, want %v (document any new member in docs/security.md)", got, all)
	}
}

// TestActivityTimesUTCMilliseconds: whatever the clock's zone and
// precision, an appended entry's at is UTC truncated to the millisecond,
// and exported in api.TimeLayout (RFC 3339, "Z", three fractional digits).
func TestActivityTimesUTCMilliseconds(t *testing.T) {
	e := newEnv(t)
	e.now = time.Date(2026, 11, 27, 19, 0, 5, 123_456_789, time.FixedZone("ICT", 7*3600))
	r := e.issue(t, "001090000005")
	p := e.holderOf(t, r.CredentialID)
	got, err := e.svc.Activity(context.Background(), p, true, api.Page{})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 27, 12, 0, 5, 123_000_000, time.UTC)
	if len(got.Entries) != 1 || !got.Entries[0].At.Equal(want) || got.Entries[0].At.Location() != time.UTC {
		t.Fatalf("entries %+v, want one at %s", got.Entries, want)
	}
	if b := exported(t, got.Entries[0]); !bytes.Contains(b, []byte(`"at":"2026-11-27T12:00:05.123Z"`)) {
		t.Errorf("exported entry %s, want at 2026-11-27T12:00:05.123Z", b)
	}
}

// TestChainChecksEntriesHashedBeforeTimeLayout: an entry appended before
// answers wrote every time in api.TimeLayout was hashed with at as
// encoding/json writes a time (trailing fractional zeros dropped). A chain
// of such an entry and a newer one checks, in the service (CheckChain) and
// for any reader of the export (client.CheckActivityExport); an edit of
// the old entry still breaks it, in both.
func TestChainChecksEntriesHashedBeforeTimeLayout(t *testing.T) {
	old := &api.ActivityEntry{Seq: 1, HolderID: "hld_x", At: time.Date(2026, 11, 27, 12, 0, 5, 250_000_000, time.UTC),
		Event: api.EventShareRedeemed, Outcome: "ok", ShareID: "shr_y"}
	old.Hash = legacyHash(t, old)
	if old.Hash == wallet.EntryHash(old) {
		t.Fatal("the two forms hash alike: this test would prove nothing")
	}
	next := &api.ActivityEntry{Seq: 2, HolderID: "hld_x", At: old.At.Add(time.Second), Event: api.EventShareRedeemed, Outcome: "ok",
		ShareID: "shr_z", Prev: old.Hash}
	next.Hash = wallet.EntryHash(next)
	readerChecks := func(entries ...*api.ActivityEntry) bool {
		export, err := jsonv2.Marshal(api.ActivityResponse{Entries: entries}, wallet.AnswerOptions)
		if err != nil {
			t.Fatal(err)
		}
		chk, err := client.CheckActivityExport(export, nil, "https://wallet.example")
		if err != nil {
			t.Fatal(err)
		}
		return chk.Chain == nil
	}
	if !wallet.CheckChain([]*api.ActivityEntry{old, next}) || !readerChecks(old, next) {
		t.Error("a chain whose first entry was hashed in the earlier form does not check")
	}
	edited := *old
	edited.Outcome = "refused"
	if wallet.CheckChain([]*api.ActivityEntry{&edited, next}) || readerChecks(&edited, next) {
		t.Error("an edited entry of the earlier form still checks")
	}
}

// legacyHash is e's hash as it was computed before api.TimeLayout: over
// the canonical form of e as encoding/json writes it.
func legacyHash(t *testing.T, e *api.ActivityEntry) string {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "hash")
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	v := jsontext.Value(b)
	if err := v.Canonicalize(); err != nil {
		t.Fatal(err)
	}
	return sha256Hex(v)
}

// TestEntryHashDocExample: the worked example in docs/security.md is the
// code's: the exported entry, its canonical form and its SHA-256 appear
// there byte for byte, so a reader recomputing them checks this code.
func TestEntryHashDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	e := docExample()
	e.Hash = wallet.EntryHash(e)
	canonical, err := wallet.CanonicalEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	for what, want := range map[string]string{
		"exported entry": string(exported(t, e)),
		"canonical form": string(canonical),
		"SHA-256":        e.Hash,
		"byte count":     fmt.Sprintf("these %d bytes", len(canonical)),
	} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("docs/security.md lacks the example's %s:\n%s", what, want)
		}
	}
}

// TestActivityCheckpoint: an export ends with a checkpoint signed by the
// service key of ServiceJWKS (typ activity-checkpoint+jwt, kid the key's
// thumbprint) over iss, sub, count, head and iat; an empty log gets one
// too; a chain broken in the store gets chain_valid false and none
// (SPEC §3.6, THREATS T29).
func TestActivityCheckpoint(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	jwks, err := e.svc.ServiceJWKS()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := credentials.ParseJWKS(jwks)
	if err != nil || len(keys) != 1 || keys[e.svc.ServiceKid()] == nil {
		t.Fatalf("service JWKS %s: %v", jwks, err)
	}
	if bytes.Contains(jwks, []byte(`"d"`)) {
		t.Fatal("the service JWKS holds a private key")
	}
	check := func(t *testing.T, resp *api.ActivityResponse, sub string) *api.ActivityCheckpoint {
		t.Helper()
		var cp api.ActivityCheckpoint
		err := credentials.VerifyJWT(resp.Checkpoint, api.TypActivityCheckpoint, func(kid, _ string) (*ecdsa.PublicKey, error) {
			if keys[kid] == nil {
				return nil, errors.New("unknown kid")
			}
			return keys[kid], nil
		}, &cp)
		if err != nil {
			t.Fatalf("checkpoint does not verify: %v", err)
		}
		head := ""
		if n := len(resp.Entries); n > 0 {
			head = resp.Entries[n-1].Hash
		}
		want := api.ActivityCheckpoint{Iss: e.svc.PublicURL(), Sub: sub, Count: len(resp.Entries), Head: head, Iat: e.now.Unix()}
		if cp != want {
			t.Errorf("checkpoint %+v, want %+v", cp, want)
		}
		return &cp
	}

	t.Run("empty log", func(t *testing.T) {
		resp, err := e.svc.Activity(ctx, &wallet.Principal{Role: api.RoleHolder, Subject: "hld_nobody"}, true, api.Page{})
		if err != nil {
			t.Fatal(err)
		}
		check(t, resp, "hld_nobody")
	})

	r := e.issue(t, "001090000006")
	e.issue(t, "001090000006")
	p := e.holderOf(t, r.CredentialID)
	t.Run("count and head", func(t *testing.T) {
		resp, err := e.svc.Activity(ctx, p, true, api.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if cp := check(t, resp, p.Subject); cp.Count != 2 {
			t.Errorf("count %d, want 2", cp.Count)
		}
		list, err := e.svc.Activity(ctx, p, false, api.Page{})
		if err != nil || list.Checkpoint != "" || list.ChainValid != nil {
			t.Errorf("the plain listing carries a checkpoint %q or a verdict %v (%v)", list.Checkpoint, list.ChainValid, err)
		}
	})

	t.Run("broken chain signs nothing", func(t *testing.T) {
		err := e.store.Update(ctx, func(tx wallet.Tx) error {
			return wallet.ActivityLog.Put(tx, &api.ActivityEntry{Seq: 3, HolderID: p.Subject, At: e.now, Event: api.EventShareRedeemed,
				Outcome: "ok", Prev: "forged", Hash: "forged"})
		})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.svc.Activity(ctx, p, true, api.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.ChainValid == nil || *resp.ChainValid || resp.Checkpoint != "" {
			t.Errorf("chain_valid %v, checkpoint %q; want false and none", resp.ChainValid, resp.Checkpoint)
		}
	})
}

// holderOf is the holder principal of a credential.
func (e *env) holderOf(t *testing.T, credentialID string) *wallet.Principal {
	t.Helper()
	var holder string
	err := e.store.View(context.Background(), func(tx wallet.Tx) error {
		c, err := wallet.Credentials.Get(tx, credentialID)
		if err == nil {
			holder = c.HolderID
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return &wallet.Principal{Role: api.RoleHolder, Subject: holder}
}

// BenchmarkEntryHash measures the hash each append computes inside the
// store's write transaction (SPEC §3.6).
func BenchmarkEntryHash(b *testing.B) {
	e := docExample()
	for b.Loop() {
		_ = wallet.EntryHash(e)
	}
}
