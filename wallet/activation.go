package wallet

import (
	"fmt"
	"io"
	"strings"
	"unicode"
)

// An activation code (SPEC §3.1 step 1) is read out by staff and typed by
// the citizen, so it is written to be forgiving: 130 random bits from the
// service's crypto/rand reader (SPEC §6: activation codes are 128+ bits),
// written as 26 symbols of Douglas Crockford's base32 (digits and letters
// without I, L, O and U), then Crockford's check symbol — the 130-bit
// number modulo 37 — all in groups of four, the last of three:
// 7K3Q-9XWD-2MZA-H4PN-T8RE-5JCV-GBP.
//
// Reading it back (ParseActivationCode) follows Crockford: case does not
// matter, hyphens and spaces are ignored, I and L are read as 1 and O as
// 0. Modulo 37, a prime above 32, the check symbol catches every single
// wrong symbol and every swap of two neighbours, so a mistyped code is
// refused before any store lookup, with the same answer as an unknown one
// (THREATS T20).
const (
	activationBits    = 130
	activationSymbols = activationBits / 5 // 26
	activationGroup   = 4
)

// crockford is the base32 alphabet of Crockford; crockfordCheck adds the
// five check symbols for the values 32 to 36.
const (
	crockford      = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	crockfordCheck = crockford + "*~$=U"
)

// newActivationCode returns a fresh code in its canonical form.
func (s *Service) newActivationCode() (string, error) {
	var b [(activationBits + 7) / 8]byte // the last 6 bits unused
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("random activation code: %w", err)
	}
	var digits [activationSymbols]byte
	// The 130 bits big-endian, five at a time, most significant first.
	for i := range digits {
		var v byte
		for bit := i * 5; bit < i*5+5; bit++ {
			v = v<<1 | b[bit/8]>>(7-bit%8)&1
		}
		digits[i] = v
	}
	return formatActivationCode(digits[:]), nil
}

// formatActivationCode writes 26 symbol values and their check symbol in
// groups: the canonical form, the one that is hashed and stored.
func formatActivationCode(digits []byte) string {
	symbols := make([]byte, 0, len(digits)+1)
	for _, d := range digits {
		symbols = append(symbols, crockford[d])
	}
	symbols = append(symbols, crockfordCheck[checkValue(digits)])
	var sb strings.Builder
	for i, c := range symbols {
		if i > 0 && i%activationGroup == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// checkValue is Crockford's check: the number the symbols write, modulo 37.
func checkValue(digits []byte) int {
	r := 0
	for _, d := range digits {
		r = (r*32 + int(d)) % 37
	}
	return r
}

// ParseActivationCode reads an activation code as a person may have typed
// it and returns its canonical form (the one CreateActivationCode hands
// out), or false when it is not 26 symbols and a matching check symbol.
func ParseActivationCode(typed string) (string, bool) {
	if len(typed) > 128 {
		return "", false
	}
	var digits []byte
	check := -1
	for _, r := range typed {
		if r == '-' || unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) {
			continue
		}
		if check >= 0 { // a symbol after the check symbol
			return "", false
		}
		if r > unicode.MaxASCII { // before ToUpper, which maps ı to I
			return "", false
		}
		switch r = unicode.ToUpper(r); r {
		case 'I', 'L':
			r = '1'
		case 'O':
			r = '0'
		}
		if len(digits) < activationSymbols {
			v := strings.IndexByte(crockford, byte(r))
			if v < 0 {
				return "", false
			}
			digits = append(digits, byte(v))
			continue
		}
		if check = strings.IndexByte(crockfordCheck, byte(r)); check < 0 {
			return "", false
		}
	}
	if check < 0 || check != checkValue(digits) {
		return "", false
	}
	return formatActivationCode(digits), true
}
