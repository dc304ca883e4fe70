package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
)

// runValidate runs `starter plan validate` with args and returns its stdout and error.
func runValidate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out strings.Builder
	root.SetOut(&out)
	root.SetErr(&strings.Builder{})
	root.SetArgs(append([]string{"plan", "validate"}, args...))
	err := root.Execute()
	return out.String(), err
}

// writePlan writes the demo plan, changed by change, to a file and returns its path.
func writePlan(t *testing.T, base plan.Plan, name string, change func(*plan.Plan)) string {
	t.Helper()
	p := base
	p.Traffic.Gate = append([]plan.Check(nil), base.Traffic.Gate...)
	p.Verification.Checks = append([]plan.Check(nil), base.Verification.Checks...)
	if change != nil {
		change(&p)
	}
	b, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func demoPlan(t *testing.T) plan.Plan {
	t.Helper()
	p, err := plan.Load("../deploy/plans/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// kongGate is the smell the issue names: Kong's per-status counters with a fallback that passes when they are absent.
var kongGate = plan.Check{Name: "gateway-5xx", Prometheus: &plan.Query{
	Expr: `sum(rate(kong_http_requests_total{service="${service}",region="${region}",code=~"5.."}[1m])) or vector(0)`, Condition: "< 1"}}

// TestPlanValidateForCI: errors fail the run with the field and the fix, warnings only with --strict, every file
// is reported, and JSON is there for tools.
func TestPlanValidateForCI(t *testing.T) {
	base := demoPlan(t)
	clean := writePlan(t, base, "clean.yaml", func(p *plan.Plan) {
		p.Approval.People[0].Slack, p.Approval.People[1].Slack = []string{"U01ALICE"}, []string{"U02BOB"}
		p.Readiness.MaxReplicationLag = time.Second
	})
	warned := "../deploy/plans/demo.yaml"
	smelly := writePlan(t, base, "smelly.yaml", func(p *plan.Plan) { p.Traffic.Gate = []plan.Check{kongGate}; p.SLA = nil })
	broken := writePlan(t, base, "broken.yaml", func(p *plan.Plan) { p.Kong.Upstream = "" })

	if out, err := runValidate(t, clean, warned); err != nil {
		t.Fatalf("a clean plan and one with warnings failed: %v\n%s", err, out)
	}
	if out, err := runValidate(t, "--strict", clean, warned); err == nil || !strings.Contains(err.Error(), "1 of 2 plan(s) have errors or warnings (--strict)") {
		t.Fatalf("--strict: %v\n%s", err, out)
	}
	out, err := runValidate(t, clean, smelly, broken, filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "3 of 4 plan(s) have errors") {
		t.Fatalf("error %v, want 3 of 4 failing\n%s", err, out)
	}
	for _, want := range []string{
		"clean.yaml: ok (0 errors, 0 warnings)",
		"smelly.yaml: FAIL (1 errors, 1 warnings)",
		"error: traffic.gate[0].prometheus.expr: check \"gateway-5xx\" can never fail on missing data: `or vector(0)` passes its condition (0 < 1)",
		"remove `or vector(0)` so a missing metric reads inconclusive",
		"warning: sla: missing",
		"error: kong.upstream: missing: name the Kong upstream",
		"missing.yaml: FAIL (1 errors, 0 warnings)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _ = runValidate(t, "--format", "json", smelly)
	var got []planCheck
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || len(got[0].Findings) != 2 || got[0].Findings[0].Field != "traffic.gate[0].prometheus.expr" {
		t.Fatalf("JSON %v: %s", err, out)
	}
}

// TestPlanValidateLive runs every query and probe of a plan against the local stack's real Prometheus and regions:
// today's verdicts per direction, the Kong-style gate answered by its fallback alone (an error), and a lag injected
// into eu-west failing readiness towards it.
func TestPlanValidateLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{NoUI: true, NoWorker: true, Prometheus: true, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if err := region.InjectFault(s.Regions["eu-west"].URL(), `{"replication_lag_seconds":7}`); err != nil {
		t.Fatal(err)
	}
	file := writePlan(t, s.Plan, "payments.yaml", func(p *plan.Plan) {
		p.Verification.Checks = append(p.Verification.Checks, kongGate)
	})
	// Prometheus scrapes the regions a few seconds after it starts: poll until the lag reached it and the error rate
	// (a rate over 10s) has its two samples.
	var live []liveVerdict
	var out string
	for deadline := time.Now().Add(60 * time.Second); ; {
		out, err = runValidate(t, "--live", "--format", "json", file)
		var got []planCheck
		if jerr := json.Unmarshal([]byte(out), &got); jerr != nil || len(got) != 1 {
			t.Fatalf("JSON %v: %s", jerr, out)
		}
		live = got[0].Live
		if verdict(live, "us-east→eu-west", "readiness.lagQuery") == "fail" && verdict(live, "us-east→eu-west", "verification.checks[1]") == "pass" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the injected lag never failed readiness towards eu-west, or the error rate never had data: %+v", live)
		}
		time.Sleep(500 * time.Millisecond) // Prometheus scrapes every second
	}
	if err == nil || !strings.Contains(err.Error(), "1 of 1 plan(s) have errors") {
		t.Fatalf("--live with the Kong gate: %v, want a failure", err)
	}
	for _, want := range []struct{ where, field, verdict string }{
		{"us-east", "regions.us-east.healthURL", "up"},
		{"us-east→eu-west", "readiness.lagQuery", "fail"},       // 7s of lag > 5s
		{"eu-west→us-east", "readiness.lagQuery", "pass"},       // us-east replicates
		{"us-east→eu-west", "readiness.readyQuery", "pass"},     // 3 ready instances
		{"us-east→eu-west", "verification.checks[1]", "pass"},   // no 5xx at eu-west
		{"us-east→eu-west", "verification.checks[2]", "pass"},   // the fallback passes...
		{"us-east→eu-west", "verification.checks[2]", "absent"}, // ... because Kong's metric is absent
	} {
		if !hasVerdict(live, want.where, want.field, want.verdict) {
			t.Errorf("no %s %s %s in %+v", want.where, want.field, want.verdict, live)
		}
	}
	text, _ := runValidate(t, "--live", file)
	for _, want := range []string{"today (--live, read-only):", "error: verification.checks[2]: live us-east→eu-west: without `or vector(0)` the query answers nothing",
		"status_code_metrics=true"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
}

func verdict(vs []liveVerdict, where, field string) string {
	for _, v := range vs {
		if v.Where == where && v.Field == field {
			return v.Verdict
		}
	}
	return ""
}

func hasVerdict(vs []liveVerdict, where, field, verdict string) bool {
	for _, v := range vs {
		if v.Where == where && v.Field == field && v.Verdict == verdict {
			return true
		}
	}
	return false
}

// TestPlanValidateNotesDrillFailbackPolicy: drill.failback auto shows as a note for the plan's reviewers, and a note
// fails nothing, not even with --strict.
func TestPlanValidateNotesDrillFailbackPolicy(t *testing.T) {
	base := demoPlan(t)
	plain := writePlan(t, base, "plain.yaml", nil)
	auto := writePlan(t, base, "auto.yaml", func(p *plan.Plan) { p.Drill = &plan.Drill{Failback: plan.DrillFailbackAuto} })
	for _, strict := range []bool{false, true} {
		var args []string
		if strict {
			args = append(args, "--strict")
		}
		_, errPlain := runValidate(t, append(args, plain)...)
		out, errAuto := runValidate(t, append(args, auto)...)
		if (errPlain == nil) != (errAuto == nil) {
			t.Errorf("strict %v: without the policy %v, with it %v: a note must not change the verdict", strict, errPlain, errAuto)
		}
		if !strings.Contains(out, ", 1 note)") || !strings.Contains(out, "note: drill.failback: auto: a drill's failback is approved by this plan") {
			t.Errorf("strict %v: output\n%s\nwant the drill failback policy as a note", strict, out)
		}
	}
}
