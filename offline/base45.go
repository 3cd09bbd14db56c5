// Package offline is what verifies at a counter with no network (issue
// 12): the compact signed share (EIDC1:, a COSE_Sign1 ES256 CWT in
// base45, RFC 9052, RFC 8392, RFC 9285) and the signed trust bundle a
// verifier keeps, with the issuers' Token Status Lists in CWT form. CBOR
// and COSE come from github.com/fxamacker/cbor and github.com/veraison/
// go-cose; this package is their only importer, and holds the formats'
// rules. No storage, no network.
package offline

import (
	"errors"
	"strings"
)

// base45 (RFC 9285) is written here: no maintained Go module of it is
// served to this build (the candidates are gone or live inside large
// unrelated libraries), and the whole codec is the two loops below,
// checked against the RFC's examples and by a fuzz target.

const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// encode45 encodes b (RFC 9285 §4): each two bytes as three characters,
// a last odd byte as two.
func encode45(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b)/2*3 + 2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		sb.WriteByte(base45Alphabet[n%45])
		sb.WriteByte(base45Alphabet[n/45%45])
		sb.WriteByte(base45Alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		sb.WriteByte(base45Alphabet[n%45])
		sb.WriteByte(base45Alphabet[n/45])
	}
	return sb.String()
}

var errBase45 = errors.New("not base45")

// decode45 decodes s (RFC 9285 §4.2), refusing characters outside the
// alphabet, a length of 1 mod 3, and groups over their range (RFC 9285
// §6: such input must be rejected).
func decode45(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, errBase45
	}
	out := make([]byte, 0, len(s)/3*2+1)
	val := func(c byte) (int, bool) {
		i := strings.IndexByte(base45Alphabet, c)
		return i, i >= 0
	}
	for i := 0; i < len(s); i += 3 {
		c, ok1 := val(s[i])
		d, ok2 := val(s[i+1])
		if !ok1 || !ok2 {
			return nil, errBase45
		}
		if i+2 == len(s) {
			n := c + d*45
			if n > 0xff {
				return nil, errBase45
			}
			out = append(out, byte(n))
			break
		}
		e, ok3 := val(s[i+2])
		n := c + d*45 + e*2025
		if !ok3 || n > 0xffff {
			return nil, errBase45
		}
		out = append(out, byte(n>>8), byte(n))
	}
	return out, nil
}
