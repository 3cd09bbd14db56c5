package postgres

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/eidwallet/eidwallet/wallet"
)

var _ wallet.Scanner = (*tx)(nil)

// Scan selects k's rows in key order and gives fn each record whole: key
// and index columns (an index whose columns are NULL is an entry the
// record lacks) and the body as stored.
func (t *tx) Scan(k *wallet.Kind, fn func(wallet.Record) error) error {
	cols := append([]wallet.Column(nil), k.Key...)
	for _, ix := range k.Indexes {
		cols = append(cols, ix.Columns...)
	}
	sql := fmt.Sprintf("SELECT %s, rec FROM %s ORDER BY %s", names(cols), k.Name, names(k.Key))
	if k.Counter { // each key once, its shards summed: the total as 8 bytes big-endian
		sql = fmt.Sprintf("SELECT %s, int8send(sum(n)::bigint) FROM %s GROUP BY %[1]s ORDER BY %[1]s", names(k.Key), k.Name)
	}
	rows, err := t.tx.Query(t.ctx, sql)
	if err != nil {
		return fmt.Errorf("postgres: scan %s: %w", k.Name, t.fail(err))
	}
	defer rows.Close()
	vals := make([]columnValue, len(cols))
	dest := make([]any, len(cols)+1)
	for i, c := range cols {
		vals[i] = newColumnValue(c.Type)
		dest[i] = vals[i].dest
	}
	for rows.Next() {
		var body []byte
		dest[len(cols)] = &body
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("postgres: scan %s: %w", k.Name, err)
		}
		r := wallet.Record{Index: make([][]any, len(k.Indexes)), Body: body}
		for i := range k.Key {
			v, ok := vals[i].get()
			if !ok {
				return fmt.Errorf("postgres: scan %s: NULL in key column %s", k.Name, k.Key[i].Name)
			}
			r.Key = append(r.Key, v)
		}
		at := len(k.Key)
		for i, ix := range k.Indexes {
			entry := make([]any, 0, len(ix.Columns))
			for range ix.Columns {
				if v, ok := vals[at].get(); ok {
					entry = append(entry, v)
				}
				at++
			}
			if len(entry) == len(ix.Columns) {
				r.Index[i] = entry
			}
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: scan %s: %w", k.Name, t.fail(err))
	}
	return nil
}

// ScanOnce gives fn every recorded one-time key with its expiry, in key
// order.
func (t *tx) ScanOnce(fn func(key string, expires time.Time) error) error {
	rows, err := t.tx.Query(t.ctx, "SELECT key, expires FROM once ORDER BY key")
	if err != nil {
		return fmt.Errorf("postgres: scan once: %w", t.fail(err))
	}
	defer rows.Close()
	for rows.Next() {
		var key []byte
		var expires time.Time
		if err := rows.Scan(&key, &expires); err != nil {
			return fmt.Errorf("postgres: scan once: %w", err)
		}
		if err := fn(string(key), expires); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: scan once: %w", t.fail(err))
	}
	return nil
}

// columnValue scans one nullable column of a wallet.Type.
type columnValue struct {
	dest any
	get  func() (any, bool) // the value, false for NULL
}

func newColumnValue(t wallet.Type) columnValue {
	switch t {
	case wallet.Text:
		var v pgtype.Text
		return columnValue{&v, func() (any, bool) { return v.String, v.Valid }}
	case wallet.Bytes:
		var v []byte
		// pgx sets v to nil for NULL, else to a copy of the value
		// (never empty: wallet.CheckValue).
		return columnValue{&v, func() (any, bool) { return v, v != nil }}
	case wallet.Int:
		var v pgtype.Int8
		return columnValue{&v, func() (any, bool) { return v.Int64, v.Valid }}
	default:
		var v pgtype.Timestamptz
		return columnValue{&v, func() (any, bool) { return v.Time, v.Valid }}
	}
}
