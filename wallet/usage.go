package wallet

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eidwallet/eidwallet/api"
	"github.com/eidwallet/eidwallet/offline"
)

// Usage statistics for the agency (issue 13 item 3): what the service does
// is counted, per UTC hour, in UsageCounters — verifications by credential
// type, verifier category, flow, outcome and failure reason, with their
// latency bucket; issuance, revocation, suspension, reinstatement by type;
// enrolment. Each count is an add in the write transaction of the event
// it counts (on PostgreSQL in the same pipeline as the event's writes),
// so a count is never without its event nor the event without it. A
// verification refused before the service writes anything (a malformed
// or unknown code, a forged or expired offline code, a storage failure)
// has no transaction: it is tallied in memory and written with the others
// of its kind by one transaction every tallyPeriod (and when the service
// closes, and before a stats read), so a flood of refusals costs no write
// each. docs/operations.md lists what is counted; docs/security.md why no
// identifier is.

// Events counted.
const (
	eventVerification  = "verification"
	eventIssuance      = "issuance"
	eventRevocation    = "revocation"
	eventSuspension    = "suspension"
	eventReinstatement = "reinstatement"
	eventEnrolment     = "enrolment"
)

// none is a dimension that does not apply (a key column is never empty).
const none = "-"

// categoryExternal is the category of a verifier elsewhere our holder's
// wallet answered (OpenID4VP): no registered verifier's.
const categoryExternal = "external"

