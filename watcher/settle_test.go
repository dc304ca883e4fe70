package watcher

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/failover/failover/plan"
)

// heldRegion watches payments and orders in us-east and eu-west, both quorums confirmed by Prometheus, with an
// evacuator that evacuates every region and the given settle window; every region is up when it returns.
func heldRegion(t *testing.T, settle time.Duration) (w *Watcher, f *firer, ev *evacuations, paymentsEast, ordersEast *region) {
	paymentsEast, paymentsWest, ordersEast, ordersWest := newRegion(t), newRegion(t), newRegion(t), newRegion(t)
	payments := testPlan(paymentsEast.srv.URL, paymentsWest.srv.URL)
	orders := testPlan(ordersEast.srv.URL, ordersWest.srv.URL)
	orders.Service = "orders"
	for _, p := range []*plan.Plan{&payments, &orders} {
		p.Watch.Quorum = plan.Quorum{Query: &plan.Query{Expr: "vector(1)", Condition: "> 0"}}
	}
	f = &firer{}
	ev = &evacuations{evacuates: true, f: f}
	w = runWatcher(t, Options{Observer: "a", Plans: []plan.Plan{payments, orders}, Firer: f, Evacuator: ev, Queries: alwaysDown{},
		Settle: settle})
	waitFor(t, "every region up", func() bool {
		return !slices.ContainsFunc(w.Health().Regions, func(r RegionStatus) bool { return r.Verdict != Up })
	})
	return w, f, ev, paymentsEast, ordersEast
}

func (w *Watcher) failedProbes(service string) float64 {
	return testutil.ToFloat64(w.o.Metrics.Probes.WithLabelValues(service, "us-east", "failed"))
}

// In a region with an evacuation, a service confirmed down waits for the rest of its region: nothing starts while
// it is held; when the rest of the region goes down within the window, the evacuation is requested before any
// service's own failover, and the held starts go ahead only once the evacuation's start settled (the front door
// then answers them covered; TestWatcherEvacuationOwnsItsServices proves that on the real stack).
func TestRegionWideFailureHoldsTheServicesForTheEvacuation(t *testing.T) {
	w, f, ev, paymentsEast, ordersEast := heldRegion(t, time.Hour)
	paymentsEast.status.Store(http.StatusServiceUnavailable)
	waitFor(t, "payments down in us-east", func() bool { return verdictOf(w.Health(), "us-east") == Down })
	before := w.failedProbes("payments")
	waitFor(t, "10 more probes of payments", func() bool { return w.failedProbes("payments") >= before+10 })
	if n, _ := f.counts(); n != 0 {
		t.Fatalf("%d failovers requested within the settle window, want 0 (held)", n)
	}
	ordersEast.status.Store(http.StatusServiceUnavailable)
	waitFor(t, "the evacuation and both held starts", func() bool { n, _ := f.counts(); return n == 2 && len(ev.list()) == 1 })
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.calls[0] != "us-east:orders,payments" || ev.firedThen[0] != 0 {
		t.Fatalf("evacuation %v requested after %d failovers, want us-east's before any", ev.calls, ev.firedThen[0])
	}
}

// One service of a region with an evacuation down alone: its own failover starts once the settle window has
// passed, and nothing is evacuated.
func TestServiceDownAloneStartsAfterTheSettleWindow(t *testing.T) {
	w, f, ev, paymentsEast, _ := heldRegion(t, 200*time.Millisecond)
	paymentsEast.status.Store(http.StatusServiceUnavailable)
	waitFor(t, "payments' failover", func() bool { n, _ := f.counts(); return n == 1 })
	before := w.failedProbes("payments")
	waitFor(t, "5 more probes of payments", func() bool { return w.failedProbes("payments") >= before+5 })
	if n, _ := f.counts(); n != 1 || len(ev.list()) != 0 {
		t.Fatalf("%d failovers and evacuations %v, want payments' own failover alone", n, ev.list())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.targets[0].Plan.Service != "payments" || f.targets[0].From != "us-east" {
		t.Fatalf("failover %+v, want payments away from us-east", f.targets[0])
	}
}

// The default window: half the longest detection time, at least two intervals; only regions with two or more
// watched services that the evacuator evacuates are held, and a negative Settle holds none.
func TestSettleWindows(t *testing.T) {
	fast := plan.Watch{Interval: 200 * time.Millisecond, Failures: 6}
	if got := defaultSettle([]plan.Watch{fast, {Interval: 100 * time.Millisecond, Failures: 2}}); got != 600*time.Millisecond {
		t.Fatalf("default settle %v, want 600ms (6 × 200ms / 2)", got)
	}
	if got := defaultSettle([]plan.Watch{{Interval: time.Second, Failures: 3}}); got != 2*time.Second {
		t.Fatalf("default settle %v, want 2s (two intervals)", got)
	}
	p := func(service, region string) *watched {
		return &watched{target: target{plan: plan.Plan{Service: service, Watch: &fast}, region: region}}
	}
	regions := []*watched{p("a", "us-east"), p("b", "us-east"), p("a", "eu-west")}
	if got := settleWindows(regions, &evacuations{evacuates: true}, 0); len(got) != 1 || got["us-east"] != 600*time.Millisecond {
		t.Fatalf("windows %v, want us-east only (eu-west has one service)", got)
	}
	if got := settleWindows(regions, &evacuations{evacuates: true}, time.Second); got["us-east"] != time.Second {
		t.Fatalf("windows %v, want the configured 1s", got)
	}
	if got := settleWindows(regions, &evacuations{evacuates: true}, -1); len(got) != 0 {
		t.Fatalf("windows %v with a negative settle, want none", got)
	}
	if got := settleWindows(regions, &evacuations{}, 0); len(got) != 0 {
		t.Fatalf("windows %v without an evacuation, want none", got)
	}
}
