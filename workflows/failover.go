package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// a names activities for ExecuteActivity; the worker registers the real, configured instance.
var a *activities.Activities

// Failover moves one service from one region to another, or back (Kind failback):
//
//	detect → readiness → approve → cutover (etcd) → reroute (Kong) → warm up → verify
//
// Nothing changes before cutover. From cutover on, each change registers its undo before it is made; a failed step
// rolls back in reverse per the plan's rollback policy. Every run ends with one outcome that tells the truth (see
// Outcomes in request.go). A cancel before the cutover ends the run as cancelled; after it, the rollback runs.
func Failover(ctx workflow.Context, req Request) (Result, error) {
	f := &failover{req: req, plan: req.Plan, info: workflow.GetInfo(ctx)}
	f.legacy = workflow.GetVersion(ctx, truthfulOutcomes, workflow.DefaultVersion, 1) == workflow.DefaultVersion
	f.cheap = !f.legacy && workflow.GetVersion(ctx, costPerFailover, workflow.DefaultVersion, 1) == 1
	f.reportTo = f.evacuationThread(ctx)
	f.lean = f.cheap && workflow.GetVersion(ctx, scalePerFailover, workflow.DefaultVersion, 1) == 1
	f.localReads = f.lean && workflow.GetVersion(ctx, localReads, workflow.DefaultVersion, 1) == 1
	if err := f.start(ctx); err != nil {
		return Result{}, err
	}
	f.holdDrillSchedules(ctx) // paused while this run is open, resumed by finish (drillpause.go)

	if s := f.detect(ctx); s != nil {
		return f.finish(ctx, f.orCancelled(ctx, s))
	}
	if s := f.readiness(ctx); s != nil {
		return f.finish(ctx, f.orCancelled(ctx, s))
	}
	if s := f.approve(ctx); s != nil {
		return f.finish(ctx, f.orCancelled(ctx, s))
	}
	if s := f.recovered(ctx); s != nil {
		return f.finish(ctx, s)
	}
	if s := f.orCancelled(ctx, nil); s != nil {
		return f.finish(ctx, s)
	}
	if s := f.checkpoint(ctx); s != nil { // an operator's pause holds here, an abort ends the run unchanged
		return f.finish(ctx, s)
	}
	if s := f.cutover(ctx); s != nil {
		return f.fail(ctx, s)
	}
	if s := f.checkpoint(ctx); s != nil { // from here on an abort rolls back
		return f.fail(ctx, s)
	}
	if s := f.reroute(ctx); s != nil {
		return f.fail(ctx, s)
	}
	if s := f.checkpoint(ctx); s != nil {
		return f.fail(ctx, s)
	}
	if s := f.warmup(ctx); s != nil {
		return f.fail(ctx, s)
	}
	if s := f.checkpoint(ctx); s != nil {
		return f.fail(ctx, s)
	}
	if s := f.verify(ctx); s != nil {
		return f.fail(ctx, s)
	}
	if s := f.checkpoint(ctx); s != nil {
		return f.fail(ctx, s)
	}
	return f.finish(ctx, &stop{Succeeded, fmt.Sprintf("traffic verified on %s", req.To)})
}

// failover is one run's state; the status query reads it.
type failover struct {
	req  Request
	plan plan.Plan
	info *workflow.Info
	// legacy is set for runs the first release started: they replay its commands (legacy.go).
	legacy bool
	// cheap is set for runs that publish events and read etcd and Kong with fewer round trips (cost.go).
	cheap bool
	// lean is set for runs that skip Notify nobody hears and search-attribute writes nobody sees (scale.go).
	lean bool
	// localReads is set for runs whose single-attempt probes, Kong preflight and first wait for acks are local
	// activities (latency.go).
	localReads bool
	// unheard is set once Notify found no publisher that wants this run's events (lean runs): no more Notify.
	unheard bool
	status  Status
	// undo holds the compensations for what was changed, in order of change.
	undo []undoStep
	// pastNoReturn is set once the plan's point-of-no-return step has started.
	pastNoReturn bool
	active       activities.ActiveState
	weights      []activities.TargetWeight
	cut          activities.CutoverResult
	// changesBegan is set when the cutover is attempted; a resolved alert after it is only recorded.
	changesBegan bool
	// abortedBy is the operator who aborted the run (AbortUpdate); it ends at the next checkpoint.
	abortedBy       string
	sourceRecovered bool
	// unrecordedSourceFiring is set when a firing alert about the source arrived past MaxAlertStates.
	unrecordedSourceFiring bool
	// Events queue for the audit and notify coroutines (events.go); legacy runs use one channel.
	seq               int
	toAudit, toNotify []activities.Event
	closing           bool
	audited, notified bool
	threadRef         string
	// reportTo is the evacuation whose Slack thread gets this run's decisions, instead of a card (evacuation_thread.go).
	reportTo     string
	events       workflow.Channel
	legacyAlerts []Alert

	// drills is this run's hold on its service's drill schedules (drillpause.go).
	drills drillHold

	// kong is what readiness learned about Kong: how the reroute changes it, and its config hash (DB-less).
	kong activities.KongPreflightResult
}

