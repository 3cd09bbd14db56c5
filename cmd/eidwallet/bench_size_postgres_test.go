package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	// The filler below is SQL the store never runs, so the benchmark
	// speaks to the database itself; the service's only importer of the
	// driver is still postgres/ (docs/dependencies_test.go checks the
	// packages, not their tests).
	"github.com/jackc/pgx/v5"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/internal/servicetest"
)

// BenchmarkRedeemStoreSizePostgres is BenchmarkRedeemStoreSize on
// PostgreSQL (issue 10, item 7): redemption p99 at 32 clients on a store
// of 10,000 credentials and on a larger one (EIDWALLET_BENCH_LARGE_STORE,
// default 1,000,000), each reported with the sizes of its tables and
// indexes, so that the index and partition choices for 300 M credentials
// (docs/performance.md, "PostgreSQL at 300 M credentials") rest on
// measured figures. Each store is a fresh schema of the database of
// EIDWALLET_TEST_POSTGRES_DSN, dropped at the end.
//
// The bulk route fills at about 1,300 credentials/s, so the stores are
// filled with SQL instead: the citizens of redeemBench and one template
// citizen go through the API (enrolled, issued, shared, redeemed, one
// credential revoked), then fillStore multiplies those real rows with
// INSERT … SELECT over generate_series. Each filler row has fresh key and
// index values of the shape of real ones (ids of the same prefix and
// length, keyed hashes and tokens as 32 random-looking bytes, times
// spread over a year, per-holder sequence numbers, time-ordered verifier
// log keys) and a copy of a real body of its kind, in the proportions of
// fillPerHolder. The filler rows are never read by the measured
// redemptions (those are of redeemBench's citizens); they are there to
// give the tables and indexes the redemptions walk their size.
//
// With EIDWALLET_BENCH_SMALL_BODIES=1 filler rows carry the smallest body
// of their kind instead ('{}', or no bytes): index sizes are the same,
// the heap and TOAST are not, so a store too large for the disk with real
// bodies can still be measured for its indexes.
//
//	EIDWALLET_BENCH_LARGE_STORE=1000000 go test -run '^$' -bench RedeemStoreSizePostgres -benchtime 3000x -timeout 90m -v ./cmd/eidwallet/
func BenchmarkRedeemStoreSizePostgres(b *testing.B) {
	dsn := benchDSN(b)
	large := largeStore(b, 1_000_000)
	realBodies := os.Getenv("EIDWALLET_BENCH_SMALL_BODIES") != "1"
	// Both stores are filled first, then measured in turn, sizePasses
	// times: the machine is shared, and a store measured minutes after the
	// other would compare the machine's load as much as the stores.
	// Set up here, once: a sub-benchmark's function runs more than once
	// (first with b.N = 1).
	type sized struct {
		n     int
		r     *redeemBench
		sizes storeSizes
	}
	var stores []sized
	for _, n := range []int{10_000, large} {
		store, schema := servicetest.OpenPostgresSchema(b, dsn, "benchsize_")
		r := newRedeemBench(b, newBenchStack(b, store))
		addTemplates(b, r)
		conn := connectSchema(b, dsn, schema)
		start := time.Now()
		rows := fillStore(b, conn, n, realBodies)
		b.Logf("credentials=%d: filled %d rows in %v (%.0f rows/s), bodies real: %v", n, rows,
			time.Since(start).Round(time.Second), float64(rows)/time.Since(start).Seconds(), realBodies)
		stores = append(stores, sized{n, r, reportSizes(b, conn, schema)})
		conn.Close(context.Background())
	}
	// The fill leaves gigabytes of dirty pages in the page cache, which the
	// next checkpoint's fsyncs would write out under the measured commits
	// (p99 of seconds in a first run): write them out now. Without effect
	// on a database on another machine.
	start := time.Now()
	syscall.Sync()
	b.Logf("sync: %v", time.Since(start).Round(time.Millisecond))
	for range sizePasses {
		for _, s := range stores {
			b.Run(fmt.Sprintf("credentials=%d", s.n), func(b *testing.B) {
				s.r.run(b, 32)
				b.ReportMetric(s.sizes.indexMB, "index-MB")
				b.ReportMetric(s.sizes.totalMB, "store-MB")
			})
		}
	}
}

// sizePasses is how many times each store's redemptions are measured.
const sizePasses = 5

// connectSchema is one connection with the schema as its search_path and
// no statement timeout (a fill statement runs for minutes).
func connectSchema(b *testing.B, dsn, schema string) *pgx.Conn {
	b.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		b.Fatalf("parse dsn: %v", err)
	}
	cfg.RuntimeParams["search_path"] = schema
	cfg.RuntimeParams["statement_timeout"] = "0"
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	return conn
}

