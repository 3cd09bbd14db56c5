package wallet_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/bolt"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/wallet"
)

// env is a service over a real bbolt file with one issuer (mps).
type env struct {
	svc    *wallet.Service
	store  *bolt.Store
	admin  *wallet.Principal
	issuer *wallet.Principal
	now    time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	master := make([]byte, 32)
	rand.Read(master)
	keys, err := wallet.DeriveKeys(master)
	if err != nil {
		t.Fatal(err)
	}
	types, _ := credentials.NewRegistry(credentials.BuiltinTypes()...)
	e := &env{store: store, now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	e.svc, err = wallet.New(context.Background(), wallet.Config{Store: store, Keys: keys, PublicURL: "https://wallet.test",
		Types: types, Now: func() time.Time { return e.now }, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	e.admin = &wallet.Principal{Role: wallet.RoleAdmin, Subject: "admin"}
	if _, err := e.svc.CreateIssuer(context.Background(), e.admin, wallet.CreateIssuerRequest{ID: "mps", Name: "Ministry of Public Security", Types: []string{"national_id"}}); err != nil {
		t.Fatal(err)
	}
	e.issuer = &wallet.Principal{Role: wallet.RoleIssuer, Subject: "mps"}
	return e
}

func (e *env) issue(t *testing.T, citizen string) *wallet.IssueResponse {
	t.Helper()
	resp, err := e.svc.Issue(context.Background(), e.issuer, wallet.IssueRequest{
		CitizenID: citizen, Type: "national_id", ValidUntil: e.now.AddDate(5, 0, 0),
		Claims: map[string]any{"id_number": citizen, "full_name": "Le Thi Demo", "birth_date": "1990-01-01",
			"sex": "F", "nationality": "VN", "issue_date": "2024-01-01", "expiry_date": "2034-01-01"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestSwappedCiphertextFailsClosed: two credentials' sealed claims swapped
// in the store no longer open, and the holder gets 503, not the other
// citizen's data (THREATS T25).
func TestSwappedCiphertextFailsClosed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.issue(t, "001090000001"), e.issue(t, "001090000002")
	var holderA string
	err := e.store.Update(ctx, func(tx wallet.Tx) error {
		ca, err := tx.Credential(a.CredentialID)
		if err != nil {
			return err
		}
		cb, err := tx.Credential(b.CredentialID)
		if err != nil {
			return err
		}
		holderA = ca.HolderID
		ca.Claims, cb.Claims = cb.Claims, ca.Claims
		if err := tx.PutCredential(ca); err != nil {
			return err
		}
		return tx.PutCredential(cb)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Credential(ctx, &wallet.Principal{Role: wallet.RoleHolder, Subject: holderA}, a.CredentialID)
	if wallet.ErrorCode(err) != wallet.CodeStorageUnavailable {
		t.Fatalf("swapped ciphertext: %v, want %s", err, wallet.CodeStorageUnavailable)
	}
}

// TestActivityChainDetectsEdit: the exported chain verifies, and any
// altered entry breaks it (THREATS T29).
func TestActivityChainDetectsEdit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.issue(t, "001090000003")
	e.issue(t, "001090000003")
	var holder string
	_ = e.store.View(ctx, func(tx wallet.Tx) error {
		c, err := tx.Credential(r.CredentialID)
		holder = c.HolderID
		return err
	})
	p := &wallet.Principal{Role: wallet.RoleHolder, Subject: holder}
	if _, err := e.svc.SetStatus(ctx, e.issuer, r.CredentialID, wallet.StatusRequest{Status: "suspended"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Activity(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != 3 || got.ChainValid == nil || !*got.ChainValid {
		t.Fatalf("export: %d entries, chain_valid %v", len(got.Entries), got.ChainValid)
	}
	for i := range got.Entries {
		edited := make([]*wallet.ActivityEntry, len(got.Entries))
		for j, en := range got.Entries {
			c := *en
			edited[j] = &c
		}
		edited[i].Outcome = "edited"
		if wallet.CheckChain(edited) {
			t.Errorf("editing entry %d left the chain valid", i)
		}
	}
	if wallet.CheckChain(got.Entries[1:]) {
		t.Error("dropping the first entry left the chain valid")
	}
}

// TestStatusIndicesRandomAndUnique: indices are spread over the list, not
// handed out in order, and never repeat (SPEC §3.5).
func TestStatusIndicesRandomAndUnique(t *testing.T) {
	e := newEnv(t)
	seen := map[int]bool{}
	sequential := 0
	prev := -1
	for i := range 100 {
		r := e.issue(t, "001090000004")
		if seen[r.StatusIndex] {
			t.Fatalf("index %d handed out twice (after %d)", r.StatusIndex, i)
		}
		seen[r.StatusIndex] = true
		if r.StatusIndex == prev+1 {
			sequential++
		}
		prev = r.StatusIndex
	}
	if sequential > 5 {
		t.Errorf("%d of 100 indices followed their predecessor", sequential)
	}
}

// TestMasterKeyFile: made 0600 on first start, read back the same, and a
// key file readable by others is refused (THREATS T27).
func TestMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	k1, created, err := wallet.LoadOrCreateMasterKey(path, rand.Reader)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", st.Mode().Perm())
	}
	k2, created, err := wallet.LoadOrCreateMasterKey(path, rand.Reader)
	if err != nil || created || string(k1) != string(k2) {
		t.Fatalf("reload: created %v, err %v, same %v", created, err, string(k1) == string(k2))
	}
	os.Chmod(path, 0o644)
	if _, _, err := wallet.LoadOrCreateMasterKey(path, rand.Reader); err == nil {
		t.Error("a world-readable master key was accepted")
	}
}

// TestSealerBindsAssociatedData: a sealed record opens only with its own
// associated data.
func TestSealerBindsAssociatedData(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	s, err := wallet.NewAESGCM(key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("claims"), []byte("credential|c1|h1"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := s.Open(sealed, []byte("credential|c1|h1")); err != nil || string(pt) != "claims" {
		t.Fatalf("open: %q %v", pt, err)
	}
	for _, ad := range []string{"credential|c2|h1", "credential|c1|h2", ""} {
		if _, err := s.Open(sealed, []byte(ad)); err == nil {
			t.Errorf("opened with associated data %q", ad)
		}
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open(sealed, []byte("credential|c1|h1")); err == nil {
		t.Error("opened a tampered ciphertext")
	}
}
