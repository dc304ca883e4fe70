package alerts

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/workflows"
)

// usEastEvacuation is an evacuation of us-east over the routes file's plans directory (plans/payments.yaml).
const usEastEvacuation = "from: us-east\nplans: ../plans\napproval: {mode: auto, approvers: [alice]}\n"

// writeEvacuationRoutes writes routes next to the demo plan (writeRoutes) and evacuations/us-east.yaml.
func writeEvacuationRoutes(t *testing.T, routes, evacuation string) string {
	t.Helper()
	path := writeRoutes(t, routes)
	dir := filepath.Join(filepath.Dir(path), "evacuations")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "us-east.yaml"), []byte(evacuation), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// regionRoutes routes RegionDown (no service label) to the evacuation of us-east, and payments' own alerts to its
// failover.
const regionRoutes = `routes:
  - match: {alertname: RegionDown, region: us-east}
    evacuation: evacuations/us-east.yaml
  - match: {service: payments}
    plan: plans/payments.yaml
    to: other
`

func TestLoadEvacuationRoutesNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		name, routes, evacuation, want string
	}{
		{"plan and evacuation", "routes:\n  - match: {alertname: RegionDown}\n    plan: plans/payments.yaml\n    evacuation: evacuations/us-east.yaml\n",
			usEastEvacuation, "routes[0]: plan and evacuation are both set"},
		{"neither", "routes:\n  - match: {alertname: RegionDown}\n", usEastEvacuation, "routes[0].plan: missing"},
		{"evacuation with to", "routes:\n  - match: {alertname: RegionDown}\n    evacuation: evacuations/us-east.yaml\n    to: eu-west\n",
			usEastEvacuation, "routes[0].to: an evacuation route takes its target from the evacuation file"},
		{"evacuation matching a service", "routes:\n  - match: {alertname: RegionDown, service: payments}\n    evacuation: evacuations/us-east.yaml\n",
			usEastEvacuation, "routes[0].match.service: an evacuation route is region-wide"},
		{"evacuation file missing", "routes:\n  - match: {alertname: RegionDown}\n    evacuation: evacuations/eu-west.yaml\n",
			usEastEvacuation, "routes[0].evacuation: read evacuation: open"},
		{"evacuation file invalid", "routes:\n  - match: {alertname: RegionDown}\n    evacuation: evacuations/us-east.yaml\n",
			"plans: ../plans\n", "routes[0].evacuation: evacuation"},
		{"evacuation plans missing", "routes:\n  - match: {alertname: RegionDown}\n    evacuation: evacuations/us-east.yaml\n",
			"from: us-east\nplans: ../nowhere\n", "routes[0].evacuation: evacuation"},
		{"from mismatch", "routes:\n  - match: {alertname: RegionDown, region: eu-west}\n    evacuation: evacuations/us-east.yaml\n",
			usEastEvacuation, "evacuates us-east (its from), but routes[0].match.region is eu-west"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadRoutes(writeEvacuationRoutes(t, tc.routes, tc.evacuation))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
	if _, err := ParseRoutes([]byte(regionRoutes), func(string) (plan.Plan, error) { return demoPlan(t), nil }); err == nil ||
		!strings.Contains(err.Error(), "routes[0].evacuation: region-wide routes cannot be loaded here") {
		t.Fatalf("ParseRoutes without an evacuation loader: %v", err)
	}
}

func TestRouteRegionWideAlerts(t *testing.T) {
	r, err := LoadRoutes(writeEvacuationRoutes(t, regionRoutes, usEastEvacuation))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Plans(); len(got) != 1 || got[0].Service != "payments" {
		t.Fatalf("plans %v: an evacuation route adds no plan to watch", got)
	}
	if tgt, ok := r.Evacuation("us-east"); !ok || tgt.Route != 0 || tgt.From != "us-east" {
		t.Fatalf("Evacuation(us-east) = %+v %v", tgt, ok)
	}
	if _, ok := r.Evacuation("eu-west"); ok {
		t.Fatal("Evacuation(eu-west): no route evacuates eu-west")
	}
	t.Log(r)

	tgt, ok, err := r.Route(alert(map[string]string{"alertname": "RegionDown", "region": "us-east"}))
	if !ok || err != nil || tgt.Evacuation == nil || tgt.From != "us-east" || tgt.Route != 0 {
		t.Fatalf("RegionDown us-east: %+v %v %v", tgt, ok, err)
	}
	// A per-service alert of the same name is the service's, not the region's.
	tgt, ok, err = r.Route(alert(map[string]string{"alertname": "RegionDown", "region": "us-east", "service": "payments"}))
	if !ok || err != nil || tgt.Evacuation != nil || tgt.Plan.Service != "payments" || tgt.To != "eu-west" {
		t.Fatalf("RegionDown us-east payments: %+v %v %v", tgt, ok, err)
	}
	// The route matches only us-east: eu-west has no region-wide route.
	if _, ok, _ := r.Route(alert(map[string]string{"alertname": "RegionDown", "region": "eu-west"})); ok {
		t.Fatal("RegionDown eu-west matched the us-east evacuation route")
	}

	// A route without region in its match: the alert's region must be the file's.
	wide, err := LoadRoutes(writeEvacuationRoutes(t, "routes:\n  - match: {alertname: RegionDown}\n    evacuation: evacuations/us-east.yaml\n",
		usEastEvacuation))
	if err != nil {
		t.Fatal(err)
	}
	_, ok, err = wide.Route(alert(map[string]string{"alertname": "RegionDown", "region": "eu-west"}))
	if !ok || !errors.Is(err, ErrWrongRegion) || !strings.Contains(err.Error(), "about region eu-west") ||
		!strings.Contains(err.Error(), "evacuates us-east") {
		t.Fatalf("RegionDown eu-west on the us-east evacuation: %v %v", ok, err)
	}
	_, ok, err = wide.Route(alert(map[string]string{"alertname": "RegionDown"}))
	if !ok || !errors.Is(err, ErrMissingLabel) || !strings.Contains(err.Error(), `no "region" label`) {
		t.Fatalf("RegionDown without region: %v %v", ok, err)
	}
}

// newEvacuationFixture is newFixture with regionRoutes.
func newEvacuationFixture(t *testing.T) *fixture {
	t.Helper()
	router, err := LoadRoutes(writeEvacuationRoutes(t, regionRoutes, usEastEvacuation))
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{fake: newFake(), metrics: NewMetrics(prometheus.NewRegistry()), now: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)}
	fx.h, err = NewHandler(Options{Temporal: fx.fake, Router: router, Auth: Auth{Token: testToken}, Metrics: fx.metrics,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Now: func() time.Time { return fx.now }, Sleep: fx.sleep,
		Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// regionDown is the captured webhook turned into RegionDown about a region, without a service label.
func regionDown(t *testing.T, file, region string, startsAt time.Time) []byte {
	return payload(t, file, startsAt, map[string]string{"alertname": "RegionDown", "region": region, "service": ""})
}

// A RegionDown webhook starts one evacuation of its region with the alert as evidence; its repeats, concurrent
// duplicates (as from a second front door) and a resolved one start nothing more; once the evacuation closed, a
// repeat of the same alert is already handled, and a new outage starts a new evacuation.
func TestRegionDownStartsOneEvacuation(t *testing.T) {
	fx := newEvacuationFixture(t)
	const id = "evacuation-us-east"
	startsAt := fx.now.Add(-time.Minute)
	firing := regionDown(t, "firing.json", "us-east", startsAt)

	_, resp := fx.post(t, firing, nil)
	if a := resp.Alerts[0]; a.Action != ActionStarted || a.WorkflowID != id || a.RunID != "run-1" {
		t.Fatalf("first: %+v, want started %s", a, id)
	}
	runs := fx.fake.snapshot(id)
	req := runs[0].evac
	if req.Region != "us-east" || req.Kind != workflows.KindFailover || len(req.Services) != 1 || req.Services[0].To != "eu-west" ||
		!filepath.IsAbs(req.PlansDir) {
		t.Fatalf("request %+v", req)
	}
	if tr := req.Trigger; tr.Source != workflows.TriggerAlert || tr.By != "alertmanager" || tr.Alert != "RegionDown" ||
		!tr.FaultAt.Equal(startsAt) || tr.Severity != "critical" {
		t.Fatalf("trigger %+v", tr)
	}
	if len(req.Evidence) != 1 || req.Evidence[0].Fingerprint != "6f5f39bfbb62f946" || req.Evidence[0].Labels["region"] != "us-east" ||
		!req.Evidence[0].StartsAt.Equal(startsAt) || req.Evidence[0].GroupKey == "" {
		t.Fatalf("evidence %+v: want the alert's labels, fingerprint and startsAt", req.Evidence)
	}

	// Repeats, one by one and many at once.
	_, resp = fx.post(t, firing, nil)
	if a := resp.Alerts[0]; a.Action != ActionAttached || a.RunID != "run-1" || !strings.Contains(a.Reason, "running") {
		t.Fatalf("repeat: %+v, want attached to run-1", a)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, resp := fx.post(t, firing, nil)
			if a := resp.Alerts[0]; a.Action != ActionAttached || a.RunID != "run-1" {
				t.Errorf("duplicate: %+v", a)
			}
		})
	}
	wg.Wait()
	// A resolved RegionDown starts and stops nothing.
	_, resp = fx.post(t, regionDown(t, "resolved.json", "us-east", startsAt), nil)
	if a := resp.Alerts[0]; a.Action != ActionIgnored || !strings.Contains(a.Reason, "resolved region-wide alert") {
		t.Fatalf("resolved: %+v", a)
	}
	if runs := fx.fake.snapshot(id); len(runs) != 1 || runs[0].status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("runs %+v, want the one running evacuation", runs)
	}

	fx.fake.finish(id, workflows.Succeeded, fx.now)
	_, resp = fx.post(t, firing, nil)
	if a := resp.Alerts[0]; a.Action != ActionIgnored || !strings.Contains(a.Reason, "already handled") {
		t.Fatalf("repeat after the evacuation closed: %+v, want already handled", a)
	}
	_, resp = fx.post(t, regionDown(t, "firing.json", "us-east", fx.now.Add(time.Minute)), nil)
	if a := resp.Alerts[0]; a.Action != ActionStarted || a.RunID != "run-2" {
		t.Fatalf("a new outage: %+v, want run-2 started", a)
	}
	if fx.alerts(ActionStarted) != 2 {
		t.Fatalf("started counted %v times, want 2", fx.alerts(ActionStarted))
	}
}

