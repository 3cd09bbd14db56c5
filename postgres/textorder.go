package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Text order. The store contract orders lists by their columns, and bbolt
// orders Text by bytes, so a list here must too. The schema keeps its
// text columns in the database's default collation: CockroachDB refuses a
// column COLLATE "C" (it accepts the clause only in expressions, from
// 22.2; cockroachdb/cockroach#96828), and there the default order is
// bytewise anyway, as it is in YugabyteDB's default C collation and in a
// PostgreSQL database made with LOCALE 'C' or 'C.UTF-8'. So Open asks the
// database how its default collation orders a few strings that every
// linguistic collation orders otherwise (case, punctuation, accents,
// scripts). Bytewise: lists say ORDER BY col, and an index on the columns
// gives the order with no sort. Otherwise (a PostgreSQL database in, say,
// en_US.UTF-8): lists say ORDER BY col COLLATE "C", which PostgreSQL
// sorts by bytes; an index still finds the rows of the prefix and gives
// the order of the non-text columns before a text one (a holder's shares
// by time, then id: PostgreSQL 13's incremental sort orders only the rows
// of one instant), so only a list led by a text column (every issuer by
// id: small tables) is sorted whole. docs/architecture.md, "Portability".

// textProbe are strings whose byte order no linguistic collation keeps:
// upper case before lower, punctuation before letters and between them,
// accented and other scripts after ASCII.
var textProbe = []string{"a", "B", "ab", "a-c", "a_d", "Z", "f", "é", "ä", "0", "~", "中", "Ω"}

// textOrderBytewise reports whether the database's default collation
// orders textProbe as Go compares strings, byte by byte.
func textOrderBytewise(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	rows, err := pool.Query(ctx, "SELECT v FROM unnest($1::text[]) AS t(v) ORDER BY v", textProbe)
	if err != nil {
		return false, fmt.Errorf("probe text order: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return false, fmt.Errorf("probe text order: %w", err)
	}
	return slices.Equal(got, slices.Sorted(slices.Values(textProbe))), nil
}
