package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failover/failover/alerts"
	"github.com/failover/failover/control"
	"github.com/failover/failover/testsuite/promstack"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// answered is one alert the front door answered: the labels Alertmanager sent and what became of it.
type answered struct {
	Labels map[string]string
	Result alerts.Result
}

// recordingDoor passes Alertmanager's posts to the front door's handler unchanged and records every answer.
type recordingDoor struct {
	next http.Handler
	mu   sync.Mutex
	got  []answered
}

func (d *recordingDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	d.next.ServeHTTP(rec, r)
	var in alerts.Payload
	var out alerts.Response
	if json.Unmarshal(body, &in) == nil && json.Unmarshal(rec.Body.Bytes(), &out) == nil {
		labels := map[string]map[string]string{}
		for _, a := range in.Alerts {
			labels[a.Fingerprint] = a.Labels
		}
		d.mu.Lock()
		for _, res := range out.Alerts {
			d.got = append(d.got, answered{Labels: labels[res.Fingerprint], Result: res})
		}
		d.mu.Unlock()
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (d *recordingDoor) answers() []answered {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]answered(nil), d.got...)
}

// promSeries runs an instant query and returns how many series it gave (0 on any error).
func promSeries(prom *promstack.Stack, query string) int {
	resp, err := http.Get(prom.PrometheusURL() + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil {
		return 0
	}
	return len(r.Data.Result)
}

// TestRegionUnavailableThroughPrometheusEvacuatesOnce is the region-wide alert path with the real binaries. The real
// Prometheus scrapes every service of both regions (the stack serves them all from one process per region, so
// each service is a target of that process, labelled with its service and region) with the rules of
// deploy/prometheus/region-rules.yml; us-east's process stops. RegionUnavailable fires for us-east alone (region
// label, no service label) beside each service's own RegionDown; the real Alertmanager posts every group with its
// bearer token to the front door over the routes file (region-wide route: evacuation-us-east; each service's
// route: its failover). Exactly one evacuation-us-east runs, with the Prometheus alert as trigger and evidence,
// and every service moves once, as the evacuation's child in its wave: the front door holds each service's
// RegionDown, which may arrive before RegionUnavailable, for the settle window (alerts.DefaultSettle), and answers it
// covered by the evacuation that started meanwhile, so no failover-<service> starts beside it. Nothing about eu-west
// fires.
func TestRegionUnavailableThroughPrometheusEvacuatesOnce(t *testing.T) {
	t0 := time.Now()
	since := func() time.Duration { return time.Since(t0).Round(100 * time.Millisecond) }
	s := startStack(t)
	startEvacuationWorker(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	names := []string{"db-1", "svc-1", "svc-2"}
	door := &recordingDoor{next: frontDoorHook(t, s, frontDoorFiles(t, s, names))}
	srv := httptest.NewServer(door)
	t.Cleanup(srv.Close)

	var targets []promstack.Target
	for _, r := range stack.RegionNames {
		for _, n := range names {
			targets = append(targets, promstack.Target{Addr: s.Regions[r].Addr(), Labels: map[string]string{"service": n, "region": r}})
		}
	}
	prom, err := promstack.Start(ctx, promstack.Options{Targets: targets, WebhookURL: srv.URL + "/webhooks/alertmanager",
		WebhookToken: frontDoorToken, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Stop() }) // before the stack: cleanups run in reverse
	eventually(t, 30*time.Second, "every service of both regions scraped", func() bool {
		return promSeries(prom, `count(up{job="regions"} == 1) == 6`) == 1
	})
	t.Logf("%v: stack, Prometheus and Alertmanager up; 6 targets scraped", since())

	const id = "evacuation-us-east"
	downAt := time.Now()
	if err := s.Regions["us-east"].Close(); err != nil {
		t.Fatal(err)
	}
	var runID string
	eventually(t, 45*time.Second, "the region-wide alert starts "+id, func() bool {
		d, err := s.TemporalClient.DescribeWorkflow(ctx, id, "")
		if err == nil {
			runID = d.WorkflowExecution.RunID
		}
		return err == nil
	})
	t.Logf("%v: %s started %.1fs after us-east went down", since(), id, time.Since(downAt).Seconds())
	var res workflows.EvacuationResult
	if err := s.TemporalClient.GetWorkflow(ctx, id, runID).Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: evacuation %s, counts %v, %.1fs after us-east went down", since(), res.Outcome, res.Counts,
		time.Since(downAt).Seconds())
	// Every service moved in the evacuation, by its own child failover: none was started beside it and joined.
	if res.Outcome != workflows.Succeeded || res.Counts[workflows.Succeeded] != len(names) {
		t.Fatalf("evacuation %+v, want every service succeeded in it", res)
	}
	for _, n := range names {
		checkMoved(t, s, n)
	}
	ownedByEvacuation(t, s, id, names)

	// The trigger and evidence are Prometheus's alert as Alertmanager grouped it: the region, no service.
	req := evacuationInput(t, s, id, runID)
	if tr := req.Trigger; tr.Source != workflows.TriggerAlert || tr.Alert != promstack.RegionWideAlert ||
		tr.FaultAt.Before(downAt.Add(-2*time.Second)) {
		t.Fatalf("trigger %+v, want alert %s after us-east went down (%v)", tr, promstack.RegionWideAlert, downAt)
	}
	if len(req.Evidence) != 1 {
		t.Fatalf("evidence %+v, want the one region-wide alert", req.Evidence)
	}
	ev := req.Evidence[0]
	if ev.Labels["region"] != "us-east" || ev.Labels["severity"] != "critical" || ev.Fingerprint == "" ||
		!strings.Contains(ev.GroupKey, `alertname="`+promstack.RegionWideAlert+`"`) || !strings.Contains(ev.GroupKey, `region="us-east"`) {
		t.Fatalf("evidence %+v: want region us-east, severity critical, grouped by alertname and region", ev)
	}
	for _, l := range []string{"service", "instance", "job"} {
		if v, ok := ev.Labels[l]; ok {
			t.Fatalf("evidence labels %v carry %s=%q: the rule must aggregate by region alone", ev.Labels, l, v)
		}
	}

	// Each service's failover: the one run the evacuation started.
	st, err := control.EvacuationStatus(ctx, s.TemporalClient, id, runID)
	if err != nil {
		t.Fatal(err)
	}
	failoverRun := map[string]string{} // service → the run that moved it
	for _, sv := range st.Services {
		t.Logf("evacuation: %s %s (run %s): %s", sv.Service, sv.Outcome, sv.RunID, sv.Reason)
		if runs := runIDsOf(t, s, "failover-"+sv.Service); sv.Outcome != workflows.Succeeded || len(runs) != 1 || runs[0] != sv.RunID {
			t.Fatalf("%s %s in the evacuation (run %s); its failover has runs %v, want the one", sv.Service, sv.Outcome, sv.RunID, runs)
		}
		failoverRun[sv.Service] = sv.RunID
	}
	if len(failoverRun) != len(names) {
		t.Fatalf("the evacuation lists %v, want %v", failoverRun, names)
	}
	eventually(t, 10*time.Second, "the evacuation listed", func() bool { return runsOf(t, s, id) >= 1 })
	if k := runsOf(t, s, id); k != 1 {
		t.Fatalf("%d evacuation runs, want 1", k)
	}

	// What the front door answered Alertmanager: every region-wide post went to the one evacuation, every
	// service's RegionDown was covered by it (held until it started), or, once its failover had closed, already
	// handled; none started a failover.
	eventually(t, 30*time.Second, "every service's RegionDown answered (after its hold)", func() bool {
		seen := map[string]bool{}
		for _, a := range door.answers() {
			if a.Result.Alertname == "RegionDown" {
				seen[a.Labels["service"]] = true
			}
		}
		return len(seen) == len(names)
	})
	regionWide, perService := 0, map[string]int{}
	for _, a := range door.answers() {
		r := a.Result
		t.Logf("answered %s %v: %s %s %s", r.Status, a.Labels, r.Action, r.WorkflowID, r.Reason)
		if a.Labels["region"] != "us-east" || r.Status != alerts.Firing {
			t.Fatalf("Alertmanager posted %s %v: only us-east is down", r.Status, a.Labels)
		}
		switch svc := a.Labels["service"]; {
		case r.Alertname == promstack.RegionWideAlert && svc == "":
			regionWide++
			if r.Action == alerts.ActionIgnored && !strings.Contains(r.Reason, "already handled") ||
				r.Action != alerts.ActionIgnored && (r.WorkflowID != id || r.RunID != runID) {
				t.Fatalf("region-wide alert answered %+v, want %s run %s", r, id, runID)
			}
		case r.Alertname == "RegionDown" && failoverRun[svc] != "":
			perService[svc]++
			covered := r.Action == alerts.ActionCovered && r.WorkflowID == id && r.RunID == runID
			handled := r.Action == alerts.ActionIgnored && strings.Contains(r.Reason, "already handled")
			joined := r.Action == alerts.ActionAttached && r.RunID == failoverRun[svc]
			if !covered && !handled && !joined {
				t.Fatalf("%s's RegionDown answered %+v, want covered by %s, or its one failover %s", svc, r, id, failoverRun[svc])
			}
		default:
			t.Fatalf("unexpected alert %s %v answered %+v", r.Alertname, a.Labels, r)
		}
	}
	if regionWide == 0 || len(perService) != len(names) {
		t.Fatalf("front door answered %d region-wide alerts and per-service alerts %v; want both kinds, every service",
			regionWide, perService)
	}
}
