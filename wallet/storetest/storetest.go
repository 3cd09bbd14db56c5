// Package storetest is the contract suite of wallet.Store: every store
// (bolt now, postgres later) runs it against its real database, so the
// service can rely on one behaviour (CONVENTIONS §9).
//
// A store's test calls Run with a function that opens the storage kept
// under a directory:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dir string) wallet.Store {
//			s, err := bolt.Open(filepath.Join(dir, "wallet.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
)

// Open opens the storage kept under dir. The suite calls it with a fresh
// t.TempDir() for each test, so the first call for a dir must give an empty
// store; it calls it again with the same dir after closing the first store
// to check that committed writes survive (SPEC §3.3 step 4, THREATS T31).
// A file store keeps its file in dir; a server store can derive a database
// or schema name from dir. The suite closes every store it opens. Open may
// be called from parallel subtests, and fails t when it cannot open.
type Open func(t *testing.T, dir string) wallet.Store

// Run runs the contract suite against the stores open makes. Subtests run
// in parallel, each on its own storage.
//
// Times in the suite have microsecond precision (PostgreSQL's timestamptz);
// a store may keep more.
func Run(t *testing.T, open Open) {
	s := &suite{open: open}
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Issuers", s.testIssuers},
		{"Verifiers", s.testVerifiers},
		{"APIKeys", s.testAPIKeys},
		{"Holders", s.testHolders},
		{"Devices", s.testDevices},
		{"ActivationCodes", s.testActivationCodes},
		{"Credentials", s.testCredentials},
		{"CredentialCopies", s.testCredentialCopies},
		{"Shares", s.testShares},
		{"ShareDocuments", s.testShareDocuments},
		{"Requests", s.testRequests},
		{"Presence", s.testPresence},
		{"StatusLists", s.testStatusLists},
		{"StatusIndices", s.testStatusIndices},
		{"Activity", s.testActivity},
		{"Verifications", s.testVerifications},
		{"UseOnce", s.testUseOnce},
		{"Meta", s.testMeta},
		{"Rollback", s.testRollback},
		{"RejectedPutWritesNothing", s.testRejectedPut},
		{"View", s.testView},
		{"CanceledContext", s.testCanceledContext},
		{"BatchCounter", s.testBatchCounter},
		{"RedeemOnce", s.testRedeemOnce},
		{"BatchIsolatesFailures", s.testBatchIsolatesFailures},
		{"Durability", s.testDurability},
		{"Ping", s.testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t)
		})
	}
}

type suite struct {
	open Open
}

// fresh opens an empty store for one test; it is closed when the test ends.
func (s *suite) fresh(t *testing.T) wallet.Store {
	t.Helper()
	return s.openAt(t, t.TempDir())
}

// openAt opens the store under dir and closes it when the test ends.
func (s *suite) openAt(t *testing.T, dir string) wallet.Store {
	t.Helper()
	st := s.open(t, dir)
	if st == nil {
		t.Fatalf("open %s: nil store", dir)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return st
}

// --- fixtures ---------------------------------------------------------------

// at is a fixed instant plus d, with microsecond precision.
func at(d time.Duration) time.Time {
	return time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC).Add(d)
}

// cet is a zone other than UTC: a stored time must compare Equal, not ==.
var cet = time.FixedZone("CET", 3600)

func ptr[T any](v T) *T { return &v }

func newIssuer(id string) *wallet.Issuer {
	return &wallet.Issuer{
		ID:    id,
		Name:  "Issuer " + id,
		Types: []string{"national_id", "driver_licence"},
		Keys: []wallet.IssuerKey{
			{Kid: "kid-old", Public: []byte(`{"kty":"EC","crv":"P-256"}`), Private: []byte{0, 1, 2, 0xfe, 0xff}, Created: at(-time.Hour), Retired: ptr(at(time.Minute).In(cet))},
			{Kid: "kid-new", Public: []byte(`{"kty":"EC","crv":"P-256","x":"1"}`), Private: []byte{9, 8, 7}, Created: at(0), Active: true},
		},
		Created:     at(-2 * time.Hour).In(cet),
		CurrentList: 3,
	}
}

func newVerifier(id string) *wallet.Verifier {
	return &wallet.Verifier{
		ID:       id,
		Name:     "Verifier " + id,
		Category: "bank",
		Claims: map[string][]string{
			"national_id":      {"full_name", "age_over_18"},
			"health_insurance": {},
		},
		Created: at(0),
	}
}

func newAPIKey(id, hash string) *wallet.APIKey {
	return &wallet.APIKey{ID: id, Hash: []byte(hash), Role: api.RoleVerifier, Owner: "v1", Created: at(0)}
}

func newHolder(id, citizen string) *wallet.Holder {
	return &wallet.Holder{ID: id, CitizenHash: []byte(citizen), Created: at(0)}
}

func newDevice(id, holder string, created time.Time) *wallet.Device {
	return &wallet.Device{ID: id, HolderID: holder, Key: []byte(`{"kty":"EC","x":"` + id + `"}`), Name: "phone " + id, Created: created}
}

func newCredential(id, holder string, issued time.Time) *wallet.Credential {
	return &wallet.Credential{
		ID: id, HolderID: holder, IssuerID: "mps", Type: "national_id",
		StatusList: 2, StatusIndex: 4711, Status: api.StatusValid,
		IssuedAt: issued, ValidUntil: issued.AddDate(5, 0, 0),
		Claims: []byte{0xde, 0xad, 0xbe, 0xef, 0},
	}
}

func newShare(id, holder string, created time.Time) *wallet.Share {
	return &wallet.Share{
		ID: id, HolderID: holder, DeviceID: "d1", Status: api.SharePending,
		Aud: "https://wallet.example/v1/verify",
		Items: []wallet.ShareItem{
			{CredentialID: "c1", Type: "national_id", Claims: []string{"full_name", "age_over_18"}, Presentation: []byte("sealed-1"), SDHash: "h1", Kid: "k1"},
			{CredentialID: "c2", Type: "health_insurance", Claims: []string{"card_number"}, Presentation: []byte("sealed-2"), SDHash: "h2", Kid: "k2"},
		},
		Created: created, ExpiresAt: created.Add(60 * time.Second), MaxUses: 1,
	}
}

// newRequest is a request with every field set but TokenHash (set for
// verifier-shown requests) and Decided.
func newRequest(id, holder string, created time.Time) *wallet.Request {
	return &wallet.Request{
		ID: id, VerifierID: "v1", HolderID: holder, DeviceID: "d1", Status: api.RequestCreated,
		Claims: map[string][]string{
			"national_id":      {"full_name", "age_over_18"},
			"health_insurance": {},
		},
		Purpose: "age check at the counter",
		Items: []wallet.ShareItem{
			{CredentialID: "c1", Type: "national_id", Claims: []string{"full_name", "age_over_18"}, Presentation: []byte("sealed-1"), SDHash: "h1", Kid: "k1"},
		},
		Created: created, ExpiresAt: created.Add(5 * time.Minute),
	}
}

func newActivity(holder string, seq uint64) *api.ActivityEntry {
	return &api.ActivityEntry{
		Seq: seq, HolderID: holder, At: at(time.Duration(seq) * time.Second),
		Event: "share_redeemed", Outcome: "ok", VerifierID: "v1", IssuerID: "mps",
		CredentialID: "c1", ShareID: "s1", DeviceID: "d1",
		Claims: []string{"full_name"}, Prev: fmt.Sprintf("prev-%d", seq), Hash: fmt.Sprintf("hash-%d", seq),
	}
}

func newVerification(verifier string, seq uint64) *api.Verification {
	return &api.Verification{
		Seq: seq, VerifierID: verifier, At: at(time.Duration(seq) * time.Second),
		ShareID: "s1", Result: "valid", Reason: "", Types: []string{"national_id"}, Claims: []string{"age_over_18"},
	}
}

// --- helpers ----------------------------------------------------------------

func update(t *testing.T, st wallet.Store, fn func(wallet.Tx) error) {
	t.Helper()
	if err := st.Update(t.Context(), fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func view(t *testing.T, st wallet.Store, fn func(wallet.Tx) error) {
	t.Helper()
	if err := st.View(t.Context(), fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// isErr fails t unless errors.Is(err, target).
func isErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// check reports err without stopping the test: for code that may run on a
// goroutine other than the test's (inside Batch).
func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ids returns the ids of records, for order checks.
func ids[T any](recs []*T, id func(*T) string) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = id(r)
	}
	return out
}

func seqs[T any](recs []*T, seq func(*T) uint64) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = seq(r)
	}
	return out
}

func sameList[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
		return
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: got %v, want %v", what, got, want)
			return
		}
	}
}

// --- record kinds -----------------------------------------------------------

