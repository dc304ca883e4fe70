package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// startEvacuationWorker is startWorker with the Temporal client the evacuation's AwaitFailover needs.
func startEvacuationWorker(t testing.TB, s *stack.Stack) worker.Worker {
	t.Helper()
	return startAuditedEvacuationWorker(t, s, nil)
}

// startAuditedEvacuationWorker is startEvacuationWorker writing its audit log to audit (nil: none).
func startAuditedEvacuationWorker(t testing.TB, s *stack.Stack, audit *activities.AuditLog) worker.Worker {
	t.Helper()
	w := worker.New(s.TemporalClient, workflows.TaskQueue, workflows.WorkerOptions(""))
	workflows.Register(w, &activities.Activities{Etcd: s.EtcdClient, Kong: s.KongClient, HTTP: &http.Client{Timeout: 10 * time.Second},
		Logger: slog.New(slog.DiscardHandler), Temporal: s.TemporalClient, Audit: audit}, workflows.Trust{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// tiers labels the test's services by their name's prefix: db-… data, svc-… service, edge-… edge.
func tiers(name string) map[string]string {
	tier, _, _ := strings.Cut(name, "-")
	return map[string]string{"tier": map[string]string{"db": "data", "svc": "service", "edge": "edge"}[tier]}
}

// evacuationOf resolves an evacuation YAML against the plans in dir and builds its request.
func evacuationOf(t testing.TB, dir, yaml string) workflows.EvacuationRequest {
	t.Helper()
	return evacuationKindOf(t, dir, yaml, workflows.KindFailover)
}

// evacuationKindOf is evacuationOf for an evacuation (kind failover) or a failback.
func evacuationKindOf(t testing.TB, dir, yaml, kind string) workflows.EvacuationRequest {
	t.Helper()
	e, err := plan.DecodeEvacuation(strings.NewReader("plans: " + dir + "\n" + yaml))
	if err != nil {
		t.Fatal(err)
	}
	waves, err := e.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	req := workflows.NewEvacuationRequest(e, kind, waves, workflows.Trigger{Source: "test", By: "e2e"})
	if err := req.Validate(); err != nil {
		t.Fatal(err)
	}
	return req
}

// serviceState reads a service's active region and its Kong weights per region.
func serviceState(t testing.TB, s *stack.Stack, name string) (activities.ActiveState, map[string]int) {
	t.Helper()
	acts := &activities.Activities{Etcd: s.EtcdClient, Kong: s.KongClient}
	a, err := acts.ReadActive(context.Background(), "/failover/"+name+"/active")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := acts.ReadWeights(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range stack.RegionNames {
		for _, w := range ws {
			if w.Target == s.Regions[r].Addr() {
				out[r] = w.Weight
			}
		}
	}
	return a, out
}

// checkMoved checks a service is on eu-west in etcd (written exactly once, the seed being the first write) and
// in Kong: the invariant behind its succeeded.
func checkMoved(t testing.TB, s *stack.Stack, name string) {
	t.Helper()
	a, w := serviceState(t, s, name)
	if a.Value.Region != "eu-west" || w["eu-west"] != 100 || w["us-east"] != 0 {
		t.Errorf("%s: etcd %+v, kong %v; want eu-west with all traffic", name, a.Value, w)
	}
	resp, err := s.EtcdClient.Get(context.Background(), "/failover/"+name+"/active")
	if err != nil || resp.Kvs[0].Version != 2 {
		t.Errorf("%s: active key version %d (%v), want 2: the seed and one cutover", name, resp.Kvs[0].Version, err)
	}
}

func checkUnchanged(t testing.TB, s *stack.Stack, name string) {
	t.Helper()
	a, w := serviceState(t, s, name)
	if a.Value.Region != "us-east" || a.Value.Epoch != 1 || w["us-east"] != 100 || w["eu-west"] != 0 {
		t.Errorf("%s: etcd %+v, kong %v; want untouched on us-east", name, a.Value, w)
	}
}

// TestEvacuationMovesEveryServiceInWaves evacuates us-east on the real stack: data, then services, then the edge,
// with one approval. One service was already failing over (waiting for its own approver) and is joined, not
// doubled; one plan is edited after the start and its service is refused before anything changes; the others
// move, each with etcd and Kong on the target. The worker's audit log (a file) has the evacuation's start, alice's
// approval (not mallory's refused one) and its end with the counts, exactly once each.
func TestEvacuationMovesEveryServiceInWaves(t *testing.T) {
	s := startStack(t)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, auditFile, err := activities.OpenAuditFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auditFile.Close() })
	startAuditedEvacuationWorker(t, s, audit)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	names := []string{"db-1", "db-2", "svc-1", "svc-2", "edge-1"}
	if err := s.SeedServices(ctx, dir, names, stack.ServiceOptions{Labels: tiers}); err != nil {
		t.Fatal(err)
	}
	fault(t, s, "us-east", `{"status":503}`)

	// svc-2's own failover, started by a person, waits for its approver.
	own := s.ServicePlan("svc-2", stack.ServiceOptions{Labels: tiers})
	own.Approval.Mode = plan.ApprovalManual
	ownRun, err := control.Start(ctx, s.TemporalClient, request(own, "us-east", "eu-west"))
	if err != nil {
		t.Fatal(err)
	}

	req := evacuationOf(t, dir, `from: us-east
waves:
  - {name: data, selector: {tier: data}, concurrency: 2}
  - {name: services, selector: {tier: service}}
  - {name: edge, selector: {tier: edge}}
approval: {mode: manual, approvers: [alice], perService: waive}
blastRadius: {maxFailed: 2}
`)
	run, err := control.StartEvacuation(ctx, s.TemporalClient, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := control.StartEvacuation(ctx, s.TemporalClient, req); err == nil || !strings.Contains(err.Error(), control.ErrEvacuationRunning.Error()) {
		t.Fatalf("second start: %v, want ErrEvacuationRunning", err)
	}
	// Edit edge-1's plan after the start: the evacuation refuses it at its turn.
	b, err := os.ReadFile(filepath.Join(dir, "edge-1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "edge-1.yaml"), []byte(strings.Replace(string(b), "samples: 3", "samples: 4", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := plan.Load(filepath.Join(dir, "edge-1.yaml")); err != nil || p.Hash() == req.Services[4].PlanHash {
		t.Fatalf("edited plan: %v (the edit must change its hash)", err)
	}

	vote := control.Vote{WorkflowID: run.GetID(), Update: workflows.ApproveUpdate,
		Request: workflows.ApprovalRequest{By: "mallory", PlanHash: req.Hash, Via: "test"}}
	eventually(t, 30*time.Second, "evacuation asks for its decision", func() bool {
		st, err := control.EvacuationStatus(ctx, s.TemporalClient, run.GetID(), "")
		return err == nil && st.Pending != nil
	})
	_, err = control.Decide(ctx, s.TemporalClient, vote)
	if refusal, _, _ := control.Refusal(err); refusal != workflows.RefusedNotApprover {
		t.Fatalf("mallory's approval: refusal %q, want %s", refusal, workflows.RefusedNotApprover)
	}
	vote.Request.By = "alice"
	if st, err := control.Decide(ctx, s.TemporalClient, vote); err != nil || st.Outcome != workflows.ApproveUpdate {
		t.Fatalf("alice's approval: %+v %v", st, err)
	}
	// The evacuation joins svc-2's failover; its approver approves it there.
	eventually(t, time.Minute, "svc-2 joined", func() bool {
		st, err := control.EvacuationStatus(ctx, s.TemporalClient, run.GetID(), "")
		return err == nil && st.Services[3].Service == "svc-2" && st.Services[3].State == workflows.ServiceJoined
	})
	if _, err := control.Decide(ctx, s.TemporalClient, control.Vote{WorkflowID: ownRun.GetID(), Update: workflows.ApproveUpdate,
		Request: workflows.ApprovalRequest{By: "alice", PlanHash: own.Hash(), Via: "test"}}); err != nil {
		t.Fatal(err)
	}

	var res workflows.EvacuationResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != workflows.Incomplete || res.Counts[workflows.Succeeded] != 4 || res.Counts[workflows.Refused] != 1 {
		t.Fatalf("result %+v, want 4 succeeded and edge-1 refused", res)
	}
	if r := res.NotSucceeded[0]; r.Service != "edge-1" || !strings.Contains(r.Reason, "changed since the evacuation started") {
		t.Fatalf("not succeeded %+v, want edge-1 refused for its edited plan", res.NotSucceeded)
	}
	for _, n := range []string{"db-1", "db-2", "svc-1", "svc-2"} {
		checkMoved(t, s, n)
	}
	checkUnchanged(t, s, "edge-1")
	st, err := control.EvacuationStatus(ctx, s.TemporalClient, run.GetID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if sv := st.Services[3]; sv.Service != "svc-2" || sv.RunID != ownRun.GetRunID() || !strings.Contains(sv.Reason, "joined the running failover-svc-2") {
		t.Fatalf("svc-2 %+v, want the person's run %s joined", sv, ownRun.GetRunID())
	}
	checkEvacuationAudited(t, auditPath, ownRun.GetRunID())
	recordHistoryOf(t, s, "evacuation-us-east", "evacuation-audit")         // held nothing, joined one, refused one, audited
	recordHistoryOf(t, s, workflows.WorkflowID("db-1"), "evacuation-child") // a failover its parent evacuation approved
	// Waves in order: every data failover closed before any service failover started.
	dataClosed, serviceStarted := lastClose(t, s, "db-1", "db-2"), firstStart(t, s, "svc-1")
	if !dataClosed.Before(serviceStarted) {
		t.Fatalf("wave services started at %s, before wave data ended at %s", serviceStarted, dataClosed)
	}
}

func lastClose(t testing.TB, s *stack.Stack, names ...string) time.Time {
	t.Helper()
	var last time.Time
	for _, n := range names {
		d, err := s.TemporalClient.DescribeWorkflowExecution(context.Background(), workflows.WorkflowID(n), "")
		if err != nil {
			t.Fatal(err)
		}
		if c := d.GetWorkflowExecutionInfo().GetCloseTime().AsTime(); c.After(last) {
			last = c
		}
	}
	return last
}

func firstStart(t testing.TB, s *stack.Stack, name string) time.Time {
	t.Helper()
	d, err := s.TemporalClient.DescribeWorkflowExecution(context.Background(), workflows.WorkflowID(name), "")
	if err != nil {
		t.Fatal(err)
	}
	return d.GetWorkflowExecutionInfo().GetStartTime().AsTime()
}

// TestEvacuationSurvivesWorkerKill kills the worker process (SIGKILL) while an evacuation has failovers in
// flight; a new worker finishes it: every service ends succeeded with etcd written exactly once and Kong on the
// target, and the evacuation counts each service once, across continue-as-new runs. Both workers append to one
// audit file: it has the evacuation's start, its approval and its end once each, numbered on across the runs.
func TestEvacuationSurvivesWorkerKill(t *testing.T) {
	bin := buildWorker(t)
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	names := stack.ServiceNames("svc", 8)
	if err := s.SeedServices(ctx, dir, names, stack.ServiceOptions{}); err != nil {
		t.Fatal(err)
	}
	fault(t, s, "us-east", `{"status":503}`)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	first := runWorkerProcess(t, bin, s, "--audit-log", auditPath)
	req := evacuationOf(t, dir, "from: us-east\nconcurrency: 3\napproval: {mode: auto, approvers: [alice]}\n")
	req.ServicesPerRun = 3
	run, err := control.StartEvacuation(ctx, s.TemporalClient, req)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "a service done and others running", func() bool {
		st, err := control.EvacuationStatus(ctx, s.TemporalClient, run.GetID(), "")
		return err == nil && st.Counts[workflows.Succeeded] >= 1 && st.Counts[workflows.ServiceRunning] >= 1
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	runWorkerProcess(t, bin, s, "--audit-log", auditPath)
	var res workflows.EvacuationResult
	if err := s.TemporalClient.GetWorkflow(ctx, run.GetID(), "").Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != workflows.Succeeded || res.Counts[workflows.Succeeded] != len(names) {
		t.Fatalf("result %+v, want all %d succeeded", res, len(names))
	}
	for _, n := range names {
		checkMoved(t, s, n)
	}
	st, err := control.EvacuationStatus(ctx, s.TemporalClient, run.GetID(), "")
	if err != nil || st.Run < 2 {
		t.Fatalf("status run %d (%v), want at least 3 runs of 3 services", st.Run, err)
	}
	checkAuditedAcrossRuns(t, auditPath, run.GetID(), len(names))
}

// recordHistoryOf records the workflow's latest run as testsuite/histories/NAME.json with RECORD_HISTORIES=1.
func recordHistoryOf(t testing.TB, s *stack.Stack, id, name string) {
	t.Helper()
	if os.Getenv("RECORD_HISTORIES") != "1" {
		return
	}
	b, err := exportHistory(s.TemporalClient, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "histories", name+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