// addTemplates puts, through the API, a row of every kind the filler
// copies that redeemBench's setup has not made: a template citizen's
// share (approved, then redeemed once: a share, its documents, the
// share_approved and share_redeemed activity entries, a verifier log
// entry) and a revoked credential (a status entry).
func addTemplates(b *testing.B, r *redeemBench) {
	b.Helper()
	ctx := context.Background()
	st := r.st
	const citizen = "001099999999"
	holder := st.enrolled(b, citizen)
	issuer := st.client.Issuer(st.issuerKey.Key)
	var ids []string
	for range 2 {
		claims := maps.Clone(claimsA["national_id"])
		claims["id_number"] = citizen
		issued, err := issuer.Issue(ctx, api.IssueRequest{CitizenID: citizen, Type: "national_id", Claims: claims, ExpiresAt: time.Now().AddDate(1, 0, 0)})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, issued.CredentialID)
	}
	sh, err := holder.ShareAndApprove(ctx, api.ShareRequest{MaxUses: 1, TTLSeconds: 300,
		Items: []api.ShareRequestItem{{CredentialID: ids[0], Claims: []string{"full_name", "age_over_18"}}}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.client.Verifier(r.verifierKeys[0]).Verify(ctx, sh.QRText); err != nil {
		b.Fatal(err)
	}
	if _, err := issuer.SetStatus(ctx, ids[1], api.StatusRequest{Status: "revoked", Reason: "bench"}); err != nil {
		b.Fatal(err)
	}
}

// fillPerHolder are the proportions of the filler, per citizen: 100 M
// citizens hold about 300 M credentials (issue 10), on one device each,
// one sealed copy per credential and device, a status index each and one
// credential in fillRevokedEvery revoked; in a year each citizen shares
// twice per credential and every share is redeemed once, so the activity
// log holds the enrolment, the three issuances and an approval and a
// redemption per share, and the verifiers' logs one entry per share.
const (
	fillCredentials   = 3
	fillShares        = 6
	fillActivity      = 1 + fillCredentials + 2*fillShares
	fillRevokedEvery  = 50
	fillVerifiers     = 5_000   // distinct verifiers the log entries are spread over
	fillStatusListLen = 1 << 20 // wallet's status list size
)

// fillStore adds filler citizens (fillPerHolder) until the store holds at
// least n credentials, vacuums and analyzes what it filled (as autovacuum
// would, before the measured redemptions rather than during them) and
// returns how many rows it added.
func fillStore(b *testing.B, conn *pgx.Conn, n int, realBodies bool) int64 {
	b.Helper()
	ctx := context.Background()
	var have int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM credentials").Scan(&have); err != nil {
		b.Fatalf("count credentials: %v", err)
	}
	holders := (n - have + fillCredentials - 1) / fillCredentials
	if holders <= 0 {
		return 0
	}
	// body is the template's body, or the smallest of its type.
	body := func(col, small string) string {
		if realBodies {
			return "t." + col
		}
		return small
	}
	js, raw := body("rec", "'{}'::json"), body("rec", "'\\x'::bytea")
	// id is a filler id: a real id's prefix and 26 characters, unique per
	// (tag, number), random-looking (md5), so that inserts land all over
	// the key space as real random ids do. hash is 32 bytes likewise.
	id := func(prefix, tag, expr string) string {
		return fmt.Sprintf("'%s_' || substr(md5('%s' || (%s)::text), 1, 26)", prefix, tag, expr)
	}
	hash := func(tag, expr string) string { return fmt.Sprintf("sha256(('%s' || (%s)::text)::bytea)", tag, expr) }
	// spread is a time within the last year.
	const spread = "now() - random() * interval '365 days'"
	// Credential j's list and index: lists after the real ones' (list 1),
	// indices in a permuted order within each (7919 is odd, so prime to
	// the list's length).
	list := fmt.Sprintf("2 + j / %d", fillStatusListLen)
	idx := fmt.Sprintf("((j %% %d)::bigint * 7919) %% %d", fillStatusListLen, fillStatusListLen)
	// One log entry a share, in time order over the year, keyed as
	// wallet's verificationSeq keys them (milliseconds << 20 | a counter).
	at := fmt.Sprintf("now() - interval '365 days' + k * (interval '365 days' / %d)", holders*fillShares)
	steps := []struct{ table, sql string }{
		{"holders", fmt.Sprintf(`INSERT INTO holders (id, citizen_hash, rec)
			SELECT %s, %s, %s FROM generate_series(0, $1 - 1) h, (SELECT rec FROM holders LIMIT 1) t`,
			id("hld", "h", "h"), hash("z", "h"), js)},
		{"devices", fmt.Sprintf(`INSERT INTO devices (id, holder_id, created, rec)
			SELECT %s, %s, %s, %s FROM generate_series(0, $1 - 1) h, (SELECT rec FROM devices LIMIT 1) t`,
			id("dev", "d", "h"), id("hld", "h", "h"), spread, js)},
		{"credentials", fmt.Sprintf(`INSERT INTO credentials (id, holder_id, issued_at, rec)
			SELECT %s, %s, %s, %s FROM generate_series(0, $1 * %d - 1) j, (SELECT rec FROM credentials LIMIT 1) t`,
			id("crd", "c", "j"), id("hld", "h", fmt.Sprintf("j / %d", fillCredentials)), spread, js, fillCredentials)},
		{"credential_copies", fmt.Sprintf(`INSERT INTO credential_copies (credential_id, device_id, rec)
			SELECT %s, %s, %s FROM generate_series(0, $1 * %d - 1) j, (SELECT rec FROM credential_copies LIMIT 1) t`,
			id("crd", "c", "j"), id("dev", "d", fmt.Sprintf("j / %d", fillCredentials)), raw, fillCredentials)},
		{"status_indices", fmt.Sprintf(`INSERT INTO status_indices (issuer_id, list, idx, rec)
			SELECT t.issuer_id, %s, %s, %s FROM generate_series(0, $1 * %d - 1) j, (SELECT issuer_id, rec FROM status_indices LIMIT 1) t`,
			list, idx, raw, fillCredentials)},
		{"status_entries", fmt.Sprintf(`INSERT INTO status_entries (issuer_id, list, idx, rec)
			SELECT t.issuer_id, %s, %s, %s FROM generate_series(0, $1 * %d - 1, %d) j, (SELECT issuer_id, rec FROM status_entries LIMIT 1) t`,
			list, idx, js, fillCredentials, fillRevokedEvery)},
		{"shares", fmt.Sprintf(`INSERT INTO shares (id, token_hash, holder_id, created, rec)
			SELECT %s, %s, %s, %s, %s FROM generate_series(0, $1 * %d - 1) k, (SELECT rec FROM shares LIMIT 1) t`,
			id("shr", "s", "k"), hash("t", "k"), id("hld", "h", fmt.Sprintf("k / %d", fillShares)), spread, js, fillShares)},
		{"share_documents", fmt.Sprintf(`INSERT INTO share_documents (share_id, rec)
			SELECT %s, %s FROM generate_series(0, $1 * %d - 1) k, (SELECT rec FROM share_documents LIMIT 1) t`,
			id("shr", "s", "k"), raw, fillShares)},
		// The entry of each place in a holder's log is a real one of that
		// event: enrolment, issuances, then approval and redemption in turn.
		{"activity", fmt.Sprintf(`INSERT INTO activity (holder_id, seq, rec)
			SELECT %s, s, CASE WHEN s = 1 THEN %s WHEN s <= %d THEN %s WHEN s %% 2 = 1 THEN %s ELSE %s END
			FROM generate_series(0, $1 - 1) h, generate_series(1, %d) s,
				(SELECT (SELECT rec FROM activity WHERE rec->>'event' = 'device_enrolled' LIMIT 1) AS enrolled,
					(SELECT rec FROM activity WHERE rec->>'event' = 'credential_issued' LIMIT 1) AS issued,
					(SELECT rec FROM activity WHERE rec->>'event' = 'share_approved' LIMIT 1) AS approved,
					(SELECT rec FROM activity WHERE rec->>'event' = 'share_redeemed' LIMIT 1) AS redeemed) t`,
			id("hld", "h", "h"), body("enrolled", "'{}'::json"), 1+fillCredentials, body("issued", "'{}'::json"), body("approved", "'{}'::json"),
			body("redeemed", "'{}'::json"), fillActivity)},
		{"verifications", fmt.Sprintf(`INSERT INTO verifications (verifier_id, seq, rec)
			SELECT 'verifier-' || lpad((k %% %d)::text, 5, '0'), (floor(extract(epoch FROM %s) * 1000)::bigint << 20) | (k & 1048575), %s
			FROM generate_series(0, $1 * %d - 1) k, (SELECT rec FROM verifications LIMIT 1) t`,
			fillVerifiers, at, js, fillShares)},
	}
	var rows int64
	var tables []string
	for _, s := range steps {
		start := time.Now()
		tag, err := conn.Exec(ctx, s.sql, holders)
		if err != nil {
			b.Fatalf("fill %s: %v", s.table, err)
		}
		if tag.RowsAffected() == 0 {
			b.Fatalf("fill %s: no rows (no template row?)", s.table)
		}
		b.Logf("  %s: %d rows in %v", s.table, tag.RowsAffected(), time.Since(start).Round(time.Millisecond))
		rows += tag.RowsAffected()
		tables = append(tables, s.table)
	}
	start := time.Now()
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+strings.Join(tables, ", ")); err != nil {
		b.Fatalf("vacuum: %v", err)
	}
	b.Logf("  vacuum and analyze: %v", time.Since(start).Round(time.Millisecond))
	return rows
}