func (s *suite) testIssuers(t *testing.T) {
	st := s.fresh(t)
	view(t, st, func(tx wallet.Tx) error {
		_, err := tx.Issuer("mps")
		isErr(t, "Issuer(missing)", err, wallet.ErrNotFound)
		all, err := tx.Issuers()
		noErr(t, "Issuers on empty store", err)
		if len(all) != 0 {
			t.Errorf("Issuers on empty store: %d", len(all))
		}
		return nil
	})
	// Put out of order: the list is by id.
	want := map[string]*wallet.Issuer{"vss": newIssuer("vss"), "mot": newIssuer("mot"), "mps": newIssuer("mps")}
	want["mot"].Types = nil
	want["mot"].Keys = []wallet.IssuerKey{}
	update(t, st, func(tx wallet.Tx) error {
		for _, id := range []string{"vss", "mot", "mps"} {
			noErr(t, "PutIssuer", tx.PutIssuer(want[id]))
		}
		return nil
	})
	view(t, st, func(tx wallet.Tx) error {
		for id, w := range want {
			got, err := tx.Issuer(id)
			noErr(t, "Issuer", err)
			same(t, "Issuer("+id+")", got, w)
		}
		all, err := tx.Issuers()
		noErr(t, "Issuers", err)
		sameList(t, "Issuers order", ids(all, func(i *wallet.Issuer) string { return i.ID }), []string{"mot", "mps", "vss"})
		return nil
	})
	// An update replaces the record (a key rotation).
	rot := newIssuer("mps")
	rot.Keys[1].Active = false
	rot.Keys = append(rot.Keys, wallet.IssuerKey{Kid: "kid-3", Public: []byte("{}"), Private: []byte{1}, Created: at(time.Hour), Active: true})
	rot.CurrentList = 4
	update(t, st, func(tx wallet.Tx) error { return tx.PutIssuer(rot) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.Issuer("mps")
		noErr(t, "Issuer", err)
		same(t, "Issuer after update", got, rot)
		all, err := tx.Issuers()
		noErr(t, "Issuers", err)
		if len(all) != 3 {
			t.Errorf("Issuers after update: %d, want 3", len(all))
		}
		return nil
	})
}

func (s *suite) testVerifiers(t *testing.T) {
	st := s.fresh(t)
	empty := newVerifier("v-empty")
	empty.Claims = map[string][]string{} // non-nil: the service may add to it
	nilClaims := newVerifier("v-nil")
	nilClaims.Claims = nil
	full := newVerifier("v-full")
	update(t, st, func(tx wallet.Tx) error {
		for _, v := range []*wallet.Verifier{full, nilClaims, empty} {
			noErr(t, "PutVerifier", tx.PutVerifier(v))
		}
		return nil
	})
	view(t, st, func(tx wallet.Tx) error {
		for _, w := range []*wallet.Verifier{full, nilClaims, empty} {
			got, err := tx.Verifier(w.ID)
			noErr(t, "Verifier", err)
			same(t, "Verifier("+w.ID+")", got, w)
		}
		_, err := tx.Verifier("v-missing")
		isErr(t, "Verifier(missing)", err, wallet.ErrNotFound)
		all, err := tx.Verifiers()
		noErr(t, "Verifiers", err)
		sameList(t, "Verifiers order", ids(all, func(v *wallet.Verifier) string { return v.ID }), []string{"v-empty", "v-full", "v-nil"})
		return nil
	})
}

func (s *suite) testAPIKeys(t *testing.T) {
	st := s.fresh(t)
	k1 := newAPIKey("k1", "hash-1")
	k2 := newAPIKey("k2", "hash-2")
	k2.Role, k2.Owner = api.RoleAdmin, "admin"
	update(t, st, func(tx wallet.Tx) error {
		noErr(t, "PutAPIKey k1", tx.PutAPIKey(k1))
		noErr(t, "PutAPIKey k2", tx.PutAPIKey(k2))
		return nil
	})
	view(t, st, func(tx wallet.Tx) error {
		for _, w := range []*wallet.APIKey{k1, k2} {
			got, err := tx.APIKey(w.ID)
			noErr(t, "APIKey", err)
			same(t, "APIKey("+w.ID+")", got, w)
			got, err = tx.APIKeyByHash(w.Hash)
			noErr(t, "APIKeyByHash", err)
			same(t, "APIKeyByHash("+w.ID+")", got, w)
		}
		_, err := tx.APIKey("k3")
		isErr(t, "APIKey(missing)", err, wallet.ErrNotFound)
		_, err = tx.APIKeyByHash([]byte("hash-3"))
		isErr(t, "APIKeyByHash(missing)", err, wallet.ErrNotFound)
		_, err = tx.APIKeyByHash(nil)
		isErr(t, "APIKeyByHash(nil)", err, wallet.ErrNotFound)
		return nil
	})

	// A new key with a taken hash is refused.
	err := st.Update(t.Context(), func(tx wallet.Tx) error { return tx.PutAPIKey(newAPIKey("k3", "hash-1")) })
	isErr(t, "PutAPIKey(new key, taken hash)", err, wallet.ErrExists)

	// Re-putting a key is an update (revocation), not a conflict.
	revoked := newAPIKey("k1", "hash-1")
	revoked.Revoked = ptr(at(time.Hour))
	update(t, st, func(tx wallet.Tx) error { return tx.PutAPIKey(revoked) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.APIKeyByHash([]byte("hash-1"))
		noErr(t, "APIKeyByHash after revoke", err)
		same(t, "revoked key", got, revoked)
		_, err = tx.APIKey("k3")
		isErr(t, "APIKey(refused key)", err, wallet.ErrNotFound)
		return nil
	})

	// A key whose hash changes is found by the new hash only, and its old
	// hash is free again.
	moved := newAPIKey("k2", "hash-2b")
	update(t, st, func(tx wallet.Tx) error { return tx.PutAPIKey(moved) })
	view(t, st, func(tx wallet.Tx) error {
		_, err := tx.APIKeyByHash([]byte("hash-2"))
		isErr(t, "APIKeyByHash(old hash)", err, wallet.ErrNotFound)
		got, err := tx.APIKeyByHash([]byte("hash-2b"))
		noErr(t, "APIKeyByHash(new hash)", err)
		same(t, "moved key", got, moved)
		return nil
	})
	update(t, st, func(tx wallet.Tx) error { return tx.PutAPIKey(newAPIKey("k4", "hash-2")) })
	err = st.Update(t.Context(), func(tx wallet.Tx) error { return tx.PutAPIKey(newAPIKey("k1", "hash-2b")) })
	isErr(t, "PutAPIKey(existing key, another key's hash)", err, wallet.ErrExists)
}

func (s *suite) testHolders(t *testing.T) {
	st := s.fresh(t)
	h1 := newHolder("h1", "citizen-1")
	h2 := newHolder("h2", "citizen-2")
	update(t, st, func(tx wallet.Tx) error {
		noErr(t, "PutHolder h1", tx.PutHolder(h1))
		noErr(t, "PutHolder h2", tx.PutHolder(h2))
		return nil
	})
	view(t, st, func(tx wallet.Tx) error {
		for _, w := range []*wallet.Holder{h1, h2} {
			got, err := tx.Holder(w.ID)
			noErr(t, "Holder", err)
			same(t, "Holder("+w.ID+")", got, w)
			got, err = tx.HolderByCitizen(w.CitizenHash)
			noErr(t, "HolderByCitizen", err)
			same(t, "HolderByCitizen("+w.ID+")", got, w)
		}
		_, err := tx.Holder("h3")
		isErr(t, "Holder(missing)", err, wallet.ErrNotFound)
		_, err = tx.HolderByCitizen([]byte("citizen-3"))
		isErr(t, "HolderByCitizen(missing)", err, wallet.ErrNotFound)
		return nil
	})
	// A new holder with a taken citizen hash is refused and not stored.
	err := st.Update(t.Context(), func(tx wallet.Tx) error { return tx.PutHolder(newHolder("h3", "citizen-1")) })
	isErr(t, "PutHolder(new holder, taken citizen)", err, wallet.ErrExists)
	// The same holder again with the same hash is an update.
	again := newHolder("h1", "citizen-1")
	again.Created = at(time.Minute)
	update(t, st, func(tx wallet.Tx) error { return tx.PutHolder(again) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.HolderByCitizen([]byte("citizen-1"))
		noErr(t, "HolderByCitizen", err)
		same(t, "holder after re-put", got, again)
		_, err = tx.Holder("h3")
		isErr(t, "Holder(refused)", err, wallet.ErrNotFound)
		return nil
	})
}

