package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// Evacuation moves every service of its schedule out of a region (or, kind failback, back into it), wave by wave:
//
//	[hold-down, a failback only] → approve (one decision for the whole evacuation) → wave 1 → wave 2 → … → outcome
//
// Each service fails over with its own Failover workflow, run as this workflow's child under the service's usual
// ID failover-<service>, so a service already failing over is joined (AwaitFailover), never doubled. A wave runs up
// to its concurrency of failovers at once; one failed service does not stop the others, but once the blast radius
// is exceeded no new failover starts until a person resumes or aborts. Each run starts at most ServicesPerRun
// failovers, waits for them, and continues as new with the progress, so its history stays small at any scale.
// Children are abandoned, not terminated, when a run closes: a failover is never cut off mid-change.
func Evacuation(ctx workflow.Context, req EvacuationRequest) (EvacuationResult, error) {
	e := newEvacuation(ctx, req)
	if err := e.start(ctx); err != nil {
		return EvacuationResult{}, err
	}
	if s, runFull := e.holdDown(ctx); s != nil || runFull { // a failback: the region proves itself first
		if runFull {
			return EvacuationResult{}, e.continueAsNew(ctx)
		}
		return e.finish(ctx, s)
	}
	if s := e.approve(ctx); s != nil {
		return e.finish(ctx, s)
	}
	for ; e.carry.Wave < len(req.Waves); e.carry.Wave++ {
		s, runFull := e.runWave(ctx)
		if s != nil {
			return e.finish(ctx, s)
		}
		if runFull {
			return EvacuationResult{}, e.continueAsNew(ctx)
		}
	}
	return e.finish(ctx, nil)
}

// EvacuationResult is what a finished evacuation returns.
type EvacuationResult struct {
	Outcome Outcome        `json:"outcome"`
	Reason  string         `json:"reason"`
	Counts  map[string]int `json:"counts"`
	// NotSucceeded lists the services that did not end succeeded or not-needed (at most MaxListedServices).
	NotSucceeded   []ServiceState `json:"not_succeeded,omitempty"`
	ElapsedSeconds float64        `json:"elapsed_seconds"`
	// HoldDown is a failback's hold-down: its rule, its resets, when it passed.
	HoldDown *HoldDownState `json:"hold_down,omitempty"`
}

// Evacuation outcomes besides Succeeded, Rejected, TimedOut, Aborted and Cancelled: every service has its own
// outcome, which tells the truth about that service.
const (
	// Incomplete: the evacuation ran to its end and some services did not succeed (NotSucceeded lists them).
	Incomplete Outcome = "incomplete"
)

// MaxListedServices caps EvacuationResult.NotSucceeded; the status query lists every service.
const MaxListedServices = 1000

// Evacuation steps (EvacuationStatus.Step and the FailoverStep search attribute of the evacuation).
const (
	StepWaves Step = "waves" // failovers run, wave by wave
	StepHeld  Step = "held"  // the blast radius was exceeded or an operator paused: nothing new starts
)

// DecideEvacuation is the pending decision of an evacuation: go ahead with every service's failover.
const DecideEvacuation DecisionKind = "approve-evacuation"

// evacuation is one run's state; the status query reads it.
type evacuation struct {
	req   EvacuationRequest
	id    string
	carry EvacuationCarry
	svc   []ServiceState
	step  Step
	// pending is the evacuation's decision while it waits for one.
	pending   *Pending
	abortedBy string
	outcome   Outcome
	reason    string
	// failed counts failed services, in all and per wave (ServiceState.Failed).
	failed     int
	waveFailed []int
	waveSize   []int
	inflight   int
	// started counts the failovers this run started or joined; at the run's limit it continues as new.
	started int
	// next is the index in svc from which to look for the next waiting service.
	next int
	// plans holds plans loaded ahead of their start (one activity per batch), dropped once started.
	plans          map[string]activities.LoadedPlan
	children       workflow.Context
	cancelChildren workflow.CancelFunc
	// card is the evacuation's Slack card (evacuation_slack.go).
	card evacuationCard
	// audit queues the evacuation's own audit records (evacuation_audit.go).
	audit evacuationAuditLog
}

