package credentials

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"io"
	"math"
	"strings"
)

// Token Status List codec (draft-ietf-oauth-status-list-20, §4 "Status List").
// Section numbers below are those of draft 20; the section titles are given
// too because draft numbering moves between revisions.

// Status Type values (draft §7.1 "Status Types Values").
const (
	// StatusValid is 0x00 "VALID".
	StatusValid uint8 = 0x00
	// StatusInvalid is 0x01 "INVALID": the credential is revoked.
	StatusInvalid uint8 = 0x01
	// StatusSuspended is 0x02 "SUSPENDED": temporarily invalid, reversible.
	StatusSuspended uint8 = 0x02
)

// DefaultMaxStatusEntries is the largest list, in entries, DecodeStatusList
// accepts when the caller passes no bound of its own. 2^24 entries is 16× the
// draft's 2^20-entry test vectors; at 8 bits it inflates to 16 MiB, which
// bounds what one fetched status list can make a verifier allocate.
const DefaultMaxStatusEntries = 1 << 24

// StatusList is a decoded Token Status List: bits per entry and the
// uncompressed byte array of draft §4.1 "Compressed Byte Array". Its methods
// may be called concurrently only as long as none of them is Set.
type StatusList struct {
	bits int
	lst  []byte
}

// NewStatusList returns a list of at least size entries of bits bits each,
// all StatusValid. bits must be 1, 2, 4 or 8 (draft §4.1 step 1). The byte
// array is ceil(size*bits/8) bytes (draft §4.1 step 2), so Len may round size
// up to a whole byte. size may not exceed DefaultMaxStatusEntries, so that
// every list made here decodes under the default bound.
func NewStatusList(bits, size int) (*StatusList, error) {
	if !validStatusBits(bits) {
		return nil, fail(ReasonStatusInvalid, "bits %d is not 1, 2, 4 or 8", bits)
	}
	if size < 1 || size > DefaultMaxStatusEntries {
		return nil, fail(ReasonStatusInvalid, "size %d is not in 1..%d", size, DefaultMaxStatusEntries)
	}
	return &StatusList{bits: bits, lst: make([]byte, statusListBytes(bits, size))}, nil
}

// Bits returns the number of bits per entry: 1, 2, 4 or 8.
func (l *StatusList) Bits() int { return l.bits }

// Len returns the number of entries the byte array holds: len(bytes)*8/bits.
func (l *StatusList) Len() int {
	if l == nil || l.bits == 0 {
		// A nil or zero list has no entries, so Get and Set report out of
		// range (fail closed) instead of panicking or dividing by zero.
		return 0
	}
	return len(l.lst) * 8 / l.bits
}

// Bytes returns a copy of the uncompressed byte array (draft §4.1).
func (l *StatusList) Bytes() []byte { return bytes.Clone(l.lst) }

// Get returns the status of entry idx. An index outside 0..Len()-1 is an
// error with ReasonStatusOutOfRange: a Referenced Token pointing past the end
// of its list has no status, so the caller must fail closed.
func (l *StatusList) Get(idx int) (uint8, error) {
	if idx < 0 || idx >= l.Len() {
		return 0, fail(ReasonStatusOutOfRange, "index %d not in 0..%d", idx, l.Len()-1)
	}
	// Draft §4.1 step 3: entries are packed from the least significant bit, so
	// entry idx starts at bit idx*bits of the array: byte floor(idx*bits/8),
	// bit offset (idx*bits)%8 = (idx % (8/bits))*bits. idx < Len() keeps
	// idx*bits ≤ len*8, so it cannot overflow.
	pos := idx * l.bits
	return l.lst[pos>>3] >> (pos & 7) & l.mask(), nil
}

// Set stores v as the status of entry idx. v must fit in Bits() bits
// (ReasonStatusInvalid otherwise); idx must be in 0..Len()-1
// (ReasonStatusOutOfRange otherwise).
func (l *StatusList) Set(idx int, v uint8) error {
	if idx < 0 || idx >= l.Len() {
		return fail(ReasonStatusOutOfRange, "index %d not in 0..%d", idx, l.Len()-1)
	}
	if v&^l.mask() != 0 {
		return fail(ReasonStatusInvalid, "status value %d does not fit in %d bits", v, l.bits)
	}
	pos := idx * l.bits // same packing as Get
	shift := pos & 7
	b := &l.lst[pos>>3]
	*b = *b&^(l.mask()<<shift) | v<<shift
	return nil
}

// mask is the value of an entry with all its bits set: 2^bits - 1.
func (l *StatusList) mask() uint8 { return 0xff >> (8 - l.bits) }

