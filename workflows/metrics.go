package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// Metrics go through the SDK's metrics handler, which the worker exports to Prometheus; the SDK drops them while
// replaying, so each is counted once.
const (
	metricFailovers    = "failover_total"                 // by service, kind, outcome
	metricRTO          = "failover_rto_seconds"           // by service
	metricStep         = "failover_step_duration_seconds" // by service, step, result
	metricApprovalWait = "failover_approval_wait_seconds" // by service, decision kind
	metricChecks       = "failover_check_results_total"   // by service, check, verdict
	metricRPO          = "failover_rpo_seconds"           // by service: replication lag sampled at the cutover
	metricSLABreaches  = "failover_sla_breaches_total"    // by service, kind (rto, rpo)
	// metricDropped is also counted by the Notify activity, per event and publisher (activities.MetricEventsDropped);
	// here: whole batches the activity never delivered, and events still queued when the run closed.
	metricDropped = "failover_events_dropped_total" // by sink, reason
)

// Reasons the workflow itself gives up handing events to the publishers (sink "publishers").
const (
	dropActivityFailed = "notify-failed" // the Notify activity failed after its retries: the batch is lost to Slack
	dropDrainTimeout   = "drain-timeout" // still queued when the run closed after notifyDrain
	dropSink           = "publishers"    // the sink label of what the workflow itself drops
)

// countDropped counts n events the publishers never got; metrics are not commands, so this changes no history.
func (f *failover) countDropped(ctx workflow.Context, reason string, n int) {
	if n == 0 {
		return
	}
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"sink": dropSink, "reason": reason}).
		Counter(metricDropped).Inc(int64(n))
}

func (f *failover) countOutcome(ctx workflow.Context, outcome Outcome) {
	h := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"service": f.plan.Service, "kind": f.req.Kind, "outcome": outcome})
	h.Counter(metricFailovers).Inc(1)
	if outcome == Succeeded {
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"service": f.plan.Service}).
			Timer(metricRTO).Record(time.Duration(f.status.RTOSeconds * float64(time.Second)))
	}
}

func (f *failover) timeStep(ctx workflow.Context, s StepRecord) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"service": f.plan.Service, "step": s.Name, "result": s.Result}).
		Timer(metricStep).Record(s.Ended.Sub(s.Started))
}

func (f *failover) timeDecision(ctx workflow.Context, kind DecisionKind, waited time.Duration) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"service": f.plan.Service, "decision": kind}).
		Timer(metricApprovalWait).Record(waited)
}

func (f *failover) countCheck(ctx workflow.Context, check, verdict string) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"service": f.plan.Service, "check": check, "verdict": verdict}).
		Counter(metricChecks).Inc(1)
}
