package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eidwallet/eidwallet/wallet"
)

// Migrations are the numbered SQL files of migrations/ (0001_init.sql,
// 0002_….sql, …), each applied once, in order, in its own transaction,
// and recorded in the schema's schema_migrations table with its name, the
// SHA-256 of the file and when it was applied. The rules they follow
// (docs/operations.md, "Migrations"):
//
//   - A released file never changes: a migration recorded with another
//     checksum than this binary's file refuses the start.
//   - A migration is additive (a table, a nullable column or one with a
//     default, an index), so that the binary before it still runs on the
//     schema after it: during a rolling upgrade both versions serve. A
//     database ahead of the binary is therefore accepted, when the
//     binary's migrations are a prefix of those applied.
//
// Servers starting together take turns without advisory locks, which
// CockroachDB and YugabyteDB lack (issue 10, item 7): a migration's
// transaction first inserts its row into schema_migrations, and the
// primary key makes a second server inserting the same version wait until
// the first commits (it then inserts nothing, and skips the migration) or
// rolls back (it then applies the migration itself). The schema's DDL
// runs only after that insert, so two servers never create the same table
// at once. LOCK TABLE … IN EXCLUSIVE MODE would serialize them as well on
// PostgreSQL, but not on the distributed databases.

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationsTable records the applied migrations, in the store's schema.
const migrationsTable = "schema_migrations"

// migration is one file of migrations/.
type migration struct {
	version  int
	name     string
	sql      string
	checksum string
}

// Migration is one numbered migration as the database and this binary see
// it.
type Migration struct {
	Version   int
	Name      string         // its file, e.g. 0001_init.sql
	Checksum  string         // SHA-256 of the file, lower-case hex
	AppliedAt time.Time      // zero when not applied
	State     MigrationState // what Open makes of it
}

// MigrationState says where a migration stands.
type MigrationState string

const (
	// Applied: recorded, with this binary's checksum.
	Applied MigrationState = "applied"
	// Pending: in this binary, not applied yet.
	Pending MigrationState = "pending"
	// Newer: applied by a newer binary; this one does not know it. Harmless
	// while migrations stay additive (a rolling upgrade).
	Newer MigrationState = "newer"
	// Changed: applied with another checksum than this binary's file: the
	// file was edited after release, or the database was altered. Open
	// refuses it.
	Changed MigrationState = "changed"
)

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// loadMigrations reads migrations/, numbered from 1 without gaps.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations") // sorted by name
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	out := make([]migration, 0, len(entries))
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q: want NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if v != len(out)+1 {
			return nil, fmt.Errorf("migration file %q: want version %04d (numbered from 1, no gaps)", e.Name(), len(out)+1)
		}
		b, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		out = append(out, migration{version: v, name: e.Name(), sql: string(b), checksum: hex.EncodeToString(sum[:])})
	}
	return out, nil
}

// migrate brings the schema up to this binary's migrations (when apply;
// otherwise it only checks that nothing is pending), then checks that
// every declared record kind has its table and columns, so that a kind
// declared without its migration fails at start, not at its first use.
// It returns the migrations this call applied.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, apply bool) ([]Migration, error) {
	known, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	if apply {
		if err := prepare(ctx, pool, schema); err != nil {
			return nil, err
		}
	}
	status, err := readStatus(ctx, pool, schema, known, apply)
	if err != nil {
		return nil, err
	}
	if err := checkStatus(status, apply); err != nil {
		return nil, err
	}
	var applied []Migration
	raced := false
	for _, m := range known {
		if status[m.version-1].State != Pending {
			continue
		}
		ran, err := applyMigration(ctx, pool, schema, m)
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.name, err)
		}
		if ran {
			applied = append(applied, Migration{Version: m.version, Name: m.name, Checksum: m.checksum, State: Applied})
		} else {
			raced = true
		}
	}
	if raced {
		// Another server applied some of them first: what it recorded
		// must be this binary's files too.
		if status, err = readStatus(ctx, pool, schema, known, true); err != nil {
			return applied, err
		}
		if err := checkStatus(status, false); err != nil {
			return applied, err
		}
	}
	return applied, checkKinds(ctx, pool)
}

// checkStatus refuses a changed migration, a database whose migrations do
// not start with this binary's, and (unless apply) a pending one.
func checkStatus(status []Migration, apply bool) error {
	pending, newer, first := 0, 0, ""
	for _, m := range status {
		switch m.State {
		case Changed:
			return fmt.Errorf("migration %04d (%s) was applied with checksum %s, this binary's file has another: "+
				"released migrations must never change (add a new numbered file instead)", m.Version, m.Name, m.Checksum)
		case Pending:
			if pending == 0 {
				first = m.Name
			}
			pending++
		case Newer:
			newer++
		}
	}
	switch {
	case pending > 0 && newer > 0:
		return fmt.Errorf("the database has migrations this binary does not know, but lacks %d of its own: "+
			"its migrations are not a prefix of the database's (a binary from another branch?)", pending)
	case pending > 0 && !apply:
		return fmt.Errorf("%d migration(s) not applied (first: %s): run eidwallet migrate, or start without --no-migrate",
			pending, first)
	}
	return nil
}

// prepare creates the schema and its migrations table when missing.
// CREATE … IF NOT EXISTS is not atomic against a concurrent create of the
// same name (it may fail on the catalog's unique index, or as a duplicate
// type): a server that loses that race tries again and finds what the
// winner made.
func prepare(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	for attempt := 1; ; attempt++ {
		err := prepareOnce(ctx, pool, schema)
		var pgErr *pgconn.PgError
		raced := errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P06" || pgErr.Code == "42P07" || pgErr.Code == "42710")
		if !raced || attempt == 3 {
			return err
		}
	}
}

