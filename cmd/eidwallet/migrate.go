package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eidwallet/eidwallet/bolt"
	"github.com/eidwallet/eidwallet/postgres"
	"github.com/eidwallet/eidwallet/wallet"
)

// openPostgres opens the PostgreSQL store as cfg says: the migrations the
// database lacks applied unless --no-migrate, its durability settings
// checked unless --allow-unsafe-durability (THREATS T31).
func openPostgres(ctx context.Context, cfg *config) (*postgres.Store, error) {
	opts := []postgres.Option{postgres.WithSchema(cfg.PostgresSchema)}
	if cfg.NoMigrate {
		opts = append(opts, postgres.WithoutMigrations())
	}
	if cfg.AllowUnsafeDurability {
		opts = append(opts, postgres.AllowUnsafeDurability())
	}
	s, err := postgres.Open(ctx, cfg.PostgresDSN, opts...)
	if errors.Is(err, postgres.ErrUnsafeDurability) {
		return nil, fmt.Errorf("%w\nhint: set it for the service's role or database (ALTER ROLE … SET synchronous_commit = on; "+
			"fsync = on in postgresql.conf); only on a throwaway database, start with --allow-unsafe-durability "+
			"(EIDWALLET_ALLOW_UNSAFE_DURABILITY=1)", err)
	}
	return s, err
}

const migrateUsage = `usage: eidwallet migrate [--status] [serve's flags]

Applies the PostgreSQL store's migrations that the database lacks, each once
and in order, and lists them all; serve does the same at start unless
--no-migrate. With --status it applies nothing and lists each migration as
applied, pending, newer (applied by a newer binary: fine during a rolling
upgrade) or changed (its file differs from what was applied: refused).
It reads serve's flags and EIDWALLET_ variables, so it runs with the
replicas' own configuration; the store is PostgreSQL (--postgres-dsn).
`

// migrateCommand is eidwallet migrate.
func migrateCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var status bool
	cfg, err := parseConfig("migrate", migrateUsage, args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&status, "status", false, "list the migrations, apply none")
	})
	if err == nil && cfg.PostgresDSN == "" {
		err = errors.New("the PostgreSQL store has migrations, the embedded one none: give --postgres-dsn (EIDWALLET_POSTGRES_DSN)")
	}
	if code, done := configExit("migrate", err, stderr); done {
		return code
	}
	var applied []postgres.Migration
	if !status {
		// Open refuses a changed migration and applies the pending
		// ones: once it succeeds, there is neither.
		s, err := openPostgres(ctx, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "eidwallet migrate: %v\n", err)
			return exitInvalid
		}
		applied = s.Applied()
		s.Close()
	}
	list, err := postgres.Status(ctx, cfg.PostgresDSN, postgres.WithSchema(cfg.PostgresSchema))
	if err != nil {
		fmt.Fprintf(stderr, "eidwallet migrate: %v\n", err)
		return exitInvalid
	}
	printMigrations(stdout, list)
	if !status {
		fmt.Fprintf(stdout, "%d migration(s) applied now.\n", len(applied))
		return exitOK
	}
	for _, m := range list {
		if m.State == postgres.Changed {
			return exitInvalid
		}
	}
	return exitOK
}

