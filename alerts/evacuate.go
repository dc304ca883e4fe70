package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/failover/failover/control"
	"github.com/failover/failover/workflows"
)

// ErrNoEvacuation is wrapped by Handler.Evacuate when no region-wide route evacuates the region.
var ErrNoEvacuation = errors.New("no evacuation is configured for the region")

// evacuate delivers a firing region-wide alert (t.Evacuation set): while the region's evacuation
// (workflows.EvacuationID) runs, the alert joins it and nothing else starts; an alert that began before the latest
// evacuation of the region closed was handled by it; otherwise it reads the evacuation file as it is now and starts
// the evacuation with the alert's evidence. As for a failover (workflows/outage.go), the start must reach Temporal
// within workflows.AlertJoinWindow of the read it was decided on, and Temporal refuses a second open run
// (control.StartEvacuation), so repeats, duplicates and other front doors start one evacuation between them.
func (h *Handler) evacuate(ctx context.Context, res *Result, t Target, sig workflows.Alert, trigger workflows.Trigger,
	evidence []workflows.Alert) error {
	id := res.WorkflowID
	var req *workflows.EvacuationRequest
	for attempt := 1; ; attempt++ {
		read := time.Now()
		desc, err := control.Latest(ctx, h.o.Temporal, id)
		if err != nil {
			return err
		}
		if desc != nil && desc.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			res.Action, res.RunID = ActionAttached, desc.WorkflowExecution.RunID
			res.Reason = fmt.Sprintf("the evacuation of %s is running: joined, nothing else started", t.From)
			return nil
		}
		if desc != nil && desc.WorkflowCloseTime != nil && !sig.StartsAt.After(*desc.WorkflowCloseTime) {
			closed, run := *desc.WorkflowCloseTime, desc.WorkflowExecution.RunID
			outcome, _ := desc.TypedSearchAttributes.GetKeyword(workflows.OutcomeKey)
			res.Action, res.RunID = ActionIgnored, run
			res.Reason = fmt.Sprintf("already handled: the alert began at %s, before evacuation run %s closed at %s with outcome %q; "+
				"start another with `starter evacuate --evacuation %s` if one is needed",
				sig.StartsAt.Format(time.RFC3339), run, closed.Format(time.RFC3339), outcome, t.Evacuation.Path)
			return nil
		}
		if req == nil {
			// Read the file and its plans, then read the latest run again: the join window counts from that read.
			r, reason := h.evacuationRequest(t, sig, trigger, evidence)
			if reason != "" {
				res.Action, res.Reason = ActionRejected, reason
				return nil
			}
			req = &r
			continue
		}
		startCtx, cancel := context.WithDeadline(ctx, read.Add(workflows.AlertJoinWindow))
		run, err := control.StartEvacuation(startCtx, h.o.Temporal, *req)
		cancel()
		if errors.Is(err, control.ErrEvacuationRunning) && attempt < 4 {
			continue // another request started it since the read: join it
		}
		if err != nil {
			return err
		}
		res.Action, res.RunID = ActionStarted, run.GetRunID()
		res.Reason = fmt.Sprintf("evacuation of %s: %d services in %d waves (%s)", t.From, len(req.Services), len(req.Waves), t.Evacuation.Path)
		return nil
	}
}

// evacuationRequest reads the route's evacuation file and builds the request, or says why it cannot (the file or
// a plan no longer loads, or it now evacuates another region): such an alert is rejected, with the reason.
func (h *Handler) evacuationRequest(t Target, sig workflows.Alert, trigger workflows.Trigger, evidence []workflows.Alert) (workflows.EvacuationRequest, string) {
	e, waves, err := t.Evacuation.Load()
	if err != nil {
		return workflows.EvacuationRequest{}, fmt.Sprintf("routes[%d].evacuation: %v: nothing started; fix the file or its plans", t.Route, err)
	}
	if e.From != t.From {
		return workflows.EvacuationRequest{}, fmt.Sprintf("routes[%d].evacuation %s now evacuates %s (its from), not %s, the alert's region: "+
			"nothing started", t.Route, t.Evacuation.Path, e.From, t.From)
	}
	req := workflows.NewEvacuationRequest(e, workflows.KindFailover, waves, trigger)
	req.Evidence = append([]workflows.Alert{sig}, evidence...)
	if len(req.Evidence) > workflows.MaxAlertStates {
		req.Evidence = req.Evidence[:workflows.MaxAlertStates]
	}
	if err := req.Validate(); err != nil {
		return workflows.EvacuationRequest{}, fmt.Sprintf("routes[%d].evacuation %s: %v: nothing started", t.Route, t.Evacuation.Path, err)
	}
	return req, ""
}

// Evacuate starts the evacuation of region for another source than Alertmanager (the region watcher, package
// watcher) through the webhook's own path: the region-wide route's evacuation file, the same workflow ID, read and
// start within the join window, so it starts one evacuation together with the region-wide alerts and the other
// front doors. sig is the region-wide verdict (its StartsAt is when the outage began), evidence what confirmed it,
// trigger who starts the evacuation. An error wrapping ErrNoEvacuation means no region-wide route evacuates the
// region; any other error means Temporal did not take it: try again later.
func (h *Handler) Evacuate(ctx context.Context, region string, sig workflows.Alert, trigger workflows.Trigger,
	evidence []workflows.Alert) (Result, error) {
	res := Result{Alertname: sig.Alertname, Fingerprint: sig.Fingerprint, Status: sig.Status,
		WorkflowID: workflows.EvacuationID(workflows.KindFailover, region)}
	t, ok := h.o.Router.Evacuation(region)
	if !ok {
		return res, fmt.Errorf("%w: %s (add a route with evacuation: to the routes file)", ErrNoEvacuation, region)
	}
	ctx, cancel := context.WithTimeout(ctx, h.o.Timeout)
	defer cancel()
	err := h.evacuate(ctx, &res, t, sig, trigger, evidence)
	return res, err
}
