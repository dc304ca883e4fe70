package workflows

import (
	"time"

	"go.temporal.io/sdk/worker"
)

// WorkflowTaskTimeout is how long a worker may hold a workflow task before Temporal gives it to another worker: what
// a worker killed in the middle of one costs the failover. A failover's workflow task, replay included, takes
// milliseconds; Temporal's default is 10 s. Every StartWorkflowOptions of Failover sets it.
const WorkflowTaskTimeout = 2 * time.Second

// DisableStickyExecution turns sticky execution off for every worker this process starts from now on: each
// workflow task then goes to the task queue any worker polls and replays the history (a few milliseconds for a
// failover's few hundred events) instead of waiting for the worker that ran the previous one. A worker killed by
// kill -9 never says it is gone, so with sticky execution every later task of its failovers waited in its sticky
// queue for StickyScheduleToStartTimeout first (default 5 s, at least 1 s). The SDK reads this once, before the
// process's first worker starts: call it first thing in a worker binary. Processes that embed the Temporal server
// (the dev stack, tests) start the server's own workers first; their failover workers stay sticky and rely on
// StickyScheduleToStartTimeout.
func DisableStickyExecution() {
	worker.SetStickyWorkflowCacheSize(0)
}

// KeepWorkflowsCached turns sticky execution on with room for n workflows in this process's memory (n > 0), for
// the workers it starts from now on; like DisableStickyExecution, call it before the first worker starts. A
// workflow task then carries only the new events and runs on the cached workflow instead of replaying the whole
// history: what an evacuation's long history needs (README, "What an evacuation costs"). The price is
// StickyScheduleToStartTimeout (1 s) added to each running failover's next workflow task when this worker is
// killed.
func KeepWorkflowsCached(n int) {
	worker.SetStickyWorkflowCacheSize(n)
}

// WorkerOptions are the settings of every worker that runs failovers (the worker binary, the dev stack, the tests).
// They bound what a worker crash costs a running failover, next to the activity timeouts in options.go. With a
// buildID the worker joins the Worker Deployment (see deployment.go) and pins each failover it starts to its build;
// without one it is unversioned.
func WorkerOptions(buildID string) worker.Options {
	return worker.Options{
		DeploymentOptions: deploymentOptions(buildID),
		// Where sticky execution is on (see DisableStickyExecution), a failover's next workflow task after its
		// worker died waits this long in the dead worker's sticky queue before any worker takes it. Default 5 s;
		// the resolution is seconds.
		StickyScheduleToStartTimeout: time.Second,
		// The SDK sends a heartbeat at most every 80 % of the HeartbeatTimeout by default, leaving a slow RPC 0.2 s
		// before a live activity looks dead; four a timeout leave 0.75 s.
		MaxHeartbeatThrottleInterval: heartbeatTimeout / 4,
	}
}
