package alerts

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// A per-service alert that arrives before its region's evacuation (RegionDown fired a moment before
// RegionUnavailable) is held in the request for what is left of the settle window; the evacuation starts meanwhile,
// so the alert is answered covered by it and no failover starts beside it.
func TestHeldAlertCoveredByTheEvacuationStartedMeanwhile(t *testing.T) {
	fx := newEvacuationFixture(t)
	startsAt := fx.now.Add(-time.Second) // Alertmanager's group_wait
	fx.duringHold = func() {
		if runs := fx.fake.snapshot("failover-payments"); len(runs) != 0 {
			t.Errorf("failover-payments started before the hold ended: %+v", runs)
		}
		if _, resp := fx.post(t, regionDown(t, "firing.json", "us-east", startsAt), nil); resp.Alerts[0].Action != ActionStarted {
			t.Errorf("RegionDown during the hold: %+v, want the evacuation started", resp.Alerts)
		}
	}
	rec, resp := fx.post(t, payload(t, "firing.json", startsAt, nil), nil) // BackendDown, payments, us-east
	a := resp.Alerts[0]
	if rec.Code != http.StatusOK || a.Action != ActionCovered || a.WorkflowID != "evacuation-us-east" || a.RunID != "run-1" {
		t.Fatalf("payments' alert held while the evacuation started: HTTP %d %+v, want covered by evacuation-us-east run-1", rec.Code, a)
	}
	if want := []time.Duration{DefaultSettle - time.Second}; !slices.Equal(fx.holds, want) {
		t.Fatalf("holds %v, want %v: the rest of the window since the alert began", fx.holds, want)
	}
	if runs := fx.fake.snapshot("failover-payments"); len(runs) != 0 {
		t.Fatalf("%d failover-payments runs beside the evacuation, want 0", len(runs))
	}
}

// A service down alone: no evacuation starts during the hold, so once the window has passed the alert starts the
// service's failover as without an evacuation, later by the window.
func TestHeldAlertStartsItsFailoverAfterTheWindow(t *testing.T) {
	fx := newEvacuationFixture(t)
	startsAt := fx.now.Add(-2 * time.Second)
	var heldAt time.Time
	fx.duringHold = func() {
		heldAt = fx.now
		if runs := fx.fake.snapshot("failover-payments"); len(runs) != 0 {
			t.Errorf("failover-payments started before the hold ended: %+v", runs)
		}
	}
	_, resp := fx.post(t, payload(t, "firing.json", startsAt, nil), nil)
	if a := resp.Alerts[0]; a.Action != ActionStarted || a.WorkflowID != "failover-payments" || a.RunID != "run-1" {
		t.Fatalf("payments' alert after the window: %+v, want its own failover started", a)
	}
	if want := []time.Duration{DefaultSettle - 2*time.Second}; !slices.Equal(fx.holds, want) {
		t.Fatalf("holds %v, want %v", fx.holds, want)
	}
	if !heldAt.Equal(startsAt.Add(DefaultSettle)) {
		t.Fatalf("the hold ended at %v, want the alert's start + the window %v", heldAt, startsAt.Add(DefaultSettle))
	}
	if evs := fx.fake.snapshot("evacuation-us-east"); len(evs) != 0 {
		t.Fatalf("an alert about one service started %d evacuations", len(evs))
	}
}

