package main

import (
	"context"
	"testing"
	"time"

	"github.com/failover/failover/workflows"
)

// TestDemo runs `starter demo` end to end: real Prometheus, Alertmanager, Temporal, etcd, Kong stand-in, regions.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := runDemo(ctx, &cli{logger: discard()}, "auto", false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != workflows.Succeeded || rep.RTOSeconds <= 0 || rep.WorkflowID != "failover-payments" {
		t.Fatalf("report %+v", rep)
	}
	for _, step := range []string{"detect", "readiness", "approve", "cutover", "reroute", "warmup", "verify"} {
		if _, ok := rep.Steps[step]; !ok {
			t.Errorf("report has no %s step: %v", step, rep.Steps)
		}
	}
	if rep.Requests["eu-west 200"] == 0 || rep.TrafficRestoredSeconds <= 0 || rep.TrafficRestoredSeconds > rep.RTOSeconds {
		t.Fatalf("traffic %v restored after %.2fs (RTO %.2fs): clients should reach eu-west before verification ends",
			rep.Requests, rep.TrafficRestoredSeconds, rep.RTOSeconds)
	}
}
