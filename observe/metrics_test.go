package observe

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	dto "github.com/prometheus/client_model/go"
)

func scrape(t *testing.T, h http.Handler) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, raw)
	}
	return string(raw), fams
}

func TestWorkflowMetricsGetNamesBucketsAndLabels(t *testing.T) {
	m := NewMetrics(nil)
	// What the SDK does for a workflow: root tags, workflow tags, then the workflow's own.
	wf := m.SDKHandler().WithTags(map[string]string{"namespace": "default", "task_queue": "failover"}).
		WithTags(map[string]string{"workflow_type": "Failover"})
	wf.WithTags(map[string]string{"service": "payments", "kind": "failover", "outcome": "rolled-back"}).Counter("failover_total").Inc(1)
	wf.WithTags(map[string]string{"service": "payments"}).Timer("failover_rto_seconds").Record(95 * time.Second)
	wf.WithTags(map[string]string{"service": "payments", "step": "hold-down", "result": "ok"}).Timer("failover_step_duration_seconds").Record(3 * time.Second)
	wf.WithTags(map[string]string{"service": "payments", "decision": "approve-failover"}).Timer("failover_approval_wait_seconds").Record(12 * time.Minute)
	wf.WithTags(map[string]string{"service": "payments", "check": "served-by-target", "verdict": "pass"}).Counter("failover_check_results_total").Inc(3)
	// An SDK metric keeps the SDK's naming: counters get _total.
	m.SDKHandler().WithTags(map[string]string{"namespace": "default", "operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(1)
	if err := m.Close(); err != nil { // flushes tally's buffered counters
		t.Fatal(err)
	}
	raw, fams := scrape(t, m.HTTPHandler())

	for _, want := range []string{
		`failover_total{kind="failover",namespace="default",outcome="rolled-back",service="payments",task_queue="failover",workflow_type="Failover"} 1`,
		`failover_rto_seconds_bucket{namespace="default",service="payments",task_queue="failover",workflow_type="Failover",le="90"} 0`,
		`failover_rto_seconds_bucket{namespace="default",service="payments",task_queue="failover",workflow_type="Failover",le="120"} 1`,
		`failover_rto_seconds_sum{namespace="default",service="payments",task_queue="failover",workflow_type="Failover"} 95`,
		`failover_step_duration_seconds_count{namespace="default",result="ok",service="payments",step="hold-down",task_queue="failover",workflow_type="Failover"} 1`,
		`failover_approval_wait_seconds_bucket{decision="approve-failover",namespace="default",service="payments",task_queue="failover",workflow_type="Failover",le="900"} 1`,
		`failover_check_results_total{check="served-by-target",namespace="default",service="payments",task_queue="failover",verdict="pass",workflow_type="Failover"} 3`,
		`temporal_request_total{namespace="default",operation="StartWorkflowExecution"} 1`,
		"# HELP failover_rto_seconds Recovery time of succeeded failovers",
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if got := len(fams["failover_step_duration_seconds"].GetMetric()[0].GetHistogram().GetBucket()); got != len(stepBuckets)+1 { // and +Inf
		t.Errorf("step histogram has %d buckets, want %d", got, len(stepBuckets)+1)
	}
	if t.Failed() {
		t.Log(raw)
	}
}

func TestMetricNames(t *testing.T) {
	names := strings.Join(MetricNames(), " ")
	for _, want := range []string{"failover_total", "failover_rto_seconds_bucket", "failover_step_duration_seconds_count", "failover_in_flight", "failover_current_step"} {
		if !strings.Contains(names, want) {
			t.Errorf("MetricNames lacks %s: %s", want, names)
		}
	}
}

type fakeVisibility struct {
	pages [][]*workflowpb.WorkflowExecutionInfo
	err   error
	query string
}

func (f *fakeVisibility) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.query = req.Query
	if f.err != nil {
		return nil, f.err
	}
	page := 0
	if len(req.NextPageToken) > 0 {
		page = int(req.NextPageToken[0])
	}
	resp := &workflowservice.ListWorkflowExecutionsResponse{Executions: f.pages[page]}
	if page+1 < len(f.pages) {
		resp.NextPageToken = []byte{byte(page + 1)}
	}
	return resp, nil
}

func execution(t *testing.T, service, step string, started time.Time) *workflowpb.WorkflowExecutionInfo {
	t.Helper()
	sa := map[string]*commonpb.Payload{}
	for k, v := range map[string]string{"FailoverService": service, "FailoverStep": step} {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		if err != nil {
			t.Fatal(err)
		}
		sa[k] = p
	}
	return &workflowpb.WorkflowExecutionInfo{StartTime: timestamppb.New(started), SearchAttributes: &commonpb.SearchAttributes{IndexedFields: sa}}
}

func TestInFlightCollector(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	vis := &fakeVisibility{pages: [][]*workflowpb.WorkflowExecutionInfo{
		{execution(t, "payments", "approve", now.Add(-11*time.Minute))},
		{execution(t, "orders", "warmup", now.Add(-30*time.Second))},
	}}
	c := NewInFlightCollector(vis, nil)
	c.now = func() time.Time { return now }
	m := NewMetrics(nil)
	m.Registry.MustRegister(c)
	raw, _ := scrape(t, m.HTTPHandler())
	for _, want := range []string{
		`failover_in_flight{service="payments"} 1`,
		`failover_in_flight{service="orders"} 1`,
		`failover_current_step{service="payments",step="approve"} 1`,
		`failover_current_step{service="orders",step="warmup"} 1`,
		`failover_running_seconds{service="payments"} 660`,
		`failover_in_flight_up 1`,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if vis.query != RunningQuery {
		t.Errorf("query %q", vis.query)
	}

	// Both finish: the gauges drop to 0 instead of vanishing.
	vis.pages = [][]*workflowpb.WorkflowExecutionInfo{nil}
	raw, _ = scrape(t, m.HTTPHandler())
	if !strings.Contains(raw, `failover_in_flight{service="payments"} 0`) || strings.Contains(raw, "failover_current_step{") {
		t.Errorf("after the failovers ended:\n%s", raw)
	}

	// Temporal unreachable: up 0, the scrape itself still works.
	vis.err = errors.New("connection refused")
	raw, _ = scrape(t, m.HTTPHandler())
	if !strings.Contains(raw, "failover_in_flight_up 0") || strings.Contains(raw, "failover_in_flight{") || !strings.Contains(raw, "go_goroutines") {
		t.Errorf("with visibility down:\n%s", raw)
	}
}
