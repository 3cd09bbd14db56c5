package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eidwallet/eidwallet/wallet"
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

// outboxCollector exposes the webhook outbox (issue 10) at each scrape:
// the deliveries pending, read from the store and so the same on every
// replica (aggregate with max), and the deliveries this process delivered
// or gave up on and the attempts it made, counters to sum over replicas.
type outboxCollector struct {
	svc                                  *wallet.Service
	log                                  *slog.Logger
	pending, delivered, failed, attempts *prometheus.Desc
}

func newOutboxCollector(svc *wallet.Service, log *slog.Logger) *outboxCollector {
	return &outboxCollector{
		svc: svc, log: log,
		pending: prometheus.NewDesc("eidwallet_webhook_deliveries_pending",
			"Webhook deliveries waiting in the outbox, of every replica (counted up to 10000).", nil, nil),
		delivered: prometheus.NewDesc("eidwallet_webhook_deliveries_delivered_total",
			"Webhook deliveries this process delivered.", nil, nil),
		failed: prometheus.NewDesc("eidwallet_webhook_deliveries_failed_total",
			"Webhook deliveries this process gave up on: every attempt failed, or the result could not be sent.", nil, nil),
		attempts: prometheus.NewDesc("eidwallet_webhook_attempts_total",
			"Webhook delivery attempts this process made.", nil, nil),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.delivered
	ch <- c.failed
	ch <- c.attempts
}

// Collect reads the outbox with a short bound: a store that does not
// answer costs the pending gauge (logged), not the scrape.
func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.svc.WebhookStats(ctx)
	if err != nil {
		c.log.Error("metrics: webhook outbox", "err", err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending))
	}
	ch <- prometheus.MustNewConstMetric(c.delivered, prometheus.CounterValue, float64(st.Delivered))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(st.Failed))
	ch <- prometheus.MustNewConstMetric(c.attempts, prometheus.CounterValue, float64(st.Attempts))
}
