package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// evacWorld fakes what an evacuation's children and plan reads do, and records what happened.
type evacWorld struct {
	mu sync.Mutex
	// outcome decides each service's failover outcome (default succeeded); hold makes it take that long.
	outcome func(service string) Outcome
	hold    time.Duration
	holdOf  func(service string) time.Duration // overrides hold
	// changed makes LoadPlans return another hash for these services' plans.
	changed             map[string]bool
	running, maxRunning int
	started, ended      []string
	requests            []Request
	startedAt           []time.Time
	loads               int
	// down says which services' origin probes fail in a failback's hold-down round (1, 2, …); nil: none.
	down   func(round int) []string
	rounds int
	// evacuation is what LatestEvacuation finds of the evacuation out of the region (default: none).
	evacuation activities.EvacuationRun
}

// evacRequest schedules services (name per wave) with the given concurrency; plan approval mode auto.
func evacRequest(concurrency int, waves ...[]string) EvacuationRequest {
	e := plan.Evacuation{From: "us-east", To: "eu-west", Plans: "/plans", Concurrency: concurrency,
		Approval: plan.EvacuationApproval{Approval: plan.Approval{Mode: plan.ApprovalAuto, Approvers: []string{"alice", "bob"}}}}
	e.SetDefaults()
	var sched []plan.ScheduledWave
	for i, names := range waves {
		w := plan.ScheduledWave{Name: fmt.Sprintf("w%d", i), Concurrency: concurrency}
		for _, n := range names {
			w.Services = append(w.Services, plan.Scheduled{Service: n, File: n + ".yaml", PlanHash: "hash-" + n, From: "us-east", To: "eu-west"})
		}
		sched = append(sched, w)
	}
	return NewEvacuationRequest(e, KindFailover, sched, Trigger{Source: "test", By: "tester"})
}

func newEvacEnv(t *testing.T, w *evacWorld) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	env.RegisterWorkflow(Evacuation)
	env.RegisterWorkflow(Failover)
	env.OnActivity(a.LoadPlans, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PlanBatch) ([]activities.LoadedPlan, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.loads++
			var out []activities.LoadedPlan
			for _, f := range in.Files {
				svc := strings.TrimSuffix(f, ".yaml")
				p := testPlan()
				p.Service = svc
				h := "hash-" + svc
				if w.changed[svc] {
					h = "edited"
				}
				out = append(out, activities.LoadedPlan{File: f, Plan: p, Hash: h})
			}
			return out, nil
		})
	env.OnActivity(a.ProbeOrigins, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.OriginProbe) (activities.OriginHealth, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.rounds++
			res := activities.OriginHealth{Probed: len(in.Files)}
			if w.down != nil {
				for _, s := range w.down(w.rounds) {
					res.Down = append(res.Down, activities.DownService{Service: s, Detail: "HTTP 503"})
				}
			}
			return res, nil
		})
	env.OnActivity(a.LatestEvacuation, mock.Anything, mock.Anything).Return(
		func(context.Context, string) (activities.EvacuationRun, error) { return w.evacuation, nil })
	env.OnWorkflow(Failover, mock.Anything, mock.Anything).Return(func(ctx workflow.Context, req Request) (Result, error) {
		svc := req.Plan.Service
		w.mu.Lock()
		w.startedAt = append(w.startedAt, workflow.Now(ctx))
		w.running++
		w.maxRunning = max(w.maxRunning, w.running)
		w.started = append(w.started, svc)
		w.requests = append(w.requests, req)
		w.mu.Unlock()
		d := max(w.hold, time.Second)
		if w.holdOf != nil {
			d = w.holdOf(svc)
		}
		if err := workflow.Sleep(ctx, d); err != nil {
			return Result{Outcome: Cancelled, Service: svc}, nil
		}
		w.mu.Lock()
		w.running--
		w.ended = append(w.ended, svc)
		w.mu.Unlock()
		out := Succeeded
		if w.outcome != nil {
			out = w.outcome(svc)
		}
		return Result{Outcome: out, Service: svc, RTOSeconds: 1.5, Steps: []StepRecord{{Name: StepVerify}}}, nil
	})
	return env
}

