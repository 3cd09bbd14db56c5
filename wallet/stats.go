package wallet

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/eidwallet/eidwallet/api"
)

// The usage statistics as the agency reads them (GET /v1/admin/stats):
// the counters of usage.go summed into buckets of an hour or a day, with
// every count under the threshold suppressed, and as many others as it
// takes for none to be recomputed from what is shown.

// DefaultStatsThreshold is the least count the statistics show (issue
// 13: any cell under 10 suppressed).
const DefaultStatsThreshold = 10

// Ranges of a stats query: at most MaxStatsDays buckets by day, at most
// MaxStatsHours by hour; without from, the last DefaultStatsDays days or
// DefaultStatsHours hours up to to (without to, the end of the current
// bucket).
const (
	MaxStatsDays      = 366
	MaxStatsHours     = 31 * 24
	DefaultStatsDays  = 30
	DefaultStatsHours = 24
)

// statsEvents are the events shown, in the answer's order, with their
// dimensions, each a column of UsageCounters' key.
var statsEvents = []struct {
	event string
	dims  []string
}{
	{eventVerification, []string{dimType, dimCategory, dimFlow, dimOutcome, dimReason}},
	{eventIssuance, []string{dimType}},
	{eventRevocation, []string{dimType}},
	{eventSuspension, []string{dimType}},
	{eventReinstatement, []string{dimType}},
	{eventEnrolment, nil},
}

// Dimensions, by their place in UsageCounters' key.
const (
	dimType     = "type"
	dimCategory = "category"
	dimFlow     = "flow"
	dimOutcome  = "outcome"
	dimReason   = "reason"
)

var dimColumn = map[string]int{dimType: 2, dimCategory: 3, dimFlow: 4, dimOutcome: 5, dimReason: 6}

// Stats reads the usage statistics of q for an admin: per bucket and for
// the whole range, the counts of each event by its dimensions and the
// verifications' latency percentiles, with small counts suppressed
// (suppress). What this process tallied in memory is written first, so
// that a single server's answer holds every refusal until now; another
// replica's are written within tallyPeriod.
func (s *Service) Stats(ctx context.Context, p *Principal, q api.StatsQuery) (*api.Stats, error) {
	if err := p.require(api.RoleAdmin); err != nil {
		return nil, err
	}
	q, size, err := s.statsRange(q)
	if err != nil {
		return nil, err
	}
	if err := s.flushUsage(ctx); err != nil {
		return nil, s.storeErr(ctx, err, "usage counts")
	}
	t := newStatsTable(int(q.To.Sub(q.From) / size))
	// A day at a time, summed as it is read: memory holds the answer,
	// never the counters of the whole range; and each day is a read of its
	// own, since a year of a country's counters in one would outlast a
	// store's bound on one (30 s on PostgreSQL). Counts only grow, so no
	// one snapshot is needed.
	for from := q.From; err == nil && from.Before(q.To); from = from.Add(24 * time.Hour) {
		to := from.Add(24 * time.Hour)
		if to.After(q.To) {
			to = q.To
		}
		err = s.store.View(ctx, func(tx Tx) error {
			counts, err := tx.Counts(UsageCounters, from, to)
			if err != nil {
				return err
			}
			for _, c := range counts {
				hour, ok := c.Key[0].(time.Time)
				if !ok || hour.Before(q.From) || !hour.Before(q.To) {
					continue
				}
				t.add(int(hour.Sub(q.From)/size), c)
			}
			return nil
		})
	}
	if err != nil {
		return nil, s.storeErr(ctx, err, "usage counts")
	}
	return t.answer(q, size, int64(s.threshold)), nil
}

