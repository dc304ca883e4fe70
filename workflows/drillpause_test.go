package workflows

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// drillHolds records the pause and resume of a run's drill schedules, in order, and answers them.
type drillHolds struct {
	calls  []string // "pause", "resume"
	inputs []activities.DrillHold
	pause  activities.DrillHoldResult
	resume activities.DrillHoldResult
	// pauseErr fails every pause with it.
	pauseErr error
	// eventsAtResume is how many events the run had emitted when it resumed the schedules.
	eventsAtResume []activities.Event
}

func holdDrills(env *testsuite.TestWorkflowEnvironment, f *fakes) *drillHolds {
	h := &drillHolds{}
	env.OnActivity(a.PauseDrillSchedules, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DrillHold) (activities.DrillHoldResult, error) {
			h.calls, h.inputs = append(h.calls, "pause"), append(h.inputs, in)
			return h.pause, h.pauseErr
		})
	env.OnActivity(a.ResumeDrillSchedules, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DrillHold) (activities.DrillHoldResult, error) {
			h.calls, h.inputs = append(h.calls, "resume"), append(h.inputs, in)
			f.auditMu.Lock()
			h.eventsAtResume = slices.Clone(f.events)
			f.auditMu.Unlock()
			return h.resume, nil
		})
	return h
}

// TestRealFailoverPausesItsDrillSchedulesUntilItEnds: a real failover pauses its service's drill schedules at its
// start and resumes them before its outcome, both named by its run, and the audit log and Slack say which.
func TestRealFailoverPausesItsDrillSchedulesUntilItEnds(t *testing.T) {
	env, f := newEnv(t)
	h := holdDrills(env, f)
	h.pause = activities.DrillHoldResult{Paused: []string{"drill-payments-weekly"}, ByHand: []string{"drill-payments-frozen"}}
	h.resume = activities.DrillHoldResult{Resumed: []string{"drill-payments-weekly"}, ByHand: []string{"drill-payments-frozen"}}
	wantOutcome(t, run(t, env, request(autoPlan())), Succeeded)

	if !slices.Equal(h.calls, []string{"pause", "resume"}) {
		t.Fatalf("calls %v, want one pause, then one resume", h.calls)
	}
	in := h.inputs[0]
	if in.Service != "payments" || in.DrillWorkflowID != DrillID("payments") || in.Kind != KindFailover ||
		in.WorkflowID == "" || in.RunID == "" || in.Since.IsZero() || h.inputs[1] != in {
		t.Fatalf("holds %+v: want the same hold of this run on drill-payments' schedules, twice", h.inputs)
	}
	events := f.ofType(activities.EventDrillSchedules)
	if len(events) != 2 || events[0].Result != activities.DrillSchedulesPaused || events[1].Result != activities.DrillSchedulesResumed ||
		!strings.Contains(events[0].Detail, "paused while this failover runs (they resume when it ends): drill-payments-weekly") ||
		!strings.Contains(events[0].Detail, "paused by hand, left paused: drill-payments-frozen") ||
		!strings.Contains(events[1].Detail, "resumed: drill-payments-weekly") {
		t.Fatalf("drill schedule events %+v", events)
	}
	for _, e := range h.eventsAtResume {
		if e.Type == activities.EventOutcome {
			t.Fatal("the outcome was published before the drill schedules were resumed")
		}
	}
	if len(f.ofType(activities.EventOutcome)) != 1 {
		t.Fatal("no outcome event")
	}
}

// TestNothingPausedNothingResumed: a service without drill schedules costs one pause and no resume, and says
// nothing about it.
func TestNothingPausedNothingResumed(t *testing.T) {
	env, f := newEnv(t)
	h := holdDrills(env, f)
	wantOutcome(t, run(t, env, request(autoPlan())), Succeeded)
	if !slices.Equal(h.calls, []string{"pause"}) || len(f.ofType(activities.EventDrillSchedules)) != 0 {
		t.Fatalf("calls %v, events %+v: want one pause, silent", h.calls, f.ofType(activities.EventDrillSchedules))
	}
}

// TestFailedPauseIsReportedAndStillResumed: a pause that gives up is audited, changes nothing about the failover,
// and the resume still runs (the pause may have paused some schedules before it failed).
func TestFailedPauseIsReportedAndStillResumed(t *testing.T) {
	env, f := newEnv(t)
	h := holdDrills(env, f)
	h.pauseErr = temporal.NewNonRetryableApplicationError("list schedules: unavailable", activities.ErrBadInput, nil)
	h.resume = activities.DrillHoldResult{Resumed: []string{"drill-payments-weekly"}}
	wantOutcome(t, run(t, env, request(autoPlan())), Succeeded)
	events := f.ofType(activities.EventDrillSchedules)
	if !slices.Equal(h.calls, []string{"pause", "resume"}) || len(events) != 2 || events[0].Result != activities.DrillSchedulesFailed ||
		!strings.Contains(events[0].Detail, "could not pause the drill schedules of payments") || events[1].Result != activities.DrillSchedulesResumed {
		t.Fatalf("calls %v, events %+v", h.calls, events)
	}
}

// TestCancelledFailoverResumesItsDrillSchedules: a cancel ends the run, and the schedules still resume.
func TestCancelledFailoverResumesItsDrillSchedules(t *testing.T) {
	env, f := newEnv(t)
	h := holdDrills(env, f)
	h.pause = activities.DrillHoldResult{Paused: []string{"drill-payments-weekly"}}
	env.RegisterDelayedCallback(env.CancelWorkflow, 0)
	res := run(t, env, request(testPlan()))
	wantOutcome(t, res, Cancelled)
	if !slices.Equal(h.calls, []string{"pause", "resume"}) {
		t.Fatalf("calls %v, want pause then resume", h.calls)
	}
}

// TestRunsBeforeTheChangePauseNothing: a run the change ID marks as older pauses and resumes nothing.
func TestRunsBeforeTheChangePauseNothing(t *testing.T) {
	env, f := newEnv(t)
	h := holdDrills(env, f)
	h.pause = activities.DrillHoldResult{Paused: []string{"drill-payments-weekly"}}
	env.OnGetVersion(pauseDrillsChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	wantOutcome(t, run(t, env, request(autoPlan())), Succeeded)
	if len(h.calls) != 0 {
		t.Fatalf("calls %v: an older run pauses nothing", h.calls)
	}
}

// TestDrillRunPausesNoDrillSchedules: a drill's own failover and failback leave the drill schedules alone.
func TestDrillRunPausesNoDrillSchedules(t *testing.T) {
	env, f, _ := drillEnv(t, false)
	h := holdDrills(env, f)
	h.pause = activities.DrillHoldResult{Paused: []string{"drill-payments-weekly"}}
	req := drillRequest(lagPlan())
	req.SkipFailback = true
	if res := runDrill(t, env, req); res.Verdict != DrillPassed {
		t.Fatalf("verdict %s: %s", res.Verdict, res.Reason)
	}
	if len(h.calls) != 0 {
		t.Fatalf("calls %v: a drill's failover paused drill schedules", h.calls)
	}
}
