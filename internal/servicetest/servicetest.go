// Package servicetest builds the real wallet service for tests: a bbolt
// store in the test's temp dir, keys derived from a random master key and
// the built-in credential types. No part of it is a stand-in.
package servicetest

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/eidwallet/eidwallet/bolt"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/wallet"
)

// New returns a service over a fresh store in t.TempDir(), closed when the
// test ends. cfg supplies what the test cares about (PublicURL, Now,
// Logger); Store, Keys, Types and Rand are filled in when unset.
func New(t testing.TB, cfg wallet.Config) (*wallet.Service, *bolt.Store) {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "eidwallet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	if cfg.Keys, err = wallet.DeriveKeys(master); err != nil {
		t.Fatal(err)
	}
	if cfg.Types == nil {
		if cfg.Types, err = credentials.NewRegistry(credentials.BuiltinTypes()...); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "https://wallet.test"
	}
	cfg.Store = store
	svc, err := wallet.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc, store
}
