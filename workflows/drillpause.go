package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// A real failover (started by an alert, the watcher, the CLI, the Web UI or an evacuation) pauses its service's
// drill schedules when it starts and resumes them when it ends, so no scheduled drill fires into an incident
// (one would only refuse, but it would count as a drill that did not run). Only the schedules it paused resume:
// one an operator paused stays paused (activities/drillschedules.go keeps the holds in the schedule's note).
// A drill's own failover and failback pause nothing. The pause runs beside the failover and never delays it.

// pauseDrillsChange is the workflow.GetVersion change ID of the pause and resume: runs started before it pause
// nothing.
const pauseDrillsChange = "pause-drill-schedules"

const (
	// drillHoldAttempt caps one pause or resume: a list of the namespace's schedules, then a describe and a
	// patch per drill schedule of the service.
	drillHoldAttempt = 10 * time.Second
	// drillHoldPatience is how long a pause or resume is retried before the run gives up on it and says so.
	drillHoldPatience = time.Minute
)

// drillHold is the run's hold on its service's drill schedules.
type drillHold struct {
	on      bool // this run pauses and resumes them
	pausing bool // the pause has not finished yet
	failed  bool // the pause gave up: the resume still runs, in case it paused some before it failed
	paused  activities.DrillHoldResult
}

// holdDrillSchedules pauses the service's drill schedules, unless this run is a drill's.
func (f *failover) holdDrillSchedules(ctx workflow.Context) {
	if f.legacy || f.isDrillRun() {
		return
	}
	if workflow.GetVersion(ctx, pauseDrillsChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	f.drills.on, f.drills.pausing = true, true
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { f.drills.pausing = false }()
		err := workflow.ExecuteLocalActivity(holdingDrills(ctx, "pause drill schedules of "+f.plan.Service),
			a.PauseDrillSchedules, f.drillHoldInput()).Get(ctx, &f.drills.paused)
		switch {
		case err != nil:
			f.drills.failed = true
			f.emit(ctx, activities.Event{Type: activities.EventDrillSchedules, Result: activities.DrillSchedulesFailed, Detail: fmt.Sprintf(
				"could not pause the drill schedules of %s (%v): a drill that fires meanwhile refuses to run beside this %s",
				f.plan.Service, err, f.req.Kind)})
		case len(f.drills.paused.Paused)+len(f.drills.paused.ByHand) > 0:
			f.emit(ctx, activities.Event{Type: activities.EventDrillSchedules, Result: activities.DrillSchedulesPaused, Detail: f.drills.paused.String()})
		}
	})
}

// releaseDrillSchedules resumes the drill schedules this run paused, once its outcome is known.
func (f *failover) releaseDrillSchedules(ctx workflow.Context) {
	if !f.drills.on {
		return
	}
	_ = workflow.Await(ctx, func() bool { return !f.drills.pausing })
	if !f.drills.failed && !f.drills.paused.Held() {
		return
	}
	var res activities.DrillHoldResult
	err := workflow.ExecuteLocalActivity(holdingDrills(ctx, "resume drill schedules of "+f.plan.Service),
		a.ResumeDrillSchedules, f.drillHoldInput()).Get(ctx, &res)
	switch {
	case err != nil:
		f.emit(ctx, activities.Event{Type: activities.EventDrillSchedules, Result: activities.DrillSchedulesFailed, Detail: fmt.Sprintf(
			"could not resume the drill schedules of %s (%v): they stay paused; resume each with starter drill schedule resume ID (paused: %s)",
			f.plan.Service, err, strings.Join(f.drills.paused.Paused, ", "))})
	case len(res.Resumed)+len(res.StillHeld)+len(res.ByHand) > 0:
		f.emit(ctx, activities.Event{Type: activities.EventDrillSchedules, Result: activities.DrillSchedulesResumed, Detail: res.String()})
	}
}

// isDrillRun: a drill's failover or failback (started by the drill, its parent) leaves the drill schedules alone.
func (f *failover) isDrillRun() bool {
	return f.req.Trigger.Source == TriggerDrill && f.info.ParentWorkflowExecution != nil
}

func (f *failover) drillHoldInput() activities.DrillHold {
	return activities.DrillHold{Service: f.plan.Service, DrillWorkflowID: DrillID(f.plan.Service), Kind: f.req.Kind,
		WorkflowID: f.info.WorkflowExecution.ID, RunID: f.info.WorkflowExecution.RunID, Since: f.info.WorkflowStartTime}
}

// holdingDrills is for PauseDrillSchedules and ResumeDrillSchedules: local, drillHoldAttempt per attempt, retried
// for drillHoldPatience. Both converge, so a retry after a crash is harmless.
func holdingDrills(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		Summary:                summary,
		StartToCloseTimeout:    drillHoldAttempt,
		ScheduleToCloseTimeout: drillHoldPatience,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, MaximumInterval: 10 * time.Second, NonRetryableErrorTypes: nonRetryable},
	})
}
