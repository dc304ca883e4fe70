package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// A failback evacuation holds down before it asks for its decision: the region must answer every service's own
// health probe, round after round, for the rule's hold-down (EvacuationRequest.Failback); a failed round restarts
// the clock and is recorded with the services that failed. With minSinceEvacuation it also waits that long after
// the evacuation out of the region ended. Nothing is pending meanwhile, so nobody can approve a region that has
// not proven itself; an abort ends it with nothing changed. There is no override: to move back sooner, abort and
// start a failback whose evacuation plan has a shorter failback.holdDown (its hash, which the approvers sign,
// covers the rule).

// failbackHoldDown is the workflow.GetVersion change ID of the hold-down: failback evacuations started before it
// ask for their decision at once.
const failbackHoldDown = "evacuation-failback-hold-down"

// StepHoldDown (the failover's hold-down step) is also the failback evacuation's step while it holds down.

const (
	// holdDownBatch is how many services one ProbeOrigins activity probes: a round of 1,000 services is 4
	// activities, each with a few KB of file names.
	holdDownBatch = 250
	// holdDownRoundsPerRun bounds the rounds of one run; the hold-down then continues as new with its clock.
	holdDownRoundsPerRun = 100
	// originProbeLimit caps one ProbeOrigins attempt (holdDownBatch probes, 32 at once, each within its plan's
	// detection.probeTimeout); it heartbeats.
	originProbeLimit = 2 * time.Minute
	// maxHoldDownResets is how many of the latest resets the status lists (HoldDownState.ResetCount counts all).
	maxHoldDownResets = 20
	// maxResetServices is how many of a reset's failed services it names (HoldDownReset.Down counts all).
	maxResetServices = 10
)

// HoldDownState is the failback hold-down's clock and record, carried across continue-as-new runs.
type HoldDownState struct {
	Region    string                  `json:"region"`
	Rule      plan.EvacuationFailback `json:"rule"`
	StartedAt time.Time               `json:"started_at"`
	// HealthySince is the first round of the current run of healthy rounds; nil after a failed round.
	HealthySince *time.Time `json:"healthy_since,omitempty"`
	LastRound    time.Time  `json:"last_round,omitempty"`
	Rounds       int        `json:"rounds"`
	// ResetCount counts the failed rounds that restarted the clock (a run of failed rounds counts once).
	ResetCount int             `json:"reset_count"`
	Resets     []HoldDownReset `json:"resets,omitempty"`
	// NotBefore is the earliest time the hold-down may pass under minSinceEvacuation; nil while unknown.
	NotBefore *time.Time `json:"not_before,omitempty"`
	// Evacuation says what was found of the evacuation out of the region (minSinceEvacuation).
	Evacuation string `json:"evacuation,omitempty"`
	// PassedAt is set once the hold-down passed.
	PassedAt *time.Time `json:"passed_at,omitempty"`
}

// HoldDownReset is a run of failed rounds: when it began, how many rounds it lasted and which services failed in its
// first round.
type HoldDownReset struct {
	At       time.Time `json:"at"`
	Rounds   int       `json:"rounds"`
	Down     int       `json:"down"`
	Services []string  `json:"services"`
	Detail   string    `json:"detail,omitempty"`
}