func (s *suite) testDevices(t *testing.T) {
	st := s.fresh(t)
	// h1 and h10: one id is a prefix of the other, which must not leak
	// records between them.
	devs := []*wallet.Device{
		newDevice("d-late", "h1", at(2*time.Hour)),
		newDevice("d-b", "h1", at(time.Hour)),
		newDevice("d-a", "h1", at(time.Hour)), // same time as d-b: by id
		newDevice("d-first", "h1", at(-time.Hour).In(cet)),
		newDevice("d-other", "h10", at(0)),
		newDevice("d-h0", "h0", at(0)),
	}
	devs[1].Revoked = ptr(at(3 * time.Hour))
	update(t, st, func(tx wallet.Tx) error {
		for _, d := range devs {
			noErr(t, "PutDevice "+d.ID, tx.PutDevice(d))
		}
		return nil
	})
	view(t, st, func(tx wallet.Tx) error {
		for _, w := range devs {
			got, err := tx.Device(w.ID)
			noErr(t, "Device", err)
			same(t, "Device("+w.ID+")", got, w)
		}
		_, err := tx.Device("d-missing")
		isErr(t, "Device(missing)", err, wallet.ErrNotFound)
		list, err := tx.Devices("h1")
		noErr(t, "Devices", err)
		sameList(t, "Devices(h1)", ids(list, func(d *wallet.Device) string { return d.ID }), []string{"d-first", "d-a", "d-b", "d-late"})
		if len(list) == 4 {
			same(t, "Devices(h1)[2]", list[2], devs[1])
		}
		list, err = tx.Devices("h10")
		noErr(t, "Devices", err)
		sameList(t, "Devices(h10)", ids(list, func(d *wallet.Device) string { return d.ID }), []string{"d-other"})
		list, err = tx.Devices("h")
		noErr(t, "Devices(unknown holder)", err)
		if len(list) != 0 {
			t.Errorf("Devices(unknown holder): %d records", len(list))
		}
		return nil
	})
	// An update (revocation, a new creation time) keeps one entry per
	// device, in the order of the new record.
	upd := newDevice("d-late", "h1", at(-2*time.Hour))
	upd.Revoked = ptr(at(4 * time.Hour))
	update(t, st, func(tx wallet.Tx) error { return tx.PutDevice(upd) })
	view(t, st, func(tx wallet.Tx) error {
		list, err := tx.Devices("h1")
		noErr(t, "Devices", err)
		sameList(t, "Devices(h1) after update", ids(list, func(d *wallet.Device) string { return d.ID }), []string{"d-late", "d-first", "d-a", "d-b"})
		if len(list) > 0 {
			same(t, "updated device", list[0], upd)
		}
		return nil
	})
}

func (s *suite) testActivationCodes(t *testing.T) {
	st := s.fresh(t)
	a := &wallet.ActivationCode{Hash: []byte("code-hash-1"), HolderID: "h1", Expires: at(15 * time.Minute)}
	b := &wallet.ActivationCode{Hash: []byte("code-hash-2"), HolderID: "h2", Expires: at(15 * time.Minute).In(cet)}
	update(t, st, func(tx wallet.Tx) error {
		noErr(t, "PutActivationCode", tx.PutActivationCode(a))
		noErr(t, "PutActivationCode", tx.PutActivationCode(b))
		return nil
	})
	used := *a
	used.Used = true
	update(t, st, func(tx wallet.Tx) error { return tx.PutActivationCode(&used) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.ActivationCode([]byte("code-hash-1"))
		noErr(t, "ActivationCode", err)
		same(t, "used code", got, &used)
		got, err = tx.ActivationCode([]byte("code-hash-2"))
		noErr(t, "ActivationCode", err)
		same(t, "code", got, b)
		_, err = tx.ActivationCode([]byte("code-hash-3"))
		isErr(t, "ActivationCode(missing)", err, wallet.ErrNotFound)
		return nil
	})
}

func (s *suite) testCredentials(t *testing.T) {
	st := s.fresh(t)
	c3 := newCredential("c3", "h1", at(2*time.Hour))
	c1 := newCredential("c1", "h1", at(0))
	c2 := newCredential("c2", "h1", at(time.Hour).In(cet))
	c2.Claims = nil
	other := newCredential("c-other", "h10", at(-time.Hour))
	update(t, st, func(tx wallet.Tx) error {
		for _, c := range []*wallet.Credential{c3, other, c1, c2} {
			noErr(t, "PutCredential "+c.ID, tx.PutCredential(c))
		}
		return nil
	})
	view(t, st, func(tx wallet.Tx) error {
		for _, w := range []*wallet.Credential{c1, c2, c3, other} {
			got, err := tx.Credential(w.ID)
			noErr(t, "Credential", err)
			same(t, "Credential("+w.ID+")", got, w)
		}
		_, err := tx.Credential("c4")
		isErr(t, "Credential(missing)", err, wallet.ErrNotFound)
		list, err := tx.Credentials("h1")
		noErr(t, "Credentials", err)
		sameList(t, "Credentials(h1) oldest first", ids(list, func(c *wallet.Credential) string { return c.ID }), []string{"c1", "c2", "c3"})
		list, err = tx.Credentials("h10")
		noErr(t, "Credentials", err)
		sameList(t, "Credentials(h10)", ids(list, func(c *wallet.Credential) string { return c.ID }), []string{"c-other"})
		return nil
	})
	// A status change is an update, listed once.
	upd := newCredential("c1", "h1", at(0))
	upd.Status = api.StatusRevoked
	update(t, st, func(tx wallet.Tx) error { return tx.PutCredential(upd) })
	view(t, st, func(tx wallet.Tx) error {
		list, err := tx.Credentials("h1")
		noErr(t, "Credentials", err)
		sameList(t, "Credentials(h1) after update", ids(list, func(c *wallet.Credential) string { return c.ID }), []string{"c1", "c2", "c3"})
		if len(list) > 0 {
			same(t, "updated credential", list[0], upd)
		}
		return nil
	})
}

// testCredentialCopies: each device's copy round-trips as raw bytes, apart
// from the credential and from other devices' copies; deleting is
// idempotent.
func (s *suite) testCredentialCopies(t *testing.T) {
	st := s.fresh(t)
	update(t, st, func(tx wallet.Tx) error {
		_, err := tx.CredentialCopy("c1", "d1")
		isErr(t, "CredentialCopy(missing)", err, wallet.ErrNotFound)
		noErr(t, "PutCredential", tx.PutCredential(newCredential("c1", "h1", at(0))))
		noErr(t, "PutCredentialCopy d1", tx.PutCredentialCopy("c1", "d1", []byte{0, 1, 2, 255}))
		noErr(t, "PutCredentialCopy d2", tx.PutCredentialCopy("c1", "d2", []byte("copy-two")))
		noErr(t, "PutCredentialCopy c10/d1", tx.PutCredentialCopy("c10", "d1", []byte("other credential")))
		return nil
	})
	update(t, st, func(tx wallet.Tx) error {
		noErr(t, "DeleteCredentialCopy d2", tx.DeleteCredentialCopy("c1", "d2"))
		noErr(t, "DeleteCredentialCopy again", tx.DeleteCredentialCopy("c1", "d2"))
		return nil
	})
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.CredentialCopy("c1", "d1")
		noErr(t, "CredentialCopy", err)
		if string(got) != string([]byte{0, 1, 2, 255}) {
			t.Errorf("CredentialCopy(c1, d1) = %v", got)
		}
		_, err = tx.CredentialCopy("c1", "d2")
		isErr(t, "CredentialCopy(deleted)", err, wallet.ErrNotFound)
		got, err = tx.CredentialCopy("c10", "d1")
		noErr(t, "CredentialCopy(c10)", err)
		if string(got) != "other credential" {
			t.Errorf("CredentialCopy(c10, d1) = %q", got)
		}
		return nil
	})
}

func (s *suite) testShares(t *testing.T) {
	st := s.fresh(t)
	s1 := newShare("s1", "h1", at(0))
	s2 := newShare("s2", "h1", at(2*time.Minute))
	s3 := newShare("s3", "h1", at(time.Minute).In(cet))
	s3.VerifierID = "v1"
	s3.Items = nil
	other := newShare("s-other", "h10", at(time.Hour))
	update(t, st, func(tx wallet.Tx) error {
		// Pending shares all have an empty token hash: not a conflict.
		for _, sh := range []*wallet.Share{s1, s2, s3, other} {
			noErr(t, "PutShare "+sh.ID, tx.PutShare(sh))
		}
		return nil
	})
	view(t, st, func(tx wallet.Tx) error {
		for _, w := range []*wallet.Share{s1, s2, s3, other} {
			got, err := tx.Share(w.ID)
			noErr(t, "Share", err)
			same(t, "Share("+w.ID+")", got, w)
		}
		_, err := tx.Share("s4")
		isErr(t, "Share(missing)", err, wallet.ErrNotFound)
		_, err = tx.ShareByToken(nil)
		isErr(t, "ShareByToken(nil) with pending shares", err, wallet.ErrNotFound)
		_, err = tx.ShareByToken([]byte{})
		isErr(t, "ShareByToken(empty) with pending shares", err, wallet.ErrNotFound)
		_, err = tx.ShareByToken([]byte("token-1"))
		isErr(t, "ShareByToken before approval", err, wallet.ErrNotFound)
		list, err := tx.Shares("h1")
		noErr(t, "Shares", err)
		sameList(t, "Shares(h1) newest first", ids(list, func(s *wallet.Share) string { return s.ID }), []string{"s2", "s3", "s1"})
		list, err = tx.Shares("h10")
		noErr(t, "Shares", err)
		sameList(t, "Shares(h10)", ids(list, func(s *wallet.Share) string { return s.ID }), []string{"s-other"})
		return nil
	})

	// Approval sets the token hash: from then on ShareByToken finds it.
	approved := newShare("s1", "h1", at(0))
	approved.TokenHash = []byte("token-1")
	approved.Status = api.ShareActive
	update(t, st, func(tx wallet.Tx) error { return tx.PutShare(approved) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.ShareByToken([]byte("token-1"))
		noErr(t, "ShareByToken after approval", err)
		same(t, "approved share", got, approved)
		return nil
	})
	// Redemption updates it again; the token still finds the new state.
	redeemed := *approved
	redeemed.Status, redeemed.Uses = api.ShareRedeemed, 1
	update(t, st, func(tx wallet.Tx) error { return tx.PutShare(&redeemed) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.ShareByToken([]byte("token-1"))
		noErr(t, "ShareByToken after redemption", err)
		same(t, "redeemed share", got, &redeemed)
		list, err := tx.Shares("h1")
		noErr(t, "Shares", err)
		sameList(t, "Shares(h1) after updates", ids(list, func(s *wallet.Share) string { return s.ID }), []string{"s2", "s3", "s1"})
		return nil
	})
	// The index follows the record: a changed token hash finds the share,
	// the old one no longer does, and is free for another share.
	rehashed := redeemed
	rehashed.TokenHash = []byte("token-1b")
	update(t, st, func(tx wallet.Tx) error { return tx.PutShare(&rehashed) })
	other2 := newShare("s4", "h1", at(3*time.Minute))
	other2.TokenHash, other2.Status = []byte("token-1"), api.ShareActive
	update(t, st, func(tx wallet.Tx) error { return tx.PutShare(other2) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.ShareByToken([]byte("token-1b"))
		noErr(t, "ShareByToken(new hash)", err)
		same(t, "share by new token", got, &rehashed)
		got, err = tx.ShareByToken([]byte("token-1"))
		noErr(t, "ShareByToken(reused hash)", err)
		same(t, "share by reused token", got, other2)
		return nil
	})
}