// statsRange fills in q's defaults and checks it: by day or hour, from
// before to, both on bucket boundaries (UTC), at most the buckets its
// size allows.
func (s *Service) statsRange(q api.StatsQuery) (api.StatsQuery, time.Duration, error) {
	size, most, span := 24*time.Hour, MaxStatsDays, DefaultStatsDays
	switch q.By {
	case "", api.StatsByDay:
		q.By = api.StatsByDay
	case api.StatsByHour:
		size, most, span = time.Hour, MaxStatsHours, DefaultStatsHours
	default:
		return q, 0, Errorf(api.CodeInvalidRequest, "by: day or hour")
	}
	if q.To.IsZero() {
		q.To = s.now().UTC().Truncate(size).Add(size)
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-time.Duration(span) * size)
	}
	q.From, q.To = q.From.UTC(), q.To.UTC()
	for _, b := range []struct {
		name string
		at   time.Time
	}{{"from", q.From}, {"to", q.To}} {
		if !b.at.Equal(b.at.Truncate(size)) || b.at.Year() < 2000 || b.at.Year() > 9999 {
			return q, 0, Errorf(api.CodeInvalidRequest, "%s: a whole %s in UTC (RFC 3339, e.g. 2026-03-01T00:00:00Z), from 2000 on", b.name, q.By)
		}
	}
	if !q.From.Before(q.To) {
		return q, 0, Errorf(api.CodeInvalidRequest, "from must be before to")
	}
	if q.To.Sub(q.From) > time.Duration(most)*size {
		return q, 0, Errorf(api.CodeInvalidRequest, "at most %d buckets by %s: ask for a shorter range", most, q.By)
	}
	return q, size, nil
}

// eventCounts are one event's counts in a bucket or the range.
type eventCounts struct {
	total   int64
	dims    map[string]map[string]int64 // dimension → value → count
	latency []int64                     // by latencyBounds, one beyond (verifications)
}

// statsTable sums counters into buckets and over the range.
type statsTable struct {
	rows []map[string]*eventCounts // per bucket, by event
	all  map[string]*eventCounts
}

func newStatsTable(n int) *statsTable {
	t := &statsTable{rows: make([]map[string]*eventCounts, n), all: map[string]*eventCounts{}}
	for i := range t.rows {
		t.rows[i] = map[string]*eventCounts{}
	}
	return t
}

// add sums counter c into bucket b and the range.
func (t *statsTable) add(b int, c Count) {
	event, _ := c.Key[1].(string)
	dims, known := eventDimensions(event)
	if !known || b < 0 || b >= len(t.rows) || c.N <= 0 {
		return // an event of a newer version: not shown
	}
	for _, m := range []map[string]*eventCounts{t.rows[b], t.all} {
		ec := m[event]
		if ec == nil {
			ec = &eventCounts{dims: map[string]map[string]int64{}, latency: make([]int64, len(latencyBounds)+1)}
			m[event] = ec
		}
		ec.total += c.N
		outcome, _ := c.Key[dimColumn[dimOutcome]].(string)
		for _, d := range dims {
			v, _ := c.Key[dimColumn[d]].(string)
			if v == none || v == "" || d == dimReason && outcome != api.OutcomeFailed {
				continue
			}
			if ec.dims[d] == nil {
				ec.dims[d] = map[string]int64{}
			}
			if d == dimType { // a verification of several documents counts under each
				for _, typ := range strings.Split(v, "+") {
					ec.dims[d][typ] += c.N
				}
				continue
			}
			ec.dims[d][v] += c.N
		}
		if lat, _ := c.Key[7].(int64); event == eventVerification && lat != latencyNone {
			ec.latency[latencyIndex(lat)] += c.N
		}
	}
}

func eventDimensions(event string) ([]string, bool) {
	for _, e := range statsEvents {
		if e.event == event {
			return e.dims, true
		}
	}
	return nil, false
}

// latencyIndex is the histogram bucket of a stored latency value: the
// first bound at or above it.
func latencyIndex(us int64) int {
	if us == latencyBeyond {
		return len(latencyBounds)
	}
	for i, b := range latencyBounds {
		if us <= b.Microseconds() {
			return i
		}
	}
	return len(latencyBounds)
}

// percentile is the q-quantile of a latency histogram in milliseconds,
// as Prometheus's histogram_quantile reads one: linear within its
// bucket, the last bound when it falls beyond.
func percentile(hist []int64, q float64) float64 {
	var count int64
	for _, n := range hist {
		count += n
	}
	rank := q * float64(count)
	var cum int64
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for i, n := range hist {
		if n == 0 || float64(cum+n) < rank {
			cum += n
			continue
		}
		if i == len(latencyBounds) {
			return ms(latencyBounds[i-1])
		}
		lo := 0.0
		if i > 0 {
			lo = ms(latencyBounds[i-1])
		}
		hi := ms(latencyBounds[i])
		return math.Round((lo+(hi-lo)*(rank-float64(cum))/float64(n))*1000) / 1000
	}
	return 0
}

