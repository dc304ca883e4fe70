package activities

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
)

// FailoverInFlight reports whether the workflow (a service's failover-<service>) is running now: a drill asks
// before it injects anything, so it never touches a service during a real failover.
func (a *Activities) FailoverInFlight(ctx context.Context, workflowID string) (bool, error) {
	if a.Temporal == nil {
		return false, badInput("this worker has no Temporal client for drills: set Activities.Temporal")
	}
	desc, err := a.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	return desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}