// latencyBounds are the upper bounds of the latency histogram. They are
// stored with each count (latency_us) and never change meaning: a new
// bound is a new value, and reads place any stored value by them.
var latencyBounds = []time.Duration{
	500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Latency values of a counter key beside the bounds.
const (
	latencyNone   = 0  // not measured (an upload, an issuance)
	latencyBeyond = -1 // over the last bound
)

// tallyPeriod is how often the refusals tallied in memory are written.
const tallyPeriod = 10 * time.Second

// maxTallied bounds the distinct keys tallied between two writes: the
// dimensions come from small fixed sets, so only a bug gets near it.
const maxTallied = 10000

// usage is one event to count.
type usage struct {
	event    string
	types    string // sorted, joined by "+"; none
	category string
	flow     string
	outcome  string
	reason   string
	// start is when the request that brought it arrived (WithReceived):
	// the latency is from there to the count. Zero: not measured.
	start time.Time
	// verifierID, of a refusal whose category is not known yet, is the
	// verifier whose category the write reads (countRefusal, flushUsage).
	// Never stored: the counter keeps the category.
	verifierID string
}

// counterKey is a usage counted at an hour: one counter's key.
type counterKey struct {
	hour                                          int64 // Unix seconds of the UTC hour
	event, types, category, flow, outcome, reason string
	latency                                       int64 // µs bound, latencyNone or latencyBeyond
}

func (k counterKey) values() []any {
	return []any{time.Unix(k.hour, 0).UTC(), k.event, k.types, k.category, k.flow, k.outcome, k.reason, k.latency}
}

// key is u counted now.
func (u usage) key(now time.Time) counterKey {
	k := counterKey{hour: now.UTC().Truncate(time.Hour).Unix(), event: u.event, types: cmp.Or(u.types, none),
		category: cmp.Or(u.category, none), flow: cmp.Or(u.flow, none), outcome: cmp.Or(u.outcome, none),
		reason: cmp.Or(u.reason, none), latency: latencyNone}
	if !u.start.IsZero() {
		k.latency = latencyBucket(now.Sub(u.start))
	}
	return k
}

// latencyBucket is the stored value of the bucket of d.
func latencyBucket(d time.Duration) int64 {
	for _, b := range latencyBounds {
		if d <= b {
			return b.Microseconds()
		}
	}
	return latencyBeyond
}

// counted is the write that counts u once, now: an add in the event's own
// transaction.
func (s *Service) counted(u usage) Write {
	return Added(UsageCounters, 1, u.key(s.now()).values()...)
}

// count adds u's count to tx.
func (s *Service) count(tx Tx, u usage) error { return tx.Apply(s.counted(u)) }

// countAll adds counts to tx in one Apply, in key order (so that two
// transactions adding to the same counters take their rows in the same
// order).
func (s *Service) countAll(tx Tx, counts map[counterKey]int64) error {
	if len(counts) == 0 {
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(counts), compareKeys)
	ws := make([]Write, len(keys))
	for i, k := range keys {
		ws[i] = Added(UsageCounters, counts[k], k.values()...)
	}
	return tx.Apply(ws...)
}

// statusEvent is the event of a credential's status going from was to
// now: "" when it stays.
func statusEvent(was, now string) string {
	switch {
	case was == now:
		return ""
	case now == api.StatusRevoked:
		return eventRevocation
	case now == api.StatusSuspended:
		return eventSuspension
	case now == api.StatusValid:
		return eventReinstatement
	}
	return ""
}

// dimension is v as a key value: one that a store keeps (else "other"),
// none for "".
func dimension(v string) string {
	if v == "" {
		return none
	}
	if len(v) > 64 || CheckValue(Column{Type: Text}, v) != nil {
		return "other"
	}
	return v
}

// typesOf is the types dimension of a verification: each type once,
// sorted, joined by "+".
func typesOf(types []string) string {
	if len(types) == 0 {
		return none
	}
	t := slices.Compact(slices.Sorted(slices.Values(types)))
	return dimension(strings.Join(t, "+"))
}

// received is the context key of a request's arrival time.
type receivedKey struct{}

// WithReceived records when the request of ctx arrived (by the service's
// clock): the latency of a verification it brings is measured from then
// to the write that counts it.
func WithReceived(ctx context.Context, at time.Time) context.Context {
	return context.WithValue(ctx, receivedKey{}, at)
}

func receivedAt(ctx context.Context) time.Time {
	t, _ := ctx.Value(receivedKey{}).(time.Time)
	return t
}

// verification is a verification of flow to count, by its types and the
// verifier's category, timed from the arrival of ctx's request.
func verification(ctx context.Context, flow string, types []string, category string) usage {
	return usage{event: eventVerification, flow: flow, types: typesOf(types), category: dimension(category), start: receivedAt(ctx)}
}

// by is u of verifier id, whose category the write reads when u has none.
func (u usage) by(id string) usage {
	u.verifierID = id
	return u
}

// redemptionUsage is the count of the redemption of sh (nil: not found)
// by the verifier id (v: its record, nil when not read yet), looked up by
// find: an EID1: code's by token (flow share), an EIDC1: code's by its
// share's id (offline.go, flow offline).
func redemptionUsage(ctx context.Context, id string, find Lookup, sh *Share, v *Verifier) usage {
	flow := api.FlowShare
	if find.Index != byToken {
		flow = api.FlowOffline
	}
	var types []string
	if sh != nil {
		types = itemTypes(sh.Items)
	}
	category := ""
	if v != nil {
		category = v.Category
	}
	return verification(ctx, flow, types, category).by(id)
}

// requestUsage is the count of the answer to r: a request of one of our
// verifiers (flow request, or openid4vp when a standard wallet answered
// it) or one from a verifier elsewhere our holder answered (openid4vp,
// category external). Declined, it is a failure of reason declined, of
// the types asked.
func requestUsage(ctx context.Context, r *Request) usage {
	flow, category := api.FlowRequest, ""
	switch {
	case r.Remote != nil:
		flow, category = api.FlowOpenID4VP, categoryExternal
	case r.OpenID4VP != nil:
		flow = api.FlowOpenID4VP
	}
	types := itemTypes(r.Items)
	if len(types) == 0 {
		types = sortedKeys(r.Claims)
	}
	u := verification(ctx, flow, types, category)
	if category == "" {
		u = u.by(r.VerifierID)
	}
	return u
}

// countRefusal counts u in tx with its verifier's category, read in tx
// when u has none yet.
func (s *Service) countRefusal(tx Tx, u usage) error {
	if u.category == none && u.verifierID != "" {
		v, err := Verifiers.Get(tx, u.verifierID)
		if err != nil {
			return err
		}
		u.category = dimension(v.Category)
	}
	return s.count(tx, u)
}

// valid is u with a valid outcome.
func (u usage) valid() usage {
	u.outcome, u.reason = api.OutcomeValid, none
	return u
}

// failed is u refused with err's reason: its code's reason if it has one,
// else its code.
func (u usage) failed(err error) usage { return u.failedWith(failureReason(err)) }

// failedWith is u refused for reason.
func (u usage) failedWith(reason string) usage {
	u.outcome, u.reason = api.OutcomeFailed, reason
	return u
}

// failureReason names a refusal as the answer does (SPEC §5): the reason
// of a verification_failed or forbidden answer, else its code; a store's
// not found as not_found, any other failure as storage_unavailable.
func failureReason(err error) string {
	var e *Error
	switch {
	case errors.As(err, &e):
		return dimension(cmp.Or(e.Reason, string(e.Code)))
	case errors.Is(err, ErrNotFound):
		return string(api.CodeNotFound)
	default:
		return string(api.CodeStorageUnavailable)
	}
}

// uncounted reports whether a refusal is not one to count: the client
// went away (the request was cut, not refused).
func uncounted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// offlineResults are the results an offline counter uploads: valid, or
// the offline package's reason. Anything else counts as "other".
var offlineResults = map[string]bool{
	api.OutcomeValid: true, string(offline.ReasonMalformed): true, string(offline.ReasonUnsupportedAlg): true,
	string(offline.ReasonUnknownKey): true, string(offline.ReasonInvalidSignature): true, string(offline.ReasonExpired): true,
	string(offline.ReasonNotYetValid): true, string(offline.ReasonNotAuthorized): true, string(offline.ReasonRevoked): true,
	string(offline.ReasonSuspended): true, string(offline.ReasonStatusUnknown): true, string(offline.ReasonStale): true,
}

// uploaded is the usage of one verification an offline counter uploaded:
// what the counter said, within the sets counted (the type one of the
// registry's, the result valid or an offline reason), and no latency.
func (s *Service) uploaded(v api.OfflineVerification, category string) usage {
	u := usage{event: eventVerification, flow: api.FlowOffline, types: none, category: dimension(category)}
	if _, ok := s.types.ByID(v.Type); ok {
		u.types = v.Type
	} else if v.Type != "" {
		u.types = "other"
	}
	switch {
	case v.Result == api.OutcomeValid:
		return u.valid()
	case offlineResults[v.Result]:
		return u.failedWith(v.Result)
	default:
		return u.failedWith("other")
	}
}

// --- refusals tallied in memory ----------------------------------------------

// tally holds the counts of refusals that wrote nothing, until a
// transaction writes them.
type tally struct {
	mu      sync.Mutex
	n       map[tallyKey]int64
	dropped int64      // beyond maxTallied since the last write
	writing sync.Mutex // one write at a time
}

// tallyKey is a counter's key and, while its category is not known, the
// verifier whose it is (in memory only).
type tallyKey struct {
	counterKey
	verifierID string
}

// tally counts u in memory, now; flushUsage writes it.
func (s *Service) tally(u usage) {
	k := tallyKey{counterKey: u.key(s.now())}
	if k.category == none {
		k.verifierID = u.verifierID
	}
	t := &s.usage
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[tallyKey]int64{}
	}
	if _, ok := t.n[k]; !ok && len(t.n) >= maxTallied {
		t.dropped++
		return
	}
	t.n[k]++
}

