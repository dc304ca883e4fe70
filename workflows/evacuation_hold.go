package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// evacuationHoldChange is the workflow.GetVersion change ID under which an evacuation an alert or the watcher
// started stays open for repeats; runs started before it end at once.
const evacuationHoldChange = "evacuation-hold-for-repeats"

// holdForRepeats keeps the first run of an evacuation an alert or the region watcher started open until AlertHold
// after its start, as a failover does (outage.go): a front door that read "no evacuation running" before it
// started, and was slow to send its start, then finds it open and joins it, instead of starting a second
// evacuation after a fast first one (auto-approved, every service not-needed) has closed. It runs after the outcome
// is recorded, and only when the evacuation ended that quickly.
func (e *evacuation) holdForRepeats(ctx workflow.Context) {
	if !e.req.Trigger.Automatic() || e.req.Carry != nil {
		return
	}
	left := workflow.GetInfo(ctx).WorkflowStartTime.Add(AlertHold).Sub(workflow.Now(ctx))
	if left <= 0 {
		return
	}
	if workflow.GetVersion(ctx, evacuationHoldChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	timer := workflow.NewTimerWithOptions(ctx, left, workflow.TimerOptions{Summary: "hold open for repeats of the region-wide alert"})
	_ = timer.Get(ctx, nil)
}
