// Package e2e drives whole failovers on the real local stack: embedded Temporal, embedded etcd, the Kong
// stand-in (through go-kong) and the demo region services.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/follow"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// startStack runs the stack without Prometheus (those tests live with the alert path) and without a worker.
func startStack(t testing.TB) *stack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{NoUI: true, NoWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// planWithoutPrometheus drops the demo plan's Prometheus checks: these tests run no Prometheus.
func planWithoutPrometheus(s *stack.Stack) plan.Plan {
	p := s.Plan
	p.Readiness = plan.Readiness{}
	p.Traffic.Gate = withoutPrometheus(p.Traffic.Gate)
	p.Verification.Checks = withoutPrometheus(p.Verification.Checks)
	return p
}

func withoutPrometheus(checks []plan.Check) []plan.Check {
	var out []plan.Check
	for _, c := range checks {
		if c.Prometheus == nil {
			out = append(out, c)
		}
	}
	return out
}

// startWorker runs a failover worker with a Temporal client, as the worker binary does: its failovers pause their
// service's drill schedules.
func startWorker(t testing.TB, s *stack.Stack) worker.Worker {
	t.Helper()
	w := worker.New(s.TemporalClient, workflows.TaskQueue, workflows.WorkerOptions(""))
	workflows.Register(w, &activities.Activities{Etcd: s.EtcdClient, Kong: s.KongClient, HTTP: &http.Client{Timeout: 10 * time.Second},
		Logger: slog.New(slog.DiscardHandler), Temporal: s.TemporalClient}, workflows.Trust{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

func request(p plan.Plan, from, to string) workflows.Request {
	return workflows.Request{Plan: p, PlanHash: p.Hash(), From: from, To: to, Kind: workflows.KindFailover,
		Trigger: workflows.Trigger{Source: "test", By: "e2e"}}
}

func start(t testing.TB, s *stack.Stack, req workflows.Request) client.WorkflowRun {
	t.Helper()
	run, err := s.TemporalClient.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: workflows.WorkflowID(req.Plan.Service), TaskQueue: workflows.TaskQueue, WorkflowTaskTimeout: workflows.WorkflowTaskTimeout},
		workflows.Failover, req)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func result(t testing.TB, run client.WorkflowRun) workflows.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res workflows.Result
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("workflow %s: %v", run.GetID(), err)
	}
	return res
}

func fault(t testing.TB, s *stack.Stack, regionName, body string) {
	t.Helper()
	resp, err := http.Post(s.Regions[regionName].URL()+"/fault", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		t.Fatalf("fault %s: HTTP %d", regionName, resp.StatusCode)
	}
}

func active(t testing.TB, s *stack.Stack) activities.ActiveState {
	t.Helper()
	st, err := (&activities.Activities{Etcd: s.EtcdClient}).ReadActive(context.Background(), s.Plan.Etcd.ActiveKey)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// weights maps region name → Kong weight of its target.
func weights(t testing.TB, s *stack.Stack) map[string]int {
	t.Helper()
	ws, err := (&activities.Activities{Kong: s.KongClient}).ReadWeights(context.Background(), s.Plan.Kong.Upstream)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for name, r := range s.Plan.Regions {
		for _, w := range ws {
			if w.Target == r.KongTarget {
				out[name] = w.Weight
			}
		}
	}
	return out
}

// servedBy asks the Kong proxy n times which region answers.
func servedBy(t testing.TB, s *stack.Stack, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for i := 0; i < n; i++ {
		resp, err := http.Get(fmt.Sprintf("%s/payments/items/k%d", s.Kong.ProxyURL(), i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		out[resp.Header.Get("X-Region")+fmt.Sprintf(" %d", resp.StatusCode)]++
	}
	return out
}

func wantOutcome(t testing.TB, res workflows.Result, outcome string) {
	t.Helper()
	if res.Outcome != outcome {
		t.Fatalf("outcome %q (%s), want %q", res.Outcome, res.Reason, outcome)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFailoverSucceeds(t *testing.T) {
	s := startStack(t)
	startWorker(t, s)
	if got := servedBy(t, s, 4); got["us-east 200"] != 4 {
		t.Fatalf("before: served by %v, want us-east only", got)
	}
	fault(t, s, "us-east", `{"status":503}`)
	res := result(t, start(t, s, request(planWithoutPrometheus(s), "us-east", "eu-west")))
	wantOutcome(t, res, workflows.Succeeded)
	if a := active(t, s); a.Value.Region != "eu-west" || a.Value.Epoch != 2 || a.Value.Previous.Region != "us-east" {
		t.Fatalf("etcd after: %+v", a.Value)
	}
	if w := weights(t, s); w["eu-west"] != 100 || w["us-east"] != 0 {
		t.Fatalf("kong after: %v", w)
	}
	if got := servedBy(t, s, 10); got["eu-west 200"] != 10 {
		t.Fatalf("after: served by %v, want eu-west only", got)
	}
	if e := s.Regions["eu-west"].SeenEpoch(); e != 2 {
		t.Fatalf("eu-west saw epoch %d, want 2", e)
	}
	recordHistory(t, s, "succeeded")
}

func TestUnreadyTargetChangesNothing(t *testing.T) {
	s := startStack(t)
	startWorker(t, s)
	before := active(t, s)
	fault(t, s, "us-east", `{"status":503}`)
	fault(t, s, "eu-west", `{"status":503}`)
	res := result(t, start(t, s, request(planWithoutPrometheus(s), "us-east", "eu-west")))
	wantOutcome(t, res, workflows.NotReady)
	if after := active(t, s); after.ModRevision != before.ModRevision {
		t.Fatalf("etcd changed: revision %d → %d", before.ModRevision, after.ModRevision)
	}
	if w := weights(t, s); w["us-east"] != 100 || w["eu-west"] != 0 {
		t.Fatalf("kong changed: %v", w)
	}
	recordHistory(t, s, "not-ready")
}

func TestFailedVerificationRollsBack(t *testing.T) {
	s := startStack(t)
	startWorker(t, s)
	fault(t, s, "us-east", `{"status":503}`)
	// eu-west answers, but slower than the verification check allows.
	fault(t, s, "eu-west", `{"latency_ms":300}`)
	p := planWithoutPrometheus(s)
	p.Verification.Checks[0].HTTP.Timeout = 100 * time.Millisecond
	res := result(t, start(t, s, request(p, "us-east", "eu-west")))
	wantOutcome(t, res, workflows.RolledBack)
	a := active(t, s)
	if a.Value.Region != "us-east" || a.Value.Epoch != 3 {
		t.Fatalf("etcd after rollback: %+v, want us-east at a new epoch 3", a.Value)
	}
	if w := weights(t, s); w["us-east"] != 100 || w["eu-west"] != 0 {
		t.Fatalf("kong after rollback: %v", w)
	}
	recordHistory(t, s, "rolled-back")
}

func TestFencedCutoverStops(t *testing.T) {
	s := startStack(t)
	startWorker(t, s)
	fault(t, s, "us-east", `{"status":503}`)
	p := planWithoutPrometheus(s)
	p.Approval.Mode = plan.ApprovalManual
	run := start(t, s, request(p, "us-east", "eu-west"))
	eventually(t, 30*time.Second, "waiting for approval", func() bool {
		v, err := s.TemporalClient.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), workflows.StatusQuery)
		var st workflows.Status
		return err == nil && v.Get(&st) == nil && st.Pending != nil
	})
	// Someone changes the key by hand between readiness and cutover.
	manual, _ := json.Marshal(follow.Active{Region: "us-east", Epoch: 9, WorkflowID: "operator", Time: time.Now()})
	if _, err := s.EtcdClient.Put(context.Background(), p.Etcd.ActiveKey, string(manual)); err != nil {
		t.Fatal(err)
	}
	approve(t, s, run.GetID(), p.Hash(), "alice")
	res := result(t, run)
	wantOutcome(t, res, workflows.Fenced)
	if !strings.Contains(res.Reason, "operator") {
		t.Fatalf("reason %q should name who changed the key", res.Reason)
	}
	if a := active(t, s); a.Value.Epoch != 9 || a.Value.WorkflowID != "operator" {
		t.Fatalf("etcd after fencing: %+v, want the operator's value untouched", a.Value)
	}
	if w := weights(t, s); w["us-east"] != 100 {
		t.Fatalf("kong changed after fencing: %v", w)
	}
	recordHistory(t, s, "fenced")
}

func approve(t testing.TB, s *stack.Stack, id, planHash, by string) {
	t.Helper()
	h, err := s.TemporalClient.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: workflows.ApproveUpdate, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.ApprovalRequest{By: by, PlanHash: planHash, Via: "test"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Get(context.Background(), nil); err != nil {
		t.Fatalf("approve: %v", err)
	}
}

// recordHistory writes the run's history to testsuite/histories when RECORD_HISTORIES=1, for the replay test.
func recordHistory(t testing.TB, s *stack.Stack, name string) {
	t.Helper()
	if os.Getenv("RECORD_HISTORIES") != "1" {
		return
	}
	b, err := exportHistory(s.TemporalClient, workflows.WorkflowID(s.Plan.Service))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "histories", name+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAlertStartedRunHoldsForRepeats: a failover an alert started (Signal-With-Start, as the front door does) that
// succeeds at once still stays open AlertHold after its start, so late repeats of its alert attach to it; a repeat
// during the hold is counted and changes nothing. Its history is recorded (alert-succeeded.json) with the change
// IDs hold-for-repeats and bounded-alerts.
func TestAlertStartedRunHoldsForRepeats(t *testing.T) {
	s := startStack(t)
	startWorker(t, s)
	fault(t, s, "us-east", `{"status":503}`)
	p := planWithoutPrometheus(s)
	p.Verification.Count = 1
	req := request(p, "us-east", "eu-west")
	req.Trigger = workflows.Trigger{Source: workflows.TriggerAlert, By: "alertmanager", Alert: "RegionDown", Severity: "critical"}
	alert := workflows.Alert{Status: "firing", Alertname: "RegionDown", Fingerprint: "f1", Severity: "critical",
		Labels: map[string]string{"region": "us-east"}, StartsAt: time.Now(), ReceivedAt: time.Now()}
	run, err := control.Join(context.Background(), s.TemporalClient, req, alert)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the failover succeeded and holds", func() bool {
		st, err := control.Status(context.Background(), s.TemporalClient, run.GetID(), run.GetRunID())
		return err == nil && st.Outcome == workflows.Succeeded
	})
	if _, err := control.Join(context.Background(), s.TemporalClient, req, alert); err != nil {
		t.Fatalf("a repeat during the hold: %v", err)
	}
	res := result(t, run)
	wantOutcome(t, res, workflows.Succeeded)
	d, err := s.TemporalClient.DescribeWorkflowExecution(context.Background(), run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	info := d.GetWorkflowExecutionInfo()
	if open := info.GetCloseTime().AsTime().Sub(info.GetStartTime().AsTime()); open < workflows.AlertHold {
		t.Fatalf("the run closed %s after its start, want at least AlertHold (%s)", open, workflows.AlertHold)
	}
	st, err := control.Status(context.Background(), s.TemporalClient, run.GetID(), run.GetRunID())
	if err != nil || len(st.Alerts) != 1 || st.Alerts[0].Notifications != 2 {
		t.Fatalf("alerts %+v (%v): want one alert seen twice", st.Alerts, err)
	}
	recordHistory(t, s, "alert-succeeded")
}
