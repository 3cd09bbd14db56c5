package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/eidwallet/eidwallet/wallet"
)

var _ wallet.Scanner = (*tx)(nil)

// Scan walks k's bucket in key order and gives fn each record whole: its
// key and index values decoded from their encodings (keys.go), and a copy
// of its body.
func (t *tx) Scan(k *wallet.Kind, fn func(wallet.Record) error) error {
	kb, err := t.kind(k)
	if err != nil {
		return err
	}
	c := kb.recs.Cursor()
	for rk, v := c.First(); rk != nil; rk, v = c.Next() {
		r, err := kb.record(rk, v)
		if err != nil {
			return fmt.Errorf("bolt: scan %s: %w", k.Name, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// record decodes the stored record at rk.
func (kb *kind) record(rk, v []byte) (wallet.Record, error) {
	key, rest, err := decodeValues(kb.Key, rk)
	if err != nil || len(rest) > 0 {
		return wallet.Record{}, fmt.Errorf("key %x: %w", rk, errors.Join(err, errCorrupt))
	}
	entries, body, err := split(v)
	if err != nil {
		return wallet.Record{}, fmt.Errorf("%s: %w", wallet.Describe(key), err)
	}
	r := wallet.Record{Key: key, Index: make([][]any, len(kb.Indexes)), Body: bytes.Clone(body)}
	for i, ix := range kb.Indexes {
		e := entry(entries, i)
		if e == nil {
			continue
		}
		// A non-unique entry is followed by the record's key: only
		// the index's own columns are read.
		if r.Index[i], _, err = decodeValues(ix.Columns, e); err != nil {
			return wallet.Record{}, fmt.Errorf("%s: index %s: %w", wallet.Describe(key), ix.Name, err)
		}
	}
	return r, nil
}

// ScanOnce gives fn every recorded one-time key with its expiry, in key
// order.
func (t *tx) ScanOnce(fn func(key string, expires time.Time) error) error {
	c := t.btx.Bucket([]byte(bucketOnce)).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(v) != timeLen {
			return fmt.Errorf("bolt: scan once: %w", errCorrupt)
		}
		if err := fn(string(k), parseTime(v)); err != nil {
			return err
		}
	}
	return nil
}

// decodeValues reverses appendValues for cols and returns what follows.
func decodeValues(cols []wallet.Column, b []byte) ([]any, []byte, error) {
	vals := make([]any, len(cols))
	for i, c := range cols {
		switch c.Type {
		case wallet.Text:
			end := bytes.IndexByte(b, 0)
			if end < 0 {
				return nil, nil, errCorrupt
			}
			vals[i], b = string(b[:end]), b[end+1:]
		case wallet.Bytes:
			// 0x00 0xff is an escaped 0x00, 0x00 0x01 the end.
			var out []byte
			for {
				end := bytes.IndexByte(b, 0)
				if end < 0 || end+1 >= len(b) {
					return nil, nil, errCorrupt
				}
				out = append(out, b[:end]...)
				marker := b[end+1]
				b = b[end+2:]
				if marker == 1 {
					break
				}
				if marker != 0xff {
					return nil, nil, errCorrupt
				}
				out = append(out, 0)
			}
			vals[i] = out
		case wallet.Int:
			if len(b) < 8 {
				return nil, nil, errCorrupt
			}
			vals[i], b = int64(binary.BigEndian.Uint64(b)^(1<<63)), b[8:]
		default:
			if len(b) < timeLen {
				return nil, nil, errCorrupt
			}
			vals[i], b = parseTime(b), b[timeLen:]
		}
	}
	return vals, b, nil
}
