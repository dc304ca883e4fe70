package follow

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Follower's own; gauges are computed when scraped, so staleness grows even while Run is blocked.
type metrics struct {
	reconnects    prometheus.Counter
	ignored       *prometheus.CounterVec
	handlerErrors prometheus.Counter
	superseded    prometheus.Counter
}

// newMetrics builds the metrics and registers them (with the constant label key) when reg is set. All names:
//
//	follow_epoch                   epoch of the applied value (0 = none)
//	follow_config_stale_seconds    seconds since etcd last confirmed the applied value
//	follow_fallback_active         1 while serving a value etcd cannot currently confirm (outage, or cached value)
//	follow_watch_reconnects_total  watches re-established after a break or compaction
//	follow_ignored_values_total    values not delivered, by reason: malformed, deleted, old_epoch
//	follow_handler_errors_total    handler calls that returned an error (each is retried unless superseded)
//	follow_superseded_epochs_total epochs dropped unapplied and unacked because a newer one arrived while the
//	                               handler was failing (the failing epoch and any queued behind it)
func newMetrics(f *Follower, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "follow_watch_reconnects_total",
			Help: "Watches on the active-region key re-established after a break or a compaction.",
		}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "follow_ignored_values_total",
			Help: "Active-region values reported and not delivered, by reason (malformed, deleted, old_epoch).",
		}, []string{"reason"}),
		handlerErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "follow_handler_errors_total",
			Help: "Handler calls that returned an error; the same value is retried unless a newer epoch supersedes it.",
		}),
		superseded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "follow_superseded_epochs_total",
			Help: "Epochs dropped without being applied or acked because a newer epoch arrived while the handler was failing.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	reg = prometheus.WrapRegistererWith(prometheus.Labels{"key": f.cfg.Key}, reg)
	collectors := []prometheus.Collector{
		m.reconnects, m.ignored, m.handlerErrors, m.superseded,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "follow_epoch",
			Help: "Epoch of the active-region value this instance has applied (0 = none yet).",
		}, func() float64 {
			a, _ := f.Current()
			return float64(a.Epoch)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "follow_config_stale_seconds",
			Help: "Seconds since etcd last confirmed the applied active-region value.",
		}, func() float64 { return f.staleSeconds(time.Now()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "follow_fallback_active",
			Help: "1 while the instance serves an active-region value etcd cannot currently confirm (etcd unreachable, or a cached value).",
		}, func() float64 {
			if f.fallbackActive(time.Now()) {
				return 1
			}
			return 0
		}),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
				return nil, fmt.Errorf("follow: Registerer already has follow metrics for key %s: use one Follower per key per registry", f.cfg.Key)
			}
			return nil, fmt.Errorf("follow: register metrics: %w", err)
		}
	}
	return m, nil
}

// staleSeconds is the age of the last confirmation; with no value yet, the age of the follower's last view of etcd.
func (f *Follower) staleSeconds(now time.Time) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	since := f.confirmedAt
	if !f.known {
		since = f.viewAt
	}
	if since.IsZero() {
		since = f.started
	}
	return now.Sub(since).Seconds()
}

// fallbackActive: a value is served, but etcd has not confirmed it (cached) or the watch has not been caught up
// within LeaseTTL (etcd unreachable).
func (f *Follower) fallbackActive(now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.known && (f.fromCache || now.Sub(f.viewAt) > f.ttl)
}