// testRequests: requests round-trip; the token index covers requests with
// a token hash, the holder index requests with a holder, and both follow
// the record when a later put sets or changes them.
func (s *suite) testRequests(t *testing.T) {
	st := s.fresh(t)
	r1 := newRequest("r1", "h1", at(0))
	r1.TokenHash = []byte("req-token-1")
	r2 := newRequest("r2", "h1", at(2*time.Minute)) // presence-addressed: no token
	r3 := newRequest("r3", "h1", at(time.Minute).In(cet))
	r3.Items, r3.DeviceID = nil, ""
	r3.Claims = map[string][]string{}
	other := newRequest("r-other", "h10", at(time.Hour))
	// Shown by a verifier, not yet resolved: a token, no holder.
	shown := newRequest("r-shown", "", at(3*time.Minute))
	shown.TokenHash, shown.DeviceID, shown.Items = []byte("req-token-shown"), "", nil
	all := []*wallet.Request{r1, r2, r3, other, shown}
	update(t, st, func(tx wallet.Tx) error {
		_, err := tx.Request("r1")
		isErr(t, "Request before put", err, wallet.ErrNotFound)
		_, err = tx.RequestByToken([]byte("req-token-1"))
		isErr(t, "RequestByToken before put", err, wallet.ErrNotFound)
		// Presence-addressed requests all have an empty token hash: not a
		// conflict.
		for _, r := range all {
			noErr(t, "PutRequest "+r.ID, tx.PutRequest(r))
		}
		return nil
	})
	reqIDs := func(l []*wallet.Request) []string { return ids(l, func(r *wallet.Request) string { return r.ID }) }
	view(t, st, func(tx wallet.Tx) error {
		for _, w := range all {
			got, err := tx.Request(w.ID)
			noErr(t, "Request", err)
			same(t, "Request("+w.ID+")", got, w)
		}
		_, err := tx.Request("r4")
		isErr(t, "Request(missing)", err, wallet.ErrNotFound)
		_, err = tx.RequestByToken(nil)
		isErr(t, "RequestByToken(nil) with tokenless requests", err, wallet.ErrNotFound)
		_, err = tx.RequestByToken([]byte{})
		isErr(t, "RequestByToken(empty) with tokenless requests", err, wallet.ErrNotFound)
		_, err = tx.RequestByToken([]byte("req-token-2"))
		isErr(t, "RequestByToken(unknown)", err, wallet.ErrNotFound)
		got, err := tx.RequestByToken([]byte("req-token-1"))
		noErr(t, "RequestByToken", err)
		same(t, "request by token", got, r1)
		got, err = tx.RequestByToken([]byte("req-token-shown"))
		noErr(t, "RequestByToken(unresolved)", err)
		same(t, "unresolved request by token", got, shown)

		list, err := tx.Requests("h1", 0)
		noErr(t, "Requests", err)
		sameList(t, "Requests(h1, 0) newest first", reqIDs(list), []string{"r2", "r3", "r1"})
		if len(list) == 3 {
			same(t, "Requests(h1)[1]", list[1], r3)
		}
		list, err = tx.Requests("h1", 2)
		noErr(t, "Requests", err)
		sameList(t, "Requests(h1, 2)", reqIDs(list), []string{"r2", "r3"})
		list, err = tx.Requests("h1", 1)
		noErr(t, "Requests", err)
		sameList(t, "Requests(h1, 1)", reqIDs(list), []string{"r2"})
		list, err = tx.Requests("h1", 10)
		noErr(t, "Requests", err)
		sameList(t, "Requests(h1, 10)", reqIDs(list), []string{"r2", "r3", "r1"})
		list, err = tx.Requests("h10", 0)
		noErr(t, "Requests", err)
		sameList(t, "Requests(h10)", reqIDs(list), []string{"r-other"})
		for _, h := range []string{"h", "h0", ""} {
			list, err = tx.Requests(h, 0)
			noErr(t, "Requests("+h+")", err)
			if len(list) != 0 {
				t.Errorf("Requests(%q): %v, want none (an unresolved request has no holder)", h, reqIDs(list))
			}
		}
		return nil
	})

	// Resolving the shown request sets its holder: from then on it is
	// listed for that holder, and its token still finds it.
	resolved := *shown
	resolved.HolderID, resolved.DeviceID, resolved.Status = "h1", "d1", api.RequestDelivered
	update(t, st, func(tx wallet.Tx) error { return tx.PutRequest(&resolved) })
	// Approval decides it; an update keeps one entry per request.
	approved := *r1
	approved.Status, approved.Decided = api.RequestApproved, ptr(at(30*time.Second).In(cet))
	update(t, st, func(tx wallet.Tx) error { return tx.PutRequest(&approved) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.RequestByToken([]byte("req-token-shown"))
		noErr(t, "RequestByToken after resolution", err)
		same(t, "resolved request", got, &resolved)
		got, err = tx.RequestByToken([]byte("req-token-1"))
		noErr(t, "RequestByToken after approval", err)
		same(t, "approved request", got, &approved)
		list, err := tx.Requests("h1", 0)
		noErr(t, "Requests", err)
		sameList(t, "Requests(h1) after updates", reqIDs(list), []string{"r-shown", "r2", "r3", "r1"})
		if len(list) == 4 {
			same(t, "Requests(h1)[0]", list[0], &resolved)
			same(t, "Requests(h1)[3]", list[3], &approved)
		}
		list, err = tx.Requests("", 0)
		noErr(t, "Requests(empty holder)", err)
		if len(list) != 0 {
			t.Errorf("Requests(\"\") after resolution: %v", reqIDs(list))
		}
		return nil
	})

	// A token hash held by another request is refused, and the refused
	// put writes nothing even when the transaction commits.
	update(t, st, func(tx wallet.Tx) error {
		dup := newRequest("r-dup", "h1", at(4*time.Minute))
		dup.TokenHash = []byte("req-token-1")
		isErr(t, "PutRequest(taken token)", tx.PutRequest(dup), wallet.ErrExists)
		moved := *r2
		moved.TokenHash = []byte("req-token-shown")
		isErr(t, "PutRequest(update to a taken token)", tx.PutRequest(&moved), wallet.ErrExists)
		return nil // commit anyway
	})
	view(t, st, func(tx wallet.Tx) error {
		_, err := tx.Request("r-dup")
		isErr(t, "Request(refused)", err, wallet.ErrNotFound)
		got, err := tx.RequestByToken([]byte("req-token-1"))
		noErr(t, "RequestByToken after refused put", err)
		same(t, "request after refused put", got, &approved)
		got, err = tx.Request("r2")
		noErr(t, "Request(r2) after refused update", err)
		same(t, "r2 after refused update", got, r2)
		list, err := tx.Requests("h1", 0)
		noErr(t, "Requests", err)
		sameList(t, "Requests(h1) after refused puts", reqIDs(list), []string{"r-shown", "r2", "r3", "r1"})
		return nil
	})

	// The token index follows the record: a changed token hash finds the
	// request, the old one no longer does and is free for another request.
	rehashed := approved
	rehashed.TokenHash = []byte("req-token-1b")
	update(t, st, func(tx wallet.Tx) error { return tx.PutRequest(&rehashed) })
	reuse := newRequest("r5", "h10", at(5*time.Minute))
	reuse.TokenHash = []byte("req-token-1")
	update(t, st, func(tx wallet.Tx) error { return tx.PutRequest(reuse) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.RequestByToken([]byte("req-token-1b"))
		noErr(t, "RequestByToken(new hash)", err)
		same(t, "request by new token", got, &rehashed)
		got, err = tx.RequestByToken([]byte("req-token-1"))
		noErr(t, "RequestByToken(reused hash)", err)
		same(t, "request by reused token", got, reuse)
		list, err := tx.Requests("h10", 0)
		noErr(t, "Requests", err)
		sameList(t, "Requests(h10) after reuse", reqIDs(list), []string{"r-other", "r5"})
		return nil
	})
}

