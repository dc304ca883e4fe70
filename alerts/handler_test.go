package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/workflows"
)

// fakeTemporal keeps runs per workflow ID the way the server does for what the handler uses: the latest run is
// described, a signal reaches only a running run, and Signal-With-Start with USE_EXISTING joins a running run or
// starts a new one, atomically.
type fakeTemporal struct {
	mu    sync.Mutex
	runs  map[string][]*fakeRun
	calls int
	err   error // every call fails with it when set
}

type fakeRun struct {
	runID   string
	status  enumspb.WorkflowExecutionStatus
	closed  *time.Time
	outcome workflows.Outcome
	req     workflows.Request
	evac    workflows.EvacuationRequest
	opts    client.StartWorkflowOptions
	signals []workflows.Alert
	states  map[string]string // an evacuation's services' states (QueryWorkflowWithOptions)
}

func newFake() *fakeTemporal { return &fakeTemporal{runs: map[string][]*fakeRun{}} }

func (f *fakeTemporal) latest(id string) *fakeRun {
	if rs := f.runs[id]; len(rs) > 0 {
		return rs[len(rs)-1]
	}
	return nil
}

func (f *fakeTemporal) DescribeWorkflow(_ context.Context, id, _ string) (*client.WorkflowExecutionDescription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	r := f.latest(id)
	if r == nil {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + id)
	}
	sa := []temporal.SearchAttributeUpdate{workflows.FromKey.ValueSet(r.req.From)}
	if r.outcome != "" {
		sa = append(sa, workflows.OutcomeKey.ValueSet(r.outcome))
	}
	return &client.WorkflowExecutionDescription{WorkflowExecutionMetadata: client.WorkflowExecutionMetadata{
		WorkflowExecution: workflow.Execution{ID: id, RunID: r.runID}, Status: r.status, WorkflowCloseTime: r.closed,
		TypedSearchAttributes: temporal.NewSearchAttributes(sa...)}}, nil
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, id, runID, name string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return f.err
	}
	for _, r := range f.runs[id] {
		if r.runID == runID && r.status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && name == workflows.AlertSignal {
			r.signals = append(r.signals, arg.(workflows.Alert))
			return nil
		}
	}
	return serviceerror.NewNotFound("workflow execution already completed")
}

func (f *fakeTemporal) SignalWithStartWorkflow(_ context.Context, id, name string, arg any, opts client.StartWorkflowOptions,
	_ any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if opts.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING || opts.ID != id || name != workflows.AlertSignal {
		return nil, serviceerror.NewInvalidArgument(fmt.Sprintf("unexpected options %+v", opts))
	}
	r := f.latest(id)
	if r == nil || r.status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		r = &fakeRun{runID: fmt.Sprintf("run-%d", len(f.runs[id])+1), status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
			req: args[0].(workflows.Request), opts: opts}
		f.runs[id] = append(f.runs[id], r)
	}
	r.signals = append(r.signals, arg.(workflows.Alert))
	return fakeWorkflowRun{id: id, runID: r.runID}, nil
}

// ExecuteWorkflow starts a run unless one runs under the ID (WORKFLOW_ID_CONFLICT_POLICY_FAIL, as
// control.StartEvacuation asks).
func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if opts.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL || !opts.WorkflowExecutionErrorWhenAlreadyStarted {
		return nil, serviceerror.NewInvalidArgument(fmt.Sprintf("unexpected options %+v", opts))
	}
	if r := f.latest(opts.ID); r != nil && r.status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("workflow execution already started", "", r.runID)
	}
	r := &fakeRun{runID: fmt.Sprintf("run-%d", len(f.runs[opts.ID])+1), status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, opts: opts}
	if req, ok := args[0].(workflows.EvacuationRequest); ok {
		r.evac = req
	}
	f.runs[opts.ID] = append(f.runs[opts.ID], r)
	return fakeWorkflowRun{id: opts.ID, runID: r.runID}, nil
}

