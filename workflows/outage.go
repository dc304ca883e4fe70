package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// One run per outage. The front door (package alerts) reads the service's latest run, then acts: it signals an
// open run, ignores an alert that began before a closed run of its source closed ("already handled"), or else
// starts a run with Signal-With-Start. Temporal makes the start atomic only against an open run: once the current
// run has closed, Signal-With-Start (with reuse policy allow-duplicate) starts another one, whatever its request ID
// (server 1.32.1, history/api/signalwithstartworkflow: a closed current run goes through the reuse policy, which
// never looks at request IDs). So a request that read "no run open" before the first run started, and was slow to
// send its start, would start a second run for the same outage after a fast first run (not-needed, source-
// recovered) had closed.
//
// Two bounds close that window:
//   - the front door sends its Signal-With-Start with a deadline AlertJoinWindow after it began reading the latest
//     run (gRPC carries the deadline to the server, which drops the request past it);
//   - a run an alert started stays open until AlertHold after it started, recording repeats without acting on
//     them (holdForRepeats).
//
// A request whose read saw no open run read before the run R started, so its start reaches Temporal before
// R.start + AlertJoinWindow, while R is still open (AlertHold > AlertJoinWindow): it attaches to R. A request whose
// read came later sees R open (and signals it) or closed (and its alert began before R closed: already handled).
const (
	// AlertJoinWindow bounds the time from a front door's read of the latest run to Temporal acting on the
	// Signal-With-Start it decided on. Past it the front door answers 503 and Alertmanager retries.
	AlertJoinWindow = 3 * time.Second
	// AlertHold is how long after its start a run an alert started stays open at least. It is more than three
	// times AlertJoinWindow: the margin covers a server that notices an expired deadline late.
	AlertHold = 10 * time.Second
)

// holdForRepeatsChange is the workflow.GetVersion change ID of the hold: runs started before it end at once.
const holdForRepeatsChange = "hold-for-repeats"

// holdForRepeats keeps a run an alert started open until AlertHold after its start, so every repeat of its alert
// that decided to start a run before it started attaches to it instead (see the comment above). It runs after the
// outcome is recorded: repeats are counted (recordAlert) and change nothing.
func (f *failover) holdForRepeats(ctx workflow.Context) {
	if f.legacy || !f.req.Trigger.Automatic() {
		return
	}
	if workflow.GetVersion(ctx, holdForRepeatsChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	left := f.info.WorkflowStartTime.Add(AlertHold).Sub(workflow.Now(ctx))
	if left <= 0 {
		return
	}
	timer := workflow.NewTimerWithOptions(ctx, left, workflow.TimerOptions{Summary: "hold open for repeats of the alert"})
	_ = timer.Get(ctx, nil)
}
