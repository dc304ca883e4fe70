package control

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/failover/failover/workflows"
)

// ErrEvacuationRunning is what StartEvacuation returns when an evacuation of that region (and kind) is running.
var ErrEvacuationRunning = errors.New("an evacuation of this region is already running")

// IsEvacuation reports whether a workflow ID names an evacuation (workflows.EvacuationID) rather than a failover.
func IsEvacuation(workflowID string) bool {
	return strings.HasPrefix(workflowID, "evacuation-") || strings.HasPrefix(workflowID, "failback-")
}

// StartEvacuation starts the evacuation as workflows.EvacuationID(kind, region). While one runs it starts nothing
// and returns an error wrapping ErrEvacuationRunning. The request should have passed Validate.
func StartEvacuation(ctx context.Context, t Starter, req workflows.EvacuationRequest) (client.WorkflowRun, error) {
	id := workflows.EvacuationID(req.Kind, req.Region)
	opts := client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             workflows.TaskQueue,
		WorkflowTaskTimeout:   workflows.WorkflowTaskTimeout,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         fmt.Sprintf("%s of %s: %d services in %d waves", req.Kind, req.Region, len(req.Services), len(req.Waves)),
		StaticDetails: fmt.Sprintf("evacuation %s, plans %s, started by %s via %s; approve with `starter approve %s`",
			req.Hash, req.PlansDir, req.Trigger.By, req.Trigger.Source, id),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ServiceKey.ValueSet(id),
			workflows.FromKey.ValueSet(req.Region), workflows.StepKey.ValueSet(workflows.StepStart)),
	}
	return startExclusive(ctx, t, opts, workflows.Evacuation, req, ErrEvacuationRunning)
}

// EvacuationStatus asks the evacuation's latest run (runID "") or that run for its status
// (workflows.EvacuationStatusQuery).
func EvacuationStatus(ctx context.Context, t Querier, workflowID, runID string) (workflows.EvacuationStatus, error) {
	res, err := t.QueryWorkflowWithOptions(ctx, &client.QueryWorkflowWithOptionsRequest{
		WorkflowID: workflowID, RunID: runID, QueryType: workflows.EvacuationStatusQuery,
	})
	if err != nil {
		return workflows.EvacuationStatus{}, fmt.Errorf("query the status of %s (is a failover worker running? it answers the query): %w", workflowID, err)
	}
	var st workflows.EvacuationStatus
	if err := res.QueryResult.Get(&st); err != nil {
		return workflows.EvacuationStatus{}, fmt.Errorf("decode the status of %s (encrypted? use the worker's codec key): %w", workflowID, err)
	}
	return st, nil
}
