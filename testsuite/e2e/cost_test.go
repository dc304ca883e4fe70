package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// failoverCost is what one failover costs Temporal, read from its history.
type failoverCost struct {
	Events        int // history events
	Activities    int // activity tasks scheduled (each goes through matching and a worker poll)
	Publishing    int // of which RecordAudit and Notify (event publishing)
	Local         int // local activities (one marker event each, run inside a workflow task)
	WorkflowTasks int // workflow tasks completed
	Upserts       int // search-attribute upserts (each one a visibility write)
	Timers        int // timers started
}

func costOf(h *historypb.History) failoverCost {
	var c failoverCost
	c.Events = len(h.Events)
	for _, e := range h.Events {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			c.Activities++
			switch e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() {
			case "RecordAudit", "Notify":
				c.Publishing++
			}
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if e.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
				c.Local++
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			c.WorkflowTasks++
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			c.Upserts++
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			c.Timers++
		}
	}
	return c
}

// lockedBuffer is an audit log destination the test reads while the worker may write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) events(t testing.TB) []activities.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []activities.Event
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e activities.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// seenPublisher records the events handed to it, as Slack would get them.
type seenPublisher struct {
	mu   sync.Mutex
	seqs []int
}

func (p *seenPublisher) Publish(_ context.Context, e activities.Event) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seqs = append(p.seqs, e.Seq)
	return "thread", nil
}

