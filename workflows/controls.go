package workflows

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// Updates an operator sends to stop or hold a running failover, with the same proofs as approve and reject.
const (
	AbortUpdate  = "abort"  // before the cutover: end aborted, nothing changed; after it: roll back per the plan
	PauseUpdate  = "pause"  // hold before the next change until resume
	ResumeUpdate = "resume" // end a pause
)

// ControlKind is the DecisionKind of operator controls in proofs and in the recorded decisions: they answer no
// pending decision.
const ControlKind DecisionKind = "operator-control"

// operatorControls is the change ID under which abort and pause first change what a run does.
const operatorControls = "operator-controls"

// RefusedControl is the refusal of a control that does not apply now: the failover has ended or is rolling back,
// is already aborted, is paused already (pause) or is not paused (resume).
const RefusedControl = "ControlNotApplicable"

// registerControls installs the abort, pause and resume updates. Their validator checks the proof and that the
// person may approve, like a vote's; the handler records the control and the workflow acts on it at its next
// checkpoint (the approval wait, or before each change).
func (f *failover) registerControls(ctx workflow.Context) error {
	return registerUpdates(ctx, []string{AbortUpdate, PauseUpdate, ResumeUpdate}, f.control, f.validateControl)
}

// validateControl refuses a control the workflow must not record, with a Refused... type.
func (f *failover) validateControl(ctx workflow.Context, control string, req ApprovalRequest) error {
	if err := f.checkClick(req); err != nil {
		return err
	}
	switch {
	case f.status.Outcome != "" || f.status.Step == StepRollback || f.status.Step == StepDone:
		return refuse(RefusedControl, "nothing to %s: failover %s is at step %s", control, f.status.Service, f.status.Step)
	case req.PlanHash != f.req.PlanHash:
		return refuse(RefusedStalePlan, "stale %s: it names plan %q but this failover runs plan %q", control, req.PlanHash, f.req.PlanHash)
	case f.abortedBy != "":
		return refuse(RefusedControl, "already aborted by %s", f.abortedBy)
	case control == PauseUpdate && f.status.Paused:
		return refuse(RefusedControl, "already paused by %s: resume it first", f.status.PausedBy)
	case control == ResumeUpdate && !f.status.Paused:
		return refuse(RefusedControl, "not paused: nothing to resume")
	}
	ap := f.req.Plan.Approval
	if !ap.HasPeople() {
		if req.By == "" || !slices.Contains(ap.Approvers, req.By) {
			return refuse(RefusedNotApprover, "%q may not %s: not in the plan's approval.approvers", req.By, control)
		}
		return nil
	}
	v, err := f.checkVoter(ctx, ControlKind, control, req)
	if err != nil {
		return err
	}
	if !ap.MayApprove(v.Person) {
		return refuse(RefusedNotApprover, "%s may not %s: not in the plan's approval.approvers", v.Person, control)
	}
	return nil
}

// control records an operator's control; the workflow acts on it at its next checkpoint.
func (f *failover) control(ctx workflow.Context, control string, req ApprovalRequest) DecisionState {
	workflow.GetVersion(ctx, operatorControls, workflow.DefaultVersion, 1) // marks runs whose path a control changed
	a := f.record(ctx, control, ControlKind, req)
	f.emit(ctx, activities.Event{Type: activities.EventControl, Step: f.status.Step, DecisionKind: ControlKind, Actor: a.By,
		Via: a.Via, Proof: a.Proven(), Decision: control, Detail: req.Comment})
	switch control {
	case AbortUpdate:
		f.abortedBy = a.By
	case PauseUpdate:
		f.status.Paused, f.status.PausedBy = true, a.By
	case ResumeUpdate:
		f.status.Paused, f.status.PausedBy = false, ""
	}
	f.publish(ctx)
	return DecisionState{Kind: ControlKind, Outcome: control}
}

// checkpoint holds while the failover is paused, then returns the stop of an abort, or nil to carry on. Before
// the cutover an abort ends the run aborted; after it the caller rolls back.
func (f *failover) checkpoint(ctx workflow.Context) *stop {
	if f.status.Paused {
		_ = workflow.Await(ctx, func() bool { return !f.status.Paused || f.abortedBy != "" || ctx.Err() != nil })
	}
	switch {
	case f.abortedBy == "":
		return nil
	case f.changesBegan:
		return &stop{RolledBack, fmt.Sprintf("aborted by %s after %s", f.abortedBy, f.status.Step)}
	}
	return &stop{Aborted, fmt.Sprintf("aborted by %s before the cutover: nothing was changed", f.abortedBy)}
}
