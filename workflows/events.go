package workflows

import (
	"encoding/json"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// Events flow through one coroutine that publishes them in order (audit log, Slack) as activities. The steps
// only queue them, so a slow or unreachable Slack never holds a failover up.

func (f *failover) startPublisher(ctx workflow.Context) {
	f.events = workflow.NewBufferedChannel(ctx, 10000)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary: "publish event",
		// Short: a worker that dies mid-publish delays the next event (and the outcome) by this much.
		StartToCloseTimeout: 20 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { f.published = true }()
		for {
			var e activities.Event
			if more := f.events.Receive(ctx, &e); !more {
				return
			}
			e.ThreadRef = f.threadRef
			var res activities.PublishResult
			if err := workflow.ExecuteActivity(actx, a.Publish, e).Get(ctx, &res); err == nil && f.threadRef == "" {
				f.threadRef = res.Ref
			}
		}
	})
}

// emit queues an event, filling in who and when.
func (f *failover) emit(ctx workflow.Context, e activities.Event) {
	f.seq++
	e.Seq, e.Time = f.seq, workflow.Now(ctx)
	e.WorkflowID, e.RunID = f.info.WorkflowExecution.ID, f.info.WorkflowExecution.RunID
	e.Service, e.Kind, e.From, e.To, e.PlanHash = f.plan.Service, f.req.Kind, f.req.From, f.req.To, f.req.PlanHash
	e.Channel, e.EscalateTo = f.plan.Approval.SlackChannel, f.plan.Approval.EscalateTo
	f.events.SendAsync(e)
}

// drainEvents closes the queue and waits (bounded) until the last event, the outcome, is published.
func (f *failover) drainEvents(ctx workflow.Context) {
	f.events.Close()
	_, _ = workflow.AwaitWithTimeout(ctx, time.Minute, func() bool { return f.published })
}

// sideEffect records a change with its before and after state.
func (f *failover) sideEffect(ctx workflow.Context, target string, before, after any, detail string) {
	f.emit(ctx, activities.Event{Type: activities.EventSideEffect, Step: f.status.Step, Target: target,
		Before: jsonOf(before), After: jsonOf(after), Detail: detail})
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
