package wallet

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// A cursor round-trips its position for its own list, and no other list
// or caller reads it (the HTTP tests alter and misuse cursors).
func TestCursorRoundTrip(t *testing.T) {
	s := &Service{keys: &Keys{Token: bytes.Repeat([]byte{7}, 32)}}
	p, err := s.pager(api.Page{}, "shares", "hld_a")
	if err != nil {
		t.Fatal(err)
	}
	pos := []any{"shr_x", []byte{0, 1, 0xff}, int64(-5), time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)}
	c, err := p.cursor(pos)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.pager(api.Page{Cursor: c, Limit: 3}, "shares", "hld_a")
	if err != nil || got.limit != 3 || len(got.after) != len(pos) {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	for i := range pos {
		if !sameValue(got.after[i], pos[i]) {
			t.Errorf("value %d: %#v, want %#v", i, got.after[i], pos[i])
		}
	}
	for _, parts := range [][]string{{"shares", "hld_b"}, {"activity", "hld_a"}, {"shares", "hld_a", ""}, {"shareshld_a"}} {
		if _, err := s.pager(api.Page{Cursor: c}, parts...); !invalidRequest(err) {
			t.Errorf("the cursor read for %q: %v", parts, err)
		}
	}
}

func invalidRequest(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == api.CodeInvalidRequest
}

// FuzzCursor: whatever a client sends as a cursor, reading it refuses it
// as a bad request or gives a position, and never panics.
func FuzzCursor(f *testing.F) {
	s := &Service{keys: &Keys{Token: bytes.Repeat([]byte{7}, 32)}}
	p, _ := s.pager(api.Page{}, "l")
	good, _ := p.cursor([]any{"a", int64(1), time.Unix(5, 6)})
	for _, seed := range []string{"", good, good[:len(good)-1], "AQ", "!!", "AQAAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		got, err := s.pager(api.Page{Cursor: cursor}, "l")
		switch {
		case err != nil && !invalidRequest(err):
			t.Fatalf("%q: %v, want invalid_request", cursor, err)
		case err == nil && cursor != "" && len(got.after) == 0:
			t.Fatalf("%q: read with no position", cursor)
		}
	})
}

// FuzzDecodePosition: the values of a cursor (read only once its tag
// checked) decode or are refused, never panic, and decode again the same
// once encoded.
func FuzzDecodePosition(f *testing.F) {
	enc, _ := appendPosition(nil, []any{"a", []byte{1}, int64(2), time.Unix(3, 4)})
	f.Add(enc)
	f.Add([]byte{posText, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, err := decodePosition(b)
		if err != nil {
			return
		}
		again, err := appendPosition(nil, vals)
		if err != nil {
			t.Fatal(err)
		}
		vals2, err := decodePosition(again)
		if err != nil || len(vals2) != len(vals) {
			t.Fatalf("re-encoded %x: %v, %v", again, vals2, err)
		}
		for i := range vals {
			if !sameValue(vals[i], vals2[i]) {
				t.Fatalf("value %d: %#v then %#v", i, vals[i], vals2[i])
			}
		}
	})
}