// runEvacuation runs the evacuation to its end, following its continue-as-new runs, and returns the result and
// how many runs it took.
func runEvacuation(t *testing.T, w *evacWorld, req EvacuationRequest, setup func(env *testsuite.TestWorkflowEnvironment)) (EvacuationResult, int) {
	t.Helper()
	for runs := 1; runs <= 50; runs++ {
		env := newEvacEnv(t, w)
		if req.Carry != nil && req.Carry.Hold != nil {
			env.SetStartTime(req.Carry.Hold.LastRound) // a run continued during a hold-down goes on from its last round
		}
		if setup != nil {
			setup(env)
		}
		env.ExecuteWorkflow(Evacuation, req)
		if !env.IsWorkflowCompleted() {
			t.Fatal("evacuation did not complete")
		}
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			var next EvacuationRequest
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
				t.Fatal(err)
			}
			req = next
			continue
		}
		if err != nil {
			t.Fatalf("evacuation error: %v", err)
		}
		var res EvacuationResult
		if err := env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
		return res, runs
	}
	t.Fatal("more than 50 runs")
	return EvacuationResult{}, 0
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestEvacuationRunsWavesInOrderWithinConcurrency(t *testing.T) {
	w := &evacWorld{}
	req := evacRequest(2, names("db", 3), names("svc", 5), names("edge", 2))
	res, _ := runEvacuation(t, w, req, nil)
	if res.Outcome != Succeeded || res.Counts[Succeeded] != 10 {
		t.Fatalf("result %+v, want 10 succeeded", res)
	}
	if w.maxRunning != 2 {
		t.Fatalf("at most %d ran at once, want the concurrency 2", w.maxRunning)
	}
	// Every service of a wave starts after every service of the wave before it ended.
	for wave, prefix := range []string{"svc", "edge"} {
		prev := []string{"db", "svc"}[wave]
		firstStart := slices.IndexFunc(w.started, func(s string) bool { return strings.HasPrefix(s, prefix) })
		lastPrevEnd := -1
		for i, s := range w.ended {
			if strings.HasPrefix(s, prev) {
				lastPrevEnd = i
			}
		}
		startedBefore := 0
		for _, s := range w.started[:firstStart] {
			if strings.HasPrefix(s, prev) {
				startedBefore++
			}
		}
		if lastPrevEnd < 0 || startedBefore != countPrefix(w.ended[:lastPrevEnd+1], prev) {
			t.Fatalf("wave %s started before wave %s ended: started %v ended %v", prefix, prev, w.started, w.ended)
		}
	}
	for _, r := range w.requests {
		if r.Trigger.Source != TriggerEvacuation || r.Trigger.Evacuation == nil || r.Trigger.Evacuation.ID != "default-test-workflow-id" {
			t.Fatalf("child trigger %+v, want the evacuation's grant (approval.perService waive)", r.Trigger)
		}
	}
}

func countPrefix(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func TestEvacuationContinuesAsNewWithBoundedRuns(t *testing.T) {
	w := &evacWorld{}
	req := evacRequest(3, names("a", 4), names("b", 7))
	req.ServicesPerRun = 3
	res, runs := runEvacuation(t, w, req, nil)
	if res.Outcome != Succeeded || res.Counts[Succeeded] != 11 {
		t.Fatalf("result %+v, want 11 succeeded", res)
	}
	if runs < 4 || len(w.started) != 11 {
		t.Fatalf("%d runs started %d failovers, want at least 4 runs (3 per run) and each service once", runs, len(w.started))
	}
}

func TestBlastRadiusHoldsUntilAbort(t *testing.T) {
	w := &evacWorld{outcome: func(s string) Outcome {
		if s == "s0" || s == "s1" {
			return RolledBack
		}
		return Succeeded
	}}
	req := evacRequest(1, names("s", 6))
	req.BlastRadius.MaxFailed = 1
	var held EvacuationStatus
	res, _ := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() {
			v, err := env.QueryWorkflow(EvacuationStatusQuery)
			if err == nil {
				_ = v.Get(&held)
			}
			env.UpdateWorkflow(AbortUpdate, "", &testsuite.TestUpdateCallback{OnAccept: func() {}, OnReject: func(err error) {
				t.Errorf("abort refused: %v", err)
			}, OnComplete: func(any, error) {}}, ApprovalRequest{By: "alice", PlanHash: req.Hash})
		}, time.Hour)
	})
	if held.Step != StepHeld || !strings.Contains(held.Held, "2 services failed, more than blastRadius.maxFailed 1") {
		t.Fatalf("status before the abort: step %s held %q, want held by the blast radius", held.Step, held.Held)
	}
	if res.Outcome != Aborted || res.Counts[RolledBack] != 2 || res.Counts[NotStarted] != 4 || len(w.started) != 2 {
		t.Fatalf("result %+v (started %v), want aborted with 2 rolled back and 4 not started", res, w.started)
	}
}

