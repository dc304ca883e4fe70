package workflows

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

func autoPlan() plan.Plan {
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	return p
}

func wantOnSource(t *testing.T, f *fakes) {
	t.Helper()
	if f.etcd.Value.Region != "us-east" || f.kong["10.0.0.1:8080"] != 100 || f.kong["10.0.0.2:8080"] != 0 {
		t.Fatalf("etcd %+v kong %v: want everything back on us-east", f.etcd.Value, f.kong)
	}
}

// The first Kong write raises the target, then the second write (lowering the source) is refused: the undo must
// exist already, or the run ends rolled-back with a third of the traffic still on the target.
func TestKongStepFailingHalfwayIsUndone(t *testing.T) {
	env, f := newEnv(t)
	writes := 0
	f.kongFault = func(in activities.SetWeightsInput) error {
		if writes++; writes == 1 {
			f.kong[in.Weights[0].Target] = in.Weights[0].Weight // raised eu-west, then Kong refused to lower us-east
			return temporal.NewNonRetryableApplicationError("HTTP 400", activities.ErrKongRejected, nil)
		}
		return nil
	}
	res := run(t, env, request(autoPlan()))
	wantOutcome(t, res, RolledBack)
	wantOnSource(t, f)
}

// A first-ever failover (no active key yet) that fails later is undone too: the key goes to the source region
// with a new epoch, so consumers that followed the cutover come back.
func TestFirstEverFailoverIsUndone(t *testing.T) {
	env, f := newEnv(t)
	f.etcd = activities.ActiveState{}
	f.verdict = activities.Fail
	res := run(t, env, request(autoPlan()))
	wantOutcome(t, res, RolledBack)
	wantOnSource(t, f)
	if len(f.restores) != 1 || f.restores[0].Original.Exists || f.etcd.Value.Epoch != 2 {
		t.Fatalf("restores %+v etcd %+v: want one restore to us-east at epoch 2", f.restores, f.etcd)
	}
}

// The outcome is decided by what the rollback achieved, read back from the systems.
func TestRollbackThatLeavesKongChangedIsNotRolledBack(t *testing.T) {
	env, f := newEnv(t)
	f.verdict = activities.Fail
	f.kongFault = func(in activities.SetWeightsInput) error {
		if in.Weights[0].Weight == 0 { // the restore (eu-west back to 0) is refused
			return temporal.NewNonRetryableApplicationError("HTTP 400", activities.ErrKongRejected, nil)
		}
		return nil
	}
	res := run(t, env, request(autoPlan()))
	wantOutcome(t, res, FailedNeedsHuman)
	var targets []string
	for _, l := range res.StillChanged {
		targets = append(targets, l.Target)
	}
	// The rollback stops at the first undo that fails (etcd is undone after Kong), and says what is left.
	if strings.Join(targets, ",") != "/failover/payments/active,payments/10.0.0.1:8080,payments/10.0.0.2:8080" ||
		!strings.Contains(res.StillChanged[1].Fix, "upstreams/payments/targets/10.0.0.1:8080 -d weight=100") {
		t.Fatalf("still changed %+v: want the key and both Kong targets with the commands that restore them", res.StillChanged)
	}
	if out := f.ofType(activities.EventOutcome); len(out) != 1 || len(out[0].StillChanged) != 3 {
		t.Fatalf("outcome event %+v: the audit must list what is still changed", out)
	}
}

// A cancel while waiting for approval changes nothing and says so; it is not a timeout, so onTimeout: approve
// must not approve.
func TestCancelDuringApprovalChangesNothing(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	p.Approval.OnTimeout = plan.OnTimeoutApprove
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
	res := run(t, env, request(p))
	wantOutcome(t, res, Cancelled)
	for _, d := range f.ofType(activities.EventDecision) {
		t.Fatalf("decision %+v recorded for a cancelled run", d)
	}
	if len(f.cutovers) != 0 || len(f.weights) != 0 {
		t.Fatalf("changes after cancel: cutovers %d weights %v", len(f.cutovers), f.weights)
	}
	if out := f.ofType(activities.EventOutcome); len(out) != 1 || out[0].Outcome != Cancelled {
		t.Fatalf("outcome events %+v: the audit must record the cancelled outcome", out)
	}
}

// A cancel during the reroute rolls back, and the rollback's side effects and the outcome reach the audit log.
func TestCancelDuringRerouteRollsBackAndIsAudited(t *testing.T) {
	env, f := newEnv(t)
	p := autoPlan()
	p.Traffic.StepPause = time.Minute
	env.RegisterDelayedCallback(env.CancelWorkflow, 30*time.Second)
	res := run(t, env, request(p))
	wantOutcome(t, res, RolledBack)
	wantOnSource(t, f)
	if !strings.Contains(res.Reason, "cancelled during reroute") {
		t.Fatalf("reason %q should say the run was cancelled", res.Reason)
	}
	effects := f.ofType(activities.EventSideEffect)
	if len(effects) != 4 { // cutover, 50 %, restore weights, restore etcd
		t.Fatalf("%d side-effect events, want 4: the undo must be audited although the run was cancelled", len(effects))
	}
	if out := f.ofType(activities.EventOutcome); len(out) != 1 || out[0].Outcome != RolledBack {
		t.Fatalf("outcome events %+v", out)
	}
}

// With a manual rollback policy a cancelled run cannot ask for approval: it lists what is still changed.
func TestCancelWithManualRollbackListsWhatIsChanged(t *testing.T) {
	env, f := newEnv(t)
	p := autoPlan()
	p.Rollback.OnFailure = plan.RollbackManual
	p.Traffic.StepPause = time.Minute
	env.RegisterDelayedCallback(env.CancelWorkflow, 30*time.Second)
	res := run(t, env, request(p))
	wantOutcome(t, res, FailedNeedsHuman)
	if len(res.StillChanged) != 3 || len(f.restores) != 0 {
		t.Fatalf("still changed %+v restores %d: want etcd and both targets listed, nothing undone", res.StillChanged, len(f.restores))
	}
}

// The workflow never re-hashes the plan: a newer worker whose plan.Plan has more fields (so another hash) must
// replay and run a failover started before the upgrade.
func TestWorkflowTrustsThePlanHashRecordedAtStart(t *testing.T) {
	env, _ := newEnv(t)
	req := request(autoPlan())
	req.PlanHash = "hash-recorded-by-an-older-starter"
	wantOutcome(t, run(t, env, req), Succeeded)
}
