package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// Every step gets its own timeouts and retries: a slow Prometheus must not hold up an etcd write, and errors that
// retries cannot fix (fencing, bad input, Kong 4xx) stop at once.
//
// A worker that dies (kill -9, OOM, a lost node) tells nobody: Temporal hands its activity to another worker only
// once the attempt times out, so these timeouts are also what a crash costs a failover. A single call has a short
// StartToClose; anything that can run longer heartbeats (activities.HeartbeatEvery) under a short HeartbeatTimeout,
// and its StartToClose only caps the whole attempt. README, "What a worker crash costs", has the measurements.
var nonRetryable = []string{activities.ErrFenced, activities.ErrAcksTimeout, activities.ErrBadInput,
	activities.ErrKongRejected, activities.ErrWarmupFailed, activities.ErrTargetMissing}

const (
	// quickTimeout bounds one etcd or Kong call, which takes milliseconds: a stuck attempt is retried, not waited for.
	quickTimeout = 2 * time.Second
	// heartbeatTimeout: an activity whose heartbeats stop for this long is given to another worker. 2 s cost a
	// crash in a running check 3.5 s on the embedded server (whose timers fire on whole seconds); 1 s costs 2.7 s.
	// A live worker beats every 250 ms (activities.HeartbeatEvery), so a pause of 0.75 s still passes.
	heartbeatTimeout = time.Second
	// checkLimit caps one check: HTTP samples through the gateway, or one Prometheus query (5 s at most).
	checkLimit = 30 * time.Second
	// auditPatience is how long a local audit write is retried before the audit coroutine queues it again (and
	// tries once more a minute later): a bound the SDK needs, since a local activity's schedule-to-close
	// defaults to its start-to-close.
	auditPatience = 10 * time.Minute
	// quickReadLimit caps a local read with its retries: ten attempts of quickTimeout and their backoffs.
	quickReadLimit = time.Minute
)

// quick is for one converging write against etcd or Kong (Cutover and its restore, SetWeights), and for one read
// (ReadActive, ReadWeights) in runs started before costPerFailover (since then: quickLocally): 2 s per attempt, up
// to 10 attempts. A retry after a write landed finds it done: Cutover recognises its own write and SetWeights
// converges.
func quick(ctx workflow.Context, summary string) workflow.Context {
	return withOptions(ctx, summary, quickTimeout, 0, 10)
}

// quickLocally is quick for a local activity (a read of etcd or Kong, see read in cost.go): the same attempts,
// capped at quickReadLimit in all, since a local activity's schedule-to-close defaults to one attempt's timeout.
func quickLocally(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		Summary:                summary,
		StartToCloseTimeout:    quickTimeout,
		ScheduleToCloseTimeout: quickReadLimit,
		RetryPolicy:            retryPolicy(10),
	})
}

// waitingLocally is for a local activity that waits up to wait for an answer (localReads, latency.go: a probe of a
// single attempt, the first of the wait for acks): an attempt is capped at wait plus quickTimeout, up to 3 attempts
// like an activity's.
func waitingLocally(ctx workflow.Context, summary string, wait time.Duration) workflow.Context {
	attempt := wait + quickTimeout
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		Summary:                summary,
		StartToCloseTimeout:    attempt,
		ScheduleToCloseTimeout: 3*attempt + 2*retryPolicy(3).MaximumInterval,
		RetryPolicy:            retryPolicy(3),
	})
}

// heartbeating is for an activity that runs as long as the plan says (probes over a hold-down, waiting for acks,
// a warmup) and heartbeats meanwhile: limit caps one attempt, and a dead worker is noticed after
// heartbeatTimeout, however long the limit. Up to 3 attempts.
func heartbeating(ctx workflow.Context, summary string, limit time.Duration) workflow.Context {
	return withOptions(ctx, summary, limit, heartbeatTimeout, 3)
}

// check is for one detection, gate or verification check (HTTPCheck, EvaluateQuery): heartbeating, capped at
// checkLimit. Up to 3 attempts.
func check(ctx workflow.Context, summary string) workflow.Context {
	return heartbeating(ctx, summary, checkLimit)
}

// auditing is for writing a batch of audit records (RecordAudit): a local write, 2 s per attempt, retried without
// limit (backing off to 30 s) because the record matters; a retry after a write landed skips it (the audit log is
// exactly-once). The outcome waits for the audit log, so a long timeout here would be what a crash costs.
func auditing(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             summary,
		StartToCloseTimeout: quickTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, MaximumInterval: 30 * time.Second},
	})
}

// auditingLocally is auditing as a local activity (costPerFailover): the write runs inside the workflow task, so an
// attempt is capped at quickTimeout and retries start a second apart and triple: the first retry runs at once in
// the worker, later ones after a server timer (the SDK keeps a workflow task open only for backoffs shorter than
// its timeout). Retried for up to auditPatience; the audit coroutine then queues the records again.
func auditingLocally(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		Summary:                summary,
		StartToCloseTimeout:    quickTimeout,
		ScheduleToCloseTimeout: auditPatience,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 3, MaximumInterval: 30 * time.Second},
	})
}

// notifying is for handing a batch of events to the publishers (Notify: Slack, ...), which may wait out Slack's
// rate limit: capped at a minute, up to 3 attempts a second apart, never fatal to the failover. The activity must
// heartbeat (keepAlive): a finished failover waits for its last notification, so without heartbeats a worker that
// died mid-batch would hold the outcome for the whole minute.
func notifying(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             summary,
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
}

// commandHooking is for a drill's command hook (RunFaultHook naming a hook of the worker's hooks file): the hook's
// own timeout (at most activities.MaxHookTimeout) ends a run, so an attempt is capped just above the longest; it
// heartbeats, so a dead worker is noticed after heartbeatTimeout. Up to 3 attempts: a hook sets a state (fault on
// or off), so running it again converges.
func commandHooking(ctx workflow.Context, summary string) workflow.Context {
	return withOptions(ctx, summary, activities.MaxHookTimeout+time.Minute, heartbeatTimeout, 3)
}

// withOptions sets one activity's timeouts and retries. Use the named presets above.
func withOptions(ctx workflow.Context, summary string, startToClose, heartbeat time.Duration, attempts int32) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             summary,
		StartToCloseTimeout: startToClose,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy:         retryPolicy(attempts),
	})
}

// retryPolicy: retries start 200 ms apart, doubling up to 5 s, and stop at once on errors retries cannot fix.
func retryPolicy(attempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        200 * time.Millisecond,
		BackoffCoefficient:     2,
		MaximumInterval:        5 * time.Second,
		MaximumAttempts:        attempts,
		NonRetryableErrorTypes: nonRetryable,
	}
}

// sleep is workflow.Sleep with a summary: the Web UI names the timer ("pause 30s before 10% → 50%") instead of
// showing "Sleep". Same command as workflow.Sleep, so histories replay either way.
func sleep(ctx workflow.Context, d time.Duration, summary string) error {
	return workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: summary}).Get(ctx, nil)
}

// awaitWithTimeout is workflow.AwaitWithTimeout with a summary on its timer ("approval timeout 10m").
func awaitWithTimeout(ctx workflow.Context, d time.Duration, summary string, condition func() bool) (bool, error) {
	return workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: d, TimerOptions: workflow.TimerOptions{Summary: summary}}, condition)
}