func newEvacuation(ctx workflow.Context, req EvacuationRequest) *evacuation {
	e := &evacuation{req: req, id: workflow.GetInfo(ctx).WorkflowExecution.ID, svc: req.Services,
		plans: map[string]activities.LoadedPlan{}, waveFailed: make([]int, len(req.Waves)), waveSize: make([]int, len(req.Waves))}
	if req.Carry != nil {
		e.carry = *req.Carry
	} else {
		e.carry.StartedAt = workflow.Now(ctx)
	}
	if len(e.carry.RearmedWave) != len(req.Waves) {
		e.carry.RearmedWave = make([]int, len(req.Waves))
	}
	for _, s := range e.svc {
		if s.Wave >= 0 && s.Wave < len(req.Waves) {
			e.waveSize[s.Wave]++
			if s.Failed() {
				e.failed++
				e.waveFailed[s.Wave]++
			}
		}
	}
	e.children, e.cancelChildren = workflow.WithCancel(ctx)
	return e
}

// start registers the status query and the decision updates (before anything blocks) and checks the request.
func (e *evacuation) start(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, EvacuationStatusQuery, func() (EvacuationStatus, error) {
		return e.status(workflow.Now(ctx)), nil
	}); err != nil {
		return fmt.Errorf("register evacuation status query: %w", err)
	}
	if err := e.registerDecisions(ctx); err != nil {
		return err
	}
	e.startCard(ctx)
	if err := e.req.Validate(); err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad evacuation request: %v", err), "BadRequest", nil)
	}
	e.startAudit(ctx)
	e.recordStart(ctx)
	e.step = StepStart
	return workflow.UpsertTypedSearchAttributes(ctx, ServiceKey.ValueSet(e.id), FromKey.ValueSet(e.req.Region),
		StepKey.ValueSet(StepStart))
}

// approve asks for the one decision of the whole evacuation (or the evacuation plan approves it), unless an
// earlier run of this evacuation got it.
func (e *evacuation) approve(ctx workflow.Context) *stop {
	if e.carry.Approved {
		return nil
	}
	e.setStep(ctx, StepApprove)
	ap := e.req.Approval
	if ap.Mode == plan.ApprovalAuto && e.req.Kind == KindFailover {
		e.recordPolicy(ctx, "auto-approve", "approval.mode is auto")
		e.approved(ctx)
		return nil
	}
	question := fmt.Sprintf("%s: %s of %d services (%d waves) %s %s?", e.id, e.req.Kind, len(e.svc), len(e.req.Waves),
		map[bool]string{true: "into", false: "out of"}[e.req.Kind == KindFailback], e.req.Region)
	e.pending = &Pending{Kind: DecideEvacuation, Question: question, Needed: ap.Quorum}
	e.publish(ctx)
	ok, err := awaitWithTimeout(ctx, ap.Timeout, "evacuation approval timeout "+ap.Timeout.String(),
		func() bool { return e.pending.Outcome != "" || e.abortedBy != "" })
	outcome := e.pending.Outcome
	e.pending = nil
	switch {
	case ctx.Err() != nil:
		return &stop{Cancelled, "cancelled while waiting for the decision: no failover was started"}
	case e.abortedBy != "":
		return &stop{Aborted, fmt.Sprintf("aborted by %s before any failover started", e.abortedBy)}
	case outcome == ApproveUpdate:
		e.approved(ctx)
		return nil
	case outcome == RejectUpdate:
		return &stop{Rejected, "rejected by " + e.carry.Approvals[len(e.carry.Approvals)-1].By + ": no failover was started"}
	case err == nil && !ok && ap.OnTimeout == plan.OnTimeoutApprove && e.req.Kind == KindFailover:
		e.recordPolicy(ctx, "auto-approve", "no decision in "+ap.Timeout.String())
		e.approved(ctx)
		return nil
	}
	return &stop{TimedOut, fmt.Sprintf("no decision within %s: no failover was started", ap.Timeout)}
}

