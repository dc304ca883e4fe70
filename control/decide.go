package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"

	"github.com/failover/failover/proof"
	"github.com/failover/failover/workflows"
)

// Updater sends a workflow Update; client.Client is one.
type Updater interface {
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
}

// Vote is one person's answer to the decision a failover waits for.
type Vote struct {
	WorkflowID string
	// RunID "" sends the vote to the latest run; a Slack button names its run, so an old message cannot decide
	// a later run.
	RunID string
	// Update is workflows.ApproveUpdate or workflows.RejectUpdate, or an operator control: workflows.AbortUpdate,
	// PauseUpdate or ResumeUpdate.
	Update  string
	Request workflows.ApprovalRequest
	// UpdateID, when set, makes a repeat of the same vote (a redelivered click) a no-op on the server.
	UpdateID string
}

// updates are the Updates a person sends with a Vote.
var updates = []string{workflows.ApproveUpdate, workflows.RejectUpdate, workflows.AbortUpdate, workflows.PauseUpdate, workflows.ResumeUpdate}

// Decide sends the vote as the workflow's approve or reject Update and waits for the decision's state. When the
// workflow's validator refuses the vote, the error wraps a *temporal.ApplicationError whose Type is one of
// workflows.Refused...: see Refusal.
func Decide(ctx context.Context, t Updater, v Vote) (workflows.DecisionState, error) {
	if !slices.Contains(updates, v.Update) {
		return workflows.DecisionState{}, fmt.Errorf("decide %s: update %q, want one of %v", v.WorkflowID, v.Update, updates)
	}
	h, err := t.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: v.WorkflowID, RunID: v.RunID, UpdateID: v.UpdateID, UpdateName: v.Update,
		WaitForStage: client.WorkflowUpdateStageCompleted, Args: []any{v.Request},
	})
	if err != nil {
		return workflows.DecisionState{}, fmt.Errorf("%s %s: %w", v.Update, v.WorkflowID, err)
	}
	var st workflows.DecisionState
	if err := h.Get(ctx, &st); err != nil { // the validator's refusal surfaces here, not from UpdateWorkflow
		return workflows.DecisionState{}, fmt.Errorf("%s %s refused: %w", v.Update, v.WorkflowID, err)
	}
	return st, nil
}

// Refusal returns the workflow's refusal of a vote: its type (one of workflows.Refused...) and the validator's
// sentence without the SDK's decoration. ok is false when err is no refusal (Temporal unreachable, no such run).
func Refusal(err error) (refusal, why string, ok bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return "", "", false
	}
	if !slices.Contains(workflows.Refusals, appErr.Type()) {
		return "", "", false
	}
	return appErr.Type(), appErr.Message(), true
}

// Sign returns the vote with a proof: signer signs that approver makes the vote's decision (v.Update) on the
// pending decision kind through via (proof.ViaCLI or proof.ViaSlack) at now, for the vote's run and plan hash. The
// Update ID becomes the proof's ID, so Temporal refuses the same proof a second time. The request's Slack click
// and user groups, when set, are signed too.
func (v Vote) Sign(signer ssh.Signer, kind workflows.DecisionKind, approver, via string, now time.Time) (Vote, error) {
	st := proof.Statement{WorkflowID: v.WorkflowID, RunID: v.RunID, PlanHash: v.Request.PlanHash, Kind: kind,
		Decision: v.Update, Approver: approver, Via: via, Time: now, Click: v.Request.Click, SlackGroups: v.Request.SlackGroups}
	pr, err := proof.Sign(st, signer)
	if err != nil {
		return Vote{}, fmt.Errorf("%s %s: %w", v.Update, v.WorkflowID, err)
	}
	v.Request.Proof, v.UpdateID = &pr, pr.ID()
	return v, nil
}