// stop ends the workflow early with an outcome.
type stop struct {
	Outcome Outcome
	Reason  string
}

// start registers the query and updates (before anything blocks) and validates the request.
func (f *failover) start(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	f.status = Status{Kind: f.req.Kind, Service: f.plan.Service, From: f.req.From, To: f.req.To, PlanHash: f.req.PlanHash,
		Trigger: f.req.Trigger, Approval: f.req.Plan.Approval, Step: StepStart, StartedAt: now, FaultAt: f.req.Trigger.FaultAt}
	if f.status.FaultAt.IsZero() {
		f.status.FaultAt = now
	}
	query := func() (Status, error) {
		st := f.status
		if st.Outcome == "" {
			st.RTOSeconds = workflow.Now(ctx).Sub(st.FaultAt).Seconds()
		}
		return st, nil
	}
	if err := workflow.SetQueryHandler(ctx, StatusQuery, query); err != nil {
		return fmt.Errorf("register status query: %w", err)
	}
	if err := f.registerDecisions(ctx); err != nil {
		return err
	}
	if err := f.registerControls(ctx); err != nil {
		return err
	}
	f.startPublishers(ctx)
	f.listenForAlerts(ctx)
	if err := f.req.checkRun(); err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad failover request: %v", err), "BadRequest", nil)
	}
	f.emit(ctx, activities.Event{Type: activities.EventStarted, Actor: f.req.Trigger.By, Via: f.req.Trigger.Source,
		Detail: fmt.Sprintf("%s of %s from %s to %s (plan %s)", f.req.Kind, f.plan.Service, f.req.From, f.req.To, f.req.PlanHash)})
	if f.lean && f.startAttributesSet(ctx) {
		return nil
	}
	return workflow.UpsertTypedSearchAttributes(ctx,
		ServiceKey.ValueSet(f.plan.Service), FromKey.ValueSet(f.req.From), ToKey.ValueSet(f.req.To), StepKey.ValueSet(StepStart))
}

// detect confirms the source region's outage (N consecutive failed probes and/or a Prometheus query), so a
// flapping alert never fails a healthy region over. A failback instead requires the original region (the target)
// to have been healthy for the plan's hold-down window.
func (f *failover) detect(ctx workflow.Context) *stop {
	if f.req.Kind == KindFailback {
		return f.holdDown(ctx)
	}
	f.begin(ctx, StepDetect)
	src := f.plan.Regions[f.req.From]
	d := f.plan.Detection
	var probed, queried *bool
	if probes := f.detectProbes(ctx); probes > 0 {
		var res activities.ProbeResult
		err := f.probe(ctx, fmt.Sprintf("probe %s %d times", f.req.From, probes),
			time.Duration(probes)*(d.ProbeInterval+d.ProbeTimeout)+10*time.Second, activities.ProbeInput{
				URL: src.HealthURL, GRPC: src.GRPC, Attempts: probes, Interval: d.ProbeInterval, Timeout: d.ProbeTimeout, Expect: "down"}).Get(ctx, &res)
		if err != nil {
			return f.stepFailed(ctx, NotNeeded, "could not probe the source: %v", err)
		}
		f.status.Evidence = append(f.status.Evidence, res.Evidence...)
		probed = &res.Confirmed
	}
	if d.Query != nil {
		res := f.query(ctx, "detection", src.PrometheusURL, *d.Query, f.req.From)
		f.status.Evidence = append(f.status.Evidence, res.String())
		confirmed := res.Verdict == activities.Pass
		queried = &confirmed
	}
	down := confirmedDown(d.Require, probed, queried)
	switch {
	case down:
		f.end(ctx, ResultOK, fmt.Sprintf("%s is down", f.req.From))
	case f.req.Force:
		f.end(ctx, ResultOK, fmt.Sprintf("%s looks healthy; forced by %s", f.req.From, f.req.Trigger.By))
	default:
		return f.stepFailed(ctx, NotNeeded, "%s is not confirmed down (%d probe results, require %s); use --force to fail over anyway",
			f.req.From, len(f.status.Evidence), d.Require)
	}
	return nil
}