// runWave runs the current wave until each of its services has an outcome. It returns a stop when the evacuation
// ends early (aborted, cancelled), or runFull when this run has started its share and must continue as new (every
// failover it started has ended by then).
func (e *evacuation) runWave(ctx workflow.Context) (s *stop, runFull bool) {
	wave := e.carry.Wave
	e.setStep(ctx, StepWaves)
	for {
		_ = workflow.Await(ctx, func() bool {
			return e.stopping(ctx) || e.mayStart(wave) || (e.inflight == 0 && !e.mayStartMore(wave))
		})
		switch {
		case e.stopping(ctx):
			return e.stop(ctx), false
		case e.mayStart(wave):
			e.launch(ctx, e.nextWaiting(wave))
		case e.nextWaiting(wave) < 0:
			return nil, false // the wave is done
		case e.runIsFull():
			return nil, true
		}
		// else held or paused with nothing in flight: wait for resume or abort
	}
}

// stopping: an operator aborted the evacuation, or Temporal cancelled it.
func (e *evacuation) stopping(ctx workflow.Context) bool {
	return e.abortedBy != "" || ctx.Err() != nil
}

// mayStartMore: the wave has a waiting service and this run may start it (held or paused aside).
func (e *evacuation) mayStartMore(wave int) bool {
	return e.nextWaiting(wave) >= 0 && !e.runIsFull()
}

// mayStart: a failover may start now: one is waiting, the wave has room, and nothing holds the evacuation.
func (e *evacuation) mayStart(wave int) bool {
	return e.mayStartMore(wave) && e.inflight < e.req.Waves[wave].Concurrency && !e.carry.Paused && e.carry.Held == ""
}

func (e *evacuation) runIsFull() bool {
	limit := e.req.ServicesPerRun
	if limit <= 0 {
		limit = MaxServicesPerRun
	}
	return e.started >= limit || (e.started > 0 && workflow.GetInfo(e.children).GetContinueAsNewSuggested())
}

// nextWaiting returns the index of the wave's next waiting service, or -1.
func (e *evacuation) nextWaiting(wave int) int {
	for ; e.next < len(e.svc); e.next++ {
		s := e.svc[e.next]
		if s.Wave > wave {
			return -1
		}
		if s.Wave == wave && s.State == ServiceWaiting {
			return e.next
		}
	}
	return -1
}

// stop ends the evacuation early: nothing new starts, the failovers it started are cancelled (each rolls back
// what it changed, or ends cancelled before its cutover) and awaited, and every service still waiting is recorded
// as not started. Failovers it joined are someone else's: they are awaited, not cancelled.
func (e *evacuation) stop(ctx workflow.Context) *stop {
	s := &stop{Aborted, fmt.Sprintf("aborted by %s", e.abortedBy)}
	if e.abortedBy == "" {
		s = &stop{Cancelled, "cancelled (Temporal cancel request)"}
	}
	e.cancelChildren()
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return e.inflight == 0 })
	return s
}

// continueAsNew hands the progress to a new run of this evacuation.
func (e *evacuation) continueAsNew(ctx workflow.Context) error {
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	e.closeCard(ctx)
	e.audited(ctx) // the next run numbers its records on from these
	next := e.req
	carry := e.carry
	carry.Runs++
	next.Services, next.Carry = e.svc, &carry
	return workflow.NewContinueAsNewError(ctx, Evacuation, next)
}

