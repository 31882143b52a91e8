// Package metrics gives each process its own Prometheus registry (never the global one, so a
// test can build a service twice), the HTTP request metrics labelled by route template, the
// pgx pool gauges and the build-info metric.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// NewRegistry returns a registry with the Go runtime and process collectors and the build
// info metric csi_build_info{service,version,commit} = 1.
func NewRegistry(service, version, commit string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "csi_build_info",
		Help:        "Build information of the running service; always 1.",
		ConstLabels: prometheus.Labels{"service": service, "version": version, "commit": commit},
	})
	bi.Set(1)
	reg.MustRegister(bi)
	return reg
}

// Handler serves the registry at /metrics.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// HTTP returns a middleware counting requests and observing latency by route template, method
// and status: csi_<service>_http_requests_total and csi_<service>_http_request_duration_seconds.
// It must sit under httpapi.RequestIDs so the route template is known.
func HTTP(reg prometheus.Registerer, service string) httpapi.Middleware {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "csi_" + service + "_http_requests_total",
		Help: "HTTP requests by route template, method and status code.",
	}, []string{"route", "method", "status"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "csi_" + service + "_http_request_duration_seconds",
		Help:    "HTTP request latency by route template and method.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method"})
	inflight := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "csi_" + service + "_http_requests_in_flight",
		Help: "HTTP requests being served.",
	})
	reg.MustRegister(requests, latency, inflight)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			inflight.Inc()
			defer inflight.Dec()
			sw := httpapi.NewStatusWriter(w)
			next.ServeHTTP(sw, r)
			route, method := httpapi.Route(r), methodLabel(r.Method)
			requests.WithLabelValues(route, method, strconv.Itoa(sw.Status())).Inc()
			latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		})
	}
}

// methodLabel bounds the method label: a client may send any token as a method, and each one
// would otherwise become a new series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// RegisterPool exports a pgx pool's statistics as gauges and counters named
// csi_<service>_db_pool_*.
func RegisterPool(reg prometheus.Registerer, service string, pool *pgxpool.Pool) {
	reg.MustRegister(&poolCollector{pool: pool, prefix: "csi_" + service + "_db_pool_"})
}

type poolCollector struct {
	pool   *pgxpool.Pool
	prefix string
}

func (c *poolCollector) desc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(c.prefix+name, help, nil, nil)
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	g := func(name, help string, v float64) {
		ch <- prometheus.MustNewConstMetric(c.desc(name, help), prometheus.GaugeValue, v)
	}
	n := func(name, help string, v float64) {
		ch <- prometheus.MustNewConstMetric(c.desc(name, help), prometheus.CounterValue, v)
	}
	g("max_connections", "Maximum size of the pool.", float64(s.MaxConns()))
	g("total_connections", "Connections open (idle, acquired or being built).", float64(s.TotalConns()))
	g("acquired_connections", "Connections in use.", float64(s.AcquiredConns()))
	g("idle_connections", "Idle connections.", float64(s.IdleConns()))
	n("acquires_total", "Successful acquires.", float64(s.AcquireCount()))
	n("empty_acquires_total", "Acquires that had to wait for a connection.", float64(s.EmptyAcquireCount()))
	n("acquire_wait_seconds_total", "Total time spent waiting for a connection.", s.AcquireDuration().Seconds())
	n("canceled_acquires_total", "Acquires cancelled by their context.", float64(s.CanceledAcquireCount()))
}
