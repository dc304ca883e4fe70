package workflows

import (
	"testing"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// TestUnheardRunStopsNotify: once Notify reports that no publisher wants the run's events (scalePerFailover), the
// run calls it no more, and the audit log still gets every event once, ending with the outcome.
func TestUnheardRunStopsNotify(t *testing.T) {
	env, f := newEnv(t)
	f.unheard = true
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	p.Verification.Count = 3
	wantOutcome(t, run(t, env, request(p)), Succeeded)
	if len(f.notified) != 1 {
		t.Errorf("Notify ran %d times, want once: nobody listens after the first", len(f.notified))
	}
	if len(f.events) == 0 || f.events[len(f.events)-1].Type != activities.EventOutcome {
		t.Fatalf("audit log %d events, want the last one the outcome", len(f.events))
	}
	for i, e := range f.events {
		if e.Seq != i+1 {
			t.Fatalf("audit event %d has seq %d: one is missing or written twice", i, e.Seq)
		}
	}
}

// TestHeardRunNotifiesEveryStep: a publisher that wants the events keeps getting them (the unheard path is not taken
// by mistake).
func TestHeardRunNotifiesEveryStep(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	wantOutcome(t, run(t, env, request(p)), Succeeded)
	got := 0
	for _, batch := range f.notified {
		got += len(batch)
	}
	if got != len(f.events) || len(f.notified) < 2 {
		t.Errorf("Notify ran %d times with %d events, the audit log has %d: want every event, in several batches", len(f.notified), got, len(f.events))
	}
}
