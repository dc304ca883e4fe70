package control

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/workflows"
)

// Joiner sends a signal and starts the workflow when none runs; client.Client is one.
type Joiner interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
}

// Join delivers a firing alert to the service's failover with workflows.AlertSignal, starting the failover with
// req when none runs (Signal-With-Start: concurrent duplicates attach to one run). The options are Start's,
// except that a running failover is joined instead of refused.
func Join(ctx context.Context, t Joiner, req workflows.Request, alert workflows.Alert) (client.WorkflowRun, error) {
	opts := startOptions(req, fmt.Sprintf(": alert %s (%s, fingerprint %s, group %s)",
		alert.Alertname, alert.Severity, alert.Fingerprint, alert.GroupKey))
	opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
	run, err := t.SignalWithStartWorkflow(ctx, opts.ID, workflows.AlertSignal, alert, opts, workflows.Failover, req)
	if err != nil {
		return nil, fmt.Errorf("signal-with-start %s: %w", opts.ID, err)
	}
	return run, nil
}

// Signaler signals one workflow run; client.Client is one.
type Signaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// Signal delivers an alert to that very run of the failover. When the run has closed meanwhile the error wraps
// a *serviceerror.NotFound (see IsNotFound), so a closed run never receives an alert meant for it.
func Signal(ctx context.Context, t Signaler, workflowID, runID string, alert workflows.Alert) error {
	if err := t.SignalWorkflow(ctx, workflowID, runID, workflows.AlertSignal, alert); err != nil {
		return fmt.Errorf("signal %s: %w", workflowID, err)
	}
	return nil
}

// Describer describes a workflow run; client.Client is one.
type Describer interface {
	DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error)
}

// Latest describes the latest run of the workflow ID (running or closed), or returns nil when there is none.
func Latest(ctx context.Context, t Describer, workflowID string) (*client.WorkflowExecutionDescription, error) {
	desc, err := t.DescribeWorkflow(ctx, workflowID, "")
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	return desc, nil
}

// IsNotFound reports whether Temporal answered that the workflow or run does not exist (or has closed, for a
// signal to a run).
func IsNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
