package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/postgres"
	"github.com/eidwallet/eidwallet/wallet"
	"github.com/eidwallet/eidwallet/wallet/storetest"
)

// dsnVar names the database the tests use; without it they skip (SPEC §8:
// make test needs no database server). .ci/postgres.sh starts one.
const dsnVar = "EIDWALLET_TEST_POSTGRES_DSN"

func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(dsnVar)
	if dsn == "" {
		t.Skipf("%s is not set: the PostgreSQL store is tested only against a real database (.ci/postgres.sh starts one)", dsnVar)
	}
	return dsn
}

// schemaFor names the schema of a test's storage directory: each test gets
// its own, and reopening the same dir finds the same tables.
func schemaFor(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return "storetest_" + hex.EncodeToString(sum[:12])
}

// openSchema opens the store in schema and drops the schema when the test
// ends, after the stores opened on it are closed (cleanups run last first).
func openSchema(t *testing.T, schema string) *postgres.Store {
	t.Helper()
	dsn := testDSN(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropSchema(t, dsn, schema) })
	return s
}

func dropSchema(t *testing.T, dsn, schema string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := postgres.DropSchema(ctx, dsn, schema); err != nil {
		t.Error(err)
	}
}

func TestStore(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T, dir string) wallet.Store {
		return openSchema(t, schemaFor(dir))
	})
}

// Servers starting together on a new database all open it: creating the
// schema and tables takes turns.
func TestOpenConcurrently(t *testing.T) {
	dsn := testDSN(t)
	schema := schemaFor(t.TempDir())
	t.Cleanup(func() { dropSchema(t, dsn, schema) })
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
			if err == nil {
				err = s.Ping(t.Context())
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
}

// Text fields hold what Go strings hold, NUL bytes included (a jsonb column
// would refuse them), while ids that PostgreSQL text cannot hold are refused
// on put and simply not found on lookup, as ids from a URL may be.
func TestTextEdges(t *testing.T) {
	st := openSchema(t, schemaFor(t.TempDir()))
	req := &wallet.Request{
		ID: "r1", VerifierID: "v1", Status: api.RequestCreated,
		Claims:  map[string][]string{"national_id": {"full_name"}},
		Purpose: "nul \x00 and ünïcödé", Created: time.Now(), ExpiresAt: time.Now().Add(time.Minute),
	}
	err := st.Update(t.Context(), func(tx wallet.Tx) error { return wallet.Requests.Put(tx, req) })
	if err != nil {
		t.Fatalf("put a request with a NUL in its purpose: %v", err)
	}
	err = st.Update(t.Context(), func(tx wallet.Tx) error {
		for _, id := range []string{"a\x00b", "\xff"} {
			if err := wallet.Meta.Put(tx, []byte("x"), id); err == nil || errors.Is(err, wallet.ErrExists) {
				t.Errorf("put meta %q: %v, want an error", id, err)
			}
			if _, err := wallet.Holders.Get(tx, id); !errors.Is(err, wallet.ErrNotFound) {
				t.Errorf("holder %q: %v, want ErrNotFound", id, err)
			}
		}
		// The transaction is still usable: nothing reached PostgreSQL.
		return wallet.Meta.Put(tx, []byte("y"), "ok")
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	err = st.View(t.Context(), func(tx wallet.Tx) error {
		got, err := wallet.Requests.Get(tx, "r1")
		if err != nil {
			return err
		}
		if got.Purpose != req.Purpose {
			t.Errorf("purpose: got %q, want %q", got.Purpose, req.Purpose)
		}
		_, err = wallet.Meta.Get(tx, "ok")
		return err
	})
	if err != nil {
		t.Fatalf("view: %v", err)
	}
}

// A transaction whose fn ignores a failed statement cannot commit:
// PostgreSQL has aborted it, and the store says so rather than return nil.
func TestIgnoredFailure(t *testing.T) {
	st := openSchema(t, schemaFor(t.TempDir()))
	err := st.View(t.Context(), func(tx wallet.Tx) error {
		_ = wallet.Meta.Put(tx, []byte("x"), "m") // refused by the read-only transaction
		return nil
	})
	if err == nil {
		t.Errorf("View after a failed statement: no error")
	}
	// Lists for owner ids that cannot be stored are empty, without a
	// statement that would fail and abort the transaction.
	err = st.Update(t.Context(), func(tx wallet.Tx) error {
		for _, id := range []string{"\xff", "a\x00b", ""} {
			if l, err := wallet.ActivityLog.List(tx, "", wallet.Order{Desc: true}, id); err != nil || len(l) != 0 {
				t.Errorf("activity of %q: %d, %v", id, len(l), err)
			}
		}
		return wallet.Meta.Put(tx, []byte("x"), "m")
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
}

// A schema of the layout before record kinds (tables, no store_format) is
// refused, not misread.
func TestOlderLayoutRefused(t *testing.T) {
	dsn := testDSN(t)
	schema := schemaFor(t.TempDir())
	t.Cleanup(func() { dropSchema(t, dsn, schema) })
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+ident+"; CREATE TABLE "+ident+".issuers (id text PRIMARY KEY, rec json NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
	if err == nil {
		s.Close()
		t.Fatal("Open of a schema of the older layout succeeded")
	}
	if !strings.Contains(err.Error(), "older layout") {
		t.Errorf("Open: %v, want it to name the older layout", err)
	}
}

// Every transaction gives its connection back however it ends: a fn that
// returns an error, one that panics, one that does nothing (and so sends
// nothing: its BEGIN goes out with the first statement). Three times the
// pool's size of them, then a transaction still gets a connection.
func TestTransactionsGiveBackTheirConnection(t *testing.T) {
	st := openSchema(t, schemaFor(t.TempDir()))
	errBoom := errors.New("boom")
	for i := range 3 * st.MaxConns() {
		switch i % 3 {
		case 0:
			err := st.Update(t.Context(), func(tx wallet.Tx) error {
				_ = wallet.Meta.Put(tx, []byte("x"), "m")
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("update %d: %v, want boom", i, err)
			}
		case 1:
			func() {
				defer func() { _ = recover() }()
				_ = st.View(t.Context(), func(tx wallet.Tx) error {
					_, _ = wallet.Meta.Get(tx, "m")
					panic("boom")
				})
			}()
		default:
			if err := st.View(t.Context(), func(wallet.Tx) error { return nil }); err != nil {
				t.Fatalf("empty view %d: %v", i, err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := st.Update(ctx, func(tx wallet.Tx) error { return wallet.Meta.Put(tx, []byte("y"), "m") })
	if err != nil {
		t.Fatalf("update after them: %v", err)
	}
	err = st.View(ctx, func(tx wallet.Tx) error {
		v, err := wallet.Meta.Get(tx, "m")
		if err == nil && string(v) != "y" {
			t.Errorf("m = %q, want the last update's", v)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
