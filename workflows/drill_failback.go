package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// drillFailbackPolicy is the change ID under which a drill's failback is first approved by the plan's
// drill.failback auto.
const drillFailbackPolicy = "drill-failback-policy"

// DecisionDrillFailbackPolicy is the policy decision (Approval.Decision, the audit record's decision) of a drill's
// failback that the plan's drill.failback auto approved.
const DecisionDrillFailbackPolicy = "drill-failback-policy"

// DrillFailbackApproved is how that approval reads in the audit log, the Web UI and the drill report.
const DrillFailbackApproved = "auto-approved: drill failback policy"

// approvedByDrillPolicy reports whether the plan approves this failback because a drill runs it (drill.failback
// auto), and why. The claim in the request (Trigger.Drill) counts only when the drill it names is this run's
// parent workflow, which Temporal records from the parent's own command: a client that starts failover-<service>
// with the claim written into its request has no parent, and its failback asks its people. Only the Drill
// workflow starts a failover child with Trigger.Drill set (an evacuation builds its children's requests itself),
// so the parent named is a Drill. A real failover, and every failback no drill started, keeps its approvals.
func (f *failover) approvedByDrillPolicy(ctx workflow.Context) (string, bool) {
	t := f.req.Trigger
	if f.req.Kind != KindFailback || t.Source != TriggerDrill || t.Drill == "" || t.RequireApproval || !f.plan.AutoFailback() {
		return "", false
	}
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	if parent == nil || parent.ID != t.Drill {
		return "", false
	}
	if workflow.GetVersion(ctx, drillFailbackPolicy, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return "", false
	}
	return fmt.Sprintf("%s (plan drill.failback auto, drill %s)", DrillFailbackApproved, parent.ID), true
}
