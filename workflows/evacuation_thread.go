package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// evacuationThread returns the evacuation whose Slack card thread gets this failover's news, or "": a failover
// its evacuation started with ReportToEvacuation, when that evacuation is its parent workflow (Temporal records
// the parent; a client cannot set it) and the run is new enough (change evacuationSlackCard). Such a failover
// posts no card of its own: its failure is posted by the evacuation from its result, and a decision it asks is
// sent to the evacuation (EvacuationServiceSignal), which posts it with this failover's buttons. Its audit log
// and metrics are the same as any failover's.
func (f *failover) evacuationThread(ctx workflow.Context) string {
	t := f.req.Trigger
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	if f.legacy || !t.ReportToEvacuation || t.Source != TriggerEvacuation || parent == nil || parent.ID != t.By {
		return ""
	}
	if workflow.GetVersion(ctx, evacuationSlackCard, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return ""
	}
	return parent.ID
}

// reportToEvacuation sends a decision the failover asks to its evacuation's thread; other events stay out of
// Slack. Should the evacuation be gone (terminated, say), the decision is posted as this failover's own card,
// so a person still sees it.
func (f *failover) reportToEvacuation(ctx workflow.Context, e activities.Event) {
	if e.Type != activities.EventDecisionNeeded {
		return
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	sent := workflow.SignalExternalWorkflow(ctx, f.reportTo, "", EvacuationServiceSignal, e)
	workflow.Go(ctx, func(ctx workflow.Context) {
		if err := sent.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("the evacuation did not take the decision for its thread; posting it here", "error", err)
			f.toNotify = append(f.toNotify, e)
		}
	})
}
