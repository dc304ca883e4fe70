package control

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/failover/failover/workflows"
)

// ErrFailoverInFlight is what StartDrill returns while a real failover of the service runs: a drill never runs
// beside one.
var ErrFailoverInFlight = errors.New("a failover of this service is in flight")

// ErrDrillRunning is what StartDrill returns while a drill of the service runs.
var ErrDrillRunning = errors.New("a drill of this service is already running")

// DrillStarter starts workflows and describes them; client.Client is one.
type DrillStarter interface {
	Starter
	Describer
}

// StartDrill starts the service's drill as workflows.DrillID(service), refusing up front (ErrFailoverInFlight)
// while failover-<service> runs; the drill checks again itself before it injects anything. The request should
// have passed Validate.
func StartDrill(ctx context.Context, t DrillStarter, req workflows.DrillRequest) (client.WorkflowRun, error) {
	service := req.Plan.Service
	if open, err := isOpen(ctx, t, workflows.WorkflowID(service)); err != nil {
		return nil, err
	} else if open {
		return nil, fmt.Errorf("drill %s: %w (%s): wait until it ends; a drill never runs beside a real failover",
			service, ErrFailoverInFlight, workflows.WorkflowID(service))
	}
	return startExclusive(ctx, t, DrillOptions(req), workflows.Drill, req, ErrDrillRunning)
}

// DrillOptions are the options a drill starts with, by hand or from a schedule (which replaces the ID).
func DrillOptions(req workflows.DrillRequest) client.StartWorkflowOptions {
	fault := "none (a forced switchover)"
	if req.Fault != nil {
		fault = req.Fault.String()
	}
	return client.StartWorkflowOptions{
		ID:                    workflows.DrillID(req.Plan.Service),
		TaskQueue:             workflows.TaskQueue,
		WorkflowTaskTimeout:   workflows.WorkflowTaskTimeout,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         fmt.Sprintf("DRILL %s: %s → %s, soak %s", req.Plan.Service, req.From, req.To, req.Soak),
		StaticDetails: fmt.Sprintf("plan %s, started by %s; fault hook %s; its failover and failback run as %s",
			req.PlanHash, req.By, fault, workflows.WorkflowID(req.Plan.Service)),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ServiceKey.ValueSet(req.Plan.Service),
			workflows.FromKey.ValueSet(req.From), workflows.ToKey.ValueSet(req.To), workflows.DrillKey.ValueSet(true),
			workflows.StepKey.ValueSet(workflows.StepStart)),
	}
}

func isOpen(ctx context.Context, d Describer, id string) (bool, error) {
	desc, err := Latest(ctx, d, id)
	if err != nil {
		return false, err
	}
	return desc != nil && desc.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}
