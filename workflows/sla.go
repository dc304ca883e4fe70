package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// rpoAtCutover is the workflow.GetVersion change ID of the replication-lag sample taken at the cutover: runs
// started before it never sampled it, and report their RPO as unknown.
const rpoAtCutover = "rpo-at-cutover"

// CheckRPO names the replication-lag sample taken at the cutover in Status.Checks, the audit log and metrics.
const CheckRPO = "rpo-at-cutover"

// SLA verdicts.
const (
	SLAMet      = "met"      // every objective the plan declares was measured and kept
	SLABreached = "breached" // at least one objective was missed (Breaches says which and by how much)
	SLAUnknown  = "unknown"  // nothing breached, but an objective could not be measured (no RPO sample)
)

// Breach kinds: the kind label of failover_sla_breaches_total.
const (
	BreachRTO = "rto"
	BreachRPO = "rpo"
)

// SLAVerdict is a run judged against its plan's sla. The RPO estimate is the target's replication lag (the plan's
// readiness.lagQuery) sampled just before the cutover writes etcd: the data the target had not yet received when
// it became the active region. The RTO is judged only when the run recovered or failed to: a succeeded run breaches
// when its RTO exceeds sla.rto; a run that could not recover (not-ready, timed-out, fenced, rolled-back,
// failed-needs-human) breaches it outright; a run nobody needed or that a person stopped (not-needed,
// source-recovered, rejected, aborted, cancelled) is not judged on RTO.
type SLAVerdict struct {
	Verdict string `json:"verdict"`
	// RTOObjectiveSeconds and RPOObjectiveSeconds are the plan's sla (0: no objective).
	RTOObjectiveSeconds float64 `json:"rto_objective_seconds,omitempty"`
	RPOObjectiveSeconds float64 `json:"rpo_objective_seconds,omitempty"`
	// Breaches are the missed objectives, each a kind (BreachRTO, BreachRPO) and what was measured.
	Breaches []SLABreach `json:"breaches,omitempty"`
	// Unmeasured names objectives that could not be judged, and why.
	Unmeasured []string `json:"unmeasured,omitempty"`
}

// SLABreach is one missed objective.
type SLABreach struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// BreachKinds lists the kinds of the breaches, in order.
func (v *SLAVerdict) BreachKinds() []string {
	if v == nil {
		return nil
	}
	var kinds []string
	for _, b := range v.Breaches {
		kinds = append(kinds, b.Kind)
	}
	return kinds
}

// String is the verdict in one line, for reports, Slack and the audit log.
func (v *SLAVerdict) String() string {
	if v == nil {
		return "no SLA in the plan"
	}
	var parts []string
	for _, b := range v.Breaches {
		parts = append(parts, b.Kind+" breached: "+b.Detail)
	}
	parts = append(parts, v.Unmeasured...)
	if len(parts) == 0 {
		return fmt.Sprintf("SLA met (rto ≤ %s, rpo ≤ %s)", objective(v.RTOObjectiveSeconds), objective(v.RPOObjectiveSeconds))
	}
	return "SLA " + v.Verdict + ": " + strings.Join(parts, "; ")
}

func objective(s float64) string {
	if s == 0 {
		return "none"
	}
	return fmt.Sprintf("%gs", s)
}

// RPOString renders an RPO estimate: seconds, or unknown.
func RPOString(rpo *float64) string {
	if rpo == nil {
		return "unknown"
	}
	return fmt.Sprintf("%.3gs", *rpo)
}

// noRecovery are the outcomes in which the service did not recover on the target: an RTO breach whatever the time.
var noRecovery = []Outcome{NotReady, TimedOut, Fenced, RolledBack, FailedNeedsHuman}

// JudgeSLA judges a run's outcome, RTO and RPO estimate (nil: unknown) against sla; nil when the plan has no SLA.
func JudgeSLA(sla *plan.SLA, outcome Outcome, rtoSeconds float64, rpoSeconds *float64) *SLAVerdict {
	if sla == nil {
		return nil
	}
	v := &SLAVerdict{RTOObjectiveSeconds: sla.RTO.Seconds(), RPOObjectiveSeconds: sla.RPO.Seconds()}
	if sla.RTO > 0 {
		switch {
		case outcome == Succeeded && rtoSeconds > sla.RTO.Seconds():
			v.Breaches = append(v.Breaches, SLABreach{BreachRTO, fmt.Sprintf("RTO %.1fs > %s", rtoSeconds, sla.RTO)})
		case slices.Contains(noRecovery, outcome):
			v.Breaches = append(v.Breaches, SLABreach{BreachRTO, fmt.Sprintf("no recovery (outcome %s), objective %s", outcome, sla.RTO)})
		}
	}
	if sla.RPO > 0 {
		switch {
		case rpoSeconds == nil && outcome == Succeeded:
			v.Unmeasured = append(v.Unmeasured, "rpo unknown: the replication lag was not sampled at the cutover")
		case rpoSeconds != nil && *rpoSeconds > sla.RPO.Seconds():
			v.Breaches = append(v.Breaches, SLABreach{BreachRPO, fmt.Sprintf("RPO %s > %s", RPOString(rpoSeconds), sla.RPO)})
		}
	}
	switch {
	case len(v.Breaches) > 0:
		v.Verdict = SLABreached
	case len(v.Unmeasured) > 0:
		v.Verdict = SLAUnknown
	default:
		v.Verdict = SLAMet
	}
	return v
}

// sampleRPO samples the target's replication lag just before the cutover writes etcd: the run's RPO estimate.
// Without readiness.lagQuery (or when the query has no answer) the RPO stays unknown.
func (f *failover) sampleRPO(ctx workflow.Context) {
	if f.legacy || workflow.GetVersion(ctx, rpoAtCutover, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	r := f.plan.Readiness
	if r.LagQuery == "" {
		return
	}
	q := plan.Query{Expr: r.LagQuery, Condition: fmt.Sprintf("<= %g", r.MaxReplicationLag.Seconds())}
	res := f.query(ctx, CheckRPO, f.plan.Regions[f.req.To].PrometheusURL, q, f.req.To)
	f.status.Checks = append(f.status.Checks, res)
	f.emit(ctx, activities.Event{Type: activities.EventCheck, Step: f.status.Step, Target: res.Name, Result: string(res.Verdict), Detail: res.Detail})
	if res.Verdict == activities.Inconclusive {
		f.status.Evidence = append(f.status.Evidence, "RPO unknown: "+res.Detail)
		return
	}
	rpo := res.Value
	f.status.RPOSeconds = &rpo
}

// judgeSLA judges the finished run against the plan's SLA and counts its RPO and breaches.
func (f *failover) judgeSLA(ctx workflow.Context, outcome Outcome) {
	f.status.SLA = JudgeSLA(f.plan.SLA, outcome, f.status.RTOSeconds, f.status.RPOSeconds)
	h := workflow.GetMetricsHandler(ctx)
	if f.status.RPOSeconds != nil {
		h.WithTags(map[string]string{"service": f.plan.Service}).
			Timer(metricRPO).Record(time.Duration(*f.status.RPOSeconds * float64(time.Second)))
	}
	for _, kind := range f.status.SLA.BreachKinds() {
		h.WithTags(map[string]string{"service": f.plan.Service, "kind": kind}).Counter(metricSLABreaches).Inc(1)
	}
}

// slaLine is the verdict for events: empty without an SLA.
func slaLine(v *SLAVerdict) string {
	if v == nil {
		return ""
	}
	return v.String()
}
