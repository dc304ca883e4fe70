package watcher

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/failover/failover/alerts"
	"github.com/failover/failover/plan"
)

// threeRegionPlan watches us-east, eu-west and ap-south, with a Prometheus quorum (alwaysDown confirms).
func threeRegionPlan(service string, urls map[string]string) plan.Plan {
	p := plan.Plan{Service: service, Regions: map[string]plan.Region{}, Watch: &plan.Watch{Interval: 40 * time.Millisecond,
		Failures: 5, Window: time.Second, FlapLimit: 3, FlapWindow: 5 * time.Second,
		Quorum: plan.Quorum{Query: &plan.Query{Expr: "vector(1)", Condition: "> 0"}}}}
	for r, u := range urls {
		p.Regions[r] = plan.Region{HealthURL: u}
	}
	p.SetDefaults()
	return p
}

// A plan with three regions fails a down region over to the standby its routes name: us-east and ap-south to
// eu-west (one route each, by region), while eu-west, which no route fails over, is watched but never failed
// over. Without the routes such a plan is refused, and so are routes that name two standbys for one region.
func TestThreeRegionPlanFailsOverToTheRoutesStandby(t *testing.T) {
	east, west, south := newRegion(t), newRegion(t), newRegion(t)
	p := threeRegionPlan("payments", map[string]string{"us-east": east.srv.URL, "eu-west": west.srv.URL, "ap-south": south.srv.URL})
	router, err := alerts.NewRouter(
		alerts.Route{Match: map[string]string{"alertname": "RegionDown", "region": "us-east"}, Plan: p, To: "eu-west"},
		alerts.Route{Match: map[string]string{"alertname": "RegionDown", "region": "ap-south"}, Plan: p, To: "eu-west"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Observer: "a", Plans: []plan.Plan{p}, Firer: &firer{}, Queries: alwaysDown{}}); err == nil ||
		!strings.Contains(err.Error(), "plan payments has 3 regions: which one a failover away from ap-south goes to is the routes' to") {
		t.Fatalf("New without routes: %v", err)
	}
	disagree, err := alerts.NewRouter(
		alerts.Route{Match: map[string]string{"alertname": "RegionDown"}, Plan: p, To: "eu-west"},
		alerts.Route{Match: map[string]string{"alertname": "RegionDown", "severity": "page"}, Plan: p, To: "ap-south"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Observer: "a", Plans: []plan.Plan{p}, Firer: &firer{}, Queries: alwaysDown{}, Standby: disagree}); err == nil ||
		!strings.Contains(err.Error(), "plan payments: where a failover away from us-east goes: plan payments: routes [0 1]") {
		t.Fatalf("New with routes naming two standbys: %v", err)
	}

	f := &firer{}
	m := NewMetrics(nil)
	w := runWatcher(t, Options{Observer: "a", Plans: []plan.Plan{p}, Firer: f, Queries: alwaysDown{}, Standby: router, Metrics: m})
	waitFor(t, "every region up", func() bool {
		h := w.Health()
		return verdictOf(h, "us-east") == Up && verdictOf(h, "eu-west") == Up && verdictOf(h, "ap-south") == Up
	})

	south.status.Store(http.StatusServiceUnavailable)
	waitFor(t, "ap-south's failover requested", func() bool { n, _ := f.counts(); return n == 1 })
	south.status.Store(http.StatusOK)
	waitFor(t, "ap-south resolved", func() bool { _, n := f.counts(); return n == 1 })

	// eu-west down: watched and reported, but no route fails it over.
	west.status.Store(http.StatusServiceUnavailable)
	waitFor(t, "eu-west down", func() bool { return verdictOf(w.Health(), "eu-west") == Down })
	failed := func() float64 { return testutil.ToFloat64(m.Probes.WithLabelValues("payments", "eu-west", "failed")) }
	before := failed()
	waitFor(t, "10 more probes of eu-west", func() bool { return failed() >= before+10 })
	if n, _ := f.counts(); n != 1 {
		t.Fatalf("%d failover requests, want none for eu-west, which no route fails over", n-1)
	}
	west.status.Store(http.StatusOK)
	waitFor(t, "eu-west up", func() bool { return verdictOf(w.Health(), "eu-west") == Up })

	east.status.Store(http.StatusServiceUnavailable)
	waitFor(t, "us-east's failover requested", func() bool { n, _ := f.counts(); return n == 2 })
	f.mu.Lock()
	defer f.mu.Unlock()
	var got []string
	for _, tg := range f.targets {
		got = append(got, tg.From+"→"+tg.To)
	}
	if strings.Join(got, " ") != "ap-south→eu-west us-east→eu-west" {
		t.Fatalf("failovers requested %v, want ap-south→eu-west then us-east→eu-west", got)
	}
}