// confirmedDown combines the probe and query verdicts; nil means that signal is not configured.
func confirmedDown(require string, probed, queried *bool) bool {
	var signals []bool
	for _, s := range []*bool{probed, queried} {
		if s != nil {
			signals = append(signals, *s)
		}
	}
	some, all := false, len(signals) > 0
	for _, s := range signals {
		some = some || s
		all = all && s
	}
	if require == plan.RequireAll {
		return all
	}
	return some
}

// holdDown requires the failback's target (the original region) to answer every probe during the hold-down.
func (f *failover) holdDown(ctx workflow.Context) *stop {
	f.begin(ctx, StepHoldDown)
	fb := f.plan.Failback
	attempts := int(fb.HoldDown/fb.ProbeInterval) + 1
	var res activities.ProbeResult
	actx := heartbeating(ctx, fmt.Sprintf("%s healthy for %s", f.req.To, fb.HoldDown),
		fb.HoldDown+time.Duration(attempts)*f.plan.Detection.ProbeTimeout+time.Minute)
	err := workflow.ExecuteActivity(actx, a.ProbeHealth, activities.ProbeInput{URL: f.plan.Regions[f.req.To].HealthURL,
		GRPC: f.plan.Regions[f.req.To].GRPC, Attempts: attempts, Interval: fb.ProbeInterval, Timeout: f.plan.Detection.ProbeTimeout, Expect: "up"}).Get(ctx, &res)
	if err != nil {
		return f.stepFailed(ctx, NotReady, "hold-down probes of %s: %v", f.req.To, err)
	}
	if !res.Confirmed {
		return f.stepFailed(ctx, NotReady, "%s was not healthy for the whole hold-down of %s: %s",
			f.req.To, fb.HoldDown, res.Evidence[len(res.Evidence)-1])
	}
	f.end(ctx, ResultOK, fmt.Sprintf("%s healthy for %s (%d probes)", f.req.To, fb.HoldDown, res.Probes))
	return nil
}

