package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/eidwallet/eidwallet/wallet"
	"go.etcd.io/bbolt"
)

// Indexes added to a kind that already has records (issue 13: credentials
// by issuer and status). A record's stored value holds one entry per
// index its kind had when it was put (joinValue), so the records put
// before an index existed are exactly those with fewer entries than the
// kind has indexes, and the new index bucket, made empty at open, lacks
// them. Open fills it before it returns: it walks the kind's records in
// key order, a chunk per write transaction, and gives each short record
// its missing entries, computed from its body by the kind's
// wallet.Kind.Reindex. The format bucket keeps, per kind, how many of its
// indexes every record has entries for ("indexes/<kind>"), and, while a
// fill is under way, the last key it did ("fill/<kind>"), so a fill cut
// short by a crash goes on where it stopped at the next open, and a file
// whose indexes are full is only read at open (SPEC §7).
//
// A file written before these counts existed has none: each of its kinds
// with indexes is walked once (a read of every such record, a write only
// of the short ones: offline codes put before their expiry index, issue
// 12), then counted full.

// fillChunk is how many records a fill walks per write transaction: the
// pages it dirties stay in memory until the commit.
const fillChunk = 5000

func filledKey(k *wallet.Kind) []byte { return []byte("indexes/" + k.Name) }
func fillKey(k *wallet.Kind) []byte   { return []byte("fill/" + k.Name) }

// staleKinds are the kinds of a file whose records may lack entries of
// some of their indexes: fewer counted full than declared.
func staleKinds(f *bbolt.Bucket) []*wallet.Kind {
	var stale []*wallet.Kind
	for _, k := range wallet.Kinds() {
		n, _ := binary.Uvarint(f.Get(filledKey(k))) // none: 0
		if len(k.Indexes) > 0 && n < uint64(len(k.Indexes)) {
			stale = append(stale, k)
		}
	}
	return stale
}

// markFilled records that every record of k has entries for all its
// indexes.
func markFilled(f *bbolt.Bucket, k *wallet.Kind) error {
	if err := f.Delete(fillKey(k)); err != nil {
		return err
	}
	return f.Put(filledKey(k), binary.AppendUvarint(nil, uint64(len(k.Indexes))))
}

// fillIndexes fills the indexes of the stale kinds, chunk records per
// transaction.
func fillIndexes(db *bbolt.DB, stale []*wallet.Kind, chunk int) error {
	for _, k := range stale {
		if k.Reindex == nil {
			return fmt.Errorf("fill indexes of %s: the kind cannot compute index entries", k.Name)
		}
		for done := false; !done; {
			err := db.Update(func(btx *bbolt.Tx) error {
				var err error
				done, err = fillChunkOf(btx, k, chunk)
				return err
			})
			if err != nil {
				return fmt.Errorf("fill indexes of %s: %w", k.Name, err)
			}
		}
	}
	return nil
}

// fillChunkOf gives up to chunk records of k, after the last one the fill
// did, their missing index entries; done when it reached the last record.
func fillChunkOf(btx *bbolt.Tx, k *wallet.Kind, chunk int) (done bool, err error) {
	t := &tx{btx: btx}
	kb, err := t.kind(k)
	if err != nil {
		return false, err
	}
	idx, err := kb.indexes()
	if err != nil {
		return false, err
	}
	f := btx.Bucket([]byte(bucketFormat))
	type fill struct {
		rk, value []byte
		from      int      // the first index it lacked
		entries   [][]byte // all of them, the new ones from from
	}
	var fills []fill
	c := kb.recs.Cursor()
	key, v := c.First()
	if last := f.Get(fillKey(k)); last != nil {
		if key, v = c.Seek(last); bytes.Equal(key, last) {
			key, v = c.Next()
		}
	}
	var last []byte
	for n := 0; key != nil && n < chunk; key, v = c.Next() {
		n++
		last = key
		was, body, err := split(v)
		if err != nil {
			return false, fmt.Errorf("record: %w", err)
		}
		if len(was) >= len(k.Indexes) {
			continue
		}
		vals, err := k.Reindex(body)
		if err != nil {
			return false, err
		}
		if len(vals) != len(k.Indexes) {
			return false, fmt.Errorf("%d index entries for %d indexes", len(vals), len(k.Indexes))
		}
		fl := fill{rk: bytes.Clone(key), from: len(was), entries: make([][]byte, len(k.Indexes))}
		for i := range k.Indexes {
			if i < len(was) {
				fl.entries[i] = bytes.Clone(was[i])
				continue
			}
			ix := k.Indexes[i]
			if vals[i] == nil {
				continue
			}
			if err := wallet.CheckValues(ix.Columns, vals[i], true); err != nil {
				return false, fmt.Errorf("index %s: %w", ix.Name, err)
			}
			fl.entries[i] = appendValues(nil, ix.Columns, vals[i])
			if !ix.Unique {
				fl.entries[i] = append(fl.entries[i], key...)
			}
		}
		fl.value = joinValue(fl.entries, body) // a copy: v is bbolt's memory
		fills = append(fills, fl)
	}
	last = bytes.Clone(last)
	// Written after the walk: a bbolt cursor is not to be trusted across
	// writes to its bucket.
	for _, fl := range fills {
		for i := fl.from; i < len(k.Indexes); i++ {
			e := fl.entries[i]
			if e == nil {
				continue
			}
			if cur := idx[i].Get(e); k.Indexes[i].Unique && cur != nil && !bytes.Equal(cur, fl.rk) {
				return false, fmt.Errorf("index %s: a value two records hold", k.Indexes[i].Name)
			}
			if err := idx[i].Put(e, fl.rk); err != nil {
				return false, err
			}
		}
		if err := kb.recs.Put(fl.rk, fl.value); err != nil {
			return false, err
		}
	}
	if key == nil {
		return true, markFilled(f, k)
	}
	return false, f.Put(fillKey(k), last)
}
