package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/failover/failover/alerts"
	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/follow"
	"github.com/failover/failover/frontdoor"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/freeport"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/testsuite/temporaldev"
	"github.com/failover/failover/workflows"
)

// clearServeEnv keeps the developer's environment out of the flag defaults.
func clearServeEnv(t *testing.T) {
	for _, env := range []string{"LISTEN_ADDR", "ROUTES_FILE", "WEBHOOK_TOKEN_FILE", "WEBHOOK_TOKEN", "WEBHOOK_BASIC_AUTH_FILE",
		"WATCH_SETTLE", "ALERT_SETTLE"} {
		t.Setenv(env, "")
	}
}

func serveWriteFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testRoutes writes a routes file that sends every payments alert to the other region of the demo plan.
func testRoutes(t *testing.T, dir string) string {
	t.Helper()
	demoPlan, err := filepath.Abs(filepath.Join("..", "deploy", "plans", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return serveWriteFile(t, dir, "routes.yaml", fmt.Sprintf("routes:\n  - match: {service: payments}\n    plan: %s\n    to: other\n", demoPlan))
}

func TestServeFlagsNameTheProblem(t *testing.T) {
	clearServeEnv(t)
	dir := t.TempDir()
	routes := testRoutes(t, dir)
	token := serveWriteFile(t, dir, "token", "s3cret\n")
	empty := serveWriteFile(t, dir, "empty", "\n")
	noColon := serveWriteFile(t, dir, "basic", "alertmanager\n")
	// Region-wide routes: the evacuation file is checked at startup, each problem named by its field.
	plans, err := filepath.Abs(filepath.Join("..", "deploy", "evacuation", "plans"))
	if err != nil {
		t.Fatal(err)
	}
	serveWriteFile(t, dir, "us-east.yaml", "from: us-east\nplans: "+plans+"\napproval: {mode: auto, approvers: [alice]}\n")
	region := func(name, route string) string {
		return serveWriteFile(t, dir, name, "routes:\n  - match: {alertname: RegionDown}\n"+route)
	}
	both := region("both.yaml", "    evacuation: us-east.yaml\n    plan: "+routes+"\n")
	missing := region("missing.yaml", "    evacuation: eu-west.yaml\n")
	mismatch := serveWriteFile(t, dir, "mismatch.yaml", "routes:\n  - match: {alertname: RegionDown, region: eu-west}\n    evacuation: us-east.yaml\n")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"serve", "--webhook-token-file", token}, []string{"--routes (env ROUTES_FILE) is required"}},
		{[]string{"serve", "--routes", routes}, []string{"no webhook credentials", "--webhook-token-file", "WEBHOOK_TOKEN", "--webhook-basic-auth-file"}},
		{[]string{"serve", "--routes", routes, "--webhook-token-file", filepath.Join(dir, "nope")}, []string{"--webhook-token-file", "no such file"}},
		{[]string{"serve", "--routes", routes, "--webhook-token-file", empty}, []string{"--webhook-token-file", "is empty"}},
		{[]string{"serve", "--routes", routes, "--webhook-basic-auth-file", noColon}, []string{"--webhook-basic-auth-file", "user:password"}},
		{[]string{"serve", "--routes", routes, "--webhook-token-file", token, "--listen", "8080"}, []string{"--listen \"8080\""}},
		{[]string{"serve", "--routes", routes, "--webhook-token-file", token, "--watch-settle", "600"},
			[]string{"--watch-settle (env WATCH_SETTLE) \"600\"", "600ms"}},
		{[]string{"serve", "--routes", routes, "--webhook-token-file", token, "--alert-settle", "8"},
			[]string{"--alert-settle (env ALERT_SETTLE) \"8\"", "8s", "-1s to never wait"}},
		{[]string{"serve", "--routes", filepath.Join(dir, "nope.yaml"), "--webhook-token-file", token}, []string{"--routes: read routes"}},
		{[]string{"serve", "--routes", token, "--webhook-token-file", token}, []string{"--routes: routes", "decode"}},
		{[]string{"serve", "--routes", both, "--webhook-token-file", token}, []string{"routes[0]: plan and evacuation are both set"}},
		{[]string{"serve", "--routes", missing, "--webhook-token-file", token}, []string{"routes[0].evacuation: read evacuation", "eu-west.yaml"}},
		{[]string{"serve", "--routes", mismatch, "--webhook-token-file", token},
			[]string{"routes[0].evacuation", "evacuates us-east (its from), but routes[0].match.region is eu-west"}},
	} {
		root := newRoot()
		root.SetArgs(tc.args)
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		err := root.Execute()
		for _, want := range tc.want {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%v: error %v, want it to mention %q", tc.args[1:], err, want)
			}
		}
	}
	t.Setenv("ALERT_SETTLE", "soon")
	root := newRoot()
	root.SetArgs([]string{"serve", "--routes", routes, "--webhook-token-file", token})
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), `--alert-settle (env ALERT_SETTLE) "soon"`) {
		t.Errorf("env ALERT_SETTLE=soon: error %v, want it named", err)
	}
}

