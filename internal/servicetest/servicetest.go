// Package servicetest builds the real wallet service for tests: a bbolt
// store in the test's temp dir (or, with EIDWALLET_TEST_STORE=postgres, a
// fresh schema in the PostgreSQL of EIDWALLET_TEST_POSTGRES_DSN), keys
// derived from a random master key and the built-in credential types. No
// part of it is a stand-in.
package servicetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/eidwallet/eidwallet/bolt"
	"github.com/eidwallet/eidwallet/credentials"
	"github.com/eidwallet/eidwallet/postgres"
	"github.com/eidwallet/eidwallet/wallet"
)

// New returns a service over cfg.Store or, when that is unset, over a
// fresh store of Open's (bbolt in t.TempDir(), or PostgreSQL under
// EIDWALLET_TEST_STORE=postgres). The service, and the store Open made,
// are closed when the test ends. cfg supplies what the test cares about
// (PublicURL, Now, Logger, or a Store wrapping Open's); Types and Rand are
// filled in when unset, Keys from a fresh random master key (Keys) unless
// set: two services on one store with the same keys are two replicas.
func New(t testing.TB, cfg wallet.Config) (*wallet.Service, wallet.Store) {
	t.Helper()
	store := cfg.Store
	if store == nil {
		store = Open(t)
	}
	var err error
	if cfg.Keys == nil {
		cfg.Keys = Keys(t)
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
	// Its webhook dispatcher stops before the store closes (cleanups run
	// last first).
	t.Cleanup(svc.Close)
	return svc, store
}

// Open opens a fresh store of the kind the environment asks for, closed
// (and, for PostgreSQL, dropped) when the test ends.
func Open(t testing.TB) wallet.Store {
	t.Helper()
	if os.Getenv("EIDWALLET_TEST_STORE") != "postgres" {
		return OpenBolt(t)
	}
	dsn := os.Getenv("EIDWALLET_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Fatal("EIDWALLET_TEST_STORE=postgres needs EIDWALLET_TEST_POSTGRES_DSN")
	}
	return OpenPostgres(t, dsn)
}

// OpenBolt opens a fresh bbolt store in t.TempDir(), closed when the test
// ends.
func OpenBolt(t testing.TB) wallet.Store {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "eidwallet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// OpenPostgres opens a store in a fresh schema of the database at dsn,
// closed and dropped when the test ends.
func OpenPostgres(t testing.TB, dsn string) wallet.Store {
	t.Helper()
	store, _ := OpenPostgresSchema(t, dsn, "servicetest_")
	return store
}

// OpenPostgresSchema is OpenPostgres with the schema named prefix and 16
// random hex digits; it returns the name too, for a test that reaches the
// schema's tables itself.
func OpenPostgresSchema(t testing.TB, dsn, prefix string) (wallet.Store, string) {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := prefix + hex.EncodeToString(b[:])
	store, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = store.Close()
		if err := postgres.DropSchema(context.Background(), dsn, schema); err != nil {
			t.Error(err)
		}
	})
	return store, schema
}

// Keys derives service keys from a fresh random master key.
func Keys(t testing.TB) *wallet.Keys {
	t.Helper()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	keys, err := wallet.DeriveKeys(master)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