// holdDown runs the failback hold-down (failback evacuations only, before their decision). It returns a stop when
// the evacuation ends during it (aborted, cancelled, timed out), or runFull when this run has done its rounds and
// must continue as new.
func (e *evacuation) holdDown(ctx workflow.Context) (s *stop, runFull bool) {
	if e.req.Kind != KindFailback || e.carry.Approved || (e.carry.Hold != nil && e.carry.Hold.PassedAt != nil) {
		return nil, false
	}
	if e.carry.Hold == nil {
		if workflow.GetVersion(ctx, failbackHoldDown, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			return nil, false
		}
		rule := plan.EvacuationFailback{}
		if e.req.Failback != nil {
			rule = *e.req.Failback
		}
		e.carry.Hold = &HoldDownState{Region: e.req.Region, Rule: rule.WithDefaults(), StartedAt: workflow.Now(ctx)}
	}
	h := e.carry.Hold
	e.setStep(ctx, StepHoldDown)
	for rounds := 0; ; rounds++ {
		if e.stopping(ctx) {
			return e.holdDownStopped(ctx), false
		}
		now := workflow.Now(ctx)
		if now.Sub(h.StartedAt) >= h.Rule.Timeout {
			return &stop{TimedOut, fmt.Sprintf("%s was not held down within failback.timeout %s (%s): no failover was started, "+
				"nothing changed", h.Region, h.Rule.Timeout, h.Line(now))}, false
		}
		e.lookUpEvacuation(ctx)
		e.probeRound(ctx)
		if e.stopping(ctx) {
			return e.holdDownStopped(ctx), false
		}
		now = workflow.Now(ctx)
		if h.passed(now) {
			h.PassedAt = &now
			e.publish(ctx)
			return nil, false
		}
		if rounds+1 >= holdDownRoundsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return nil, true
		}
		_, _ = awaitWithTimeout(ctx, h.Rule.ProbeInterval, fmt.Sprintf("hold-down: next round of %s in %s", h.Region, h.Rule.ProbeInterval),
			func() bool { return e.abortedBy != "" })
	}
}

// holdingDown: a failback's hold-down runs and has not passed yet.
func (e *evacuation) holdingDown() bool {
	return e.carry.Hold != nil && e.carry.Hold.PassedAt == nil
}

// holdDownStopped is the outcome of an abort or cancel during the hold-down: nothing had started.
func (e *evacuation) holdDownStopped(ctx workflow.Context) *stop {
	line := e.carry.Hold.Line(workflow.Now(ctx))
	if e.abortedBy != "" {
		return &stop{Aborted, fmt.Sprintf("aborted by %s during the hold-down (%s): no failover was started, nothing changed", e.abortedBy, line)}
	}
	return &stop{Cancelled, fmt.Sprintf("cancelled during the hold-down (%s): no failover was started, nothing changed", line)}
}

// probeRound probes every service's origin once, in batches of holdDownBatch run at once, and moves the clock: a
// healthy round starts it (or keeps it running), a failed one resets it.
func (e *evacuation) probeRound(ctx workflow.Context) {
	h := e.carry.Hold
	var futures []workflow.Future
	var batches [][]string
	for i := 0; i < len(e.svc); i += holdDownBatch {
		files := make([]string, 0, holdDownBatch)
		for _, s := range e.svc[i:min(i+holdDownBatch, len(e.svc))] {
			files = append(files, s.File)
		}
		batches = append(batches, files)
		actx := heartbeating(ctx, fmt.Sprintf("probe %s for %d services", h.Region, len(files)), originProbeLimit)
		futures = append(futures, workflow.ExecuteActivity(actx, a.ProbeOrigins,
			activities.OriginProbe{Dir: e.req.PlansDir, Region: h.Region, Files: files}))
	}
	var down []activities.DownService
	for i, f := range futures {
		var res activities.OriginHealth
		if err := f.Get(ctx, &res); err != nil {
			// A round that could not probe counts as failed: the clock never runs on probes that did not run.
			for _, file := range batches[i] {
				down = append(down, activities.DownService{Service: file, Detail: "not probed: " + err.Error()})
			}
			continue
		}
		down = append(down, res.Down...)
	}
	now := workflow.Now(ctx)
	h.Rounds++
	h.LastRound = now
	healthy := 100*float64(len(e.svc)-len(down))/float64(len(e.svc)) >= h.Rule.HealthyPercent
	switch {
	case healthy && h.HealthySince == nil:
		h.HealthySince = &now
	case !healthy && (h.HealthySince != nil || len(h.Resets) == 0):
		h.HealthySince = nil
		h.ResetCount++
		r := HoldDownReset{At: now, Rounds: 1, Down: len(down)}
		for _, d := range down[:min(len(down), maxResetServices)] {
			r.Services = append(r.Services, d.Service)
		}
		if len(down) > 0 {
			r.Detail = down[0].Service + ": " + down[0].Detail
		}
		h.Resets = append(h.Resets, r)
		if len(h.Resets) > maxHoldDownResets {
			h.Resets = h.Resets[len(h.Resets)-maxHoldDownResets:]
		}
	case !healthy:
		h.Resets[len(h.Resets)-1].Rounds++
	}
	e.publish(ctx)
}