// storeSizes are a schema's totals, in MB (10⁶ bytes).
type storeSizes struct{ indexMB, totalMB float64 }

// reportSizes logs, for every table of the schema with rows, its rows
// (the planner's estimate after ANALYZE), heap, TOAST and index bytes and
// each index's size, and returns the totals.
func reportSizes(b *testing.B, conn *pgx.Conn, schema string) storeSizes {
	b.Helper()
	ctx := context.Background()
	const mb = 1e6
	rows, err := conn.Query(ctx, `
		SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid), pg_indexes_size(c.oid), pg_total_relation_size(c.oid),
			(SELECT string_agg(i.relname || ' ' || round(pg_relation_size(i.oid) / 1e6, 1) || ' MB', ', ' ORDER BY i.relname)
				FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid)
		FROM pg_class c
		WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' AND c.reltuples > 0
		ORDER BY pg_total_relation_size(c.oid) DESC`, schema)
	if err != nil {
		b.Fatalf("sizes: %v", err)
	}
	defer rows.Close()
	var total storeSizes
	b.Logf("  %-18s %12s %10s %10s %10s  %s", "table", "rows", "heap MB", "toast MB", "index MB", "indexes")
	for rows.Next() {
		var (
			name             string
			n, heap, idx, tt int64
			each             *string
		)
		if err := rows.Scan(&name, &n, &heap, &idx, &tt, &each); err != nil {
			b.Fatalf("sizes: %v", err)
		}
		indexes := ""
		if each != nil {
			indexes = *each
		}
		b.Logf("  %-18s %12d %10.1f %10.1f %10.1f  %s", name, n, float64(heap)/mb, float64(tt-heap-idx)/mb, float64(idx)/mb, indexes)
		total.indexMB += float64(idx) / mb
		total.totalMB += float64(tt) / mb
	}
	if err := rows.Err(); err != nil {
		b.Fatalf("sizes: %v", err)
	}
	b.Logf("  total %.1f MB, of which indexes %.1f MB", total.totalMB, total.indexMB)
	reportLevels(b, conn)
	return total
}

