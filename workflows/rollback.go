package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// undoStep compensates one change; they run in reverse order of the changes.
type undoStep struct {
	name string
	run  func(ctx workflow.Context) error
}

func (f *failover) addUndo(name string, run func(ctx workflow.Context) error) {
	f.undo = append(f.undo, undoStep{name: name, run: run})
}

// fail handles a step that failed after changes may have begun: it undoes them in reverse per the plan's
// rollback policy. Past the point of no return, or with policy manual, an undo needs an approval first. The
// rollback decides the outcome: rolled-back only when every undo converged and etcd and Kong read back as they were
// before; otherwise failed-needs-human with what is still changed.
func (f *failover) fail(ctx workflow.Context, s *stop) (Result, error) {
	if f.legacy {
		return f.failV0(ctx, s)
	}
	if len(f.undo) == 0 {
		return f.finish(ctx, s) // fenced: the cutover's transaction wrote nothing
	}
	cancelled := ctx.Err() != nil
	if cancelled {
		s = &stop{s.Outcome, "cancelled during " + f.status.Step + ": " + s.Reason}
	}
	// Undo even if the workflow is being cancelled: a half-done failover is worse than either end state.
	undoCtx, _ := workflow.NewDisconnectedContext(ctx)
	policy := f.plan.Rollback.OnFailure
	if policy == plan.RollbackNone {
		return f.finishChanged(undoCtx, s.Reason+"; not rolled back: the plan's rollback.onFailure is none")
	}
	f.begin(undoCtx, StepRollback)
	if policy == plan.RollbackManual || f.pastNoReturn {
		why := "rollback.onFailure is manual"
		if f.pastNoReturn {
			why = "the failover passed its point of no return (" + f.plan.Rollback.PointOfNoReturn + ")"
		}
		if cancelled {
			f.stepFailed(undoCtx, "", "not undone: %s and the workflow was cancelled", why)
			return f.finishChanged(undoCtx, s.Reason+"; not rolled back: "+why+" and the workflow was cancelled")
		}
		question := fmt.Sprintf("%s. Roll back (%s)? approve = undo %d change(s), reject = leave as is", s.Reason, why, len(f.undo))
		switch f.decide(ctx, DecideUndo, question, 1, f.plan.Approval.Timeout) {
		case ApproveUpdate:
		case RejectUpdate:
			f.stepFailed(undoCtx, "", "left as is by %s", f.lastVoter())
			return f.finishChanged(undoCtx, s.Reason+"; rollback declined by "+f.lastVoter())
		default:
			f.stepFailed(undoCtx, "", "no decision within %s", f.plan.Approval.Timeout)
			return f.finishChanged(undoCtx, s.Reason+"; nobody approved the rollback in time")
		}
	}
	for i := len(f.undo) - 1; i >= 0; i-- {
		if err := f.undo[i].run(undoCtx); err != nil {
			f.stepFailed(undoCtx, "", "%s failed: %v", f.undo[i].name, err)
			return f.finishChanged(undoCtx, fmt.Sprintf("%s; then rollback step %q failed: %v", s.Reason, f.undo[i].name, err))
		}
	}
	if left := f.inspect(undoCtx); len(left) > 0 {
		f.status.StillChanged = left
		f.stepFailed(undoCtx, "", "undid %d change(s), but %s", len(f.undo), leftoverSummary(left))
		return f.finish(undoCtx, &stop{FailedNeedsHuman, s.Reason + "; rolled back, then " + leftoverSummary(left)})
	}
	f.end(undoCtx, ResultOK, fmt.Sprintf("undid %d change(s); etcd and Kong read back as before the failover", len(f.undo)))
	return f.finish(undoCtx, &stop{RolledBack, s.Reason})
}

// finishChanged ends a run that could not undo its changes: it reads etcd and Kong back and lists what is still
// changed, in the status, the result, the audit log and Slack.
func (f *failover) finishChanged(ctx workflow.Context, reason string) (Result, error) {
	f.status.StillChanged = f.inspect(ctx)
	return f.finish(ctx, &stop{FailedNeedsHuman, reason + "; " + leftoverSummary(f.status.StillChanged)})
}

