package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

func TestEveryDecisionAndSideEffectIsPublishedInOrder(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash(), Via: "slack"})
	wantOutcome(t, run(t, env, request(p)), Succeeded)
	var types []string
	for i, e := range f.events {
		if e.Seq != i+1 {
			t.Fatalf("event %d has seq %d: events must arrive in order", i, e.Seq)
		}
		if e.WorkflowID == "" || e.Service != "payments" || e.PlanHash != p.Hash() {
			t.Fatalf("event %+v lacks its failover's identity", e)
		}
		if i > 0 && e.ThreadRef != "thread-1" {
			t.Fatalf("event %d has thread ref %q: later events must carry the first publisher's reference", i, e.ThreadRef)
		}
		types = append(types, e.Type)
	}
	got := strings.Join(types, ",")
	for _, want := range []string{"started,step,step,decision-needed,decision,step,side-effect", "check", "outcome"} {
		if !strings.Contains(got, want) {
			t.Fatalf("events %s, want them to contain %s", got, want)
		}
	}
	if last := f.events[len(f.events)-1]; last.Type != activities.EventOutcome || last.Outcome != Succeeded {
		t.Fatalf("last event %+v, want the outcome", last)
	}
	effects := f.ofType(activities.EventSideEffect)
	if len(effects) != 3 || !strings.Contains(effects[0].Before, `"epoch":4`) || !strings.Contains(effects[0].After, `"epoch":5`) {
		t.Fatalf("side effects %+v: want the cutover (old and new value) and two weight changes", effects)
	}
	if d := f.ofType(activities.EventDecision)[0]; d.Actor != "alice" || d.Via != "slack" || d.Decision != ApproveUpdate {
		t.Fatalf("decision %+v", d)
	}
	if n := f.ofType(activities.EventDecisionNeeded)[0]; len(n.Preview) == 0 || len(n.Evidence) == 0 {
		t.Fatalf("decision request %+v: want the dry-run diff and the detection evidence for the approvers", n)
	}
}

func alert(status string) Alert {
	return Alert{Status: status, Alertname: "RegionDown", Fingerprint: "abc", Labels: map[string]string{"region": "us-east"}}
}

func TestResolvedBeforeCutoverAborts(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("firing")) }, 10*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("firing")) }, 20*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("resolved")) }, time.Minute)
	res := run(t, env, request(p))
	wantOutcome(t, res, SourceRecovered)
	if len(f.cutovers) != 0 {
		t.Fatal("cutover ran after the source recovered")
	}
	if alerts := f.ofType(activities.EventAlert); len(alerts) != 2 {
		t.Fatalf("alert events %+v: a repeat must be counted, not published again", alerts)
	}
}

func TestResolvedAfterCutoverIsOnlyRecorded(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	p.Verification.Count = 3
	p.Verification.Interval = time.Minute
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("resolved")) }, 30*time.Second)
	wantOutcome(t, run(t, env, request(p)), Succeeded)
	if len(f.ofType(activities.EventAlert)) != 1 {
		t.Fatal("the resolved alert was not recorded")
	}
}

func TestRequireApprovalOverridesAutoApprove(t *testing.T) {
	env, _ := newEnv(t)
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	req := request(p)
	req.Trigger.RequireApproval, req.Trigger.RequireReason = true, "within the 30m cooldown after failover-payments"
	wantOutcome(t, run(t, env, req), TimedOut)
}

func TestOneResolvedAlertDoesNotAbortWhileAnotherFires(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	down := Alert{Status: "firing", Alertname: "RegionDown", Fingerprint: "def"}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("firing")) }, 10*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, down) }, 20*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("resolved")) }, time.Minute)
	vote(env, 2*time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	wantOutcome(t, run(t, env, request(p)), Succeeded)
	if len(f.cutovers) != 1 {
		t.Fatal("no cutover: RegionDown still fired, so the failover had to go on")
	}
}
