package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/control"
	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// TestCLIEvacuatesARegion drives an evacuation through the CLI on the local stack: bad evacuations are refused
// with the field named and nothing started; the dry run prints the waves and each etcd and Kong change and
// changes nothing; evacuate, approve (one decision for all), status and report.
func TestCLIEvacuatesARegion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{NoUI: true, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	dir := t.TempDir()
	tier := func(name string) map[string]string {
		return map[string]string{"tier": map[bool]string{true: "data", false: "edge"}[strings.HasPrefix(name, "db")]}
	}
	if err := s.SeedServices(ctx, dir, []string{"db-1", "db-2", "web-1"}, stack.ServiceOptions{Labels: tier}); err != nil {
		t.Fatal(err)
	}
	evac := func(body string) string {
		f := filepath.Join(t.TempDir(), "evacuation.yaml")
		if err := os.WriteFile(f, []byte("from: us-east\nplans: "+dir+"\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, bad := range []struct{ body, want string }{
		{"waves:\n  - {name: a, selector: {tier: data}, dependsOn: [b]}\n  - {name: b, selector: {tier: edge}}\napproval: {approvers: [alice]}\n",
			"waves: dependsOn has a cycle"},
		{"waves:\n  - {name: a, services: [db-1, nope]}\napproval: {approvers: [alice]}\n", `unknown service "nope"`},
		{"to: ap-south\napproval: {approvers: [alice]}\n", "service db-1 has no region ap-south"},
	} {
		if _, err := starter(t, s, "evacuate", "--evacuation", evac(bad.body)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Fatalf("evacuate %q: %v, want %q", bad.body, err, bad.want)
		}
		if d, err := control.Latest(ctx, s.TemporalClient, "evacuation-us-east"); err != nil || d != nil {
			t.Fatalf("a refused evacuation started: %v %v", d, err)
		}
	}
	good := evac("waves:\n  - {name: data, selector: {tier: data}}\n  - {name: edge, selector: {tier: edge}}\n" +
		"approval: {mode: manual, approvers: [alice, bob]}\n")
	out, err := starter(t, s, "evacuate", "--evacuation", good, "--dry-run")
	for _, want := range []string{"failover of us-east: 3 services in 2 waves", "wave 1 data (concurrency 10):", "wave 2 edge",
		"etcd /failover/db-2/active: {region: us-east, epoch: 1} → {region: eu-west, epoch: 2}", "kong upstream web-1: "} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("dry run lacks %q: %v\n%s", want, err, out)
		}
	}
	if d, _ := control.Latest(ctx, s.TemporalClient, "evacuation-us-east"); d != nil {
		t.Fatal("the dry run started an evacuation")
	}

	if err := region.InjectFault(s.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		t.Fatal(err)
	}
	if out, err := starter(t, s, "evacuate", "--evacuation", good, "--as", "carol"); err != nil || !strings.Contains(out, "started evacuation-us-east") {
		t.Fatalf("evacuate: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err = starter(t, s, "status", "evacuation-us-east")
		if err == nil && strings.Contains(out, "starter approve evacuation-us-east") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed the pending decision: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := starter(t, s, "approve", "evacuation-us-east", "--as", "mallory"); err == nil || !strings.Contains(err.Error(), "not in the evacuation's approval.approvers") {
		t.Fatalf("approve as mallory: %v", err)
	}
	if out, err := starter(t, s, "approve", "evacuation-us-east", "--as", "bob"); err != nil || !strings.Contains(out, "decided: approve") {
		t.Fatalf("approve: %v\n%s", err, out)
	}
	var res workflows.EvacuationResult
	if err := s.TemporalClient.GetWorkflow(ctx, "evacuation-us-east", "").Get(ctx, &res); err != nil || res.Outcome != workflows.Succeeded {
		t.Fatalf("result %+v %v", res, err)
	}
	out, err = starter(t, s, "status", "evacuation-us-east", "--all")
	for _, want := range []string{"outcome: succeeded", "succeeded 3", "wave data", "2/2", "RTO of 3 succeeded: p50", "web-1"} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("status lacks %q: %v\n%s", want, err, out)
		}
	}
	out, err = starter(t, s, "watch", "evacuation-us-east")
	if err != nil || !strings.Contains(out, "succeeded 3 step done") || !strings.Contains(out, "RTO distribution:") {
		t.Fatalf("watch: %v\n%s", err, out)
	}
	out, err = starter(t, s, "report", "evacuation-us-east")
	if err != nil || !strings.Contains(out, "RTO distribution:") {
		t.Fatalf("report: %v\n%s", err, out)
	}
	// The failback's dry run states its hold-down (defaulted from the plans' failback.holdDown 3s) and starts nothing.
	out, err = starter(t, s, "evacuate", "--evacuation", good, "--failback", "--dry-run")
	for _, want := range []string{"failback of us-east: 3 services", "hold-down: before its decision is asked for and before any " +
		"service moves back, us-east must be healthy for 3s without a failed round (a round every 1s probes each service's own health check"} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("failback dry run lacks %q: %v\n%s", want, err, out)
		}
	}
	if d, _ := control.Latest(ctx, s.TemporalClient, "failback-us-east"); d != nil {
		t.Fatal("the dry run started a failback")
	}
}