// --- suppression ---------------------------------------------------------------

// cell is one count of the answer.
type cell struct {
	n      int64
	hidden bool
	seq    int   // creation order: ties broken the same way every time
	eqs    []int // the sums it is in
}

// sum is a published relation between counts: whole = Σ parts (a
// bucket's breakdown and its total; a value's buckets and its range
// total). A verification of several types counts under each, so its
// types may sum to more than the whole: still treated as a sum, which
// suppresses more, never less.
type sum struct {
	whole *cell
	parts []*cell
}

// suppressor decides which counts to hide. A count under the threshold
// is hidden (primary); then, in every sum with a hidden count, either at
// least two are hidden and, while the whole is shown, the hidden parts
// hold at least the threshold together — else the smallest shown part
// (or the whole, when no part is left) is hidden too (complementary).
// So no hidden count is the difference of counts shown, nor narrowed by
// one sum to a range under the threshold: the rule statistical offices
// apply to published tables. It protects one answer: differencing the
// answers to overlapping ranges is the admin's own power (the admin can
// read the database), see docs/security.md.
type suppressor struct {
	threshold int64
	cells     []*cell
	sums      []sum
}

func (s *suppressor) cell(n int64) *cell {
	c := &cell{n: n, seq: len(s.cells)}
	s.cells = append(s.cells, c)
	return c
}

func (s *suppressor) relate(whole *cell, parts []*cell) {
	if whole == nil || len(parts) == 0 {
		return
	}
	i := len(s.sums)
	s.sums = append(s.sums, sum{whole: whole, parts: parts})
	whole.eqs = append(whole.eqs, i)
	for _, p := range parts {
		p.eqs = append(p.eqs, i)
	}
}

// solve hides the primary counts, then the complementary ones until every
// sum is safe; it returns how many it hid.
func (s *suppressor) solve() int {
	hidden := 0
	for _, c := range s.cells {
		if c.n > 0 && c.n < s.threshold {
			c.hidden = true
			hidden++
		}
	}
	queue := make([]int, len(s.sums))
	for i := range queue {
		queue[i] = i
	}
	for len(queue) > 0 {
		i := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		sm := s.sums[i]
		if !s.unsafe(sm) {
			continue
		}
		c := pick(sm)
		if c == nil {
			continue // nothing left to hide: every count of it is
		}
		c.hidden = true
		hidden++
		queue = append(queue, c.eqs...)
	}
	return hidden
}

func (s *suppressor) unsafe(sm sum) bool {
	n, parts := 0, int64(0)
	if sm.whole.hidden {
		n++
	}
	for _, p := range sm.parts {
		if p.hidden {
			n++
			parts += p.n
		}
	}
	return n == 1 || n > 1 && !sm.whole.hidden && parts < s.threshold
}

// pick is the count to hide next in sm: its smallest shown part, else
// its whole; never a zero (an absent value hides nothing).
func pick(sm sum) *cell {
	var best *cell
	for _, p := range sm.parts {
		if !p.hidden && p.n > 0 && (best == nil || p.n < best.n || p.n == best.n && p.seq < best.seq) {
			best = p
		}
	}
	if best == nil && !sm.whole.hidden && sm.whole.n > 0 {
		best = sm.whole
	}
	return best
}

// shown is c as the answer has it: null when hidden.
func shown(c *cell) *int64 {
	if c.hidden {
		return nil
	}
	n := c.n
	return &n
}

// eventCells are the cells of one event in a bucket or the range.
type eventCells struct {
	total *cell
	dims  map[string]map[string]*cell
}

