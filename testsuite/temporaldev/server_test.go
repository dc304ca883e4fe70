package temporaldev

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

func TestWorkflowWithActivity(t *testing.T) {
	s := startServer(t, Options{NoUI: true})
	c := dial(t, s)
	runWorker(t, c, "greet", func(r worker.Registry) {
		r.RegisterWorkflow(greetWorkflow)
		r.RegisterActivity(greet)
	})

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	began := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "greet-1", TaskQueue: "greet"}, greetWorkflow, "failover")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	t.Logf("workflow with one activity took %v", time.Since(began).Round(time.Millisecond))
	if got != "hello, failover" {
		t.Errorf("result = %q, want %q", got, "hello, failover")
	}
}

func TestUpdateWithStartAndValidator(t *testing.T) {
	s := startServer(t, Options{NoUI: true})
	c := dial(t, s)
	runWorker(t, c, "weights", func(r worker.Registry) { r.RegisterWorkflow(weightWorkflow) })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	update := func(name string, args ...any) client.UpdateWorkflowOptions {
		return client.UpdateWorkflowOptions{
			WorkflowID:   "weights-1",
			UpdateName:   name,
			Args:         args,
			WaitForStage: client.WorkflowUpdateStageCompleted,
		}
	}

	// UpdateWithStart: starts the workflow and delivers the first update in one call.
	start := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       "weights-1",
		TaskQueue:                "weights",
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, weightWorkflow)
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions:          update("add", 2),
	})
	if err != nil {
		t.Fatalf("UpdateWithStart: %v", err)
	}
	var total int
	if err := h.Get(ctx, &total); err != nil || total != 2 {
		t.Fatalf("first add: total %d, err %v; want 2, nil", total, err)
	}

	// A plain update round-trip.
	h, err = c.UpdateWorkflow(ctx, update("add", 3))
	if err != nil {
		t.Fatalf("UpdateWorkflow add 3: %v", err)
	}
	if err := h.Get(ctx, &total); err != nil || total != 5 {
		t.Fatalf("second add: total %d, err %v; want 5, nil", total, err)
	}

	// The validator's rejection surfaces from Get and never reaches the workflow's state.
	h, err = c.UpdateWorkflow(ctx, update("add", -1))
	if err == nil {
		err = h.Get(ctx, &total)
	}
	if err == nil || !strings.Contains(err.Error(), "weight must be positive") {
		t.Fatalf("add -1: want the validator's rejection, got %v", err)
	}

	if _, err := c.UpdateWorkflow(ctx, update("done")); err != nil {
		t.Fatalf("UpdateWorkflow done: %v", err)
	}
	if err := c.GetWorkflow(ctx, "weights-1", "").Get(ctx, &total); err != nil || total != 5 {
		t.Fatalf("workflow result: %d, %v; want 5, nil", total, err)
	}
}

// TestStopReleasesPortsAndGoroutines measures one Start/Stop cycle with the Web UI, after a
// warm-up cycle so that process-wide state initialised once (gRPC, OpenTelemetry, caches) is not
// counted. What remains per cycle is the gRPC client connections that neither the server nor
// ui-server closes (3 goroutines each, plus a reconnecting one for the UI's), the in-memory
// database's connection opener: 22-33 goroutines measured, against ~2,600 while running.
func TestStopReleasesPortsAndGoroutines(t *testing.T) {
	const allowedLeak = 50

	warmup, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatalf("warm-up Start: %v", err)
	}
	if err := warmup.Stop(); err != nil {
		t.Fatalf("warm-up Stop: %v", err)
	}

	before := runtime.NumGoroutine()
	s, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	running := runtime.NumGoroutine()
	uiAddr := strings.TrimPrefix(s.UIURL(), "http://")
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v, want the first result (nil)", err)
	}
	assertRefused(t, s.Address())
	assertRefused(t, uiAddr)

	// Goroutines wind down after Stop returns: poll the count.
	after := runtime.NumGoroutine()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
poll:
	for after > before+allowedLeak {
		select {
		case <-deadline:
			break poll
		case <-tick.C:
			after = runtime.NumGoroutine()
		}
	}
	t.Logf("goroutines: %d before Start, %d running, %d after Stop (+%d)", before, running, after, after-before)
	if after > before+allowedLeak {
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		t.Errorf("%d goroutines left after Stop, want at most %d", after-before, allowedLeak)
	}
}
