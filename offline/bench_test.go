package offline

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"
)

// The cost of a compact code, against one bare ES256 signature and one
// verification in the same run (performance.md):
//
//	go test -run '^$' -bench . -benchmem ./offline/
func BenchmarkSignBare(b *testing.B) {
	f := &fixture{}
	f.attester = newFixture(b).attester
	digest := sha256.Sum256([]byte("a compact share"))
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, f.attester, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMint(b *testing.B) {
	f := newFixture(b)
	s := f.share()
	for b.Loop() {
		if _, err := Sign(rand.Reader, f.attester, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyBare(b *testing.B) {
	f := newFixture(b)
	digest := sha256.Sum256([]byte("a compact share"))
	sig, _ := ecdsa.SignASN1(rand.Reader, f.attester, digest[:])
	for b.Loop() {
		if !ecdsa.VerifyASN1(&f.attester.PublicKey, digest[:], sig) {
			b.Fatal("no")
		}
	}
}

// BenchmarkVerifyOffline is Bundle.Verify of one code: the code's
// signature and its status (the list is verified and inflated on its
// first use, then kept).
func BenchmarkVerifyOffline(b *testing.B) {
	f := newFixture(b)
	bundle := f.bundle(b, "national_id")
	text, err := Sign(rand.Reader, f.attester, f.share())
	if err != nil {
		b.Fatal(err)
	}
	now := f.now.Add(time.Second)
	for b.Loop() {
		if _, err := bundle.Verify(text, now); err != nil {
			b.Fatal(err)
		}
	}
}
