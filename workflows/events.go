package workflows

import (
	"encoding/json"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// Events flow out through two coroutines, each publishing in order and in batches of what queued meanwhile:
//   - the audit coroutine writes every event to the audit log (RecordAudit), retrying without limit: an audit
//     record is never dropped, and the run does not end before its outcome is recorded;
//   - the notify coroutine hands events to Slack and other publishers (Notify) with a few retries: a slow or
//     unreachable Slack never holds up the audit log or the failover.
//
// Both run in a disconnected context, so a cancelled failover still records its rollback and its outcome.
//
// Since costPerFailover (cost.go) the audit log is written by a local activity and check results and alerts ride
// to Slack with the next event that is not one. Notify stays a normal activity: it waits out Slack's rate limit,
// which a local activity must never do (it would hold the workflow task, and with it the failover's next command).

const (
	// eventBatch bounds one activity's events, so its input stays far below Temporal's payload limits.
	eventBatch = 100
	// notifyDrain is how long a finished run waits for Slack before it closes (the audit log is awaited in full).
	notifyDrain = 2 * time.Minute
)

func (f *failover) startPublishers(ctx workflow.Context) {
	if f.legacy {
		f.startPublisherV0(ctx)
		return
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	notifyCtx := notifying(ctx, "notify Slack")
	recordAudit := func(batch []activities.Event) workflow.Future {
		if f.cheap {
			return workflow.ExecuteLocalActivity(auditingLocally(ctx, "audit events"), a.RecordAudit, batch)
		}
		return workflow.ExecuteActivity(auditing(ctx, "audit events"), a.RecordAudit, batch)
	}
	notifyNow := anyEvent
	if f.cheap {
		notifyNow = needsNoticeNow
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { f.audited = true }()
		for {
			batch := f.nextBatch(ctx, &f.toAudit, anyEvent)
			if batch == nil {
				return
			}
			// Retried without limit; only a non-retryable error (or, for the local activity, its schedule-to-close
			// timeout) ends it, and then the records go back in the queue.
			if err := recordAudit(batch).Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Error("audit records not written; trying again in a minute", "error", err, "first_seq", batch[0].Seq)
				f.toAudit = append(batch, f.toAudit...)
				_ = sleep(ctx, time.Minute, "audit retry in 1m")
			}
		}
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { f.notified = true }()
		for {
			batch := f.nextBatch(ctx, &f.toNotify, notifyNow)
			if batch == nil {
				return
			}
			var res activities.PublishResult
			err := workflow.ExecuteActivity(notifyCtx, a.Notify, activities.NotifyInput{ThreadRef: f.threadRef, Events: batch}).Get(ctx, &res)
			if err != nil {
				f.status.NotifyDropped += len(batch)
				f.countDropped(ctx, dropActivityFailed, len(batch))
				workflow.GetLogger(ctx).Warn("events not delivered to Slack; the audit log has them", "error", err, "events", len(batch))
				f.auditDropped(ctx, batch, dropActivityFailed, err.Error())
				continue
			}
			if f.threadRef == "" {
				f.threadRef = res.Ref
			}
			if f.lean && res.Unheard { // nobody listens: no more Notify (scale.go); what queued meanwhile goes too
				f.unheard = true
				f.toNotify = nil
			}
		}
	})
}

// nextBatch waits until the queue holds an event that should go now (or the run is closing) and takes up to
// eventBatch events; nil once the run closed its queues.
func (f *failover) nextBatch(ctx workflow.Context, queue *[]activities.Event, now func(activities.Event) bool) []activities.Event {
	_ = workflow.Await(ctx, func() bool { return f.closing || slices.ContainsFunc(*queue, now) })
	n := min(len(*queue), eventBatch)
	if n == 0 {
		return nil
	}
	batch := (*queue)[:n:n]
	*queue = (*queue)[n:]
	return batch
}

func anyEvent(activities.Event) bool { return true }

// needsNoticeNow: a check result or an alert can wait for the next event that is not one (the step's end at the
// latest, which sums them up), so a verification of many rounds or a storm of alert repeats costs one Notify, not
// one per result. Everything a person acts on (steps, decisions, controls, changes, the outcome) goes at once.
func needsNoticeNow(e activities.Event) bool {
	return e.Type != activities.EventCheck && e.Type != activities.EventAlert
}

// emit queues an event, filling in who and when.
func (f *failover) emit(ctx workflow.Context, e activities.Event) {
	f.seq++
	e.Seq, e.Time = f.seq, workflow.Now(ctx)
	e.WorkflowID, e.RunID = f.info.WorkflowExecution.ID, f.info.WorkflowExecution.RunID
	e.Service, e.Kind, e.From, e.To, e.PlanHash = f.plan.Service, f.req.Kind, f.req.From, f.req.To, f.req.PlanHash
	e.Channel, e.EscalateTo = f.plan.Approval.SlackChannel, f.plan.Approval.EscalateTo
	e.Drill = f.req.Trigger.Source == TriggerDrill
	if f.legacy {
		f.events.SendAsync(e)
		return
	}
	f.toAudit = append(f.toAudit, e)
	if f.reportTo != "" {
		f.reportToEvacuation(ctx, e)
		return
	}
	if !f.unheard {
		f.toNotify = append(f.toNotify, e)
	}
}

// drainEvents closes the queues and waits until every audit record is written, and Slack (bounded) has the rest.
func (f *failover) drainEvents(ctx workflow.Context) {
	if f.legacy {
		f.drainEventsV0(ctx)
		return
	}
	f.closing = true
	_ = workflow.Await(ctx, func() bool { return f.audited })
	if ok, _ := awaitWithTimeout(ctx, notifyDrain, "Slack drain timeout "+notifyDrain.String(), func() bool { return f.notified }); !ok {
		f.countDropped(ctx, dropDrainTimeout, len(f.toNotify))
		workflow.GetLogger(ctx).Warn("Slack did not take every event before the run closed; the audit log has them all",
			"queued", len(f.toNotify))
		f.auditDropped(ctx, f.toNotify, dropDrainTimeout, "still queued for Slack when the run closed after "+notifyDrain.String())
	}
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
