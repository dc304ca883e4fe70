package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/proof"
)

func TestAbortWhileWaitingForApprovalChangesNothing(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	stranger := vote(env, 30*time.Second, AbortUpdate, ApprovalRequest{By: "mallory", PlanHash: p.Hash()})
	vote(env, time.Minute, AbortUpdate, ApprovalRequest{By: "bob", PlanHash: p.Hash(), Via: "cli"})
	res := run(t, env, request(p))
	wantOutcome(t, res, Aborted)
	wantRefused(t, "abort by nobody in the plan", *stranger, RefusedNotApprover, "mallory")
	if len(f.cutovers) != 0 || len(f.weights) != 0 {
		t.Fatalf("an aborted failover changed etcd (%d) or Kong (%d)", len(f.cutovers), len(f.weights))
	}
	if got := res.Steps[2]; got.Seconds() != 60 {
		t.Fatalf("approval step took %.0fs, want 60 (ended by the abort)", got.Seconds())
	}
}

func TestAbortDuringRerouteRollsBack(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	vote(env, time.Minute+500*time.Millisecond, AbortUpdate, ApprovalRequest{By: "bob", PlanHash: p.Hash()}) // in the step pause
	res := run(t, env, request(p))
	wantOutcome(t, res, RolledBack)
	if len(f.cutovers) != 1 || len(f.restores) != 1 || f.kong["10.0.0.1:8080"] != 100 || f.etcd.Value.Region != "us-east" {
		t.Fatalf("cutovers %d restores %d kong %v etcd %+v: want the cutover undone and traffic back on us-east",
			len(f.cutovers), len(f.restores), f.kong, f.etcd.Value)
	}
}

func TestPauseHoldsBeforeTheNextChangeUntilResume(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	vote(env, 30*time.Second, PauseUpdate, ApprovalRequest{By: "carol", PlanHash: p.Hash()})
	twice := vote(env, 40*time.Second, PauseUpdate, ApprovalRequest{By: "bob", PlanHash: p.Hash()})
	vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	var held Status
	env.RegisterDelayedCallback(func() {
		if v, err := env.QueryWorkflow(StatusQuery); err == nil {
			_ = v.Get(&held)
		}
		if len(f.cutovers) != 0 {
			t.Error("the cutover ran while paused")
		}
	}, 5*time.Minute)
	vote(env, 10*time.Minute, ResumeUpdate, ApprovalRequest{By: "carol", PlanHash: p.Hash()})
	res := run(t, env, request(p))
	wantOutcome(t, res, Succeeded)
	wantRefused(t, "a second pause", *twice, RefusedControl, "already paused by carol")
	if !held.Paused || held.PausedBy != "carol" {
		t.Fatalf("status while held: paused %v by %q, want paused by carol", held.Paused, held.PausedBy)
	}
	if got := res.Steps[3]; got.Name != StepCutover || got.Started.Sub(res.Steps[0].Started) < 10*time.Minute {
		t.Fatalf("step %s started %s after the start, want the cutover after the resume at 10m", got.Name, got.Started.Sub(res.Steps[0].Started))
	}
}

func TestSignedAbortOnAPlanWithPeople(t *testing.T) {
	env, f := newEnv(t)
	env.SetStartTime(start)
	p, k := peoplePlan(t)
	unsigned := vote(env, 30*time.Second, AbortUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	st := statement(p, AbortUpdate, "alice", proof.ViaCLI, time.Minute)
	st.Kind = ControlKind
	signedVote(env, time.Minute, AbortUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash(), Via: proof.ViaCLI, Proof: sign(t, st, k.alice)})
	res := run(t, env, request(p))
	wantOutcome(t, res, Aborted)
	wantRefused(t, "unsigned abort", *unsigned, RefusedUnsigned, "signed proof")
	if len(f.cutovers) != 0 {
		t.Fatal("an aborted failover cut over")
	}
}

func TestPauseBetweenTrafficSteps(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	vote(env, time.Minute+500*time.Millisecond, PauseUpdate, ApprovalRequest{By: "bob", PlanHash: p.Hash()}) // in the step pause
	var held Status
	var weightsHeld int
	env.RegisterDelayedCallback(func() {
		if v, err := env.QueryWorkflow(StatusQuery); err == nil {
			_ = v.Get(&held)
		}
		weightsHeld = len(f.weights)
	}, 3*time.Minute)
	vote(env, 5*time.Minute, ResumeUpdate, ApprovalRequest{By: "bob", PlanHash: p.Hash()})
	res := run(t, env, request(p))
	wantOutcome(t, res, Succeeded)
	if got := f.ofType("control"); len(got) != 2 || got[0].Decision != PauseUpdate || got[0].Actor != "bob" || got[1].Decision != ResumeUpdate {
		t.Fatalf("control events %+v, want bob's pause then resume in the audit log", got)
	}
	if !strings.Contains(held.progressLine(), "**paused** by bob") {
		t.Errorf("Web UI details while paused: %q, want paused by bob", held.progressLine())
	}
	if !held.Paused || held.PausedBy != "bob" || held.Step != StepReroute || weightsHeld != 1 {
		t.Fatalf("while paused: paused %v by %q at step %s with %d weight changes, want held by bob after the 50%% step",
			held.Paused, held.PausedBy, held.Step, weightsHeld)
	}
	if last := f.weights[len(f.weights)-1]; last[0].Weight != 100 {
		t.Fatalf("last weights %v, want all traffic on the target after the resume", last)
	}
}
