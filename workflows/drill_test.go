package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// drillEnv is newEnv with the drill's own activities: hooks recorded, and whether a failover is in flight.
func drillEnv(t *testing.T, inFlight bool) (*testsuite.TestWorkflowEnvironment, *fakes, *[]activities.FaultHook) {
	env, f := newEnv(t)
	env.RegisterWorkflow(Failover)
	var hooks []activities.FaultHook
	env.OnActivity(a.RunFaultHook, mock.Anything, mock.Anything).Return(
		func(_ context.Context, h activities.FaultHook) (activities.FaultHookResult, error) {
			hooks = append(hooks, h)
			f.sourceUp = h.Method == "DELETE" // the fault takes the source down, the recovery brings it back
			return activities.FaultHookResult{Status: 200}, nil
		})
	env.OnActivity(a.FailoverInFlight, mock.Anything, mock.Anything).Return(inFlight, nil)
	return env, f, &hooks
}

func drillRequest(p plan.Plan) DrillRequest {
	return DrillRequest{Plan: p, PlanHash: p.Hash(), From: "us-east", To: "eu-west", Soak: time.Minute, By: "tester",
		Fault:   &activities.FaultHook{Method: "POST", URL: "http://us-east/fault", Body: `{"status":503}`},
		Recover: &activities.FaultHook{Method: "DELETE", URL: "http://us-east/fault"}}
}