func TestBlastRadiusResumeGoesOn(t *testing.T) {
	w := &evacWorld{outcome: func(s string) Outcome {
		if s == "s0" {
			return FailedNeedsHuman
		}
		return Succeeded
	}}
	req := evacRequest(1, names("s", 4))
	req.BlastRadius.MaxFailedPercent = 20 // 1 of 4 is 25 %
	res, _ := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(ResumeUpdate, "", &testsuite.TestUpdateCallback{OnAccept: func() {}, OnReject: func(err error) {
				t.Errorf("resume refused: %v", err)
			}, OnComplete: func(any, error) {}}, ApprovalRequest{By: "bob", PlanHash: req.Hash})
		}, time.Hour)
	})
	if res.Outcome != Incomplete || res.Counts[Succeeded] != 3 || res.Counts[FailedNeedsHuman] != 1 || len(res.NotSucceeded) != 1 {
		t.Fatalf("result %+v, want incomplete: 3 succeeded after the resume, s0 listed", res)
	}
}

func TestChangedPlanIsRefusedOthersGoOn(t *testing.T) {
	w := &evacWorld{changed: map[string]bool{"s1": true}}
	req := evacRequest(2, names("s", 3))
	res, _ := runEvacuation(t, w, req, nil)
	if res.Outcome != Incomplete || res.Counts[Succeeded] != 2 || res.Counts[Refused] != 1 {
		t.Fatalf("result %+v, want s1 refused, the others succeeded", res)
	}
	if r := res.NotSucceeded[0]; r.Service != "s1" || !strings.Contains(r.Reason, "changed since the evacuation started") {
		t.Fatalf("refusal %+v", r)
	}
	if slices.Contains(w.started, "s1") {
		t.Fatal("s1's failover started with a changed plan")
	}
}

func TestEvacuationNeedsItsOneDecision(t *testing.T) {
	for _, tc := range []struct {
		name    string
		votes   []string // update by person
		outcome Outcome
		started int
	}{
		{"approved by quorum", []string{"approve alice", "approve alice", "approve bob"}, Succeeded, 3},
		{"rejected", []string{"reject bob"}, Rejected, 0},
		{"stranger refused then timeout", []string{"approve mallory"}, TimedOut, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &evacWorld{}
			req := evacRequest(3, names("s", 3))
			req.Approval.Mode, req.Approval.Quorum, req.Approval.Timeout = plan.ApprovalManual, 2, time.Hour
			var refusals []string
			res, _ := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) {
				for i, v := range tc.votes {
					update, by, _ := strings.Cut(v, " ")
					env.RegisterDelayedCallback(func() {
						env.UpdateWorkflow(update, "", &testsuite.TestUpdateCallback{OnAccept: func() {},
							OnReject: func(err error) { refusals = append(refusals, err.Error()) }, OnComplete: func(any, error) {}},
							ApprovalRequest{By: by, PlanHash: req.Hash})
					}, time.Duration(i+1)*time.Minute)
				}
			})
			if res.Outcome != tc.outcome || len(w.started) != tc.started {
				t.Fatalf("outcome %s (%s), %d started; want %s, %d", res.Outcome, res.Reason, len(w.started), tc.outcome, tc.started)
			}
			if tc.started > 0 && !slices.Equal(w.requests[0].Trigger.Evacuation.ApprovedBy, []string{"alice", "bob"}) {
				t.Fatalf("grant %+v, want approved by alice and bob", w.requests[0].Trigger.Evacuation)
			}
			if strings.Contains(tc.name, "quorum") && (len(refusals) != 1 || !strings.Contains(refusals[0], "alice already approved")) {
				t.Fatalf("refusals %v, want alice's second vote refused", refusals)
			}
		})
	}
}

// TestForgedEvacuationGrantIsIgnored: a failover whose request carries an evacuation's grant but has no parent
// workflow (a client started it) still waits for its own approvers.
func TestForgedEvacuationGrantIsIgnored(t *testing.T) {
	env, _ := newEnv(t)
	req := request(testPlan())
	req.Trigger.Evacuation = &EvacuationGrant{ID: "evacuation-us-east", ApprovedBy: []string{"alice"}}
	res := run(t, env, req)
	wantOutcome(t, res, TimedOut)
}

