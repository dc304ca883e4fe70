package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/failover/failover/control"
	"github.com/failover/failover/follow"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/workflows"
)

// TestAcksAfterTheLocalWait: since local-reads a failover waits for its consumers' acks for a second inside its
// workflow task, then as an activity that heartbeats for the rest of etcd.ackTimeout. A consumer that acks after
// the second still lets the failover succeed (through the activity); one that never acks rolls it back once the
// whole ackTimeout has passed, with every change undone. RECORD_HISTORIES=1 records both (local-acks-*.json).
func TestAcksAfterTheLocalWait(t *testing.T) {
	for _, late := range []bool{true, false} {
		name := map[bool]string{true: "acked late", false: "never acked"}[late]
		t.Run(name, func(t *testing.T) {
			s := startStack(t)
			startWorker(t, s)
			fault(t, s, "us-east", `{"status":503}`)
			p := planWithoutPrometheus(s)
			p.Approval.Mode = plan.ApprovalAuto
			p.Etcd.RequiredConsumers = append(p.Etcd.RequiredConsumers, "slow-consumer")
			p.Etcd.AckTimeout = 3 * time.Second
			begin := time.Now()
			run, err := control.Start(context.Background(), s.TemporalClient, request(p, "us-east", "eu-west"))
			if err != nil {
				t.Fatal(err)
			}
			// The wait went on as an activity: the local second has passed without the slow consumer's ack.
			eventually(t, 30*time.Second, "WaitAcks scheduled as an activity", func() bool {
				h, err := history(s.TemporalClient, run.GetID(), run.GetRunID())
				return err == nil && scheduled(h, "WaitAcks")
			})
			if late {
				epoch := active(t, s).Value.Epoch
				ack, _ := json.Marshal(follow.Ack{Instance: "slow-consumer", Region: "eu-west", Epoch: epoch, Time: time.Now()})
				if _, err := s.EtcdClient.Put(context.Background(), follow.AckKey(p.Etcd.AckPrefix, "slow-consumer"), string(ack)); err != nil {
					t.Fatal(err)
				}
			}
			res := result(t, run)
			if late {
				wantOutcome(t, res, workflows.Succeeded)
				if st := active(t, s); st.Value.Region != "eu-west" {
					t.Fatalf("active region %s after a success", st.Value.Region)
				}
				recordHistory(t, s, "local-acks-late")
				return
			}
			wantOutcome(t, res, workflows.RolledBack)
			if !strings.Contains(res.Reason, "slow-consumer") {
				t.Fatalf("reason %q does not name the consumer that did not ack", res.Reason)
			}
			if took := time.Since(begin); took < p.Etcd.AckTimeout {
				t.Fatalf("rolled back after %s, before the whole ackTimeout of %s", took, p.Etcd.AckTimeout)
			}
			if st := active(t, s); st.Value.Region != "us-east" {
				t.Fatalf("active region %s after a rollback", st.Value.Region)
			}
			recordHistory(t, s, "local-acks-missing")
		})
	}
}

// TestSlowLocalProbe: since local-reads a single detection probe runs inside the workflow task. A source that hangs
// makes that probe last its whole timeout, longer than the workflow task's (2 s): the worker keeps the task alive,
// the probe times out, the source counts as down, and the failover goes on to succeed, with no probe scheduled as
// an activity.
func TestSlowLocalProbe(t *testing.T) {
	s := startStack(t)
	startWorker(t, s)
	fault(t, s, "us-east", `{"latency_ms":4000}`)
	p := planWithoutPrometheus(s)
	p.Approval.Mode = plan.ApprovalAuto
	p.Detection.Probes = 1
	p.Detection.ProbeTimeout = 3 * time.Second // longer than workflows.WorkflowTaskTimeout
	run, err := control.Start(context.Background(), s.TemporalClient, request(p, "us-east", "eu-west"))
	if err != nil {
		t.Fatal(err)
	}
	res := result(t, run)
	wantOutcome(t, res, workflows.Succeeded)
	if res.Steps[0].Name != workflows.StepDetect || res.Steps[0].Seconds() < p.Detection.ProbeTimeout.Seconds() {
		t.Fatalf("first step %+v: want detect lasting the probe's timeout", res.Steps[0])
	}
	h, err := history(s.TemporalClient, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	if scheduled(h, "ProbeHealth") {
		t.Fatal("a single probe was scheduled as an activity")
	}
}

// scheduled reports whether the history scheduled an activity of that type (not a local activity).
func scheduled(h *historypb.History, activityType string) bool {
	for _, e := range h.Events {
		if e.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
			e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == activityType {
			return true
		}
	}
	return false
}
