package region

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the series the alert rules and the orchestrator's readiness checks read. None carries a region or
// service label: Prometheus attaches those from the scrape target, so one rule covers every region.
type metrics struct {
	requests *prometheus.CounterVec
	duration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, s *Server) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "region_http_requests_total",
			Help: "Requests to /items, /healthz and /warmup by status code.",
		}, []string{"code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "region_http_request_duration_seconds",
			Help:    "Latency of /items, /healthz and /warmup, injected latency included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
	// Start the usual codes at zero: rate() needs a series to exist before its first increment, or the first
	// scrape's errors are lost and the error-ratio alert fires a scrape later.
	for _, code := range []string{"200", "400", "404", "500", "503"} {
		m.requests.WithLabelValues(code)
	}
	reg.MustRegister(m.requests, m.duration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "region_cache_hit_ratio",
			Help: "Hits / (hits + misses) of GET /items since start; 0 before the first request.",
		}, s.hitRatio),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "region_replication_lag_seconds",
			Help: "How far this region's data trails the primary (injected with POST /fault).",
		}, func() float64 { return s.currentFault().ReplicationLagSeconds }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "region_ready_instances",
			Help: "Instances of the service ready to take traffic in this region (injected with POST /fault).",
		}, func() float64 { return float64(s.currentFault().ReadyInstances) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "region_active_epoch",
			Help: "Epoch of the last active-region value this instance applied; 0 before the first.",
		}, func() float64 { return float64(s.SeenEpoch()) }),
	)
	return m
}

// instrument counts and times a traffic endpoint.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.metrics.requests.WithLabelValues(strconv.Itoa(rec.code)).Inc()
		s.metrics.duration.Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
