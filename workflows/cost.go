package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// A region evacuation runs many failovers at once, so each must cost Temporal little: few history events, few
// activity tasks, few round trips between the worker and the server (README, "What a failover costs Temporal";
// testsuite/e2e TestFailoverCost bounds it). Since the change costPerFailover:
//   - the audit log is written by a local activity (RecordAudit, events.go): a write of a few records to a local
//     file, short and idempotent (exactly once per (workflow, run, seq)), so it runs inside the workflow task that
//     emitted the events: one marker event instead of an activity's three and the workflow task its end woke;
//   - check results and alerts ride to Slack with the next event that is not one (needsNoticeNow, events.go);
//   - the reads of etcd and Kong (ReadActive, ReadWeights: readiness and the read-back after a rollback) are local
//     activities: no side effect, milliseconds, retried by the workflow task like any local activity.
//
// What waits stays a normal activity (checks, warmup, Notify, probes spread over an interval; since localReads a
// single probe, the Kong preflight and the first second of the wait for acks run locally, latency.go), and so do the
// writes (Cutover, SetWeights, RestoreActive): each is a step the Web UI shows with its own retries and timeouts.
//
// Where the worker runs in the starting process, failovers start eagerly (control.Start), and activities on the
// failover task queue are dispatched eagerly (the SDK asks for it; system.enableActivityEagerExecution, on by
// default, lets the server answer): the worker gets the first workflow task, and up to three activities a
// workflow task schedules, in the server's answer instead of through a task queue poll.

// costPerFailover is the workflow.GetVersion change ID of the above. Runs started before it publish and read as
// they began.
const costPerFailover = "cost-per-failover"

// read runs one quick read of etcd or Kong (ReadActive, ReadWeights) with the quick preset's timeouts and
// retries; since costPerFailover as a local activity.
func (f *failover) read(ctx workflow.Context, summary string, read, arg any) workflow.Future {
	if !f.cheap {
		return workflow.ExecuteActivity(quick(ctx, summary), read, arg)
	}
	return workflow.ExecuteLocalActivity(quickLocally(ctx, summary), read, arg)
}
