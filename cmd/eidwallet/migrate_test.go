package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/client"
	"github.com/eidwallet/eidwallet/postgres"
)

// testPostgresDSN returns the test database. Without
// EIDWALLET_TEST_POSTGRES_DSN the test skips, except in CI, which starts
// PostgreSQL (.ci/postgres.sh).
func testPostgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("EIDWALLET_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("EIDWALLET_TEST_POSTGRES_DSN is not set (.ci/postgres.sh starts PostgreSQL)")
		}
		t.Skip("EIDWALLET_TEST_POSTGRES_DSN is not set: the PostgreSQL deployment tests need a database (.ci/postgres.sh starts one)")
	}
	return dsn
}

// testPostgres returns the test database and a fresh schema in it, dropped
// when the test ends: after the cleanups registered later, the servers'
// stops among them (cleanups run last first).
func testPostgres(t *testing.T) (dsn, schema string) {
	t.Helper()
	dsn = testPostgresDSN(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema = "cmdtest_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := postgres.DropSchema(ctx, dsn, schema); err != nil {
			t.Error(err)
		}
	})
	return dsn, schema
}

// runCommand runs eidwallet with args and no environment, and returns its
// exit code, stdout and stderr.
func runCommand(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var stdout, stderr syncBuffer
	code := run(ctx, args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

var (
	demoQR  = regexp.MustCompile(`(EID1:[A-Z2-7]+)   \(valid until`)
	demoKey = regexp.MustCompile(`Bearer (ewk_[a-z2-7]+)'`)
)

// waitDemo waits for a server started with --demo to print the demo QR,
// and returns its text and the demo verifier's key.
func waitDemo(t *testing.T, s *liveServer, logs *syncBuffer) (qrText, verifierKey string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out := s.stdout.String()
		if strings.Contains(out, "demo data could not be loaded") {
			t.Fatalf("demo failed:\n%s\n%s", out, logs.String())
		}
		if q, k := demoQR.FindStringSubmatch(out), demoKey.FindStringSubmatch(out); q != nil && k != nil {
			return q[1], k[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no demo QR printed:\n%s\n%s", s.stdout.String(), logs.String())
	return "", ""
}

// verifyDemo redeems a demo QR as the demo pharmacy at base.
func verifyDemo(t *testing.T, base, qrText, key string) {
	t.Helper()
	res, err := client.New(base).Verifier(key).Verify(t.Context(), qrText)
	if err != nil {
		t.Fatalf("redeem the demo QR at %s: %v", base, err)
	}
	if res.Result != api.StatusValid || len(res.Documents) != 1 || res.Documents[0].Claims["full_name"] != "Nguyen Van Mau" {
		t.Fatalf("redeem the demo QR: %+v, want the demo citizen's identity card, valid", res)
	}
}

// The check: migrate-store of a `make run` data dir, then the demo
// QR flow on the migrated database; and back to bolt, checked the same way.
func TestMigrateStoreOfADemoDataDir(t *testing.T) {
	dsn, schema := testPostgres(t)
	addr := freeAddr(t) // the same public URL before and after: it is in every iss
	boltDir := t.TempDir()
	logs := &syncBuffer{}
	a := startServer(t, boltDir, logs, "--demo", "--addr", addr)
	waitDemo(t, a, logs)
	a.stop()

	code, out, errOut := runCommand(t, "migrate-store", "--from", "bolt:"+boltDir, "--to", "postgres:"+dsn, "--postgres-schema", schema)
	if code != exitOK || !strings.Contains(out, "The copy checks out") {
		t.Fatalf("migrate-store bolt → postgres: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"credential claims: 3", "credential copy: 3", "issuer key: 3", "service key: 1", "1 activity chains"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate-store's summary does not mention %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "eidwallet:eidwallet@") || strings.Contains(errOut, "eidwallet:eidwallet@") {
		t.Errorf("migrate-store printed the DSN's password")
	}

	// A replica on PostgreSQL: its own data dir, the deployment's master key.
	logs = &syncBuffer{}
	replica := startServer(t, t.TempDir(), logs, "--demo", "--addr", addr, "--store", "postgres",
		"--postgres-dsn", dsn, "--postgres-schema", schema, "--master-key", filepath.Join(boltDir, "master.key"))
	qrText, key := waitDemo(t, replica, logs)
	redeemed := time.Now().UTC().Truncate(time.Second)
	verifyDemo(t, replica.url, qrText, key)
	replica.stop()

	back := t.TempDir()
	code, out, errOut = runCommand(t, "migrate-store", "--from", "postgres:"+dsn, "--postgres-schema", schema,
		"--to", "bolt:"+back, "--master-key", filepath.Join(boltDir, "master.key"))
	if code != exitOK || !strings.Contains(out, "The copy checks out") {
		t.Fatalf("migrate-store postgres → bolt: exit %d\n%s\n%s", code, out, errOut)
	}
	// The recovery point a drill records: the redemption just made is the
	// newest entry.
	m := regexp.MustCompile(`Newest log entry \(the recovery point\): (\S+)\.`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("migrate-store printed no recovery point:\n%s", out)
	}
	if newest, err := time.Parse(time.RFC3339, m[1]); err != nil || newest.Before(redeemed) || newest.After(time.Now()) {
		t.Errorf("recovery point %s (%v), want the redemption at %s", m[1], err, redeemed.Format(time.RFC3339))
	}
	code, out, errOut = runCommand(t, "migrate-store", "--from", "bolt:"+boltDir, "--to", "bolt:"+back)
	if code != exitInvalid || !strings.Contains(out+errOut, "not empty") {
		t.Errorf("migrate-store into a store that is not empty: exit %d\n%s\n%s", code, out, errOut)
	}
	// A restore drill on a schema that holds a store and no record (a
	// misspelt one, made by 'eidwallet migrate') does not pass.
	_, empty := testPostgres(t)
	if code, out, errOut := runCommand(t, "migrate", "--postgres-dsn", dsn, "--postgres-schema", empty); code != exitOK {
		t.Fatalf("migrate of an empty schema: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCommand(t, "migrate-store", "--from", "postgres:"+dsn, "--postgres-schema", empty,
		"--to", "bolt:"+t.TempDir(), "--master-key", filepath.Join(boltDir, "master.key"))
	if code != exitInvalid || !strings.Contains(out, "does NOT check out") || !strings.Contains(out, "holds no records at all") {
		t.Errorf("migrate-store of an empty store: exit %d\n%s\n%s", code, out, errOut)
	}
	// The check opens sealed records: with another master key it fails.
	otherKey := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(otherKey, make([]byte, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCommand(t, "migrate-store", "--from", "bolt:"+boltDir, "--to", "bolt:"+t.TempDir(), "--master-key", otherKey)
	if code != exitInvalid || !strings.Contains(out, "does NOT check out") || !strings.Contains(out, "does not open with this master key") {
		t.Errorf("migrate-store checked with another master key: exit %d\n%s\n%s", code, out, errOut)
	}
	// A copy restored without its key beside it: the command says how to
	// give it.
	alone := t.TempDir()
	if b, err := os.ReadFile(filepath.Join(boltDir, "eidwallet.db")); err != nil || os.WriteFile(filepath.Join(alone, "eidwallet.db"), b, 0o600) != nil {
		t.Fatalf("copy the store: %v", err)
	}
	code, _, errOut = runCommand(t, "migrate-store", "--from", "bolt:"+alone, "--to", "bolt:"+t.TempDir())
	if code == exitOK || !strings.Contains(errOut, "--master-key") {
		t.Errorf("migrate-store of a copy without its key: exit %d\n%s", code, errOut)
	}
}

// Bootstrap of a fresh replicated deployment: two replicas started
// together with --demo both show the demo (loaded once), a replica with
// another public URL refuses to start, and the admin token is reset from
// the replica that never had it.
func TestReplicasBootstrap(t *testing.T) {
	dsn, schema := testPostgres(t)
	keyDir := t.TempDir()
	master := filepath.Join(keyDir, "master.key")
	if code, out, errOut := runCommand(t, "admin-token", "-h"); code != exitOK || !strings.Contains(out+errOut, "admin-token reset") {
		t.Fatalf("admin-token -h: %d %s %s", code, out, errOut)
	}
	// The master key is the deployment's: made once, given to each.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.WriteFile(master, key, 0o600); err != nil {
		t.Fatal(err)
	}
	addrA := freeAddr(t)
	public := "http://" + addrA
	common := []string{"--demo", "--store", "postgres", "--postgres-dsn", dsn, "--postgres-schema", schema,
		"--master-key", master, "--public-url", public}
	dirA, dirB := t.TempDir(), t.TempDir()
	logsA, logsB := &syncBuffer{}, &syncBuffer{}
	// B starts while A loads the demo data (after it listens).
	a := startServer(t, dirA, logsA, append([]string{"--addr", addrA}, common...)...)
	b := startServer(t, dirB, logsB, common...)
	defer a.stop()
	defer b.stop()
	qrA, keyA := waitDemo(t, a, logsA)
	qrB, keyB := waitDemo(t, b, logsB)
	if keyA != keyB {
		t.Errorf("the replicas show different demo verifier keys: the demo was loaded twice")
	}
	verifyDemo(t, a.url, qrB, keyB) // a share shown by B, redeemed on A
	verifyDemo(t, b.url, qrA, keyA)

	// Which replica made the admin token is a race: the other has none.
	tokenA, errA := os.ReadFile(filepath.Join(dirA, "admin-token"))
	tokenB, errB := os.ReadFile(filepath.Join(dirB, "admin-token"))
	if (errA == nil) == (errB == nil) {
		t.Fatalf("admin-token files: A %v, B %v; want exactly one", errA, errB)
	}
	oldToken, without := strings.TrimSpace(string(tokenA)), dirB
	if errA != nil {
		oldToken, without = strings.TrimSpace(string(tokenB)), dirA
	}
	code, out, errOut := runCommand(t, append([]string{"admin-token", "reset", "--data-dir", without}, common[1:]...)...)
	if code != exitOK || !strings.Contains(errOut, "1 earlier admin key(s) revoked") {
		t.Fatalf("admin-token reset: exit %d\n%s\n%s", code, out, errOut)
	}
	newToken, err := os.ReadFile(filepath.Join(without, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(a.url).Admin(strings.TrimSpace(string(newToken))).Issuers(t.Context()); err != nil {
		t.Errorf("the reset admin token: %v", err)
	}
	if _, err := client.New(b.url).Admin(oldToken).Issuers(t.Context()); client.ErrorCode(err) != api.CodeUnauthenticated {
		t.Errorf("the old admin token after a reset: %v, want unauthenticated", err)
	}

	// A replica with another public URL refuses, saying how to change it.
	code, out, errOut = runCommand(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()},
		append(common[1:len(common)-1], "http://other.example")...)...)
	if code != exitInvalid || !strings.Contains(errOut, "same --public-url") || !strings.Contains(errOut, "public-url set") {
		t.Errorf("a replica with another public URL: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCommand(t, append([]string{"public-url", "show"}, common[1:]...)...)
	if code != exitOK || strings.TrimSpace(out) != public {
		t.Errorf("public-url show: exit %d, %q, want %q", code, out, public)
	}
	// A mistyped schema: an operator command refuses it, and makes
	// nothing there (a token "reset" in a new, empty store would revoke
	// nothing the replicas read).
	typo := schema + "_typo"
	for _, cmd := range [][]string{{"admin-token", "reset", "--out", "-"}, {"public-url", "show"}} {
		code, out, errOut = runCommand(t, append(cmd, "--store", "postgres", "--postgres-dsn", dsn, "--postgres-schema", typo)...)
		if code == exitOK || !strings.Contains(errOut, "--postgres-schema") {
			t.Errorf("%v on a schema with no store: exit %d\n%s\n%s", cmd, code, out, errOut)
		}
	}
	t.Cleanup(func() { _ = postgres.DropSchema(context.Background(), dsn, typo) })
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var made bool
	if err := conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM information_schema.schemata WHERE schema_name = $1)", typo).Scan(&made); err != nil || made {
		t.Errorf("the mistyped schema was made (%v)", err)
	}
}

// A replica whose PostgreSQL session would acknowledge commits it can lose
// refuses to start, naming the setting and the switch (THREATS T31).
func TestServeRefusesUnsafeDurability(t *testing.T) {
	dsn, schema := testPostgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.RawQuery += "&options=-c%20synchronous_commit%3Doff"
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--store", "postgres",
		"--postgres-dsn", u.String(), "--postgres-schema", schema}
	code, out, errOut := runCommand(t, args...)
	if code != exitInvalid || !strings.Contains(errOut, `synchronous_commit is "off"`) || !strings.Contains(errOut, "--allow-unsafe-durability") {
		t.Errorf("serve with synchronous_commit=off: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, "eidwallet:eidwallet@") {
		t.Errorf("the refusal printed the DSN's password")
	}
}

// eidwallet migrate applies and lists; --status only lists.
func TestMigrateCommand(t *testing.T) {
	dsn, schema := testPostgres(t)
	flags := []string{"--postgres-dsn", dsn, "--postgres-schema", schema}
	code, out, errOut := runCommand(t, append([]string{"migrate", "--status"}, flags...)...)
	if code != exitOK || !regexp.MustCompile(`0001_init\.sql +pending`).MatchString(out) {
		t.Fatalf("migrate --status of a new schema: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCommand(t, append([]string{"migrate"}, flags...)...)
	if code != exitOK || !regexp.MustCompile(`0001_init\.sql +applied`).MatchString(out) || strings.Contains(out, "pending") {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCommand(t, append([]string{"migrate"}, flags...)...)
	if code != exitOK || !strings.Contains(out, "0 migration(s) applied now") {
		t.Errorf("migrate again: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCommand(t, "serve", "--no-migrate", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--store", "postgres", "--postgres-dsn", dsn, "--postgres-schema", "cmdtest_never_migrated")
	if code != exitInvalid || !strings.Contains(errOut, "eidwallet migrate") {
		t.Errorf("serve --no-migrate on a schema never migrated: exit %d\n%s\n%s", code, out, errOut)
	}

	// A released file edited after it was applied: both refuse.
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), "UPDATE "+pgx.Identifier{schema}.Sanitize()+".schema_migrations SET checksum = 'edited' WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCommand(t, append([]string{"migrate", "--status"}, flags...)...)
	if code != exitInvalid || !regexp.MustCompile(`0001_init\.sql +changed`).MatchString(out) {
		t.Errorf("migrate --status of a changed migration: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCommand(t, append([]string{"migrate"}, flags...)...)
	if code != exitInvalid || !strings.Contains(errOut, "checksum edited") {
		t.Errorf("migrate of a changed migration: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestMigrateStoreNamesAMissingSource: a misspelt source directory is said
// as a missing store, not as the master key missing beside it.
func TestMigrateStoreNamesAMissingSource(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "d1x")
	code, out, errOut := runCommand(t, "migrate-store", "--from", "bolt:"+missing, "--to", "bolt:"+t.TempDir())
	if code == exitOK || !strings.Contains(errOut, "no store") || strings.Contains(errOut, "master key") {
		t.Errorf("migrate-store from a missing directory: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestDemoOverTLS: `serve --demo --tls-cert` loads its demo data with a
// certificate no system root signs (a self-signed one, as for a trial):
// the demo loader trusts the server's own certificate.
func TestDemoOverTLS(t *testing.T) {
	certFile, keyFile, _ := tlsFiles(t)
	logs := &syncBuffer{}
	srv := startServer(t, t.TempDir(), logs, "--demo", "--tls-cert", certFile, "--tls-key", keyFile)
	defer srv.stop()
	if qrText, key := waitDemo(t, srv, logs); qrText == "" || key == "" {
		t.Fatal("no demo over TLS")
	}
}
