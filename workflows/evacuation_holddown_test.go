package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// failbackRequest is a failback of services into us-east with the hold-down rule, approved by alice.
func failbackRequest(rule *plan.EvacuationFailback, services ...string) EvacuationRequest {
	e := plan.Evacuation{From: "us-east", Plans: "/plans", Failback: rule,
		Approval: plan.EvacuationApproval{Approval: plan.Approval{Mode: plan.ApprovalManual, Approvers: []string{"alice"}, Timeout: time.Hour}}}
	e.SetDefaults()
	w := plan.ScheduledWave{Name: "all", Concurrency: 10}
	for _, s := range services {
		w.Services = append(w.Services, plan.Scheduled{Service: s, File: s + ".yaml", PlanHash: "hash-" + s, From: "us-east", To: "eu-west"})
	}
	return NewEvacuationRequest(e, KindFailback, []plan.ScheduledWave{w}, Trigger{Source: "test", By: "tester"})
}

// decideAt sends decision by person at d into the run and records a refusal.
func decideAt(env *testsuite.TestWorkflowEnvironment, d time.Duration, decision, by, hash string, refusals *[]string) {
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(decision, "", &testsuite.TestUpdateCallback{OnAccept: func() {},
			OnReject: func(err error) { *refusals = append(*refusals, err.Error()) }, OnComplete: func(any, error) {}},
			ApprovalRequest{By: by, PlanHash: hash})
	}, d)
}

func statusAt(t *testing.T, env *testsuite.TestWorkflowEnvironment, d time.Duration, st *EvacuationStatus) {
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(EvacuationStatusQuery)
		if err != nil {
			t.Errorf("status query: %v", err)
			return
		}
		_ = v.Get(st)
	}, d)
}

// TestFailbackHoldDownResetsTheClockOnAFailedRound: rounds every 10s, hold-down 1m; round 3 (at 20s) finds s1 and s2
// down, which resets the clock: the hold-down passes a full minute after the next healthy round (at 30s), not
// after the first, an approval before that is refused, and no failover starts before it passed.
func TestFailbackHoldDownResetsTheClockOnAFailedRound(t *testing.T) {
	w := &evacWorld{down: func(round int) []string {
		if round == 3 {
			return []string{"s1", "s2"}
		}
		return nil
	}}
	req := failbackRequest(&plan.EvacuationFailback{HoldDown: time.Minute, ProbeInterval: 10 * time.Second}, names("s", 3)...)
	var refusals []string
	var during, later EvacuationStatus
	res, _ := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) {
		statusAt(t, env, 25*time.Second, &during)
		statusAt(t, env, 75*time.Second, &later)
		decideAt(env, 80*time.Second, ApproveUpdate, "alice", req.Hash, &refusals)
		decideAt(env, 3*time.Minute, ApproveUpdate, "alice", req.Hash, &refusals)
	})
	if during.Step != StepHoldDown || !strings.Contains(during.HoldDownLine, "holding down: us-east not healthy, needs 1m0s healthy (reset 1× at ") ||
		!strings.Contains(during.HoldDownLine, ": s1, s2 down)") || during.Pending != nil {
		t.Fatalf("status after the failed round: step %s, %q, pending %+v", during.Step, during.HoldDownLine, during.Pending)
	}
	if !strings.Contains(later.HoldDownLine, "holding down: us-east healthy for 45s of 1m0s (reset 1× at") {
		t.Fatalf("status 75s in: %q, want healthy for 45s since the round at 30s", later.HoldDownLine)
	}
	if len(refusals) != 1 || !strings.Contains(refusals[0], "nothing to approve yet: failback default-test-workflow-id is holding down") {
		t.Fatalf("refusals %v, want the approval during the hold-down refused", refusals)
	}
	if res.Outcome != Succeeded || len(w.started) != 3 {
		t.Fatalf("result %+v, started %v; want 3 succeeded", res, w.started)
	}
	h := res.HoldDown
	if h == nil || h.ResetCount != 1 || !slices.Equal(h.Resets[0].Services, []string{"s1", "s2"}) || h.PassedAt == nil {
		t.Fatalf("hold-down %+v, want one reset naming s1 and s2, passed", h)
	}
	if took := h.PassedAt.Sub(h.StartedAt); took != 90*time.Second {
		t.Fatalf("hold-down passed after %s, want 90s (reset at 20s, healthy from 30s for 1m)", took)
	}
	for _, at := range w.startedAt {
		if at.Before(*h.PassedAt) {
			t.Fatalf("a failover started at %s, before the hold-down passed at %s", at, h.PassedAt)
		}
	}
}