// lookUpEvacuation finds when the evacuation out of the region ended, for minSinceEvacuation (until found: while
// it still runs it is looked up again every round). When Temporal has no record of it (never run: the region was
// evacuated service by service; or past retention) or cannot say, the rule counts from the failback's start.
func (e *evacuation) lookUpEvacuation(ctx workflow.Context) {
	h := e.carry.Hold
	if h.Rule.MinSinceEvacuation <= 0 || h.NotBefore != nil {
		return
	}
	id := EvacuationID(KindFailover, h.Region)
	var run activities.EvacuationRun
	err := workflow.ExecuteActivity(quick(ctx, "look up "+id), a.LatestEvacuation, id).Get(ctx, &run)
	var from time.Time
	switch {
	case err != nil:
		from = h.StartedAt
		h.Evacuation = fmt.Sprintf("could not look up %s (%v): minSinceEvacuation counts from this failback's start", id, err)
	case !run.Found:
		from = h.StartedAt
		h.Evacuation = fmt.Sprintf("no %s in Temporal (evacuated service by service, or past retention): "+
			"minSinceEvacuation counts from this failback's start", id)
	case run.Running:
		h.Evacuation = fmt.Sprintf("%s (run %s) is still running: the failback waits for it to end, then %s", id, run.RunID, h.Rule.MinSinceEvacuation)
		return
	default:
		from = run.EndedAt
		h.Evacuation = fmt.Sprintf("%s (run %s) ended %s at %s", id, run.RunID, strings.ToLower(strings.TrimPrefix(run.Status,
			"WORKFLOW_EXECUTION_STATUS_")), run.EndedAt.UTC().Format(time.RFC3339))
	}
	nb := from.Add(h.Rule.MinSinceEvacuation)
	h.NotBefore = &nb
}

// passed: the region has been healthy for the hold-down and minSinceEvacuation is met (or off).
func (h *HoldDownState) passed(now time.Time) bool {
	if h.HealthySince == nil || now.Sub(*h.HealthySince) < h.Rule.HoldDown {
		return false
	}
	return h.Rule.MinSinceEvacuation <= 0 || (h.NotBefore != nil && !now.Before(*h.NotBefore))
}

// Line renders the hold-down for people: "holding down: us-east healthy for 2m10s of 10m0s (reset 1× at
// 10:02:03: svc-a, svc-b down)".
func (h *HoldDownState) Line(now time.Time) string {
	if h == nil {
		return ""
	}
	var b strings.Builder
	switch {
	case h.PassedAt != nil:
		fmt.Fprintf(&b, "held down: %s healthy for %s at %s", h.Region, h.Rule.HoldDown, h.PassedAt.UTC().Format(time.TimeOnly))
	case h.HealthySince != nil:
		fmt.Fprintf(&b, "holding down: %s healthy for %s of %s", h.Region, now.Sub(*h.HealthySince).Truncate(time.Second), h.Rule.HoldDown)
	case h.Rounds == 0:
		fmt.Fprintf(&b, "holding down: %s not probed yet, needs %s healthy", h.Region, h.Rule.HoldDown)
	default:
		fmt.Fprintf(&b, "holding down: %s not healthy, needs %s healthy", h.Region, h.Rule.HoldDown)
	}
	if n := len(h.Resets); n > 0 {
		r := h.Resets[n-1]
		names := strings.Join(r.Services, ", ")
		if r.Down > len(r.Services) {
			names += fmt.Sprintf(" and %d more", r.Down-len(r.Services))
		}
		fmt.Fprintf(&b, " (reset %d× at %s: %s down)", h.ResetCount, r.At.UTC().Format(time.TimeOnly), names)
	}
	if h.Rule.MinSinceEvacuation > 0 && h.PassedAt == nil {
		if h.NotBefore != nil {
			fmt.Fprintf(&b, "; not before %s (minSinceEvacuation %s)", h.NotBefore.UTC().Format(time.TimeOnly), h.Rule.MinSinceEvacuation)
		}
		if h.Evacuation != "" {
			fmt.Fprintf(&b, "; %s", h.Evacuation)
		}
	}
	return b.String()
}