// TestEvacuationApprovesItsChildren runs the real Failover as the evacuation's child (fake activities): the
// plans want manual approval, the evacuation was approved, and the children succeed without a vote of their own.
func TestEvacuationApprovesItsChildren(t *testing.T) {
	env, _ := newEnv(t)
	withRealChildren(env, nil)           // approval.mode manual
	req := evacRequest(1, names("s", 2)) // one at a time: the failover fakes are not safe for concurrent use
	env.ExecuteWorkflow(Evacuation, req)
	var res EvacuationResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	// The fakes share one etcd key, so the second child finds the first one's cutover: not-needed.
	if res.Outcome != Succeeded || res.Counts[Succeeded] != 1 || res.Counts[NotNeeded] != 1 {
		t.Fatalf("result %+v, want the first child succeeded on the evacuation's approval, the second not needed", res)
	}
}

// TestFailbackEvacuationMovesBackWithHoldDown: a failback evacuation runs every service's failover back into the
// region, as kind failback (each one's hold-down applies), under its own workflow ID, after its own hold-down
// (here the default 10m: the schedule names no plan hold-down).
func TestFailbackEvacuationMovesBackWithHoldDown(t *testing.T) {
	e := plan.Evacuation{From: "us-east", Plans: "/plans",
		Approval: plan.EvacuationApproval{Approval: plan.Approval{Mode: plan.ApprovalManual, Approvers: []string{"alice"}}}}
	e.SetDefaults()
	sched := []plan.ScheduledWave{{Name: "all", Concurrency: 2, Services: []plan.Scheduled{
		{Service: "s0", File: "s0.yaml", PlanHash: "hash-s0", From: "us-east", To: "eu-west"}}}}
	req := NewEvacuationRequest(e, KindFailback, sched, Trigger{Source: "test"})
	if s := req.Services[0]; s.From != "eu-west" || s.To != "us-east" || EvacuationID(req.Kind, req.Region) != "failback-us-east" {
		t.Fatalf("failback service %+v, id %s; want eu-west → us-east as failback-us-east", s, EvacuationID(req.Kind, req.Region))
	}
	if other := NewEvacuationRequest(e, KindFailover, sched, Trigger{}); other.Hash == req.Hash {
		t.Fatal("a failback and an evacuation of the same plans share a hash: an approval of one would pass for the other")
	}
	w := &evacWorld{}
	res, _ := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(ApproveUpdate, "", &testsuite.TestUpdateCallback{OnAccept: func() {}, OnReject: func(err error) {
				t.Errorf("approve refused: %v", err)
			}, OnComplete: func(any, error) {}}, ApprovalRequest{By: "alice", PlanHash: req.Hash})
		}, 11*time.Minute)
	})
	if res.Outcome != Succeeded || len(w.requests) != 1 || w.requests[0].Kind != KindFailback || w.requests[0].To != "us-east" {
		t.Fatalf("result %+v, requests %+v; want one failback into us-east", res, w.requests)
	}
}

// An evacuation an alert started that ends at once (every service not-needed) stays open until AlertHold after its
// start, so a slow copy of the alert joins it instead of starting a second one; one a person started does not.
func TestAutomaticEvacuationHoldsOpenForRepeats(t *testing.T) {
	for _, tc := range []struct {
		source string
		held   bool
	}{{TriggerAlert, true}, {TriggerWatcher, true}, {"cli", false}} {
		t.Run(tc.source, func(t *testing.T) {
			w := &evacWorld{outcome: func(string) Outcome { return NotNeeded }}
			req := evacRequest(2, []string{"a", "b"})
			req.Trigger = Trigger{Source: tc.source, By: "x"}
			env := newEvacEnv(t, w)
			start := env.Now()
			env.ExecuteWorkflow(Evacuation, req)
			var res EvacuationResult
			if err := env.GetWorkflowResult(&res); err != nil || res.Outcome != Succeeded {
				t.Fatalf("result %+v %v", res, err)
			}
			if took := env.Now().Sub(start); (took >= AlertHold) != tc.held {
				t.Fatalf("closed %s after its start; held for repeats: want %t", took, tc.held)
			}
		})
	}
}

// withRealChildren registers the Evacuation with the real Failover as its child; the plans it loads are
// testPlan for each service, changed by edit (may be nil).
func withRealChildren(env *testsuite.TestWorkflowEnvironment, edit func(*plan.Plan)) {
	env.RegisterWorkflow(Evacuation)
	env.RegisterWorkflow(Failover)
	env.OnActivity(a.LoadPlans, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PlanBatch) ([]activities.LoadedPlan, error) {
			var out []activities.LoadedPlan
			for _, f := range in.Files {
				p := testPlan()
				p.Service = strings.TrimSuffix(f, ".yaml")
				if edit != nil {
					edit(&p)
				}
				out = append(out, activities.LoadedPlan{File: f, Plan: p, Hash: "hash-" + p.Service})
			}
			return out, nil
		})
}
