package audit

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of a Log; without a registerer they are live but unregistered.
type metrics struct {
	batchSize prometheus.Histogram
	seconds   prometheus.Histogram
	errors    prometheus.Counter
	pending   prometheus.Gauge

	checkpoints      prometheus.Counter
	checkpointErrors prometheus.Counter
}

// newMetrics builds the metrics, registered on reg when not nil; the checkpoint metrics only
// when checkpoints are written.
func newMetrics(reg prometheus.Registerer, checkpoints bool) metrics {
	m := metrics{
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "csi_audit_batch_size",
			Help:    "Audit records committed together in one transaction (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "csi_audit_write_seconds",
			Help:    "Time to commit one batch of audit records, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "csi_audit_errors_total",
			Help: "Batches of audit records that could not be committed; their writers got an error.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "csi_audit_pending_records",
			Help: "Audit records accepted by Write and not yet committed or failed.",
		}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "csi_audit_checkpoints_total",
			Help: "Signed chain checkpoints written to the checkpoint store.",
		}),
		checkpointErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "csi_audit_checkpoint_errors_total",
			Help: "Chain checkpoints that could not be written (retried at the next interval).",
		}),
	}
	if reg == nil {
		return m
	}
	if checkpoints {
		m.checkpoints = register(reg, m.checkpoints)
		m.checkpointErrors = register(reg, m.checkpointErrors)
	}
	m.batchSize = register(reg, m.batchSize)
	m.seconds = register(reg, m.seconds)
	m.errors = register(reg, m.errors)
	m.pending = register(reg, m.pending)
	return m
}

// register registers c, or returns the collector already registered under its name (a second Log
// in the same process). Any other registration error leaves c working but unregistered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	return c
}
