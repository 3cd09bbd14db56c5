package bolt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/wallet"
	"go.etcd.io/bbolt"
)

// agedFile writes n credentials of two issuers and statuses through the
// store, then makes the file what a binary before the credentials' issuer
// index wrote: each record with only its holder index entry, no issuer
// index bucket, and no index counts in the format bucket (a file from
// before the counts). It returns the path and the credentials by id.
func agedFile(t *testing.T, n int) (string, map[string]*wallet.Credential) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wallet.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string]*wallet.Credential{}
	statuses := []string{api.StatusValid, api.StatusRevoked, api.StatusSuspended}
	err = s.Update(t.Context(), func(tx wallet.Tx) error {
		for i := range n {
			c := &wallet.Credential{ID: fmt.Sprintf("crd_%03d", i), HolderID: fmt.Sprintf("h%d", i%4),
				IssuerID: []string{"mps", "vss"}[i%2], Type: "t", Status: statuses[i%3],
				IssuedAt: time.Date(2026, 1, 1, 0, 0, i/3, 0, time.UTC), ValidUntil: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
			creds[c.ID] = c
			if err := wallet.Credentials.Put(tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := wallet.Credentials.Kind()
	err = db.Update(func(btx *bbolt.Tx) error {
		recs := btx.Bucket([]byte(k.Name))
		var keys, values [][]byte
		err := recs.ForEach(func(key, v []byte) error {
			was, body, err := split(v)
			if err != nil {
				return err
			}
			keys, values = append(keys, bytes.Clone(key)), append(values, joinValue(was[:1], body))
			return nil
		})
		for i := range keys {
			if err == nil {
				err = recs.Put(keys[i], values[i])
			}
		}
		if err == nil {
			err = btx.DeleteBucket([]byte(indexBucket(k, k.Indexes[1])))
		}
		f := btx.Bucket([]byte(bucketFormat))
		for _, k := range wallet.Kinds() {
			if err == nil {
				err = f.Delete(filledKey(k))
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return path, creds
}

// checkIssuerIndex: every credential is listed by its issuer and status
// exactly once, in issuance order, and the holder index is untouched.
func checkIssuerIndex(t *testing.T, s *Store, creds map[string]*wallet.Credential) {
	t.Helper()
	err := s.View(t.Context(), func(tx wallet.Tx) error {
		seen := 0
		for _, issuer := range []string{"mps", "vss"} {
			for _, status := range []string{api.StatusRevoked, api.StatusSuspended, api.StatusValid} {
				got, err := wallet.Credentials.List(tx, "issuer", wallet.Order{}, issuer, status)
				if err != nil {
					return err
				}
				var want []string
				for _, c := range creds {
					if c.IssuerID == issuer && c.Status == status {
						want = append(want, c.ID)
					}
				}
				slices.SortFunc(want, func(a, b string) int { return cmp.Or(creds[a].IssuedAt.Compare(creds[b].IssuedAt), cmp.Compare(a, b)) })
				ids := make([]string, len(got))
				for i, c := range got {
					ids[i] = c.ID
				}
				if !slices.Equal(ids, want) {
					t.Errorf("%s %s: listed %v, want %v", issuer, status, ids, want)
				}
				seen += len(got)
			}
		}
		if seen != len(creds) {
			t.Errorf("%d credentials listed by issuer, %d stored", seen, len(creds))
		}
		held, err := wallet.Credentials.List(tx, "holder", wallet.Order{})
		if err != nil || len(held) != len(creds) {
			t.Errorf("by holder: %d of %d, %v", len(held), len(creds), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenFillsANewIndex: a file written before the credentials had their
// issuer index is given it at open, chunk by chunk, and the file is then
// counted full, so the next open only reads it; a record changed after
// moves in the index as any other.
func TestOpenFillsANewIndex(t *testing.T) {
	path, creds := agedFile(t, 23)
	s, err := Open(path, func(c *config) { c.fillChunk = 5 })
	if err != nil {
		t.Fatal(err)
	}
	checkIssuerIndex(t, s, creds)
	err = s.View(t.Context(), func(wtx wallet.Tx) error {
		f := wtx.(*tx).btx.Bucket([]byte(bucketFormat))
		for _, k := range wallet.Kinds() {
			if n, _ := binary.Uvarint(f.Get(filledKey(k))); n != uint64(len(k.Indexes)) || f.Get(fillKey(k)) != nil {
				t.Errorf("%s: counted %d indexes full of %d, fill mark %q", k.Name, n, len(k.Indexes), f.Get(fillKey(k)))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := creds["crd_004"]
	c.Status = api.StatusValid
	if err := s.Update(t.Context(), func(tx wallet.Tx) error { return wallet.Credentials.Put(tx, c) }); err != nil {
		t.Fatal(err)
	}
	checkIssuerIndex(t, s, creds)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := fileTxID(t, path)
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	checkIssuerIndex(t, s, creds)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if after := fileTxID(t, path); after != before {
		t.Errorf("a file with full indexes was written at open (txid %d → %d)", before, after)
	}
}

// TestFillGoesOnAfterACrash: a fill cut short after its first chunk is
// finished by the next open, each record indexed once.
func TestFillGoesOnAfterACrash(t *testing.T) {
	path, creds := agedFile(t, 17)
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := wallet.Credentials.Kind()
	err = db.Update(func(btx *bbolt.Tx) error {
		if _, err := btx.CreateBucket([]byte(indexBucket(k, k.Indexes[1]))); err != nil {
			return err
		}
		done, err := fillChunkOf(btx, k, 6)
		if done {
			t.Error("one chunk of 6 filled 17 records")
		}
		return err
	})
	if err == nil {
		err = db.Close() // the crash: the process ends here
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, func(c *config) { c.fillChunk = 4 })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkIssuerIndex(t, s, creds)
	err = s.View(t.Context(), func(wtx wallet.Tx) error {
		if n := wtx.(*tx).btx.Bucket([]byte(indexBucket(k, k.Indexes[1]))).Stats().KeyN; n != len(creds) {
			t.Errorf("%d issuer index entries for %d credentials", n, len(creds))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// fileTxID is the last committed transaction of the file at path.
func fileTxID(t *testing.T, path string) int {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int
	_ = db.View(func(btx *bbolt.Tx) error { id = btx.ID(); return nil })
	return id
}
