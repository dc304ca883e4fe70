package workflows

import (
	"slices"
	"testing"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

func ptr(v float64) *float64 { return &v }

func TestJudgeSLA(t *testing.T) {
	sla := &plan.SLA{RTO: 30 * time.Second, RPO: 5 * time.Second}
	for _, tc := range []struct {
		name     string
		sla      *plan.SLA
		outcome  Outcome
		rto      float64
		rpo      *float64
		verdict  string
		breaches []string
	}{
		{"met", sla, Succeeded, 12, ptr(0.2), SLAMet, nil},
		{"slow", sla, Succeeded, 31, ptr(0.2), SLABreached, []string{BreachRTO}},
		{"lagging", sla, Succeeded, 12, ptr(7), SLABreached, []string{BreachRPO}},
		{"both", sla, Succeeded, 40, ptr(7), SLABreached, []string{BreachRTO, BreachRPO}},
		{"rpo unknown", sla, Succeeded, 12, nil, SLAUnknown, nil},
		{"rolled back", sla, RolledBack, 0, ptr(1), SLABreached, []string{BreachRTO}},
		{"not ready", sla, NotReady, 0, nil, SLABreached, []string{BreachRTO}},
		{"rejected is not judged", sla, Rejected, 0, nil, SLAMet, nil},
		{"not needed is not judged", sla, NotNeeded, 0, nil, SLAMet, nil},
		{"rto only", &plan.SLA{RTO: 30 * time.Second}, Succeeded, 12, nil, SLAMet, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := JudgeSLA(tc.sla, tc.outcome, tc.rto, tc.rpo)
			if v.Verdict != tc.verdict || !slices.Equal(v.BreachKinds(), tc.breaches) {
				t.Fatalf("verdict %s breaches %v (%s), want %s %v", v.Verdict, v.BreachKinds(), v, tc.verdict, tc.breaches)
			}
		})
	}
	if v := JudgeSLA(nil, Succeeded, 100, nil); v != nil {
		t.Fatalf("no SLA in the plan judged %v", v)
	}
}

// lagPlan is testPlan with a lag query and an SLA of rto 30s, rpo 1s.
func lagPlan() plan.Plan {
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	p.Readiness.LagQuery = `lag{region="${region}"}`
	p.Readiness.MaxReplicationLag = 5 * time.Second
	p.SLA = &plan.SLA{RTO: 30 * time.Second, RPO: time.Second}
	return p
}

// TestRPOSampledAtCutover: the lag query runs again at the cutover; its value is the run's RPO, judged against
// the SLA in the result, the outcome event (audit and Slack) and the status.
func TestRPOSampledAtCutover(t *testing.T) {
	env, f := newEnv(t)
	f.values = map[string]float64{"replication-lag": 0.1, CheckRPO: 2.5}
	res := run(t, env, request(lagPlan()))
	wantOutcome(t, res, Succeeded)
	if res.RPOSeconds == nil || *res.RPOSeconds != 2.5 {
		t.Fatalf("RPO %v, want 2.5 (the sample at the cutover, not readiness's 0.1)", res.RPOSeconds)
	}
	if res.SLA == nil || res.SLA.Verdict != SLABreached || !slices.Equal(res.SLA.BreachKinds(), []string{BreachRPO}) {
		t.Fatalf("SLA %+v, want an rpo breach", res.SLA)
	}
	out := f.ofType(activities.EventOutcome)
	if len(out) != 1 || out[0].RPOSeconds == nil || *out[0].RPOSeconds != 2.5 || !slices.Equal(out[0].SLABreaches, []string{BreachRPO}) || out[0].SLA == "" {
		t.Fatalf("outcome event %+v: want the RPO and the rpo breach", out)
	}
	var sampled bool
	for _, e := range f.ofType(activities.EventCheck) {
		sampled = sampled || (e.Target == CheckRPO && e.Step == StepCutover)
	}
	if !sampled {
		t.Fatal("no audit event of the RPO sample at the cutover")
	}
}

// TestRPOUnknownWithoutLagQuery: no lag query, no sample: the RPO is unknown and the SLA says so.
func TestRPOUnknownWithoutLagQuery(t *testing.T) {
	env, _ := newEnv(t)
	p := lagPlan()
	p.Readiness.LagQuery, p.Readiness.MaxReplicationLag = "", 0
	res := run(t, env, request(p))
	wantOutcome(t, res, Succeeded)
	if res.RPOSeconds != nil || res.SLA == nil || res.SLA.Verdict != SLAUnknown {
		t.Fatalf("RPO %v SLA %+v: want unknown", res.RPOSeconds, res.SLA)
	}
}

// TestRPOUnknownWhenTheSampleIsInconclusive: a lag query without an answer at the cutover is no RPO of 0.
func TestRPOUnknownWhenTheSampleIsInconclusive(t *testing.T) {
	env, _ := newEnv(t)
	res := run(t, env, request(lagPlan()))
	wantOutcome(t, res, Succeeded)
	if res.RPOSeconds == nil || *res.RPOSeconds != 0 {
		t.Fatalf("RPO %v, want 0 measured", res.RPOSeconds)
	}
	env, f := newEnv(t)
	f.verdicts = map[string]activities.Verdict{CheckRPO: activities.Inconclusive}
	res = run(t, env, request(lagPlan()))
	wantOutcome(t, res, Succeeded)
	if res.RPOSeconds != nil || res.SLA.Verdict != SLAUnknown {
		t.Fatalf("RPO %v SLA %+v: an inconclusive lag sample must read as unknown", res.RPOSeconds, res.SLA)
	}
}
