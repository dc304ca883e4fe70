package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/pflag"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	dto "github.com/prometheus/client_model/go"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/codec"
	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/endpoints"
	"github.com/failover/failover/observe"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/report"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

const drillUIOrigin = "http://127.0.0.1:8233"

// TestDrillObservability runs one failover drill on the local stack with a worker built like cmd worker (flags →
// endpoints.Config with a codec keyring → Temporal client with the Prometheus metrics handler), a manual approval
// and a slow warmup, and checks what people rely on during and after an outage:
//   - /metrics has failover_total, the RTO, step, approval-wait and check histograms/counters with the right labels
//     and counts, the SDK's own metrics, and failover_in_flight / failover_current_step while it runs;
//   - every payload Temporal stored is encrypted; a client without the key cannot read them; the codec server
//     decodes them (token, CORS) and a codec server without the key refuses;
//   - `starter watch` showed the pending approval and the warmup's progress, then the report;
//   - `starter report` renders text, JSON and HTML from the finished workflow.
func TestDrillObservability(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{NoUI: true, NoWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "codec-keys")
	drillWriteFile(t, keyFile, "# active first, the retired key below it still decrypts\n2026-03:"+drillKey(t)+"\n2025-01:"+drillKey(t)+"\n")
	flags := []string{"--temporal-address", s.Temporal.Address(), "--namespace", s.Temporal.Namespace(), "--codec-key-file", keyFile,
		"--etcd-endpoints", s.Etcd.Endpoint(), "--kong-admin-url", s.Kong.AdminURL()}

	// The worker, wired as worker/main.go wires it.
	var cfg endpoints.Config
	fs := pflag.NewFlagSet("worker", pflag.ContinueOnError)
	cfg.Bind(fs)
	if err := fs.Parse(flags); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Load(); err != nil {
		t.Fatal(err)
	}
	metrics := observe.NewMetrics(discard())
	tc, err := cfg.Temporal(discard(), endpoints.WithMetricsHandler(metrics.SDKHandler()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	metrics.Registry.MustRegister(observe.NewInFlightCollector(tc, discard()))
	metricsSrv := httptest.NewServer(metrics.HTTPHandler())
	t.Cleanup(metricsSrv.Close)
	etcd, err := cfg.Etcd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { etcd.Close() })
	kc, err := cfg.Kong()
	if err != nil {
		t.Fatal(err)
	}
	// Warmup batches take 250 ms each, one at a time, so `watch` sees the progress bar move.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: drillSlowWarmup{http.DefaultTransport}}
	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, &activities.Activities{Etcd: etcd, Kong: kc, HTTP: hc, Logger: discard()}, workflows.Trust{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	p := drillPlan(s)
	p.Approval.Mode = plan.ApprovalManual
	p.Warmup.Concurrency = 1
	req := workflows.Request{Plan: p, PlanHash: p.Hash(), From: "us-east", To: "eu-west", Kind: workflows.KindFailover,
		Trigger: workflows.Trigger{Source: "drill", By: "alice", FaultAt: time.Now()}}
	if err := region.InjectFault(s.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		t.Fatal(err)
	}
	run, err := startFailover(ctx, tc, req)
	if err != nil {
		t.Fatal(err)
	}

	watchOut := &drillBuffer{}
	watchDone := make(chan error, 1)
	go func() {
		_, err := watcher{tc: tc, dc: cfg.DataConverter(), out: watchOut, interval: 100 * time.Millisecond}.run(ctx, run.GetID())
		watchDone <- err
	}()

	// While it waits for approval, it is in flight, at step approve.
	seen := map[string]bool{}
	drillWithin(t, 30*time.Second, "failover_in_flight 1 and failover_current_step approve while waiting for approval", func() bool {
		fams := drillScrape(t, metricsSrv.URL, seen)
		return drillValue(fams, observe.InFlight, map[string]string{"service": "payments"}) == 1 &&
			drillValue(fams, observe.CurrentStep, map[string]string{"service": "payments", "step": "approve"}) == 1
	})
	drillWithin(t, 10*time.Second, "watch shows the pending approval", func() bool { return strings.Contains(watchOut.String(), "waiting for a decision") })
	drillApprove(ctx, t, tc, run.GetID(), p.Hash())

	var res workflows.Result
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != workflows.Succeeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}

	t.Run("metrics", func(t *testing.T) {
		payments := map[string]string{"service": "payments"}
		var fams map[string]*dto.MetricFamily
		// The SDK counts a completed workflow once its last task is answered, which can be after the client saw
		// the result.
		drillWithin(t, 15*time.Second, "failover_total succeeded 1, nothing in flight, and the SDK's temporal_workflow_completed_total", func() bool {
			fams = drillScrape(t, metricsSrv.URL, seen)
			return drillValue(fams, observe.FailoversTotal, map[string]string{"service": "payments", "outcome": "succeeded"}) == 1 &&
				drillValue(fams, observe.InFlight, payments) == 0 &&
				drillValue(fams, "temporal_workflow_completed_total", map[string]string{"workflow_type": "Failover"}) >= 1
		})
		sdkLabels := map[string]string{"service": "payments", "namespace": s.Temporal.Namespace(), "task_queue": workflows.TaskQueue, "workflow_type": "Failover"}
		if got := drillSeries(fams, observe.FailoversTotal, payments); len(got) != 1 || drillValue(fams, observe.FailoversTotal, drillMerge(sdkLabels, map[string]string{"kind": "failover", "outcome": "succeeded"})) != 1 {
			t.Errorf("failover_total series for payments: %v", got)
		}
		if n, sum := drillHistogram(fams, observe.RTOSeconds, sdkLabels); n != 1 || sum < res.RTOSeconds-0.01 || sum > res.RTOSeconds+0.01 {
			t.Errorf("failover_rto_seconds: count %d sum %.3f, want 1 and the result's RTO %.3f", n, sum, res.RTOSeconds)
		}
		for _, step := range []string{"detect", "readiness", "approve", "cutover", "reroute", "warmup", "verify"} {
			if n, _ := drillHistogram(fams, observe.StepDurationSeconds, drillMerge(payments, map[string]string{"step": step, "result": "ok"})); n != 1 {
				t.Errorf("failover_step_duration_seconds{step=%q,result=ok} count %d, want 1", step, n)
			}
		}
		if n, sum := drillHistogram(fams, observe.ApprovalWaitSeconds, drillMerge(payments, map[string]string{"decision": workflows.DecideFailover})); n != 1 || sum <= 0 {
			t.Errorf("failover_approval_wait_seconds: count %d sum %.3f", n, sum)
		}
		if got := drillValue(fams, observe.CheckResultsTotal, drillMerge(payments, map[string]string{"check": "served-by-target", "verdict": "pass"})); got != float64(p.Verification.Count) {
			t.Errorf("failover_check_results_total{check=served-by-target,verdict=pass} = %v, want %d", got, p.Verification.Count)
		}
		for _, name := range append(observe.MetricNames(), observe.SDKMetricNames()...) {
			if !seen[name] {
				t.Errorf("%s never appeared on /metrics during the drill", name)
			}
		}
	})

	t.Run("payloads are encrypted at rest", func(t *testing.T) {
		// s.TemporalClient has no codec: it sees what Temporal stored.
		payloads := drillStoredPayloads(t, s.TemporalClient, run.GetID())
		if len(payloads) < 20 {
			t.Fatalf("only %d payloads in the history", len(payloads))
		}
		for _, pl := range payloads {
			if enc := string(pl.GetMetadata()["encoding"]); enc != codec.Encoding {
				t.Fatalf("a stored payload has encoding %q: %s", enc, pl.GetData())
			}
			if id := string(pl.GetMetadata()[codec.KeyIDMetadata]); id != "2026-03" {
				t.Fatalf("encrypted with key %q, want the active 2026-03", id)
			}
			for _, plain := range []string{"payments", "us-east", "eu-west", p.Hash(), "alice"} {
				if bytes.Contains(pl.GetData(), []byte(plain)) {
					t.Fatalf("a stored payload contains %q in clear", plain)
				}
			}
		}
		// Without the key, the status is unreadable.
		v, err := s.TemporalClient.QueryWorkflow(ctx, run.GetID(), "", workflows.StatusQuery)
		if err != nil {
			t.Fatal(err)
		}
		var st workflows.Status
		if err := v.Get(&st); err == nil {
			t.Fatalf("a client without the key decoded the status: %+v", st.Service)
		}

		input := drillStartInput(t, s.TemporalClient, run.GetID())
		tokenFile := filepath.Join(dir, "codec-token")
		drillWriteFile(t, tokenFile, "drill-token\n")
		srv, err := codec.StartServer("127.0.0.1:0", cfg.Codec(), codec.ServerOptions{AllowedOrigins: []string{drillUIOrigin}, Token: "drill-token"})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Stop()
		resp, body := drillDecode(t, srv.URL, input, "Bearer drill-token", drillUIOrigin)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("codec server /decode: HTTP %d %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != drillUIOrigin {
			t.Errorf("Access-Control-Allow-Origin %q", got)
		}
		var decoded commonpb.Payloads
		if err := protojson.Unmarshal(body, &decoded); err != nil {
			t.Fatal(err)
		}
		var got workflows.Request
		if err := converter.GetDefaultDataConverter().FromPayloads(&decoded, &got); err != nil || got.Plan.Service != "payments" || got.PlanHash != p.Hash() {
			t.Fatalf("decoded workflow input: %+v %v", got.Plan.Service, err)
		}
		if resp, _ := drillDecode(t, srv.URL, input, "", drillUIOrigin); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/decode without the token: HTTP %d, want 401", resp.StatusCode)
		}
		other, err := codec.New([]codec.Key{{ID: "2027-01", Secret: bytes.Repeat([]byte{7}, 32)}})
		if err != nil {
			t.Fatal(err)
		}
		stranger, err := codec.StartServer("127.0.0.1:0", other, codec.ServerOptions{AllowedOrigins: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		defer stranger.Stop()
		if resp, body := drillDecode(t, stranger.URL, input, "", drillUIOrigin); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "2026-03") {
			t.Errorf("a codec server without the key: HTTP %d %s, want 400 naming key 2026-03", resp.StatusCode, body)
		}
	})

	t.Run("watch", func(t *testing.T) {
		select {
		case err := <-watchDone:
			if err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			t.Fatal("watch did not end with the failover")
		}
		out := watchOut.String()
		if testing.Verbose() {
			t.Log("watch output:\n" + out)
		}
		for _, want := range []string{"waiting for a decision (0/1)", "▶ warmup", "/4 batches", "✔ verify", "outcome succeeded"} {
			if !strings.Contains(out, want) {
				t.Errorf("watch output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("report", func(t *testing.T) {
		base := append([]string{"report", run.GetID()}, flags...)
		var out bytes.Buffer
		root := newRoot()
		root.SetArgs(append(base, "--format", "json"))
		root.SetOut(&out)
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		var rep report.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("report JSON: %v\n%s", err, out.String())
		}
		if rep.Outcome != workflows.Succeeded || math.Abs(rep.RTOSeconds-res.RTOSeconds) > 0.001 || rep.RunID != run.GetRunID() {
			t.Errorf("report: outcome %s RTO %.3f run %s; result RTO %.3f run %s", rep.Outcome, rep.RTOSeconds, rep.RunID, res.RTOSeconds, run.GetRunID())
		}
		var phases []string
		for _, ph := range rep.Phases {
			phases = append(phases, ph.Name)
		}
		// The fault was injected just before the start: that gap is the alerting phase.
		if got := strings.Join(phases, ","); got != "alerting,detection,readiness,approval wait,cutover,reroute,warmup,verification" {
			t.Errorf("phases %s", got)
		}
		htmlFile := filepath.Join(dir, "report.html")
		root = newRoot()
		root.SetArgs(append(base, "--format", "html", "-o", htmlFile))
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(htmlFile); err != nil || !bytes.Contains(b, []byte(`id="timeline"`)) {
			t.Errorf("HTML report: %v", err)
		}
	})
}

// drillSlowWarmup delays the regions' /warmup calls: a warmup long enough to watch.
type drillSlowWarmup struct{ next http.RoundTripper }

func (s drillSlowWarmup) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/warmup") {
		select {
		case <-time.After(250 * time.Millisecond):
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return s.next.RoundTrip(r)
}

// drillPlan is the stack's demo plan without its Prometheus checks: this drill runs no Prometheus.
func drillPlan(s *stack.Stack) plan.Plan {
	p := s.Plan
	p.Readiness = plan.Readiness{}
	keep := func(checks []plan.Check) []plan.Check {
		var out []plan.Check
		for _, c := range checks {
			if c.Prometheus == nil {
				out = append(out, c)
			}
		}
		return out
	}
	p.Traffic.Gate = keep(p.Traffic.Gate)
	p.Verification.Checks = keep(p.Verification.Checks)
	return p
}

func drillApprove(ctx context.Context, t *testing.T, tc client.Client, id, planHash string) {
	t.Helper()
	h, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.ApproveUpdate,
		WaitForStage: client.WorkflowUpdateStageCompleted,
		Args:         []any{workflows.ApprovalRequest{By: "alice", PlanHash: planHash, Via: "drill", Comment: "drill"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Get(ctx, nil); err != nil {
		t.Fatalf("approve: %v", err)
	}
}

func drillKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

func drillWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// drillWithin polls cond until it holds or the deadline passes.
func drillWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// drillScrape GETs /metrics, parses it, and notes every series name it saw (histograms as _bucket, _sum, _count).
func drillScrape(t *testing.T, url string, seen map[string]bool) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	for name, f := range fams {
		if f.GetType() == dto.MetricType_HISTOGRAM {
			seen[name+"_bucket"], seen[name+"_sum"], seen[name+"_count"] = true, true, true
		} else {
			seen[name] = true
		}
	}
	return fams
}

// drillSeries returns the metrics of a family whose labels include want.
func drillSeries(fams map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range fams[name].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}

// drillValue sums the counters or gauges of name matching want (-1 when there are none).
func drillValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	ms := drillSeries(fams, name, want)
	if len(ms) == 0 {
		return -1
	}
	sum := 0.0
	for _, m := range ms {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

func drillHistogram(fams map[string]*dto.MetricFamily, name string, want map[string]string) (count uint64, sum float64) {
	for _, m := range drillSeries(fams, name, want) {
		count += m.GetHistogram().GetSampleCount()
		sum += m.GetHistogram().GetSampleSum()
	}
	return count, sum
}

func drillMerge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// drillStoredPayloads collects every payload in the workflow's history except search attributes (which Temporal
// indexes, so they are never encrypted).
func drillStoredPayloads(t *testing.T, tc client.Client, id string) []*commonpb.Payload {
	t.Helper()
	var out []*commonpb.Payload
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		switch m.Descriptor().FullName() {
		case "temporal.api.common.v1.SearchAttributes":
			return
		case "temporal.api.common.v1.Payload":
			out = append(out, m.Interface().(*commonpb.Payload))
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool { walk(mv.Message()); return true })
			case fd.IsList() && fd.Message() != nil:
				for i := 0; i < v.List().Len(); i++ {
					walk(v.List().Get(i).Message())
				}
			case fd.Message() != nil && !fd.IsMap() && !fd.IsList():
				walk(v.Message())
			}
			return true
		})
	}
	it := tc.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		walk(e.ProtoReflect())
	}
	return out
}

func drillStartInput(t *testing.T, tc client.Client, id string) *commonpb.Payloads {
	t.Helper()
	it := tc.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	e, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	return e.GetWorkflowExecutionStartedEventAttributes().GetInput()
}

// drillDecode posts payloads to a codec server's /decode as the Web UI does.
func drillDecode(t *testing.T, url string, p *commonpb.Payloads, auth, origin string) (*http.Response, []byte) {
	t.Helper()
	body, err := protojson.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/decode", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	req.Header.Set("Origin", origin)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// drillBuffer is a bytes.Buffer the watcher writes while the test reads.
type drillBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *drillBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *drillBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