// QueryWorkflowWithOptions answers an evacuation's status query: its request's services, in the states set with
// setState (default waiting).
func (f *fakeTemporal) QueryWorkflowWithOptions(_ context.Context, req *client.QueryWorkflowWithOptionsRequest) (*client.QueryWorkflowWithOptionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	for _, r := range f.runs[req.WorkflowID] {
		if r.runID != req.RunID || req.QueryType != workflows.EvacuationStatusQuery {
			continue
		}
		st := workflows.EvacuationStatus{ID: req.WorkflowID, Region: r.evac.Region}
		for _, s := range r.evac.Services {
			s.State = workflows.ServiceWaiting
			if state, ok := r.states[s.Service]; ok {
				s.State = state
			}
			st.Services = append(st.Services, s)
		}
		return &client.QueryWorkflowWithOptionsResponse{QueryResult: jsonValue{st}}, nil
	}
	return nil, serviceerror.NewNotFound("no such run or query")
}

// jsonValue is a query result as the SDK hands it over.
type jsonValue struct{ v any }

func (j jsonValue) HasValue() bool { return true }

func (j jsonValue) Get(ptr any) error {
	b, err := json.Marshal(j.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

// setState sets a service's state in the latest run of an evacuation.
func (f *fakeTemporal) setState(id, service, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.latest(id)
	if r.states == nil {
		r.states = map[string]string{}
	}
	r.states[service] = state
}

// finish closes the latest run as the workflow would.
func (f *fakeTemporal) finish(id string, outcome workflows.Outcome, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.latest(id)
	r.status, r.closed, r.outcome = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, &at, outcome
}

func (f *fakeTemporal) snapshot(id string) []fakeRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRun
	for _, r := range f.runs[id] {
		out = append(out, *r)
	}
	return out
}

type fakeWorkflowRun struct {
	client.WorkflowRun
	id, runID string
}

func (r fakeWorkflowRun) GetID() string    { return r.id }
func (r fakeWorkflowRun) GetRunID() string { return r.runID }

const testToken = "s3cret-token"

type fixture struct {
	h       *Handler
	fake    *fakeTemporal
	metrics *Metrics
	now     time.Time
	// holds records the handler's holds (Options.Sleep); duringHold, when set, runs inside each.
	holds      []time.Duration
	duringHold func()
}

// sleep is the handler's Options.Sleep: it records the hold, moves the fixture's clock past it and runs
// duringHold, without waiting.
func (fx *fixture) sleep(ctx context.Context, d time.Duration) error {
	fx.holds = append(fx.holds, d)
	fx.now = fx.now.Add(d)
	if fx.duringHold != nil {
		fx.duringHold()
	}
	return ctx.Err()
}

func newFixture(t *testing.T, tc Temporal) *fixture {
	t.Helper()
	p := demoPlan(t)
	router, err := NewRouter(Route{Match: map[string]string{"service": "payments"}, Plan: p, To: ToOther})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{metrics: NewMetrics(prometheus.NewRegistry()), now: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)}
	if tc == nil {
		fx.fake = newFake()
		tc = fx.fake
	}
	fx.h, err = NewHandler(Options{Temporal: tc, Router: router, Auth: Auth{Token: testToken, User: "am", Password: "pw"},
		Metrics: fx.metrics, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Now: func() time.Time { return fx.now },
		Sleep: fx.sleep, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx *fixture) post(t *testing.T, body []byte, auth func(*http.Request)) (*httptest.ResponseRecorder, Response) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth == nil {
		auth = bearer(testToken)
	}
	auth(req)
	rec := httptest.NewRecorder()
	fx.h.ServeHTTP(rec, req)
	var resp Response
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("200 with body %q: %v", rec.Body, err)
		}
	}
	return rec, resp
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func basic(user, pass string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

func (fx *fixture) alerts(action string) float64 {
	return value(fx.metrics.Alerts.WithLabelValues(action))
}
func (fx *fixture) requests(outcome string) float64 {
	return value(fx.metrics.Requests.WithLabelValues(outcome))
}

func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// payload is the captured firing (or resolved) webhook with its alert's labels and startsAt changed.
func payload(t *testing.T, file string, startsAt time.Time, labels map[string]string) []byte {
	return edit(t, capturedBody(t, file), func(m map[string]any) {
		a := firstAlert(m)
		if !startsAt.IsZero() {
			a["startsAt"] = startsAt.Format(time.RFC3339Nano)
		}
		ls := a["labels"].(map[string]any)
		for k, v := range labels {
			if v == "" {
				delete(ls, k)
			} else {
				ls[k] = v
			}
		}
	})
}

func TestAuthFailuresStartNothing(t *testing.T) {
	fx := newFixture(t, nil)
	body := capturedBody(t, "firing.json")
	for _, tc := range []struct {
		name string
		auth func(*http.Request)
	}{
		{"no credentials", func(*http.Request) {}},
		{"wrong token", bearer("s3cret-tokeN")},
		{"token prefix", bearer("s3cret")},
		{"empty token", bearer("")},
		{"wrong basic password", basic("am", "nope")},
		{"wrong basic user", basic("root", "pw")},
		{"token sent as basic password", basic("am", testToken)},
		{"unknown scheme", func(r *http.Request) { r.Header.Set("Authorization", "Token "+testToken) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, _ := fx.post(t, body, tc.auth)
			if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%d %q, want 401 with WWW-Authenticate", rec.Code, rec.Body)
			}
		})
	}
	if fx.fake.calls != 0 {
		t.Fatalf("unauthenticated requests made %d Temporal calls", fx.fake.calls)
	}
	if got := fx.requests(OutcomeUnauthorized); got != 8 {
		t.Fatalf("unauthorized requests counted %v, want 8", got)
	}
	for _, auth := range []func(*http.Request){bearer(testToken), basic("am", "pw")} {
		if rec, _ := fx.post(t, body, auth); rec.Code != http.StatusOK {
			t.Fatalf("valid credentials: %d %s", rec.Code, rec.Body)
		}
	}
}

