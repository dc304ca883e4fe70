package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// The operator controls against the real stack: abort at each step ends with a truthful outcome (etcd and Kong
// read back), and a pause holds the reroute between its traffic steps until the resume. The abort that rolls back
// and the pause/resume run are recorded (aborted-rolled-back.json, paused-resumed.json) for the replay test.

// manualRun starts a manual failover of the demo plan (no Prometheus) from us-east, which is down, to eu-west.
func manualRun(t *testing.T, s *stack.Stack, change func(*plan.Plan)) (client.WorkflowRun, plan.Plan) {
	t.Helper()
	fault(t, s, "us-east", `{"status":503}`)
	p := planWithoutPrometheus(s)
	p.Approval.Mode = plan.ApprovalManual
	if change != nil {
		change(&p)
	}
	return start(t, s, request(p, "us-east", "eu-west")), p
}

// operator sends an operator control (abort, pause, resume) as bob, as `starter abort|pause|resume` does.
func operator(t *testing.T, s *stack.Stack, run client.WorkflowRun, p plan.Plan, update string) {
	t.Helper()
	if _, err := control.Decide(context.Background(), s.TemporalClient, control.Vote{WorkflowID: run.GetID(), RunID: run.GetRunID(),
		Update: update, Request: workflows.ApprovalRequest{By: "bob", PlanHash: p.Hash(), Via: "cli"}}); err != nil {
		t.Fatalf("%s: %v", update, err)
	}
}

