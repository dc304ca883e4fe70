package watcher

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/failover/failover/plan"
)

// slowRegion answers 200, except that requests arriving before slowUntil get no answer until the prober gives up
// (a region too slow for the probe's timeout).
type slowRegion struct {
	srv       *httptest.Server
	slowUntil atomic.Int64 // unix nanoseconds
}

func newSlowRegion(t *testing.T) *slowRegion {
	r := &slowRegion{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if time.Now().UnixNano() < r.slowUntil.Load() {
			<-req.Context().Done()
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *slowRegion) slowFor(d time.Duration) { r.slowUntil.Store(time.Now().Add(d).UnixNano()) }

// A region whose answers come after the probe's timeout for just under the blip tolerance (1 s at 200ms × 6), then
// on time again: its probes time out one after another, and nothing starts although the quorum (a Prometheus that
// confirms everything) would agree at once. The same slowness kept up is a real outage: down, and the failover
// requested. With a timeout longer than the interval the loop sends one probe per timeout: a single hung probe is
// one failure, and a region that stays hung is down after two (1 s of sends).
func TestSlowAnswersForUnderASecondStartNothing(t *testing.T) {
	for _, timeout := range []time.Duration{200 * time.Millisecond, time.Second} {
		t.Run("timeout "+timeout.String(), func(t *testing.T) {
			east, west := newSlowRegion(t), newRegion(t)
			p := plan.Plan{Service: "payments", Regions: map[string]plan.Region{
				"us-east": {HealthURL: east.srv.URL}, "eu-west": {HealthURL: west.srv.URL}},
				Watch: &plan.Watch{Interval: 200 * time.Millisecond, Timeout: timeout, Failures: 6, Window: 3 * time.Second,
					Quorum: plan.Quorum{Query: &plan.Query{Expr: "vector(1)", Condition: "> 0"}}}}
			p.SetDefaults()
			f, m := &firer{}, NewMetrics(nil)
			w := runWatcher(t, Options{Observer: "a", Plans: []plan.Plan{p}, Firer: f, Queries: alwaysDown{}, Metrics: m})
			waitFor(t, "every region up", func() bool {
				h := w.Health()
				return verdictOf(h, "us-east") == Up && verdictOf(h, "eu-west") == Up
			})
			counter := func(result string) float64 {
				return testutil.ToFloat64(m.Probes.WithLabelValues("payments", "us-east", result))
			}

			east.slowFor(900 * time.Millisecond)
			waitFor(t, "a timed-out probe", func() bool { return counter("failed") >= 1 })
			healthy := counter("healthy")
			waitFor(t, "5 good probes after the slowness", func() bool { return counter("healthy") >= healthy+5 })
			if n, _ := f.counts(); n != 0 {
				t.Fatalf("%d failover requests after %g timed-out probes in under a second", n, counter("failed"))
			}
			if v := verdictOf(w.Health(), "us-east"); v != Up {
				t.Fatalf("us-east %s after the slowness, want up", v)
			}
			if timeout > p.Watch.Interval && counter("failed") != 1 {
				t.Fatalf("%g failed probes from one hung probe, want 1", counter("failed"))
			}

			east.slowFor(time.Hour)
			waitFor(t, "the failover requested", func() bool { n, _ := f.counts(); return n == 1 })
			if v := verdictOf(w.Health(), "us-east"); v != Down {
				t.Fatalf("us-east %s, want down", v)
			}
		})
	}
}
