package wallet

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// Pages of lists (issue 13 item 4; the shape is api/page.go's). A page is
// a keyset page: the records of the list strictly after the position of
// the last one the page before showed (Order.After), so a page costs its
// own records whatever the list's length, and a record added or removed
// meanwhile neither repeats nor hides another.
//
// The cursor carries that position, past the list's prefix: the prefix
// (whose records: the holder's, the verifier's, the issuer's) always comes
// from the authenticated caller, never from the cursor, so no cursor
// reaches into anyone else's records. It is opaque to clients and signed:
//
//	base64url(version ‖ values ‖ HMAC-SHA-256(token key, list ‖ version ‖ values)[:16])
//
// where list names the list, its caller and its filters, and each value is
// a type byte and its bytes. So a cursor is refused (400 invalid_request)
// when it was altered, or made for another list, caller or filter; it is
// read only once its tag checks, and only up to api.MaxCursor characters.
// It does not expire, and holds nothing a client does not see already
// (ids and times of its own records).

const (
	cursorVersion = 1
	cursorTag     = 16 // bytes of HMAC-SHA-256 kept
	// maxScan bounds the records a page of a filtered list reads: a page
	// that reads that many and keeps fewer than its limit ends there, with
	// a cursor to go on.
	maxScan = 10 * api.MaxLimit
)

// pager is the page of one list a caller asked for.
type pager struct {
	key   []byte
	list  []byte // the list, its caller and its filters: what the cursor is bound to
	limit int
	after []any // the position past the prefix the cursor names; nil: the first page
}

// pager reads the limit and cursor of a page of the list named by parts
// (its name, then its caller and filters): 400 invalid_request when the
// limit is out of range or the cursor is not one this list gave.
func (s *Service) pager(pg api.Page, parts ...string) (*pager, error) {
	p := &pager{key: s.keys.Token, limit: pg.Limit}
	p.list = binary.AppendUvarint(p.list, uint64(len(parts)))
	for _, part := range parts {
		p.list = append(binary.AppendUvarint(p.list, uint64(len(part))), part...)
	}
	switch {
	case pg.Limit == 0:
		p.limit = api.DefaultLimit
	case pg.Limit < 1 || pg.Limit > api.MaxLimit:
		return nil, Errorf(api.CodeInvalidRequest, "limit must be an integer from 1 to %d", api.MaxLimit)
	}
	if pg.Cursor == "" {
		return p, nil
	}
	bad := Errorf(api.CodeInvalidRequest, "cursor: not a cursor of this list; pass the next_cursor of the page before, with the same parameters")
	if len(pg.Cursor) > api.MaxCursor {
		return nil, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(pg.Cursor)
	if err != nil || len(raw) < 1+cursorTag || raw[0] != cursorVersion {
		return nil, bad
	}
	body, tag := raw[:len(raw)-cursorTag], raw[len(raw)-cursorTag:]
	if !hmac.Equal(tag, p.tag(body)) {
		return nil, bad
	}
	if p.after, err = decodePosition(body[1:]); err != nil || len(p.after) == 0 {
		return nil, bad
	}
	return p, nil
}

func (p *pager) tag(body []byte) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("cursor|"))
	m.Write(p.list)
	m.Write(body)
	return m.Sum(nil)[:cursorTag]
}

// cursor is the cursor of the position rest (past the prefix).
func (p *pager) cursor(rest []any) (string, error) {
	body, err := appendPosition([]byte{cursorVersion}, rest)
	if err != nil {
		return "", err
	}
	c := base64.RawURLEncoding.EncodeToString(append(body, p.tag(body)...))
	if len(c) > api.MaxCursor {
		return "", fmt.Errorf("cursor: a position of %d bytes", len(body))
	}
	return c, nil
}

// Position values: a type byte, then a Text or Bytes value's length
// (uvarint) and bytes, an Int's 8 bytes, or a Time's seconds (8 bytes)
// and nanoseconds (4 bytes), big-endian.
const (
	posText  = 's'
	posBytes = 'b'
	posInt   = 'i'
	posTime  = 't'
)