// finish records the evacuation's outcome: s when it stopped early, else succeeded or incomplete.
func (e *evacuation) finish(ctx workflow.Context, s *stop) (EvacuationResult, error) {
	for i := range e.svc {
		if e.svc[i].State == ServiceWaiting {
			why := "the evacuation ended before its turn"
			if s != nil {
				why = fmt.Sprintf("the evacuation ended %s before its turn: %s", s.Outcome, s.Reason)
			}
			e.svc[i].State, e.svc[i].Outcome, e.svc[i].Reason = ServiceDone, NotStarted, why
		}
	}
	res := EvacuationResult{Counts: e.counts(), ElapsedSeconds: workflow.Now(ctx).Sub(e.carry.StartedAt).Seconds(), HoldDown: e.carry.Hold}
	for _, sv := range e.svc {
		if sv.Outcome != Succeeded && sv.Outcome != NotNeeded && len(res.NotSucceeded) < MaxListedServices {
			res.NotSucceeded = append(res.NotSucceeded, sv)
		}
	}
	switch {
	case s != nil:
		res.Outcome, res.Reason = s.Outcome, s.Reason
	case len(res.NotSucceeded) == 0:
		res.Outcome, res.Reason = Succeeded, fmt.Sprintf("%d services moved %s %s", len(e.svc), e.direction(), e.req.Region)
	default:
		res.Outcome, res.Reason = Incomplete, fmt.Sprintf("%d of %d services did not succeed: see not_succeeded",
			e.notSucceeded(), len(e.svc))
	}
	e.outcome, e.reason = res.Outcome, res.Reason
	e.step = StepDone
	e.recordEnd(ctx, res)
	e.publish(ctx)
	e.closeCard(ctx)
	e.audited(ctx)
	if err := workflow.UpsertTypedSearchAttributes(ctx, StepKey.ValueSet(StepDone), OutcomeKey.ValueSet(res.Outcome)); err != nil {
		return res, fmt.Errorf("search attributes: %w", err)
	}
	e.holdForRepeats(ctx)
	return res, nil
}

func (e *evacuation) notSucceeded() int {
	n := 0
	for _, s := range e.svc {
		if s.Outcome != Succeeded && s.Outcome != NotNeeded {
			n++
		}
	}
	return n
}

func (e *evacuation) direction() string {
	if e.req.Kind == KindFailback {
		return "back into"
	}
	return "out of"
}

// setStep records the evacuation's step in the status and the FailoverStep search attribute.
func (e *evacuation) setStep(ctx workflow.Context, step Step) {
	if e.step == step {
		return
	}
	e.step = step
	e.publish(ctx)
	_ = workflow.UpsertTypedSearchAttributes(ctx, StepKey.ValueSet(step))
}

// publish shows the evacuation's progress in the Web UI (current details).
func (e *evacuation) publish(ctx workflow.Context) {
	st := e.status(workflow.Now(ctx))
	workflow.SetCurrentDetails(ctx, st.progressLine())
	e.cardChanged()
}

// recordPolicy records a decision the evacuation plan made, not a person.
func (e *evacuation) recordPolicy(ctx workflow.Context, decision, why string) {
	a := Approval{By: "policy", Via: "plan", Decision: decision, For: DecideEvacuation, Comment: why, At: workflow.Now(ctx)}
	e.carry.Approvals = append(e.carry.Approvals, a)
	e.recordDecision(ctx, a, DecisionState{Kind: DecideEvacuation, Outcome: ApproveUpdate}, "")
}

// readingPlans is for LoadPlans: a local read of a batch of plan files, retried a few times.
func readingPlans(ctx workflow.Context) workflow.Context {
	return withOptions(ctx, "read plans", planReadTimeout, 0, planReadAttempts)
}

const (
	// planReadTimeout bounds reading one batch of plans (planBatch files from the plan directory).
	planReadTimeout = 30 * time.Second
	// planReadAttempts: a plan directory that cannot be read refuses the batch's services after these attempts.
	planReadAttempts = 5
	// planBatch is how many plans one LoadPlans reads: a few KB each keeps its result far below payload limits.
	planBatch = 50
	// joinLimit bounds waiting for a failover the evacuation joined (its approval may take a while).
	joinLimit = 24 * time.Hour
)