// An alert about a region the route's evacuation does not evacuate, or without a region, is rejected with the
// reason and starts nothing; the same alert with a service label is that service's.
func TestRegionWideAlertsThatCannotStart(t *testing.T) {
	router, err := LoadRoutes(writeEvacuationRoutes(t, "routes:\n  - match: {alertname: RegionDown}\n    evacuation: evacuations/us-east.yaml\n"+
		"  - match: {service: payments}\n    plan: plans/payments.yaml\n    to: other\n", usEastEvacuation))
	if err != nil {
		t.Fatal(err)
	}
	fake := newFake()
	h, err := NewHandler(Options{Temporal: fake, Router: router, Auth: Auth{Token: testToken}})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{h: h, fake: fake}
	startsAt := time.Date(2026, 11, 22, 4, 55, 51, 0, time.UTC)
	_, resp := fx.post(t, regionDown(t, "firing.json", "eu-west", startsAt), nil)
	if a := resp.Alerts[0]; a.Action != ActionRejected || !strings.Contains(a.Reason, "about region eu-west") ||
		!strings.Contains(a.Reason, "evacuates us-east") {
		t.Fatalf("eu-west: %+v", a)
	}
	_, resp = fx.post(t, regionDown(t, "firing.json", "", startsAt), nil)
	if a := resp.Alerts[0]; a.Action != ActionRejected || !strings.Contains(a.Reason, `no "region" label`) {
		t.Fatalf("no region: %+v", a)
	}
	if fake.calls != 0 {
		t.Fatalf("%d Temporal calls for alerts that cannot start anything", fake.calls)
	}
	// A per-service alert goes to its failover, as before.
	_, resp = fx.post(t, payload(t, "firing.json", startsAt, map[string]string{"alertname": "RegionDown"}), nil)
	if a := resp.Alerts[0]; a.Action != ActionStarted || a.WorkflowID != "failover-payments" {
		t.Fatalf("payments' RegionDown: %+v", a)
	}
}