func appendPosition(b []byte, vals []any) ([]byte, error) {
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			b = append(binary.AppendUvarint(append(b, posText), uint64(len(v))), v...)
		case []byte:
			b = append(binary.AppendUvarint(append(b, posBytes), uint64(len(v))), v...)
		case int64:
			b = binary.BigEndian.AppendUint64(append(b, posInt), uint64(v))
		case time.Time:
			b = binary.BigEndian.AppendUint64(append(b, posTime), uint64(v.Unix()))
			b = binary.BigEndian.AppendUint32(b, uint32(v.Nanosecond()))
		default:
			return nil, fmt.Errorf("cursor: a position value %T", v)
		}
	}
	return b, nil
}

// decodePosition reverses appendPosition on bytes whose tag checked.
func decodePosition(b []byte) ([]any, error) {
	var vals []any
	for len(b) > 0 {
		typ := b[0]
		b = b[1:]
		switch typ {
		case posText, posBytes:
			n, k := binary.Uvarint(b)
			if k <= 0 || n > uint64(len(b)-k) {
				return nil, errBadValue
			}
			v := bytes.Clone(b[k : k+int(n)])
			b = b[k+int(n):]
			if typ == posText {
				vals = append(vals, string(v))
			} else {
				vals = append(vals, v)
			}
		case posInt:
			if len(b) < 8 {
				return nil, errBadValue
			}
			vals, b = append(vals, int64(binary.BigEndian.Uint64(b))), b[8:]
		case posTime:
			if len(b) < 12 {
				return nil, errBadValue
			}
			t := time.Unix(int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint32(b[8:]))).UTC()
			vals, b = append(vals, t), b[12:]
		default:
			return nil, errBadValue
		}
	}
	return vals, nil
}

// sift tells a page of a filtered list whether to show a record, and
// whether records after it in the list's order may be shown at all (more
// false ends the list there).
type sift[T any] func(*T) (show, more bool)

// listPage reads p's page of r's records under prefix, in the order of
// index (of the key when ""), reversed when desc, and returns them with
// the cursor of the next page ("" on the last). With keep, it shows only
// the records keep shows, reading on until it has a page or has read
// maxScan records.
func listPage[T any](tx Tx, p *pager, r *Records[T], index string, desc bool, keep sift[T], prefix ...any) ([]*T, string, error) {
	prefix, err := normalize(prefix)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", r.kind.Name, err)
	}
	var after []any
	if p.after != nil {
		after = append(slices.Clip(prefix), p.after...)
		if r.kind.CheckPosition(index, after, prefix) != nil {
			return nil, "", Errorf(api.CodeInvalidRequest, "cursor: not a cursor of this list")
		}
	}
	out := []*T{}
	for scanned := 0; ; {
		want := p.limit + 1 - len(out)
		if keep != nil {
			want = max(want, 64)
		}
		got, err := r.List(tx, index, Order{Desc: desc, Limit: want, After: after}, prefix...)
		if err != nil {
			return nil, "", err
		}
		for _, v := range got {
			if keep == nil {
				out = append(out, v)
				continue
			}
			show, more := keep(v)
			if show {
				out = append(out, v)
			}
			if !more {
				got = nil // the end of the list
				break
			}
		}
		if len(out) > p.limit {
			break
		}
		if len(got) < want {
			return out, "", nil
		}
		pos, err := r.position(index, got[len(got)-1])
		if err != nil {
			return nil, "", err
		}
		// The prefix, then the record's values past it: those are its
		// index entry's, while its own values of the prefix's columns may
		// not be (a status a replica of the binary before migration 8
		// changed, which that entry does not show).
		after = append(slices.Clip(prefix), pos[len(prefix):]...)
		if scanned += len(got); scanned >= maxScan {
			next, err := p.cursor(after[len(prefix):])
			return out, next, err
		}
	}
	out = out[:p.limit]
	pos, err := r.position(index, out[len(out)-1])
	if err != nil {
		return nil, "", err
	}
	next, err := p.cursor(pos[len(prefix):])
	return out, next, err
}
