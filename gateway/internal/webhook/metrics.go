package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lightfastai/connections/db/routing"
)

// Metrics are the ingest counters, registered on the gateway's registry.
type Metrics struct {
	deliveries    *prometheus.CounterVec
	verifyFailed  *prometheus.CounterVec
	cacheLookups  *prometheus.CounterVec
	cacheErrors   prometheus.Counter
	unknownInst   *prometheus.CounterVec
	batchSize     prometheus.Histogram
	batchDuration *prometheus.HistogramVec
}

// NewMetrics registers the ingest metrics on reg, with the in-flight body bytes read from inflight.
func NewMetrics(reg prometheus.Registerer, inflight *budget) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_webhook_deliveries_total",
			Help: "Webhook deliveries by provider and outcome (accepted, duplicate, unrouted, ignored, unauthorized, invalid, too_large, timeout, busy, unavailable).",
		}, []string{"provider", "outcome"}),
		verifyFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_webhook_verification_failures_total",
			Help: "Webhook deliveries that failed verification, by provider and reason.",
		}, []string{"provider", "reason"}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_routing_cache_lookups_total",
			Help: "Routing lookups by result: local (in-process, under a second old), hit (Redis), miss (answered by Postgres), none (no route).",
		}, []string{"result"}),
		cacheErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_routing_cache_errors_total",
			Help: "Redis errors during routing (each was treated as a miss).",
		}),
		unknownInst: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_routing_unknown_installations_total",
			Help: "Deliveries whose route named an installation the database does not have; each was routed again from the database.",
		}, []string{"provider"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gateway_webhook_commit_batch_size",
			Help:    "Deliveries committed per group-commit transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		batchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_webhook_commit_seconds",
			Help:    "Duration of group-commit transactions by result.",
			Buckets: []float64{.0005, .001, .002, .004, .008, .016, .032, .064, .128, .5, 2},
		}, []string{"result"}),
	}
	inflightBytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gateway_webhook_inflight_body_bytes",
		Help: "Buffer bytes held by webhook bodies being read or recorded (bounded by WEBHOOK_MAX_INFLIGHT_BYTES).",
	}, func() float64 { return float64(inflight.used.Load()) })
	reg.MustRegister(m.deliveries, m.verifyFailed, m.cacheLookups, m.cacheErrors, m.unknownInst, m.batchSize, m.batchDuration, inflightBytes)
	return m
}

func (m *Metrics) delivery(provider, outcome string) {
	m.deliveries.WithLabelValues(provider, outcome).Inc()
}

func (m *Metrics) verificationFailure(provider, reason string) {
	m.verifyFailed.WithLabelValues(provider, reason).Inc()
}

func (m *Metrics) unknownInstallation(provider string) {
	m.unknownInst.WithLabelValues(provider).Inc()
}

func (m *Metrics) localHit() { m.cacheLookups.WithLabelValues("local").Inc() }

func (m *Metrics) lookup(src routing.Source) {
	switch src {
	case routing.FromCache:
		m.cacheLookups.WithLabelValues("hit").Inc()
	case routing.FromDB:
		m.cacheLookups.WithLabelValues("miss").Inc()
	default:
		m.cacheLookups.WithLabelValues("none").Inc()
	}
}

// flush is the recorder's OnFlush hook.
func (m *Metrics) flush(size int, elapsed time.Duration, err error) {
	m.batchSize.Observe(float64(size))
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.batchDuration.WithLabelValues(result).Observe(elapsed.Seconds())
}