// statusOf queries the run's status.
func statusOf(t *testing.T, s *stack.Stack, run client.WorkflowRun) workflows.Status {
	t.Helper()
	st, err := control.Status(context.Background(), s.TemporalClient, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// wantUntouched checks that etcd and Kong are as the stack seeded them: us-east active, all traffic on it.
func wantUntouched(t *testing.T, s *stack.Stack, what string) {
	t.Helper()
	if a := active(t, s); a.Value.Region != "us-east" {
		t.Errorf("%s: etcd names %s, want us-east", what, a.Value.Region)
	}
	if w := weights(t, s); w["us-east"] != 100 || w["eu-west"] != 0 {
		t.Errorf("%s: kong weights %v, want us-east 100, eu-west 0", what, w)
	}
}

func TestAbortAtEveryStep(t *testing.T) {
	t.Run("before approval", func(t *testing.T) {
		s := startStack(t)
		startWorker(t, s)
		before := active(t, s)
		run, p := manualRun(t, s, nil)
		eventually(t, 30*time.Second, "waiting for approval", func() bool { return statusOf(t, s, run).Pending != nil })
		operator(t, s, run, p, workflows.AbortUpdate)
		res := result(t, run)
		wantOutcome(t, res, workflows.Aborted)
		if !strings.Contains(res.Reason, "aborted by bob") || !strings.Contains(res.Reason, "nothing was changed") {
			t.Errorf("reason %q, want who aborted and that nothing changed", res.Reason)
		}
		if after := active(t, s); after.ModRevision != before.ModRevision {
			t.Errorf("etcd written: revision %d → %d", before.ModRevision, after.ModRevision)
		}
		wantUntouched(t, s, "aborted before approval")
	})
	t.Run("during reroute", func(t *testing.T) {
		s := startStack(t)
		startWorker(t, s)
		run, p := manualRun(t, s, func(p *plan.Plan) { p.Traffic.StepPause = 3 * time.Second })
		eventually(t, 30*time.Second, "waiting for approval", func() bool { return statusOf(t, s, run).Pending != nil })
		approve(t, s, run.GetID(), p.Hash(), "alice")
		eventually(t, 30*time.Second, "half the traffic on eu-west", func() bool { return weights(t, s)["eu-west"] == 50 })
		operator(t, s, run, p, workflows.AbortUpdate)
		res := result(t, run)
		wantOutcome(t, res, workflows.RolledBack)
		if !strings.Contains(res.Reason, "aborted by bob") {
			t.Errorf("reason %q, want who aborted", res.Reason)
		}
		wantUntouched(t, s, "aborted during reroute")
		recordHistory(t, s, "aborted-rolled-back")
	})
	t.Run("during verify", func(t *testing.T) {
		s := startStack(t)
		startWorker(t, s)
		run, p := manualRun(t, s, func(p *plan.Plan) { p.Verification.Count, p.Verification.Interval = 4, time.Second })
		eventually(t, 30*time.Second, "waiting for approval", func() bool { return statusOf(t, s, run).Pending != nil })
		approve(t, s, run.GetID(), p.Hash(), "alice")
		eventually(t, 60*time.Second, "the verify step", func() bool { return statusOf(t, s, run).Step == workflows.StepVerify })
		operator(t, s, run, p, workflows.AbortUpdate)
		res := result(t, run)
		wantOutcome(t, res, workflows.RolledBack)
		if !strings.Contains(res.Reason, "aborted by bob after verify") {
			t.Errorf("reason %q, want the abort after verify named", res.Reason)
		}
		wantUntouched(t, s, "aborted during verify")
	})
}

// TestPauseResumeBetweenTrafficSteps: a pause sent while half the traffic is on the target holds the reroute at
// 50% (status, and the Web UI details, say paused by bob) until bob resumes; then the failover finishes.
func TestPauseResumeBetweenTrafficSteps(t *testing.T) {
	s := startStack(t)
	startWorker(t, s)
	const stepPause = 2 * time.Second
	run, p := manualRun(t, s, func(p *plan.Plan) { p.Traffic.StepPause = stepPause })
	eventually(t, 30*time.Second, "waiting for approval", func() bool { return statusOf(t, s, run).Pending != nil })
	approve(t, s, run.GetID(), p.Hash(), "alice")
	eventually(t, 30*time.Second, "half the traffic on eu-west", func() bool { return weights(t, s)["eu-west"] == 50 })
	operator(t, s, run, p, workflows.PauseUpdate)
	paused := time.Now()
	// The hold is the assertion: for three step pauses after the pause, the weights stay at 50%.
	for time.Since(paused) < 3*stepPause {
		if w := weights(t, s); w["eu-west"] != 50 {
			t.Fatalf("%s after the pause: kong %v, want the reroute held at 50%%", time.Since(paused).Round(time.Millisecond), w)
		}
		if st := statusOf(t, s, run); !st.Paused || st.PausedBy != "bob" || st.Step != workflows.StepReroute {
			t.Fatalf("status while held: paused %v by %q at %s, want paused by bob at reroute", st.Paused, st.PausedBy, st.Step)
		}
		time.Sleep(100 * time.Millisecond) // polling interval of the hold check, not a synchronisation
	}
	operator(t, s, run, p, workflows.ResumeUpdate)
	res := result(t, run)
	wantOutcome(t, res, workflows.Succeeded)
	if w := weights(t, s); w["eu-west"] != 100 || w["us-east"] != 0 {
		t.Fatalf("kong after the resume: %v, want all traffic on eu-west", w)
	}
	recordHistory(t, s, "paused-resumed")
}

// TestUnprovenRequesterNeedsTwoApprovers: under approval.fourEyes, a start that proves nobody (here a raw client
// naming "e2e", as the Web UI would) needs two distinct approvers even with quorum 1: alice alone leaves the
// failover waiting, bob's approval lets it run. Recorded as unproven-requester.json (change ID signed-starts).
func TestUnprovenRequesterNeedsTwoApprovers(t *testing.T) {
	s := startStack(t)
	startWorker(t, s)
	run, p := manualRun(t, s, func(p *plan.Plan) {
		p.Approval.FourEyes, p.Approval.Quorum = true, 1
		p.Approval.Approvers = []string{"alice", "bob"}
	})
	eventually(t, 30*time.Second, "waiting for approval", func() bool { return statusOf(t, s, run).Pending != nil })
	st := statusOf(t, s, run)
	if st.Requester.Proven != workflows.RequesterUnproven || st.Pending.Needed != 2 {
		t.Fatalf("requester %+v, %d approvals needed: want unproven and two", st.Requester, st.Pending.Needed)
	}
	approve(t, s, run.GetID(), p.Hash(), "alice")
	if st := statusOf(t, s, run); st.Pending == nil || st.Pending.Have != 1 || st.Pending.Outcome != "" {
		t.Fatalf("after alice: pending %+v, want 1 of 2 and still waiting", st.Pending)
	}
	approve(t, s, run.GetID(), p.Hash(), "bob")
	wantOutcome(t, result(t, run), workflows.Succeeded)
	recordHistory(t, s, "unproven-requester")
}
