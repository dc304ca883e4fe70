package workflows

import (
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// TriggerEvacuation is Trigger.Source of a failover an evacuation started.
const TriggerEvacuation = "evacuation"

// evacuationWaiver is the change ID under which a failover first honours its parent evacuation's approval.
const evacuationWaiver = "evacuation-waiver"

// launch starts service i's failover as a child (or refuses it when its plan changed since the evacuation began).
func (e *evacuation) launch(ctx workflow.Context, i int) {
	s := &e.svc[i]
	e.started++
	lp, ok := e.plans[s.File]
	if !ok {
		e.loadPlans(ctx, i)
		lp = e.plans[s.File]
	}
	delete(e.plans, s.File)
	switch {
	case lp.Error != "":
		e.done(ctx, i, Refused, "", fmt.Sprintf("its plan %s no longer loads: %s", s.File, lp.Error), 0)
		return
	case lp.Hash != s.PlanHash:
		e.done(ctx, i, Refused, "", fmt.Sprintf("its plan %s changed since the evacuation started (hash %s, now %s): "+
			"fail it over on its own (starter start) or start a new evacuation", s.File, s.PlanHash, lp.Hash), 0)
		return
	case lp.Plan.Service != s.Service:
		e.done(ctx, i, Refused, "", fmt.Sprintf("its plan %s now plans service %q", s.File, lp.Plan.Service), 0)
		return
	}
	req := Request{Plan: lp.Plan, PlanHash: s.PlanHash, From: s.From, To: s.To, Kind: e.req.Kind, Force: e.req.Force,
		Trigger: Trigger{Source: TriggerEvacuation, By: e.id, FaultAt: e.req.Trigger.FaultAt, Evacuation: e.grant(),
			ReportToEvacuation: e.card.channel != ""}}
	s.State = ServiceRunning
	e.inflight++
	workflow.Go(ctx, func(ctx workflow.Context) { e.runChild(ctx, i, req) })
}

// grant is what the evacuation's approval gives its failovers: with approval.perService waive, the people who
// approved it (or none when its plan did); nil with keep, so each failover asks its own approvers.
func (e *evacuation) grant() *EvacuationGrant {
	if e.req.Approval.PerService != "waive" {
		return nil
	}
	g := &EvacuationGrant{ID: e.id}
	for _, a := range e.carry.Approvals {
		if a.For == DecideEvacuation && a.Decision == ApproveUpdate {
			g.ApprovedBy = append(g.ApprovedBy, a.personOrBy())
		}
	}
	return g
}

// loadPlans reads the plans of the wave's next waiting services, from service i on, in one activity.
func (e *evacuation) loadPlans(ctx workflow.Context, i int) {
	batch := activities.PlanBatch{Dir: e.req.PlansDir}
	for j := i; j < len(e.svc) && len(batch.Files) < planBatch; j++ {
		if e.svc[j].Wave != e.svc[i].Wave {
			break
		}
		if e.svc[j].State == ServiceWaiting {
			batch.Files = append(batch.Files, e.svc[j].File)
		}
	}
	var loaded []activities.LoadedPlan
	err := workflow.ExecuteActivity(readingPlans(ctx), a.LoadPlans, batch).Get(ctx, &loaded)
	if err != nil {
		for _, f := range batch.Files {
			e.plans[f] = activities.LoadedPlan{File: f, Error: fmt.Sprintf("reading %s: %v", e.req.PlansDir, err)}
		}
		return
	}
	for _, lp := range loaded {
		e.plans[lp.File] = lp
	}
	for _, f := range batch.Files {
		if _, ok := e.plans[f]; !ok {
			e.plans[f] = activities.LoadedPlan{File: f, Error: "not read"}
		}
	}
}

// runChild runs one service's failover as the evacuation's child and records its outcome. When failover-<service>
// is running already (a person or an alert started it), Temporal refuses the child, and the evacuation waits for
// that run instead: one failover per service, never two.
func (e *evacuation) runChild(ctx workflow.Context, i int, req Request) {
	s := &e.svc[i]
	id := WorkflowID(s.Service)
	opts := workflow.ChildWorkflowOptions{
		WorkflowID:          id,
		TaskQueue:           TaskQueue,
		WorkflowTaskTimeout: WorkflowTaskTimeout,
		// A failover outlives the run that started it (continue-as-new, a terminated evacuation): never cut it off.
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WaitForCancellation:   true,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         fmt.Sprintf("%s %s: %s → %s (%s)", req.Kind, s.Service, s.From, s.To, e.id),
		StaticDetails:         fmt.Sprintf("plan %s, started by evacuation %s (wave %s)", s.PlanHash, e.id, e.req.Waves[s.Wave].Name),
		TypedSearchAttributes: temporal.NewSearchAttributes(ServiceKey.ValueSet(s.Service), FromKey.ValueSet(s.From),
			ToKey.ValueSet(s.To), StepKey.ValueSet(StepStart)),
	}
	child := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(e.children, opts), Failover, req)
	// Settled results are read with a context that the evacuation's abort does not cancel: the outcome still counts.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	var exec workflow.Execution
	if err := child.GetChildWorkflowExecution().Get(dctx, &exec); err != nil {
		if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			e.join(ctx, i)
			return
		}
		e.done(ctx, i, Errored, "", fmt.Sprintf("could not start %s: %v", id, err), 0)
		return
	}
	s.RunID = exec.RunID
	var res Result
	if err := child.Get(dctx, &res); err != nil {
		e.done(ctx, i, Errored, "", fmt.Sprintf("%s ended without an outcome: %v: see its history", id, err), 0)
		return
	}
	e.done(ctx, i, res.Outcome, lastStep(res.Steps), res.Reason, res.RTOSeconds)
}

