package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/failover/failover/activities"
)

// Slack unreachable for a whole run: every Notify fails, the failover still succeeds, and every event the
// publishers never got is counted in failover_events_dropped_total{sink="publishers",reason="notify-failed"},
// and the audit log has each of them and a "dropped" record for each (auditDrops).
func TestEventsSlackNeverGotAreCounted(t *testing.T) {
	scope := tally.NewTestScope("", nil)
	s := &testsuite.WorkflowTestSuite{}
	s.SetMetricsHandler(sdktally.NewMetricsHandler(scope))
	env, f := newEnvOn(t, s)
	f.notifyErr = temporal.NewNonRetryableApplicationError("slack unreachable", "test", nil)
	p := testPlan()
	vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash(), Via: "cli"})
	wantOutcome(t, run(t, env, request(p)), Succeeded)
	var dropped int64
	for _, c := range scope.Snapshot().Counters() {
		if c.Name() == metricDropped && c.Tags()["sink"] == "publishers" && c.Tags()["reason"] == dropActivityFailed {
			dropped += c.Value()
		}
	}
	records := f.ofType(activities.EventDropped)
	audited := len(f.events) - len(records)
	if dropped == 0 || dropped != int64(audited) {
		t.Fatalf("%s{reason=%s} = %d, want every one of the %d audited events", metricDropped, dropActivityFailed, dropped, audited)
	}
	if len(records) != audited {
		t.Fatalf("%d dropped records in the audit log, want one for each of the %d events", len(records), audited)
	}
	seqs := map[int]bool{}
	for _, r := range records {
		if r.Sink != dropSink || r.Reason != dropActivityFailed || r.Dropped == "" || !strings.Contains(r.Detail, "slack unreachable") {
			t.Fatalf("dropped record %+v: want sink %s, reason %s, the event's type and the error", r, dropSink, dropActivityFailed)
		}
		seqs[r.Seq] = true
	}
	if len(seqs) != audited {
		t.Fatalf("dropped records name %d distinct events, want %d", len(seqs), audited)
	}
}

// Slack slower than the run's drain: the events still queued when the run closes are counted (drain-timeout) and
// each gets a dropped record in the audit log.
func TestEventsStillQueuedAtCloseAreAudited(t *testing.T) {
	env, f := newEnv(t)
	f.notifyCall.After(time.Hour)
	p := testPlan()
	vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash(), Via: "cli"})
	wantOutcome(t, run(t, env, request(p)), Succeeded)
	records := f.ofType(activities.EventDropped)
	if len(records) == 0 {
		t.Fatalf("no dropped records (notify batches %d): the events Slack never got before the run closed are not in the audit log", len(f.notified))
	}
	for _, r := range records {
		if r.Sink != dropSink || r.Reason != dropDrainTimeout || r.Dropped == "" {
			t.Fatalf("dropped record %+v: want sink %s, reason %s and the event's type", r, dropSink, dropDrainTimeout)
		}
	}
}
