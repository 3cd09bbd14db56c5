package wallet

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// TestSuppression: the rule of suppressor on small tables. A count under
// 10 is hidden; in every sum with a hidden count, at least two are hidden
// and, while the whole is shown, the hidden parts hold 10 or more.
func TestSuppression(t *testing.T) {
	for _, c := range []struct {
		name  string
		whole int64
		parts []int64
		want  string // the parts then the whole, "." for hidden
	}{
		{"nothing small", 130, []int64{100, 30}, "100 30 | 130"},
		{"one small part: the smallest other hidden with it", 103, []int64{100, 3}, ". . | 103"},
		{"two small parts under 10 together: one more", 107, []int64{100, 3, 4}, ". . . | 107"},
		{"two small parts, 10 or more together: enough", 115, []int64{100, 6, 9}, "100 . . | 115"},
		{"one small part among three: the next smallest", 85, []int64{50, 30, 5}, "50 . . | 85"},
		{"a small whole: every part is small too", 7, []int64{4, 3}, ". . | ."},
		{"a zero part hides nothing", 15, []int64{15, 0}, "15 0 | 15"},
		{"a part alone under a small whole", 5, []int64{5}, ". | ."},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &suppressor{threshold: 10}
			whole := s.cell(c.whole)
			var parts []*cell
			for _, n := range c.parts {
				parts = append(parts, s.cell(n))
			}
			var nonzero []*cell
			for _, p := range parts {
				if p.n > 0 {
					nonzero = append(nonzero, p)
				}
			}
			s.relate(whole, nonzero)
			hidden := s.solve()
			if got := render(parts, whole); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if want := strings.Count(c.want, "."); hidden != want {
				t.Errorf("solve hid %d, want %d", hidden, want)
			}
		})
	}
}

func render(parts []*cell, whole *cell) string {
	out := make([]string, 0, len(parts)+2)
	one := func(c *cell) string {
		if c.hidden {
			return "."
		}
		return fmt.Sprint(c.n)
	}
	for _, p := range parts {
		out = append(out, one(p))
	}
	return strings.Join(append(out, "|", one(whole)), " ")
}

// TestSuppressionAcrossBuckets: two buckets of one value and their range
// total. The small one is hidden; the other with it, or the range total
// would give it back; then each bucket's own total, which its one value
// would give back; the range total stays.
func TestSuppressionAcrossBuckets(t *testing.T) {
	tb := newStatsTable(2)
	key := func(typ string) []any {
		return []any{time.Time{}, eventIssuance, typ, none, none, none, none, int64(latencyNone)}
	}
	tb.add(0, Count{Key: key("national_id"), N: 20})
	tb.add(1, Count{Key: key("national_id"), N: 5})
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	st := tb.answer(api.StatsQuery{From: from, To: from.Add(2 * time.Hour), By: api.StatsByHour}, time.Hour, 10)
	for i, b := range st.Buckets {
		if b.Issuance.Total != nil || b.Issuance.ByType["national_id"] != nil {
			t.Errorf("bucket %d: total %v, national_id %v: want both hidden", i, b.Issuance.Total, b.Issuance.ByType["national_id"])
		}
	}
	if tot := st.Totals.Issuance; tot.Total == nil || *tot.Total != 25 || tot.ByType["national_id"] == nil || *tot.ByType["national_id"] != 25 {
		t.Errorf("totals: %v %v, want 25 and 25", tot.Total, tot.ByType["national_id"])
	}
	if st.SuppressedCells != 4 {
		t.Errorf("%d suppressed, want 4", st.SuppressedCells)
	}
}

// TestPercentile: linear within the bucket, the last bound beyond it.
func TestPercentile(t *testing.T) {
	hist := make([]int64, len(latencyBounds)+1)
	hist[0], hist[2] = 50, 50 // ≤ 0.5 ms, and 1 to 2 ms
	if got := percentile(hist, 0.5); got != 0.5 {
		t.Errorf("p50 %v, want 0.5", got)
	}
	if got := percentile(hist, 0.99); got != 1.98 {
		t.Errorf("p99 %v, want 1.98", got)
	}
	hist = make([]int64, len(latencyBounds)+1)
	hist[len(latencyBounds)] = 10
	if got := percentile(hist, 0.5); got != 10000 {
		t.Errorf("p50 beyond the last bound %v, want 10000", got)
	}
	for d, want := range map[time.Duration]int64{0: 500, 500 * time.Microsecond: 500, 501 * time.Microsecond: 1000,
		time.Hour: latencyBeyond, -time.Second: 500} {
		if got := latencyBucket(d); got != want {
			t.Errorf("latencyBucket(%s) %d, want %d", d, got, want)
		}
	}
}