// TestFailbackAbortDuringHoldDownChangesNothing: the region never holds; an abort ends the failback aborted, every
// service not-started, and the outcome says nothing changed.
func TestFailbackAbortDuringHoldDownChangesNothing(t *testing.T) {
	w := &evacWorld{down: func(int) []string { return []string{"s0"} }}
	req := failbackRequest(&plan.EvacuationFailback{HoldDown: time.Minute, ProbeInterval: 10 * time.Second}, names("s", 3)...)
	var refusals []string
	var paused EvacuationStatus
	res, _ := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) {
		decideAt(env, time.Minute, PauseUpdate, "alice", req.Hash, &refusals)
		statusAt(t, env, 2*time.Minute, &paused)
		decideAt(env, 5*time.Minute, AbortUpdate, "alice", req.Hash, &refusals)
	})
	if !paused.Paused || paused.Step != StepHoldDown || !strings.HasPrefix(paused.HoldDownLine, "holding down: us-east not healthy") {
		t.Fatalf("paused during the hold-down: paused %v, step %s, %q; want the hold-down to go on", paused.Paused, paused.Step, paused.HoldDownLine)
	}
	if res.Outcome != Aborted || !strings.Contains(res.Reason, "aborted by alice during the hold-down") ||
		!strings.Contains(res.Reason, "no failover was started, nothing changed") || !strings.Contains(res.Reason, "s0 down") {
		t.Fatalf("result %s: %s, want aborted during the hold-down, nothing changed", res.Outcome, res.Reason)
	}
	if len(w.started) != 0 || res.Counts[NotStarted] != 3 || len(refusals) != 0 {
		t.Fatalf("started %v, counts %v, refusals %v; want nothing started", w.started, res.Counts, refusals)
	}
	if h := res.HoldDown; h == nil || h.ResetCount != 1 || h.Resets[0].Rounds < 30 || h.PassedAt != nil {
		t.Fatalf("hold-down %+v, want one run of failed rounds, never passed", h)
	}
}

// TestFailbackHoldDownPassedStartsChildren: a healthy region passes the hold-down, then the decision is asked for
// and the children start; a region that never holds times out with nothing changed.
func TestFailbackHoldDownPassedStartsChildren(t *testing.T) {
	w := &evacWorld{}
	req := failbackRequest(&plan.EvacuationFailback{HoldDown: 2 * time.Minute, ProbeInterval: 30 * time.Second}, names("s", 4)...)
	var refusals []string
	var pending EvacuationStatus
	res, _ := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) {
		statusAt(t, env, 150*time.Second, &pending)
		decideAt(env, 160*time.Second, ApproveUpdate, "alice", req.Hash, &refusals)
	})
	if pending.Pending == nil || !strings.HasPrefix(pending.HoldDownLine, "held down: us-east healthy for 2m0s") {
		t.Fatalf("status after the hold-down: pending %+v, %q", pending.Pending, pending.HoldDownLine)
	}
	if res.Outcome != Succeeded || len(w.started) != 4 || len(refusals) != 0 || w.rounds != 5 {
		t.Fatalf("result %+v, started %v, refusals %v, %d rounds; want 4 moved back after 5 rounds", res, w.started, refusals, w.rounds)
	}
	if res.HoldDown.PassedAt.Sub(res.HoldDown.StartedAt) != 2*time.Minute {
		t.Fatalf("passed after %s, want 2m", res.HoldDown.PassedAt.Sub(res.HoldDown.StartedAt))
	}

	w = &evacWorld{down: func(round int) []string { return []string{"s3"} }}
	req = failbackRequest(&plan.EvacuationFailback{HoldDown: 2 * time.Minute, ProbeInterval: 30 * time.Second, Timeout: 10 * time.Minute},
		names("s", 4)...)
	res, _ = runEvacuation(t, w, req, nil)
	if res.Outcome != TimedOut || !strings.Contains(res.Reason, "within failback.timeout 10m0s") || len(w.started) != 0 {
		t.Fatalf("result %s: %s, started %v; want timed out, nothing started", res.Outcome, res.Reason, w.started)
	}
}