// startAuditedWorker is startWorker with an audit log and a publisher, as the worker binary runs with Slack; with
// unheard, without a publisher, as it runs without Slack (the publisher then gets nothing).
func startAuditedWorker(t testing.TB, s *stack.Stack, unheard bool) (*lockedBuffer, *seenPublisher) {
	t.Helper()
	audit, pub := &lockedBuffer{}, &seenPublisher{}
	publishers := []activities.Publisher{pub}
	if unheard {
		publishers = nil
	}
	w := worker.New(s.TemporalClient, workflows.TaskQueue, workflows.WorkerOptions(""))
	workflows.Register(w, &activities.Activities{Etcd: s.EtcdClient, Kong: s.KongClient, HTTP: &http.Client{Timeout: 10 * time.Second},
		Logger: slog.New(slog.DiscardHandler), Audit: activities.NewAuditLog(audit), Publishers: publishers, Temporal: s.TemporalClient}, workflows.Trust{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return audit, pub
}

// costBound is the most a failover of each path may cost (README, "What a failover costs Temporal"), with headroom
// for how events fall into batches and workflow tasks on a busy machine. Before the change cost-per-failover the
// same paths cost 191-209 events and 34-38 activities: going back to an audit activity per batch fails here. Since
// local-reads the readiness probe, the Kong preflight and (when the consumers ack within a second) the wait for
// acks are local activities: three or four activities fewer on each path; going back fails here.
var costBound = map[string]failoverCost{
	// Since scale-per-failover a run heard by Slack has 2 events more (the change's marker and its upsert).
	"approved":      {Events: 185, Activities: 20}, // measured 170-173 and 17-18; before local-reads 165-180 and 21
	"auto-approved": {Events: 162, Activities: 18}, // measured 141-150 and 15-16; before 157-163 and 20
	"rolled-back":   {Events: 165, Activities: 20}, // measured 150-153 and 18; before 169-172 and 23
	// A worker without publishers (or Slack and a plan without a channel): one Notify, then none (scale-per-failover).
	"unheard": {Events: 120, Activities: 11}, // measured 113 and 9; before 120-123 and 12
}

// TestFailoverCost runs the main paths of a failover on the real stack (with an audit log and a publisher, as in
// production), reads each history back from the embedded server and checks what it cost Temporal against
// costBound: history events and activities. It also checks that batching lost nothing: the audit log holds every
// event exactly once and the publisher got them all, in order (the unheard path: a worker without publishers, whose
// runs stop calling Notify). RECORD_HISTORIES=1 records the histories (local-*.json; lean-*.json are the same
// paths recorded before the change local-reads, cheap-*.json before scale-per-failover) for the replay test.
func TestFailoverCost(t *testing.T) {
	paths := []struct {
		name    string
		outcome workflows.Outcome
		// unheard: a worker without publishers, the run started as starter starts it (search attributes set).
		unheard bool
		setup   func(t *testing.T, s *stack.Stack, p *plan.Plan)
		during  func(t *testing.T, s *stack.Stack, id, runID string, p plan.Plan)
	}{
		{name: "approved", outcome: workflows.Succeeded,
			setup: func(t *testing.T, s *stack.Stack, p *plan.Plan) {
				fault(t, s, "us-east", `{"status":503}`)
				p.Approval.Mode = plan.ApprovalManual
			},
			during: func(t *testing.T, s *stack.Stack, id, runID string, p plan.Plan) {
				waitForDecision(t, s, id, runID)
				approve(t, s, id, p.Hash(), "alice")
			}},
		{name: "auto-approved", outcome: workflows.Succeeded,
			setup: func(t *testing.T, s *stack.Stack, p *plan.Plan) {
				fault(t, s, "us-east", `{"status":503}`)
			}},
		{name: "unheard", outcome: workflows.Succeeded, unheard: true,
			setup: func(t *testing.T, s *stack.Stack, p *plan.Plan) {
				fault(t, s, "us-east", `{"status":503}`)
			}},
		{name: "rolled-back", outcome: workflows.RolledBack,
			setup: func(t *testing.T, s *stack.Stack, p *plan.Plan) {
				fault(t, s, "us-east", `{"status":503}`)
				fault(t, s, "eu-west", `{"latency_ms":300}`)
				p.Verification.Checks[0].HTTP.Timeout = 100 * time.Millisecond
			}},
	}
	costs := map[string]failoverCost{}
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			s := startStack(t)
			audit, pub := startAuditedWorker(t, s, path.unheard)
			p := planWithoutPrometheus(s)
			path.setup(t, s, &p)
			var run client.WorkflowRun
			if path.unheard {
				var err error
				if run, err = control.Start(context.Background(), s.TemporalClient, request(p, "us-east", "eu-west")); err != nil {
					t.Fatal(err)
				}
			} else {
				run = start(t, s, request(p, "us-east", "eu-west"))
			}
			if path.during != nil {
				path.during(t, s, run.GetID(), run.GetRunID(), p)
			}
			wantOutcome(t, result(t, run), path.outcome)
			h, err := history(s.TemporalClient, run.GetID(), run.GetRunID())
			if err != nil {
				t.Fatal(err)
			}
			c := costOf(h)
			costs[path.name] = c
			if path.unheard {
				pub = nil // nobody listened: the audit log alone has every event
			}
			checkEveryEventOnce(t, audit.events(t), pub)
			bound := costBound[path.name]
			if c.Events > bound.Events || c.Activities > bound.Activities {
				t.Errorf("a %s failover cost %d events and %d activities (%d of them publishing), bound %d and %d",
					path.name, c.Events, c.Activities, c.Publishing, bound.Events, bound.Activities)
			}
			// lean-*.json: the same paths before local-reads; cheap-*.json before scale-per-failover
			recordHistory(t, s, "local-"+path.name)
		})
	}
	for _, path := range paths {
		c := costs[path.name]
		t.Logf("%-14s %4d events %3d activities (%2d publishing) %3d local activities %3d workflow tasks %2d upserts %d timers",
			path.name, c.Events, c.Activities, c.Publishing, c.Local, c.WorkflowTasks, c.Upserts, c.Timers)
	}
}

// waitForDecision polls the status until the run waits for a decision.
func waitForDecision(t testing.TB, s *stack.Stack, id, runID string) {
	t.Helper()
	eventually(t, 30*time.Second, "waiting for approval", func() bool {
		v, err := s.TemporalClient.QueryWorkflow(context.Background(), id, runID, workflows.StatusQuery)
		var st workflows.Status
		return err == nil && v.Get(&st) == nil && st.Pending != nil
	})
}

// checkEveryEventOnce: the audit log holds seq 1..n exactly once each, ending with the outcome, and the publisher
// got the same n events in order.
func checkEveryEventOnce(t testing.TB, audited []activities.Event, pub *seenPublisher) {
	t.Helper()
	if len(audited) == 0 || audited[len(audited)-1].Type != activities.EventOutcome {
		t.Fatalf("audit log %d records, want the last one the outcome", len(audited))
	}
	for i, e := range audited {
		if e.Seq != i+1 {
			t.Fatalf("audit record %d has seq %d: a record is missing or written twice", i, e.Seq)
		}
	}
	if pub == nil {
		return
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if fmt.Sprint(pub.seqs) != fmt.Sprint(seqsOf(audited)) {
		t.Fatalf("publisher got events %v, want %v", pub.seqs, seqsOf(audited))
	}
}

func seqsOf(es []activities.Event) []int {
	out := make([]int, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}
