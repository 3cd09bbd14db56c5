// Package qr holds the QR text forms of eidwallet (EID1:, EIDR1:, EIDP1:,
// SPEC §4) and renders any text as a QR code in PNG, SVG or terminal form.
//
// It knows nothing of wallets: a token is just 128 random bits, and storing
// its hash, its expiry and its use count is the caller's business. It is the
// only importer of github.com/skip2/go-qrcode.
package qr

import (
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const (
	// TokenBytes is the number of random bytes in a token: 128 bits, so a
	// token cannot be guessed (SPEC §4, §6).
	TokenBytes = 16

	// TokenLen is the length of a token in text: 128 bits in unpadded
	// base32 take ceil(128/5) = 26 characters.
	TokenLen = 26

	// MaxTextLen caps what Parse looks at. The longest valid text is 32
	// bytes; the rest is room for whitespace a scanner may add. Anything
	// longer is rejected before any other work, since the text comes from
	// untrusted scanners and clients.
	MaxTextLen = 64
)

// ErrInvalid is returned (wrapped) by Parse for any text that is not exactly
// one of the QR text forms. Its messages never repeat the input, which may
// hold a live token.
var ErrInvalid = errors.New("qr: invalid text")

// tokenEncoding is RFC 4648 base32 without padding. Upper case only: those
// characters, the digits and ':' are all in the QR alphanumeric set, so the
// texts encode at 5.5 bits a character and stay at version 2 (SPEC §4).
var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Kind says which of the three QR text forms a text is.
type Kind int

// The QR text forms of SPEC §4 and §3.4. The zero Kind is not a form, so a
// forgotten assignment cannot pass as a share.
const (
	// Share is a holder-shown share (SPEC §3.3): "EID1:" + token.
	Share Kind = iota + 1
	// Request is a verifier-shown request (SPEC §3.4): "EIDR1:" + token.
	Request
	// Presence is a holder-shown presence code, no data (SPEC §3.4):
	// "EIDP1:" + token.
	Presence
)

// Prefix returns the text prefix of k, such as "EID1:", or "" for a Kind that
// is not one of the forms.
func (k Kind) Prefix() string {
	switch k {
	case Share:
		return "EID1:"
	case Request:
		return "EIDR1:"
	case Presence:
		return "EIDP1:"
	}
	return ""
}

// String returns a lower-case name of k for logs and errors ("share",
// "request", "presence").
func (k Kind) String() string {
	switch k {
	case Share:
		return "share"
	case Request:
		return "request"
	case Presence:
		return "presence"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// NewToken reads TokenBytes from r and returns them as a token. Callers pass
// crypto/rand.Reader; tests pass something deterministic.
func NewToken(r io.Reader) (string, error) {
	var b [TokenBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("qr: read token randomness: %w", err)
	}
	return tokenEncoding.EncodeToString(b[:]), nil
}

// Text returns the QR text of kind for token. It does not check token: texts
// are made from NewToken's output, and Parse is where untrusted text is
// checked. For a Kind that is not a form the result will not Parse.
func Text(kind Kind, token string) string {
	return kind.Prefix() + token
}

// Parse splits a scanned QR text into its kind and token. It is strict: the
// prefix must match exactly (case-sensitive) and the token must be the
// canonical unpadded upper-case base32 form of 16 bytes, so each token has
// exactly one accepted spelling. Only surrounding ASCII whitespace is
// forgiven, because keyboard-wedge counter scanners type an Enter (CR, LF or
// both) after the code. Any other text gives an error wrapping ErrInvalid.
func Parse(text string) (Kind, string, error) {
	// Bound the work on untrusted input before looking at it.
	if len(text) > MaxTextLen {
		return 0, "", fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxTextLen)
	}
	text = strings.Trim(text, " \t\r\n")
	// No prefix is a prefix of another, so the order does not matter.
	for _, k := range [...]Kind{Share, Request, Presence} {
		token, ok := strings.CutPrefix(text, k.Prefix())
		if !ok {
			continue
		}
		if err := checkToken(token); err != nil {
			return 0, "", fmt.Errorf("%w: %s token: %w", ErrInvalid, k, err)
		}
		return k, token, nil
	}
	if text == "" {
		return 0, "", fmt.Errorf("%w: empty", ErrInvalid)
	}
	return 0, "", fmt.Errorf("%w: unknown prefix", ErrInvalid)
}

// checkToken reports whether token is the canonical text of TokenBytes bytes.
// It is done by hand rather than by decoding because encoding/base32 skips
// CR and LF inside its input and does not reject non-zero trailing bits, both
// of which would give one token several spellings.
func checkToken(token string) error {
	if len(token) != TokenLen {
		return fmt.Errorf("length %d, want %d", len(token), TokenLen)
	}
	var last byte
	for i := 0; i < len(token); i++ {
		v, ok := base32Value(token[i])
		if !ok {
			return fmt.Errorf("character %d is not upper-case base32", i+1)
		}
		last = v
	}
	// 26 characters carry 130 bits; the 2 bits past the 128th must be zero
	// (RFC 4648 §3.5, canonical encoding).
	if last&0b11 != 0 {
		return errors.New("non-zero trailing bits")
	}
	return nil
}

// base32Value returns the value of c in the RFC 4648 base32 alphabet
// (A–Z then 2–7).
func base32Value(c byte) (byte, bool) {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A', true
	case '2' <= c && c <= '7':
		return c - '2' + 26, true
	}
	return 0, false
}
