package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// starter runs one CLI command against the stack and returns its stdout.
func starter(t *testing.T, s *stack.Stack, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out strings.Builder
	root.SetOut(&out)
	root.SetErr(&strings.Builder{})
	root.SetArgs(append(args, "--temporal-address", s.Temporal.Address(), "--etcd-endpoints", s.Etcd.Endpoint(),
		"--kong-admin-url", s.Kong.AdminURL()))
	err := root.Execute()
	return out.String(), err
}

// manualStack starts the stack and writes its demo plan in manual mode, changed by change (may be nil), to a file.
func manualStack(ctx context.Context, t *testing.T, change func(*plan.Plan)) (*stack.Stack, plan.Plan, string) {
	t.Helper()
	s, err := stack.Start(ctx, stack.Options{NoUI: true, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	p := s.Plan
	p.Approval.Mode = plan.ApprovalManual
	p.Readiness = plan.Readiness{}
	p.Traffic.Gate = nil
	p.Verification.Checks = p.Verification.Checks[:1] // the gateway check; no Prometheus here
	if change != nil {
		change(&p)
	}
	b, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(t.TempDir(), "payments.yaml")
	if err := os.WriteFile(planFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return s, p, planFile
}

// waitForApproval waits until `starter status` shows the failover waiting for approval.
func waitForApproval(t *testing.T, s *stack.Stack) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := starter(t, s, "status", "failover-payments")
		if err == nil && strings.Contains(out, "waiting for: failover payments from us-east to eu-west?") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed the pending approval: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCLIDrivesAManualFailover: plan (dry run), start, status, a refused approval, approve, and the outcome.
func TestCLIDrivesAManualFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, p, planFile := manualStack(ctx, t, nil)

	out, err := starter(t, s, "plan", "--plan", planFile, "--to", "eu-west")
	if err != nil || !strings.Contains(out, "{region: us-east, epoch: 1} → {region: eu-west, epoch: 2}") || !strings.Contains(out, "→ 50/50 → 100/0") {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	if a, _ := s.EtcdClient.Get(ctx, p.Etcd.ActiveKey); !strings.Contains(string(a.Kvs[0].Value), `"epoch":1`) {
		t.Fatal("the dry run changed etcd")
	}

	if err := region.InjectFault(s.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		t.Fatal(err)
	}
	if out, err := starter(t, s, "start", "--plan", planFile, "--to", "eu-west", "--as", "carol"); err != nil || !strings.Contains(out, "started failover-payments") {
		t.Fatalf("start: %v\n%s", err, out)
	}
	if _, err := starter(t, s, "start", "--plan", planFile, "--to", "eu-west"); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second start: %v, want already running", err)
	}
	waitForApproval(t, s)
	if _, err := starter(t, s, "approve", "failover-payments", "--as", "mallory"); err == nil || !strings.Contains(err.Error(), "mallory may not decide") {
		t.Fatalf("approve as mallory: %v", err)
	}
	if out, err := starter(t, s, "approve", "failover-payments", "--as", "alice", "--comment", "dashboards agree"); err != nil || !strings.Contains(out, "decided: approve") {
		t.Fatalf("approve: %v\n%s", err, out)
	}
	var res workflows.Result
	if err := s.TemporalClient.GetWorkflow(ctx, "failover-payments", "").Get(ctx, &res); err != nil || res.Outcome != workflows.Succeeded {
		t.Fatalf("result %+v %v", res, err)
	}
	out, err = starter(t, s, "status", "failover-payments", "--json")
	if err != nil || !strings.Contains(out, `"outcome":"succeeded"`) || !strings.Contains(out, `"by":"alice"`) {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
}
