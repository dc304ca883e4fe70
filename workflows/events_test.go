package workflows

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

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

// alertRequest is a request as the webhook starts it.
func alertRequest(p plan.Plan) Request {
	req := request(p)
	req.Trigger = Trigger{Source: TriggerAlert, By: "alertmanager", Alert: "RegionDown"}
	return req
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
	res := run(t, env, alertRequest(p))
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
	wantOutcome(t, run(t, env, alertRequest(p)), Succeeded)
	if len(f.cutovers) != 1 {
		t.Fatal("no cutover: RegionDown still fired, so the failover had to go on")
	}
}

// An alert that fires again after it resolved is firing: its last status counts, not the first of each status.
func TestAlertFiringAgainAfterResolvedKeepsTheFailoverGoing(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	other := Alert{Status: "firing", Alertname: "RegionHighErrorRatio", Fingerprint: "def", Labels: map[string]string{"region": "us-east"}}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("firing")) }, 10*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, other) }, 15*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("resolved")) }, 20*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("firing")) }, 30*time.Second)
	otherResolved := other
	otherResolved.Status = "resolved"
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, otherResolved) }, 40*time.Second)
	env.RegisterDelayedCallback(func() {
		st := status(t, env)
		if len(st.Alerts) != 2 || st.Alerts[0].Status != "firing" || st.Alerts[0].Notifications != 3 || st.Alerts[0].Changes != 2 {
			t.Errorf("alerts %+v: want abc firing now after 3 notifications and 2 changes", st.Alerts)
		}
	}, 50*time.Second)
	vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	wantOutcome(t, run(t, env, alertRequest(p)), Succeeded)
	if len(f.cutovers) != 1 {
		t.Fatal("the failover stopped although RegionDown fired again")
	}
}

// Alerts about the target (or any other region) are evidence: they neither count toward source-recovered nor
// keep it from happening.
func TestAlertsAboutTheTargetAreOnlyEvidence(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	target := Alert{Status: "firing", Alertname: "RegionDown", Fingerprint: "t1", Labels: map[string]string{"region": "eu-west"}}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("firing")) }, 10*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, target) }, 20*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("resolved")) }, time.Minute)
	res := run(t, env, alertRequest(p))
	wantOutcome(t, res, SourceRecovered)
	events := f.ofType(activities.EventAlert)
	if len(events) != 3 || !strings.Contains(events[1].Detail, "about eu-west, not the source us-east") {
		t.Fatalf("alert events %+v: want the target's alert recorded as evidence only", events)
	}
	// A resolved alert about the target alone never ends the run.
	env2, f2 := newEnv(t)
	target.Status = "resolved"
	env2.RegisterDelayedCallback(func() { env2.SignalWorkflow(AlertSignal, target) }, 10*time.Second)
	vote(env2, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	wantOutcome(t, run(t, env2, alertRequest(p)), Succeeded)
	if len(f2.cutovers) != 1 {
		t.Fatal("a resolved alert about the target stopped the failover")
	}
}

// A person's failover (--force or not) is not ended by Alertmanager: only alert-started runs recover by themselves.
func TestResolvedAlertDoesNotAbortAManualFailover(t *testing.T) {
	for _, force := range []bool{false, true} {
		env, f := newEnv(t)
		f.sourceUp = force
		p := testPlan()
		req := request(p)
		req.Force = force
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("firing")) }, 10*time.Second)
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, alert("resolved")) }, 20*time.Second)
		vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
		wantOutcome(t, run(t, env, req), Succeeded)
	}
}