// printMigrations prints one line per migration.
func printMigrations(w io.Writer, list []postgres.Migration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT")
	for _, m := range list {
		at := "-"
		if !m.AppliedAt.IsZero() {
			at = m.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\t%s\n", m.Version, m.Name, m.State, at)
	}
	tw.Flush()
}

const migrateStoreUsage = `usage: eidwallet migrate-store --from STORE --to STORE [flags]

Copies every record of a stopped deployment's store into an empty store, then
checks the copy: the records of every kind counted in both, a sample of each
kind looked up in the copy by key and index, every holder's activity chain and
every verifier's log, and a sample of the sealed records opened with the
master key. STORE is bolt:DIR (a data dir: DIR/eidwallet.db) or
postgres:DSN (its schema: --postgres-schema). Stop every server on the source
first: what they write during the copy is not in it. The destination must be
empty (a new data dir, or a new schema, migrated by this command).
`

// migrateStoreCommand is eidwallet migrate-store.
func migrateStoreCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate-store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, migrateStoreUsage+"\nflags:\n")
		fs.PrintDefaults()
	}
	from := fs.String("from", "", "source `store`: bolt:DIR or postgres:DSN")
	to := fs.String("to", "", "destination `store`: bolt:DIR or postgres:DSN")
	masterKey := fs.String("master-key", getenv("EIDWALLET_MASTER_KEY"), "the deployment's master key `file` (default DIR/master.key of the bolt side)")
	schema := fs.String("postgres-schema", envOr(getenv, "POSTGRES_SCHEMA", postgres.DefaultSchema), "PostgreSQL `schema` of the PostgreSQL side")
	sample := fs.Int("sample", 200, "records of each kind to look up and open in the copy")
	unsafe := fs.Bool("allow-unsafe-durability", false, "accept a PostgreSQL destination with fsync off or synchronous_commit other than on or remote_apply")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	src, errFrom := parseStoreSpec(*from, "--from")
	dst, errTo := parseStoreSpec(*to, "--to")
	if err := errors.Join(errFrom, errTo); err != nil || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "eidwallet migrate-store: %v\n", errors.Join(err, unexpected(fs.Args())))
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "eidwallet migrate-store: %v\n", err)
		return exitInvalid
	}
	keyFile := *masterKey
	for _, s := range []storeSpec{src, dst} {
		if keyFile == "" && s.kind == "bolt" {
			keyFile = filepath.Join(s.dir, "master.key")
		}
	}
	// The source first: a misspelt one is said as such, not as the master
	// key missing beside it.
	source, err := src.open(ctx, *schema, false, true)
	if err != nil {
		return fail(fmt.Errorf("open the source %s: %w", src, err))
	}
	defer source.Close()
	keys, err := loadMasterKeys(keyFile)
	if err != nil {
		return fail(err)
	}
	dest, err := dst.open(ctx, *schema, true, *unsafe)
	if err != nil {
		return fail(fmt.Errorf("open the destination %s: %w", dst, err))
	}
	defer dest.Close()

	began := time.Now()
	ctx = wallet.Unbounded(ctx) // one transaction over the whole store, however long
	copied, err := wallet.Copy(ctx, dest, source, began)
	if err != nil {
		return fail(fmt.Errorf("copy %s to %s: %w", src, dst, err))
	}
	fmt.Fprintf(stdout, "Copied %s to %s in %s.\n", src, dst, time.Since(began).Round(time.Millisecond))
	rep, err := wallet.CheckCopy(ctx, dest, source, keys, *sample)
	if err != nil {
		return fail(err)
	}
	printCopyReport(stdout, rep, copied)
	if !slices.ContainsFunc(rep.Counts, func(c wallet.KindCount) bool { return c.Source > 0 }) {
		// A drill on an empty restore must not pass: a misspelt schema,
		// made by 'eidwallet migrate', holds tables and nothing else.
		rep.Problems = append(rep.Problems, fmt.Sprintf("the source %s holds no records at all: is it the store (check --postgres-schema, or the directory)?", src))
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(stdout, "\nThe copy does NOT check out:\n")
		for _, p := range rep.Problems {
			fmt.Fprintf(stdout, "  - %s\n", p)
		}
		return exitInvalid
	}
	fmt.Fprintf(stdout, "\nThe copy checks out. Start the service on %s with the same master key (%s) and --public-url.\n", dst, keyFile)
	return exitOK
}

