package plan

import (
	"strings"
	"testing"
	"time"
)

// TestLintCatchesEachSmell: every lint names the field and the fix, with the severity that decides CI.
func TestLintCatchesEachSmell(t *testing.T) {
	for _, tc := range []struct {
		name     string
		edit     func(*Plan)
		severity Severity
		field    string
		fix      string // a phrase of the fix the message must give
	}{
		{"gate that can never fail", func(p *Plan) {
			p.Traffic.Gate[0].Prometheus.Expr = `sum(rate(kong_http_requests_total{service="${service}",region="${region}",code=~"5.."}[1m])) or vector(0)`
			p.Traffic.Gate[0].Prometheus.Condition = "< 1"
		}, SevError, "traffic.gate[0].prometheus.expr", "remove `or vector(0)`"},
		{"verification that can never fail", func(p *Plan) {
			p.Verification.Checks = append(p.Verification.Checks, Check{Name: "errors",
				Prometheus: &Query{Expr: `sum(rate(x{region="${region}"}[1m])) or on() vector(0)`, Condition: "<= 0.1"}})
		}, SevError, "verification.checks[2].prometheus.expr", "status_code_metrics=true"},
		{"lag that reads 0 when absent", func(p *Plan) { p.Readiness.LagQuery += " or vector(0)" },
			SevError, "readiness.lagQuery", "remove `or vector(0)`"},
		{"detection that fires on missing data", func(p *Plan) { p.Detection.Query.Expr += " or vector(1)" },
			SevError, "detection.query.expr", "remove `or vector(1)`"},
		{"detection blind to the source region", func(p *Plan) {
			p.Detection.Probes, p.Detection.Query.Expr = 0, `sum(rate(errors_total[1m])) / sum(rate(requests_total[1m]))`
		}, SevError, "detection.query.expr", `filter on region="${region}"`},
		{"approvers nothing proves", func(p *Plan) { p.Approval.People = nil; p.Approval.Approvers = []string{"alice", "bob"} },
			SevWarning, "approval.approvers", "list approval.people"},
		{"approver without identity", func(p *Plan) {
			p.Approval.AllowUnsigned = true
			p.Approval.People[0].Slack, p.Approval.People[0].SSHKeys = nil, nil
		}, SevWarning, "approval.people.alice", "add their Slack member ID or SSH key"},
		{"missing SLA", func(p *Plan) { p.SLA = nil }, SevWarning, "sla", "declare sla.rto"},
		{"RPO objective nothing measures", func(p *Plan) { p.Readiness.LagQuery, p.Readiness.MaxReplicationLag = "", 0 },
			SevWarning, "sla.rpo", "set readiness.lagQuery"},
		{"readiness allows more lag than the RPO", func(p *Plan) { p.SLA.RPO = time.Second },
			SevWarning, "readiness.maxReplicationLag", "lower it to 1s"},
		{"approval timeout longer than the RTO", func(p *Plan) { p.SLA.RTO = 5 * time.Minute; p.Approval.Timeout = 15 * time.Minute },
			SevWarning, "approval.timeout", "use at most 5m0s"},
		{"own waits exceed the RTO", func(p *Plan) { p.SLA.RTO = 10 * time.Second },
			SevError, "sla.rto", "shorten those waits or raise sla.rto"},
		{"drills fail back without people", func(p *Plan) { p.Drill = &Drill{Failback: DrillFailbackAuto} },
			SevNote, "drill.failback", `recorded as "auto-approved: drill failback policy"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := example(t)
			p.SLA.RTO = time.Hour // the example's own waits are the subject of one case only
			p.Approval.Timeout = 10 * time.Minute
			tc.edit(&p)
			if err := p.Validate(); err != nil {
				t.Fatalf("the smell must pass Validate (lint is for plans that do): %v", err)
			}
			var found []string
			for _, f := range p.Lint() {
				found = append(found, f.String())
				if f.Field == tc.field && f.Severity == tc.severity && strings.Contains(f.Message, tc.fix) {
					return
				}
			}
			t.Fatalf("no %s on %s with the fix %q; found:\n  %s", tc.severity, tc.field, tc.fix, strings.Join(found, "\n  "))
		})
	}
}

// TestShippedPlansLintWithoutErrors: the plans in deploy/plans are what teams copy: no lint error in any.
func TestShippedPlansLintWithoutErrors(t *testing.T) {
	for _, name := range []string{"example.yaml", "demo.yaml", "compose.yaml"} {
		p, err := Load("../deploy/plans/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range p.Lint() {
			if f.Severity == SevError {
				t.Errorf("%s: %s", name, f)
			} else {
				t.Logf("%s: %s", name, f)
			}
		}
	}
}

func TestConstantFallback(t *testing.T) {
	for expr, want := range map[string]float64{
		`sum(x) or vector(0)`: 0, `sum(x) or on() vector(1)`: 1, `sum(x) OR vector(0.5)`: -1, `sum(x) or vector( -2 )`: -2,
		`sum(x) or sum(y) * 0`: -1, `sum(x)`: -1,
	} {
		v, _, ok := ConstantFallback(expr)
		if (want == -1) == ok || (ok && v != want) {
			t.Errorf("%s: fallback %v %v, want %v", expr, v, ok, want)
		}
	}
	if got := WithoutFallback(`sum(x{a="b"}) or vector(0)`); got != `sum(x{a="b"})` {
		t.Errorf("WithoutFallback: %q", got)
	}
}

// TestDrillSection: drill.failback decodes strictly, names a bad value and the fix, and a plan without the section
// hashes as before.
func TestDrillSection(t *testing.T) {
	p := example(t)
	before := p.Hash()
	p.Drill = &Drill{}
	if err := p.Validate(); err != nil || p.AutoFailback() {
		t.Fatalf("empty drill section: %v, auto %v: want person (the default)", err, p.AutoFailback())
	}
	p.Drill.Failback = "yes"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), `drill.failback: "yes": use person`) {
		t.Fatalf("error %v", err)
	}
	p.Drill.Failback = DrillFailbackAuto
	if err := p.Validate(); err != nil || !p.AutoFailback() {
		t.Fatalf("auto: %v %v", err, p.AutoFailback())
	}
	p.Drill = nil
	if p.Hash() != before {
		t.Fatal("a plan without a drill section must hash as before")
	}
}