func TestNoCredentialsConfiguredIsRefused(t *testing.T) {
	r, _ := NewRouter(Route{Match: map[string]string{"service": "payments"}, Plan: demoPlan(t), To: ToOther})
	for _, a := range []Auth{{}, {User: "am"}, {Password: "pw"}} {
		if _, err := NewHandler(Options{Temporal: newFake(), Router: r, Auth: a}); err == nil {
			t.Errorf("auth %+v accepted", a)
		}
	}
}

func TestFiringStartsOnceThenAttaches(t *testing.T) {
	fx := newFixture(t, nil)
	startsAt := time.Date(2026, 11, 22, 4, 55, 51, 0, time.UTC)
	rec, resp := fx.post(t, capturedBody(t, "firing.json"), nil)
	if rec.Code != http.StatusOK || len(resp.Alerts) != 1 || resp.Alerts[0].Action != ActionStarted ||
		resp.Alerts[0].WorkflowID != "failover-payments" || resp.Alerts[0].RunID != "run-1" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	runs := fx.fake.snapshot("failover-payments")
	req, opts := runs[0].req, runs[0].opts
	want := workflows.Trigger{Source: "alert", By: "alertmanager", Alert: "BackendDown", Severity: "critical", FaultAt: startsAt}
	if req.Trigger != want || req.From != "us-east" || req.To != "eu-west" || req.Kind != workflows.KindFailover ||
		req.PlanHash != req.Plan.Hash() || req.Plan.Service != "payments" {
		t.Fatalf("request %+v %+v", req.Trigger, req)
	}
	if opts.TaskQueue != workflows.TaskQueue || opts.StaticSummary == "" || opts.TypedSearchAttributes.Size() != 4 {
		t.Fatalf("start options %+v", opts)
	}
	if s := runs[0].signals[0]; s.Status != Firing || s.Fingerprint != "6f5f39bfbb62f946" || s.Alertname != "BackendDown" ||
		!s.ReceivedAt.Equal(fx.now) || !s.StartsAt.Equal(startsAt) || s.GroupKey == "" || s.Labels["region"] != "us-east" {
		t.Fatalf("signal %+v", s)
	}

	for range 3 { // Alertmanager's resends, and its HA twin's
		if _, resp := fx.post(t, capturedBody(t, "firing.json"), nil); resp.Alerts[0].Action != ActionAttached || resp.Alerts[0].RunID != "run-1" {
			t.Fatalf("repeat: %+v", resp)
		}
	}
	if runs := fx.fake.snapshot("failover-payments"); len(runs) != 1 || len(runs[0].signals) != 4 {
		t.Fatalf("%d runs, %d signals; want 1 run with 4 signals", len(runs), len(runs[0].signals))
	}
	if fx.alerts(ActionStarted) != 1 || fx.alerts(ActionAttached) != 3 || fx.requests(OutcomeOK) != 4 {
		t.Fatalf("metrics started %v attached %v ok %v", fx.alerts(ActionStarted), fx.alerts(ActionAttached), fx.requests(OutcomeOK))
	}
}

