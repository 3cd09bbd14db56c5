package qr_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"image/png"
	"strings"

	"github.com/eidwallet/eidwallet/qr"
)

func ExampleNewToken() {
	// The service draws tokens from crypto/rand; it stores only their hash.
	token, err := qr.NewToken(rand.Reader)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(token), qr.Text(qr.Share, token)[:5])
	// Output: 26 EID1:
}

func ExampleText() {
	// A fixed reader stands in for crypto/rand so the output is stable.
	token, err := qr.NewToken(strings.NewReader("abcdefghijklmnop"))
	if err != nil {
		panic(err)
	}
	fmt.Println(qr.Text(qr.Share, token))
	fmt.Println(qr.Text(qr.Request, token))
	fmt.Println(qr.Text(qr.Presence, token))
	// Output:
	// EID1:MFRGGZDFMZTWQ2LKNNWG23TPOA
	// EIDR1:MFRGGZDFMZTWQ2LKNNWG23TPOA
	// EIDP1:MFRGGZDFMZTWQ2LKNNWG23TPOA
}

func ExampleParse() {
	// A counter scanner typed the code followed by Enter.
	kind, token, err := qr.Parse("EID1:MFRGGZDFMZTWQ2LKNNWG23TPOA\r\n")
	fmt.Println(kind, token, err)

	// Lower case is another text, not another spelling of the same one.
	_, _, err = qr.Parse("eid1:mfrggzdfmztwq2lknnwg23tpoa")
	fmt.Println(err)
	// Output:
	// share MFRGGZDFMZTWQ2LKNNWG23TPOA <nil>
	// qr: invalid text: unknown prefix
}

func ExamplePNG() {
	b, err := qr.PNG("EID1:MFRGGZDFMZTWQ2LKNNWG23TPOA", qr.DefaultSize)
	if err != nil {
		panic(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d×%d\n", cfg.Width, cfg.Height)

	_, err = qr.PNG("EID1:MFRGGZDFMZTWQ2LKNNWG23TPOA", 4096)
	fmt.Println(err)
	// Output:
	// 256×256
	// qr: image size out of range: 4096 px, want 64 to 1024
}
