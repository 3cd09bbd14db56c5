package wallet

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

// TestOrderedIDsSortByTime: credential ids made later sort after those
// made before, also within one millisecond's random part they differ, and
// they have the form of every other id (prefix_, 26 characters of the id
// alphabet), so that issuance appends to the store's index (newOrderedID).
func TestOrderedIDsSortByTime(t *testing.T) {
	at := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	s := &Service{rand: rand.Reader, now: func() time.Time { return at }}
	var prev string
	seen := map[string]bool{}
	for i := range 2000 {
		if i%2 == 0 {
			at = at.Add(time.Millisecond)
		}
		id, err := s.newOrderedID("crd")
		if err != nil {
			t.Fatal(err)
		}
		rest, ok := strings.CutPrefix(id, "crd_")
		if !ok || len(rest) != 26 || strings.Trim(rest, "234567abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("id %q: not of the id form", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		if i%2 == 0 && id <= prev {
			t.Fatalf("id %q made at %s sorts before %q made a millisecond before", id, at, prev)
		}
		prev = id
	}
}

// TestIDTextSortsAsItsBytes: the id alphabet is in ASCII order, so the
// text of two ids compares as their bytes do.
func TestIDTextSortsAsItsBytes(t *testing.T) {
	for range 1000 {
		a, b := make([]byte, 16), make([]byte, 16)
		rand.Read(a)
		rand.Read(b)
		if got, want := strings.Compare(idEncoding.EncodeToString(a), idEncoding.EncodeToString(b)), bytes.Compare(a, b); got != want {
			t.Fatalf("%x vs %x: text compares %d, bytes %d", a, b, got, want)
		}
	}
}
