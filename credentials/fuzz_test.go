package credentials_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/credentials"
)

// FuzzKBJWT appends arbitrary bytes as the KB-JWT of a valid presentation:
// Verify never panics and accepts only a KB-JWT that really binds it.
func FuzzKBJWT(f *testing.F) {
	fx := newFixture(f)
	valid := fx.present(f, fx.issue(f, credentials.NationalID), "full_name")
	i := strings.LastIndexByte(valid, '~')
	pres, kb := valid[:i+1], valid[i+1:]
	f.Add(kb)
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoia2Irand0In0.e30.")
	f.Fuzz(func(t *testing.T, kb2 string) {
		v, err := credentials.Verify(pres+kb2, fx.trust, fx.opts())
		if err != nil {
			if credentials.ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if v.KB == nil || v.KB.Nonce != testNonce || v.KB.SDHash != credentials.SDHash(pres) {
			t.Fatalf("accepted a kb-jwt that does not bind: %+v", v.KB)
		}
	})
}

// FuzzVerify feeds whole presentations (any bytes) to Verify against the
// RFC 9901 §5 trust store: it never panics and every failure is typed.
func FuzzVerify(f *testing.F) {
	v, key := loadRFCVector(f)
	trust := vectorTrust(f, key)
	f.Add(v.PresentationKB)
	f.Add(v.SDJWT)
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range []credentials.Profile{credentials.ProfileVC, credentials.ProfilePlain} {
			_, err := credentials.Verify(s, trust, credentials.VerifyOptions{Now: time.Unix(v.VerifyAtUnix, 0), Profile: p})
			if err != nil && credentials.ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
		}
	})
}
