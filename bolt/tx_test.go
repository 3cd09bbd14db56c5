package bolt

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/wallet"
	"go.etcd.io/bbolt"
)

// TestUnchangedIndexEntriesNotRewritten: a put whose index values did not
// change (a redemption counting a use) writes the record and nothing of
// its indexes: it touches exactly the pages a bare write of the record's
// bucket touches, and fewer than a put that moves an index entry.
func TestUnchangedIndexEntriesNotRewritten(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "wallet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := wallet.Shares.Kind()
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	share := func(n int, holder string) wallet.Record {
		return wallet.Record{Key: []any{"s1"}, Index: [][]any{{[]byte("token-1")}, {holder, created}}, Body: []byte{byte(n)}}
	}
	// Enough other shares that each bucket is a tree of its own pages.
	err = s.db.Update(func(btx *bbolt.Tx) error {
		t := &tx{btx: btx}
		for i := range 2000 {
			id := string(rune('a'+i%26)) + time.Duration(i).String()
			r := wallet.Record{Key: []any{id}, Index: [][]any{{[]byte("tok-" + id)}, {"h-" + id, created}}, Body: make([]byte, 100)}
			if err := wallet.Put(t, k, r); err != nil {
				return err
			}
		}
		return wallet.Put(t, k, share(0, "h1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	// nodes counts the B+tree nodes fn's transaction materialized: each
	// bucket written to materializes the nodes on its path.
	nodes := func(fn func(*tx) error) int64 {
		var n int64
		err := s.db.Update(func(btx *bbolt.Tx) error {
			if err := fn(&tx{btx: btx}); err != nil {
				return err
			}
			st := btx.Stats()
			n = st.GetNodeCount()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	bare := nodes(func(t *tx) error {
		v := t.btx.Bucket([]byte(k.Name)).Get(appendValues(nil, k.Key, []any{"s1"}))
		return t.btx.Bucket([]byte(k.Name)).Put(appendValues(nil, k.Key, []any{"s1"}), append([]byte(nil), v...))
	})
	same := nodes(func(t *tx) error { return wallet.Put(t, k, share(1, "h1")) })
	moved := nodes(func(t *tx) error { return wallet.Put(t, k, share(2, "h2")) })
	if same != bare {
		t.Errorf("a put with unchanged index values materialized %d nodes, a bare record write %d", same, bare)
	}
	if moved <= same {
		t.Errorf("a put that moves an index entry materialized %d nodes, one that moves none %d", moved, same)
	}
}

// TestIndexEntryWithoutRecordIsNotNotFound: an index entry whose record is
// gone is a damaged file, answered as a storage failure, never as "not
// found" (SPEC §5, THREATS T42).
func TestIndexEntryWithoutRecordIsNotNotFound(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "wallet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := wallet.Shares.Kind()
	r := wallet.Record{Key: []any{"s1"}, Index: [][]any{{[]byte("token-1")}, {"h1", time.Unix(0, 0)}}, Body: []byte("{}")}
	err = s.db.Update(func(btx *bbolt.Tx) error {
		if err := wallet.Put(&tx{btx: btx}, k, r); err != nil {
			return err
		}
		return btx.Bucket([]byte(k.Name)).Delete(appendValues(nil, k.Key, r.Key))
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Fetch(t.Context(), wallet.Lookup{Kind: k, Index: "token", Prefix: []any{[]byte("token-1")}})
	if err == nil || errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("a token whose share is gone: %v, want an error other than not found", err)
	}
}
