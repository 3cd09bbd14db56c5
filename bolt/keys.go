package bolt

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/eidwallet/eidwallet/wallet"
)

// Keys are a record's key values encoded one after the other. Each
// encoding sorts as its column does and is never a prefix of another value
// of the column, so that the encoded values of the first columns are a
// prefix of every key that starts with them, and a cursor walk over that
// prefix lists in column order:
//   - Text: the bytes, then 0x00 (wallet.CheckValue keeps NUL out of text);
//   - Bytes: 0x00 escaped as 0x00 0xff, then 0x00 0x01;
//   - Int: big-endian with the sign bit flipped;
//   - Time: seconds as Int, then nanoseconds big-endian (12 bytes).
func appendValues(b []byte, cols []wallet.Column, vals []any) []byte {
	for i, v := range vals {
		b = appendValue(b, cols[i].Type, v)
	}
	return b
}

func appendValue(b []byte, t wallet.Type, v any) []byte {
	switch t {
	case wallet.Text:
		return append(append(b, v.(string)...), 0)
	case wallet.Bytes:
		for _, c := range v.([]byte) {
			if c == 0 {
				b = append(b, 0, 0xff)
			} else {
				b = append(b, c)
			}
		}
		return append(b, 0, 1)
	case wallet.Int:
		return binary.BigEndian.AppendUint64(b, uint64(v.(int64))^(1<<63))
	default:
		return appendTime(b, v.(time.Time))
	}
}

// timeLen is the length of an encoded time.
const timeLen = 12

// appendTime appends t so that byte order is time order for every
// time.Time: UnixNano would be shorter but overflows outside 1678–2262,
// zero time included.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// parseTime reverses appendTime; b holds at least timeLen bytes.
func parseTime(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32(b[8:])))
}

// after returns the smallest key greater than every key that starts with
// prefix, or nil when there is none (an empty prefix, or all 0xff).
func after(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// A stored value is the record's index entries, then its body:
// uvarint(count), then per index uvarint(len) and the entry's key (len 0:
// not in that index), then the body. A put compares the entries it would
// write with these and rewrites only those that changed; a delete finds
// what to remove without decoding the body.
func joinValue(entries [][]byte, body []byte) []byte {
	n := 1 + len(body)
	for _, e := range entries {
		n += binary.MaxVarintLen32 + len(e)
	}
	v := binary.AppendUvarint(make([]byte, 0, n), uint64(len(entries)))
	for _, e := range entries {
		v = append(binary.AppendUvarint(v, uint64(len(e))), e...)
	}
	return append(v, body...)
}

var errCorrupt = errors.New("corrupt record header")

// split reverses joinValue. The slices point into v.
func split(v []byte) (entries [][]byte, body []byte, err error) {
	count, k := binary.Uvarint(v)
	if k <= 0 || count > uint64(len(v)) {
		return nil, nil, errCorrupt
	}
	v = v[k:]
	for range count {
		n, k := binary.Uvarint(v)
		if k <= 0 || n > uint64(len(v)-k) {
			return nil, nil, errCorrupt
		}
		var e []byte
		if n > 0 {
			e = v[k : k+int(n)]
		}
		entries = append(entries, e)
		v = v[k+int(n):]
	}
	return entries, v, nil
}

// bodyOf returns a copy of the body of the stored value v: bbolt's values
// point into its mmap, valid only inside the transaction.
func bodyOf(v []byte) ([]byte, error) {
	_, body, err := split(v)
	if err != nil {
		return nil, err
	}
	return append(make([]byte, 0, len(body)), body...), nil
}
