package postgres_test

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/eidwallet/eidwallet/postgres"
)

// exec runs SQL on the test database outside any store.
func exec(t *testing.T, dsn, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// files lists migrations/ as the binary embeds it.
func files(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migrations: %v, %d files", err, len(names))
	}
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	return names
}

func TestMigrationsAppliedOnceAndRecorded(t *testing.T) {
	dsn := testDSN(t)
	schema := schemaFor(t.TempDir())
	s := openSchema(t, schema)
	want := files(t)
	if got := s.Applied(); len(got) != len(want) {
		t.Fatalf("first open applied %d migrations, want %d", len(got), len(want))
	}
	s.Close()
	again, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := again.Applied(); len(got) != 0 {
		t.Errorf("second open applied %v, want none", got)
	}
	status, err := postgres.Status(t.Context(), dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != len(want) {
		t.Fatalf("status: %d migrations, want %d", len(status), len(want))
	}
	for i, m := range status {
		if m.Version != i+1 || m.Name != want[i] || m.State != postgres.Applied || m.AppliedAt.IsZero() || len(m.Checksum) != 64 {
			t.Errorf("status[%d] = %+v, want %s applied with a checksum", i, m, want[i])
		}
	}
}

// A database a newer binary migrated (a rolling upgrade) is served while
// this binary's migrations are a prefix of its own; one whose applied
// migrations are not, or that recorded an applied file with another
// checksum, is refused.
func TestMigrationStatesAtOpen(t *testing.T) {
	dsn := testDSN(t)
	next := len(files(t)) + 1
	later := fmt.Sprintf(`INSERT INTO %%[1]s.schema_migrations (version, name, checksum) VALUES (%d, '%04d_later.sql', 'x')`, next, next)
	cases := []struct {
		name   string
		change []string // run with %[1]s the schema
		refuse string   // "" when Open must succeed
		state  postgres.MigrationState
	}{
		{"newer database", []string{later}, "", postgres.Newer},
		{"changed file", []string{`UPDATE %[1]s.schema_migrations SET checksum = 'edited' WHERE version = 1`}, "checksum", postgres.Changed},
		{"not a prefix", []string{fmt.Sprintf(`DELETE FROM %%[1]s.schema_migrations WHERE version = %d`, next-1), later},
			"not a prefix", postgres.Pending},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schema := schemaFor(t.TempDir())
			openSchema(t, schema).Close()
			for _, sql := range c.change {
				exec(t, dsn, fmt.Sprintf(sql, pgx.Identifier{schema}.Sanitize()))
			}
			s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
			if c.refuse == "" {
				if err != nil {
					t.Fatalf("Open: %v, want it to serve", err)
				}
				s.Close()
			} else {
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded, want a refusal")
				}
				if !strings.Contains(err.Error(), c.refuse) {
					t.Errorf("Open: %v, want it to say %q", err, c.refuse)
				}
			}
			status, err := postgres.Status(t.Context(), dsn, postgres.WithSchema(schema))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, m := range status {
				found = found || m.State == c.state
			}
			if !found {
				t.Errorf("status %+v has no %s migration", status, c.state)
			}
		})
	}
}

// --no-migrate: a database that lacks a migration is refused, and nothing
// is created in it.
func TestWithoutMigrationsRefusesPending(t *testing.T) {
	dsn := testDSN(t)
	schema := schemaFor(t.TempDir())
	t.Cleanup(func() { dropSchema(t, dsn, schema) })
	s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema), postgres.WithoutMigrations())
	if err == nil {
		s.Close()
		t.Fatal("Open without migrations of an empty schema succeeded")
	}
	if !strings.Contains(err.Error(), "eidwallet migrate") {
		t.Errorf("Open: %v, want it to say to run eidwallet migrate", err)
	}
	status, err := postgres.Status(t.Context(), dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range status {
		if m.State != postgres.Pending {
			t.Errorf("%s: %s, want pending", m.Name, m.State)
		}
	}
	openSchema(t, schema).Close()
	s, err = postgres.Open(t.Context(), dsn, postgres.WithSchema(schema), postgres.WithoutMigrations())
	if err != nil {
		t.Fatalf("Open without migrations of a migrated schema: %v", err)
	}
	s.Close()
}

// A schema made before migrations were recorded (store_format, no
// schema_migrations) is adopted: 0001 runs on it and is recorded.
func TestPreMigrationSchemaAdopted(t *testing.T) {
	dsn := testDSN(t)
	schema := schemaFor(t.TempDir())
	t.Cleanup(func() { dropSchema(t, dsn, schema) })
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	ident := pgx.Identifier{schema}.Sanitize()
	exec(t, dsn, "CREATE SCHEMA "+ident+"; SET search_path TO "+ident+";\n"+string(init))
	exec(t, dsn, "INSERT INTO "+ident+".meta (name, rec) VALUES ('kept', 'x')")
	s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatalf("Open of a pre-migration schema: %v", err)
	}
	defer s.Close()
	if got := s.Applied(); len(got) == 0 || got[0].Version != 1 {
		t.Errorf("applied %+v, want 0001 recorded", got)
	}
}