// join waits for the failover of service i that someone else started, and records how it ended.
func (e *evacuation) join(ctx workflow.Context, i int) {
	s := &e.svc[i]
	s.State = ServiceJoined
	id := WorkflowID(s.Service)
	var run activities.JoinedRun
	err := workflow.ExecuteActivity(heartbeating(ctx, "await running "+id, joinLimit), a.AwaitFailover, id).Get(ctx, &run)
	s.RunID = run.RunID
	switch {
	case err != nil:
		e.done(ctx, i, Errored, "", fmt.Sprintf("joined the running %s and stopped waiting for it: %v", id, err), 0)
	case run.Error != "":
		e.done(ctx, i, Errored, run.LastStep, fmt.Sprintf("joined the running %s (run %s), which ended without an outcome: %s",
			id, run.RunID, run.Error), 0)
	default:
		e.done(ctx, i, run.Outcome, run.LastStep, fmt.Sprintf("joined the running %s (run %s): %s", id, run.RunID, run.Reason),
			run.RTOSeconds)
	}
}

func lastStep(steps []StepRecord) Step {
	if len(steps) == 0 {
		return ""
	}
	return steps[len(steps)-1].Name
}

// done records service i's outcome and applies the blast radius.
func (e *evacuation) done(ctx workflow.Context, i int, outcome Outcome, step Step, reason string, rto float64) {
	s := &e.svc[i]
	if s.State == ServiceRunning || s.State == ServiceJoined {
		e.inflight--
	}
	s.State, s.Outcome, s.Step, s.Reason, s.RTOSeconds = ServiceDone, outcome, step, reason, rto
	if s.Failed() {
		e.failed++
		e.waveFailed[s.Wave]++
		e.replyFailed(ctx, i)
		e.checkBlastRadius(ctx, s.Wave)
	}
	e.publish(ctx)
}

// checkBlastRadius holds the evacuation (no new failover starts; those running go on) once more services failed
// since the last resume than the plan's blast radius allows.
func (e *evacuation) checkBlastRadius(ctx workflow.Context, wave int) {
	br := e.req.BlastRadius
	if e.carry.Held != "" {
		return
	}
	failed := e.failed - e.carry.Rearmed
	waveFailed := e.waveFailed[wave] - e.carry.RearmedWave[wave]
	pct := 100 * float64(waveFailed) / float64(max(e.waveSize[wave], 1))
	switch {
	case br.MaxFailed > 0 && failed > br.MaxFailed:
		e.carry.Held = fmt.Sprintf("%d services failed, more than blastRadius.maxFailed %d", failed, br.MaxFailed)
	case br.MaxFailedPercent > 0 && pct > br.MaxFailedPercent:
		e.carry.Held = fmt.Sprintf("%d of wave %s's %d services failed (%.0f%%), more than blastRadius.maxFailedPercent %g",
			waveFailed, e.req.Waves[wave].Name, e.waveSize[wave], pct, br.MaxFailedPercent)
	default:
		return
	}
	e.carry.Held += ": no new failover starts; `starter resume " + e.id + "` goes on, `starter abort " + e.id + "` stops"
	e.setStep(ctx, StepHeld)
	e.recordHeld(ctx)
}

// approvedByEvacuation reports whether the failover's parent evacuation approved it (approval.perService waive),
// and why. The grant in the request counts only when the evacuation it names is this run's parent workflow, which
// Temporal records from the parent's own command: a client that starts failover-<service> with a grant written
// into its request has no parent, and its failover asks its own approvers. A failback, or a failover the front
// door sent to people, also needs people: the evacuation's approvers, not its plan's mode auto.
func (f *failover) approvedByEvacuation(ctx workflow.Context) (string, bool) {
	g := f.req.Trigger.Evacuation
	if g == nil {
		return "", false
	}
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	if parent == nil || parent.ID != g.ID || (len(g.ApprovedBy) == 0 && !f.mayApproveAlone()) {
		return "", false
	}
	workflow.GetVersion(ctx, evacuationWaiver, workflow.DefaultVersion, 1) // marks runs an evacuation approved
	if len(g.ApprovedBy) == 0 {
		return fmt.Sprintf("approved with evacuation %s by its plan (approval.mode auto)", g.ID), true
	}
	return fmt.Sprintf("approved with evacuation %s by %s", g.ID, strings.Join(g.ApprovedBy, ", ")), true
}