// TestFailbackHoldDownWaitsMinSinceEvacuation: with minSinceEvacuation, the hold-down passes only that long after
// the evacuation out of the region ended; when Temporal has no such evacuation, it counts from the failback's start
// and says so.
func TestFailbackHoldDownWaitsMinSinceEvacuation(t *testing.T) {
	rule := &plan.EvacuationFailback{HoldDown: time.Minute, ProbeInterval: 10 * time.Second, MinSinceEvacuation: 5 * time.Minute}
	for _, tc := range []struct {
		name   string
		found  bool
		passed time.Duration // after the failback's start
		says   string
	}{
		{"not found", false, 5 * time.Minute, "no evacuation-us-east in Temporal"},
		{"ended", true, 3 * time.Minute, "evacuation-us-east (run r1) ended completed at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &evacWorld{}
			req := failbackRequest(rule, "s0")
			var refusals []string
			var during EvacuationStatus
			res, _ := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) {
				if tc.found {
					// The evacuation ended 2m before the failback started.
					w.evacuation = activities.EvacuationRun{Found: true, RunID: "r1", Status: "WORKFLOW_EXECUTION_STATUS_COMPLETED",
						EndedAt: env.Now().Add(-2 * time.Minute)}
				}
				statusAt(t, env, 2*time.Minute, &during)
				decideAt(env, 6*time.Minute, ApproveUpdate, "alice", req.Hash, &refusals)
			})
			if res.Outcome != Succeeded || res.HoldDown.PassedAt.Sub(res.HoldDown.StartedAt) != tc.passed {
				t.Fatalf("result %s (%s), hold-down %+v; want passed after %s", res.Outcome, res.Reason, res.HoldDown, tc.passed)
			}
			if !strings.Contains(during.HoldDownLine, "healthy for 2m0s of 1m0s; not before") || !strings.Contains(during.HoldDownLine, tc.says) {
				t.Fatalf("status: %q, want the minSinceEvacuation wait and %q", during.HoldDownLine, tc.says)
			}
		})
	}
}

// TestFailbackHoldDownContinuesAsNewWithItsClock: a hold-down of more rounds than one run does continues as new
// with its clock, rounds and record; it passes once, in a later run, without a reset.
func TestFailbackHoldDownContinuesAsNewWithItsClock(t *testing.T) {
	w := &evacWorld{}
	req := failbackRequest(&plan.EvacuationFailback{HoldDown: 20 * time.Minute, ProbeInterval: 10 * time.Second}, "s0")
	var refusals []string
	res, runs := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) {
		decideAt(env, 30*time.Minute, ApproveUpdate, "alice", req.Hash, &refusals)
	})
	h := res.HoldDown
	if res.Outcome != Succeeded || runs < 2 || h == nil || h.Rounds < 121 || h.ResetCount != 0 || h.PassedAt.Sub(h.StartedAt) < 20*time.Minute {
		t.Fatalf("result %s (%s) in %d runs, hold-down %+v; want passed after 121+ rounds across runs, no reset", res.Outcome, res.Reason, runs, h)
	}
	if len(w.started) != 1 || len(refusals) != 0 {
		t.Fatalf("started %v, refusals %v", w.started, refusals)
	}
}
