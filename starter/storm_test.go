package main

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/alerts"
	"github.com/failover/failover/control"
	"github.com/failover/failover/frontdoor"
	"github.com/failover/failover/testsuite/stack"
)

// TestStormStartsOneRunPerOutage posts every outage's alert many times at once through two front doors that share
// nothing but Temporal, while the failover it starts ends fast (not-needed: the source answers its one probe). Each
// front door is slowed by up to a second between reading the latest run and starting one, as a loaded replica is:
// requests that read "no failover open" before the run started must still not start a second run after it closed.
//
// Each round lasts the run's hold (10 s): `make test` runs 3 rounds; STORM_ROUNDS=20 is the drill that measured 120
// extra runs on the first release's front door.
func TestStormStartsOneRunPerOutage(t *testing.T) {
	const posts = 200
	rounds := 3
	if v := os.Getenv("STORM_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("STORM_ROUNDS=%q: want a number of rounds, at least 1", v)
		}
		rounds = n
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{NoUI: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	p := s.Plan
	manualWithoutPrometheus(&p)
	p.Detection.Probes, p.Detection.ProbeInterval = 1, 10*time.Millisecond
	router, err := alerts.NewRouter(alerts.Route{Match: map[string]string{"service": "payments"}, Plan: p, To: alerts.ToOther})
	if err != nil {
		t.Fatal(err)
	}
	var doors []*alertStack
	for range 2 {
		hook, err := alerts.NewHandler(alerts.Options{Temporal: slowReads{s.TemporalClient}, Router: router,
			Auth: alerts.Auth{Token: "s3cret"}, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		door := httptest.NewServer(frontdoor.NewMux(frontdoor.Routes{Webhook: hook, Health: temporalHealth(s.TemporalClient),
			Registry: prometheus.NewRegistry()}))
		t.Cleanup(door.Close)
		doors = append(doors, &alertStack{url: door.URL + "/webhooks/alertmanager", token: "s3cret"})
	}

	extra := 0
	for round := range rounds {
		body := amPayload(alerts.Firing, usEastDown(), time.Now())
		runs := map[string]bool{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range posts {
			wg.Go(func() {
				r, err := stormPost(ctx, doors[i%2], body)
				if err != nil {
					t.Errorf("round %d post %d: %v", round, i, err)
					return
				}
				if r.Action == alerts.ActionStarted || r.Action == alerts.ActionAttached {
					mu.Lock()
					runs[r.RunID] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(runs) != 1 {
			t.Errorf("round %d: %d runs for one outage, want 1", round, len(runs))
			extra += max(len(runs)-1, 0)
		}
		waitNoneOpen(ctx, t, s.TemporalClient)
	}
	if extra > 0 {
		t.Fatalf("%d rounds × %d posts: %d runs more than outages", rounds, posts, extra)
	}
}

// slowReads delays every describe's answer by up to a second: the window between "is a run open?" and the start.
type slowReads struct{ client.Client }

func (c slowReads) DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error) {
	desc, err := c.Client.DescribeWorkflow(ctx, workflowID, runID)
	time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
	return desc, err
}

// stormPost posts as Alertmanager does: a 503 (Temporal slow, or the start missed its join window) is retried.
func stormPost(ctx context.Context, door *alertStack, body []byte) (alerts.Result, error) {
	for {
		r, err := door.tryPost(body)
		if err == nil || !strings.HasPrefix(err.Error(), "post: 503") {
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitNoneOpen waits until the payments failover has no open run, so the next round is a new outage.
func waitNoneOpen(ctx context.Context, t *testing.T, tc client.Client) {
	t.Helper()
	for {
		desc, err := control.Latest(ctx, tc, "failover-payments")
		if err == nil && desc != nil && desc.WorkflowCloseTime != nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the failover did not close: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