// Start-up refuses a session whose commits are not durable (THREATS T31),
// naming the setting, unless told it is a throwaway database.
func TestUnsafeDurabilityRefused(t *testing.T) {
	dsn := testDSN(t)
	for _, c := range []struct{ setting, value string }{
		{"synchronous_commit", "off"},
		{"synchronous_commit", "local"},
		{"synchronous_commit", "remote_write"},
		{"synchronous_commit", "remote_apply"}, // durable: accepted
	} {
		t.Run(c.value, func(t *testing.T) {
			schema := schemaFor(t.TempDir())
			t.Cleanup(func() { dropSchema(t, dsn, schema) })
			session := withOptions(t, dsn, "-c "+c.setting+"="+c.value)
			s, err := postgres.Open(t.Context(), session, postgres.WithSchema(schema))
			if c.value == "remote_apply" {
				if err != nil {
					t.Fatalf("Open with %s=%s: %v", c.setting, c.value, err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open with %s=%s succeeded", c.setting, c.value)
			}
			if !errors.Is(err, postgres.ErrUnsafeDurability) || !strings.Contains(err.Error(), c.setting+` is "`+c.value+`"`) {
				t.Errorf("Open: %v, want ErrUnsafeDurability naming %s", err, c.setting)
			}
			s, err = postgres.Open(t.Context(), session, postgres.WithSchema(schema), postgres.AllowUnsafeDurability())
			if err != nil {
				t.Fatalf("Open allowing unsafe durability: %v", err)
			}
			s.Close()
		})
	}
}

// TestDurabilityHeldWhileServing: the check of THREATS T31 holds past the
// start. The pool's sessions have synchronous_commit pinned on, so that an
// ALTER ROLE, an ALTER DATABASE or a reloaded postgresql.conf made later
// cannot turn it off under them; a DSN that sets it keeps its own; and a
// new connection that would lose commits is refused, as the first one is.
func TestDurabilityHeldWhileServing(t *testing.T) {
	dsn := testDSN(t)
	open := func(dsn string) *postgres.Store {
		schema := schemaFor(t.TempDir())
		t.Cleanup(func() { dropSchema(t, dsn, schema) })
		s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	// A startup parameter outranks the role's, the database's and the
	// server's settings (PostgreSQL's order of setting sources).
	s := open(dsn)
	if p := s.StartupParam("synchronous_commit"); p != "on" {
		t.Errorf("the sessions' startup synchronous_commit: %q, want it pinned on", p)
	}
	if v, err := s.SessionSetting(t.Context(), "synchronous_commit"); err != nil || v != "on" {
		t.Errorf("a session's synchronous_commit: %q, %v", v, err)
	}
	// "on" is also the server's default: the session must have it from its
	// startup parameter, which no role, database or reload outranks.
	if src, err := s.SettingSource(t.Context(), "synchronous_commit"); err != nil || src != "client" {
		t.Errorf("a session's synchronous_commit comes from %q (%v), want the startup parameter (client)", src, err)
	}
	own := open(withOptions(t, dsn, "-c synchronous_commit=remote_apply"))
	if v, err := own.SessionSetting(t.Context(), "synchronous_commit"); err != nil || v != "remote_apply" || own.StartupParam("synchronous_commit") != "" {
		t.Errorf("with the DSN's remote_apply: %q, %v, pinned %q", v, err, own.StartupParam("synchronous_commit"))
	}
	conn, err := pgx.Connect(t.Context(), withOptions(t, dsn, "-c synchronous_commit=off"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if err := s.CheckConn(t.Context(), conn); !errors.Is(err, postgres.ErrUnsafeDurability) {
		t.Errorf("a new connection with synchronous_commit off: %v, want ErrUnsafeDurability", err)
	}
}

// withOptions adds a startup options parameter to a postgres:// DSN.
func withOptions(t *testing.T, dsn, options string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("the test DSN must be a URL: %v", err)
	}
	// pgx reads "+" as itself, not as a space: escape spaces as %20.
	opt := "options=" + strings.ReplaceAll(url.QueryEscape(options), "+", "%20")
	if u.RawQuery != "" {
		opt = "&" + opt
	}
	u.RawQuery += opt
	return u.String()
}

// A kind whose table or column is missing (declared without its
// migration) fails the start, naming the kind.
func TestKindWithoutItsTableRefused(t *testing.T) {
	dsn := testDSN(t)
	for _, c := range []struct{ name, change, kind string }{
		{"table", "DROP TABLE %[1]s.share_documents", "share_documents"},
		{"column", "ALTER TABLE %[1]s.requests DROP COLUMN holder_id", "requests"},
	} {
		t.Run(c.name, func(t *testing.T) {
			schema := schemaFor(t.TempDir())
			openSchema(t, schema).Close()
			exec(t, dsn, fmt.Sprintf(c.change, pgx.Identifier{schema}.Sanitize()))
			s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want a refusal")
			}
			if !strings.Contains(err.Error(), "kind "+c.kind+": ") || !strings.Contains(err.Error(), "must create its table") {
				t.Errorf("Open: %v, want it to name kind %s", err, c.kind)
			}
		})
	}
}
