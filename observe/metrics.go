// Package observe exports failover metrics to Prometheus: the Temporal SDK's metrics handler, through which the
// workflow records failover_* and the SDK its own temporal_* metrics (tally with the Prometheus reporter), and a
// collector of the failovers in flight read from Temporal visibility.
package observe

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// The failover metrics as Prometheus names them. The workflow records them by these names (workflows/metrics.go);
// the SDK adds the labels namespace, task_queue and workflow_type to each.
const (
	// FailoversTotal counts finished failovers: labels service, kind, outcome.
	FailoversTotal = "failover_total"
	// RTOSeconds is a histogram of fault → traffic verified, for succeeded failovers: label service.
	RTOSeconds = "failover_rto_seconds"
	// StepDurationSeconds is a histogram of step durations: labels service, step, result.
	StepDurationSeconds = "failover_step_duration_seconds"
	// ApprovalWaitSeconds is a histogram of how long a decision took to arrive: labels service, decision.
	ApprovalWaitSeconds = "failover_approval_wait_seconds"
	// CheckResultsTotal counts verification and gate check results: labels service, check, verdict.
	CheckResultsTotal = "failover_check_results_total"
	// EventsDroppedTotal counts events a publisher (Slack) gave up on: labels sink, reason (rate-limited,
	// deadline, failed). The Notify activity records it; the audit log has a "dropped" record for each.
	EventsDroppedTotal = "failover_events_dropped_total"
	// RPOSeconds is a histogram of the RPO estimate (the target's replication lag sampled at the cutover): label service.
	RPOSeconds = "failover_rpo_seconds"
	// SLABreachesTotal counts runs that missed their plan's SLA: labels service, kind (rto, rpo).
	SLABreachesTotal = "failover_sla_breaches_total"
	// DrillsTotal counts finished drills: labels service, result (passed, breached, failed, refused).
	DrillsTotal = "failover_drills_total"
	// DrillRTOSeconds and DrillRPOSeconds are gauges of the last drill's RTO and RPO: labels service, phase
	// (failover, failback). Charted over time they are the trend across drills.
	DrillRTOSeconds = "failover_drill_rto_seconds"
	DrillRPOSeconds = "failover_drill_rpo_seconds"
)

// Buckets: an RTO runs from seconds (automatic) to an hour (waiting for people); steps from milliseconds (an etcd
// write) to many minutes (a warmup, an approval).
var (
	rtoBuckets      = []float64{1, 2.5, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600}
	stepBuckets     = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600}
	approvalBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200}
	// An RPO runs from milliseconds (synchronous-ish replication) to minutes (a lagging replica).
	rpoBuckets = []float64{0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300}
)

type spec struct {
	help    string
	buckets []float64 // nil for counters
}

var specs = map[string]spec{
	FailoversTotal:      {help: "Finished failovers by service, kind (failover, failback) and outcome."},
	RTOSeconds:          {help: "Recovery time of succeeded failovers: fault start to traffic verified on the target.", buckets: rtoBuckets},
	StepDurationSeconds: {help: "Duration of each failover step by service, step and result (ok, failed, skipped).", buckets: stepBuckets},
	ApprovalWaitSeconds: {help: "Time a failover waited for a decision (approval, inconclusive checks, undo) by service and decision kind.", buckets: approvalBuckets},
	CheckResultsTotal:   {help: "Gate and verification check results by service, check and verdict (pass, fail, inconclusive)."},
	EventsDroppedTotal:  {help: "Failover events a publisher gave up on, by sink (slack) and reason (rate-limited, deadline, failed); each has a dropped record in the audit log."},
}

// onlyWhenItHappens are counters that appear on /metrics only once their first event happened (a dropped
// Slack event): a healthy run never shows them, so MetricNames leaves them out.
var onlyWhenItHappens = map[string]bool{EventsDroppedTotal: true}

// slaSpecs are the series that appear only with a plan sla, a readiness.lagQuery, or drills.
var slaSpecs = map[string]spec{
	RPOSeconds:       {help: "RPO estimate of failovers that reached the cutover: the target's replication lag sampled just before it.", buckets: rpoBuckets},
	SLABreachesTotal: {help: "Failovers that missed their plan's SLA, by service and kind (rto, rpo)."},
	DrillsTotal:      {help: "Finished drills by service and result (passed, breached, failed, refused)."},
}

func specFor(name string) (spec, bool) {
	if s, ok := specs[name]; ok {
		return s, true
	}
	s, ok := slaSpecs[name]
	return s, ok
}