func (s *suite) testPresence(t *testing.T) {
	st := s.fresh(t)
	a := &wallet.Presence{TokenHash: []byte("presence-hash-1"), HolderID: "h1", Expires: at(time.Minute)}
	b := &wallet.Presence{TokenHash: []byte("presence-hash-2"), HolderID: "h2", Expires: at(time.Minute).In(cet)}
	update(t, st, func(tx wallet.Tx) error {
		_, err := tx.Presence([]byte("presence-hash-1"))
		isErr(t, "Presence before put", err, wallet.ErrNotFound)
		noErr(t, "PutPresence", tx.PutPresence(a))
		noErr(t, "PutPresence", tx.PutPresence(b))
		return nil
	})
	// A put of the same token hash replaces the record.
	renewed := *a
	renewed.Expires = at(2 * time.Minute)
	update(t, st, func(tx wallet.Tx) error { return tx.PutPresence(&renewed) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.Presence([]byte("presence-hash-1"))
		noErr(t, "Presence", err)
		same(t, "renewed presence", got, &renewed)
		got, err = tx.Presence([]byte("presence-hash-2"))
		noErr(t, "Presence", err)
		same(t, "presence", got, b)
		_, err = tx.Presence([]byte("presence-hash-3"))
		isErr(t, "Presence(missing)", err, wallet.ErrNotFound)
		_, err = tx.Presence(nil)
		isErr(t, "Presence(nil)", err, wallet.ErrNotFound)
		return nil
	})
}

// testShareDocuments: documents round-trip apart from the share, and a
// later share update leaves them as they were.
func (s *suite) testShareDocuments(t *testing.T) {
	st := s.fresh(t)
	docs := [][]byte{[]byte("sealed-doc-1"), {0, 1, 2, 255}}
	update(t, st, func(tx wallet.Tx) error {
		_, err := tx.ShareDocuments("s1")
		isErr(t, "ShareDocuments(missing)", err, wallet.ErrNotFound)
		noErr(t, "PutShare", tx.PutShare(newShare("s1", "h1", at(0))))
		return tx.PutShareDocuments("s1", docs)
	})
	redeemed := newShare("s1", "h1", at(0))
	redeemed.Status, redeemed.Uses = api.ShareRedeemed, 1
	update(t, st, func(tx wallet.Tx) error { return tx.PutShare(redeemed) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.ShareDocuments("s1")
		noErr(t, "ShareDocuments", err)
		if len(got) != len(docs) || string(got[0]) != string(docs[0]) || string(got[1]) != string(docs[1]) {
			t.Errorf("ShareDocuments = %q, want %q", got, docs)
		}
		_, err = tx.ShareDocuments("s2")
		isErr(t, "ShareDocuments(other share)", err, wallet.ErrNotFound)
		return nil
	})
}

func (s *suite) testStatusLists(t *testing.T) {
	st := s.fresh(t)
	lists := []*wallet.StatusList{
		{IssuerID: "mps", ID: 0, Size: 1 << 17, Values: []byte{0, 0x40, 0, 0x02}, Updated: at(0)},
		{IssuerID: "mps", ID: 1, Size: 1 << 17, Values: []byte{0xff}, Updated: at(time.Hour).In(cet)},
		{IssuerID: "mps1", ID: 0, Size: 16, Values: []byte{}, Updated: at(0)},
		{IssuerID: "mp", ID: 10, Size: 16, Values: []byte{1, 2}, Updated: at(0)},
	}
	update(t, st, func(tx wallet.Tx) error {
		for _, l := range lists {
			noErr(t, "PutStatusList", tx.PutStatusList(l))
		}
		return nil
	})
	view(t, st, func(tx wallet.Tx) error {
		for _, w := range lists {
			got, err := tx.StatusList(w.IssuerID, w.ID)
			noErr(t, "StatusList", err)
			same(t, fmt.Sprintf("StatusList(%s, %d)", w.IssuerID, w.ID), got, w)
		}
		_, err := tx.StatusList("mps", 2)
		isErr(t, "StatusList(missing list)", err, wallet.ErrNotFound)
		_, err = tx.StatusList("vss", 0)
		isErr(t, "StatusList(missing issuer)", err, wallet.ErrNotFound)
		return nil
	})
	upd := *lists[0]
	upd.Size, upd.Values, upd.Updated = 1<<18, []byte{1, 0x40, 0, 0x02}, at(2*time.Hour)
	update(t, st, func(tx wallet.Tx) error { return tx.PutStatusList(&upd) })
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.StatusList("mps", 0)
		noErr(t, "StatusList", err)
		same(t, "updated status list", got, &upd)
		return nil
	})
}

func (s *suite) testStatusIndices(t *testing.T) {
	st := s.fresh(t)
	type claim struct {
		issuer    string
		list, idx int
	}
	// Each is distinct from the others: list, index or issuer differ.
	claims := []claim{{"mps", 0, 5}, {"mps", 0, 0}, {"mps", 0, 6}, {"mps", 1, 5}, {"mps1", 0, 5}, {"mp", 0, 5}, {"mps", 0, 1 << 20}}
	for _, c := range claims {
		err := st.Update(t.Context(), func(tx wallet.Tx) error { return tx.AllocateStatusIndex(c.issuer, c.list, c.idx) })
		noErr(t, fmt.Sprintf("AllocateStatusIndex(%v)", c), err)
	}
	for _, c := range claims {
		err := st.Update(t.Context(), func(tx wallet.Tx) error { return tx.AllocateStatusIndex(c.issuer, c.list, c.idx) })
		isErr(t, fmt.Sprintf("AllocateStatusIndex(%v) twice", c), err, wallet.ErrExists)
	}
	// Twice in one transaction too.
	err := st.Update(t.Context(), func(tx wallet.Tx) error {
		noErr(t, "AllocateStatusIndex", tx.AllocateStatusIndex("vss", 0, 9))
		return tx.AllocateStatusIndex("vss", 0, 9)
	})
	isErr(t, "AllocateStatusIndex twice in one tx", err, wallet.ErrExists)
}

func (s *suite) testActivity(t *testing.T) {
	st := s.fresh(t)
	// 300 entries cross the byte boundary at 256 (a store that sorted
	// seqs as text or little-endian would fail); put in a scrambled order,
	// interleaved with holders whose ids are prefixes of each other.
	const n = 300
	update(t, st, func(tx wallet.Tx) error {
		for i := range n {
			seq := uint64((i*7)%n + 1)
			noErr(t, "AppendActivity h1", tx.AppendActivity(newActivity("h1", seq)))
			if i%50 == 0 {
				noErr(t, "AppendActivity h10", tx.AppendActivity(newActivity("h10", seq)))
				noErr(t, "AppendActivity h", tx.AppendActivity(newActivity("h", seq)))
			}
		}
		noErr(t, "AppendActivity h1 large seq", tx.AppendActivity(newActivity("h1", 1<<40)))
		return nil
	})
	wantSeqs := []uint64{1 << 40}
	for seq := uint64(n); seq >= 1; seq-- {
		wantSeqs = append(wantSeqs, seq)
	}
	seqOf := func(e *api.ActivityEntry) uint64 { return e.Seq }
	view(t, st, func(tx wallet.Tx) error {
		all, err := tx.Activity("h1", 0)
		noErr(t, "Activity", err)
		sameList(t, "Activity(h1, 0)", seqs(all, seqOf), wantSeqs)
		for _, e := range all {
			if e.HolderID != "h1" {
				t.Fatalf("Activity(h1) returned an entry of %q", e.HolderID)
			}
		}
		if len(all) > 1 {
			same(t, "Activity entry", all[1], newActivity("h1", n))
		}
		top, err := tx.Activity("h1", 10)
		noErr(t, "Activity", err)
		sameList(t, "Activity(h1, 10)", seqs(top, seqOf), wantSeqs[:10])
		more, err := tx.Activity("h1", 10*n)
		noErr(t, "Activity", err)
		sameList(t, "Activity(h1, > count)", seqs(more, seqOf), wantSeqs)
		h10, err := tx.Activity("h10", 0)
		noErr(t, "Activity", err)
		sameList(t, "Activity(h10, 0)", seqs(h10, seqOf), []uint64{251, 201, 151, 101, 51, 1})
		none, err := tx.Activity("h2", 5)
		noErr(t, "Activity(unknown)", err)
		if len(none) != 0 {
			t.Errorf("Activity(unknown holder): %d entries", len(none))
		}
		return nil
	})
	// A taken seq is refused, and the entry stays as it was.
	dup := newActivity("h1", 7)
	dup.Event = "forged"
	err := st.Update(t.Context(), func(tx wallet.Tx) error { return tx.AppendActivity(dup) })
	isErr(t, "AppendActivity(taken seq)", err, wallet.ErrExists)
	view(t, st, func(tx wallet.Tx) error {
		all, err := tx.Activity("h1", 0)
		noErr(t, "Activity", err)
		for _, e := range all {
			if e.Seq == 7 {
				same(t, "entry 7 after refused append", e, newActivity("h1", 7))
			}
		}
		return nil
	})
}

