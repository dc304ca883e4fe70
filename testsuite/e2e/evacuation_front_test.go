package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/failover/failover/alerts"
	"github.com/failover/failover/control"
	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/promstack"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/watcher"
	"github.com/failover/failover/workflows"
)

const frontDoorToken = "e2e-front-door-token"

// frontDoorFiles seeds the services and writes, beside their plans, the evacuation of us-east (data first, then
// services; auto-approved) and a routes file: RegionUnavailable (the region-wide rule of testsuite/promstack, no
// service label) starts that evacuation, each service's own alerts its failover. It returns the routes file.
func frontDoorFiles(t *testing.T, s *stack.Stack, names []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "plans"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.SeedServices(ctx, filepath.Join(dir, "plans"), names, stack.ServiceOptions{Labels: tiers}); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("evacuations/us-east.yaml", `from: us-east
plans: ../plans
waves:
  - {name: data, selector: {tier: data}}
  - {name: services, selector: {tier: service}}
approval: {mode: auto, approvers: [alice]}
`)
	routes := "routes:\n  - match: {alertname: " + promstack.RegionWideAlert + ", region: us-east}\n    evacuation: evacuations/us-east.yaml\n"
	for _, n := range names {
		routes += fmt.Sprintf("  - match: {service: %s}\n    plan: plans/%s.yaml\n    to: other\n", n, n)
	}
	write("routes.yaml", routes)
	return filepath.Join(dir, "routes.yaml")
}

// frontDoor is one `starter serve` replica's webhook handler over the routes file, served over HTTP.
type frontDoor struct {
	hook *alerts.Handler
	url  string
}

func startFrontDoor(t *testing.T, s *stack.Stack, routesFile string) frontDoor {
	t.Helper()
	hook := frontDoorHook(t, s, routesFile)
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	return frontDoor{hook: hook, url: srv.URL}
}

// frontDoorHook is the webhook handler of one `starter serve` replica over the routes file.
func frontDoorHook(t *testing.T, s *stack.Stack, routesFile string) *alerts.Handler {
	t.Helper()
	router, err := alerts.LoadRoutes(routesFile)
	if err != nil {
		t.Fatal(err)
	}
	hook, err := alerts.NewHandler(alerts.Options{Temporal: s.TemporalClient, Router: router, Auth: alerts.Auth{Token: frontDoorToken},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return hook
}

// alertBody is the Alertmanager 0.25 webhook captured in alerts/testdata with its alert's labels set (an empty
// value removes the label) and startsAt changed.
func alertBody(t *testing.T, file string, labels map[string]string, startsAt time.Time) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "alerts", "testdata", "alertmanager", file))
	if err != nil {
		t.Fatal(err)
	}
	var captured struct {
		Body map[string]any `json:"body"`
	}
	if err := json.Unmarshal(raw, &captured); err != nil {
		t.Fatal(err)
	}
	a := captured.Body["alerts"].([]any)[0].(map[string]any)
	a["startsAt"] = startsAt.Format(time.RFC3339Nano)
	ls := a["labels"].(map[string]any)
	for k, v := range labels {
		if v == "" {
			delete(ls, k)
		} else {
			ls[k] = v
		}
	}
	b, err := json.Marshal(captured.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (d frontDoor) post(t *testing.T, body []byte) alerts.Result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.url+"/webhooks/alertmanager", bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return alerts.Result{}
	}
	req.Header.Set("Authorization", "Bearer "+frontDoorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return alerts.Result{}
	}
	defer resp.Body.Close()
	var out alerts.Response
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || len(out.Alerts) != 1 {
		t.Errorf("webhook: HTTP %d, %+v, %v", resp.StatusCode, out, err)
		return alerts.Result{}
	}
	return out.Alerts[0]
}

// runsOf counts the runs of a workflow ID that visibility lists.
func runsOf(t *testing.T, s *stack.Stack, id string) int {
	t.Helper()
	return len(runIDsOf(t, s, id))
}

// runIDsOf lists the run IDs of a workflow ID that visibility lists.
func runIDsOf(t *testing.T, s *stack.Stack, id string) []string {
	t.Helper()
	resp, err := s.TemporalClient.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = '%s'", id)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range resp.Executions {
		out = append(out, e.GetExecution().GetRunId())
	}
	return out
}