// readiness checks the target before anything changes: health, capacity, replication lag (RPO), and reads the
// etcd key and Kong weights that the cutover and reroute will be fenced on and restored to.
func (f *failover) readiness(ctx workflow.Context) *stop {
	f.begin(ctx, StepReadiness)
	to := f.plan.Regions[f.req.To]
	health := f.probe(ctx, "probe "+f.req.To, 15*time.Second,
		activities.ProbeInput{URL: to.HealthURL, GRPC: to.GRPC, Attempts: 1, Timeout: f.plan.Detection.ProbeTimeout, Expect: "up"})
	active := f.read(ctx, "read "+f.plan.Etcd.ActiveKey, a.ReadActive, f.plan.Etcd.ActiveKey)
	var weights workflow.Future // a service switch moves no weights: the preflight reads the service instead
	if !f.plan.Kong.SwitchesService() {
		weights = f.read(ctx, "read weights of "+f.plan.Kong.Upstream, a.ReadWeights, f.plan.Kong.Upstream)
	}
	kongPreflight := f.kongPreflight(ctx)
	r := f.plan.Readiness
	var checks []plan.Check
	if r.LagQuery != "" {
		checks = append(checks, plan.Check{Name: "replication-lag", Prometheus: &plan.Query{Expr: r.LagQuery, Condition: fmt.Sprintf("<= %g", r.MaxReplicationLag.Seconds())}})
	}
	if r.ReadyQuery != "" {
		checks = append(checks, plan.Check{Name: "capacity", Prometheus: &plan.Query{Expr: r.ReadyQuery, Condition: fmt.Sprintf(">= %d", r.MinReadyInstances)}})
	}
	var problems []string
	for _, res := range f.runChecks(ctx, checks) {
		if res.Verdict != activities.Pass {
			problems = append(problems, res.String())
		}
	}
	var probe activities.ProbeResult
	if err := health.Get(ctx, &probe); err != nil || !probe.Confirmed {
		problems = append(problems, fmt.Sprintf("%s health: %v %v", f.req.To, probe.Evidence, err))
	}
	if err := active.Get(ctx, &f.active); err != nil {
		problems = append(problems, fmt.Sprintf("read %s: %v", f.plan.Etcd.ActiveKey, err))
	} else {
		f.status.EtcdBefore = &f.active
		if f.active.Exists && f.active.Value.Region == f.req.To {
			return f.stepFailed(ctx, NotNeeded, "%s is already the active region (epoch %d)", f.req.To, f.active.Value.Epoch)
		}
		if f.active.Exists && f.active.Value.Region != f.req.From {
			problems = append(problems, fmt.Sprintf("%s says the active region is %s, not %s: check the plan or start from %s",
				f.plan.Etcd.ActiveKey, f.active.Value.Region, f.req.From, f.active.Value.Region))
		}
	}
	if weights != nil { // nil for a service switch: the Kong preflight checks the service
		problems = append(problems, f.readyWeights(ctx, weights)...)
	}
	problems = append(problems, f.kongReady(ctx, kongPreflight)...)
	if len(problems) > 0 {
		return f.stepFailed(ctx, NotReady, "%s is not ready: %v", f.req.To, problems)
	}
	f.end(ctx, ResultOK, fmt.Sprintf("%s healthy; etcd revision %d; weights %v", f.req.To, f.active.ModRevision, f.weights))
	return nil
}

// readyWeights reads the upstream's weights before the failover (what a rollback restores) and names a region
// without its target.
func (f *failover) readyWeights(ctx workflow.Context, weights workflow.Future) []string {
	if err := weights.Get(ctx, &f.weights); err != nil {
		return []string{fmt.Sprintf("read Kong upstream %s: %v", f.plan.Kong.Upstream, err)}
	}
	f.status.KongBefore = f.weights
	var problems []string
	for _, region := range []string{f.req.From, f.req.To} {
		if _, ok := weightOf(f.weights, f.plan.Regions[region].KongTarget); !ok {
			problems = append(problems, fmt.Sprintf("Kong upstream %s has no target %s for %s", f.plan.Kong.Upstream, f.plan.Regions[region].KongTarget, region))
		}
	}
	return problems
}

