package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lightfastai/connections/db/types"
)

// Outcomes of a webhook.process attempt, the values of the outcome label.
const (
	OutcomeProcessed = "processed" // observations written (or already there), delivery delivered
	OutcomeIgnored   = "ignored"   // nothing to record: no active integration, not allowed, or no fact in it
	OutcomeFailed    = "failed"    // the attempt failed and will be retried
	OutcomeDLQ       = "dlq"       // the last attempt failed, or the payload can never be processed
)

// Metrics are the webhook worker's Prometheus series.
type Metrics struct {
	deliveries   *prometheus.CounterVec
	observations *prometheus.CounterVec
	lag          *prometheus.HistogramVec
	skipped      *prometheus.CounterVec
}

// NewMetrics registers the worker metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "console_webhook_deliveries_total",
			Help: "webhook.process attempts by provider, event (without its action) and outcome (processed, ignored, failed, dlq).",
		}, []string{"provider", "event", "outcome"}),
		observations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "console_observations_inserted_total",
			Help: "Observations written by the webhook worker, by provider (rows that already existed are not counted).",
		}, []string{"provider"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "console_observation_lag_seconds",
			Help:    "Time from the gateway receiving a delivery to its observations being committed, by provider.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}, []string{"provider"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "console_webhook_integrations_skipped_total",
			Help: "Integrations a processed webhook delivery left out because their row could not be read (malformed JSON), by provider. The delivery's last_error names them.",
		}, []string{"provider"}),
	}
	reg.MustRegister(m.deliveries, m.observations, m.lag, m.skipped)
	return m
}

func (m *Metrics) outcome(p types.Provider, event, outcome string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(string(p), event, outcome).Inc()
}

func (m *Metrics) committed(p types.Provider, inserted int, receivedAt time.Time, now time.Time) {
	if m == nil {
		return
	}
	if inserted > 0 {
		m.observations.WithLabelValues(string(p)).Add(float64(inserted))
	}
	m.lag.WithLabelValues(string(p)).Observe(now.Sub(receivedAt).Seconds())
}

func (m *Metrics) skippedIntegrations(p types.Provider, n int) {
	if m == nil || n == 0 {
		return
	}
	m.skipped.WithLabelValues(string(p)).Add(float64(n))
}