func runDrill(t *testing.T, env *testsuite.TestWorkflowEnvironment, req DrillRequest) DrillResult {
	t.Helper()
	env.ExecuteWorkflow(Drill, req)
	if !env.IsWorkflowCompleted() {
		t.Fatal("drill did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("drill error: %v", err)
	}
	var res DrillResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestDrillRunsFaultFailoverSoakFailback: the fault hook, the failover (marked as a drill), the soak, the recovery
// hook, the failback with its own approval, and a report per phase with the SLA and what needed a human.
func TestDrillRunsFaultFailoverSoakFailback(t *testing.T) {
	env, f, hooks := drillEnv(t, false)
	p := lagPlan()
	p.Failback.HoldDown, p.Failback.ProbeInterval = 2*time.Second, time.Second
	// The failback always needs a person: alice approves it once it asks.
	env.RegisterDelayedCallback(func() {
		err := env.UpdateWorkflowByID(WorkflowID(p.Service), ApproveUpdate, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { t.Errorf("approval refused: %v", err) }, OnComplete: func(any, error) {},
		}, ApprovalRequest{By: "alice", PlanHash: p.Hash(), Via: "cli"})
		if err != nil {
			t.Errorf("approve the failback: %v", err)
		}
	}, time.Minute+30*time.Second)
	res := runDrill(t, env, drillRequest(p))
	if res.Verdict != DrillPassed || len(res.Phases) != 2 {
		t.Fatalf("verdict %s (%s), phases %+v", res.Verdict, res.Reason, res.Phases)
	}
	if len(*hooks) != 2 || (*hooks)[0].Method != "POST" || (*hooks)[1].Method != "DELETE" {
		t.Fatalf("hooks %v: want the fault, then the recovery", *hooks)
	}
	fo, fb := res.Phases[0], res.Phases[1]
	if fo.Name != KindFailover || fo.Outcome != Succeeded || fo.RPOSeconds == nil || fo.SLA == nil || fo.SLA.Verdict != SLAMet || len(fo.Humans) != 0 {
		t.Fatalf("failover phase %+v: want succeeded within the SLA, auto-approved", fo)
	}
	if fb.Name != KindFailback || fb.Outcome != Succeeded || !slices.Equal(fb.Humans, []string{"approve by alice via cli"}) {
		t.Fatalf("failback phase %+v: want succeeded, approved by alice", fb)
	}
	if res.SoakSeconds < 60 {
		t.Fatalf("soak %.0fs, want the minute asked", res.SoakSeconds)
	}
	if got := res.NeededHuman(); !slices.Equal(got, []string{"failback: approve by alice via cli"}) {
		t.Fatalf("needed a human: %v", got)
	}
	var drillEvents, marked int
	for _, e := range f.events {
		if e.Type == activities.EventDrill {
			drillEvents++
		}
		if e.Drill {
			marked++
		}
	}
	if drillEvents != 1 || marked != len(f.events) {
		t.Fatalf("%d drill events, %d of %d events marked as a drill: every event of a drill says so", drillEvents, marked, len(f.events))
	}
}

// TestDrillRefusesBesideARealFailover: with failover-<service> in flight, a drill injects nothing and says why.
func TestDrillRefusesBesideARealFailover(t *testing.T) {
	env, _, hooks := drillEnv(t, true)
	res := runDrill(t, env, drillRequest(lagPlan()))
	if res.Verdict != DrillRefused || !strings.Contains(res.Reason, "a failover of payments is in flight (failover-payments)") {
		t.Fatalf("verdict %s: %s", res.Verdict, res.Reason)
	}
	if len(*hooks) != 0 || len(res.Phases) != 0 {
		t.Fatalf("hooks %v phases %v: a refused drill does nothing", *hooks, res.Phases)
	}
}

// TestDrillBreachingTheSLA: the failover succeeds but its RPO misses the SLA: the drill is breached, not passed.
func TestDrillBreachingTheSLA(t *testing.T) {
	env, f, _ := drillEnv(t, false)
	f.values = map[string]float64{CheckRPO: 3}
	req := drillRequest(lagPlan())
	req.SkipFailback = true
	res := runDrill(t, env, req)
	if res.Verdict != DrillBreached || !strings.Contains(res.Reason, "failover: SLA breached: rpo breached: RPO 3s > 1s") {
		t.Fatalf("verdict %s: %s", res.Verdict, res.Reason)
	}
	var e activities.Event
	for _, ev := range f.events {
		if ev.Type == activities.EventDrill {
			e = ev
		}
	}
	if e.Outcome != DrillBreached || !slices.Equal(e.SLABreaches, []string{BreachRPO}) {
		t.Fatalf("drill event %+v: the audit log and Slack get the breach", e)
	}
}

// TestDrillFailedFailoverRecoversTheSource: a failover that does not succeed fails the drill, and the recovery hook
// still runs, so a drill never leaves a region broken.
func TestDrillFailedFailoverRecoversTheSource(t *testing.T) {
	env, f, hooks := drillEnv(t, false)
	f.targetUp = false // readiness fails: not-ready
	res := runDrill(t, env, drillRequest(lagPlan()))
	if res.Verdict != DrillFailed || !strings.Contains(res.Reason, "the failover ended not-ready") {
		t.Fatalf("verdict %s: %s", res.Verdict, res.Reason)
	}
	if len(*hooks) != 2 || (*hooks)[1].Method != "DELETE" {
		t.Fatalf("hooks %v: the recovery hook must run after a failed failover", *hooks)
	}
}

func TestDrillRequestValidate(t *testing.T) {
	req := drillRequest(lagPlan())
	req.Recover, req.Soak = nil, -time.Second
	err := req.Validate()
	for _, want := range []string{"soak: -1s is negative", "recover: a fault without a recovery hook"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}

// TestDrillFailbackPolicyApprovesItsFailback: with drill.failback auto, the failback a drill starts as its child is
// approved by the plan (after its hold-down), recorded as the drill failback policy in the audit log, and shown in
// the report; nobody is asked.
func TestDrillFailbackPolicyApprovesItsFailback(t *testing.T) {
	env, f, _ := drillEnv(t, false)
	p := lagPlan()
	p.Failback.HoldDown, p.Failback.ProbeInterval = 2*time.Second, time.Second
	p.Drill = &plan.Drill{Failback: plan.DrillFailbackAuto}
	res := runDrill(t, env, drillRequest(p))
	if res.Verdict != DrillPassed || len(res.Phases) != 2 {
		t.Fatalf("verdict %s (%s), phases %+v", res.Verdict, res.Reason, res.Phases)
	}
	fb := res.Phases[1]
	if fb.Outcome != Succeeded || fb.Policy != DrillFailbackApproved || len(fb.Humans) != 0 || len(res.NeededHuman()) != 0 {
		t.Fatalf("failback phase %+v: want succeeded, approved by the drill failback policy, no human", fb)
	}
	if !slices.ContainsFunc(res.Lines(), func(l string) bool { return strings.HasSuffix(l, "; "+DrillFailbackApproved) }) {
		t.Fatalf("report lines %v: want the policy shown", res.Lines())
	}
	var policy []activities.Event
	var holdDownBefore bool
	for _, e := range f.events {
		if e.Step == StepHoldDown && e.Kind == KindFailback {
			holdDownBefore = len(policy) == 0
		}
		if e.Type == activities.EventDecision && e.Decision == DecisionDrillFailbackPolicy {
			policy = append(policy, e)
		}
	}
	if len(policy) != 1 || policy[0].Actor != "policy" || policy[0].Via != "plan" ||
		!strings.HasPrefix(policy[0].Detail, "auto-approved: drill failback policy (plan drill.failback auto, drill ") {
		t.Fatalf("policy decisions in the audit log %+v", policy)
	}
	if !holdDownBefore {
		t.Fatal("the failback was approved before its hold-down")
	}
}

// TestForgedDrillFailbackClaimIsIgnored: a failback whose request claims a drill with drill.failback auto, started
// by a client (no parent workflow), still waits for a person; so does a drill's failover, and a drill's failback
// without the policy.
func TestForgedDrillFailbackClaimIsIgnored(t *testing.T) {
	p := testPlan()
	p.Drill = &plan.Drill{Failback: plan.DrillFailbackAuto}
	req := request(p)
	req.Kind = KindFailback
	req.Trigger = Trigger{Source: TriggerDrill, By: "mallory", Drill: DrillID(p.Service)}
	env, _ := newEnv(t)
	res := run(t, env, req)
	wantOutcome(t, res, TimedOut)
	for _, ap := range res.Approvals {
		if ap.Decision == DecisionDrillFailbackPolicy {
			t.Fatalf("approvals %+v: a forged claim must not approve", res.Approvals)
		}
	}
}

// TestDrillWithUnknownCommandHookDoesNothing: a drill naming a command hook its worker does not declare ends failed
// with the worker's reason before any hook or phase runs.
func TestDrillWithUnknownCommandHookDoesNothing(t *testing.T) {
	env, _, hooks := drillEnv(t, false)
	var checked []string
	env.OnActivity(a.CheckFaultHooks, mock.Anything, mock.Anything).Return(func(_ context.Context, names []string) error {
		checked = names
		return temporal.NewNonRetryableApplicationError(`command hook "us-east-up" is not declared in the worker's hooks file /etc/hooks.yaml`,
			activities.ErrHookUnknown, nil)
	})
	req := drillRequest(lagPlan())
	req.Fault, req.Recover = &activities.FaultHook{Command: "us-east-down"}, &activities.FaultHook{Command: "us-east-up"}
	res := runDrill(t, env, req)
	want := `command hook "us-east-up" is not declared in the worker's hooks file /etc/hooks.yaml: nothing was done`
	if res.Verdict != DrillFailed || res.Reason != want {
		t.Fatalf("verdict %s: %q\nwant reason %q", res.Verdict, res.Reason, want)
	}
	if !slices.Equal(checked, []string{"us-east-down", "us-east-up"}) || len(*hooks) != 0 || len(res.Phases) != 0 {
		t.Fatalf("checked %v, hooks %v, phases %v: both hooks are checked, nothing runs", checked, *hooks, res.Phases)
	}
}

// TestDrillFailedFaultHookStartsNothing: a fault hook that fails ends the drill, named, with no failover and no
// recovery hook.
func TestDrillFailedFaultHookStartsNothing(t *testing.T) {
	env, _ := newEnv(t)
	env.RegisterWorkflow(Failover)
	env.OnActivity(a.FailoverInFlight, mock.Anything, mock.Anything).Return(false, nil)
	env.OnActivity(a.CheckFaultHooks, mock.Anything, mock.Anything).Return(nil)
	var ran []string
	env.OnActivity(a.RunFaultHook, mock.Anything, mock.Anything).Return(
		func(_ context.Context, h activities.FaultHook) (activities.FaultHookResult, error) {
			ran = append(ran, h.Command)
			return activities.FaultHookResult{}, temporal.NewNonRetryableApplicationError("command hook us-east-down timed out after 1s and was killed",
				activities.ErrHookTimedOut, nil)
		})
	req := drillRequest(lagPlan())
	req.Fault, req.Recover = &activities.FaultHook{Command: "us-east-down"}, &activities.FaultHook{Command: "us-east-up"}
	res := runDrill(t, env, req)
	want := "fault hook command us-east-down: command hook us-east-down timed out after 1s and was killed: nothing else was started"
	if res.Verdict != DrillFailed || res.Reason != want {
		t.Fatalf("verdict %s: %q\nwant reason %q", res.Verdict, res.Reason, want)
	}
	if !slices.Equal(ran, []string{"us-east-down"}) || len(res.Phases) != 0 || len(res.Hooks) != 1 || res.Hooks[0].Error == "" {
		t.Fatalf("ran %v, phases %v, hooks %+v: only the fault hook ran, recorded as failed", ran, res.Phases, res.Hooks)
	}
}

func TestDrillRequestValidatesCommandHooks(t *testing.T) {
	req := drillRequest(lagPlan())
	req.Fault = &activities.FaultHook{Command: "Bad Name"}
	req.Recover = &activities.FaultHook{Command: "up", Method: "DELETE", URL: "http://us-east/fault"}
	err := req.Validate()
	for _, want := range []string{`fault: command hook "Bad Name" is no hook name`, "recover: give an HTTP hook (--recover-url) or a command hook (--recover-hook), not both"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	req.Fault, req.Recover = &activities.FaultHook{Command: "us-east-down"}, &activities.FaultHook{Command: "us-east-up"}
	if err := req.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestDrillFailedRecoveryHookIsReported: a recovery command that fails after the soak ends the drill failed, named,
// with no failback (the source is still faulted), and the report keeps both hooks.
func TestDrillFailedRecoveryHookIsReported(t *testing.T) {
	env, f := newEnv(t)
	env.RegisterWorkflow(Failover)
	env.OnActivity(a.FailoverInFlight, mock.Anything, mock.Anything).Return(false, nil)
	env.OnActivity(a.CheckFaultHooks, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.RunFaultHook, mock.Anything, mock.Anything).Return(
		func(_ context.Context, h activities.FaultHook) (activities.FaultHookResult, error) {
			if h.Command == "us-east-up" {
				return activities.FaultHookResult{}, errors.New(`command hook us-east-up exited 1 (success is [0]); output: "proxy not found\n"`)
			}
			f.sourceUp = false
			zero := 0
			return activities.FaultHookResult{ExitCode: &zero, Output: "fault on\n"}, nil
		})
	req := drillRequest(lagPlan())
	req.Fault, req.Recover = &activities.FaultHook{Command: "us-east-down"}, &activities.FaultHook{Command: "us-east-up"}
	res := runDrill(t, env, req)
	if res.Verdict != DrillFailed || !strings.HasPrefix(res.Reason, `recovery hook command us-east-up: command hook us-east-up exited 1`) ||
		!strings.HasSuffix(res.Reason, "us-east is still faulted and traffic is on eu-west") {
		t.Fatalf("verdict %s: %q", res.Verdict, res.Reason)
	}
	if len(res.Phases) != 1 || len(res.Hooks) != 2 || res.Hooks[0].Output != "fault on\n" || res.Hooks[1].Error == "" {
		t.Fatalf("phases %+v hooks %+v: want the failover only, and both hooks reported", res.Phases, res.Hooks)
	}
}
