package credentials_test

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/credentials"
)

// statusVectorsPath is the draft's Status List examples, decoded and
// confirmed (see its README), relative to the package directory where
// `go test` runs.
const statusVectorsPath = "testdata/vectors/status-list/status-list-vectors.json"

type statusVector struct {
	Name                   string `json:"name"`
	Bits                   int    `json:"bits"`
	Lst                    string `json:"lst"`
	SizeEntries            int    `json:"size_entries"`
	DecompressedByteLength int    `json:"decompressed_byte_length"`
	DecompressedHex        string `json:"decompressed_hex"` // only on the two small examples
	Entries                []struct {
		Idx   int   `json:"idx"`
		Value uint8 `json:"value"`
	} `json:"entries"`
	ZeroProbes []struct {
		Idx int `json:"idx"`
	} `json:"zero_probes"`
}

func loadStatusVectors(tb testing.TB) []statusVector {
	tb.Helper()
	data, err := os.ReadFile(statusVectorsPath)
	if err != nil {
		tb.Fatalf("read status list vectors: %v", err)
	}
	var file struct {
		Examples []statusVector `json:"examples"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		tb.Fatalf("parse %s: %v", statusVectorsPath, err)
	}
	if len(file.Examples) == 0 {
		tb.Fatalf("%s: no examples", statusVectorsPath)
	}
	return file.Examples
}

func statusVector2Bit(tb testing.TB) statusVector {
	tb.Helper()
	for _, v := range loadStatusVectors(tb) {
		if v.Name == "test-vector-2bit" {
			return v
		}
	}
	tb.Fatal("test-vector-2bit not in the vectors file")
	return statusVector{}
}

// wantStatusReason fails unless err is a *credentials.Error with reason want.
func wantStatusReason(t *testing.T, err error, want credentials.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", want)
	}
	var e *credentials.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *credentials.Error", err, err)
	}
	if e.Reason != want {
		t.Fatalf("reason = %s (%v), want %s", e.Reason, err, want)
	}
}

func TestDecodeStatusListVectors(t *testing.T) {
	for _, v := range loadStatusVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			l, err := credentials.DecodeStatusList(v.Bits, v.Lst, v.SizeEntries)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if l.Bits() != v.Bits {
				t.Errorf("Bits() = %d, want %d", l.Bits(), v.Bits)
			}
			if l.Len() != v.SizeEntries {
				t.Errorf("Len() = %d, want %d", l.Len(), v.SizeEntries)
			}
			raw := l.Bytes()
			if len(raw) != v.DecompressedByteLength {
				t.Errorf("len(Bytes()) = %d, want %d", len(raw), v.DecompressedByteLength)
			}
			// The two small examples print their byte array (b9a3, c944f9).
			if v.DecompressedHex != "" && hex.EncodeToString(raw) != v.DecompressedHex {
				t.Errorf("Bytes() = %x, want %s", raw, v.DecompressedHex)
			}

			listed := make(map[int]bool, len(v.Entries))
			for _, e := range v.Entries {
				listed[e.Idx] = true
				if got, err := l.Get(e.Idx); err != nil || got != e.Value {
					t.Errorf("Get(%d) = %d, %v; want %d", e.Idx, got, err, e.Value)
				}
			}
			for _, p := range v.ZeroProbes {
				if got, err := l.Get(p.Idx); err != nil || got != 0 {
					t.Errorf("Get(%d) = %d, %v; want 0", p.Idx, got, err)
				}
			}
			// The draft: every index not listed is 0.
			nonZero := 0
			for i := range l.Len() {
				if got, _ := l.Get(i); got != 0 && !listed[i] {
					nonZero++
				}
			}
			if nonZero != 0 {
				t.Errorf("%d unlisted entries are not 0", nonZero)
			}

			// Round trip. The compressed bytes need not equal the vector's:
			// ZLIB output depends on the implementation and level, so only
			// the inflated byte array is compared.
			lst, err := l.Encode()
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			again, err := credentials.DecodeStatusList(v.Bits, lst, v.SizeEntries)
			if err != nil {
				t.Fatalf("decode re-encoded: %v", err)
			}
			if !bytes.Equal(again.Bytes(), raw) {
				t.Error("decode(encode(list)) differs from list")
			}
		})
	}
}

// TestStatusListDraftExamples builds the two worked examples of draft §4.1
// entry by entry with Set and checks the packing against the byte arrays the
// draft prints (status-list-section.md).
func TestStatusListDraftExamples(t *testing.T) {
	tests := []struct {
		name   string
		bits   int
		values []uint8
		want   string // hex byte array from the draft
	}{
		{"1 bit, 16 entries", 1, []uint8{1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, "b9a3"},
		{"2 bits, 12 entries", 2, []uint8{1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3}, "c944f9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := credentials.NewStatusList(tt.bits, len(tt.values))
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range tt.values {
				if err := l.Set(i, v); err != nil {
					t.Fatalf("Set(%d, %d): %v", i, v, err)
				}
			}
			if got := hex.EncodeToString(l.Bytes()); got != tt.want {
				t.Fatalf("Bytes() = %s, want %s", got, tt.want)
			}
			lst, err := l.Encode()
			if err != nil {
				t.Fatal(err)
			}
			back, err := credentials.DecodeStatusList(tt.bits, lst, len(tt.values))
			if err != nil {
				t.Fatalf("decode %q: %v", lst, err)
			}
			for i, want := range tt.values {
				if got, err := back.Get(i); err != nil || got != want {
					t.Errorf("Get(%d) = %d, %v; want %d", i, got, err, want)
				}
			}
		})
	}
}

func TestNewStatusList(t *testing.T) {
	tests := []struct {
		bits, size int
		wantLen    int // 0: an error is expected
	}{
		{1, 16, 16},
		{1, 12, 16}, // rounded up to whole bytes (draft §4.1 step 2: "or greater")
		{2, 12, 12},
		{2, 13, 16},
		{4, 1, 2},
		{8, 3, 3},
		{8, credentials.DefaultMaxStatusEntries, credentials.DefaultMaxStatusEntries},
		{0, 8, 0},
		{3, 8, 0},
		{16, 8, 0},
		{-1, 8, 0},
		{1, 0, 0},
		{1, -1, 0},
		{1, credentials.DefaultMaxStatusEntries + 1, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("bits=%d/size=%d", tt.bits, tt.size), func(t *testing.T) {
			l, err := credentials.NewStatusList(tt.bits, tt.size)
			if tt.wantLen == 0 {
				wantStatusReason(t, err, credentials.ReasonStatusInvalid)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Len() != tt.wantLen || l.Bits() != tt.bits {
				t.Fatalf("Len, Bits = %d, %d; want %d, %d", l.Len(), l.Bits(), tt.wantLen, tt.bits)
			}
			if got, err := l.Get(l.Len() - 1); err != nil || got != credentials.StatusValid {
				t.Fatalf("Get(last) = %d, %v; want StatusValid", got, err)
			}
		})
	}
}

// TestStatusListSetGet writes a different value to every entry, for every
// width, and reads them all back: Set must not disturb its neighbours.
func TestStatusListSetGet(t *testing.T) {
	for _, bits := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprintf("bits=%d", bits), func(t *testing.T) {
			const size = 1000
			l, err := credentials.NewStatusList(bits, size)
			if err != nil {
				t.Fatal(err)
			}
			top := 1<<bits - 1
			value := func(i int) uint8 { return uint8((i*7 + i/3) % (top + 1)) }
			for i := range size {
				if err := l.Set(i, uint8(top)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range size {
				if err := l.Set(i, value(i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range size {
				if got, err := l.Get(i); err != nil || got != value(i) {
					t.Fatalf("Get(%d) = %d, %v; want %d", i, got, err, value(i))
				}
			}
			// Bytes is a copy, not a view into the list.
			b := l.Bytes()
			b[0] ^= 0xff
			if got, _ := l.Get(0); got != value(0) {
				t.Fatal("writing to Bytes() changed the list")
			}
		})
	}
}

func TestStatusListRange(t *testing.T) {
	l, err := credentials.NewStatusList(2, 12)
	if err != nil {
		t.Fatal(err)
	}
	for _, idx := range []int{-1, -1 << 62, l.Len(), l.Len() + 1, 1 << 62} {
		_, err := l.Get(idx)
		wantStatusReason(t, err, credentials.ReasonStatusOutOfRange)
		wantStatusReason(t, l.Set(idx, 0), credentials.ReasonStatusOutOfRange)
	}
	// A zero StatusList has no entries; it must not divide by zero.
	var zero credentials.StatusList
	_, err = zero.Get(0)
	wantStatusReason(t, err, credentials.ReasonStatusOutOfRange)
	_, err = zero.Encode()
	wantStatusReason(t, err, credentials.ReasonStatusInvalid)
	var nilList *credentials.StatusList
	_, err = nilList.Get(0)
	wantStatusReason(t, err, credentials.ReasonStatusOutOfRange)
	_, err = nilList.Encode()
	wantStatusReason(t, err, credentials.ReasonStatusInvalid)
}

func TestStatusListSetValueTooBig(t *testing.T) {
	tests := []struct {
		bits int
		v    uint8
	}{{1, 2}, {1, 255}, {2, 4}, {4, 16}, {4, 0x80}}
	for _, tt := range tests {
		l, err := credentials.NewStatusList(tt.bits, 8)
		if err != nil {
			t.Fatal(err)
		}
		wantStatusReason(t, l.Set(0, tt.v), credentials.ReasonStatusInvalid)
		if got, _ := l.Get(0); got != 0 {
			t.Errorf("bits=%d: a rejected Set wrote %d", tt.bits, got)
		}
	}
	l, _ := credentials.NewStatusList(8, 1)
	if err := l.Set(0, 255); err != nil {
		t.Errorf("bits=8: Set(0, 255): %v", err)
	}
}

// statusZlibB64 compresses raw and encodes it as an lst value.
func statusZlibB64(t *testing.T, raw []byte) string {
	t.Helper()
	return base64.RawURLEncoding.EncodeToString(statusZlib(t, raw))
}

func statusZlib(t *testing.T, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// stdAlphabetLst returns a valid ZLIB stream base64-encoded with the
// standard alphabet, picked so that the text holds '+' or '/'.
func stdAlphabetLst(t *testing.T) string {
	t.Helper()
	for b := range 256 {
		s := base64.RawStdEncoding.EncodeToString(statusZlib(t, []byte{byte(b), 0xa3}))
		if strings.ContainsAny(s, "+/") {
			return s
		}
	}
	t.Fatal("no two-byte list encodes with '+' or '/'")
	return ""
}

func TestDecodeStatusListRejects(t *testing.T) {
	const (
		lst1  = "eNrbuRgAAhcBXQ" // draft §4.2 example, bits=1, 16 entries
		bound = 1 << 20
	)
	good := statusZlib(t, []byte{0xb9, 0xa3})
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 1 // Adler-32 checksum
	var dict bytes.Buffer
	zw, err := zlib.NewWriterLevelDict(&dict, zlib.DefaultCompression, []byte("dictionary"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write([]byte{0xb9, 0xa3}); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		bits       int
		lst        string
		maxEntries int
	}{
		{"bits 0", 0, lst1, bound},
		{"bits 3", 3, lst1, bound},
		{"bits 16", 16, lst1, bound},
		{"bits -1", -1, lst1, bound},
		{"empty lst", 1, "", bound},
		{"padding", 1, lst1 + "==", bound},
		{"standard alphabet", 1, stdAlphabetLst(t), bound},
		{"bad base64 character", 1, "eNrbuRgA*hcBXQ", bound},
		{"impossible length", 1, "eNrbuRgAAhcBX", bound},
		{"non-zero trailing bits", 1, "eNrbuRgAAhcBXR", bound},
		{"line break", 1, "eNrbuRgA\nAhcBXQ", bound},
		{"space", 1, "eNrbuRgA AhcBXQ", bound},
		{"not zlib", 1, base64.RawURLEncoding.EncodeToString([]byte("this is not zlib")), bound},
		{"raw deflate without zlib header", 1, base64.RawURLEncoding.EncodeToString(good[2 : len(good)-4]), bound},
		{"truncated stream", 1, base64.RawURLEncoding.EncodeToString(good[:len(good)-2]), bound},
		{"bad checksum", 1, base64.RawURLEncoding.EncodeToString(corrupt), bound},
		{"preset dictionary", 1, base64.RawURLEncoding.EncodeToString(dict.Bytes()), bound},
		{"trailing garbage", 1, base64.RawURLEncoding.EncodeToString(append(bytes.Clone(good), 0)), bound},
		{"two streams", 1, base64.RawURLEncoding.EncodeToString(append(bytes.Clone(good), good...)), bound},
		{"empty list", 1, statusZlibB64(t, nil), bound},
		{"one byte over the bound", 1, statusZlibB64(t, make([]byte, 3)), 16},
		{"over the bound, 8 bits", 8, statusZlibB64(t, make([]byte, 101)), 100},
		{"text longer than any honest stream", 1, strings.Repeat("A", 4<<10), 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := credentials.DecodeStatusList(tt.bits, tt.lst, tt.maxEntries)
			if err == nil {
				t.Fatalf("decoded to %d entries, want an error", l.Len())
			}
			wantStatusReason(t, err, credentials.ReasonStatusInvalid)
		})
	}
}

func TestDecodeStatusListBound(t *testing.T) {
	tests := []struct {
		name       string
		bits       int
		rawLen     int
		maxEntries int
		wantLen    int // 0: rejected
	}{
		{"exactly the bound", 1, 2, 16, 16},
		{"bound rounds up to a whole byte", 2, 3, 9, 12},
		{"one byte over", 2, 4, 12, 0},
		{"zero means the default", 8, 1 << 10, 0, 1 << 10},
		{"negative means the default", 8, 1 << 10, -5, 1 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := credentials.DecodeStatusList(tt.bits, statusZlibB64(t, make([]byte, tt.rawLen)), tt.maxEntries)
			if tt.wantLen == 0 {
				wantStatusReason(t, err, credentials.ReasonStatusInvalid)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Len() != tt.wantLen {
				t.Fatalf("Len() = %d, want %d", l.Len(), tt.wantLen)
			}
		})
	}
}

// TestDecodeStatusListZlibBomb feeds 100 MB of zeros, about 100 KB once
// compressed, to a decoder bounded at 2^20 2-bit entries (256 KiB). It must
// be rejected having allocated in proportion to the bound, not to the bomb.
func TestDecodeStatusListZlibBomb(t *testing.T) {
	const bombSize = 100 << 20
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, zlib.BestSpeed)
	zeros := make([]byte, 1<<20)
	for range bombSize / len(zeros) {
		if _, err := zw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	bomb := base64.RawURLEncoding.EncodeToString(buf.Bytes())
	t.Logf("bomb: %d bytes inflate to %d; lst is %d characters", buf.Len(), bombSize, len(bomb))

	// maxEntries is large enough that the text passes the length check and
	// the decoder really has to inflate.
	const maxEntries = 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := credentials.DecodeStatusList(2, bomb, maxEntries)
	runtime.ReadMemStats(&after)
	wantStatusReason(t, err, credentials.ReasonStatusInvalid)

	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("rejecting the bomb allocated %d bytes", allocated)
	if allocated > 4<<20 {
		t.Fatalf("rejecting the bomb allocated %d bytes; want it bounded by the 256 KiB limit, not the %d-byte bomb", allocated, bombSize)
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		v    uint8
		want credentials.Reason // "": nil error
	}{
		{credentials.StatusValid, ""},
		{credentials.StatusInvalid, credentials.ReasonRevoked},
		{credentials.StatusSuspended, credentials.ReasonSuspended},
		{3, credentials.ReasonStatusInvalid}, // application specific: fail closed
		{0x0b, credentials.ReasonStatusInvalid},
		{0x0f, credentials.ReasonStatusInvalid},
		{255, credentials.ReasonStatusInvalid},
	}
	for _, tt := range tests {
		err := credentials.StatusError(tt.v)
		if tt.want == "" {
			if err != nil {
				t.Errorf("StatusError(%d) = %v, want nil", tt.v, err)
			}
			continue
		}
		if got := credentials.ReasonOf(err); got != tt.want {
			t.Errorf("StatusError(%d) reason = %q (%v), want %q", tt.v, got, err, tt.want)
		}
	}
}

func ExampleDecodeStatusList() {
	// The 2-bit example of draft §4.2.
	l, err := credentials.DecodeStatusList(2, "eNo76fITAAPfAgc", credentials.DefaultMaxStatusEntries)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, idx := range []int{0, 1, 2, 3, 12} {
		v, err := l.Get(idx)
		if err != nil {
			fmt.Println(idx, err)
			continue
		}
		fmt.Println(idx, v, credentials.StatusError(v))
	}
	// Output:
	// 0 1 credential_revoked: status list entry is 0x01 (INVALID)
	// 1 2 credential_suspended: status list entry is 0x02 (SUSPENDED)
	// 2 0 <nil>
	// 3 3 status_list_invalid: unknown status value 0x03
	// 12 status_index_out_of_range: index 12 not in 0..11
}

func BenchmarkStatusListGet(b *testing.B) {
	v := statusVector2Bit(b)
	l, err := credentials.DecodeStatusList(v.Bits, v.Lst, v.SizeEntries)
	if err != nil {
		b.Fatal(err)
	}
	n := l.Len()
	var sink uint8
	i := 0
	for b.Loop() {
		s, err := l.Get(i)
		if err != nil {
			b.Fatal(err)
		}
		sink |= s
		i += 7919 // stride through the list rather than stay in one byte
		if i >= n {
			i -= n
		}
	}
	_ = sink
}

func BenchmarkDecodeStatusList(b *testing.B) {
	v := statusVector2Bit(b)
	b.SetBytes(int64(v.DecompressedByteLength))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := credentials.DecodeStatusList(v.Bits, v.Lst, credentials.DefaultMaxStatusEntries); err != nil {
			b.Fatal(err)
		}
	}
}
