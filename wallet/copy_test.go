package wallet_test

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// chain returns n chained activity entries of holder, oldest first.
func chain(holder string, n int, at time.Time) []*api.ActivityEntry {
	var out []*api.ActivityEntry
	prev := ""
	for i := range n {
		e := &api.ActivityEntry{Seq: uint64(i + 1), HolderID: holder, At: at, Event: "share_created", Outcome: "ok", Prev: prev}
		e.Hash = wallet.EntryHash(e)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

// counterKey is a key of the usage counters at the hour of at.
func counterKey(at time.Time, i int) []any {
	return []any{at.Truncate(time.Hour), "verification", "national_id", "bank", "share", "valid", "-", int64(1000 * (i + 1))}
}

// Copy carries records whole, index entries and absent entries included,
// the live one-time keys and the counters' totals; CheckCopy then finds
// nothing wrong.
func TestCopyKeepsRecordsWhole(t *testing.T) {
	src, dst := servicetest.Open(t), servicetest.Open(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	keys, err := wallet.DeriveKeys(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := wallet.NewAESGCM(keys.Seal, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Sealed as the service seals a device's copy of a credential.
	sealedCopy, err := sealer.Seal([]byte("sd-jwt"), []byte("credential-copy|c1|d1"))
	if err != nil {
		t.Fatal(err)
	}
	err = src.Update(t.Context(), func(tx wallet.Tx) error {
		if err := wallet.Holders.Put(tx, &wallet.Holder{ID: "h1", CitizenHash: []byte{0, 1, 0, 2}, Created: now}); err != nil {
			return err
		}
		for _, sh := range []*wallet.Share{
			{ID: "s1", HolderID: "h1", TokenHash: []byte("token\x00hash"), Status: "active", Created: now, ExpiresAt: now.Add(time.Minute)},
			{ID: "s2", HolderID: "h1", Status: "pending", Created: now.Add(time.Second), ExpiresAt: now.Add(time.Minute)}, // no token entry
		} {
			if err := wallet.Shares.Put(tx, sh); err != nil {
				return err
			}
		}
		for _, e := range chain("h1", 3, now) {
			if err := wallet.ActivityLog.Put(tx, e); err != nil {
				return err
			}
		}
		if err := wallet.CredentialCopies.Put(tx, sealedCopy, "c1", "d1"); err != nil {
			return err
		}
		if err := tx.UseOnce("jti|live", now.Add(time.Hour), now); err != nil {
			return err
		}
		for i, n := range []int64{3, 4, 5} { // two keys, one added to twice
			if err := tx.Apply(wallet.Added(wallet.UsageCounters, n, counterKey(now, i%2)...)); err != nil {
				return err
			}
		}
		return tx.UseOnce("jti|dead", now.Add(-time.Hour), now.Add(-2*time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	copied, err := wallet.Copy(t.Context(), dst, src, now)
	if err != nil {
		t.Fatal(err)
	}
	if copied.Records["shares"] != 2 || copied.Records["activity"] != 3 || copied.Records["credential_copies"] != 1 || copied.OnceKeys != 1 ||
		copied.Records["usage_counters"] != 2 {
		t.Errorf("copied %+v, want 2 shares, 3 entries, 1 copy, 1 live one-time key, 2 counters", copied)
	}
	rep, err := wallet.CheckCopy(t.Context(), dst, src, keys, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 || rep.Holders != 1 || rep.ActivityEntries != 3 || rep.Compared != 7 || rep.Opened["credential copy"] != 1 {
		t.Errorf("report %+v, want no problem, 1 chain of 3, 7 records compared, the copy opened", rep)
	}
	err = dst.View(t.Context(), func(tx wallet.Tx) error {
		sh, err := wallet.Shares.By(tx, "token", []byte("token\x00hash"))
		if err != nil || sh.ID != "s1" {
			t.Errorf("share by token in the copy: %v, %v", sh, err)
		}
		list, err := wallet.Shares.List(tx, "holder", wallet.Order{Desc: true}, "h1")
		if err != nil || len(list) != 2 || list[0].ID != "s2" {
			t.Errorf("shares by holder in the copy: %d, %v", len(list), err)
		}
		counts, err := tx.Counts(wallet.UsageCounters, nil, nil)
		if err != nil || len(counts) != 2 || counts[0].N != 8 || counts[1].N != 4 {
			t.Errorf("counters in the copy: %v, %v; want 8 and 4", counts, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = dst.Update(t.Context(), func(tx wallet.Tx) error { return tx.UseOnce("jti|live", now.Add(time.Hour), now) })
	if !errors.Is(err, wallet.ErrExists) {
		t.Errorf("a one-time key used before the copy, used again after it: %v, want ErrExists", err)
	}
	if _, err := wallet.Copy(t.Context(), dst, src, now); !errors.Is(err, wallet.ErrNotEmpty) {
		t.Errorf("a second copy into the same store: %v, want ErrNotEmpty", err)
	}
}

// An activity chain altered in the source is copied as it is, and the
// check says where it breaks (THREATS T29).
func TestCheckCopyFindsABrokenChain(t *testing.T) {
	src, dst := servicetest.Open(t), servicetest.Open(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	entries := chain("h1", 3, now)
	entries[1].Outcome = "edited" // its hash no longer matches
	err := src.Update(t.Context(), func(tx wallet.Tx) error {
		if err := wallet.Holders.Put(tx, &wallet.Holder{ID: "h1", CitizenHash: []byte{1}, Created: now}); err != nil {
			return err
		}
		for _, e := range entries {
			if err := wallet.ActivityLog.Put(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wallet.Copy(t.Context(), dst, src, now); err != nil {
		t.Fatal(err)
	}
	keys, _ := wallet.DeriveKeys(make([]byte, 32))
	rep, err := wallet.CheckCopy(t.Context(), dst, src, keys, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "holder h1: the chain breaks at entry 2") {
		t.Errorf("problems %q, want the chain of h1 broken at entry 2", rep.Problems)
	}
}
