package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// A failover's time to Kong 100 % is mostly round trips between the worker and the server, not the calls
// themselves (README, "What a failover costs Temporal"; BenchmarkFailoverToKong breaks one failover down). Each
// activity costs one: the worker completes it, the server writes it to the history and hands the next workflow task
// back. Since the change localReadiness, what only looks runs inside the workflow task as a local activity, like
// the etcd and Kong reads since costPerFailover:
//   - a probe of a single attempt: detection's when the plan (or the watcher's quorum) asks for one, and readiness'
//     probe of the target. A probe waits for one answer, at most detection.probeTimeout; probes spaced over an
//     interval (detection.probes > 1, a failback's hold-down) stay activities that heartbeat;
//   - the Kong preflight (a few GETs of the Admin API).
//
// Detection and readiness then take one workflow task between them instead of three. The writes (cutover, Kong
// weights) and what waits on others (acks, checks, warmup) stay activities: the cutover in particular begins a
// workflow task of its own, so a cancel, an abort or a decision that arrived during readiness is seen before
// anything changes. A local activity that runs long keeps its workflow task alive (the SDK heartbeats it); a worker
// that dies during one costs the workflow task timeout (WorkflowTaskTimeout, 2 s), after which another worker runs
// it again: every one of them only reads.

// localReadiness is the workflow.GetVersion change ID of the above. Runs started before it probe and read Kong
// as they began.
const localReadiness = "local-readiness"

// probe runs one ProbeHealth: since localReadiness a single attempt runs as a local activity; otherwise an
// activity that heartbeats, limit per attempt.
func (f *failover) probe(ctx workflow.Context, summary string, limit time.Duration, in activities.ProbeInput) workflow.Future {
	if f.localReads && in.Attempts == 1 {
		return workflow.ExecuteLocalActivity(probingLocally(ctx, summary, in.Timeout), a.ProbeHealth, in)
	}
	return workflow.ExecuteActivity(heartbeating(ctx, summary, limit), a.ProbeHealth, in)
}
