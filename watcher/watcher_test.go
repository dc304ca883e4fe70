package watcher

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/alerts"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/probe"
	"github.com/failover/failover/testsuite/etcdserver"
	"github.com/failover/failover/workflows"
)

// region is a health endpoint whose answers the test sets: healthy, 503, or no answer for one observer's probes.
type region struct {
	srv    *httptest.Server
	status atomic.Int64
	drop   atomic.Value // observer name whose probes get no answer
}

func newRegion(t *testing.T) *region {
	r := &region{}
	r.status.Store(http.StatusOK)
	r.drop.Store("")
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if d := r.drop.Load().(string); d != "" && req.Header.Get(probe.ObserverHeader) == d {
			<-req.Context().Done() // a dropped probe: no answer until the prober gives up
			return
		}
		w.WriteHeader(int(r.status.Load()))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// firer records what the watchers deliver (the Temporal path is proven end to end in testsuite/devstack).
type firer struct {
	mu       sync.Mutex
	targets  []alerts.Target
	fired    []workflows.Trigger
	sigs     []workflows.Alert
	resolved []workflows.Alert
}

func (f *firer) Fire(_ context.Context, t alerts.Target, sig workflows.Alert, tr workflows.Trigger) (alerts.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.From != sig.Labels[workflows.RegionLabel] || t.To == t.From {
		return alerts.Result{}, fmt.Errorf("target %s → %s for an alert about %s", t.From, t.To, sig.Labels[workflows.RegionLabel])
	}
	f.fired, f.sigs, f.targets = append(f.fired, tr), append(f.sigs, sig), append(f.targets, t)
	return alerts.Result{Action: alerts.ActionStarted, WorkflowID: workflows.WorkflowID(t.Plan.Service)}, nil
}

func (f *firer) Resolve(_ context.Context, _ alerts.Target, sig workflows.Alert) (alerts.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolved = append(f.resolved, sig)
	return alerts.Result{Action: alerts.ActionAttached}, nil
}

func (f *firer) counts() (fired, resolved int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.fired), len(f.resolved)
}

// fixture is three watchers (a, b, c) sharing an embedded etcd, watching two regions of one plan.
type fixture struct {
	east, west *region
	watchers   map[string]*Watcher
	metrics    map[string]*Metrics
	firer      *firer
	plan       plan.Plan
}

func testPlan(east, west string) plan.Plan {
	p := plan.Plan{Service: "payments", Regions: map[string]plan.Region{
		"us-east": {HealthURL: east}, "eu-west": {HealthURL: west}},
		Watch: &plan.Watch{Interval: 40 * time.Millisecond, Failures: 5, Window: time.Second, FlapLimit: 3, FlapWindow: 5 * time.Second,
			Quorum: plan.Quorum{Observers: 2}}}
	p.SetDefaults()
	return p
}