func (s *suite) testVerifications(t *testing.T) {
	st := s.fresh(t)
	update(t, st, func(tx wallet.Tx) error {
		for _, seq := range []uint64{3, 1, 256, 2, 255} {
			noErr(t, "AppendVerification", tx.AppendVerification(newVerification("v1", seq)))
		}
		noErr(t, "AppendVerification", tx.AppendVerification(newVerification("v10", 4)))
		failed := newVerification("v1", 257)
		failed.Result, failed.Reason, failed.Types, failed.Claims = "verification_failed", "kb_invalid", nil, nil
		noErr(t, "AppendVerification", tx.AppendVerification(failed))
		return nil
	})
	seqOf := func(e *api.Verification) uint64 { return e.Seq }
	view(t, st, func(tx wallet.Tx) error {
		all, err := tx.Verifications("v1", 0)
		noErr(t, "Verifications", err)
		sameList(t, "Verifications(v1, 0)", seqs(all, seqOf), []uint64{257, 256, 255, 3, 2, 1})
		if len(all) == 6 {
			same(t, "verification 256", all[1], newVerification("v1", 256))
			if all[0].Reason != "kb_invalid" {
				t.Errorf("verification 257: reason %q", all[0].Reason)
			}
		}
		top, err := tx.Verifications("v1", 2)
		noErr(t, "Verifications", err)
		sameList(t, "Verifications(v1, 2)", seqs(top, seqOf), []uint64{257, 256})
		v10, err := tx.Verifications("v10", 0)
		noErr(t, "Verifications", err)
		sameList(t, "Verifications(v10, 0)", seqs(v10, seqOf), []uint64{4})
		return nil
	})
	err := st.Update(t.Context(), func(tx wallet.Tx) error { return tx.AppendVerification(newVerification("v1", 2)) })
	isErr(t, "AppendVerification(taken seq)", err, wallet.ErrExists)
}

func (s *suite) testUseOnce(t *testing.T) {
	st := s.fresh(t)
	use := func(key string, expires, now time.Time) error {
		return st.Update(t.Context(), func(tx wallet.Tx) error { return tx.UseOnce(key, expires, now) })
	}
	noErr(t, "UseOnce(a) first", use("jti:a", at(5*time.Minute), at(0)))
	isErr(t, "UseOnce(a) before expiry", use("jti:a", at(10*time.Minute), at(time.Minute)), wallet.ErrExists)
	noErr(t, "UseOnce(b) beside a", use("jti:b", at(5*time.Minute), at(time.Minute)))
	noErr(t, "UseOnce(nonce:a): keys are whole strings", use("nonce:a", at(5*time.Minute), at(time.Minute)))
	// Once expires has passed, the key may be recorded again, until its
	// new expiry.
	noErr(t, "UseOnce(a) after expiry", use("jti:a", at(20*time.Minute), at(6*time.Minute)))
	isErr(t, "UseOnce(a) before the new expiry", use("jti:a", at(30*time.Minute), at(10*time.Minute)), wallet.ErrExists)

	// Twice in one transaction.
	err := st.Update(t.Context(), func(tx wallet.Tx) error {
		noErr(t, "UseOnce(c)", tx.UseOnce("jti:c", at(time.Hour), at(0)))
		return tx.UseOnce("jti:c", at(time.Hour), at(0))
	})
	isErr(t, "UseOnce(c) twice in one tx", err, wallet.ErrExists)

	// Churn: many keys expire while others are live. Whatever a store does
	// with expired keys, a live one stays taken.
	for round := range 5 {
		now := at(time.Duration(round) * time.Hour)
		update(t, st, func(tx wallet.Tx) error {
			for i := range 40 {
				noErr(t, "UseOnce churn", tx.UseOnce(fmt.Sprintf("n:%d:%d", round, i), now.Add(time.Minute), now))
			}
			return nil
		})
	}
	last := at(4*time.Hour + 30*time.Second)
	for i := range 40 {
		isErr(t, "UseOnce(live key after churn)", use(fmt.Sprintf("n:4:%d", i), last.Add(time.Hour), last), wallet.ErrExists)
	}
	noErr(t, "UseOnce(expired key after churn)", use("n:3:0", last.Add(time.Hour), last))
}

func (s *suite) testMeta(t *testing.T) {
	st := s.fresh(t)
	view(t, st, func(tx wallet.Tx) error {
		_, err := tx.Meta("service_key")
		isErr(t, "Meta(missing)", err, wallet.ErrNotFound)
		return nil
	})
	val := []byte{0, 1, 2, 3, 0xff}
	update(t, st, func(tx wallet.Tx) error {
		noErr(t, "PutMeta", tx.PutMeta("service_key", val))
		// The store keeps its own copy of what it was given.
		val[0] = 0x99
		noErr(t, "PutMeta", tx.PutMeta("service_key2", []byte("v2")))
		return nil
	})
	var kept []byte
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.Meta("service_key")
		noErr(t, "Meta", err)
		same(t, "Meta(service_key)", got, []byte{0, 1, 2, 3, 0xff})
		kept = got
		got, err = tx.Meta("service_key2")
		noErr(t, "Meta", err)
		same(t, "Meta(service_key2)", got, []byte("v2"))
		return nil
	})
	// What Meta returned stays valid after the transaction and after
	// further writes.
	update(t, st, func(tx wallet.Tx) error { return tx.PutMeta("service_key", []byte("replaced")) })
	same(t, "Meta value kept after its transaction", kept, []byte{0, 1, 2, 3, 0xff})
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.Meta("service_key")
		noErr(t, "Meta", err)
		same(t, "Meta after overwrite", got, []byte("replaced"))
		return nil
	})
}

// --- transactions -----------------------------------------------------------

var errBoom = errors.New("storetest: boom")

// writeEverything puts one record of every kind, all checked by
// nothingWritten. It may run on a store's batch goroutine, so it reports
// with Errorf, never Fatalf.
func writeEverything(t *testing.T, tx wallet.Tx) {
	t.Helper()
	check(t, "PutIssuer", tx.PutIssuer(newIssuer("rb-iss")))
	check(t, "PutVerifier", tx.PutVerifier(newVerifier("rb-ver")))
	check(t, "PutAPIKey", tx.PutAPIKey(newAPIKey("rb-key", "rb-key-hash")))
	check(t, "PutHolder", tx.PutHolder(newHolder("rb-h", "rb-citizen")))
	check(t, "PutDevice", tx.PutDevice(newDevice("rb-dev", "rb-h", at(0))))
	check(t, "PutActivationCode", tx.PutActivationCode(&wallet.ActivationCode{Hash: []byte("rb-code"), HolderID: "rb-h", Expires: at(time.Hour)}))
	check(t, "PutCredential", tx.PutCredential(newCredential("rb-cred", "rb-h", at(0))))
	sh := newShare("rb-share", "rb-h", at(0))
	sh.TokenHash, sh.Status = []byte("rb-token"), api.ShareActive
	check(t, "PutShare", tx.PutShare(sh))
	rq := newRequest("rb-req", "rb-h", at(0))
	rq.TokenHash = []byte("rb-req-token")
	check(t, "PutRequest", tx.PutRequest(rq))
	check(t, "PutPresence", tx.PutPresence(&wallet.Presence{TokenHash: []byte("rb-presence"), HolderID: "rb-h", Expires: at(time.Minute)}))
	check(t, "PutStatusList", tx.PutStatusList(&wallet.StatusList{IssuerID: "rb-iss", ID: 0, Size: 8, Values: []byte{0, 0}, Updated: at(0)}))
	check(t, "AllocateStatusIndex", tx.AllocateStatusIndex("rb-iss", 0, 3))
	check(t, "AppendActivity", tx.AppendActivity(newActivity("rb-h", 1)))
	check(t, "AppendVerification", tx.AppendVerification(newVerification("rb-ver", 1)))
	check(t, "UseOnce", tx.UseOnce("rb-nonce", at(time.Hour), at(0)))
	check(t, "PutMeta", tx.PutMeta("rb-meta", []byte("x")))
}