func TestConcurrentDuplicatesStartOneRun(t *testing.T) {
	fx := newFixture(t, nil)
	body := capturedBody(t, "firing.json")
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", bytes.NewReader(body))
			bearer(testToken)(req)
			rec := httptest.NewRecorder()
			fx.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	runs := fx.fake.snapshot("failover-payments")
	if len(runs) != 1 || len(runs[0].signals) != 200 {
		t.Fatalf("%d runs; want 1 with 200 signals", len(runs))
	}
	if fx.alerts(ActionStarted) != 1 || fx.alerts(ActionAttached) != 199 {
		t.Fatalf("started %v attached %v", fx.alerts(ActionStarted), fx.alerts(ActionAttached))
	}
}

func TestResolvedNeverStarts(t *testing.T) {
	fx := newFixture(t, nil)
	resolved := capturedBody(t, "resolved.json")
	if _, resp := fx.post(t, resolved, nil); resp.Alerts[0].Action != ActionIgnored {
		t.Fatalf("resolved with nothing running: %+v", resp)
	}
	if len(fx.fake.snapshot("failover-payments")) != 0 {
		t.Fatal("a resolved alert started a failover")
	}

	fx.post(t, capturedBody(t, "firing.json"), nil)
	// A resolution about the other region is not this failover's source recovering.
	other := payload(t, "resolved.json", time.Time{}, map[string]string{"region": "eu-west"})
	if _, resp := fx.post(t, other, nil); resp.Alerts[0].Action != ActionIgnored || !strings.Contains(resp.Alerts[0].Reason, "away from us-east") {
		t.Fatalf("resolved eu-west during a failover away from us-east: %+v", resp)
	}
	if _, resp := fx.post(t, resolved, nil); resp.Alerts[0].Action != ActionAttached {
		t.Fatalf("resolved us-east: %+v", resp)
	}
	runs := fx.fake.snapshot("failover-payments")
	if n := len(runs[0].signals); n != 2 || runs[0].signals[1].Status != Resolved {
		t.Fatalf("signals %+v", runs[0].signals)
	}

	fx.fake.finish("failover-payments", workflows.SourceRecovered, fx.now)
	if _, resp := fx.post(t, resolved, nil); resp.Alerts[0].Action != ActionIgnored || len(fx.fake.snapshot("failover-payments")) != 1 {
		t.Fatalf("resolved after the failover closed: %+v", resp)
	}
}

func TestAfterAFailoverClosed(t *testing.T) {
	startsAt := time.Date(2026, 11, 22, 4, 55, 51, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		outcome      workflows.Outcome
		closedAgo    time.Duration
		newStartsAt  time.Time
		action       string
		needApproval bool
	}{
		{"repeat of the alert it handled", workflows.Succeeded, time.Minute, startsAt, ActionIgnored, false},
		{"repeat after a rejection", workflows.Rejected, time.Minute, startsAt, ActionIgnored, false},
		{"new alert inside the cooldown", workflows.Succeeded, time.Minute, time.Time{}, ActionStarted, true},
		{"new alert after the cooldown", workflows.Succeeded, 10 * time.Minute, time.Time{}, ActionStarted, false},
		{"new alert after a failover that did nothing", workflows.NotNeeded, time.Minute, time.Time{}, ActionStarted, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, nil) // the demo plan's cooldown is 5m
			fx.post(t, capturedBody(t, "firing.json"), nil)
			closed := fx.now.Add(-tc.closedAgo)
			fx.fake.finish("failover-payments", tc.outcome, closed)
			next := tc.newStartsAt
			if next.IsZero() {
				next = closed.Add(time.Second) // the alert fired again after the failover ended
			}
			_, resp := fx.post(t, payload(t, "firing.json", next, nil), nil)
			if got := resp.Alerts[0]; got.Action != tc.action {
				t.Fatalf("action %s (%s), want %s", got.Action, got.Reason, tc.action)
			}
			runs := fx.fake.snapshot("failover-payments")
			if tc.action == ActionIgnored {
				if len(runs) != 1 {
					t.Fatalf("%d runs", len(runs))
				}
				return
			}
			trig := runs[1].req.Trigger
			if trig.RequireApproval != tc.needApproval || (tc.needApproval && !strings.Contains(trig.RequireReason, "within the 5m0s cooldown after failover-payments run run-1")) {
				t.Fatalf("trigger %+v", trig)
			}
		})
	}
}

