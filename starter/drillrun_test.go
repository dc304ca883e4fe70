package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"gopkg.in/yaml.v3"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// promStack starts the local stack with Prometheus and waits until the checks of the demo plan have data.
func promStack(ctx context.Context, t *testing.T) *stack.Stack {
	t.Helper()
	s, err := stack.Start(ctx, stack.Options{NoUI: true, Prometheus: true, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	acts := &activities.Activities{HTTP: &http.Client{Timeout: 5 * time.Second}}
	drillWithin(t, 60*time.Second, "Prometheus has two samples of both regions", func() bool {
		res, err := acts.EvaluateQuery(ctx, activities.QueryInput{Name: "scraped", PrometheusURL: s.Prom.PrometheusURL(),
			Expr: `count(rate(region_http_requests_total{code="503"}[10s]))`, Condition: "== 2"})
		return err == nil && res.Verdict == activities.Pass
	})
	return s
}

func writeStackPlan(t *testing.T, p plan.Plan) string {
	t.Helper()
	b, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "payments.yaml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestDrillOnTheLocalStack: `starter drill` against the real local stack: the fault hook breaks us-east (the demo
// region's /fault), the real failover moves traffic to eu-west, traffic soaks, the recovery hook heals us-east,
// the failback (approved by a person, after its hold-down) moves it back, and the report gives RTO/RPO against the
// SLA per phase and what needed a human. Every run is marked as a drill in Temporal's visibility.
func TestDrillOnTheLocalStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := promStack(ctx, t)
	file := writeStackPlan(t, s.Plan)
	east := s.Regions["us-east"].URL()

	type answer struct {
		out string
		err error
	}
	done := make(chan answer, 1)
	go func() {
		out, err := starter(t, s, "drill", "--plan", file, "--to", "eu-west", "--as", "sre-bot", "--fault-url", east+"/fault",
			"--fault-body", `{"status":503}`, "--soak", "2s", "--format", "json")
		done <- answer{out, err}
	}()
	// The failback always needs a person: approve it once it asks.
	id := workflows.WorkflowID(s.Plan.Service)
	var planHash string
	drillWithin(t, 90*time.Second, "the drill's failback asks for approval", func() bool {
		st, err := control.Status(ctx, s.TemporalClient, id, "")
		planHash = st.PlanHash
		return err == nil && st.Kind == workflows.KindFailback && st.Pending != nil
	})
	drillApprove(ctx, t, s.TemporalClient, id, planHash)
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
		t.Fatal("the drill did not finish")
	}
	if a.err != nil {
		t.Fatalf("drill: %v\n%s", a.err, a.out)
	}
	var res workflows.DrillResult
	if err := json.Unmarshal([]byte(a.out[strings.Index(a.out, "{"):]), &res); err != nil {
		t.Fatalf("report: %v\n%s", err, a.out)
	}
	if res.Verdict != workflows.DrillPassed || len(res.Phases) != 2 || res.SoakSeconds < 2 {
		t.Fatalf("drill %+v", res)
	}
	for _, p := range res.Phases {
		if p.Outcome != workflows.Succeeded || p.SLA == nil || p.SLA.Verdict != workflows.SLAMet || p.RPOSeconds == nil || p.RTOSeconds <= 0 {
			t.Errorf("phase %s: %+v %+v: want succeeded, RTO and RPO measured, SLA met", p.Name, p, p.SLA)
		}
	}
	if h := res.NeededHuman(); len(h) != 1 || !strings.HasPrefix(h[0], "failback: approve by alice") {
		t.Errorf("needed a human: %v, want alice's approval of the failback", h)
	}
	t.Logf("drill report: %v", res.Lines())
	// Traffic and the key are back on us-east, which is healthy again.
	st, err := control.Status(ctx, s.TemporalClient, id, "")
	if err != nil || st.EtcdAfter == nil || st.EtcdAfter.Region != "us-east" {
		t.Fatalf("after the drill: %v %+v", err, st.EtcdAfter)
	}
	// The trend across drills lists it with its numbers, as JSON and as an HTML chart.
	var trend struct {
		Drills []struct {
			WorkflowID  string   `json:"workflow_id"`
			Verdict     string   `json:"verdict"`
			FailoverRTO *float64 `json:"failover_rto_seconds"`
			FailoverRPO *float64 `json:"failover_rpo_seconds"`
			FailbackRTO *float64 `json:"failback_rto_seconds"`
		} `json:"drills"`
	}
	drillWithin(t, 10*time.Second, "starter report --drills lists the drill", func() bool {
		out, err := starter(t, s, "report", "--drills", "--service", "payments", "--format", "json")
		return err == nil && json.Unmarshal([]byte(out), &trend) == nil && len(trend.Drills) == 1
	})
	if d := trend.Drills[0]; d.WorkflowID != workflows.DrillID("payments") || d.Verdict != workflows.DrillPassed ||
		d.FailoverRTO == nil || *d.FailoverRTO != res.Phases[0].RTOSeconds || d.FailoverRPO == nil || d.FailbackRTO == nil {
		t.Fatalf("trend row %+v, report %+v", d, res)
	}
	page, err := starter(t, s, "report", "--drills", "--service", "payments", "--format", "html")
	if err != nil || !strings.Contains(page, `<svg id="trend"`) || strings.Count(page, "<circle") != 2 {
		t.Fatalf("HTML trend: %v\n%s", err, page)
	}
	// RECORD_HISTORIES=1 pins the drill and its failover (with the RPO sampled at the cutover) for the replay test.
	recordDrillHistory(t, s, res.Phases[0].WorkflowID, res.Phases[0].RunID, "drill-failover-rpo")
	recordDrillHistory(t, s, workflows.DrillID("payments"), "", "drill")
	// The drill and both phases carry FailoverDrill=true.
	drillWithin(t, 10*time.Second, "visibility lists the drill and its two phases", func() bool {
		resp, err := s.TemporalClient.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "FailoverDrill = true"})
		return err == nil && len(resp.Executions) == 3
	})
}

// TestDrillRefusedDuringARealFailover: while a real failover of the service waits for approval, `starter drill`
// refuses up front and nothing is injected.
func TestDrillRefusedDuringARealFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, p, file := manualStack(ctx, t, nil)
	if _, err := starter(t, s, "start", "--plan", file, "--to", "eu-west", "--force"); err != nil {
		t.Fatal(err)
	}
	waitForApproval(t, s)
	east := s.Regions["us-east"].URL()
	_, err := starter(t, s, "drill", "--plan", file, "--to", "eu-west", "--fault-url", east+"/fault", "--fault-body", `{"status":503}`)
	if err == nil || !strings.Contains(err.Error(), "a failover of this service is in flight (failover-payments): wait until it ends") {
		t.Fatalf("drill during a real failover: %v", err)
	}
	resp, err := http.Get(east + "/fault")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var f struct{ Status int }
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil || f.Status != 0 {
		t.Fatalf("us-east fault %+v (%v): a refused drill injects nothing", f, err)
	}
	if _, err := control.Status(ctx, s.TemporalClient, workflows.DrillID(p.Service), ""); err == nil {
		t.Fatal("a refused drill started a workflow")
	}
}

// recordDrillHistory writes a run's history to testsuite/histories when RECORD_HISTORIES=1.
func recordDrillHistory(t *testing.T, s *stack.Stack, id, runID, name string) {
	t.Helper()
	if os.Getenv("RECORD_HISTORIES") != "1" {
		return
	}
	b, err := s.ExportHistory(context.Background(), id, runID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "testsuite", "histories", name+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
