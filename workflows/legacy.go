package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// Runs started by the first release (before the "truthful-outcomes" version marker) replay on this code: their
// histories hold its commands, so these paths must keep issuing exactly those. Delete this file once no such run
// is open (`FailoverStep != "done" AND ExecutionStatus="Running"` lists none started before the upgrade).

// truthfulOutcomes is the workflow.GetVersion change ID of: undo registered before each change, etcd restore by
// RestoreActive, audit and Slack published separately, cancel handled, alerts tracked per fingerprint.
const truthfulOutcomes = "truthful-outcomes"

// failV0 is the first release's fail: it handles a step that failed after changes may have begun: it undoes them in reverse per the plan's
// rollback policy. Past the point of no return, or with policy manual, an undo needs an approval first.
func (f *failover) failV0(ctx workflow.Context, s *stop) (Result, error) {
	if len(f.undo) == 0 {
		return f.finish(ctx, s)
	}
	policy := f.plan.Rollback.OnFailure
	if policy == plan.RollbackNone {
		return f.finish(ctx, &stop{FailedNeedsHuman, s.Reason + "; not rolled back: the plan's rollback.onFailure is none"})
	}
	f.begin(ctx, StepRollback)
	if policy == plan.RollbackManual || f.pastNoReturn {
		why := "rollback.onFailure is manual"
		if f.pastNoReturn {
			why = "the failover passed its point of no return (" + f.plan.Rollback.PointOfNoReturn + ")"
		}
		question := fmt.Sprintf("%s. Roll back (%s)? approve = undo %d change(s), reject = leave as is", s.Reason, why, len(f.undo))
		switch f.decide(ctx, DecideUndo, question, 1, f.plan.Approval.Timeout) {
		case ApproveUpdate:
		case RejectUpdate:
			f.stepFailed(ctx, "", "left as is by %s", f.lastVoter())
			return f.finish(ctx, &stop{FailedNeedsHuman, s.Reason + "; rollback declined by " + f.lastVoter()})
		default:
			f.stepFailed(ctx, "", "no decision within %s", f.plan.Approval.Timeout)
			return f.finish(ctx, &stop{FailedNeedsHuman, s.Reason + "; nobody approved the rollback in time"})
		}
	}
	// Undo even if the workflow is being cancelled: a half-done failover is worse than either end state.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	for i := len(f.undo) - 1; i >= 0; i-- {
		if err := f.undo[i].run(ctx); err != nil {
			f.stepFailed(ctx, "", "%s failed: %v", f.undo[i].name, err)
			return f.finish(ctx, &stop{FailedNeedsHuman, fmt.Sprintf("%s; then rollback step %q failed: %v", s.Reason, f.undo[i].name, err)})
		}
	}
	f.end(ctx, ResultOK, fmt.Sprintf("undid %d change(s)", len(f.undo)))
	return f.finish(ctx, &stop{RolledBack, s.Reason})
}

// startPublisherV0 publishes every event (audit and Slack in one activity) from one coroutine.
func (f *failover) startPublisherV0(ctx workflow.Context) {
	f.events = workflow.NewBufferedChannel(ctx, 10000)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             "publish event",
		StartToCloseTimeout: 20 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { f.notified = true }()
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

func (f *failover) drainEventsV0(ctx workflow.Context) {
	f.events.Close()
	_, _ = workflow.AwaitWithTimeout(ctx, time.Minute, func() bool { return f.notified })
}

// restoreActiveV0 writes the previous region back over the cutover's value (only registered when the key existed).
func (f *failover) restoreActiveV0(ctx workflow.Context) error {
	key := f.plan.Etcd.ActiveKey
	restore := activities.CutoverInput{Key: key, Region: f.active.Value.Region,
		Expected:   activities.ActiveState{Exists: true, Value: f.cut.Value, ModRevision: f.cut.Revision},
		WorkflowID: f.info.WorkflowExecution.ID, RunID: f.info.WorkflowExecution.RunID}
	var res activities.CutoverResult
	err := workflow.ExecuteActivity(quick(ctx, "restore "+key+" → "+f.active.Value.Region), a.Cutover, restore).Get(ctx, &res)
	if err == nil {
		f.status.EtcdAfter = &res.Value
		f.sideEffect(ctx, key, f.cut, res, fmt.Sprintf("etcd %s restored to %s at epoch %d", key, res.Value.Region, res.Value.Epoch))
	}
	return err
}

// recordAlertV0 keys alerts on fingerprint and status, and recovers when each fingerprint's first record of its
// last status is resolved.
func (f *failover) recordAlertV0(ctx workflow.Context, al Alert) {
	for i := range f.legacyAlerts {
		seen := &f.legacyAlerts[i]
		if seen.Fingerprint == al.Fingerprint && seen.Status == al.Status {
			seen.Repeats++
			return
		}
	}
	f.legacyAlerts = append(f.legacyAlerts, al)
	f.emit(ctx, activities.Event{Type: activities.EventAlert, Step: f.status.Step, Result: al.Status,
		Detail: fmt.Sprintf("%s %s (fingerprint %s)", al.Alertname, al.Status, al.Fingerprint)})
	if al.Status == "resolved" && !f.changesBegan && allResolvedV0(f.legacyAlerts) {
		f.sourceRecovered = true
	}
	f.publish(ctx)
}

func allResolvedV0(alerts []Alert) bool {
	last := map[string]string{}
	for _, al := range alerts {
		last[al.Fingerprint] = al.Status
	}
	for _, status := range last {
		if status != "resolved" {
			return false
		}
	}
	return true
}