// runServe runs `starter serve` in-process on a free port until the returned stop is called; stop returns the
// command's error.
func runServe(t *testing.T, args ...string) (base string, stop func() error) {
	t.Helper()
	port, err := freeport.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	root := newRoot()
	root.SetArgs(append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, args...))
	root.SetOut(t.Output())
	root.SetErr(t.Output())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(shutdownGrace + 5*time.Second):
				result = fmt.Errorf("serve still running %s after its context ended", shutdownGrace+5*time.Second)
			}
		})
		return result
	}
	t.Cleanup(func() { stop() })
	// Up when it answers at all (healthz may say 503 when Temporal is down).
	deadline := time.After(15 * time.Second)
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return base, stop
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited at start: %v", err)
		case <-deadline:
			t.Fatal("serve not answering after 15s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func serveDo(t *testing.T, method, url, token string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// amPayload is an Alertmanager webhook notification (version 4) with one alert.
func amPayload(status string, labels map[string]string, startsAt time.Time) []byte {
	a := alerts.Alert{Status: status, Labels: labels, StartsAt: startsAt, Annotations: map[string]string{"summary": "test"}}
	if status == alerts.Resolved {
		a.EndsAt = time.Now()
	}
	b, _ := json.Marshal(alerts.Payload{Version: "4", Status: status, Receiver: "orchestrator", Alerts: []alerts.Alert{a},
		GroupKey:    fmt.Sprintf(`{}:{alertname=%q, region=%q, service=%q}`, labels["alertname"], labels["region"], labels["service"]),
		GroupLabels: map[string]string{"alertname": labels["alertname"], "service": labels["service"], "region": labels["region"]}})
	return b
}

func usEastDown() map[string]string {
	return map[string]string{"alertname": "RegionHighErrorRatio", "service": "payments", "region": "us-east", "severity": "critical"}
}

// TestServeCommand runs `starter serve` itself. It starts while Temporal is down: /healthz and the webhook answer 503
// (Alertmanager retries). Once Temporal is up, the retried alert starts the failover; unauthenticated posts start
// nothing; /metrics counts it all; SIGTERM's path (the context ending) shuts down gracefully.
func TestServeCommand(t *testing.T) {
	clearServeEnv(t)
	port, err := freeport.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base, stop := runServe(t, "--routes", testRoutes(t, dir), "--webhook-token-file", serveWriteFile(t, dir, "token", "s3cret\n"),
		"--temporal-address", fmt.Sprintf("127.0.0.1:%d", port))
	hook := base + "/webhooks/alertmanager"
	firing := amPayload(alerts.Firing, usEastDown(), time.Now())

	if code, body := serveDo(t, http.MethodGet, base+"/healthz", "", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("healthz with Temporal down: %d %s", code, body)
	}
	code, body := serveDo(t, http.MethodPost, hook, "s3cret", firing)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("webhook with Temporal down: %d %s", code, body)
	}
	t.Logf("webhook with Temporal down: %d %s", code, strings.TrimSpace(body))

	srv, err := temporaldev.Start(t.Context(), temporaldev.Options{NoUI: true, GRPCPort: port, SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	serveEventually(t, 20*time.Second, "serve connects to Temporal", func() (bool, string) {
		code, body := serveDo(t, http.MethodGet, base+"/healthz", "", nil)
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	// The demo plan has a watch section: serve watches its regions (--watch is on by default) and says so.
	if _, body := serveDo(t, http.MethodGet, base+"/healthz", "", nil); !strings.Contains(body, "watcher ") || !strings.Contains(body, "payments/us-east") {
		t.Fatalf("/healthz does not show the region watcher: %s", body)
	}
	if code, _ := serveDo(t, http.MethodPost, hook, "", firing); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := serveDo(t, http.MethodPost, hook, "wrong", firing); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	tc, err := client.Dial(client.Options{HostPort: srv.Address(), Logger: serveSDKLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	if _, err := tc.DescribeWorkflow(t.Context(), "failover-payments", ""); err == nil {
		t.Fatal("an unauthenticated post started a workflow")
	}
	// Alertmanager's retry of the notification Temporal missed.
	code, body = serveDo(t, http.MethodPost, hook, "s3cret", firing)
	if code != http.StatusOK || !strings.Contains(body, `"action":"started"`) {
		t.Fatalf("post: %d %s", code, body)
	}
	desc, err := tc.DescribeWorkflow(t.Context(), "failover-payments", "")
	if err != nil {
		t.Fatalf("the alert started no workflow: %v", err)
	}
	if summary, _ := desc.GetStaticSummary(); !strings.Contains(summary, "us-east → eu-west (alert RegionHighErrorRatio)") {
		t.Fatalf("summary %q", summary)
	}
	if code, _ := serveDo(t, http.MethodGet, hook, "s3cret", nil); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET webhook: %d", code)
	}
	_, metrics := serveDo(t, http.MethodGet, base+"/metrics", "", nil)
	for _, want := range []string{`failover_webhook_requests_total{outcome="temporal_unavailable"} 1`,
		`failover_webhook_requests_total{outcome="unauthorized"} 2`, `failover_webhook_requests_total{outcome="ok"} 1`,
		`failover_webhook_alerts_total{action="started"} 1`, `failover_webhook_alerts_total{action="unmatched"} 0`, "go_goroutines",
		"failover_in_flight_up 1", "failover_watcher_partitioned", "failover_watcher_probes_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
}

func serveSDKLogger() sdklog.Logger { return sdklog.NewStructuredLogger(discard()) }

// alertStack is the local stack (no Web UI, no Prometheus) with the front door served on an httptest server.
type alertStack struct {
	*stack.Stack
	url     string // the webhook URL
	token   string
	plan    plan.Plan
	metrics *alerts.Metrics
}

// startAlertStack routes every payments alert to the other region of p (the stack's demo plan, edited by edit).
func startAlertStack(t *testing.T, edit func(*plan.Plan)) *alertStack {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{NoUI: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	p := s.Plan
	edit(&p)
	router, err := alerts.NewRouter(alerts.Route{Match: map[string]string{"service": "payments"}, Plan: p, To: alerts.ToOther})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	as := &alertStack{Stack: s, token: "s3cret", plan: p, metrics: alerts.NewMetrics(reg)}
	hook, err := alerts.NewHandler(alerts.Options{Temporal: s.TemporalClient, Router: router, Auth: alerts.Auth{Token: as.token},
		Metrics: as.metrics, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	door := httptest.NewServer(frontdoor.NewMux(frontdoor.Routes{Webhook: hook, Health: temporalHealth(s.TemporalClient), Registry: reg}))
	t.Cleanup(door.Close)
	as.url = door.URL + "/webhooks/alertmanager"
	return as
}

// manualWithoutPrometheus drops the demo plan's Prometheus checks (these stacks run no Prometheus) and makes it wait
// for a human at the approve step, before anything changes.
func manualWithoutPrometheus(p *plan.Plan) {
	p.Readiness = plan.Readiness{}
	p.Detection.Query = nil
	var gate, checks []plan.Check
	for _, c := range p.Traffic.Gate {
		if c.Prometheus == nil {
			gate = append(gate, c)
		}
	}
	for _, c := range p.Verification.Checks {
		if c.Prometheus == nil {
			checks = append(checks, c)
		}
	}
	p.Traffic.Gate, p.Verification.Checks = gate, checks
	p.Approval.Mode = plan.ApprovalManual
}

func (as *alertStack) post(t *testing.T, body []byte) alerts.Result {
	t.Helper()
	r, err := as.tryPost(body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryPost posts a notification with the stack's token and returns what became of its one alert.
func (as *alertStack) tryPost(body []byte) (alerts.Result, error) {
	req, _ := http.NewRequest(http.MethodPost, as.url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+as.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return alerts.Result{}, err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	var out alerts.Response
	if resp.StatusCode != http.StatusOK || json.Unmarshal(text, &out) != nil || len(out.Alerts) != 1 {
		return alerts.Result{}, fmt.Errorf("post: %d %s", resp.StatusCode, text)
	}
	return out.Alerts[0], nil
}

func (as *alertStack) status(t *testing.T, runID string) workflows.Status {
	t.Helper()
	v, err := as.TemporalClient.QueryWorkflow(t.Context(), "failover-payments", runID, workflows.StatusQuery)
	if err != nil {
		t.Fatalf("status query: %v", err)
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// serveEventually polls cond every 100ms until it holds or the deadline passes.
func serveEventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, within, last)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestConcurrentDuplicateAlertsStartOneFailover posts one firing alert 200 times at once, as Alertmanager's resends
// and an HA pair would, against a real Temporal server and worker: exactly one failover runs, and its status
// shows the repeats.
func TestConcurrentDuplicateAlertsStartOneFailover(t *testing.T) {
	as := startAlertStack(t, manualWithoutPrometheus)
	if err := region.InjectFault(as.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		t.Fatal(err)
	}
	body := amPayload(alerts.Firing, usEastDown(), time.Now())
	const posts = 200
	results := make([]alerts.Result, posts)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range posts {
		wg.Go(func() {
			var err error
			if results[i], err = as.tryPost(body); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d concurrent posts answered in %v", posts, time.Since(t0).Round(time.Millisecond))
	actions, runs := map[string]int{}, map[string]bool{}
	for _, r := range results {
		actions[r.Action]++
		runs[r.RunID] = true
	}
	if actions[alerts.ActionStarted] != 1 || actions[alerts.ActionAttached] != posts-1 || len(runs) != 1 {
		t.Fatalf("actions %v, runs %v: want 1 started and %d attached to one run", actions, runs, posts-1)
	}
	runID := results[0].RunID

	serveEventually(t, 30*time.Second, "the failover waits for approval with every repeat recorded", func() (bool, string) {
		st := as.status(t, runID)
		ok := st.Step == "approve" && st.Pending != nil && len(st.Alerts) == 1 && st.Alerts[0].Notifications == posts
		return ok, fmt.Sprintf("step %s, alerts %+v", st.Step, st.Alerts)
	})
	serveEventually(t, 30*time.Second, "visibility lists one failover", func() (bool, string) {
		resp, err := as.TemporalClient.CountWorkflow(t.Context(), &workflowservice.CountWorkflowExecutionsRequest{
			Query: "WorkflowId = 'failover-payments'"})
		if err != nil {
			return false, err.Error()
		}
		return resp.GetCount() == 1, fmt.Sprintf("count %d", resp.GetCount())
	})
	st := as.status(t, runID)
	if st.Trigger.Source != "alert" || st.Trigger.Alert != "RegionHighErrorRatio" || st.Trigger.By != "alertmanager" {
		t.Fatalf("trigger %+v", st.Trigger)
	}
	// One more resend later still joins the same run.
	if r := as.post(t, body); r.Action != alerts.ActionAttached || r.RunID != runID {
		t.Fatalf("a later resend: %+v", r)
	}
}

// TestResolvedBeforeCutoverAbortsTheFailover: the alert resolves while the failover waits for approval; it stops
// with outcome source-recovered and nothing changed.
func TestResolvedBeforeCutoverAbortsTheFailover(t *testing.T) {
	as := startAlertStack(t, manualWithoutPrometheus)
	if err := region.InjectFault(as.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		t.Fatal(err)
	}
	startsAt := time.Now()
	started := as.post(t, amPayload(alerts.Firing, usEastDown(), startsAt))
	if started.Action != alerts.ActionStarted {
		t.Fatalf("firing: %+v", started)
	}
	serveEventually(t, 30*time.Second, "the failover waits for approval", func() (bool, string) {
		st := as.status(t, started.RunID)
		return st.Step == "approve" && st.Pending != nil, "step " + st.Step
	})
	if err := region.InjectFault(as.Regions["us-east"].URL(), `{"status":0}`); err != nil { // us-east recovers by itself
		t.Fatal(err)
	}
	if r := as.post(t, amPayload(alerts.Resolved, usEastDown(), startsAt)); r.Action != alerts.ActionAttached || r.RunID != started.RunID {
		t.Fatalf("resolved: %+v", r)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var res workflows.Result
	if err := as.TemporalClient.GetWorkflow(ctx, "failover-payments", started.RunID).Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != workflows.SourceRecovered {
		t.Fatalf("outcome %s (%s), want %s", res.Outcome, res.Reason, workflows.SourceRecovered)
	}
	for _, step := range res.Steps {
		if step.Name == "cutover" {
			t.Fatalf("a cutover ran: %+v", res.Steps)
		}
	}
	kv, err := as.EtcdClient.Get(ctx, as.plan.Etcd.ActiveKey)
	if err != nil || len(kv.Kvs) != 1 {
		t.Fatalf("active key: %v", err)
	}
	if a, err := follow.ParseActive(kv.Kvs[0].Value); err != nil || a.Region != "us-east" {
		t.Fatalf("active region %+v (%v), want us-east untouched", a, err)
	}
	t.Logf("outcome %s: %s", res.Outcome, res.Reason)
	// The resend of the resolution after the failover closed is only acknowledged; nothing starts.
	if r := as.post(t, amPayload(alerts.Resolved, usEastDown(), startsAt)); r.Action != alerts.ActionIgnored {
		t.Fatalf("resolved after close: %+v", r)
	}
	// So is a resend of the firing alert that failover already handled.
	if r := as.post(t, amPayload(alerts.Firing, usEastDown(), startsAt)); r.Action != alerts.ActionIgnored {
		t.Fatalf("firing resend after close: %+v", r)
	}
}
