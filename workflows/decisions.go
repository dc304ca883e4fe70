package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
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
	RefusedNothingPending = "NothingPending" // the failover waits for no decision now
	RefusedStalePlan      = "StalePlan"      // the vote names another plan hash than the failover runs
	RefusedNoVoter        = "NoVoter"        // the vote says nobody in By
	RefusedNotApprover    = "NotApprover"    // By is not in the plan's approval.approvers
	RefusedAlreadyVoted   = "AlreadyVoted"   // By already approved this decision
)

// ApprovalRequest is the argument of the approve and reject updates (from the CLI, Slack or the Web UI).
type ApprovalRequest struct {
	By string `json:"by"`
	// PlanHash must be this failover's plan hash, so a click on an old message cannot approve a new failover.
	PlanHash string `json:"plan_hash"`
	Via      string `json:"via,omitempty"` // cli, slack, web-ui
	Comment  string `json:"comment,omitempty"`
}

// Approval is one recorded decision.
type Approval struct {
	By       string       `json:"by"`
	Via      string       `json:"via"`
	Decision string       `json:"decision"` // approve, reject, or policy decisions like auto-approve
	For      DecisionKind `json:"for"`
	Comment  string       `json:"comment,omitempty"`
	At       time.Time    `json:"at"`
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

// registerDecisions installs the approve and reject updates. Validators refuse, before anything reaches history,
// an approver outside the plan's allow-list, a stale plan hash, a second vote by the same person, or a vote when
// nothing is pending: each with its Refused... type (validateVote).
func (f *failover) registerDecisions(ctx workflow.Context) error {
	for _, name := range []string{ApproveUpdate, RejectUpdate} {
		decision := name
		err := workflow.SetUpdateHandlerWithOptions(ctx, name,
			func(ctx workflow.Context, req ApprovalRequest) (DecisionState, error) {
				return f.vote(ctx, decision, req), nil
			},
			workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req ApprovalRequest) error {
				return f.validateVote(decision, req)
			}})
		if err != nil {
			return fmt.Errorf("register %s update: %w", name, err)
		}
	}
	return nil
}

// validateVote refuses a vote the workflow must not record, with an application error whose type (Refused...)
// says why. A validator writes nothing to history, so its errors can change without breaking replay.
func (f *failover) validateVote(decision string, req ApprovalRequest) error {
	p := f.status.Pending
	switch {
	case p == nil || p.Outcome != "":
		return refuse(RefusedNothingPending, "nothing to %s: failover %s is at step %s and waits for no decision", decision, f.status.Service, f.status.Step)
	case req.PlanHash != f.req.PlanHash:
		return refuse(RefusedStalePlan, "stale approval: it names plan %q but this failover runs plan %q (an older message or failover?)", req.PlanHash, f.req.PlanHash)
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

// refuse is a validator's refusal: an application error of the given Refused... type.
func refuse(refusal, format string, args ...any) error {
	return temporal.NewApplicationError(fmt.Sprintf(format, args...), refusal)
}

func (f *failover) vote(ctx workflow.Context, decision string, req ApprovalRequest) DecisionState {
	p := f.status.Pending
	f.status.Approvals = append(f.status.Approvals, Approval{
		By: req.By, Via: req.Via, Decision: decision, For: p.Kind, Comment: req.Comment, At: workflow.Now(ctx)})
	if decision == RejectUpdate {
		p.Outcome = RejectUpdate
	} else if p.Have++; p.Have >= p.Needed {
		p.Outcome = ApproveUpdate
	}
	f.emit(ctx, activities.Event{Type: activities.EventDecision, Step: f.status.Step, DecisionKind: p.Kind, Actor: req.By, Via: req.Via,
		Decision: decision, Detail: req.Comment, Needed: p.Needed, Have: p.Have, Result: p.Outcome, Voters: f.approvers(p)})
	f.publish(ctx)
	return DecisionState{Kind: p.Kind, Have: p.Have, Needed: p.Needed, Outcome: p.Outcome}
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
	f.status.Pending = &Pending{Kind: kind, Question: question, Needed: needed}
	f.publish(ctx)
	f.emit(ctx, activities.Event{Type: activities.EventDecisionNeeded, Step: f.status.Step, DecisionKind: kind, Question: question,
		Needed: needed, Evidence: f.status.Evidence, Preview: Preview(f.plan, f.req.From, f.req.To, f.active, f.weights)})
	asked := workflow.Now(ctx)
	ok, err := awaitWithTimeout(ctx, timeout, kind+" decision timeout "+timeout.String(),
		func() bool { return f.status.Pending.Outcome != "" || f.sourceRecovered })
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