// reportLevels logs how many pages a lookup of an absent key reads in the
// indexes a redemption descends by key: the depth of each B-tree, root to
// leaf (EXPLAIN's buffer counts, as pageinspect needs a superuser).
func reportLevels(b *testing.B, conn *pgx.Conn) {
	b.Helper()
	ctx := context.Background()
	var levels []string
	for _, q := range []struct{ index, where string }{
		{"shares_token_hash_key", "shares WHERE token_hash = '\\x00'"},
		{"share_documents_pkey", "share_documents WHERE share_id = 'shr_none'"},
		{"credentials_pkey", "credentials WHERE id = 'crd_none'"},
		{"devices_pkey", "devices WHERE id = 'dev_none'"},
		{"activity_pkey", "activity WHERE holder_id = 'hld_none'"},
		{"status_entries_pkey", "status_entries WHERE issuer_id = 'none' AND list = 1 AND idx = 1"},
	} {
		var plan []struct {
			Plan struct {
				Index string `json:"Index Name"`
				Hit   int    `json:"Shared Hit Blocks"`
				Read  int    `json:"Shared Read Blocks"`
			}
		}
		// The second run's count: the first also reads the metapage and
		// the catalog.
		var out []byte
		for range 2 {
			if err := conn.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) SELECT 1 FROM "+q.where).Scan(&out); err != nil {
				b.Fatalf("explain %s: %v", q.index, err)
			}
		}
		if err := json.Unmarshal(out, &plan); err != nil || len(plan) != 1 {
			b.Fatalf("explain %s: %v", q.index, err)
		}
		if p := plan[0].Plan; p.Index != q.index {
			levels = append(levels, fmt.Sprintf("%s not used (%s)", q.index, p.Index))
		} else {
			levels = append(levels, fmt.Sprintf("%s %d", q.index, p.Hit+p.Read))
		}
	}
	b.Logf("  B-tree levels: %s", strings.Join(levels, ", "))
}
