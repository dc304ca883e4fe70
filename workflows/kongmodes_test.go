package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// A Kong the reroute cannot change (here a data plane) stops readiness with the preflight's fix: etcd and Kong
// are never touched.
func TestKongPreflightProblemChangesNothing(t *testing.T) {
	env, f := newEnv(t)
	f.preflight = activities.KongPreflightResult{Database: "off", Role: "data_plane",
		Problems: []string{"Kong at the Admin API is a hybrid-mode data plane (role data_plane): point --kong-admin-url at the control plane's Admin API"}}
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	res := run(t, env, request(p))
	wantOutcome(t, res, NotReady)
	if !strings.Contains(res.Reason, "--kong-admin-url") {
		t.Errorf("reason %q: want the preflight's fix", res.Reason)
	}
	if len(f.cutovers) != 0 || len(f.weights) != 0 {
		t.Fatalf("changes made: cutovers %v weights %v", f.cutovers, f.weights)
	}
}

// A DB-less Kong: each weight change is fenced on the configuration hash the previous one produced, starting from
// the hash readiness read; the mode and hash are in the evidence.
func TestDeclarativeRerouteChainsConfigHashes(t *testing.T) {
	env, f := newEnv(t)
	f.preflight = activities.KongPreflightResult{Mode: activities.KongDeclarative, Database: "off", Role: "traditional", ConfigHash: "hash-0"}
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	res := run(t, env, request(p))
	wantOutcome(t, res, Succeeded)
	if want := []string{"hash-0", "hash-1"}; !slices.Equal(f.kongHashes, want) {
		t.Errorf("SetWeights fenced on %v, want %v", f.kongHashes, want)
	}
	var st Status
	v, err := env.QueryWorkflow(StatusQuery)
	if err != nil || v.Get(&st) != nil {
		t.Fatalf("status query: %v", err)
	}
	if !slices.ContainsFunc(st.Evidence, func(e string) bool { return strings.Contains(e, "declarative, configuration hash hash-0") }) {
		t.Errorf("evidence %q: want the Kong mode and hash", st.Evidence)
	}
}

// A GitOps-owned Kong: the approval question says so, and the evidence lists exactly the Kong entities changed.
func TestGitOpsReminderAndKongChanges(t *testing.T) {
	env, _ := newEnv(t)
	p := testPlan()
	p.Kong.GitOps = true
	var question string
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(StatusQuery)
		var st Status
		if err == nil && v.Get(&st) == nil && st.Pending != nil {
			question = st.Pending.Question
		}
	}, time.Minute)
	vote(env, 2*time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	res := run(t, env, request(p))
	wantOutcome(t, res, Succeeded)
	if !strings.Contains(question, "GitOps-owned") {
		t.Errorf("approval question %q: want the GitOps reminder", question)
	}
	v, err := env.QueryWorkflow(StatusQuery)
	var st Status
	if err != nil || v.Get(&st) != nil {
		t.Fatalf("status query: %v", err)
	}
	want := "Kong entities changed (update the configuration's source, e.g. decK): update target 10.0.0.2:8080 of upstream payments: weight 0 → 100; " +
		"update target 10.0.0.1:8080 of upstream payments: weight 100 → 0"
	if !slices.Contains(st.Evidence, want) {
		t.Errorf("evidence %q: want %q", st.Evidence, want)
	}
	// The reroute step's detail carries it too: the audit log's and Slack's step events.
	if !slices.ContainsFunc(res.Steps, func(s StepRecord) bool { return s.Name == StepReroute && strings.HasSuffix(s.Detail, "; "+want) }) {
		t.Errorf("steps %+v: want the reroute's detail to end with the Kong changes", res.Steps)
	}
}