func prepareOnce(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	var exists, recorded, format bool
	var tables int
	err := pool.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
			count(*) FILTER (WHERE table_name = $2) > 0,
			count(*) FILTER (WHERE table_name = 'store_format') > 0,
			count(*)
		FROM information_schema.tables WHERE table_schema = $1`, schema, migrationsTable).Scan(&exists, &recorded, &format, &tables)
	if err != nil {
		return fmt.Errorf("look up schema: %w", err)
	}
	if recorded {
		return nil
	}
	// A schema of the layout before record kinds has tables but no
	// store_format: it is refused, not misread. One with store_format
	// predates recorded migrations: 0001_init.sql is idempotent and
	// adopts it.
	if tables > 0 && !format {
		return errors.New("tables of an older layout (no store_format): use a new schema")
	}
	ident := pgx.Identifier{schema}.Sanitize()
	// Checked first so that a role without CREATE on the database can use
	// a schema an administrator made for it.
	if !exists {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	_, err = pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+ident+`.`+migrationsTable+` (
		version    int PRIMARY KEY,
		name       text NOT NULL,
		checksum   text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		return fmt.Errorf("create %s: %w", migrationsTable, err)
	}
	return nil
}

// applyMigration applies m in one transaction, unless another server has
// recorded it first (ran is then false). Read committed: the insert of the
// version row waits for a concurrent one and then sees its outcome, where
// a serializable transaction would fail instead.
func applyMigration(ctx context.Context, pool *pgxpool.Pool, schema string, m migration) (ran bool, err error) {
	ident := pgx.Identifier{schema}.Sanitize()
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "INSERT INTO "+ident+"."+migrationsTable+` (version, name, checksum)
			VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING`, m.version, m.name, m.checksum)
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // applied by another server, which has committed
		}
		if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+ident); err != nil {
			return fmt.Errorf("set search_path: %w", err)
		}
		// No arguments: pgx sends the file with the simple protocol, so
		// it may hold several statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		ran = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return ran, nil
}

// readStatus merges what the database recorded with this binary's
// migrations, by version: this binary's first, then the newer ones.
// prepared says prepare has made the migrations table or found it;
// otherwise it is looked up first, and none is all pending.
func readStatus(ctx context.Context, pool *pgxpool.Pool, schema string, known []migration, prepared bool) ([]Migration, error) {
	out := make([]Migration, len(known))
	for i, m := range known {
		out[i] = Migration{Version: m.version, Name: m.name, Checksum: m.checksum, State: Pending}
	}
	if !prepared {
		var recorded bool
		err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
			WHERE table_schema = $1 AND table_name = $2)`, schema, migrationsTable).Scan(&recorded)
		if err != nil {
			return nil, fmt.Errorf("look up %s: %w", migrationsTable, err)
		}
		if !recorded {
			return out, nil
		}
	}
	rows, err := pool.Query(ctx, "SELECT version, name, checksum, applied_at FROM "+
		pgx.Identifier{schema, migrationsTable}.Sanitize()+" ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", migrationsTable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m Migration
		if err := rows.Scan(&m.Version, &m.Name, &m.Checksum, &m.AppliedAt); err != nil {
			return nil, fmt.Errorf("read %s: %w", migrationsTable, err)
		}
		switch {
		case m.Version < 1:
			return nil, fmt.Errorf("%s: version %d", migrationsTable, m.Version)
		case m.Version > len(known):
			m.State = Newer
			out = append(out, m)
		case m.Checksum != known[m.Version-1].checksum || m.Name != known[m.Version-1].name:
			m.State = Changed
			out[m.Version-1] = m
		default:
			m.State = Applied
			out[m.Version-1] = m
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", migrationsTable, err)
	}
	return out, nil
}

// checkKinds checks that every declared kind has its table and columns (a
// SELECT of them that returns no row fails if one is missing), the
// SELECTs sent as one batch rather than a round trip each. The pool's
// search_path is the store's schema.
func checkKinds(ctx context.Context, pool *pgxpool.Pool) error {
	kinds := append(wallet.Kinds(), wallet.CounterKinds()...)
	sqls := make([]string, len(kinds))
	b := &pgx.Batch{}
	for i, k := range kinds {
		cols := names(k.Key)
		for _, ix := range k.Indexes {
			cols += ", " + names(ix.Columns)
		}
		body := "rec"
		if k.Counter {
			body = "shard, n"
		}
		sqls[i] = fmt.Sprintf("SELECT %s, %s FROM %s LIMIT 0", cols, body, k.Name)
		b.Queue(sqls[i])
	}
	br := pool.SendBatch(ctx, b)
	defer br.Close()
	for _, k := range kinds {
		_, err := br.Exec()
		// pgx prepares the batch's statements before running any: when
		// one fails to prepare, every result carries its error, and the
		// kind is the one of the statement it names.
		var pre pgx.ErrPreprocessingBatch
		if errors.As(err, &pre) {
			if i := slices.Index(sqls, pre.SQL()); i >= 0 {
				k, err = kinds[i], pre.Unwrap()
			}
		}
		if err != nil {
			return fmt.Errorf("kind %s: %w (a migration in postgres/migrations must create its table)", k.Name, err)
		}
	}
	return nil
}

// Status reports the migrations of the store at dsn (see Open for opts)
// without applying any or creating anything: this binary's, applied or
// pending, then those applied by a newer binary.
func Status(ctx context.Context, dsn string, opts ...Option) ([]Migration, error) {
	cfg, pool, err := connect(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	known, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	status, err := readStatus(ctx, pool, cfg.schema, known, false)
	if err != nil {
		return nil, fmt.Errorf("postgres: schema %q: %w", cfg.schema, err)
	}
	return status, nil
}
