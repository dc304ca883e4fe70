package workflows

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// An evacuation runs hundreds of failovers at once on one Temporal cluster, so beyond cost.go each failover skips
// what nobody reads (README, "What an evacuation costs"; testsuite/e2e TestFailoverCost and BenchmarkEvacuation
// measure it). Since the change scalePerFailover:
//   - Notify stops once nobody listens: when the first batch finds no publisher that wants the run's events (the
//     worker has none, or Slack and the plan names no approval.slackChannel, activities.PublishResult.Unheard), no
//     later event goes to Notify. Each Notify was an activity, three history events and usually a workflow task
//     of its own; the audit log still gets every event;
//   - FailoverStep is upserted only when someone can see it: a step that begins and ends in the same workflow
//     task without waiting (approve when the plan or the evacuation approves, warmup without keys) changes the
//     status and the Web UI's details but not the search attribute, which goes from the step before straight to
//     the step after. The approve step is upserted the moment it waits for people. Each upsert is a history event
//     and a write to the visibility store;
//   - the start's search attributes are not written again when the run was started with them (control.Start and
//     an evacuation's children set FailoverService, FailoverFrom, FailoverTo and FailoverStep=start);
//   - an evacuation's child sets FailoverStep only for the steps someone waits through or acts on: hold-down,
//     approve when it waits for people, rollback, and done with its outcome. Its other steps (detect, readiness,
//     cutover, reroute, warmup, verify) show in its status, its Web UI details and the evacuation's status, not in
//     the search attribute, which reads start meanwhile. Temporal writes the visibility store once per workflow
//     task that upserts: an evacuation's child wrote it 8 times, now 5 (BenchmarkEvacuation).

// scalePerFailover is the workflow.GetVersion change ID of the above. Runs started before it publish and upsert as
// they began.
const scalePerFailover = "scale-per-failover"

// upsertsStep reports whether beginning step name upserts FailoverStep.
func (f *failover) upsertsStep(ctx workflow.Context, name Step) bool {
	if !f.lean || f.req.Trigger.Source != TriggerEvacuation || workflow.GetInfo(ctx).ParentWorkflowExecution == nil {
		return true
	}
	return name == StepHoldDown || name == StepRollback
}

// show upserts FailoverStep for the step running now: a step begun quietly (beginQuietly) that is about to wait.
func (f *failover) show(ctx workflow.Context) {
	if f.lean {
		_ = workflow.UpsertTypedSearchAttributes(ctx, StepKey.ValueSet(f.status.Step))
	}
}

// beginQuietly begins a step that may end in the same workflow task: since scalePerFailover it leaves FailoverStep
// alone (show sets it if the step waits after all).
func (f *failover) beginQuietly(ctx workflow.Context, name Step) {
	f.beginStep(ctx, name, !f.lean)
}

// startAttributesSet reports whether the run started with the search attributes its start would upsert.
func (f *failover) startAttributesSet(ctx workflow.Context) bool {
	sa := workflow.GetTypedSearchAttributes(ctx)
	for _, kv := range []struct {
		key  temporal.SearchAttributeKeyKeyword
		want string
	}{{ServiceKey, f.plan.Service}, {FromKey, f.req.From}, {ToKey, f.req.To}, {StepKey, StepStart}} {
		if got, ok := sa.GetKeyword(kv.key); !ok || got != kv.want {
			return false
		}
	}
	return true
}