// The region watcher's path: Evacuate starts the same evacuation as the alert (one between them), and says when
// no route evacuates the region.
func TestEvacuateJoinsTheAlertsEvacuation(t *testing.T) {
	fx := newEvacuationFixture(t)
	_, resp := fx.post(t, regionDown(t, "firing.json", "us-east", fx.now.Add(-time.Minute)), nil)
	if a := resp.Alerts[0]; a.Action != ActionStarted {
		t.Fatalf("alert: %+v", a)
	}
	sig := workflows.Alert{Status: Firing, Alertname: "WatcherRegionDown", Fingerprint: "watcher/a/us-east", StartsAt: fx.now}
	trigger := workflows.Trigger{Source: workflows.TriggerWatcher, By: "watcher a", FaultAt: fx.now}
	res, err := fx.h.Evacuate(context.Background(), "us-east", sig, trigger, nil)
	if err != nil || res.Action != ActionAttached || res.RunID != "run-1" || res.WorkflowID != "evacuation-us-east" {
		t.Fatalf("watcher: %+v %v, want attached to the alert's run-1", res, err)
	}
	if _, err := fx.h.Evacuate(context.Background(), "eu-west", sig, trigger, nil); !errors.Is(err, ErrNoEvacuation) {
		t.Fatalf("eu-west: %v, want ErrNoEvacuation", err)
	}
	if runs := fx.fake.snapshot("evacuation-us-east"); len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
}