func printCopyReport(w io.Writer, rep *wallet.CopyReport, copied *wallet.Copied) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSOURCE\tCOPY")
	for _, c := range rep.Counts {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", c.Kind, c.Source, c.Copy)
	}
	fmt.Fprintf(tw, "live one-time keys\t\t%d\n", copied.OnceKeys)
	tw.Flush()
	fmt.Fprintf(w, "Checked in the copy: %d activity chains (%d entries), %d verifier logs (%d entries), "+
		"%d sampled records alike by key and index.\n", rep.Holders, rep.ActivityEntries, rep.Verifiers, rep.Verifications, rep.Compared)
	if rep.Newest.IsZero() {
		fmt.Fprintln(w, "Newest log entry: none (no activity or verification entry).")
	} else {
		fmt.Fprintf(w, "Newest log entry (the recovery point): %s.\n", rep.Newest.UTC().Format(time.RFC3339))
	}
	var opened []string
	for _, what := range slices.Sorted(maps.Keys(rep.Opened)) {
		opened = append(opened, fmt.Sprintf("%s: %d", what, rep.Opened[what]))
	}
	if len(opened) == 0 {
		opened = []string{"nothing (no sealed record)"}
	}
	fmt.Fprintf(w, "Opened with the master key: %s.\n", strings.Join(opened, ", "))
}

// storeSpec is a --from or --to: bolt:DIR or postgres:DSN.
type storeSpec struct {
	kind string // bolt or postgres
	dir  string
	dsn  string
}

func parseStoreSpec(s, flag string) (storeSpec, error) {
	kind, rest, _ := strings.Cut(s, ":")
	switch {
	case kind == "bolt" && rest != "":
		return storeSpec{kind: kind, dir: rest}, nil
	case kind == "postgres" && rest != "":
		return storeSpec{kind: kind, dsn: rest}, nil
	}
	return storeSpec{}, fmt.Errorf("%s %q: want bolt:DIR or postgres:DSN", flag, s)
}

// String names the store without the DSN, which may hold a password.
func (s storeSpec) String() string {
	if s.kind == "bolt" {
		return "bolt:" + s.dir
	}
	return "postgres"
}

// open opens the store. A source is never created or migrated: a bolt
// data dir must hold its file, a PostgreSQL schema must be at this
// binary's migrations. A destination is made: a data dir with mode 0700,
// a schema migrated from scratch.
func (s storeSpec) open(ctx context.Context, schema string, dest, allowUnsafe bool) (wallet.Store, error) {
	if s.kind == "bolt" {
		if dest {
			if err := prepareDataDir(s.dir, slog.New(slog.DiscardHandler)); err != nil {
				return nil, err
			}
		} else if _, err := os.Stat(filepath.Join(s.dir, "eidwallet.db")); err != nil {
			return nil, fmt.Errorf("no store: %w", err)
		}
	}
	st, err := openStore(ctx, &config{Store: s.kind, DataDir: s.dir, PostgresDSN: s.dsn, PostgresSchema: schema,
		NoMigrate: !dest, AllowUnsafeDurability: allowUnsafe})
	if errors.Is(err, bolt.ErrLocked) {
		return nil, fmt.Errorf("%w (stop eidwallet serve on %s first)", err, s.dir)
	}
	return st, err
}

// loadMasterKeys reads an existing master key; it never makes one.
func loadMasterKeys(path string) (*wallet.Keys, error) {
	if path == "" {
		return nil, errors.New("the master key is needed to check the copy: give --master-key")
	}
	master, _, err := wallet.LoadOrCreateMasterKey(path, rand.Reader, false)
	if errors.Is(err, wallet.ErrNoMasterKey) {
		// A copy restored alone: its key is backed up apart (operations.md).
		return nil, fmt.Errorf("%w: give the store's master key with --master-key FILE", err)
	}
	if err != nil {
		return nil, err
	}
	return wallet.DeriveKeys(master)
}

func unexpected(args []string) error {
	if len(args) == 0 {
		return nil
	}
	return fmt.Errorf("unexpected argument %q", args[0])
}

// envOr is EIDWALLET_<name>, or def when it is not set.
func envOr(getenv func(string) string, name, def string) string {
	if v := getenv("EIDWALLET_" + name); v != "" {
		return v
	}
	return def
}
