package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// TestFailbackEvacuationHoldsDownUntilTheRegionHolds evacuates us-east on the real stack, lets the region recover
// except for one service whose own health endpoint in us-east still fails, and starts the failback: it holds down
// (the failed rounds name that service, nothing is pending, an approval is refused, no failover starts) until the
// fault is cleared, then passes a full hold-down later, asks for its decision, and moves every service back: etcd
// and Kong on us-east for each.
func TestFailbackEvacuationHoldsDownUntilTheRegionHolds(t *testing.T) {
	s := startStack(t)
	startEvacuationWorker(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	names := []string{"svc-1", "svc-2", "svc-3"}
	if err := s.SeedServices(ctx, dir, names, stack.ServiceOptions{}); err != nil {
		t.Fatal(err)
	}
	// svc-2's us-east health endpoint is its own, so one service's origin can fail while the region serves.
	var svc2Down atomic.Bool
	svc2Down.Store(true)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if svc2Down.Load() {
			http.Error(w, "svc-2 still broken in us-east", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(origin.Close)
	p := s.ServicePlan("svc-2", stack.ServiceOptions{})
	r := p.Regions["us-east"]
	r.HealthURL = origin.URL + "/healthz"
	p.Regions["us-east"] = r
	writePlanFile(t, filepath.Join(dir, "svc-2.yaml"), p)

	fault(t, s, "us-east", `{"status":503}`)
	out := evacuationOf(t, dir, "from: us-east\napproval: {mode: auto, approvers: [alice]}\n")
	run, err := control.StartEvacuation(ctx, s.TemporalClient, out)
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.EvacuationResult
	if err := run.Get(ctx, &res); err != nil || res.Outcome != workflows.Succeeded {
		t.Fatalf("evacuation %+v %v, want succeeded", res, err)
	}
	fault(t, s, "us-east", `{"status":0}`) // the region recovers; svc-2's endpoint there does not

	back := evacuationKindOf(t, dir, "from: us-east\napproval: {mode: manual, approvers: [alice]}\n"+
		"failback: {holdDown: 3s, probeInterval: 500ms, minSinceEvacuation: 1s}\n", workflows.KindFailback)
	fb, err := control.StartEvacuation(ctx, s.TemporalClient, back)
	if err != nil {
		t.Fatal(err)
	}
	status := func() workflows.EvacuationStatus {
		st, err := control.EvacuationStatus(ctx, s.TemporalClient, fb.GetID(), "")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// It holds for longer than a hold-down while svc-2 fails: every round resets, nothing is asked or started.
	eventually(t, time.Minute, "the failback holds down across more than a hold-down of rounds", func() bool {
		st := status()
		if st.Pending != nil || st.Counts[workflows.ServiceWaiting] != 3 {
			t.Fatalf("during the hold-down: pending %+v, counts %v", st.Pending, st.Counts)
		}
		h := st.HoldDown
		return st.Step == workflows.StepHoldDown && h != nil && h.Rounds >= 10 && h.HealthySince == nil
	})
	st := status()
	if !strings.Contains(st.HoldDownLine, "holding down: us-east not healthy, needs 3s healthy (reset 1× at ") ||
		!strings.Contains(st.HoldDownLine, ": svc-2 down)") || !strings.Contains(st.HoldDown.Resets[0].Detail, "503") {
		t.Fatalf("hold-down %q (%+v), want svc-2 named with its 503", st.HoldDownLine, st.HoldDown.Resets)
	}
	if !strings.Contains(st.HoldDown.Evacuation, "evacuation-us-east (run "+run.GetRunID()+") ended completed") {
		t.Fatalf("minSinceEvacuation found %q, want the evacuation's run", st.HoldDown.Evacuation)
	}
	vote := control.Vote{WorkflowID: fb.GetID(), Update: workflows.ApproveUpdate,
		Request: workflows.ApprovalRequest{By: "alice", PlanHash: back.Hash, Via: "test"}}
	if _, err := control.Decide(ctx, s.TemporalClient, vote); err == nil || !strings.Contains(err.Error(), "is holding down") {
		t.Fatalf("approval during the hold-down: %v, want it refused", err)
	}

	svc2Down.Store(false)
	eventually(t, time.Minute, "the failback asks for its decision after the hold-down", func() bool { return status().Pending != nil })
	h := status().HoldDown
	if h.PassedAt == nil || h.HealthySince == nil || h.PassedAt.Sub(*h.HealthySince) < 3*time.Second ||
		h.HealthySince.Before(h.Resets[len(h.Resets)-1].At) {
		t.Fatalf("hold-down %+v, want a full 3s of healthy rounds after the last reset", h)
	}
	t.Logf("hold-down: %d rounds, %d reset(s) (the first run %d failed rounds), passed %s after the last healthy streak began",
		h.Rounds, h.ResetCount, h.Resets[0].Rounds, h.PassedAt.Sub(*h.HealthySince))
	if st, err := control.Decide(ctx, s.TemporalClient, vote); err != nil || st.Outcome != workflows.ApproveUpdate {
		t.Fatalf("approval: %+v %v", st, err)
	}
	if err := fb.Get(ctx, &res); err != nil || res.Outcome != workflows.Succeeded || res.Counts[workflows.Succeeded] != 3 {
		t.Fatalf("failback %+v %v, want 3 succeeded", res, err)
	}
	for _, n := range names {
		a, w := serviceState(t, s, n)
		if a.Value.Region != "us-east" || a.Value.Epoch != 3 || w["us-east"] != 100 || w["eu-west"] != 0 {
			t.Errorf("%s: etcd %+v, kong %v; want back on us-east (epoch 3) with all traffic", n, a.Value, w)
		}
	}
	recordHistoryOf(t, s, fb.GetID(), "evacuation-failback-hold-down")
}

// writePlanFile writes p as YAML into a plan directory and checks it loads back.
func writePlanFile(t testing.TB, path string, p plan.Plan) {
	t.Helper()
	b, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Load(path); err != nil {
		t.Fatal(err)
	}
}
