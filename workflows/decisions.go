package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/proof"
)

// Updates that answer the decision a failover is waiting for.
const (
	ApproveUpdate = "approve"
	RejectUpdate  = "reject"
)

// DecisionKind is what a pending decision is about: Pending.Kind, Approval.For, DecisionState.Kind and
// activities.Event.DecisionKind. It is an alias of string, like Step and Outcome.
type DecisionKind = string

// Decision kinds.
const (
	DecideFailover     DecisionKind = "approve-failover"    // go ahead with the failover (quorum applies)
	DecideInconclusive DecisionKind = "inconclusive-checks" // approve = carry on, reject = roll back
	DecideUndo         DecisionKind = "undo-past-no-return" // approve = roll back, reject = leave as is for a human
)

// Refusal types: the approve and reject updates' validator refuses a vote with a temporal.ApplicationError of one
// of these types, so callers tell the reasons apart with errors.As and Type(), never by the message's wording.
const (
	RefusedNothingPending = "NothingPending"  // the failover waits for no decision now
	RefusedStalePlan      = "StalePlan"       // the vote names another plan hash than the failover runs
	RefusedNoVoter        = "NoVoter"         // the vote says nobody in By
	RefusedNotApprover    = "NotApprover"     // By is not in the plan's approval.approvers
	RefusedAlreadyVoted   = "AlreadyVoted"    // the person already approved this decision (through any front door)
	RefusedUnsigned       = "Unsigned"        // no proof, and the plan has approval.people without allowUnsigned
	RefusedBadProof       = "BadProof"        // the proof is malformed, forged, signed by an untrusted key, or expired
	RefusedProofMismatch  = "ProofMismatch"   // the proof is for another run, plan, decision kind or decision
	RefusedUpdateID       = "ProofUpdateID"   // the Update ID is not the proof's ID (a replayed or reused proof)
	RefusedFourEyes       = "FourEyes"        // the person who requested the failover may not approve it
	RefusedRecorded       = "AlreadyRecorded" // this Slack click is recorded already (sent again, to any front door)
)

// Refusals lists every Refused... type.
var Refusals = []string{RefusedNothingPending, RefusedStalePlan, RefusedNoVoter, RefusedNotApprover, RefusedAlreadyVoted,
	RefusedUnsigned, RefusedBadProof, RefusedProofMismatch, RefusedUpdateID, RefusedFourEyes, RefusedRecorded, RefusedControl}

// ApprovalRequest is the argument of the approve and reject updates and of the operator controls (abort, pause,
// resume), from the CLI, Slack or the Web UI.
type ApprovalRequest struct {
	By string `json:"by"`
	// PlanHash must be this failover's plan hash, so a click on an old message cannot approve a new failover.
	PlanHash string `json:"plan_hash"`
	Via      string `json:"via,omitempty"` // cli, slack, web-ui
	Comment  string `json:"comment,omitempty"`
	// Proof is the signed decision, required when the plan names approval.people (unless allowUnsigned). Via
	// slack, By is the Slack member ID that clicked.
	Proof *proof.Proof `json:"proof,omitempty"`
	// Click identifies the Slack click, and SlackGroups are the Slack user groups the front door found the user
	// in at the click, on plans without approval.people; with people, the proof's (signed) count instead. A click
	// already recorded is refused as AlreadyRecorded.
	Click       string   `json:"click,omitempty"`
	SlackGroups []string `json:"slack_groups,omitempty"`
}

// Approval is one recorded decision: a vote, a policy decision, or an operator control (For ControlKind).
type Approval struct {
	By       string       `json:"by"`
	Via      string       `json:"via"`
	Decision string       `json:"decision"` // approve, reject, or policy decisions like auto-approve
	For      DecisionKind `json:"for"`
	Comment  string       `json:"comment,omitempty"`
	At       time.Time    `json:"at"`
	// With approval.people: the person (also By), the signing key's fingerprint, the Slack user that clicked
	// (via slack) and the proof's ID. Via is web-ui for an unsigned vote.
	Person    string `json:"person,omitempty"`
	Key       string `json:"key,omitempty"`
	SlackUser string `json:"slack_user,omitempty"`
	ProofID   string `json:"proof_id,omitempty"`
	// SlackClick is the Slack click that sent the decision, so a front door that receives it again (any replica)
	// answers it as recorded; SlackGroups are the Slack user groups the front door found the user in at the click.
	SlackClick  string   `json:"slack_click,omitempty"`
	SlackGroups []string `json:"slack_groups,omitempty"`
}

// Pending is a decision the workflow waits for.
type Pending struct {
	Kind     DecisionKind `json:"kind"`
	Question string       `json:"question"`
	Needed   int          `json:"needed"`
	Have     int          `json:"have"`
	// Outcome is set once decided: approve or reject.
	Outcome string `json:"outcome,omitempty"`
}

// DecisionState is what an approve or reject update returns.
type DecisionState struct {
	Kind    DecisionKind `json:"kind"`
	Have    int          `json:"have"`
	Needed  int          `json:"needed"`
	Outcome string       `json:"outcome,omitempty"`
}

