package workflows

import (
	"testing"
	"time"

	"github.com/uber-go/tally/v4"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

// Slack unreachable for a whole run: every Notify fails, the failover still succeeds, and every event the
// publishers never got is counted in failover_events_dropped_total{sink="publishers",reason="notify-failed"}
// (the audit log has all of them).
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
	if dropped == 0 || dropped != int64(len(f.events)) {
		t.Fatalf("%s{reason=%s} = %d, want every one of the %d audited events", metricDropped, dropActivityFailed, dropped, len(f.events))
	}
}
