package control

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/workflows"
)

// ErrRunClosed is what OpenStatus returns when the run has ended.
var ErrRunClosed = errors.New("that failover has ended")

// Querier asks a workflow run a query; client.Client is one.
type Querier interface {
	QueryWorkflowWithOptions(ctx context.Context, request *client.QueryWorkflowWithOptionsRequest) (*client.QueryWorkflowWithOptionsResponse, error)
}

// Status asks the failover run for its status (workflows.StatusQuery); runID "" means the latest run. A closed
// run answers too, as long as a worker runs: it replays the history to answer.
func Status(ctx context.Context, t Querier, workflowID, runID string) (workflows.Status, error) {
	return status(ctx, t, workflowID, runID, enumspb.QUERY_REJECT_CONDITION_NONE)
}

// OpenStatus is Status for a run that must still be open: for a closed run it returns ErrRunClosed, answered by
// the server without asking a worker.
func OpenStatus(ctx context.Context, t Querier, workflowID, runID string) (workflows.Status, error) {
	return status(ctx, t, workflowID, runID, enumspb.QUERY_REJECT_CONDITION_NOT_OPEN)
}

func status(ctx context.Context, t Querier, workflowID, runID string, reject enumspb.QueryRejectCondition) (workflows.Status, error) {
	res, err := t.QueryWorkflowWithOptions(ctx, &client.QueryWorkflowWithOptionsRequest{
		WorkflowID: workflowID, RunID: runID, QueryType: workflows.StatusQuery, QueryRejectCondition: reject,
	})
	if err != nil {
		return workflows.Status{}, fmt.Errorf("query the status of %s (is a failover worker running? it answers the query): %w", workflowID, err)
	}
	if res.QueryRejected != nil {
		return workflows.Status{}, fmt.Errorf("status of %s run %s: %w", workflowID, runID, ErrRunClosed)
	}
	var st workflows.Status
	if err := res.QueryResult.Get(&st); err != nil {
		return workflows.Status{}, fmt.Errorf("decode the status of %s (encrypted? use the worker's codec key): %w", workflowID, err)
	}
	return st, nil
}
