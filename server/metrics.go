package server

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors. Labels are bounded: the
// route pattern (not the path), the method, the status, and the codes and
// reasons of SPEC §5.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	verifications *prometheus.CounterVec
	bulkLines     *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eidwallet_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "code"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "eidwallet_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"})),
		verifications: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eidwallet_verifications_total",
			Help: "POST /v1/verify outcomes: result is valid or the error code, reason the verification_failed or forbidden reason.",
		}, []string{"result", "reason"})),
		bulkLines: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eidwallet_bulk_issuance_lines_total",
			Help: "Lines of bulk issuance streams by result: issued or the error code.",
		}, []string{"result"})),
		rateLimited: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eidwallet_rate_limited_total",
			Help: "Requests refused with 429 by limiter.",
		}, []string{"limiter"})),
	}
}

// register adds c to reg, or returns the collector already registered
// under the same description (a second server on one registry shares
// them).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("server: register metrics: " + err.Error())
	}
	return c
}
