package qr_test

import (
	"bytes"
	"encoding/base32"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/eidwallet/eidwallet/qr"
)

// tok is the token of the 16 bytes "abcdefghijklmnop".
const tok = "MFRGGZDFMZTWQ2LKNNWG23TPOA"

var allKinds = []struct {
	kind   qr.Kind
	prefix string
	name   string
}{
	{qr.Share, "EID1:", "share"},
	{qr.Request, "EIDR1:", "request"},
	{qr.Presence, "EIDP1:", "presence"},
}

// tokenEncoding is the test's own statement of SPEC §4's token encoding.
var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRand returns a deterministic randomness source, so failures reproduce.
func newRand() io.Reader {
	return rand.NewChaCha8([32]byte{'e', 'i', 'd'})
}

func TestKind(t *testing.T) {
	for _, tc := range allKinds {
		if got := tc.kind.Prefix(); got != tc.prefix {
			t.Errorf("%d.Prefix() = %q, want %q", int(tc.kind), got, tc.prefix)
		}
		if got := tc.kind.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", int(tc.kind), got, tc.name)
		}
	}
	// The zero Kind is no form: it has no prefix, and its text does not parse.
	var zero qr.Kind
	if zero.Prefix() != "" || zero.String() != "Kind(0)" {
		t.Errorf("Kind(0): Prefix %q, String %q", zero.Prefix(), zero.String())
	}
	if _, _, err := qr.Parse(qr.Text(zero, tok)); !errors.Is(err, qr.ErrInvalid) {
		t.Errorf("Parse(Text(Kind(0), tok)) error = %v, want ErrInvalid", err)
	}
}

