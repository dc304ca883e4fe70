package activities

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/plan"
)

// The evacuation's activities: read the per-service plans from the plan directory, and wait for a failover that
// the evacuation joined rather than started (a failover a person or an alert started before it).

// PlanBatch asks for some plans of an evacuation's plan directory.
type PlanBatch struct {
	Dir   string   `json:"dir"`
	Files []string `json:"files"`
}

// LoadedPlan is one plan as the worker reads it now, or why it cannot be read.
type LoadedPlan struct {
	File  string    `json:"file"`
	Plan  plan.Plan `json:"plan"`
	Hash  string    `json:"hash,omitempty"`
	Error string    `json:"error,omitempty"`
}

// LoadPlans reads and validates the batch's plans from the plan directory. A plan that no longer loads is returned
// with its error, not failed: the evacuation refuses that one service and carries on with the others. Reading is
// idempotent.
func (a *Activities) LoadPlans(_ context.Context, in PlanBatch) ([]LoadedPlan, error) {
	if in.Dir == "" {
		return nil, badInput("load plans: no plan directory")
	}
	out := make([]LoadedPlan, 0, len(in.Files))
	for _, f := range in.Files {
		if f != filepath.Base(f) || strings.HasPrefix(f, ".") {
			out = append(out, LoadedPlan{File: f, Error: "not a file name inside the plan directory"})
			continue
		}
		p, err := plan.Load(filepath.Join(in.Dir, f))
		if err != nil {
			out = append(out, LoadedPlan{File: f, Error: err.Error()})
			continue
		}
		out = append(out, LoadedPlan{File: f, Plan: p, Hash: p.Hash()})
	}
	return out, nil
}

// JoinedRun is how a failover the evacuation joined ended: the fields of workflows.Result the evacuation reports
// (this package cannot import workflows).
type JoinedRun struct {
	RunID      string  `json:"run_id"`
	Outcome    string  `json:"outcome"`
	Reason     string  `json:"reason,omitempty"`
	RTOSeconds float64 `json:"rto_seconds,omitempty"`
	LastStep   string  `json:"last_step,omitempty"`
	// Error is set when the run failed as a workflow (no outcome), e.g. it was terminated.
	Error string `json:"error,omitempty"`
}

// AwaitFailover waits for the running failover workflowID, which the evacuation did not start, to end, and returns
// its outcome. It heartbeats meanwhile, so a dead worker's wait is taken over by another worker within seconds;
// waiting twice is harmless.
func (a *Activities) AwaitFailover(ctx context.Context, workflowID string) (JoinedRun, error) {
	if a.Temporal == nil {
		return JoinedRun{}, badInput("await %s: the worker has no Temporal client for activities", workflowID)
	}
	desc, err := a.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return JoinedRun{}, fmt.Errorf("await %s: describe: %w", workflowID, err)
	}
	runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	stop := keepAlive(ctx, nil)
	defer stop()
	var res struct {
		Outcome    string  `json:"outcome"`
		Reason     string  `json:"reason"`
		RTOSeconds float64 `json:"rto_seconds"`
		Steps      []struct {
			Name string `json:"name"`
		} `json:"steps"`
	}
	err = a.Temporal.GetWorkflow(ctx, workflowID, runID).Get(ctx, &res)
	run := JoinedRun{RunID: runID, Outcome: res.Outcome, Reason: res.Reason, RTOSeconds: res.RTOSeconds}
	if n := len(res.Steps); n > 0 {
		run.LastStep = res.Steps[n-1].Name
	}
	if err != nil {
		if ctx.Err() != nil {
			return JoinedRun{}, fmt.Errorf("await %s: %w", workflowID, errors.Join(ctx.Err(), err))
		}
		run.Error = err.Error()
	}
	return run, nil
}

// TemporalClient is the one Temporal client method set the activities use.
type TemporalClient interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
	GetWorkflow(ctx context.Context, workflowID, runID string) client.WorkflowRun
	// ScheduleClient pauses and resumes drill schedules during a real failover (drillschedules.go).
	ScheduleClient() client.ScheduleClient
}