// answer builds the answer, suppression applied.
func (t *statsTable) answer(q api.StatsQuery, size time.Duration, threshold int64) *api.Stats {
	sup := &suppressor{threshold: threshold}
	rows := make([]map[string]*eventCells, len(t.rows))
	build := func(m map[string]*eventCounts) map[string]*eventCells {
		out := map[string]*eventCells{}
		for _, e := range statsEvents {
			ec := m[e.event]
			cells := &eventCells{dims: map[string]map[string]*cell{}}
			if ec == nil {
				cells.total = sup.cell(0)
			} else {
				cells.total = sup.cell(ec.total)
				for _, d := range e.dims {
					for _, v := range sortedKeys(ec.dims[d]) {
						if cells.dims[d] == nil {
							cells.dims[d] = map[string]*cell{}
						}
						cells.dims[d][v] = sup.cell(ec.dims[d][v])
					}
				}
			}
			out[e.event] = cells
		}
		return out
	}
	for b := range t.rows {
		rows[b] = build(t.rows[b])
	}
	all := build(t.all)
	for _, e := range statsEvents {
		// Within each bucket and the range: a breakdown sums to its total
		// (the reasons to the failures).
		for _, r := range append(slices.Clone(rows), all) {
			ec := r[e.event]
			for _, d := range e.dims {
				whole := ec.total
				if d == dimReason {
					whole = ec.dims[dimOutcome][api.OutcomeFailed]
				}
				sup.relate(whole, cellsOf(ec.dims[d]))
			}
		}
		// Across buckets: a value's counts sum to its range total.
		var totals []*cell
		for _, r := range rows {
			if c := r[e.event].total; c.n > 0 {
				totals = append(totals, c)
			}
		}
		sup.relate(all[e.event].total, totals)
		for _, d := range e.dims {
			for _, v := range sortedKeys(all[e.event].dims[d]) {
				var parts []*cell
				for _, r := range rows {
					if c := r[e.event].dims[d][v]; c != nil {
						parts = append(parts, c)
					}
				}
				sup.relate(all[e.event].dims[d][v], parts)
			}
		}
	}
	out := &api.Stats{From: q.From, To: q.To, By: q.By, Threshold: int(threshold), SuppressedCells: sup.solve(),
		Buckets: make([]api.StatsCounts, len(rows))}
	for _, b := range latencyBounds {
		out.LatencyBoundsMS = append(out.LatencyBoundsMS, float64(b.Microseconds())/1000)
	}
	for i, r := range rows {
		start := q.From.Add(time.Duration(i) * size)
		out.Buckets[i] = shownCounts(r, t.rows[i][eventVerification], threshold)
		out.Buckets[i].Start = &start
	}
	out.Totals = shownCounts(all, t.all[eventVerification], threshold)
	return out
}

func cellsOf(m map[string]*cell) []*cell {
	out := make([]*cell, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// shownCounts are the counts of a bucket or the range as the answer shows
// them; ver holds the verifications' latency histogram.
func shownCounts(r map[string]*eventCells, ver *eventCounts, threshold int64) api.StatsCounts {
	breakdown := func(ec *eventCells, d string) map[string]*int64 {
		m := map[string]*int64{}
		for v, c := range ec.dims[d] {
			m[v] = shown(c)
		}
		return m
	}
	event := func(name string) api.EventStats {
		ec := r[name]
		es := api.EventStats{Total: shown(ec.total)}
		if name != eventEnrolment {
			es.ByType = breakdown(ec, dimType)
		}
		return es
	}
	v := r[eventVerification]
	out := api.StatsCounts{
		Verifications: api.VerificationStats{Total: shown(v.total), ByType: breakdown(v, dimType), ByCategory: breakdown(v, dimCategory),
			ByFlow: breakdown(v, dimFlow), ByOutcome: breakdown(v, dimOutcome), ByReason: breakdown(v, dimReason)},
		Issuance: event(eventIssuance), Revocation: event(eventRevocation), Suspension: event(eventSuspension),
		Reinstatement: event(eventReinstatement), Enrolment: event(eventEnrolment),
	}
	if ver != nil {
		var timed int64
		for _, n := range ver.latency {
			timed += n
		}
		if timed >= cmp.Or(threshold, 1) {
			p50, p99 := percentile(ver.latency, 0.5), percentile(ver.latency, 0.99)
			out.Verifications.Latency = api.LatencyStats{P50MS: &p50, P99MS: &p99}
		}
	}
	return out
}