func TestNewToken(t *testing.T) {
	got, err := qr.NewToken(strings.NewReader("abcdefghijklmnop and more"))
	if err != nil {
		t.Fatal(err)
	}
	if got != tok {
		t.Errorf("NewToken = %q, want %q", got, tok)
	}

	// Every token is 26 characters that decode to 16 bytes, and tokens differ.
	seen := map[string]bool{}
	r := newRand()
	for range 1000 {
		token, err := qr.NewToken(r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tokenEncoding.DecodeString(token)
		if len(token) != qr.TokenLen || err != nil || len(b) != qr.TokenBytes {
			t.Fatalf("token %q: %d chars, decodes to %d bytes, err %v", token, len(token), len(b), err)
		}
		if seen[token] {
			t.Fatalf("token %q made twice", token)
		}
		seen[token] = true
	}

	// Short randomness is an error, never a short token.
	if token, err := qr.NewToken(strings.NewReader("too short")); !errors.Is(err, io.ErrUnexpectedEOF) || token != "" {
		t.Errorf("NewToken(short reader) = %q, %v, want \"\", io.ErrUnexpectedEOF", token, err)
	}
}

func TestTextParseRoundTrip(t *testing.T) {
	r := newRand()
	for _, tc := range allKinds {
		t.Run(tc.name, func(t *testing.T) {
			tokens := []string{tok, strings.Repeat("A", 26), strings.Repeat("7", 25) + "4"}
			for range 200 {
				token, err := qr.NewToken(r)
				if err != nil {
					t.Fatal(err)
				}
				tokens = append(tokens, token)
			}
			for _, token := range tokens {
				text := qr.Text(tc.kind, token)
				if text != tc.prefix+token {
					t.Fatalf("Text = %q, want %q", text, tc.prefix+token)
				}
				kind, got, err := qr.Parse(text)
				if err != nil || kind != tc.kind || got != token {
					t.Fatalf("Parse(%q) = %v, %q, %v; want %v, %q, nil", text, kind, got, err, tc.kind, token)
				}
			}
		})
	}
}

func TestParseTrimsWhitespace(t *testing.T) {
	// Keyboard-wedge scanners type Enter after the code; people paste with
	// spaces around it.
	tests := []struct {
		name, text string
		kind       qr.Kind
	}{
		{"LF", "EID1:" + tok + "\n", qr.Share},
		{"CR", "EID1:" + tok + "\r", qr.Share},
		{"CRLF", "EIDR1:" + tok + "\r\n", qr.Request},
		{"spaces", "  EIDP1:" + tok + "  ", qr.Presence},
		{"tab and newlines", "\t\nEID1:" + tok + "\r\n\r\n", qr.Share},
		{"at the length cap", "EID1:" + tok + strings.Repeat(" ", qr.MaxTextLen-31), qr.Share},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, token, err := qr.Parse(tc.text)
			if err != nil || kind != tc.kind || token != tok {
				t.Errorf("Parse(%q) = %v, %q, %v; want %v, %q, nil", tc.text, kind, token, err, tc.kind, tok)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, text string }{
		{"empty", ""},
		{"only whitespace", " \r\n"},
		{"token alone", tok},
		{"prefix alone", "EID1:"},
		{"unknown version", "EID2:" + tok},
		{"unknown form", "EIDX1:" + tok},
		{"missing colon", "EID1" + tok},
		{"double colon", "EID1::" + tok},
		{"lower-case prefix", "eid1:" + tok},
		{"lower-case token", "EID1:" + strings.ToLower(tok)},
		{"one lower-case letter", "EID1:" + tok[:10] + "g" + tok[11:]},
		{"25 characters", "EID1:" + tok[:25]},
		{"27 characters", "EIDR1:" + tok + "A"},
		{"digit 0", "EID1:" + tok[:5] + "0" + tok[6:]},
		{"digit 1", "EID1:" + tok[:5] + "1" + tok[6:]},
		{"digit 8", "EIDP1:" + tok[:5] + "8" + tok[6:]},
		{"digit 9", "EID1:" + tok[:5] + "9" + tok[6:]},
		{"padding in place of the last character", "EID1:" + tok[:25] + "="},
		{"padded token", "EID1:" + tok + "======"},
		{"trailing bits 01", "EID1:" + tok[:25] + "B"},
		{"trailing bits 10", "EID1:" + tok[:25] + "C"},
		{"trailing bits 11", "EID1:" + tok[:25] + "7"},
		{"space after prefix", "EID1: " + tok},
		{"newline inside token", "EID1:" + tok[:13] + "\n" + tok[13:]},
		{"NUL", "EID1:" + tok + "\x00"},
		{"non-ASCII", "EID1:" + tok[:25] + "É"},
		{"Unicode space", "\u00a0EID1:" + tok},
		{"two texts", "EID1:" + tok + " EID1:" + tok},
		// Over the cap even though trimming would leave a valid text: the
		// cap comes first.
		{"too long", "EID1:" + tok + strings.Repeat(" ", qr.MaxTextLen-30)},
		{"very long", strings.Repeat("EID1:"+tok, 10000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, token, err := qr.Parse(tc.text)
			if !errors.Is(err, qr.ErrInvalid) || kind != 0 || token != "" {
				t.Fatalf("Parse = %v, %q, %v; want 0, \"\", ErrInvalid", kind, token, err)
			}
			// Errors end up in logs, which never carry tokens (SPEC §6).
			if strings.Contains(err.Error(), tok[:8]) {
				t.Errorf("error %q repeats the token", err)
			}
		})
	}
}

// TestEIDTextsAreVersion2 holds SPEC §4: every text is QR alphanumeric and
// encodes at version 2, level M: 25×25 modules plus the quiet zone.
func TestEIDTextsAreVersion2(t *testing.T) {
	const alphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	r := newRand()
	for _, tc := range allKinds {
		// The all-digit token tempts an encoder into numeric segments.
		tokens := []string{tok, strings.Repeat("A", 26), strings.Repeat("2", 25) + "A", strings.Repeat("7", 25) + "4"}
		for range 100 {
			token, err := qr.NewToken(r)
			if err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, token)
		}
		for _, token := range tokens {
			text := qr.Text(tc.kind, token)
			if i := strings.IndexFunc(text, func(c rune) bool { return !strings.ContainsRune(alphanumeric, c) }); i >= 0 {
				t.Fatalf("%q: character %d is not QR alphanumeric", text, i)
			}
			q, err := qrcode.New(text, qrcode.Medium)
			if err != nil {
				t.Fatal(err)
			}
			// Byte mode would need 4+8+8×32 = 268 bits, more than version
			// 2-M's 224, so version 2 also shows the encoder used the
			// alphanumeric (or denser numeric) mode.
			if q.VersionNumber != 2 {
				t.Errorf("%q: version %d, want 2", text, q.VersionNumber)
			}
			bm := q.Bitmap()
			if n := 25 + 2*qr.QuietZone; len(bm) != n || len(bm[0]) != n {
				t.Errorf("%q: bitmap %d×%d, want %d×%d", text, len(bm[0]), len(bm), n, n)
			}
		}
	}
}

// FuzzParse checks that Parse never panics, only fails with ErrInvalid, and
// that whatever it accepts is a canonical token that round-trips.
// Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		kind, token, err := qr.Parse(text)
		if err != nil {
			if !errors.Is(err, qr.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		out := qr.Text(kind, token)
		kind2, token2, err := qr.Parse(out)
		if err != nil || kind2 != kind || token2 != token {
			t.Fatalf("Parse(Text) = %v, %q, %v; want %v, %q", kind2, token2, err, kind, token)
		}
		b, err := tokenEncoding.DecodeString(token)
		if err != nil || len(b) != qr.TokenBytes || tokenEncoding.EncodeToString(b) != token {
			t.Fatalf("token %q is not the canonical form of %d bytes", token, qr.TokenBytes)
		}
		if !bytes.Equal(bytes.TrimSpace([]byte(text)), []byte(out)) {
			t.Fatalf("Parse accepted %q with more than whitespace around %q", text, out)
		}
	})
}