// TestAlertStatesAreBounded: past MaxAlertStates fingerprints the run counts alerts instead of recording them, and
// a firing one about the source among them keeps the run from ending as source-recovered.
func TestAlertStatesAreBounded(t *testing.T) {
	env, _ := newEnv(t)
	p := testPlan()
	for i := range MaxAlertStates + 5 {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(AlertSignal, Alert{Status: "firing", Alertname: "RegionDown", Fingerprint: fmt.Sprintf("f%03d", i),
				Labels: map[string]string{"region": "us-east"}})
		}, 10*time.Second+time.Duration(i)*time.Millisecond)
	}
	for i := range MaxAlertStates {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(AlertSignal, Alert{Status: "resolved", Alertname: "RegionDown", Fingerprint: fmt.Sprintf("f%03d", i),
				Labels: map[string]string{"region": "us-east"}})
		}, 20*time.Second+time.Duration(i)*time.Millisecond)
	}
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(StatusQuery)
		var st Status
		if err != nil || v.Get(&st) != nil {
			t.Errorf("status query: %v", err)
			return
		}
		if len(st.Alerts) != MaxAlertStates || st.AlertsNotRecorded != 5 || st.Outcome != "" {
			t.Errorf("%d alerts recorded, %d not, outcome %q: want %d, 5 and the run going on", len(st.Alerts),
				st.AlertsNotRecorded, st.Outcome, MaxAlertStates)
		}
	}, 30*time.Second)
	res := run(t, env, alertRequest(p))
	if res.Outcome == SourceRecovered {
		t.Fatal("source-recovered while 5 unrecorded alerts about the source still fired")
	}
}

// TestPublishingIsCheap: the audit log and the reads of etcd and Kong run as local activities (costPerFailover),
// and check results ride to Slack with the next event that is not one, so no Notify carries only check results;
// Slack still gets every event once, in order.
func TestPublishingIsCheap(t *testing.T) {
	env, f := newEnv(t)
	local, remote := map[string]int{}, map[string]int{}
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		local[info.ActivityType.Name]++
	})
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		remote[info.ActivityType.Name]++
	})
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	p.Verification.Count = 3
	wantOutcome(t, run(t, env, request(p)), Succeeded)
	for _, name := range []string{"RecordAudit", "ReadActive", "ReadWeights"} {
		if local[name] == 0 || remote[name] != 0 {
			t.Errorf("%s ran %d times as a local activity and %d times as an activity, want local only", name, local[name], remote[name])
		}
	}
	var notified []activities.Event
	for _, batch := range f.notified {
		if !slices.ContainsFunc(batch, needsNoticeNow) {
			t.Errorf("a Notify carried only check results or alerts: %v", typesOf(batch))
		}
		notified = append(notified, batch...)
	}
	if len(notified) != len(f.events) {
		t.Fatalf("Slack got %d events, the audit log %d", len(notified), len(f.events))
	}
	for i, e := range notified {
		if e.Seq != i+1 {
			t.Fatalf("Slack's event %d has seq %d: every event once, in order", i, e.Seq)
		}
	}
	if verify := f.ofType(activities.EventCheck); len(verify) < 3 {
		t.Fatalf("check events %v, want the three verification rounds", typesOf(verify))
	}
}

func typesOf(es []activities.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Type+":"+e.Step)
	}
	return out
}

// A run the region watcher started behaves like an alert-started one: when the watcher reports its region up
// again before the cutover, it ends source-recovered, and it says the watcher saw it.
func TestWatcherStartedRunRecoversLikeAnAlertStartedOne(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	req := request(p)
	req.Trigger = Trigger{Source: TriggerWatcher, By: "watcher door-a", Alert: "WatcherRegionDown"}
	watched := func(status string) Alert {
		return Alert{Status: status, Alertname: "WatcherRegionDown", Fingerprint: "watcher/door-a/payments/us-east",
			Labels: map[string]string{"region": "us-east", "observer": "door-a"}}
	}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, watched("firing")) }, 10*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, watched("resolved")) }, time.Minute)
	res := run(t, env, req)
	wantOutcome(t, res, SourceRecovered)
	if len(f.cutovers) != 0 || !strings.Contains(res.Reason, "the region watcher reported") {
		t.Fatalf("cutovers %d, reason %q", len(f.cutovers), res.Reason)
	}
	if !req.Trigger.Automatic() || (Trigger{Source: "cli"}).Automatic() {
		t.Fatal("Automatic: want the watcher and alerts, not people")
	}
}
