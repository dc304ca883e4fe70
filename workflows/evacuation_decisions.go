package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"
)

// An evacuation takes the same Updates as a failover, with the same proofs, for the whole evacuation: approve and
// reject answer its one decision; abort, pause and resume apply to all its services. Decisions name the
// evacuation's hash (EvacuationRequest.Hash) where a failover's name its plan hash.

// registerDecisions installs the approve, reject, abort, pause and resume updates.
func (e *evacuation) registerDecisions(ctx workflow.Context) error {
	return registerUpdates(ctx, []string{ApproveUpdate, RejectUpdate, AbortUpdate, PauseUpdate, ResumeUpdate},
		e.decide, e.validateDecision)
}

// validateDecision refuses, with a Refused... type, a decision the evacuation must not record.
func (e *evacuation) validateDecision(ctx workflow.Context, decision string, req ApprovalRequest) error {
	kind := ControlKind
	switch decision {
	case ApproveUpdate, RejectUpdate:
		kind = DecideEvacuation
		if e.holdingDown() {
			return refuse(RefusedNothingPending, "nothing to %s yet: failback %s is %s; it asks for its decision once the "+
				"hold-down passed", decision, e.id, e.carry.Hold.Line(workflow.Now(ctx)))
		}
		if e.pending == nil || e.pending.Outcome != "" {
			return refuse(RefusedNothingPending, "nothing to %s: evacuation %s is at step %s and waits for no decision", decision, e.id, e.step)
		}
	case AbortUpdate:
		if e.outcome != "" || e.abortedBy != "" {
			return refuse(RefusedControl, "nothing to abort: evacuation %s is %s", e.id, orDefault(e.outcome, "aborting"))
		}
	case PauseUpdate:
		if e.outcome != "" || e.carry.Paused {
			return refuse(RefusedControl, "nothing to pause: evacuation %s is %s", e.id, orDefault(e.outcome, "paused already"))
		}
	case ResumeUpdate:
		if e.outcome != "" || (!e.carry.Paused && e.carry.Held == "") {
			return refuse(RefusedControl, "nothing to resume: evacuation %s is neither paused nor held", e.id)
		}
	}
	if a, ok := RecordedClick(e.carry.Approvals, voterOf(req).Click); ok {
		return refuse(RefusedRecorded, "this Slack click is recorded already: %s's %s via %s at %s; nothing changed",
			a.By, a.Decision, a.Via, a.At.UTC().Format(time.RFC3339))
	}
	if req.PlanHash != e.req.Hash {
		return refuse(RefusedStalePlan, "stale %s: it names %q but evacuation %s runs %q", decision, req.PlanHash, e.id, e.req.Hash)
	}
	ap := e.req.Approval.Approval
	if !ap.HasPeople() {
		if req.By == "" || !slices.Contains(ap.Approvers, req.By) {
			return refuse(RefusedNotApprover, "%q may not %s: not in the evacuation's approval.approvers", req.By, decision)
		}
		return e.validateRepeat(kind, decision, req.By)
	}
	v, err := checkProof(ctx, ap, e.req.Hash, kind, decision, req)
	if err != nil {
		return err
	}
	switch {
	case !ap.MayApprove(v.Person):
		return refuse(RefusedNotApprover, "%s may not %s: not in the evacuation's approval.approvers", v.Person, decision)
	case ap.FourEyes && decision == ApproveUpdate && v.Person == e.req.Trigger.By:
		return refuse(RefusedFourEyes, "%s requested this evacuation and may not approve it (approval.fourEyes)", v.Person)
	}
	return e.validateRepeat(kind, decision, v.Person)
}

// validateRepeat refuses a second approval by the same person: quorum counts distinct people.
func (e *evacuation) validateRepeat(kind DecisionKind, decision, person string) error {
	if kind != DecideEvacuation || decision != ApproveUpdate {
		return nil
	}
	for _, a := range e.carry.Approvals {
		if a.For == kind && a.Decision == ApproveUpdate && a.personOrBy() == person {
			return refuse(RefusedAlreadyVoted, "%s already approved: quorum needs %d distinct people", person, e.pending.Needed)
		}
	}
	return nil
}

// decide records a validated decision and applies it.
func (e *evacuation) decide(ctx workflow.Context, decision string, req ApprovalRequest) DecisionState {
	kind := ControlKind
	if decision == ApproveUpdate || decision == RejectUpdate {
		kind = DecideEvacuation
	}
	a := Approval{By: req.By, Via: req.Via, Decision: decision, For: kind, Comment: req.Comment, At: workflow.Now(ctx)}
	v := voterOf(req)
	if e.req.Approval.HasPeople() {
		a.By, a.Person, a.Via, a.Key, a.SlackUser, a.ProofID = v.Person, v.Person, v.Via, v.Key, v.SlackUser, v.ProofID
	}
	a.SlackClick, a.SlackGroups = v.Click, v.SlackGroups // a click seen again, by any front door, is answered from this
	e.carry.Approvals = append(e.carry.Approvals, a)
	state := DecisionState{Kind: kind, Outcome: decision}
	released := e.carry.Held // what a resume lifts: the blast-radius hold, or a pause
	if released == "" && e.carry.Paused {
		released = "the pause by " + e.carry.PausedBy
	}
	switch decision {
	case ApproveUpdate:
		if e.pending.Have++; e.pending.Have >= e.pending.Needed {
			e.pending.Outcome = ApproveUpdate
		}
		state = DecisionState{Kind: kind, Have: e.pending.Have, Needed: e.pending.Needed, Outcome: e.pending.Outcome}
	case RejectUpdate:
		e.pending.Outcome = RejectUpdate
		state = DecisionState{Kind: kind, Have: e.pending.Have, Needed: e.pending.Needed, Outcome: RejectUpdate}
	case AbortUpdate:
		e.abortedBy = a.By
	case PauseUpdate:
		e.carry.Paused, e.carry.PausedBy = true, a.By
		if !e.holdingDown() { // a failback's hold-down goes on; nothing starts after it until resumed
			e.setStep(ctx, StepHeld)
		}
	case ResumeUpdate:
		e.carry.Paused, e.carry.PausedBy, e.carry.Held = false, "", ""
		e.carry.Rearmed = e.failed
		copy(e.carry.RearmedWave, e.waveFailed)
		if e.carry.Approved {
			e.setStep(ctx, StepWaves)
		}
	}
	if decision != ResumeUpdate {
		released = ""
	}
	e.recordDecision(ctx, a, state, released)
	e.publish(ctx)
	return state
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
