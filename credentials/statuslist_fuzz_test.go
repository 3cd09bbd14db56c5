package credentials_test

import (
	"bytes"
	"testing"

	"github.com/eidwallet/eidwallet/credentials"
)

// FuzzDecodeStatusList feeds untrusted (bits, lst) pairs to the decoder, as a
// fetched Status List Token would (draft §4.2). The seed corpus in
// testdata/fuzz/FuzzDecodeStatusList holds the draft's examples and test
// vectors and some malformed values. Properties: no panic; every error is a
// *credentials.Error with ReasonStatusInvalid; every accepted list is within
// the bound, answers Get consistently and survives Encode → Decode unchanged.
func FuzzDecodeStatusList(f *testing.F) {
	f.Add(1, "eNrbuRgAAhcBXQ", 0)
	f.Add(2, "eNo76fITAAPfAgc", 11)
	// A bound below the draft's 2^20-entry vectors: their seeds then exercise
	// the over-bound path, and each execution stays cheap (re-encoding 1 MiB
	// of mostly zeros at BestCompression takes ~30 ms, which stalls input
	// minimisation). TestDecodeStatusListVectors round-trips the vectors.
	const maxEntries = 1 << 16
	f.Fuzz(func(t *testing.T, bits int, lst string, idx int) {
		l, err := credentials.DecodeStatusList(bits, lst, maxEntries)
		if err != nil {
			if r := credentials.ReasonOf(err); r != credentials.ReasonStatusInvalid {
				t.Fatalf("error %v has reason %q, want %q", err, r, credentials.ReasonStatusInvalid)
			}
			return
		}
		if l.Bits() != bits {
			t.Fatalf("Bits() = %d, want %d", l.Bits(), bits)
		}
		if l.Len() < 1 || l.Len() > maxEntries+8 || len(l.Bytes())*8/bits != l.Len() {
			t.Fatalf("Len() = %d for %d bytes of %d bits", l.Len(), len(l.Bytes()), bits)
		}

		v, err := l.Get(idx)
		switch {
		case idx >= 0 && idx < l.Len():
			if err != nil || int(v) >= 1<<bits {
				t.Fatalf("Get(%d) = %d, %v with Len() %d", idx, v, err, l.Len())
			}
			if err := l.Set(idx, v); err != nil {
				t.Fatalf("Set(%d, Get(%d)): %v", idx, idx, err)
			}
		default:
			if r := credentials.ReasonOf(err); r != credentials.ReasonStatusOutOfRange {
				t.Fatalf("Get(%d) with Len() %d: reason %q, want %q", idx, l.Len(), r, credentials.ReasonStatusOutOfRange)
			}
		}

		out, err := l.Encode()
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		back, err := credentials.DecodeStatusList(bits, out, maxEntries)
		if err != nil {
			t.Fatalf("decode of re-encoded list: %v", err)
		}
		if !bytes.Equal(back.Bytes(), l.Bytes()) {
			t.Fatal("decode(encode(list)) differs from list")
		}
	})
}
