package main

import (
	"context"
	"testing"
	"time"

	"github.com/failover/failover/workflows"
)

// TestDemo runs `devstack demo` end to end: real Prometheus, Alertmanager, Temporal, etcd, Kong stand-in, regions;
// the failover is started by the alert, through the webhook.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := runDemo(ctx, "auto", false, false)
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
	if rep.TriggerSource != "alert" || rep.Alert == "" || rep.AlertDeliveries < 1 {
		t.Fatalf("report %+v: the failover must be started by the alert (Prometheus → Alertmanager → webhook)", rep)
	}
	if rep.DetectionSeconds <= 0 || rep.DetectionSeconds >= rep.RTOSeconds {
		t.Fatalf("detection %.2fs, RTO %.2fs: detection (fault → alert received) is part of the RTO", rep.DetectionSeconds, rep.RTOSeconds)
	}
	t.Logf("alert %s: detection %.2fs, RTO %.2fs, traffic restored after %.2fs, steps %v, %d alert deliveries",
		rep.Alert, rep.DetectionSeconds, rep.RTOSeconds, rep.TrafficRestoredSeconds, rep.Steps, rep.AlertDeliveries)
	if rep.Requests["eu-west 200"] == 0 || rep.TrafficRestoredSeconds <= 0 || rep.TrafficRestoredSeconds > rep.RTOSeconds {
		t.Fatalf("traffic %v restored after %.2fs (RTO %.2fs): clients should reach eu-west before verification ends",
			rep.Requests, rep.TrafficRestoredSeconds, rep.RTOSeconds)
	}
}