// nothingWritten checks that no trace of writeEverything is left: no
// record, and no unique key still taken.
func nothingWritten(t *testing.T, st wallet.Store) {
	t.Helper()
	view(t, st, func(tx wallet.Tx) error {
		_, err := tx.Issuer("rb-iss")
		isErr(t, "Issuer", err, wallet.ErrNotFound)
		_, err = tx.Verifier("rb-ver")
		isErr(t, "Verifier", err, wallet.ErrNotFound)
		_, err = tx.APIKey("rb-key")
		isErr(t, "APIKey", err, wallet.ErrNotFound)
		_, err = tx.APIKeyByHash([]byte("rb-key-hash"))
		isErr(t, "APIKeyByHash", err, wallet.ErrNotFound)
		_, err = tx.Holder("rb-h")
		isErr(t, "Holder", err, wallet.ErrNotFound)
		_, err = tx.HolderByCitizen([]byte("rb-citizen"))
		isErr(t, "HolderByCitizen", err, wallet.ErrNotFound)
		_, err = tx.Device("rb-dev")
		isErr(t, "Device", err, wallet.ErrNotFound)
		_, err = tx.ActivationCode([]byte("rb-code"))
		isErr(t, "ActivationCode", err, wallet.ErrNotFound)
		_, err = tx.Credential("rb-cred")
		isErr(t, "Credential", err, wallet.ErrNotFound)
		_, err = tx.Share("rb-share")
		isErr(t, "Share", err, wallet.ErrNotFound)
		_, err = tx.ShareByToken([]byte("rb-token"))
		isErr(t, "ShareByToken", err, wallet.ErrNotFound)
		_, err = tx.Request("rb-req")
		isErr(t, "Request", err, wallet.ErrNotFound)
		_, err = tx.RequestByToken([]byte("rb-req-token"))
		isErr(t, "RequestByToken", err, wallet.ErrNotFound)
		_, err = tx.Presence([]byte("rb-presence"))
		isErr(t, "Presence", err, wallet.ErrNotFound)
		_, err = tx.StatusList("rb-iss", 0)
		isErr(t, "StatusList", err, wallet.ErrNotFound)
		_, err = tx.Meta("rb-meta")
		isErr(t, "Meta", err, wallet.ErrNotFound)
		if l, err := tx.Devices("rb-h"); err != nil || len(l) != 0 {
			t.Errorf("Devices: %d, %v", len(l), err)
		}
		if l, err := tx.Credentials("rb-h"); err != nil || len(l) != 0 {
			t.Errorf("Credentials: %d, %v", len(l), err)
		}
		if l, err := tx.Shares("rb-h"); err != nil || len(l) != 0 {
			t.Errorf("Shares: %d, %v", len(l), err)
		}
		if l, err := tx.Requests("rb-h", 0); err != nil || len(l) != 0 {
			t.Errorf("Requests: %d, %v", len(l), err)
		}
		if l, err := tx.Activity("rb-h", 0); err != nil || len(l) != 0 {
			t.Errorf("Activity: %d, %v", len(l), err)
		}
		if l, err := tx.Verifications("rb-ver", 0); err != nil || len(l) != 0 {
			t.Errorf("Verifications: %d, %v", len(l), err)
		}
		return nil
	})
	// Every unique key is free: the same writes under other ids succeed.
	err := st.Update(t.Context(), func(tx wallet.Tx) error {
		noErr(t, "PutAPIKey(rolled-back hash)", tx.PutAPIKey(newAPIKey("rb-key2", "rb-key-hash")))
		noErr(t, "PutHolder(rolled-back citizen)", tx.PutHolder(newHolder("rb-h2", "rb-citizen")))
		rq := newRequest("rb-req2", "rb-h", at(0))
		rq.TokenHash = []byte("rb-req-token")
		noErr(t, "PutRequest(rolled-back token)", tx.PutRequest(rq))
		noErr(t, "AllocateStatusIndex(rolled-back index)", tx.AllocateStatusIndex("rb-iss", 0, 3))
		noErr(t, "AppendActivity(rolled-back seq)", tx.AppendActivity(newActivity("rb-h", 1)))
		noErr(t, "AppendVerification(rolled-back seq)", tx.AppendVerification(newVerification("rb-ver", 1)))
		noErr(t, "UseOnce(rolled-back key)", tx.UseOnce("rb-nonce", at(time.Hour), at(0)))
		return errBoom // leave the store clean for the next check
	})
	isErr(t, "check transaction", err, errBoom)
}

func (s *suite) testRollback(t *testing.T) {
	for _, mode := range []string{"Update", "Batch"} {
		t.Run(mode, func(t *testing.T) {
			st := s.fresh(t)
			run := st.Update
			if mode == "Batch" {
				run = st.Batch
			}
			err := run(t.Context(), func(tx wallet.Tx) error {
				writeEverything(t, tx)
				return fmt.Errorf("wrapped: %w", errBoom)
			})
			isErr(t, mode+" returns fn's error", err, errBoom)
			nothingWritten(t, st)

			// A failed update of an existing record leaves the old record
			// and its index entries.
			sh := newShare("s1", "h1", at(0))
			sh.TokenHash, sh.Status = []byte("token-1"), api.ShareActive
			update(t, st, func(tx wallet.Tx) error { return tx.PutShare(sh) })
			err = run(t.Context(), func(tx wallet.Tx) error {
				moved := *sh
				moved.TokenHash, moved.Created = []byte("token-2"), at(time.Hour)
				noErr(t, "PutShare", tx.PutShare(&moved))
				noErr(t, "PutShare", tx.PutShare(newShare("s2", "h1", at(2*time.Hour))))
				return errBoom
			})
			isErr(t, mode+" returns fn's error", err, errBoom)
			view(t, st, func(tx wallet.Tx) error {
				got, err := tx.ShareByToken([]byte("token-1"))
				noErr(t, "ShareByToken(old token)", err)
				same(t, "share after failed update", got, sh)
				_, err = tx.ShareByToken([]byte("token-2"))
				isErr(t, "ShareByToken(rolled-back token)", err, wallet.ErrNotFound)
				list, err := tx.Shares("h1")
				noErr(t, "Shares", err)
				sameList(t, "Shares after failed update", ids(list, func(s *wallet.Share) string { return s.ID }), []string{"s1"})
				return nil
			})
		})
	}
}

// testRejectedPut: a put refused with ErrExists writes nothing, even when
// fn goes on and commits.
func (s *suite) testRejectedPut(t *testing.T) {
	st := s.fresh(t)
	update(t, st, func(tx wallet.Tx) error {
		noErr(t, "PutAPIKey", tx.PutAPIKey(newAPIKey("k1", "hash-1")))
		noErr(t, "PutHolder", tx.PutHolder(newHolder("h1", "citizen-1")))
		noErr(t, "AppendActivity", tx.AppendActivity(newActivity("h1", 1)))
		return nil
	})
	update(t, st, func(tx wallet.Tx) error {
		isErr(t, "PutAPIKey(taken)", tx.PutAPIKey(newAPIKey("k2", "hash-1")), wallet.ErrExists)
		isErr(t, "PutHolder(taken)", tx.PutHolder(newHolder("h2", "citizen-1")), wallet.ErrExists)
		dup := newActivity("h1", 1)
		dup.Event = "forged"
		isErr(t, "AppendActivity(taken)", tx.AppendActivity(dup), wallet.ErrExists)
		return nil // commit anyway
	})
	view(t, st, func(tx wallet.Tx) error {
		_, err := tx.APIKey("k2")
		isErr(t, "APIKey(refused)", err, wallet.ErrNotFound)
		got, err := tx.APIKeyByHash([]byte("hash-1"))
		noErr(t, "APIKeyByHash", err)
		if got != nil && got.ID != "k1" {
			t.Errorf("APIKeyByHash: got key %q, want k1", got.ID)
		}
		_, err = tx.Holder("h2")
		isErr(t, "Holder(refused)", err, wallet.ErrNotFound)
		h, err := tx.HolderByCitizen([]byte("citizen-1"))
		noErr(t, "HolderByCitizen", err)
		if h != nil && h.ID != "h1" {
			t.Errorf("HolderByCitizen: got holder %q, want h1", h.ID)
		}
		all, err := tx.Activity("h1", 0)
		noErr(t, "Activity", err)
		if len(all) != 1 || all[0].Event != "share_redeemed" {
			t.Errorf("Activity after refused append: %d entries", len(all))
		}
		return nil
	})
}

func (s *suite) testView(t *testing.T) {
	st := s.fresh(t)
	update(t, st, func(tx wallet.Tx) error { return tx.PutHolder(newHolder("h1", "citizen-1")) })
	// A View sees what was committed before it.
	view(t, st, func(tx wallet.Tx) error {
		_, err := tx.Holder("h1")
		noErr(t, "Holder in View after commit", err)
		return nil
	})
	// fn's error comes back through View.
	err := st.View(t.Context(), func(tx wallet.Tx) error { return fmt.Errorf("wrapped: %w", errBoom) })
	isErr(t, "View returns fn's error", err, errBoom)
	// A View cannot write.
	err = st.View(t.Context(), func(tx wallet.Tx) error { return tx.PutMeta("m", []byte("x")) })
	if err == nil {
		t.Errorf("PutMeta in View: no error")
	}
	view(t, st, func(tx wallet.Tx) error {
		_, err := tx.Meta("m")
		isErr(t, "Meta written in a View", err, wallet.ErrNotFound)
		return nil
	})
	// A View that runs while an Update is in progress sees the state before
	// it, and the next View sees the commit.
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- st.Update(t.Context(), func(tx wallet.Tx) error {
			err := tx.PutHolder(newHolder("h2", "citizen-2"))
			close(started)
			if err != nil {
				return err
			}
			<-release
			return nil
		})
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Update ended before its fn ran: %v", err)
	}
	view(t, st, func(tx wallet.Tx) error {
		_, err := tx.Holder("h2")
		isErr(t, "Holder in View during an uncommitted Update", err, wallet.ErrNotFound)
		return nil
	})
	close(release)
	noErr(t, "Update", <-done)
	view(t, st, func(tx wallet.Tx) error {
		_, err := tx.Holder("h2")
		noErr(t, "Holder in View after commit", err)
		return nil
	})
}

