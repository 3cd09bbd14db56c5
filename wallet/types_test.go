package wallet_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/internal/servicetest"
	"github.com/eidwallet/eidwallet/wallet"
)

// TestTypeMetadataOneURLEach: two types whose metadata would be served at
// one URL (a vct "x" and a vct "<public URL>/vct/x") stop the service at
// start, rather than one of them being published in the other's place.
func TestTypeMetadataOneURLEach(t *testing.T) {
	claims := []credentials.Claim{{Name: "member", Kind: credentials.KindString, Required: true}}
	types, err := credentials.NewRegistry(
		&credentials.Type{ID: "a", VCT: "x", Name: "A", Claims: claims},
		&credentials.Type{ID: "b", VCT: "https://wallet.test/vct/x", Name: "B", Claims: claims},
	)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wallet.New(context.Background(), wallet.Config{Store: servicetest.Open(t), Keys: servicetest.Keys(t),
		PublicURL: "https://wallet.test", Types: types, Rand: rand.Reader})
	if err == nil || !strings.Contains(err.Error(), "type metadata") {
		t.Fatalf("New = %v, want the clash refused", err)
	}
}
