package control

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/failover/failover/workflows"
)

// ErrAlreadyRunning is what Start returns when the service's failover is running already.
var ErrAlreadyRunning = errors.New("a failover of this service is already running")

// Starter starts workflows; client.Client is one.
type Starter interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
}

// Start starts the service's failover as workflows.WorkflowID(service). While one runs it starts nothing and
// returns an error wrapping ErrAlreadyRunning. The request should have passed Validate.
func Start(ctx context.Context, t Starter, req workflows.Request) (client.WorkflowRun, error) {
	opts := startOptions(req, "")
	// Where a failover worker runs in this process (the dev stack, tests, benchmarks), Temporal hands the first
	// workflow task back in the start's answer instead of through a task queue poll: one round trip less before
	// detect. Elsewhere (the starter CLI runs no worker) the SDK does not ask for it. The SDK warns that an eager
	// start may run on a local worker whatever its build: no process that ships runs a worker next to Start.
	opts.EnableEagerStart = true
	return startExclusive(ctx, t, opts, workflows.Failover, req, ErrAlreadyRunning)
}

// startExclusive starts a workflow unless one with its ID is open; then it returns an error wrapping errRunning.
func startExclusive(ctx context.Context, t Starter, opts client.StartWorkflowOptions, workflow, arg any, errRunning error) (client.WorkflowRun, error) {
	opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
	// Without this the SDK quietly returns the running workflow instead of saying one is running.
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	run, err := t.ExecuteWorkflow(ctx, opts, workflow, arg)
	var running *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &running) {
		return nil, fmt.Errorf("start %s: %w", opts.ID, errRunning)
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", opts.ID, err)
	}
	return run, nil
}

// startOptions are the options every failover starts with: its ID, task queue, workflow task timeout, the
// summary and details the Web UI shows, and the search attributes. alert, when not empty, says which alert
// started it, in the details.
func startOptions(req workflows.Request, alert string) client.StartWorkflowOptions {
	id := workflows.WorkflowID(req.Plan.Service)
	summary := fmt.Sprintf("%s %s: %s → %s", req.Kind, req.Plan.Service, req.From, req.To)
	if req.Trigger.Alert != "" {
		summary += fmt.Sprintf(" (alert %s)", req.Trigger.Alert)
	}
	return client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             workflows.TaskQueue,
		WorkflowTaskTimeout:   workflows.WorkflowTaskTimeout,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         summary,
		StaticDetails: fmt.Sprintf("plan %s, started by %s via %s%s; approve with `starter approve %s --as NAME` or the `%s` update",
			req.PlanHash, req.Trigger.By, req.Trigger.Source, alert, id, workflows.ApproveUpdate),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ServiceKey.ValueSet(req.Plan.Service),
			workflows.FromKey.ValueSet(req.From), workflows.ToKey.ValueSet(req.To),
			workflows.StepKey.ValueSet(workflows.StepStart)),
	}
}
