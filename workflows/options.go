package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// Every step gets its own timeouts and retries: a slow Prometheus must not hold up an etcd write, and errors that
// retries cannot fix (fencing, bad input, Kong 4xx) stop at once.
var nonRetryable = []string{activities.ErrFenced, activities.ErrAcksTimeout, activities.ErrBadInput,
	activities.ErrKongRejected, activities.ErrWarmupFailed, activities.ErrTargetMissing}

func withOptions(ctx workflow.Context, summary string, startToClose, heartbeat time.Duration, attempts int32) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             summary,
		StartToCloseTimeout: startToClose,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        200 * time.Millisecond,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Second,
			MaximumAttempts:        attempts,
			NonRetryableErrorTypes: nonRetryable,
		},
	})
}

// quick is for reads and single writes against etcd, Kong and Prometheus.
func quick(ctx workflow.Context, summary string) workflow.Context {
	return withOptions(ctx, summary, 15*time.Second, 0, 10)
}
