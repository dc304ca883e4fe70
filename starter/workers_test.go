package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// TestWorkersShowsAndPromotesBuilds: `starter workers promote` makes a versioned worker's build current, `starter
// workers` shows it with the failover pinned to it, and promoting a build no worker runs fails with the fix.
func TestWorkersShowsAndPromotesBuilds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{NoUI: true, NoWorker: true, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	w := worker.New(s.TemporalClient, workflows.TaskQueue, workflows.WorkerOptions("1.2.0"))
	workflows.Register(w, &activities.Activities{Etcd: s.EtcdClient, Kong: s.KongClient, HTTP: &http.Client{Timeout: 10 * time.Second}, Logger: discard()}, workflows.Trust{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	if out, err := starter(t, s, "workers", "promote", "1.2.0"); err != nil || !strings.Contains(out, "build 1.2.0 is current") {
		t.Fatalf("promote: %v\n%s", err, out)
	}
	p := s.Plan
	p.Approval.Mode = plan.ApprovalManual
	p.Readiness = plan.Readiness{}
	req := workflows.Request{Plan: p, PlanHash: p.Hash(), From: "us-east", To: "eu-west", Kind: workflows.KindFailover, Force: true,
		Trigger: workflows.Trigger{Source: "test", By: "alice"}}
	if _, err := s.TemporalClient.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(p.Service),
		TaskQueue: workflows.TaskQueue}, workflows.Failover, req); err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^1\.2\.0\s+yes\s+1\s`)
	var out string
	serveEventually(t, 30*time.Second, "starter workers shows build 1.2.0 current with 1 failover running", func() (bool, string) {
		out, err = starter(t, s, "workers")
		return err == nil && row.MatchString(out), fmt.Sprintf("%v\n%s", err, out)
	})
	if !strings.Contains(out, `new failovers start on build "1.2.0"`) {
		t.Fatalf("workers:\n%s", out)
	}

	_, err = starter(t, s, "workers", "promote", "9.9.9", "--wait", "1s")
	if err == nil || !strings.Contains(err.Error(), "its workers have not polled Temporal yet") {
		t.Fatalf("promoting a build without workers: %v, want the reason and the fix", err)
	}
}
