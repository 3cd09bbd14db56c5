package credentials_test

import (
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/credentials"
)

// TestAttachTakesOneCompactJWS: what a holder sends as its KB-JWT can add
// nothing but one compact JWS to the prepared presentation (THREATS T32).
func TestAttachTakesOneCompactJWS(t *testing.T) {
	const pres = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln~WyJzIiwibiIsInYiXQ~"
	const kb = "eyJhbGciOiJFUzI1NiJ9.eyJub25jZSI6Im4ifQ.c2lnbmF0dXJl"
	got, err := credentials.Attach(pres, kb)
	if err != nil || got != pres+kb {
		t.Fatalf("Attach(valid) = %q, %v", got, err)
	}
	for name, bad := range map[string]string{
		"a disclosure before the kb-jwt": "WyJzIiwiYWdlIiwzMF0~" + kb,
		"a trailing tilde":               kb + "~",
		"two parts":                      "eyJhbGciOiJFUzI1NiJ9.eyJub25jZSI6Im4ifQ",
		"four parts":                     kb + ".eHg",
		"an empty part":                  "eyJhbGciOiJFUzI1NiJ9..c2ln",
		"empty":                          "",
		"padding":                        kb + "=",
		"white space":                    kb + " ",
		"too large":                      kb + strings.Repeat("A", credentials.MaxSDJWTBytes),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := credentials.Attach(pres, bad); credentials.ReasonOf(err) != credentials.ReasonKBInvalid {
				t.Fatalf("Attach = %v, want reason %s", err, credentials.ReasonKBInvalid)
			}
		})
	}
	if _, err := credentials.Attach(strings.TrimSuffix(pres, "~"), kb); err == nil {
		t.Fatal("a presentation not ending in ~ was accepted")
	}
}