// registerDecisions records who requested the run (fourEyes reads it) and installs the approve and reject updates. Validators refuse, before anything reaches history,
// a vote when nothing is pending, a stale plan hash, a vote without a valid proof (plans with approval.people), an
// approver outside the plan's approvers, the requester under four eyes, or a second vote by the same person: each
// with its Refused... type (validateVote).
func (f *failover) registerDecisions(ctx workflow.Context) error {
	f.status.Requester = f.requester(ctx)
	return registerUpdates(ctx, []string{ApproveUpdate, RejectUpdate}, f.vote, f.validateVote)
}

// registerUpdates installs one update per name that takes an ApprovalRequest: handle records it, validate refuses
// it before anything reaches history. Both get the update's name.
func registerUpdates(ctx workflow.Context, names []string,
	handle func(ctx workflow.Context, name string, req ApprovalRequest) DecisionState,
	validate func(ctx workflow.Context, name string, req ApprovalRequest) error) error {
	for _, name := range names {
		err := workflow.SetUpdateHandlerWithOptions(ctx, name,
			func(ctx workflow.Context, req ApprovalRequest) (DecisionState, error) {
				return handle(ctx, name, req), nil
			},
			workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req ApprovalRequest) error {
				return validate(ctx, name, req)
			}})
		if err != nil {
			return fmt.Errorf("register %s update: %w", name, err)
		}
	}
	return nil
}

// validateVote refuses a vote the workflow must not record, with an application error whose type (Refused...)
// says why. A validator writes nothing to history and is not run on replay, so its errors can change without
// breaking replay.
func (f *failover) validateVote(ctx workflow.Context, decision string, req ApprovalRequest) error {
	if err := f.checkClick(req); err != nil {
		return err
	}
	p := f.status.Pending
	switch {
	case p == nil || p.Outcome != "":
		return refuse(RefusedNothingPending, "nothing to %s: failover %s is at step %s and waits for no decision", decision, f.status.Service, f.status.Step)
	case req.PlanHash != f.req.PlanHash:
		return refuse(RefusedStalePlan, "stale approval: it names plan %q but this failover runs plan %q (an older message or failover?)", req.PlanHash, f.req.PlanHash)
	}
	ap := f.req.Plan.Approval
	if !ap.HasPeople() {
		return f.validateLegacyVote(decision, req)
	}
	v, err := f.checkVoter(ctx, p.Kind, decision, req)
	if err != nil {
		return err
	}
	switch {
	case !ap.MayApprove(v.Person):
		return refuse(RefusedNotApprover, "%s may not decide: not in the plan's approval.approvers", v.Person)
	case ap.FourEyes && decision == ApproveUpdate && f.status.Requester.Proven == RequesterSigned && v.Person == f.status.Requester.Person:
		return refuse(RefusedFourEyes, "%s requested this failover (signed start) and may not approve it (approval.fourEyes): ask another approver",
			v.Person)
	}
	for _, a := range f.status.Approvals {
		if a.For == p.Kind && a.personOrBy() == v.Person && a.Decision == ApproveUpdate && decision == ApproveUpdate {
			return refuse(RefusedAlreadyVoted, "%s already approved (via %s): one person is one vote, and quorum needs %d distinct people", v.Person, a.Via, p.Needed)
		}
	}
	return nil
}

// checkClick refuses a Slack click the workflow has recorded already: a replay, or a redelivery to another
// front-door replica, whose own proof (signed anew) would otherwise not be caught by Temporal's Update-ID dedup.
func (f *failover) checkClick(req ApprovalRequest) error {
	click := voterOf(req).Click
	if click == "" {
		return nil
	}
	if a, ok := RecordedClick(f.status.Approvals, click); ok {
		return refuse(RefusedRecorded, "this Slack click is recorded already: %s's %s via %s at %s; nothing changed",
			a.By, a.Decision, a.Via, a.At.UTC().Format(time.RFC3339))
	}
	return nil
}

// RecordedClick finds the recorded decision sent by this Slack click, so front doors and validators
// answer a click they see again from the workflow's own record.
func RecordedClick(approvals []Approval, click string) (Approval, bool) {
	for _, a := range approvals {
		if click != "" && a.SlackClick == click {
			return a, true
		}
	}
	return Approval{}, false
}

// validateLegacyVote checks a vote on a plan without approval.people: By is believed as written and must be in
// approval.approvers.
func (f *failover) validateLegacyVote(decision string, req ApprovalRequest) error {
	p := f.status.Pending
	switch {
	case req.By == "":
		return refuse(RefusedNoVoter, "by: say who decides (--as NAME)")
	case !slices.Contains(f.req.Plan.Approval.Approvers, req.By):
		return refuse(RefusedNotApprover, "%s may not decide: not in the plan's approval.approvers", req.By)
	}
	for _, a := range f.status.Approvals {
		if a.For == p.Kind && a.By == req.By && a.Decision == ApproveUpdate && decision == ApproveUpdate {
			return refuse(RefusedAlreadyVoted, "%s already approved: quorum needs %d distinct approvers", req.By, p.Needed)
		}
	}
	return nil
}