func (s *suite) testCanceledContext(t *testing.T) {
	st := s.fresh(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, run := range map[string]func(context.Context, func(wallet.Tx) error) error{
		"View": st.View, "Update": st.Update, "Batch": st.Batch,
	} {
		called := false
		err := run(ctx, func(wallet.Tx) error { called = true; return nil })
		isErr(t, name+" with a canceled context", err, context.Canceled)
		if called {
			t.Errorf("%s with a canceled context ran fn", name)
		}
	}
	isErr(t, "Ping with a canceled context", st.Ping(ctx), context.Canceled)
}

// testBatchCounter: concurrent read-modify-write through Batch; every
// increment lands exactly once, though fn may run more than once.
func (s *suite) testBatchCounter(t *testing.T) {
	st := s.fresh(t)
	sh := newShare("counter", "h1", at(0))
	sh.MaxUses = 1000
	update(t, st, func(tx wallet.Tx) error { return tx.PutShare(sh) })
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := st.Batch(t.Context(), func(tx wallet.Tx) error {
				cur, err := tx.Share("counter")
				if err != nil {
					return err
				}
				cur.Uses++
				if err := tx.PutShare(cur); err != nil {
					return err
				}
				return tx.AppendActivity(newActivity("h1", uint64(i+1)))
			})
			if err != nil {
				t.Errorf("Batch %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	view(t, st, func(tx wallet.Tx) error {
		cur, err := tx.Share("counter")
		noErr(t, "Share", err)
		if cur.Uses != n {
			t.Errorf("counter after %d batches: %d", n, cur.Uses)
		}
		all, err := tx.Activity("h1", 0)
		noErr(t, "Activity", err)
		if len(all) != n {
			t.Errorf("activity after %d batches: %d entries", n, len(all))
		}
		return nil
	})
}

var errRedeemed = errors.New("storetest: already redeemed")

// testRedeemOnce: a check-and-set redemption under 50 concurrent callers
// succeeds exactly MaxUses times (THREATS T15), through Update and Batch.
func (s *suite) testRedeemOnce(t *testing.T) {
	for _, mode := range []string{"Update", "Batch"} {
		for _, maxUses := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/max%d", mode, maxUses), func(t *testing.T) {
				st := s.fresh(t)
				run := st.Update
				if mode == "Batch" {
					run = st.Batch
				}
				sh := newShare("s1", "h1", at(0))
				sh.TokenHash, sh.Status, sh.MaxUses = []byte("token-1"), api.ShareActive, maxUses
				update(t, st, func(tx wallet.Tx) error { return tx.PutShare(sh) })
				const n = 50
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						errs[i] = run(t.Context(), func(tx wallet.Tx) error {
							cur, err := tx.ShareByToken([]byte("token-1"))
							if err != nil {
								return err
							}
							if cur.Status != api.ShareActive || cur.Uses >= cur.MaxUses {
								return errRedeemed
							}
							cur.Uses++
							if cur.Uses == cur.MaxUses {
								cur.Status = api.ShareRedeemed
							}
							return tx.PutShare(cur)
						})
					})
				}
				wg.Wait()
				ok := 0
				for i, err := range errs {
					switch {
					case err == nil:
						ok++
					case !errors.Is(err, errRedeemed):
						t.Errorf("redeem %d: %v, want nil or errRedeemed", i, err)
					}
				}
				if ok != maxUses {
					t.Errorf("%d of %d concurrent redemptions succeeded, want %d", ok, n, maxUses)
				}
				view(t, st, func(tx wallet.Tx) error {
					cur, err := tx.Share("s1")
					noErr(t, "Share", err)
					if cur.Uses != maxUses || cur.Status != api.ShareRedeemed {
						t.Errorf("share after redemptions: uses %d, status %s", cur.Uses, cur.Status)
					}
					return nil
				})
			})
		}
	}
}

// testBatchIsolatesFailures: in concurrent Batch calls, one fn's error
// undoes its own writes only, and comes back to its own caller.
func (s *suite) testBatchIsolatesFailures(t *testing.T) {
	st := s.fresh(t)
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = st.Batch(t.Context(), func(tx wallet.Tx) error {
				if err := tx.PutMeta(fmt.Sprintf("m%d", i), []byte{byte(i)}); err != nil {
					return err
				}
				if i%2 == 1 {
					return fmt.Errorf("batch %d: %w", i, errBoom)
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 1 {
			isErr(t, fmt.Sprintf("Batch %d", i), err, errBoom)
		} else if err != nil {
			t.Errorf("Batch %d: %v", i, err)
		}
	}
	view(t, st, func(tx wallet.Tx) error {
		for i := range n {
			v, err := tx.Meta(fmt.Sprintf("m%d", i))
			if i%2 == 1 {
				isErr(t, fmt.Sprintf("Meta(m%d) of a failed batch", i), err, wallet.ErrNotFound)
				continue
			}
			noErr(t, "Meta", err)
			same(t, fmt.Sprintf("Meta(m%d)", i), v, []byte{byte(i)})
		}
		return nil
	})
}

// testDurability: what Update and Batch committed is there after the
// store is closed and opened again, indexes and unique keys included.
func (s *suite) testDurability(t *testing.T) {
	dir := t.TempDir()
	first := s.open(t, dir)
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = first.Close()
		}
	})
	sh := newShare("s1", "h1", at(0))
	sh.TokenHash, sh.Status = []byte("token-1"), api.ShareActive
	update(t, first, func(tx wallet.Tx) error {
		noErr(t, "PutIssuer", tx.PutIssuer(newIssuer("mps")))
		noErr(t, "PutAPIKey", tx.PutAPIKey(newAPIKey("k1", "hash-1")))
		noErr(t, "PutHolder", tx.PutHolder(newHolder("h1", "citizen-1")))
		noErr(t, "PutDevice", tx.PutDevice(newDevice("d2", "h1", at(time.Hour))))
		noErr(t, "PutDevice", tx.PutDevice(newDevice("d1", "h1", at(0))))
		noErr(t, "PutCredential", tx.PutCredential(newCredential("c1", "h1", at(0))))
		noErr(t, "PutShare", tx.PutShare(sh))
		noErr(t, "PutShare", tx.PutShare(newShare("s2", "h1", at(time.Hour))))
		noErr(t, "AllocateStatusIndex", tx.AllocateStatusIndex("mps", 0, 42))
		noErr(t, "AppendActivity", tx.AppendActivity(newActivity("h1", 1)))
		noErr(t, "AppendActivity", tx.AppendActivity(newActivity("h1", 2)))
		noErr(t, "UseOnce", tx.UseOnce("jti:1", at(time.Hour), at(0)))
		return nil
	})
	err := first.Batch(t.Context(), func(tx wallet.Tx) error {
		return tx.AppendVerification(newVerification("v1", 1))
	})
	noErr(t, "Batch", err)
	noErr(t, "Close", first.Close())
	closed = true

	st := s.openAt(t, dir)
	view(t, st, func(tx wallet.Tx) error {
		got, err := tx.Issuer("mps")
		noErr(t, "Issuer after reopen", err)
		same(t, "Issuer after reopen", got, newIssuer("mps"))
		_, err = tx.APIKeyByHash([]byte("hash-1"))
		noErr(t, "APIKeyByHash after reopen", err)
		_, err = tx.HolderByCitizen([]byte("citizen-1"))
		noErr(t, "HolderByCitizen after reopen", err)
		devs, err := tx.Devices("h1")
		noErr(t, "Devices after reopen", err)
		sameList(t, "Devices after reopen", ids(devs, func(d *wallet.Device) string { return d.ID }), []string{"d1", "d2"})
		creds, err := tx.Credentials("h1")
		noErr(t, "Credentials after reopen", err)
		if len(creds) == 1 {
			same(t, "Credential after reopen", creds[0], newCredential("c1", "h1", at(0)))
		} else {
			t.Errorf("Credentials after reopen: %d", len(creds))
		}
		got2, err := tx.ShareByToken([]byte("token-1"))
		noErr(t, "ShareByToken after reopen", err)
		same(t, "Share after reopen", got2, sh)
		shares, err := tx.Shares("h1")
		noErr(t, "Shares after reopen", err)
		sameList(t, "Shares after reopen", ids(shares, func(s *wallet.Share) string { return s.ID }), []string{"s2", "s1"})
		act, err := tx.Activity("h1", 1)
		noErr(t, "Activity after reopen", err)
		sameList(t, "Activity after reopen", seqs(act, func(e *api.ActivityEntry) uint64 { return e.Seq }), []uint64{2})
		ver, err := tx.Verifications("v1", 0)
		noErr(t, "Verifications after reopen", err)
		if len(ver) != 1 {
			t.Errorf("Verifications after reopen (written by Batch): %d", len(ver))
		}
		return nil
	})
	// Unique keys are still taken.
	err = st.Update(t.Context(), func(tx wallet.Tx) error { return tx.PutHolder(newHolder("h2", "citizen-1")) })
	isErr(t, "PutHolder(taken citizen) after reopen", err, wallet.ErrExists)
	err = st.Update(t.Context(), func(tx wallet.Tx) error { return tx.AllocateStatusIndex("mps", 0, 42) })
	isErr(t, "AllocateStatusIndex(taken) after reopen", err, wallet.ErrExists)
	err = st.Update(t.Context(), func(tx wallet.Tx) error { return tx.UseOnce("jti:1", at(time.Hour), at(time.Minute)) })
	isErr(t, "UseOnce(taken) after reopen", err, wallet.ErrExists)
	err = st.Update(t.Context(), func(tx wallet.Tx) error { return tx.AppendActivity(newActivity("h1", 2)) })
	isErr(t, "AppendActivity(taken) after reopen", err, wallet.ErrExists)
}

func (s *suite) testPing(t *testing.T) {
	dir := t.TempDir()
	st := s.open(t, dir)
	noErr(t, "Ping", st.Ping(t.Context()))
	noErr(t, "Close", st.Close())
	if err := st.Ping(t.Context()); err == nil {
		t.Errorf("Ping after Close: no error")
	}
}