// TestBadInput covers notifications that cannot be read as a whole; a bad alert inside a readable notification
// is rejected on its own (TestOneBadAlertDoesNotCostItsGroup).
func TestBadInput(t *testing.T) {
	fx := newFixture(t, nil)
	firing := capturedBody(t, "firing.json")
	for _, tc := range []struct {
		name   string
		body   []byte
		code   int
		reason string
	}{
		{"malformed JSON", []byte(`{"version":"4","alerts":[`), http.StatusBadRequest, "malformed JSON"},
		{"unsupported version", edit(t, firing, func(m map[string]any) { m["version"] = "5" }), http.StatusBadRequest, `version "5": unsupported`},
		{"oversized", bytes.Repeat([]byte(" "), DefaultMaxBody+1), http.StatusRequestEntityTooLarge, "the limit is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, _ := fx.post(t, tc.body, nil)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.reason) {
				t.Fatalf("%d %q, want %d saying %q", rec.Code, rec.Body, tc.code, tc.reason)
			}
		})
	}
	// A body without Content-Length (chunked) is cut at the limit too.
	req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", io.MultiReader(bytes.NewReader(firing), endless{}))
	req.ContentLength = -1
	bearer(testToken)(req)
	rec := httptest.NewRecorder()
	fx.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("endless chunked body: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	get := httptest.NewRequest(http.MethodGet, "/webhooks/alertmanager", nil)
	bearer(testToken)(get)
	if fx.h.ServeHTTP(rec, get); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", rec.Code)
	}
	if fx.fake.calls != 0 {
		t.Fatalf("bad input made %d Temporal calls", fx.fake.calls)
	}
	if fx.requests(OutcomeBadRequest) != 2 || fx.requests(OutcomeTooLarge) != 2 {
		t.Fatalf("bad_request %v too_large %v", fx.requests(OutcomeBadRequest), fx.requests(OutcomeTooLarge))
	}
}

