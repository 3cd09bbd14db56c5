package server

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/gin-gonic/gin"
)

// The usage statistics for the agency (issue 13 item 3): GET
// /v1/admin/stats?from=&to=&by=day|hour, as JSON or, with ?format=csv or
// Accept: text/csv, as CSV. The service counts and suppresses
// (wallet.Service.Stats); this is the query and the two encodings.

// maxStatsParam caps each query parameter before it is parsed.
const maxStatsParam = 40

// handleStats answers the usage statistics of the range asked.
func (s *server) handleStats() gin.HandlerFunc {
	return func(c *gin.Context) {
		q, asCSV, err := statsQuery(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		st, err := s.svc.Stats(c.Request.Context(), principalOf(c), q)
		if err != nil {
			s.fail(c, err)
			return
		}
		if !asCSV {
			writeJSON(c, http.StatusOK, st)
			return
		}
		b, err := statsCSV(st)
		if err != nil {
			s.fail(c, fmt.Errorf("stats csv: %w", err))
			return
		}
		c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="eidwallet-stats-%s-%s-%s.csv"`,
			st.From.Format("20060102T15"), st.To.Format("20060102T15"), st.By))
		c.Data(http.StatusOK, "text/csv; charset=utf-8", b)
	}
}

// statsQuery reads from, to (RFC 3339 in UTC), by and format, each at
// most once and of a bounded length.
func statsQuery(c *gin.Context) (api.StatsQuery, bool, error) {
	var q api.StatsQuery
	get := func(name string) (string, error) {
		vs := c.QueryArray(name)
		switch {
		case len(vs) > 1:
			return "", invalid("%s: at most once", name)
		case len(vs) == 0:
			return "", nil
		case len(vs[0]) > maxStatsParam:
			return "", invalid("%s: at most %d bytes", name, maxStatsParam)
		}
		return vs[0], nil
	}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		v, err := get(p.name)
		if err != nil {
			return q, false, err
		}
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if _, offset := t.Zone(); err != nil || offset != 0 {
			return q, false, invalid("%s: an RFC 3339 time in UTC, e.g. 2026-03-01T00:00:00Z", p.name)
		}
		*p.to = t.UTC()
	}
	by, err := get("by")
	if err != nil {
		return q, false, err
	}
	q.By = by
	format, err := get("format")
	if err != nil {
		return q, false, err
	}
	switch format {
	case "csv":
		return q, true, nil
	case "json":
		return q, false, nil
	case "":
		return q, acceptsCSV(c.GetHeader("Accept")), nil
	}
	return q, false, invalid("format: json or csv")
}

// acceptsCSV reports whether an Accept header asks for text/csv rather
// than JSON: it names text/csv, and neither JSON nor anything before it.
func acceptsCSV(accept string) bool {
	for _, r := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(r)), ";")
		switch strings.TrimSpace(mt) {
		case "text/csv":
			return true
		case mediaJSON, "application/*", "*/*":
			return false
		}
	}
	return false
}

// statsCSV is st as CSV: one row per count, the buckets first (by their
// start), then the range ("total"); a suppressed count has no n and
// suppressed true. Latency percentiles are rows of their own (n in
// milliseconds).
func statsCSV(st *api.Stats) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	row := func(bucket, event, dim, value string, n *int64) {
		ns, sup := "", "true"
		if n != nil {
			ns, sup = strconv.FormatInt(*n, 10), "false"
		}
		_ = w.Write([]string{bucket, event, dim, csvText(value), ns, sup})
	}
	breakdown := func(bucket, event, dim string, m map[string]*int64) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			row(bucket, event, dim, k, m[k])
		}
	}
	counts := func(bucket string, sc api.StatsCounts) {
		v := sc.Verifications
		row(bucket, "verification", "total", "", v.Total)
		breakdown(bucket, "verification", "type", v.ByType)
		breakdown(bucket, "verification", "category", v.ByCategory)
		breakdown(bucket, "verification", "flow", v.ByFlow)
		breakdown(bucket, "verification", "outcome", v.ByOutcome)
		breakdown(bucket, "verification", "reason", v.ByReason)
		for _, p := range []struct {
			name string
			ms   *float64
		}{{"latency_p50_ms", v.Latency.P50MS}, {"latency_p99_ms", v.Latency.P99MS}} {
			ms, sup := "", "true"
			if p.ms != nil {
				ms, sup = strconv.FormatFloat(*p.ms, 'f', -1, 64), "false"
			}
			_ = w.Write([]string{bucket, "verification", p.name, "", ms, sup})
		}
		for _, e := range []struct {
			name string
			es   api.EventStats
		}{{"issuance", sc.Issuance}, {"revocation", sc.Revocation}, {"suspension", sc.Suspension},
			{"reinstatement", sc.Reinstatement}, {"enrolment", sc.Enrolment}} {
			row(bucket, e.name, "total", "", e.es.Total)
			breakdown(bucket, e.name, "type", e.es.ByType)
		}
	}
	_ = w.Write([]string{"bucket", "event", "dimension", "value", "n", "suppressed"})
	for _, b := range st.Buckets {
		counts(b.Start.UTC().Format(api.TimeLayout), b)
	}
	counts("total", st.Totals)
	w.Flush()
	return buf.Bytes(), w.Error()
}

// csvText keeps a value from being read as a formula by a spreadsheet
// (a verifier category is an operator's text): one that starts with =,
// +, -, @, tab or carriage return gets a leading apostrophe (OWASP, CSV
// injection).
func csvText(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
