package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/failover/failover/testsuite/freeport"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// workerProcess is one worker binary running as its own process, as in a deployment with several replicas.
type workerProcess struct {
	cmd     *exec.Cmd
	metrics string // its /metrics URL, the readiness endpoint the compose file and the k8s probes use
	exited  chan struct{}
}

// identityPrefix is how the worker appears in history events: the SDK's default identity is "<pid>@<host>@...".
func (w *workerProcess) identityPrefix() string { return strconv.Itoa(w.cmd.Process.Pid) + "@" }

// startReplica runs the worker binary as a deployment replica would: flags only, its metrics on its own port.
func startReplica(t *testing.T, bin string, s *stack.Stack) *workerProcess {
	t.Helper()
	port, err := freeport.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--temporal-address", s.Temporal.Address(), "--etcd-endpoints", s.Etcd.Endpoint(),
		"--kong-admin-url", s.Kong.AdminURL(), "--metrics-addr", addr, "--audit-log", os.DevNull)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerProcess{cmd: cmd, metrics: "http://" + addr + "/metrics", exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(w.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-w.exited
	})
	return w
}

// pollers lists the identities polling the failover task queue for workflow tasks.
func pollers(t *testing.T, s *stack.Stack) []string {
	t.Helper()
	resp, err := s.TemporalClient.DescribeTaskQueue(context.Background(), workflows.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range resp.GetPollers() {
		out = append(out, p.GetIdentity())
	}
	return out
}

func anyHasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// failoverHistory returns the failover's events so far.
func failoverHistory(t *testing.T, s *stack.Stack, id string) []*historypb.HistoryEvent {
	t.Helper()
	it := s.TemporalClient.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// doneBy is who did the work an event records: the worker that completed a workflow task, or the one whose
// attempt of an activity finished (Temporal writes ActivityTaskStarted together with the attempt's result).
// It is "" for other events, and for workflow tasks a worker started but never completed.
func doneBy(ev *historypb.HistoryEvent) string {
	if a := ev.GetWorkflowTaskCompletedEventAttributes(); a != nil {
		return a.GetIdentity()
	}
	if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
		return a.GetIdentity()
	}
	return ""
}

// TestTwoWorkersOneKilled is the scale-out drill: two worker processes share the task queue; once the reroute
// has started, the one that holds the failover (the last to complete a workflow task, so the one with it in its
// sticky cache) is killed with SIGKILL; the other finishes it. Nothing but Temporal and etcd carries the state
// over: the outcome is succeeded, the epoch was written exactly once, Kong ends 100/0 on the target, and every
// task after the kill was taken by the survivor.
func TestTwoWorkersOneKilled(t *testing.T) {
	bin := buildWorker(t)
	s := startStack(t)
	fault(t, s, "us-east", `{"status":503}`)
	p := planWithoutPrometheus(s)
	p.Traffic.StepPause = 2 * time.Second // the window in which the holder dies

	replicas := []*workerProcess{startReplica(t, bin, s), startReplica(t, bin, s)}
	eventually(t, 30*time.Second, "both replicas ready (/metrics) and polling the task queue", func() bool {
		polling := pollers(t, s)
		for _, w := range replicas {
			resp, err := http.Get(w.metrics)
			if err != nil {
				return false
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !anyHasPrefix(polling, w.identityPrefix()) {
				return false
			}
		}
		return true
	})

	begin := time.Now()
	run := start(t, s, request(p, "us-east", "eu-west"))
	eventually(t, 30*time.Second, "first reroute step (eu-west at 50)", func() bool { return weights(t, s)["eu-west"] == 50 })
	// The reroute step's completion reaches the workflow, which starts the step pause: whoever took that
	// workflow task holds the failover now.
	var holder, survivor *workerProcess
	eventually(t, 30*time.Second, "the step pause after the first reroute step", func() bool {
		evs := failoverHistory(t, s, run.GetID())
		timer := false
		for _, ev := range evs {
			timer = timer || ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED
		}
		if !timer {
			return false
		}
		for i := len(evs) - 1; i >= 0; i-- {
			if a := evs[i].GetWorkflowTaskCompletedEventAttributes(); a != nil {
				for j, w := range replicas {
					if strings.HasPrefix(a.GetIdentity(), w.identityPrefix()) {
						holder, survivor = w, replicas[1-j]
					}
				}
				break
			}
		}
		return holder != nil
	})
	if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-holder.exited
	killedAt := time.Since(begin)
	// Whatever the holder finished before it died is in the history by now.
	evs := failoverHistory(t, s, run.GetID())
	killedAfter := evs[len(evs)-1].GetEventId()
	before := map[string]int{}
	for _, ev := range evs {
		if id := doneBy(ev); id != "" {
			before[id]++
		}
	}
	t.Logf("tasks completed before the kill, by worker: %v", before)
	t.Logf("killed the holder (pid %d) %s after start, after event %d; survivor pid %d",
		holder.cmd.Process.Pid, killedAt.Round(time.Millisecond), killedAfter, survivor.cmd.Process.Pid)

	res := result(t, run)
	wantOutcome(t, res, workflows.Succeeded)
	t.Logf("failover succeeded %s after start (%s after the kill)", time.Since(begin).Round(time.Millisecond),
		(time.Since(begin) - killedAt).Round(time.Millisecond))
	if a := active(t, s); a.Value.Region != "eu-west" || a.Value.Epoch != 2 {
		t.Fatalf("etcd after: %+v", a.Value)
	}
	// Version counts writes since the key was created: the seed and exactly one cutover.
	resp, err := s.EtcdClient.Get(t.Context(), p.Etcd.ActiveKey)
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Version != 2 {
		t.Fatalf("active key %v (%v): want version 2, the cutover written once", resp.Kvs, err)
	}
	if w := weights(t, s); w["eu-west"] != 100 || w["us-east"] != 0 {
		t.Fatalf("kong after: %v", w)
	}
	var byHolder, bySurvivor []string
	final := failoverHistory(t, s, run.GetID())
	scheduled := map[int64]string{} // activity scheduled event → activity type
	for _, ev := range final {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		// What the dead worker held is retried only after its timeout: that, not the survivor, sets the delay.
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() > 1 {
			sched := a.GetScheduledEventId()
			t.Logf("activity %s (scheduled at event %d) finished on attempt %d after: %s", scheduled[sched], sched, a.GetAttempt(),
				a.GetLastFailure().GetMessage())
		}
		if a := ev.GetWorkflowTaskTimedOutEventAttributes(); a != nil {
			t.Logf("workflow task timed out (%s) at event %d", a.GetTimeoutType(), ev.GetEventId())
		}
	}
	for _, ev := range final {
		id := doneBy(ev)
		if id == "" || ev.GetEventId() <= killedAfter {
			continue
		}
		what := fmt.Sprintf("%d %s", ev.GetEventId(), ev.GetEventType())
		switch {
		case strings.HasPrefix(id, holder.identityPrefix()):
			byHolder = append(byHolder, what)
		case strings.HasPrefix(id, survivor.identityPrefix()):
			bySurvivor = append(bySurvivor, what)
		default:
			t.Errorf("event %s taken by %q, neither replica", what, id)
		}
	}
	if len(byHolder) > 0 {
		t.Errorf("the killed worker completed tasks after its death: %v", byHolder)
	}
	if len(bySurvivor) == 0 {
		t.Fatalf("the survivor completed no task after the kill: who finished the failover?")
	}
	t.Logf("after the kill the survivor completed %d tasks: %v", len(bySurvivor), bySurvivor)
	select {
	case <-survivor.exited:
		t.Fatalf("the survivor exited")
	default:
	}
}