// begin starts a step: recorded in the status, the search attributes (see upsertsStep) and the Web UI's current
// details.
func (f *failover) begin(ctx workflow.Context, name Step) {
	f.beginStep(ctx, name, f.upsertsStep(ctx, name))
}

// beginStep starts a step, upserting FailoverStep when upsert is set (see beginQuietly).
func (f *failover) beginStep(ctx workflow.Context, name Step, upsert bool) {
	if name == f.plan.Rollback.PointOfNoReturn {
		f.pastNoReturn = true
	}
	f.status.Step = name
	f.status.Steps = append(f.status.Steps, StepRecord{Name: name, Started: workflow.Now(ctx)})
	if upsert {
		_ = workflow.UpsertTypedSearchAttributes(ctx, StepKey.ValueSet(name))
	}
	f.publish(ctx)
}

// end closes the current step with a result.
func (f *failover) end(ctx workflow.Context, result StepResult, detail string) {
	last := &f.status.Steps[len(f.status.Steps)-1]
	last.Ended, last.Result, last.Detail = workflow.Now(ctx), result, detail
	f.timeStep(ctx, *last)
	f.emit(ctx, activities.Event{Type: activities.EventStep, Step: last.Name, Result: result, Detail: detail, StepSeconds: last.Seconds()})
	f.publish(ctx)
}

// stepFailed closes the current step as failed and returns the stop for the workflow to act on.
func (f *failover) stepFailed(ctx workflow.Context, outcome Outcome, format string, args ...any) *stop {
	reason := fmt.Sprintf(format, args...)
	f.end(ctx, ResultFailed, reason)
	return &stop{Outcome: outcome, Reason: reason}
}

// finish records the outcome everywhere and returns the result. Business outcomes are results, not errors, so
// the Web UI lists them with their outcome search attribute.
func (f *failover) finish(ctx workflow.Context, s *stop) (Result, error) {
	if !f.legacy {
		// The outcome is recorded and published even when the run was cancelled.
		ctx, _ = workflow.NewDisconnectedContext(ctx)
	}
	f.status.Step, f.status.Outcome, f.status.Reason = StepDone, s.Outcome, s.Reason
	if s.Outcome != Succeeded {
		f.status.RTOSeconds = 0
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, StepKey.ValueSet(StepDone), OutcomeKey.ValueSet(s.Outcome))
	f.releaseDrillSchedules(ctx)
	f.judgeSLA(ctx, s.Outcome)
	f.publish(ctx)
	f.countOutcome(ctx, s.Outcome)
	f.emit(ctx, activities.Event{Type: activities.EventOutcome, Outcome: s.Outcome, Reason: s.Reason, RTOSeconds: f.status.RTOSeconds,
		StillChanged: leftoverLines(f.status.StillChanged), RPOSeconds: f.status.RPOSeconds,
		SLA: slaLine(f.status.SLA), SLABreaches: f.status.SLA.BreachKinds()})
	f.drainEvents(ctx)
	f.holdForRepeats(ctx)
	workflow.GetLogger(ctx).Info("failover finished", "outcome", s.Outcome, "reason", s.Reason)
	res := Result{Outcome: s.Outcome, Reason: s.Reason, Service: f.plan.Service, From: f.req.From, To: f.req.To,
		RTOSeconds: f.status.RTOSeconds, Steps: f.status.Steps, StillChanged: f.status.StillChanged,
		RPOSeconds: f.status.RPOSeconds, SLA: f.status.SLA, Approvals: f.status.Approvals}
	if f.status.EtcdAfter != nil {
		res.Epoch = f.status.EtcdAfter.Epoch
	}
	return res, nil
}

// publish refreshes the running RTO and the Web UI's current details.
func (f *failover) publish(ctx workflow.Context) {
	if f.status.Outcome == "" {
		f.status.RTOSeconds = workflow.Now(ctx).Sub(f.status.FaultAt).Seconds()
	}
	workflow.SetCurrentDetails(ctx, f.status.progressLine())
}

func isFenced(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == activities.ErrFenced
}
