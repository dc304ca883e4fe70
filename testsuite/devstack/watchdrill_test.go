package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/workflows"
)

// TestWatcherDrills runs the watcher's three drills, compressed, on the real stack (Temporal, etcd, the Kong
// stand-in, Prometheus, the demo regions serving HTTP and gRPC health) with three watcher replicas and no
// Alertmanager webhook, so only the watchers can start anything:
//   - partition: us-east drops only door-a's probes: door-a sees it down, the quorum in etcd does not, it reports
//     "observer disagrees", and nothing starts;
//   - flap: short outages again and again: reported as flapping, nothing starts;
//   - a real outage: the watchers start one failover (every replica's request reaches the same run), it succeeds.
//
// `devstack watchdrill` runs the full-length drills and prints the figures; this test asserts outcomes only.
func TestWatcherDrills(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	d, err := startDrillStack(ctx, discard(), fastPath, func(w *plan.Watch) { w.FlapWindow = 6 * time.Second })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)

	p, err := d.partitionDrill(ctx, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if p.FailoverStarted {
		t.Fatalf("partition drill: a failover started although only %s was cut off: %+v", WatcherReplicas[0], p)
	}
	if s := p.Verdicts[0].String(); !strings.Contains(s, "payments/us-east down") || !strings.Contains(p.Verdicts[1].String(), "payments/us-east up") {
		t.Fatalf("partition drill verdicts: %v", p.Verdicts)
	}
	t.Logf("partition drill: %s disagreed %.2fs after the cut; verdicts %v", WatcherReplicas[0], p.DisagreedAfterSeconds, p.Verdicts)

	blip := time.Duration(d.plan.Watch.Failures-3) * d.plan.Watch.Interval
	f, err := d.flapDrill(ctx, blip, 1500*time.Millisecond, 6*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f.FailoverStarted || !f.Flapping || f.Outages < d.plan.Watch.FlapLimit {
		t.Fatalf("flap drill: %+v: want flapping reported and no failover", f)
	}

	r, err := d.faultDrill(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != workflows.Succeeded || r.TriggerSource != workflows.TriggerWatcher || r.WatcherAlerts != len(WatcherReplicas) {
		t.Fatalf("fault drill: %+v: want succeeded, started by the watcher, all %d replicas' requests in the one run", r, len(WatcherReplicas))
	}
	// The partition drill's one disagreement, and none in a real outage that every watcher sees.
	if r.Disagreements != 1 {
		t.Fatalf("fault drill: %d observer disagreements in all, want only the partition drill's one", r.Disagreements)
	}
	t.Logf("fault drill: started %.2fs, restored %.2fs, verified %.2fs after the fault; steps: %s", r.StartedSeconds,
		r.RestoredSeconds, r.VerifiedSeconds, r.stepsString())
	// RECORD_HISTORIES=1 pins a watcher-started run (change ID watcher-quorum-detect: one detection probe) for the
	// replay test.
	if os.Getenv("RECORD_HISTORIES") == "1" {
		b, err := d.s.ExportHistory(ctx, workflows.WorkflowID(d.plan.Service), "")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "histories", "watcher-succeeded.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// errorRatio is the quorum query of TestWatcherQuorumByPrometheus: true while most of a region's requests fail.
const errorRatio = `sum(rate(region_http_requests_total{service="${service}",region="${region}",code=~"5.."}[5s])) / ` +
	`sum(rate(region_http_requests_total{service="${service}",region="${region}"}[5s]))`

// TestWatcherQuorumByPrometheus: the quorum is Prometheus alone (no other watcher asked). A watcher cut off from
// us-east is contradicted by Prometheus, which still scrapes it serving: nothing starts. A real outage is
// confirmed by Prometheus and fails over.
func TestWatcherQuorumByPrometheus(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	d, err := startDrillStack(ctx, discard(), nil, func(w *plan.Watch) {
		w.Quorum = plan.Quorum{Query: &plan.Query{Expr: errorRatio, Condition: "> 0.5"}, Require: plan.RequireAny}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	p, err := d.partitionDrill(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if p.FailoverStarted {
		t.Fatalf("a failover started although Prometheus saw us-east serve: %+v", p)
	}
	r, err := d.faultDrill(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != workflows.Succeeded || r.TriggerSource != workflows.TriggerWatcher {
		t.Fatalf("fault drill: %+v: want succeeded, started by the watcher once Prometheus agreed", r)
	}
	t.Logf("Prometheus quorum: disagreed %.2fs after the cut; real outage started %.2fs after the fault", p.DisagreedAfterSeconds, r.StartedSeconds)
}

// TestDemoWithWatcher runs `devstack demo --watch`: the watchers start the failover long before the alert, and
// Alertmanager's alert, when it comes, joins that same run instead of starting another (one run per outage
// between the watchers, their replicas and Alertmanager).
func TestDemoWithWatcher(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rep, err := runDemo(ctx, demoOptions{approve: "auto", watch: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != workflows.Succeeded || rep.TriggerSource != workflows.TriggerWatcher {
		t.Fatalf("report %+v: want succeeded, started by the watcher", rep)
	}
	if rep.AlertSources["WatcherRegionDown"] != len(WatcherReplicas) || rep.AlertSources["RegionHighErrorRatio"] != 1 {
		t.Fatalf("alerts in the run %v: want every watcher replica's and Alertmanager's, all in the one run", rep.AlertSources)
	}
	t.Logf("started %.2fs, restored %.2fs, verified %.2fs after the fault; alerts %v", rep.StartedSeconds,
		rep.TrafficRestoredSeconds, rep.RTOSeconds, rep.AlertSources)
}