// evacuationInput decodes the evacuation request a run started with.
func evacuationInput(t *testing.T, s *stack.Stack, id, runID string) workflows.EvacuationRequest {
	t.Helper()
	it := s.TemporalClient.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	ev, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	var req workflows.EvacuationRequest
	if err := converter.GetDefaultDataConverter().FromPayloads(ev.GetWorkflowExecutionStartedEventAttributes().GetInput(), &req); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestRegionDownAlertStartsOneEvacuation: Alertmanager's RegionUnavailable about us-east (no service label, as
// captured; TestRegionUnavailableThroughPrometheusEvacuatesOnce sends it from the real binaries) reaches two
// front-door replicas, repeated and at once: one evacuation-us-east starts, with the alert as its trigger and
// evidence, and every other copy joins it. A per-service alert for a service inside it while it runs is covered
// by it: answered 200 "covered by evacuation", nothing started beside it, so the service moves in its wave as the
// evacuation's own child. Every service ends on eu-west with one cutover each; after the evacuation, a repeat of
// the alert is already handled and a resolved one starts nothing.
func TestRegionDownAlertStartsOneEvacuation(t *testing.T) {
	s := startStack(t)
	startEvacuationWorker(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	names := []string{"db-1", "svc-1", "svc-2"}
	routes := frontDoorFiles(t, s, names)
	a, b := startFrontDoor(t, s, routes), startFrontDoor(t, s, routes)
	fault(t, s, "us-east", `{"status":503}`)

	startsAt := time.Now().Add(-30 * time.Second).UTC().Truncate(time.Second)
	regionDown := alertBody(t, "firing.json", map[string]string{"alertname": promstack.RegionWideAlert, "region": "us-east", "service": ""}, startsAt)
	first := a.post(t, regionDown)
	if first.Action != alerts.ActionStarted || first.WorkflowID != "evacuation-us-east" {
		t.Fatalf("first RegionUnavailable: %+v, want evacuation-us-east started", first)
	}
	// Alertmanager's repeats and its HA peer's copies, to both replicas at once.
	var wg sync.WaitGroup
	for i := range 20 {
		door := []frontDoor{a, b}[i%2]
		wg.Go(func() {
			if r := door.post(t, regionDown); r.Action != alerts.ActionAttached || r.RunID != first.RunID {
				t.Errorf("copy %d: %+v, want attached to %s", i, r, first.RunID)
			}
		})
	}
	// svc-2's own alert while the evacuation runs: covered by it, nothing started beside it.
	own := a.post(t, alertBody(t, "firing.json", map[string]string{"alertname": "ServiceDown", "region": "us-east", "service": "svc-2"}, startsAt))
	if own.Action != alerts.ActionCovered || own.WorkflowID != first.WorkflowID || own.RunID != first.RunID ||
		!strings.Contains(own.Reason, "covered by evacuation evacuation-us-east") {
		t.Fatalf("svc-2's alert while the evacuation runs: %+v, want covered by %s", own, first.RunID)
	}
	wg.Wait()

	run := s.TemporalClient.GetWorkflow(ctx, first.WorkflowID, first.RunID)
	var res workflows.EvacuationResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != workflows.Succeeded || res.Counts[workflows.Succeeded] != len(names) {
		t.Fatalf("evacuation %+v, want every service succeeded", res)
	}
	for _, n := range names {
		checkMoved(t, s, n)
	}
	st, err := control.EvacuationStatus(ctx, s.TemporalClient, first.WorkflowID, first.RunID)
	if err != nil {
		t.Fatal(err)
	}
	for _, sv := range st.Services {
		if sv.Service == "svc-2" && (sv.RunID == "" || sv.Outcome != workflows.Succeeded) {
			t.Fatalf("svc-2 in the evacuation: %+v, want its own child failover, succeeded", sv)
		}
	}
	ownedByEvacuation(t, s, first.WorkflowID, names)
	req := evacuationInput(t, s, first.WorkflowID, first.RunID)
	if tr := req.Trigger; tr.Source != workflows.TriggerAlert || tr.Alert != promstack.RegionWideAlert || !tr.FaultAt.Equal(startsAt) {
		t.Fatalf("trigger %+v", tr)
	}
	if len(req.Evidence) != 1 || req.Evidence[0].Fingerprint == "" || req.Evidence[0].Labels["region"] != "us-east" ||
		!req.Evidence[0].StartsAt.Equal(startsAt) {
		t.Fatalf("evidence %+v", req.Evidence)
	}

	recordHistoryOf(t, s, first.WorkflowID, "evacuation-alert") // started by an alert, evidence
	if r := b.post(t, regionDown); r.Action != alerts.ActionIgnored || !strings.Contains(r.Reason, "already handled") {
		t.Fatalf("repeat after the evacuation: %+v, want already handled", r)
	}
	resolved := alertBody(t, "resolved.json", map[string]string{"alertname": promstack.RegionWideAlert, "region": "us-east", "service": ""}, startsAt)
	if r := a.post(t, resolved); r.Action != alerts.ActionIgnored {
		t.Fatalf("resolved: %+v, want ignored", r)
	}
	eventually(t, 10*time.Second, "the evacuation listed", func() bool { return runsOf(t, s, first.WorkflowID) >= 1 })
	if n := runsOf(t, s, first.WorkflowID); n != 1 {
		t.Fatalf("%d evacuation runs, want 1", n)
	}
	if n := runsOf(t, s, "failover-svc-2"); n != 1 {
		t.Fatalf("%d failover-svc-2 runs, want 1", n)
	}

	// A new outage of us-east starts a new evacuation; every service is on eu-west already, so it ends at once and
	// stays open for repeats (AlertHold): a copy of its alert joins it.
	again := alertBody(t, "firing.json", map[string]string{"alertname": promstack.RegionWideAlert, "region": "us-east", "service": ""}, time.Now().UTC())
	second := b.post(t, again)
	if second.Action != alerts.ActionStarted || second.RunID == first.RunID {
		t.Fatalf("a new outage: %+v, want a new evacuation", second)
	}
	eventually(t, time.Minute, "the second evacuation's outcome", func() bool {
		st, err := control.EvacuationStatus(ctx, s.TemporalClient, second.WorkflowID, second.RunID)
		return err == nil && st.Outcome != ""
	})
	if r := a.post(t, again); r.Action != alerts.ActionAttached || r.RunID != second.RunID {
		t.Fatalf("a copy after the fast evacuation's outcome: %+v, want attached to %s (held open)", r, second.RunID)
	}
	if err := s.TemporalClient.GetWorkflow(ctx, second.WorkflowID, second.RunID).Get(ctx, &res); err != nil ||
		res.Outcome != workflows.Succeeded || res.Counts[workflows.NotNeeded] != len(names) {
		t.Fatalf("second evacuation %+v %v, want every service not-needed", res, err)
	}
	recordHistoryOf(t, s, second.WorkflowID, "evacuation-alert-held") // ended at once, held open for repeats
}

// watchedDoors runs three front-door replicas' watchers (door-a, door-b, door-c) on the routed plans, each with its
// own webhook handler, its etcd board and the evacuator `starter serve --watch` wires.
func watchedDoors(t *testing.T, ctx context.Context, s *stack.Stack, routes string) []*watcher.Watcher {
	t.Helper()
	var ws []*watcher.Watcher
	for _, id := range []string{"door-a", "door-b", "door-c"} {
		door := startFrontDoor(t, s, routes)
		router, err := alerts.LoadRoutes(routes)
		if err != nil {
			t.Fatal(err)
		}
		board, err := watcher.NewBoard(s.EtcdClient, "", id, watcher.DefaultLeaseTTL)
		if err != nil {
			t.Fatal(err)
		}
		logger := slog.New(slog.DiscardHandler)
		w, err := watcher.New(watcher.Options{Observer: id, Plans: router.Plans(), Firer: door.hook, Board: board,
			Evacuator: watcher.StartEvacuator{Starter: door.hook, Logger: logger}, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); w.Run(wctx) }()
		t.Cleanup(func() { cancel(); <-done })
		ws = append(ws, w)
	}
	eventually(t, time.Minute, "every watcher sees every region up", func() bool {
		for _, w := range ws {
			for _, r := range w.Health().Regions {
				if r.Verdict != watcher.Up {
					return false
				}
			}
		}
		return true
	})
	return ws
}

// TestWatcherEvacuatesARegionOnce is the watcher drill for a region-wide failure: a watcher cut off from both
// regions is partitioned and starts nothing; then us-east fails for everyone, and the three replicas' watchers,
// each confirming every service with the others, start one evacuation-us-east between them, which owns every
// service: the watchers hold each service's own start for the settle window, and once the evacuation started the
// front door answers those starts covered, so every service moves as the evacuation's child, in its wave.
func TestWatcherEvacuatesARegionOnce(t *testing.T) {
	s := startStack(t)
	startEvacuationWorker(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	names := []string{"db-1", "svc-1", "svc-2"}
	routes := frontDoorFiles(t, s, names)
	ws := watchedDoors(t, ctx, s, routes)
	const id = "evacuation-us-east"

	// Partition: door-a loses both regions (only its probes go unanswered).
	for _, r := range stack.RegionNames {
		if err := region.InjectFault(s.Regions[r].URL(), `{"drop_observer":"door-a"}`); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "door-a partitioned", func() bool { return ws[0].Health().Partitioned != "" })
	held := time.Now()
	eventually(t, 30*time.Second, "door-a held for 3s", func() bool {
		return time.Since(held) > 3*time.Second && ws[0].Health().Partitioned != "" // the drill's hold, probed meanwhile
	})
	if _, err := s.TemporalClient.DescribeWorkflow(ctx, id, ""); !control.IsNotFound(err) {
		t.Fatalf("a partitioned watcher started %s (%v)", id, err)
	}
	for _, r := range stack.RegionNames {
		if err := region.InjectFault(s.Regions[r].URL(), `{"drop_observer":""}`); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "door-a healed", func() bool { return ws[0].Health().Partitioned == "" })

	faultAt := time.Now()
	fault(t, s, "us-east", `{"status":503}`)
	var desc string
	eventually(t, time.Minute, "the watchers start the evacuation", func() bool {
		d, err := s.TemporalClient.DescribeWorkflow(ctx, id, "")
		if err == nil {
			desc = d.WorkflowExecution.RunID
		}
		return err == nil
	})
	evacuationStarted := time.Since(faultAt)
	var res workflows.EvacuationResult
	if err := s.TemporalClient.GetWorkflow(ctx, id, desc).Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	// No watcher started a service's own failover beside the evacuation: every service moved once, as its child.
	if res.Outcome != workflows.Succeeded || res.Counts[workflows.Succeeded] != len(names) {
		t.Fatalf("evacuation %+v, want every service succeeded in it", res)
	}
	for _, n := range names {
		checkMoved(t, s, n)
	}
	ownedByEvacuation(t, s, id, names)
	req := evacuationInput(t, s, id, desc)
	// FaultAt is the send time of the outage's first failed probe: one in flight when the fault went in fails too,
	// so it may precede faultAt by up to a probe's timeout (1 s here), never by more.
	if tr := req.Trigger; tr.Source != workflows.TriggerWatcher || !strings.HasPrefix(tr.By, "watcher door-") ||
		tr.FaultAt.Before(faultAt.Add(-time.Second)) {
		t.Fatalf("trigger %+v", tr)
	}
	if len(req.Evidence) != 1+len(names) || !strings.Contains(req.Evidence[1].Labels["evidence"], "watchers record us-east down") {
		t.Fatalf("evidence %+v: want the region's verdict and each service's with the quorum's", req.Evidence)
	}
	eventually(t, 10*time.Second, "the evacuation listed", func() bool { return runsOf(t, s, id) >= 1 })
	if n := runsOf(t, s, id); n != 1 {
		t.Fatalf("%d evacuation runs from three watchers, want 1", n)
	}
	t.Logf("fault → evacuation started in %.2fs (detection, quorum, the held region), done in %.1fs",
		evacuationStarted.Seconds(), time.Since(faultAt).Seconds())
}

// ownedByEvacuation checks that each service's failover ran once, as the evacuation's child (its parent in
// Temporal, which no client can set), never started beside it and joined.
func ownedByEvacuation(t *testing.T, s *stack.Stack, evacuation string, names []string) {
	t.Helper()
	for _, n := range names {
		id := workflows.WorkflowID(n)
		eventually(t, 10*time.Second, id+" listed", func() bool { return runsOf(t, s, id) >= 1 })
		if runs := runsOf(t, s, id); runs != 1 {
			t.Errorf("%d runs of %s, want 1", runs, id)
		}
		d, err := s.TemporalClient.DescribeWorkflow(context.Background(), id, "")
		if err != nil {
			t.Fatal(err)
		}
		if p := d.ParentWorkflowExecution; p == nil || p.ID != evacuation {
			t.Errorf("%s: parent %+v, want %s: started beside the evacuation", id, p, evacuation)
		}
	}
}

// healthSwitch is one service's own health endpoint in a region, which the test turns down alone (the demo
// regions serve every service from one process).
type healthSwitch struct {
	srv  *httptest.Server
	down atomic.Bool
}

func newHealthSwitch(t *testing.T) *healthSwitch {
	h := &healthSwitch{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if h.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// ownHealth points the healthURL of name's plan in region at its own endpoint.
func ownHealth(t *testing.T, routes, name, region string) *healthSwitch {
	t.Helper()
	path := filepath.Join(filepath.Dir(routes), "plans", name+".yaml")
	p, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := newHealthSwitch(t)
	old := "healthURL: " + p.Regions[region].HealthURL + "\n"
	if strings.Count(string(b), old) != 1 {
		t.Fatalf("%s: %q is not one line of the plan", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, "healthURL: "+h.srv.URL+"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err = plan.Load(path); err != nil || p.Regions[region].HealthURL != h.srv.URL {
		t.Fatalf("%s after the edit: %v %v", path, p.Regions[region], err)
	}
	return h
}

// TestWatcherStartsALoneServiceAfterTheSettleWindow: in a region with an evacuation, one service down alone (the
// rest of the region serving) is no region-wide failure: once the settle window passed, the watchers start its
// own failover as without an evacuation, and no evacuation starts.
func TestWatcherStartsALoneServiceAfterTheSettleWindow(t *testing.T) {
	s := startStack(t)
	startEvacuationWorker(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	names := []string{"db-1", "svc-1", "svc-2"}
	routes := frontDoorFiles(t, s, names)
	svc1 := ownHealth(t, routes, "svc-1", "us-east")
	watchedDoors(t, ctx, s, routes)

	faultAt := time.Now()
	svc1.down.Store(true)
	id := workflows.WorkflowID("svc-1")
	var run string
	eventually(t, time.Minute, "the watchers start svc-1's failover", func() bool {
		d, err := s.TemporalClient.DescribeWorkflow(ctx, id, "")
		if err == nil {
			run = d.WorkflowExecution.RunID
		}
		return err == nil
	})
	started := time.Since(faultAt)
	d, err := s.TemporalClient.DescribeWorkflow(ctx, id, run)
	if err != nil {
		t.Fatal(err)
	}
	if d.ParentWorkflowExecution != nil {
		t.Fatalf("svc-1's failover has parent %+v, want its own run", d.ParentWorkflowExecution)
	}
	var res workflows.Result
	if err := s.TemporalClient.GetWorkflow(ctx, id, run).Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != workflows.Succeeded {
		t.Fatalf("svc-1's failover: %+v, want succeeded", res)
	}
	checkMoved(t, s, "svc-1")
	if _, err := s.TemporalClient.DescribeWorkflow(ctx, "evacuation-us-east", ""); !control.IsNotFound(err) {
		t.Fatalf("one service down started evacuation-us-east (%v)", err)
	}
	for _, n := range []string{"db-1", "svc-2"} {
		if runs := runsOf(t, s, workflows.WorkflowID(n)); runs != 0 {
			t.Fatalf("%d failovers of %s, which serves", runs, n)
		}
	}
	t.Logf("fault → svc-1's failover started in %.2fs (detection, quorum and the settle window)", started.Seconds())
}
