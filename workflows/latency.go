package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// A failover's time to Kong 100 % is mostly round trips between the worker and the server, not the calls
// themselves (README, "What a failover costs Temporal"; BenchmarkFailoverToKong breaks one failover down). Each
// activity costs one: the worker completes it, the server writes it to the history and hands the next workflow task
// back. Since the change localReads, what only looks runs inside the workflow task as a local activity, like
// the etcd and Kong reads since costPerFailover:
//   - a probe of a single attempt: detection's when the plan (or the watcher's quorum) asks for one, and readiness'
//     probe of the target. A probe waits for one answer, at most detection.probeTimeout; probes spaced over an
//     interval (detection.probes > 1, a failback's hold-down) stay activities that heartbeat;
//   - the Kong preflight (a few GETs of the Admin API);
//   - the first localAckWait of the wait for the consumers' acks of the new epoch: they ack within milliseconds
//     (BenchmarkPutToAck), so the wait rarely outlives it; when it does, it goes on as an activity that
//     heartbeats, for the rest of etcd.ackTimeout.
//
// Detection and readiness then take one workflow task between them instead of three, and the cutover's acks none
// of their own. The writes (cutover, Kong weights) and the other waits (checks, warmup) stay activities: the
// cutover in particular begins a workflow task of its own, so a cancel, an abort or a decision that arrived during
// readiness is seen before anything changes. A local activity that runs long keeps its workflow task alive (the
// SDK heartbeats it); a worker that dies during one costs the workflow task timeout (WorkflowTaskTimeout, 2 s),
// after which another worker runs it again: every one of them only reads.

// localReads is the workflow.GetVersion change ID of the above. Runs started before it probe, read Kong and wait
// for acks as they began.
const localReads = "local-reads"

// localAckWait is how long the acks of a new epoch are awaited inside the workflow task (localReads); a cancel or
// an abort waits as long at most.
const localAckWait = time.Second

// probe runs one ProbeHealth: since localReads a single attempt runs as a local activity; otherwise an
// activity that heartbeats, limit per attempt.
func (f *failover) probe(ctx workflow.Context, summary string, limit time.Duration, in activities.ProbeInput) workflow.Future {
	if f.localReads && in.Attempts == 1 {
		return workflow.ExecuteLocalActivity(waitingLocally(ctx, summary, in.Timeout), a.ProbeHealth, in)
	}
	return workflow.ExecuteActivity(heartbeating(ctx, summary, limit), a.ProbeHealth, in)
}

// waitAcks waits for the consumers' acks of the cutover's epoch: since localReads the first localAckWait as a
// local activity, the rest of in.Timeout (if any) as an activity that heartbeats; otherwise all of it as one.
func (f *failover) waitAcks(ctx workflow.Context, in activities.WaitAcksInput, acks *activities.WaitAcksResult) error {
	summary := fmt.Sprintf("wait for acks of epoch %d", in.Epoch)
	if f.localReads {
		local := in
		local.Timeout = min(in.Timeout, localAckWait)
		err := workflow.ExecuteLocalActivity(waitingLocally(ctx, summary, local.Timeout), a.WaitAcks, local).Get(ctx, acks)
		if err == nil || in.Timeout <= localAckWait {
			return err
		}
		in.Timeout -= localAckWait // not acked yet (or etcd failed): the activity waits for the rest
	}
	return workflow.ExecuteActivity(heartbeating(ctx, summary, in.Timeout+10*time.Second), a.WaitAcks, in).Get(ctx, acks)
}