func TestUnmatchedAndInapplicableAlertsAre2xx(t *testing.T) {
	fx := newFixture(t, nil)
	other := payload(t, "firing.json", time.Time{}, map[string]string{"service": "ledger"})
	rec, resp := fx.post(t, other, nil)
	if rec.Code != http.StatusOK || resp.Alerts[0].Action != ActionUnmatched {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	elsewhere := payload(t, "firing.json", time.Time{}, map[string]string{"region": "ap-south"})
	if rec, resp := fx.post(t, elsewhere, nil); rec.Code != http.StatusOK || resp.Alerts[0].Action != ActionIgnored {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if fx.fake.calls != 0 || fx.alerts(ActionUnmatched) != 1 || fx.alerts(ActionIgnored) != 1 {
		t.Fatalf("calls %d unmatched %v ignored %v", fx.fake.calls, fx.alerts(ActionUnmatched), fx.alerts(ActionIgnored))
	}
}

func TestTemporalErrorsAre503(t *testing.T) {
	fx := newFixture(t, nil)
	fx.fake.err = serviceerror.NewUnavailable("connection refused")
	for _, file := range []string{"firing.json", "resolved.json"} {
		if rec, _ := fx.post(t, capturedBody(t, file), nil); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "retry") {
			t.Fatalf("%s: %d %s", file, rec.Code, rec.Body)
		}
	}
	// Once Temporal is back, the retry starts the failover: nothing was lost.
	fx.fake.err = nil
	if _, resp := fx.post(t, capturedBody(t, "firing.json"), nil); resp.Alerts[0].Action != ActionStarted {
		t.Fatalf("retry: %+v", resp)
	}
	if fx.requests(OutcomeUnavailable) != 2 {
		t.Fatalf("unavailable %v", fx.requests(OutcomeUnavailable))
	}
}

// TestTemporalDownIs503 uses a real SDK client pointed at a port nothing listens on.
func TestTemporalDownIs503(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tc, err := client.NewLazyClient(client.Options{HostPort: addr, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	fx := newFixture(t, tc)
	t0 := time.Now()
	rec, _ := fx.post(t, capturedBody(t, "firing.json"), nil)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	t.Logf("503 after %v: %s", time.Since(t0).Round(time.Millisecond), strings.TrimSpace(rec.Body.String()))
}

// group is the captured firing webhook carrying one alert per edit: each a copy of the captured alert (fingerprint
// removed, so Decode computes it from the labels) changed by its edit, as Alertmanager groups several alerts.
func group(t *testing.T, edits ...func(a map[string]any)) []byte {
	t.Helper()
	return edit(t, capturedBody(t, "firing.json"), func(m map[string]any) {
		captured, err := json.Marshal(firstAlert(m))
		if err != nil {
			t.Fatal(err)
		}
		var as []any
		for _, e := range edits {
			var a map[string]any
			if err := json.Unmarshal(captured, &a); err != nil {
				t.Fatal(err)
			}
			delete(a, "fingerprint")
			e(a)
			as = append(as, a)
		}
		m["alerts"] = as
	})
}

func setLabel(k, v string) func(a map[string]any) {
	return func(a map[string]any) {
		ls := a["labels"].(map[string]any)
		if v == "" {
			delete(ls, k)
		} else {
			ls[k] = v
		}
	}
}

// TestOneBadAlertDoesNotCostItsGroup: Alertmanager drops a notification answered 4xx and never retries it, so an
// alert the orchestrator cannot act on is rejected on its own and the valid alerts of its group still count.
func TestOneBadAlertDoesNotCostItsGroup(t *testing.T) {
	fx := newFixture(t, nil)
	body := group(t,
		func(map[string]any) {}, // the captured alert: payments down in us-east
		setLabel("region", ""),  // to: other cannot pick a target without it
		func(a map[string]any) { a["status"] = "pending" },
		func(a map[string]any) { delete(a, "startsAt") },
		setLabel("alertname", ""),
		func(a map[string]any) { a["labels"] = "alertname=BackendDown" },
		func(a map[string]any) { a["startsAt"] = "yesterday" },
	)
	rec, resp := fx.post(t, body, nil)
	if rec.Code != http.StatusOK || len(resp.Alerts) != 7 {
		t.Fatalf("%d %s, want 200 with 7 results", rec.Code, rec.Body)
	}
	if got := resp.Alerts[0]; got.Action != ActionStarted || got.RunID != "run-1" {
		t.Fatalf("the valid alert: %+v", got)
	}
	for i, want := range [][]string{
		1: {`alerts[1]: missing label`, `"region" label`},
		2: {`alerts[2]: status "pending"`, "want firing or resolved"},
		3: {"alerts[3]: startsAt: missing"},
		4: {"alerts[4]: labels.alertname: missing"},
		5: {"alerts[5]", "labels"},
		6: {"alerts[6]", "yesterday"},
	} {
		got := resp.Alerts[i]
		if i == 0 {
			continue
		}
		if got.Action != ActionRejected || got.RunID != "" {
			t.Errorf("alerts[%d]: %+v, want rejected", i, got)
		}
		for _, w := range want {
			if !strings.Contains(got.Reason, w) {
				t.Errorf("alerts[%d]: reason %q, want it to say %q", i, got.Reason, w)
			}
		}
	}
	// The rejection names the fix, not only the problem.
	if r := resp.Alerts[1].Reason; !strings.Contains(r, "add") || !strings.Contains(r, "alert rule") {
		t.Errorf("missing region: reason %q does not say how to fix it", r)
	}
	runs := fx.fake.snapshot("failover-payments")
	if len(runs) != 1 || len(runs[0].signals) != 1 || runs[0].signals[0].Labels["region"] != "us-east" {
		t.Fatalf("runs %+v, want one run signalled with the valid alert only", runs)
	}
	if fx.alerts(ActionRejected) != 6 || fx.alerts(ActionStarted) != 1 || fx.requests(OutcomeOK) != 1 || fx.requests(OutcomeBadRequest) != 0 {
		t.Fatalf("metrics rejected %v started %v ok %v bad_request %v", fx.alerts(ActionRejected), fx.alerts(ActionStarted),
			fx.requests(OutcomeOK), fx.requests(OutcomeBadRequest))
	}
}

// TestAlertsAllRejectedAre200: a retry cannot fix an alert as sent, and a 4xx would not be retried anyway: the
// answer says per alert what is wrong, and nothing reaches Temporal.
func TestAlertsAllRejectedAre200(t *testing.T) {
	fx := newFixture(t, nil)
	rec, resp := fx.post(t, payload(t, "firing.json", time.Time{}, map[string]string{"region": ""}), nil)
	if rec.Code != http.StatusOK || len(resp.Alerts) != 1 || resp.Alerts[0].Action != ActionRejected ||
		resp.Alerts[0].Fingerprint == "" || resp.Alerts[0].Alertname != "BackendDown" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if fx.fake.calls != 0 || fx.alerts(ActionRejected) != 1 {
		t.Fatalf("calls %d rejected %v", fx.fake.calls, fx.alerts(ActionRejected))
	}
}

// TestAlertAboutAnotherRegion: during a failover away from us-east, an alert about eu-west (the failover's target)
// is evidence, not a repeat of what the failover handles; once the failover closed, that alert is not "already
// handled": the failover moved traffic to eu-west, it did not handle eu-west's outage.
func TestAlertAboutAnotherRegion(t *testing.T) {
	startsAt := time.Date(2026, 11, 22, 4, 55, 51, 0, time.UTC)
	euWest := edit(t, payload(t, "firing.json", startsAt.Add(10*time.Second), map[string]string{"region": "eu-west"}),
		func(m map[string]any) { delete(firstAlert(m), "fingerprint") }) // another alert: its own fingerprint
	for _, tc := range []struct {
		name         string
		closedAgo    time.Duration
		needApproval bool
	}{
		{"inside the cooldown", time.Minute, true},
		{"after the cooldown", 10 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, nil) // the demo plan's cooldown is 5m
			if _, resp := fx.post(t, capturedBody(t, "firing.json"), nil); resp.Alerts[0].Action != ActionStarted {
				t.Fatalf("us-east: %+v", resp)
			}
			_, resp := fx.post(t, euWest, nil)
			if got := resp.Alerts[0]; got.Action != ActionAttached || got.RunID != "run-1" ||
				!strings.Contains(got.Reason, "about eu-west") || !strings.Contains(got.Reason, "away from us-east") ||
				!strings.Contains(got.Reason, "evidence only") {
				t.Errorf("eu-west during the failover away from us-east: %+v", got)
			}
			if s := fx.fake.snapshot("failover-payments")[0].signals; len(s) != 2 || s[1].Labels["region"] != "eu-west" {
				t.Fatalf("signals %+v, want the eu-west alert recorded on run-1", s)
			}

			fx.fake.finish("failover-payments", workflows.Succeeded, fx.now) // after both alerts began
			fx.now = fx.now.Add(tc.closedAgo)
			// The us-east alert's repeat is what run-1 handled.
			if _, resp := fx.post(t, capturedBody(t, "firing.json"), nil); resp.Alerts[0].Action != ActionIgnored ||
				!strings.Contains(resp.Alerts[0].Reason, "already handled") {
				t.Fatalf("us-east repeat after run-1 closed: %+v", resp)
			}
			// The eu-west alert's repeat began before run-1 closed, but run-1 did not handle it.
			_, resp = fx.post(t, euWest, nil)
			if got := resp.Alerts[0]; got.Action != ActionStarted || got.RunID != "run-2" {
				t.Fatalf("eu-west repeat after run-1 closed: %+v, want a new failover", got)
			}
			runs := fx.fake.snapshot("failover-payments")
			if len(runs) != 2 || runs[1].req.From != "eu-west" || runs[1].req.To != "us-east" {
				t.Fatalf("%d runs, the new one %s→%s", len(runs), runs[len(runs)-1].req.From, runs[len(runs)-1].req.To)
			}
			if trig := runs[1].req.Trigger; trig.RequireApproval != tc.needApproval {
				t.Fatalf("trigger %+v, want RequireApproval %v", trig, tc.needApproval)
			}
		})
	}
}
