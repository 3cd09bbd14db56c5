package postgres_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/eidwallet/eidwallet/wallet"
	"github.com/eidwallet/eidwallet/wallet/storetest"
)

// TestTextOrderProbe: Open's probe calls the test database's default
// collation bytewise exactly when the catalog names a C collation.
func TestTextOrderProbe(t *testing.T) {
	dsn := testDSN(t)
	s := openSchema(t, schemaFor(t.TempDir()))
	got, err := s.TextOrderBytewise(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var collate string
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if err := conn.QueryRow(t.Context(), "SELECT datcollate FROM pg_database WHERE datname = current_database()").Scan(&collate); err != nil {
		t.Fatal(err)
	}
	want := false
	switch strings.ToLower(collate) {
	case "c", "posix", "c.utf-8", "c.utf8":
		want = true
	}
	if got != want {
		t.Errorf("probe says bytewise %v for a database in %q", got, collate)
	}
}

// TestStoreOverLocaleColumns runs the store contract with every text
// column in a linguistic collation (ICU en-US, which sorts "~" and "é"
// before letters and ignores case first), as in a PostgreSQL database
// made in en_US.UTF-8: lists order by COLLATE "C" and still keep the
// bolt store's byte order.
func TestStoreOverLocaleColumns(t *testing.T) {
	dsn := testDSN(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_collation WHERE collname = 'en-US-x-icu'`).Scan(&n); err != nil || n == 0 {
		t.Skipf("no ICU collation en-US-x-icu here (%v)", err)
	}
	conn.Close(t.Context()) // the suite's tests run in parallel, after this returns
	storetest.Run(t, func(t *testing.T, dir string) wallet.Store {
		schema := schemaFor(dir)
		s := openSchema(t, schema)
		relocale(t, dsn, schema)
		s.OrderTextCollateC()
		return s
	})
}

// relocale gives every text column of schema the collation en-US-x-icu.
func relocale(t *testing.T, dsn, schema string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = $1 AND data_type = 'text' AND table_name <> 'schema_migrations'`, schema)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Table, Column string }])
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) == 0 {
		t.Fatal("no text columns")
	}
	for _, c := range cols {
		sql := fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN %s TYPE text COLLATE "en-US-x-icu"`,
			pgx.Identifier{schema, c.Table}.Sanitize(), pgx.Identifier{c.Column}.Sanitize())
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}
