package alerts

import "github.com/prometheus/client_golang/prometheus"

// Request outcomes, the values of failover_webhook_requests_total{outcome}.
const (
	OutcomeOK           = "ok"
	OutcomeUnauthorized = "unauthorized"
	OutcomeBadRequest   = "bad_request"
	OutcomeTooLarge     = "too_large"
	OutcomeBadMethod    = "method_not_allowed"
	OutcomeUnavailable  = "temporal_unavailable"
	// OutcomeUnreadable: the body could not be read to its end (the connection broke or timed out): answered 503,
	// so Alertmanager sends the notification again instead of dropping it as it drops a 4xx.
	OutcomeUnreadable = "body_unreadable"
)

// Alert actions, the values of failover_webhook_alerts_total{action}.
const (
	// ActionStarted: the alert started its service's failover, or (region-wide route) its region's evacuation.
	ActionStarted = "started"
	// ActionAttached: the alert was signalled to the running failover as evidence, or joined the running evacuation.
	ActionAttached = "attached"
	// ActionIgnored: routed, but nothing to do (a resolved alert with no failover running, a repeat of an alert a
	// finished failover already handled, an alert about the target region).
	ActionIgnored = "ignored"
	// ActionUnmatched: no route matched.
	ActionUnmatched = "unmatched"
	// ActionRejected: the orchestrator cannot act on the alert as sent (a required label or field is missing or
	// malformed); the result's reason names it and the fix. The other alerts of its notification are processed.
	ActionRejected = "rejected"
	// ActionCovered: a per-service alert (or the watcher's start) for a service the running evacuation of its region
	// still has to move: the evacuation owns it (its waves and blast-radius limits apply), nothing started beside it.
	ActionCovered = "covered"
)

// Metrics counts webhook requests and what became of each alert.
type Metrics struct {
	Requests *prometheus.CounterVec
	Alerts   *prometheus.CounterVec
}

// NewMetrics registers the counters on reg; every outcome and action starts at zero so dashboards see them.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "failover_webhook_requests_total",
			Help: "Alertmanager webhook requests, by outcome.",
		}, []string{"outcome"}),
		Alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "failover_webhook_alerts_total",
			Help: "Alerts received on the Alertmanager webhook, by what the orchestrator did with them.",
		}, []string{"action"}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.Alerts)
	}
	for _, o := range []string{OutcomeOK, OutcomeUnauthorized, OutcomeBadRequest, OutcomeTooLarge, OutcomeBadMethod, OutcomeUnavailable, OutcomeUnreadable} {
		m.Requests.WithLabelValues(o)
	}
	for _, a := range []string{ActionStarted, ActionAttached, ActionIgnored, ActionUnmatched, ActionRejected, ActionCovered} {
		m.Alerts.WithLabelValues(a)
	}
	return m
}