func start(t *testing.T) *fixture {
	t.Helper()
	etcd, err := etcdserver.Start(etcdserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Stop)
	f := &fixture{east: newRegion(t), west: newRegion(t), watchers: map[string]*Watcher{}, metrics: map[string]*Metrics{}, firer: &firer{}}
	f.plan = testPlan(f.east.srv.URL, f.west.srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, name := range []string{"a", "b", "c"} {
		cli, err := etcd.NewClient()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		board, err := NewBoard(cli, "", name, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		m := NewMetrics(nil)
		w, err := New(Options{Observer: name, Plans: []plan.Plan{f.plan}, Firer: f.firer, Board: board, Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		f.watchers[name], f.metrics[name] = w, m
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(ctx) }()
	}
	f.waitAll(t, "every region up", func(h Health) bool { return verdictOf(h, "us-east") == Up && verdictOf(h, "eu-west") == Up })
	return f
}

func verdictOf(h Health, region string) Verdict {
	for _, r := range h.Regions {
		if r.Region == region {
			return r.Verdict
		}
	}
	return ""
}

func (f *fixture) waitAll(t *testing.T, what string, cond func(Health) bool) {
	t.Helper()
	for _, w := range f.watchers {
		waitFor(t, what, func() bool { return cond(w.Health()) })
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// probes is how many probe results watcher name has taken for region.
func (f *fixture) probes(name, region string) float64 {
	m := f.metrics[name]
	return testutil.ToFloat64(m.Probes.WithLabelValues("payments", region, "healthy")) +
		testutil.ToFloat64(m.Probes.WithLabelValues("payments", region, "failed"))
}

// A real outage: every watcher sees it, the quorum in etcd agrees, and each watcher requests the failover once
// (Temporal's Signal-With-Start makes them one run), with the outage's start as the fault time and the evidence.
// When the region is back they resolve it.
func TestWatchersFailOverARegionTheQuorumSeesDown(t *testing.T) {
	f := start(t)
	f.east.status.Store(http.StatusServiceUnavailable)
	waitFor(t, "three failover requests", func() bool { n, _ := f.firer.counts(); return n == 3 })
	f.firer.mu.Lock()
	for i, tr := range f.firer.fired {
		sig := f.firer.sigs[i]
		if tr.Source != workflows.TriggerWatcher || tr.FaultAt.IsZero() || !strings.Contains(tr.Quorum, "watchers record us-east down (need 2)") || !strings.Contains(sig.Labels["evidence"], "watchers record us-east down") ||
			sig.Labels[workflows.RegionLabel] != "us-east" {
			t.Errorf("request %d: trigger %+v, labels %v", i, tr, sig.Labels)
		}
	}
	f.firer.mu.Unlock()
	f.waitAll(t, "us-east down", func(h Health) bool { return verdictOf(h, "us-east") == Down })
	if got := testutil.ToFloat64(f.metrics["a"].Verdict.WithLabelValues("payments", "us-east", "down")); got != 1 {
		t.Fatalf("failover_watcher_region_verdict{verdict=down} = %g, want 1", got)
	}
	// While the outage lasts no watcher asks again.
	before := f.probes("a", "us-east")
	waitFor(t, "20 more probes", func() bool { return f.probes("a", "us-east") >= before+20 })
	if n, _ := f.firer.counts(); n != 3 {
		t.Fatalf("%d failover requests during one outage, want 3 (one per watcher)", n)
	}
	for name, m := range f.metrics {
		if got := testutil.ToFloat64(m.Disagreements.WithLabelValues("payments", "us-east")); got != 0 {
			t.Fatalf("watcher %s reported %g disagreements in a real outage all of them saw", name, got)
		}
	}
	f.east.status.Store(http.StatusOK)
	waitFor(t, "three resolves", func() bool { _, n := f.firer.counts(); return n == 3 })
}

// The partition drill in small: only watcher a's probes of us-east get no answer. a sees us-east down, b and c
// see it up: a reports "observer disagrees" and nothing starts.
func TestObserverCutOffFromARegionStartsNothing(t *testing.T) {
	f := start(t)
	f.east.drop.Store("a")
	waitFor(t, "a disagreeing", func() bool {
		return testutil.ToFloat64(f.metrics["a"].Disagreements.WithLabelValues("payments", "us-east")) == 1
	})
	if v := verdictOf(f.watchers["a"].Health(), "us-east"); v != Down {
		t.Fatalf("watcher a's verdict on us-east: %s, want down", v)
	}
	before := f.probes("a", "us-east")
	waitFor(t, "10 more probes", func() bool { return f.probes("a", "us-east") >= before+10 })
	if n, _ := f.firer.counts(); n != 0 {
		t.Fatalf("%d failover requests from a watcher the others contradict, want 0", n)
	}
	for _, name := range []string{"b", "c"} {
		if v := verdictOf(f.watchers[name].Health(), "us-east"); v != Up {
			t.Fatalf("watcher %s's verdict on us-east: %s, want up", name, v)
		}
	}
}

// A watcher whose probes of every region fail is cut off itself: it declares itself partitioned and starts
// nothing, even though the other watchers (cut off too, here) would agree.
func TestWatcherSeeingMostRegionsDownIsPartitioned(t *testing.T) {
	f := start(t)
	f.east.status.Store(http.StatusServiceUnavailable)
	f.west.status.Store(http.StatusServiceUnavailable)
	f.waitAll(t, "partitioned", func(h Health) bool {
		return h.Partitioned != "" && verdictOf(h, "us-east") == Down && verdictOf(h, "eu-west") == Down
	})
	if n, _ := f.firer.counts(); n != 0 {
		t.Fatalf("%d failover requests from partitioned watchers, want 0", n)
	}
	if got := testutil.ToFloat64(f.metrics["a"].Partitioned); got != 1 {
		t.Fatalf("failover_watcher_partitioned = %g, want 1", got)
	}
	if s := f.watchers["a"].Health().String(); !strings.Contains(s, "partitioned (probes of 2 of 2 regions fail at once)") {
		t.Fatalf("health: %s", s)
	}
}

// The flap drill compressed: outages one probe shorter than watch.failures, repeatedly. Nothing starts; the region
// is reported flapping.
func TestFlappingRegionIsReportedNotFailedOver(t *testing.T) {
	f := start(t)
	wt := f.plan.Watch
	blip := time.Duration(wt.Failures-2) * wt.Interval
	for i := 0; i < 4; i++ {
		f.east.status.Store(http.StatusServiceUnavailable)
		time.Sleep(blip) // the drill's fault shape, not synchronisation
		f.east.status.Store(http.StatusOK)
		time.Sleep(3 * blip)
	}
	f.waitAll(t, "us-east flapping", func(h Health) bool {
		for _, r := range h.Regions {
			if r.Region == "us-east" {
				return r.Flapping
			}
		}
		return false
	})
	if n, _ := f.firer.counts(); n != 0 {
		t.Fatalf("%d failover requests for a flapping region, want 0", n)
	}
	if got := testutil.ToFloat64(f.metrics["a"].Flapping.WithLabelValues("payments", "us-east")); got != 1 {
		t.Fatalf("failover_watcher_region_flapping = %g, want 1", got)
	}
}

// A watcher that cannot reach etcd is cut off: partitioned, starting nothing, even with a region down.
func TestWatcherWithoutEtcdIsPartitioned(t *testing.T) {
	east, west := newRegion(t), newRegion(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:1"}, DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	board, err := NewBoard(cli, "", "a", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f := &firer{}
	m := NewMetrics(nil)
	w := runWatcher(t, Options{Observer: "a", Plans: []plan.Plan{testPlan(east.srv.URL, west.srv.URL)}, Firer: f, Board: board, Metrics: m})
	east.status.Store(http.StatusServiceUnavailable)
	waitFor(t, "us-east down and the watcher partitioned", func() bool {
		h := w.Health()
		return verdictOf(h, "us-east") == Down && strings.Contains(h.Partitioned, "etcd")
	})
	probes := testutil.ToFloat64(m.Probes.WithLabelValues("payments", "us-east", "failed"))
	waitFor(t, "10 more probes", func() bool {
		return testutil.ToFloat64(m.Probes.WithLabelValues("payments", "us-east", "failed")) >= probes+10
	})
	if n, _ := f.counts(); n != 0 {
		t.Fatalf("%d failover requests from a watcher cut off from etcd", n)
	}
}

// evacuations records the region-wide failures; with evacuates set it evacuates every region (so the watcher holds
// per-service starts), and records how many failovers had been requested from f when each evacuation was.
type evacuations struct {
	evacuates bool
	f         *firer
	mu        sync.Mutex
	calls     []string
	downs     []RegionDown
	firedThen []int
}

func (e *evacuations) Evacuates(string) bool { return e.evacuates }

func (e *evacuations) Evacuate(_ context.Context, d RegionDown, done func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, d.Region+":"+strings.Join(d.Services, ","))
	e.downs = append(e.downs, d)
	if e.f != nil {
		n, _ := e.f.counts()
		e.firedThen = append(e.firedThen, n)
	}
	done()
}

func (e *evacuations) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.calls...)
}

// Every watched service of a region down, each confirmed by its quorum, is a region-wide failure: the evacuation
// seam hears of it once, with each service's verdict as evidence, while each service's failover proceeds as before.
func TestRegionWideFailureCallsTheEvacuationOnce(t *testing.T) {
	w, f, ev := usEastDown(t, alwaysDown{})
	waitFor(t, "both failovers requested", func() bool { n, _ := f.counts(); return n == 2 })
	waitFor(t, "the evacuation", func() bool { return len(ev.list()) > 0 })
	probes := testutil.ToFloat64(w.o.Metrics.Probes.WithLabelValues("payments", "us-east", "failed"))
	waitFor(t, "5 more probes", func() bool {
		return testutil.ToFloat64(w.o.Metrics.Probes.WithLabelValues("payments", "us-east", "failed")) >= probes+5
	})
	if got := ev.list(); !slices.Equal(got, []string{"us-east:orders,payments"}) {
		t.Fatalf("evacuations %v, want one of us-east with both services", got)
	}
	ev.mu.Lock()
	d := ev.downs[0]
	ev.mu.Unlock()
	if len(d.Evidence) != 2 || d.Observer != "a" || d.Since.IsZero() || d.Evidence[0].Labels["service"] != "orders" ||
		!strings.Contains(d.Evidence[0].Labels["evidence"], "confirmed") {
		t.Fatalf("region down %+v: want each service's verdict with its quorum's evidence", d)
	}
}

// A region whose services are all down by this watcher's probes, but whose quorum does not confirm it, is not a
// region-wide failure: nothing is evacuated.
func TestUnconfirmedRegionWideFailureEvacuatesNothing(t *testing.T) {
	w, f, ev := usEastDown(t, neverDown{})
	waitFor(t, "both disagreements", func() bool {
		return testutil.ToFloat64(w.o.Metrics.Disagreements.WithLabelValues("payments", "us-east")) == 1 &&
			testutil.ToFloat64(w.o.Metrics.Disagreements.WithLabelValues("orders", "us-east")) == 1
	})
	probes := testutil.ToFloat64(w.o.Metrics.Probes.WithLabelValues("payments", "us-east", "failed"))
	waitFor(t, "5 more probes", func() bool {
		return testutil.ToFloat64(w.o.Metrics.Probes.WithLabelValues("payments", "us-east", "failed")) >= probes+5
	})
	if got := ev.list(); len(got) != 0 {
		t.Fatalf("evacuations %v without the quorum's confirmation", got)
	}
	if n, _ := f.counts(); n != 0 {
		t.Fatalf("%d failovers requested without the quorum's confirmation", n)
	}
}

// usEastDown watches payments and orders, both quorums a Prometheus query answered by queries, and takes both
// services' us-east down once every region is up.
func usEastDown(t *testing.T, queries QueryEvaluator) (*Watcher, *firer, *evacuations) {
	paymentsEast, paymentsWest, ordersEast, ordersWest := newRegion(t), newRegion(t), newRegion(t), newRegion(t)
	payments := testPlan(paymentsEast.srv.URL, paymentsWest.srv.URL)
	orders := testPlan(ordersEast.srv.URL, ordersWest.srv.URL)
	orders.Service = "orders"
	for _, p := range []*plan.Plan{&payments, &orders} {
		p.Watch.Quorum = plan.Quorum{Query: &plan.Query{Expr: "vector(1)", Condition: "> 0"}}
	}
	ev := &evacuations{}
	f := &firer{}
	w := runWatcher(t, Options{Observer: "a", Plans: []plan.Plan{payments, orders}, Firer: f, Evacuator: ev, Queries: queries})
	waitFor(t, "every region up", func() bool {
		return !slices.ContainsFunc(w.Health().Regions, func(r RegionStatus) bool { return r.Verdict != Up })
	})
	paymentsEast.status.Store(http.StatusServiceUnavailable)
	ordersEast.status.Store(http.StatusServiceUnavailable)
	return w, f, ev
}

// neverDown is a Prometheus that contradicts every outage.
type neverDown struct{}

func (neverDown) EvaluateQuery(context.Context, activities.QueryInput) (activities.CheckResult, error) {
	return activities.CheckResult{Verdict: activities.Fail, Detail: "serving"}, nil
}

// alwaysDown is a Prometheus that confirms every outage (the query path itself is activities.EvaluateQuery's).
type alwaysDown struct{}

func (alwaysDown) EvaluateQuery(context.Context, activities.QueryInput) (activities.CheckResult, error) {
	return activities.CheckResult{Verdict: activities.Pass, Detail: "confirmed"}, nil
}

// runWatcher runs a watcher until the test ends.
func runWatcher(t *testing.T, o Options) *Watcher {
	t.Helper()
	w, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}
