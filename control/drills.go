package control

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/workflows"
)

// DrillRun is one finished drill of a service and its report.
type DrillRun struct {
	WorkflowID string                `json:"workflow_id"`
	RunID      string                `json:"run_id"`
	Started    time.Time             `json:"started"`
	Result     workflows.DrillResult `json:"result"`
}

// Drills lists the service's finished drills, oldest first, at most limit (the latest ones), with their reports.
// Drills that ended without a report (terminated, failed workflows) are left out.
func Drills(ctx context.Context, tc client.Client, service string, limit int) ([]DrillRun, error) {
	if service == "" || strings.ContainsAny(service, `'"\ `) {
		return nil, fmt.Errorf("--service %q: give the plan's service name, e.g. payments", service)
	}
	query := fmt.Sprintf("WorkflowType = 'Drill' AND FailoverService = '%s' AND ExecutionStatus = 'Completed'", service)
	var runs []DrillRun
	var token []byte
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 100, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list drills of %s: %w", service, err)
		}
		for _, e := range resp.GetExecutions() {
			if e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				continue
			}
			runs = append(runs, DrillRun{WorkflowID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(),
				Started: e.GetStartTime().AsTime()})
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	slices.SortFunc(runs, func(a, b DrillRun) int { return a.Started.Compare(b.Started) })
	if len(runs) > limit {
		runs = runs[len(runs)-limit:]
	}
	for i := range runs {
		if err := tc.GetWorkflow(ctx, runs[i].WorkflowID, runs[i].RunID).Get(ctx, &runs[i].Result); err != nil {
			return nil, fmt.Errorf("drill %s: %w", runs[i].WorkflowID, err)
		}
	}
	return runs, nil
}
