package watcher

import "github.com/prometheus/client_golang/prometheus"

// Metrics make every verdict visible.
type Metrics struct {
	// Verdict is 1 for each region's current verdict (up, down, unknown) and 0 for the others.
	Verdict *prometheus.GaugeVec
	// LastChange is when each region's verdict last changed (Unix seconds).
	LastChange *prometheus.GaugeVec
	// Flapping is 1 while a region flaps (reported, not failed over).
	Flapping *prometheus.GaugeVec
	// Probes counts probe results (healthy, failed).
	Probes *prometheus.CounterVec
	// Starts counts what became of the watcher's failover requests (started, attached, ignored, covered by the
	// region's evacuation, error).
	Starts *prometheus.CounterVec
	// Disagreements counts outages this watcher saw that the quorum did not confirm ("observer disagrees").
	Disagreements *prometheus.CounterVec
	// Partitioned is 1 while this watcher considers itself cut off (etcd or most regions unreachable).
	Partitioned prometheus.Gauge
	// Evacuations counts region-wide failures (every watched service of a region down) handed to the evacuation.
	Evacuations *prometheus.CounterVec
}

// NewMetrics registers the watcher's metrics with reg (nil: registered nowhere).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Verdict: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "failover_watcher_region_verdict",
			Help: "1 for the watcher's current verdict on the region (up, down, unknown), 0 for the others."},
			[]string{"service", "region", "verdict"}),
		LastChange: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "failover_watcher_region_last_change_timestamp_seconds",
			Help: "When the watcher's verdict on the region last changed."}, []string{"service", "region"}),
		Flapping: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "failover_watcher_region_flapping",
			Help: "1 while the region flaps: reported, not failed over."}, []string{"service", "region"}),
		Probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "failover_watcher_probes_total",
			Help: "Watcher probe results by region and result (healthy, failed)."}, []string{"service", "region", "result"}),
		Starts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "failover_watcher_starts_total",
			Help: "What became of the watcher's failover requests (started, attached, ignored, covered, error)."},
			[]string{"service", "region", "action"}),
		Disagreements: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "failover_watcher_disagreements_total",
			Help: "Outages this watcher saw that the other observers did not confirm (nothing started)."},
			[]string{"service", "region"}),
		Partitioned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "failover_watcher_partitioned",
			Help: "1 while the watcher considers itself cut off (etcd or most regions unreachable) and starts nothing."}),
		Evacuations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "failover_watcher_evacuations_total",
			Help: "Region-wide failures (every watched service of the region down) handed to the evacuation."}, []string{"region"}),
	}
	if reg != nil {
		reg.MustRegister(m.Verdict, m.LastChange, m.Flapping, m.Probes, m.Starts, m.Disagreements, m.Partitioned, m.Evacuations)
	}
	return m
}