// MetricNames lists every failover series name this package puts on /metrics after any failover (histograms as
// their _bucket, _sum and _count series), for dashboards and rules to be checked against.
func MetricNames() []string {
	out := specSeries(specs)
	out = append(out, InFlight, CurrentStep, RunningSeconds, InFlightUp)
	slices.Sort(out)
	return out
}

// SLAMetricNames lists the series that appear only once a failover with an SLA or a lag query, or a drill, ran.
func SLAMetricNames() []string {
	out := append(specSeries(slaSpecs), DrillRTOSeconds, DrillRPOSeconds)
	slices.Sort(out)
	return out
}

func specSeries(m map[string]spec) []string {
	var out []string
	for name, s := range m {
		if onlyWhenItHappens[name] {
			continue
		}
		if s.buckets == nil {
			out = append(out, name)
			continue
		}
		out = append(out, name+"_bucket", name+"_sum", name+"_count")
	}
	return out
}

// SDKMetricNames are the Temporal SDK series the dashboard charts; the SDK exports many more, named by its
// metrics package with the Prometheus suffixes (_total, _seconds) that NewMetrics adds.
func SDKMetricNames() []string {
	return []string{"temporal_activity_execution_latency_seconds_bucket", "temporal_request_total",
		"temporal_workflow_completed_total", "temporal_workflow_task_execution_latency_seconds_bucket"}
}

// Metrics is a Prometheus registry with the SDK's metrics handler feeding it, plus Go and process metrics.
type Metrics struct {
	// Registry holds every metric; register more collectors on it (NewInFlightCollector).
	Registry *prometheus.Registry
	handler  client.MetricsHandler
	closer   io.Closer
}

// NewMetrics builds the registry and the SDK handler. Counters reach the registry once a second (tally's report
// interval); timers at once. Close flushes.
func NewMetrics(logger *slog.Logger) *Metrics {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	onError := func(err error) { logger.Warn("metric not exported", "error", err) }
	rep := &reporter{
		Reporter: tallyprom.NewReporter(tallyprom.Options{Registerer: reg, DefaultTimerType: tallyprom.HistogramTimerType, OnRegisterError: onError}),
		onError:  onError,
	}
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter: rep,
		Separator:      tallyprom.DefaultSeparator,
		// tally's own cardinality gauges carry an "instance" label that would clash with Prometheus' target label.
		OmitCardinalityMetrics: true,
		// Names and label names as Prometheus needs them; label values untouched, so outcome="rolled-back"
		// and step="hold-down" read as the workflow wrote them.
		SanitizeOptions: &tally.SanitizeOptions{
			NameCharacters:       sdktally.PrometheusSanitizeOptions.NameCharacters,
			KeyCharacters:        sdktally.PrometheusSanitizeOptions.KeyCharacters,
			ValueCharacters:      tally.ValidCharacters{Ranges: []tally.SanitizeRange{{0, unicode.MaxRune}}},
			ReplacementCharacter: tally.DefaultReplacementCharacter,
		},
	}, time.Second)
	return &Metrics{Registry: reg, handler: sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer: closer}
}

// SDKHandler is the client.Options.MetricsHandler for the worker's Temporal client.
func (m *Metrics) SDKHandler() client.MetricsHandler { return m.handler }

// HTTPHandler serves the registry in Prometheus' text format. A collector that fails is reported in the response
// and the log, without hiding the other metrics.
func (m *Metrics) HTTPHandler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: m.Registry})
}

// Close reports what tally still buffers and stops its report loop.
func (m *Metrics) Close() error { return m.closer.Close() }

// reporter gives the failover metrics their help text and histogram buckets; the SDK's own metrics keep the
// reporter's defaults. The Prometheus reporter keys a vector by name and label names, so registering it first
// with our options makes the reporter reuse it.
type reporter struct {
	tallyprom.Reporter
	onError func(error)
}

func (r *reporter) AllocateCounter(name string, tags map[string]string) tally.CachedCount {
	if s, ok := specFor(name); ok {
		if _, err := r.RegisterCounter(name, slices.Sorted(maps.Keys(tags)), s.help); err != nil {
			r.onError(fmt.Errorf("%s: %w", name, err))
		}
	}
	return r.Reporter.AllocateCounter(name, tags)
}

func (r *reporter) AllocateTimer(name string, tags map[string]string) tally.CachedTimer {
	if s, ok := specFor(name); ok {
		opts := &tallyprom.RegisterTimerOptions{TimerType: tallyprom.HistogramTimerType, HistogramBuckets: s.buckets}
		if _, err := r.RegisterTimer(name, slices.Sorted(maps.Keys(tags)), s.help, opts); err != nil {
			r.onError(fmt.Errorf("%s: %w", name, err))
		}
	}
	return r.Reporter.AllocateTimer(name, tags)
}