// Proven says how a decision on a plan with approval.people was proven: the signing key's fingerprint, the Slack
// user the front door signed for, and the proof's ID; "unsigned" for a vote the plan took without a proof; "" for
// legacy and policy decisions.
func (a Approval) Proven() string {
	switch {
	case a.Person == "":
		return ""
	case a.ProofID == "":
		return "unsigned"
	case a.SlackUser != "" && len(a.SlackGroups) > 0:
		return fmt.Sprintf("Slack user %s (in user groups %s at the click), front-door key %s, %s", a.SlackUser,
			strings.Join(a.SlackGroups, ", "), a.Key, a.ProofID)
	case a.SlackUser != "":
		return fmt.Sprintf("Slack user %s, front-door key %s, %s", a.SlackUser, a.Key, a.ProofID)
	}
	return fmt.Sprintf("key %s, %s", a.Key, a.ProofID)
}

// personOrBy is who cast a recorded vote: the person, or By for votes recorded without one (legacy plans, and
// histories from before votes named people).
func (a Approval) personOrBy() string {
	if a.Person != "" {
		return a.Person
	}
	return a.By
}

// refuse is a validator's refusal: an application error of the given Refused... type.
func refuse(refusal, format string, args ...any) error {
	return temporal.NewApplicationError(fmt.Sprintf(format, args...), refusal)
}

func (f *failover) vote(ctx workflow.Context, decision string, req ApprovalRequest) DecisionState {
	p := f.status.Pending
	a := f.record(ctx, decision, p.Kind, req)
	if decision == RejectUpdate {
		p.Outcome = RejectUpdate
	} else if p.Have++; p.Have >= p.Needed {
		p.Outcome = ApproveUpdate
	}
	f.emit(ctx, activities.Event{Type: activities.EventDecision, Step: f.status.Step, DecisionKind: p.Kind, Actor: a.By, Via: a.Via,
		Proof: a.Proven(), Decision: decision, Detail: req.Comment, Needed: p.Needed, Have: p.Have, Result: p.Outcome, Voters: f.approvers(p)})
	f.publish(ctx)
	return DecisionState{Kind: p.Kind, Have: p.Have, Needed: p.Needed, Outcome: p.Outcome}
}

// record records a person's decision (a vote or an operator control) in the status and returns it.
func (f *failover) record(ctx workflow.Context, decision string, kind DecisionKind, req ApprovalRequest) Approval {
	a := Approval{By: req.By, Via: req.Via, Decision: decision, For: kind, Comment: req.Comment, At: workflow.Now(ctx)}
	v := voterOf(req)
	if f.req.Plan.Approval.HasPeople() {
		a.By, a.Person, a.Via, a.Key, a.SlackUser, a.ProofID = v.Person, v.Person, v.Via, v.Key, v.SlackUser, v.ProofID
	}
	a.SlackClick, a.SlackGroups = v.Click, v.SlackGroups
	f.status.Approvals = append(f.status.Approvals, a)
	return a
}

// approvers lists who approved the pending decision, once it is approved (for the Slack card); else nil.
func (f *failover) approvers(p *Pending) []string {
	if p.Outcome != ApproveUpdate {
		return nil
	}
	var names []string
	for _, a := range f.status.Approvals {
		if a.For == p.Kind && a.Decision == ApproveUpdate && a.By != "policy" {
			names = append(names, a.By)
		}
	}
	return names
}

// decide waits up to timeout for a decision and returns approve, reject or "" (no decision in time).
func (f *failover) decide(ctx workflow.Context, kind DecisionKind, question string, needed int, timeout time.Duration) string {
	needed = f.approvalsNeeded(ctx, kind, needed)
	f.status.Pending = &Pending{Kind: kind, Question: question, Needed: needed}
	f.publish(ctx)
	f.emit(ctx, activities.Event{Type: activities.EventDecisionNeeded, Step: f.status.Step, DecisionKind: kind, Question: question,
		Needed: needed, Evidence: f.status.Evidence, Preview: Preview(f.plan, f.req.From, f.req.To, f.active, f.weights)})
	asked := workflow.Now(ctx)
	ok, err := awaitWithTimeout(ctx, timeout, kind+" decision timeout "+timeout.String(),
		func() bool { return f.status.Pending.Outcome != "" || f.sourceRecovered || f.abortedBy != "" })
	outcome := f.status.Pending.Outcome
	f.status.Pending = nil
	f.timeDecision(ctx, kind, workflow.Now(ctx).Sub(asked))
	f.publish(ctx)
	if err != nil || !ok {
		return ""
	}
	return outcome
}

// recordPolicy records a decision the plan made, not a person.
func (f *failover) recordPolicy(ctx workflow.Context, kind DecisionKind, decision, why string) {
	f.status.Approvals = append(f.status.Approvals, Approval{
		By: "policy", Via: "plan", Decision: decision, For: kind, Comment: why, At: workflow.Now(ctx)})
	f.emit(ctx, activities.Event{Type: activities.EventDecision, Step: f.status.Step, DecisionKind: kind, Actor: "policy", Via: "plan",
		Decision: decision, Detail: why})
}