// An evacuation file that no longer evacuates the route's region (edited since startup) is refused at the alert,
// naming both regions.
func TestEditedEvacuationFileIsRefused(t *testing.T) {
	path := writeEvacuationRoutes(t, regionRoutes, usEastEvacuation)
	fx := newEvacuationFixture(t)
	router, err := LoadRoutes(path)
	if err != nil {
		t.Fatal(err)
	}
	fx.h.o.Router = router
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "evacuations", "us-east.yaml"),
		[]byte("from: eu-west\nplans: ../plans\napproval: {mode: auto, approvers: [alice]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, resp := fx.post(t, regionDown(t, "firing.json", "us-east", fx.now), nil)
	if a := resp.Alerts[0]; a.Action != ActionRejected || !strings.Contains(a.Reason, "now evacuates eu-west") ||
		!strings.Contains(a.Reason, "not us-east") {
		t.Fatalf("edited file: %+v", a)
	}
	if runs := fx.fake.snapshot("evacuation-us-east"); len(runs) != 0 {
		t.Fatalf("%d runs started from an edited file", len(runs))
	}
}

// While the evacuation of us-east runs, payments' own alert is covered by it: answered 200 with action covered and
// the evacuation's ID, nothing started beside it, while payments waits for its wave or runs in it. Once the
// evacuation is done with payments, or when payments is outside its scope, the alert starts payments' failover as
// without an evacuation.
func TestPerServiceAlertCoveredByTheRunningEvacuation(t *testing.T) {
	fx := newEvacuationFixture(t)
	const id = "evacuation-us-east"
	startsAt := fx.now.Add(-time.Minute)
	if _, resp := fx.post(t, regionDown(t, "firing.json", "us-east", startsAt), nil); resp.Alerts[0].Action != ActionStarted {
		t.Fatalf("RegionDown: %+v", resp.Alerts[0])
	}
	own := payload(t, "firing.json", startsAt, nil) // BackendDown, service payments, region us-east
	for _, state := range []string{workflows.ServiceWaiting, workflows.ServiceRunning, workflows.ServiceJoined} {
		fx.fake.setState(id, "payments", state)
		fx.now = fx.now.Add(coverCacheTTL) // past the cache: the state is read again
		rec, resp := fx.post(t, own, nil)
		a := resp.Alerts[0]
		if rec.Code != 200 || a.Action != ActionCovered || a.WorkflowID != id || a.RunID != "run-1" ||
			!strings.Contains(a.Reason, "covered by evacuation evacuation-us-east (run run-1): payments is "+state) {
			t.Fatalf("payments %s in the evacuation: HTTP %d %+v, want covered by %s", state, rec.Code, a, id)
		}
	}
	if runs := fx.fake.snapshot("failover-payments"); len(runs) != 0 {
		t.Fatalf("%d failover-payments runs beside the evacuation, want 0", len(runs))
	}
	if got := fx.alerts(ActionCovered); got != 3 {
		t.Fatalf("failover_webhook_alerts_total{action=covered} = %v, want 3", got)
	}

	fx.fake.setState(id, "payments", workflows.ServiceDone)
	fx.now = fx.now.Add(coverCacheTTL)
	if _, resp := fx.post(t, own, nil); resp.Alerts[0].Action != ActionStarted || resp.Alerts[0].WorkflowID != "failover-payments" {
		t.Fatalf("payments done in the evacuation: %+v, want its own failover as without the evacuation", resp.Alerts[0])
	}
	fx.fake.finish("failover-payments", workflows.Succeeded, fx.now)
	fx.fake.mu.Lock()
	fx.fake.latest(id).evac.Services = nil // payments outside the evacuation's selectors
	fx.fake.mu.Unlock()
	fx.now = fx.now.Add(time.Hour) // past the cache and the cooldown
	if _, resp := fx.post(t, payload(t, "firing.json", fx.now, nil), nil); resp.Alerts[0].Action != ActionStarted ||
		resp.Alerts[0].RunID != "run-2" {
		t.Fatalf("payments outside the evacuation: %+v, want its own failover run-2", resp.Alerts[0])
	}
}
