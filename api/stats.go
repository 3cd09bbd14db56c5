package api

import "time"

// Usage statistics for the agency (GET /v1/admin/stats, issue 13 item 3):
// counts of what the service did, per UTC hour or day, from counters kept
// in the write transactions. Aggregates only: no holder, device,
// credential, verifier or share id is counted or shown. A count under
// the threshold (10) is suppressed — null — and so are as many others as
// it takes for no suppressed count to follow from the ones shown
// (docs/security.md, "Usage statistics").

// Bucket sizes of a stats query.
const (
	StatsByDay  = "day"
	StatsByHour = "hour"
)

// Flows of a verification: how it reached the service.
const (
	FlowShare     = "share"     // an EID1: code, POST /v1/verify
	FlowRequest   = "request"   // a verifier's request (EIDR1:, EIDP1:) the holder answered
	FlowOpenID4VP = "openid4vp" // an OpenID4VP response, to our verifier or from our holder
	FlowOffline   = "offline"   // an EIDC1: code: uploaded by an offline counter, or verified online
)

// Outcomes of a verification.
const (
	OutcomeValid  = "valid"
	OutcomeFailed = "failed"
)

// StatsQuery is what GET /v1/admin/stats asks: buckets of By from From
// (included) to To (excluded), both on bucket boundaries in UTC.
type StatsQuery struct {
	From time.Time
	To   time.Time
	By   string
}

// Stats answers a StatsQuery.
type Stats struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	By   string    `json:"by"`
	// Threshold is the least count shown; a count under it is null.
	Threshold int `json:"threshold"`
	// SuppressedCells counts the nulls among the counts of the answer.
	SuppressedCells int `json:"suppressed_cells"`
	// LatencyBoundsMS are the upper bounds of the latency histogram the
	// percentiles are read from (milliseconds).
	LatencyBoundsMS []float64     `json:"latency_bounds_ms"`
	Buckets         []StatsCounts `json:"buckets"`
	// Totals are the counts of the whole range.
	Totals StatsCounts `json:"totals"`
}

// StatsCounts are the counts of one bucket (Start set) or of the range.
type StatsCounts struct {
	Start         *time.Time        `json:"start,omitempty"`
	Verifications VerificationStats `json:"verifications"`
	Issuance      EventStats        `json:"issuance"`
	Revocation    EventStats        `json:"revocation"`
	Suspension    EventStats        `json:"suspension"`
	Reinstatement EventStats        `json:"reinstatement"`
	Enrolment     EventStats        `json:"enrolment"`
}

// A count is a *int64: null when suppressed. A breakdown holds the values
// counted at least once; one that is absent counted none.

// VerificationStats are the verifications: each counted once, by the
// types of the documents it held (a verification of two documents
// counts under both), the verifier's category, the flow, the outcome,
// and for failures the reason.
type VerificationStats struct {
	Total      *int64            `json:"total"`
	ByType     map[string]*int64 `json:"by_type"`
	ByCategory map[string]*int64 `json:"by_category"`
	ByFlow     map[string]*int64 `json:"by_flow"`
	ByOutcome  map[string]*int64 `json:"by_outcome"`
	ByReason   map[string]*int64 `json:"by_reason"`
	Latency    LatencyStats      `json:"latency"`
}

// LatencyStats are percentiles of the service's own time to a
// verification's write (docs/operations.md, "Usage statistics"), read
// from the histogram as Prometheus's histogram_quantile does; null when
// fewer verifications than the threshold were timed.
type LatencyStats struct {
	P50MS *float64 `json:"p50_ms"`
	P99MS *float64 `json:"p99_ms"`
}

// EventStats are the counts of issuance, of a kind of status change or of
// enrolment, by credential type where there is one.
type EventStats struct {
	Total  *int64            `json:"total"`
	ByType map[string]*int64 `json:"by_type,omitempty"`
}