// Nothing else waits: a region without a region-wide route, a resolved alert, a repeat for a service whose failover
// runs (it joins at once), an alert that began longer ago than the window (a late delivery or Alertmanager's
// retry after a cut-off hold), one while the evacuation already runs (covered or not, decided at once), and any
// alert with a negative window.
func TestAlertsThatAreNotHeld(t *testing.T) {
	t.Run("region without an evacuation route", func(t *testing.T) {
		fx := newFixture(t, nil)
		_, resp := fx.post(t, payload(t, "firing.json", fx.now, nil), nil)
		wantNoHold(t, fx, resp, ActionStarted)
	})
	t.Run("resolved", func(t *testing.T) {
		fx := newEvacuationFixture(t)
		_, resp := fx.post(t, payload(t, "resolved.json", fx.now, nil), nil)
		wantNoHold(t, fx, resp, ActionIgnored)
	})
	t.Run("began before the window", func(t *testing.T) {
		fx := newEvacuationFixture(t)
		_, resp := fx.post(t, payload(t, "firing.json", fx.now.Add(-DefaultSettle), nil), nil)
		wantNoHold(t, fx, resp, ActionStarted)
		// A new alert for the service while its failover runs joins that run at once.
		_, resp = fx.post(t, payload(t, "firing.json", fx.now, map[string]string{"alertname": "RegionDown"}), nil)
		wantNoHold(t, fx, resp, ActionAttached)
	})
	t.Run("evacuation running, service outside it", func(t *testing.T) {
		fx := newEvacuationFixture(t)
		if _, resp := fx.post(t, regionDown(t, "firing.json", "us-east", fx.now), nil); resp.Alerts[0].Action != ActionStarted {
			t.Fatalf("RegionDown: %+v", resp.Alerts)
		}
		fx.fake.mu.Lock()
		fx.fake.latest("evacuation-us-east").evac.Services = nil // payments outside the evacuation's selectors
		fx.fake.mu.Unlock()
		_, resp := fx.post(t, payload(t, "firing.json", fx.now, nil), nil)
		wantNoHold(t, fx, resp, ActionStarted)
	})
	t.Run("negative window", func(t *testing.T) {
		fx := newEvacuationFixture(t)
		fx.h.o.Settle = -time.Second
		_, resp := fx.post(t, payload(t, "firing.json", fx.now, nil), nil)
		wantNoHold(t, fx, resp, ActionStarted)
	})
}

// A request that ends during the hold (Alertmanager's notification timeout, the front door shutting down) is
// answered 503, never 200, and starts nothing: Alertmanager retries, and the retry waits only for what is left of
// the window.
func TestHoldCutShortByTheRequestStartsNothing(t *testing.T) {
	fx := newEvacuationFixture(t)
	fx.h.o.Sleep = sleepCtx
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/webhooks/alertmanager",
		bytes.NewReader(payload(t, "firing.json", fx.now, nil)))
	bearer(testToken)(req)
	rec := httptest.NewRecorder()
	fx.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "held for the region's evacuation") {
		t.Fatalf("HTTP %d %q, want 503 naming the hold", rec.Code, rec.Body)
	}
	if runs := fx.fake.snapshot("failover-payments"); len(runs) != 0 {
		t.Fatalf("%d failover-payments runs after a cut-off hold, want 0", len(runs))
	}
}

func wantNoHold(t *testing.T, fx *fixture, resp Response, action string) {
	t.Helper()
	if a := resp.Alerts[0]; a.Action != action {
		t.Fatalf("%+v, want %s", a, action)
	}
	if len(fx.holds) != 0 {
		t.Fatalf("held %v, want no hold", fx.holds)
	}
}

// DefaultSettle's reasoning holds for the shipped Prometheus and Alertmanager configuration: the window covers one
// evaluation of lag (the scrape interval, rounded up to evaluations), group_wait and 2 s for the evacuation's
// start, and the request it holds (arriving at least group_wait after the alert began) ends at least 3 s before
// Alertmanager gives up on the notification (max(group_interval, 10s)). Changing either file without the window
// fails here.
func TestDefaultSettleFitsTheShippedRulesAndAlertmanager(t *testing.T) {
	var prom struct {
		Global struct {
			Scrape     model.Duration `yaml:"scrape_interval"`
			Evaluation model.Duration `yaml:"evaluation_interval"`
		} `yaml:"global"`
	}
	var am struct {
		Route struct {
			GroupWait     model.Duration `yaml:"group_wait"`
			GroupInterval model.Duration `yaml:"group_interval"`
		} `yaml:"route"`
	}
	for path, v := range map[string]any{"../deploy/prometheus/prometheus.yml": &prom, "../deploy/alertmanager/alertmanager.yml": &am} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	scrape, eval := time.Duration(prom.Global.Scrape), time.Duration(prom.Global.Evaluation)
	wait, interval := time.Duration(am.Route.GroupWait), time.Duration(am.Route.GroupInterval)
	if scrape <= 0 || eval <= 0 || wait <= 0 || interval <= 0 {
		t.Fatalf("read scrape %v, evaluation %v, group_wait %v, group_interval %v: want all set", scrape, eval, wait, interval)
	}
	lag := (scrape + eval - 1) / eval * eval
	if need := lag + wait + 2*time.Second; DefaultSettle < need {
		t.Errorf("DefaultSettle %v < %v: one lag of %v, group_wait %v and 2s for the evacuation's start", DefaultSettle, need, lag, wait)
	}
	budget := max(interval, 10*time.Second)
	if held := DefaultSettle - wait; held > budget-3*time.Second {
		t.Errorf("a request held %v: want at least 3s under Alertmanager's %v for the notification", held, budget)
	}
}