// Encode returns the `lst` member of draft §4.2 "Status List in JSON Format":
// the byte array ZLIB-compressed (RFC 1950, draft §4.1 step 4, at the highest
// level as the draft recommends), then base64url without padding.
func (l *StatusList) Encode() (string, error) {
	if l == nil || !validStatusBits(l.bits) || len(l.lst) == 0 {
		return "", fail(ReasonStatusInvalid, "empty or uninitialised status list")
	}
	var buf bytes.Buffer
	zw, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	if err != nil {
		return "", fail(ReasonStatusInvalid, "zlib writer: %v", err)
	}
	if _, err := zw.Write(l.lst); err != nil {
		return "", fail(ReasonStatusInvalid, "compress status list: %v", err)
	}
	if err := zw.Close(); err != nil {
		return "", fail(ReasonStatusInvalid, "compress status list: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// DecodeStatusList decodes the `bits` and `lst` members of a Status List
// (draft §4.2) into a StatusList, strictly, because lst comes from the
// network: bits must be 1, 2, 4 or 8; lst must be base64url without padding
// or line breaks; it must hold exactly one ZLIB stream with a good checksum
// and nothing after it; the stream must inflate to between 1 byte and
// ceil(maxEntries*bits/8) bytes. maxEntries < 1 means DefaultMaxStatusEntries.
// Every failure is an *Error with ReasonStatusInvalid.
//
// Memory is bounded by maxEntries, never by what the stream claims: the
// base64 text is length-checked before it is decoded and inflation stops one
// byte past the bound, so a zlib bomb costs no more than a legitimate list.
func DecodeStatusList(bits int, lst string, maxEntries int) (*StatusList, error) {
	if !validStatusBits(bits) {
		return nil, fail(ReasonStatusInvalid, "bits %d is not 1, 2, 4 or 8", bits)
	}
	if maxEntries < 1 {
		maxEntries = DefaultMaxStatusEntries
	}
	limit := statusListBytes(bits, maxEntries)

	if lst == "" {
		return nil, fail(ReasonStatusInvalid, "empty lst")
	}
	// DEFLATE never needs more than 5 bytes per 64 KiB stored block over the
	// raw data, and ZLIB adds 6; a stream much longer than the inflated bound
	// cannot be honest, so refuse it before decoding anything.
	maxCompressed := limit + limit/16 + 64
	enc := base64.RawURLEncoding.Strict()
	if enc.DecodedLen(len(lst)) > maxCompressed {
		return nil, fail(ReasonStatusInvalid, "lst is %d characters, over the bound for %d entries", len(lst), maxEntries)
	}
	// encoding/base64 skips CR and LF silently; a compact JWT claim has
	// neither, so they mean a malformed value.
	if strings.ContainsAny(lst, "\r\n") {
		return nil, fail(ReasonStatusInvalid, "lst contains a line break")
	}
	// Raw (no padding) rejects '='; the URL alphabet rejects '+' and '/';
	// Strict rejects non-zero trailing bits, so each list has one spelling.
	compressed, err := enc.DecodeString(lst)
	if err != nil {
		return nil, fail(ReasonStatusInvalid, "lst is not base64url without padding: %v", err)
	}

	// bytes.Reader is an io.ByteReader, so compress/flate reads exactly the
	// bytes of the stream and no more; whatever is left after the ZLIB
	// checksum is trailing garbage.
	br := bytes.NewReader(compressed)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, fail(ReasonStatusInvalid, "lst is not a ZLIB stream: %v", err)
	}
	defer zr.Close()
	raw, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, fail(ReasonStatusInvalid, "inflate lst: %v", err)
	}
	if len(raw) > limit {
		return nil, fail(ReasonStatusInvalid, "lst inflates to more than %d bytes (%d entries)", limit, maxEntries)
	}
	if br.Len() != 0 {
		return nil, fail(ReasonStatusInvalid, "%d bytes after the ZLIB stream", br.Len())
	}
	if len(raw) == 0 {
		// An empty list gives no status to any token; treat it as malformed.
		return nil, fail(ReasonStatusInvalid, "lst inflates to an empty list")
	}
	return &StatusList{bits: bits, lst: raw}, nil
}

// StatusError maps a status value to the verification outcome: nil for
// StatusValid, ReasonRevoked for StatusInvalid, ReasonSuspended for
// StatusSuspended. Every other value (0x03 and 0x0B–0x0F are application
// specific, the rest unassigned; draft §7.1) is ReasonStatusInvalid: this
// service gives them no meaning, so it fails closed.
func StatusError(v uint8) error {
	switch v {
	case StatusValid:
		return nil
	case StatusInvalid:
		return fail(ReasonRevoked, "status list entry is 0x01 (INVALID)")
	case StatusSuspended:
		return fail(ReasonSuspended, "status list entry is 0x02 (SUSPENDED)")
	default:
		return fail(ReasonStatusInvalid, "unknown status value 0x%02x", v)
	}
}

// validStatusBits reports whether bits is allowed by draft §4.1 step 1: every
// entry then sits inside one byte.
func validStatusBits(bits int) bool {
	return bits == 1 || bits == 2 || bits == 4 || bits == 8
}

// statusListBytes is ceil(entries*bits/8), computed without overflow and
// clamped far below math.MaxInt so the bounds derived from it cannot wrap.
func statusListBytes(bits, entries int) int {
	perByte := 8 / bits
	n := entries / perByte
	if entries%perByte != 0 {
		n++
	}
	return min(n, math.MaxInt/4)
}

// StatusListFromBytes wraps a stored uncompressed byte array (as returned by
// Bytes) of bits-bit entries. The bytes are copied.
func StatusListFromBytes(bits int, raw []byte) (*StatusList, error) {
	if !validStatusBits(bits) || len(raw) == 0 {
		return nil, fail(ReasonStatusInvalid, "status list needs bits 1, 2, 4 or 8 and at least one byte")
	}
	return &StatusList{bits: bits, lst: bytes.Clone(raw)}, nil
}