// tallyFailure counts a refusal that wrote nothing, unless the client
// went away.
func (s *Service) tallyFailure(u usage, err error) {
	if !uncounted(err) {
		s.tally(u.failed(err))
	}
}

// flushUsage writes what is tallied in memory in one transaction, with
// the categories of the verifiers it names read there, its adds in key
// order (so that two replicas' writes take the same rows in the same
// order). When the write fails, the counts go back to the tally for the
// next one.
func (s *Service) flushUsage(ctx context.Context) error {
	t := &s.usage
	t.writing.Lock()
	defer t.writing.Unlock()
	t.mu.Lock()
	pending, dropped := t.n, t.dropped
	t.n, t.dropped = nil, 0
	t.mu.Unlock()
	if dropped > 0 {
		s.log.WarnContext(ctx, "usage counts: distinct keys beyond the bound were not counted", "dropped", dropped, "bound", maxTallied)
	}
	if len(pending) == 0 {
		return nil
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		sums := map[counterKey]int64{}
		categories := map[string]string{}
		for k, n := range pending {
			if id := k.verifierID; id != "" {
				if _, ok := categories[id]; !ok {
					v, err := Verifiers.Get(tx, id)
					if err != nil && !errors.Is(err, ErrNotFound) {
						return err
					}
					categories[id] = none // a verifier removed since
					if err == nil {
						categories[id] = dimension(v.Category)
					}
				}
				k.category = categories[id]
			}
			sums[k.counterKey] += n
		}
		return s.countAll(tx, sums)
	})
	if err != nil {
		t.mu.Lock()
		if t.n == nil {
			t.n = map[tallyKey]int64{}
		}
		for k, n := range pending {
			t.n[k] += n // over the bound if need be: these were counted
		}
		t.mu.Unlock()
		return err
	}
	return nil
}

func compareKeys(a, b counterKey) int {
	return cmp.Or(cmp.Compare(a.hour, b.hour), cmp.Compare(a.event, b.event), cmp.Compare(a.types, b.types),
		cmp.Compare(a.category, b.category), cmp.Compare(a.flow, b.flow), cmp.Compare(a.outcome, b.outcome),
		cmp.Compare(a.reason, b.reason), cmp.Compare(a.latency, b.latency))
}

// runTally writes the tally every tallyPeriod until ctx ends, then once
// more (Close waits for it).
func (s *Service) runTally(ctx context.Context) {
	tick := time.NewTicker(tallyPeriod)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := s.flushUsage(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "usage counts: write the tally", "err", err)
			}
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
			if err := s.flushUsage(last); err != nil {
				s.log.WarnContext(last, "usage counts: write the tally at close", "err", err)
			}
			cancel()
			return
		}
	}
}
