package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// TestUpgradeDuringAFailover deploys worker build B while a failover started on build A waits for approval: the
// failover finishes on A (every activity of it ran on A's worker), the next failover runs on B, and both histories
// replay on today's code.
func TestUpgradeDuringAFailover(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := startBuild(t, s, "build-a")
	if err := control.SetCurrentBuild(ctx, s.TemporalClient, "build-a", "test"); err != nil {
		t.Fatal(err)
	}
	fault(t, s, "us-east", `{"status":503}`)
	p := planWithoutPrometheus(s)
	p.Approval.Mode = plan.ApprovalManual
	first := start(t, s, request(p, "us-east", "eu-west"))
	eventually(t, 30*time.Second, "the first failover waits for approval", func() bool {
		v, err := s.TemporalClient.QueryWorkflow(ctx, first.GetID(), first.GetRunID(), workflows.StatusQuery)
		var st workflows.Status
		return err == nil && v.Get(&st) == nil && st.Pending != nil
	})

	b := startBuild(t, s, "build-b")
	if err := control.SetCurrentBuild(ctx, s.TemporalClient, "build-b", "test"); err != nil {
		t.Fatal(err)
	}
	if cur, err := control.CurrentBuild(ctx, s.TemporalClient); err != nil || cur != "build-b" {
		t.Fatalf("current build %q (%v), want build-b", cur, err)
	}
	approve(t, s, first.GetID(), p.Hash(), "alice")
	wantOutcome(t, result(t, first), workflows.Succeeded)
	wantBuild(t, s, first, "build-a")

	// The next failover, back to us-east, starts on the current build.
	clearFault(t, s, "us-east")
	fault(t, s, "eu-west", `{"status":503}`)
	p.Approval.Mode = plan.ApprovalAuto
	second := start(t, s, request(p, "eu-west", "us-east"))
	wantOutcome(t, result(t, second), workflows.Succeeded)
	wantBuild(t, s, second, "build-b")

	if a.ran(second.GetRunID()) || !a.ran(first.GetRunID()) || b.ran(first.GetRunID()) || !b.ran(second.GetRunID()) {
		t.Fatalf("activities ran on build-a for runs %v and on build-b for runs %v: want each failover on its own build",
			a.runs(), b.runs())
	}
	for _, run := range []client.WorkflowRun{first, second} {
		replay(t, s, run)
	}
}

func clearFault(t *testing.T, s *stack.Stack, regionName string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, s.Regions[regionName].URL()+"/fault", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("clear fault of %s: HTTP %d", regionName, resp.StatusCode)
	}
}

// build is one worker build: a worker of the Worker Deployment that records which failover runs its activities
// notified (every failover notifies from its first step).
type build struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (b *build) Publish(_ context.Context, e activities.Event) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen[e.RunID] = true
	return "", nil
}

func (b *build) ran(runID string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[runID]
}

func (b *build) runs() map[string]bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen
}

func startBuild(t *testing.T, s *stack.Stack, buildID string) *build {
	t.Helper()
	b := &build{seen: map[string]bool{}}
	w := worker.New(s.TemporalClient, workflows.TaskQueue, workflows.WorkerOptions(buildID))
	workflows.Register(w, &activities.Activities{Etcd: s.EtcdClient, Kong: s.KongClient, HTTP: &http.Client{Timeout: 10 * time.Second},
		Logger: slog.New(slog.DiscardHandler), Publishers: []activities.Publisher{b}}, workflows.Trust{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return b
}

// wantBuild checks that Temporal has the run pinned to buildID.
func wantBuild(t *testing.T, s *stack.Stack, run client.WorkflowRun, buildID string) {
	t.Helper()
	d, err := s.TemporalClient.DescribeWorkflowExecution(context.Background(), run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	info := d.GetWorkflowExecutionInfo().GetVersioningInfo()
	if got := info.GetDeploymentVersion().GetBuildId(); got != buildID || info.GetBehavior() != enumspb.VERSIONING_BEHAVIOR_PINNED {
		t.Fatalf("run %s: build %q, behavior %s; want pinned to %s", run.GetRunID(), got, info.GetBehavior(), buildID)
	}
}

// replay replays the run's history on today's workflow code.
func replay(t *testing.T, s *stack.Stack, run client.WorkflowRun) {
	t.Helper()
	h, err := history(s.TemporalClient, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(workflows.Failover)
	if err := r.ReplayWorkflowHistory(log.NewStructuredLogger(slog.New(slog.DiscardHandler)), h); err != nil {
		t.Fatalf("replay %s: %v", run.GetRunID(), err)
	}
}