// approve waits for the plan's approvers (Temporal Update approve/reject from the CLI, Slack or the Web UI)
// unless the plan auto-approves. A failback always needs people, except a drill's under drill.failback auto.
func (f *failover) approve(ctx workflow.Context) *stop {
	f.beginQuietly(ctx, StepApprove)
	ap := f.plan.Approval
	if f.req.Trigger.RequireApproval {
		f.recordPolicy(ctx, DecideFailover, "require-approval", f.req.Trigger.RequireReason)
	}
	if why, ok := f.approvedByEvacuation(ctx); ok {
		f.recordPolicy(ctx, DecideFailover, "evacuation-approved", why)
		f.end(ctx, ResultOK, why)
		return nil
	}
	if why, ok := f.approvedByDrillPolicy(ctx); ok {
		f.recordPolicy(ctx, DecideFailover, DecisionDrillFailbackPolicy, why)
		f.end(ctx, ResultOK, why)
		return nil
	}
	if f.mayApproveAlone() {
		if ap.Mode == plan.ApprovalAuto {
			f.recordPolicy(ctx, DecideFailover, "auto-approve", "approval.mode is auto")
			f.end(ctx, ResultOK, "auto-approved by the plan")
			return nil
		}
		if f.req.Trigger.Severity != "" && slices.Contains(ap.AutoApproveSeverities, f.req.Trigger.Severity) {
			f.recordPolicy(ctx, DecideFailover, "auto-approve", "alert severity "+f.req.Trigger.Severity)
			f.end(ctx, ResultOK, "auto-approved: severity "+f.req.Trigger.Severity)
			return nil
		}
	}
	f.show(ctx) // it waits for people: FailoverStep=approve lists it
	question := fmt.Sprintf("%s %s from %s to %s?", f.req.Kind, f.plan.Service, f.req.From, f.req.To) + f.gitopsReminder()
	decision := f.decide(ctx, DecideFailover, question, ap.Quorum, ap.Timeout)
	if f.cancelRequested(ctx) {
		return f.stepFailed(ctx, Cancelled, "cancelled while waiting for a decision")
	}
	if f.abortedBy != "" {
		return f.stepFailed(ctx, Aborted, "aborted by %s while waiting for a decision: nothing was changed", f.abortedBy)
	}
	// No decision in time: page the escalation group (when the plan names one) and wait once more, then apply
	// the plan's on-timeout action.
	if decision == "" && ap.EscalateTo != "" && !f.sourceRecovered {
		f.escalate(ctx, fmt.Sprintf("%s has waited %s for approval: %s", f.info.WorkflowExecution.ID, ap.Timeout, question))
		f.recordPolicy(ctx, DecideFailover, "escalate", "no decision in "+ap.Timeout.String()+"; paged "+ap.EscalateTo)
		decision = f.decide(ctx, DecideFailover, question, ap.Quorum, ap.Timeout)
		if f.cancelRequested(ctx) {
			return f.stepFailed(ctx, Cancelled, "cancelled while waiting for a decision")
		}
		if f.abortedBy != "" {
			return f.stepFailed(ctx, Aborted, "aborted by %s while waiting for a decision: nothing was changed", f.abortedBy)
		}
	}
	switch {
	case f.sourceRecovered:
		return f.recovered(ctx)
	case decision == ApproveUpdate:
		f.end(ctx, ResultOK, "approved")
		return nil
	case decision == RejectUpdate:
		return f.stepFailed(ctx, Rejected, "rejected by %s", f.lastVoter())
	case ap.OnTimeout == plan.OnTimeoutApprove && (f.legacy || f.mayApproveAlone()):
		f.recordPolicy(ctx, DecideFailover, "auto-approve", "no decision in "+ap.Timeout.String())
		f.end(ctx, ResultOK, "approved by the plan after "+ap.Timeout.String())
		return nil
	case ap.OnTimeout == plan.OnTimeoutApprove:
		return f.stepFailed(ctx, TimedOut, "no decision within %s; approval.onTimeout approve does not apply: this %s needs a person",
			ap.Timeout, f.needsPersonBecause())
	}
	return f.stepFailed(ctx, TimedOut, "no decision within %s", ap.Timeout)
}

// mayApproveAlone: the plan may approve a failover without people (mode auto, severities, onTimeout approve),
// but never a failback, nor a failover that the front door sent to people (inside a cooldown).
func (f *failover) mayApproveAlone() bool {
	return f.req.Kind == KindFailover && !f.req.Trigger.RequireApproval
}

func (f *failover) needsPersonBecause() string {
	if f.req.Kind == KindFailback {
		return "failback"
	}
	return "failover (" + f.req.Trigger.RequireReason + ")"
}

// cancelRequested reports a Temporal cancel request (legacy runs ignored it).
func (f *failover) cancelRequested(ctx workflow.Context) bool {
	return !f.legacy && ctx.Err() != nil
}

// orCancelled turns a stop before the cutover into outcome cancelled when a cancel request caused it: the
// activities and timers of a cancelled run fail, which must not read as a verdict about the regions.
func (f *failover) orCancelled(ctx workflow.Context, s *stop) *stop {
	if !f.cancelRequested(ctx) {
		return s
	}
	return &stop{Cancelled, fmt.Sprintf("cancelled at step %s, before the cutover: nothing was changed", f.status.Step)}
}

func (f *failover) lastVoter() string {
	if n := len(f.status.Approvals); n > 0 {
		return f.status.Approvals[n-1].By
	}
	return "?"
}

func (f *failover) escalate(ctx workflow.Context, text string) {
	f.emit(ctx, activities.Event{Type: activities.EventEscalation, Step: f.status.Step, Detail: text})
}
