package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/eidwallet/eidwallet/postgres"
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
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil && cfg.PostgresDSN == "" {
		err = errors.New("the PostgreSQL store has migrations, the embedded one none: give --postgres-dsn (EIDWALLET_POSTGRES_DSN)")
	}
	if err != nil {
		fmt.Fprintf(stderr, "eidwallet migrate: %v\n", err)
		return exitUsage
	}
	cfg.Store = "postgres"
	var applied []postgres.Migration
	if !status {
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
	}
	for _, m := range list {
		if m.State == postgres.Changed || m.State == postgres.Pending && !status {
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
