package slackbot

import (
	"strings"
	"testing"

	"github.com/failover/failover/activities"
)

// TestDrillSchedulesReply: a real failover's pause and resume of its drill schedules is a line in its thread.
func TestDrillSchedulesReply(t *testing.T) {
	for _, tc := range []struct {
		result, want string
	}{
		{activities.DrillSchedulesPaused, "⏸️ *Drill schedules*: paused while this failover runs"},
		{activities.DrillSchedulesResumed, "▶️ *Drill schedules*: paused while this failover runs"},
		{activities.DrillSchedulesFailed, "⚠️ *Drill schedules*: paused while this failover runs"},
	} {
		r, ok := replyFor(activities.Event{Type: activities.EventDrillSchedules, Result: tc.result,
			Detail: "paused while this failover runs (they resume when it ends): drill-payments-weekly"})
		if !ok || !strings.HasPrefix(r.text, tc.want) || !strings.Contains(r.text, "drill-payments-weekly") || r.broadcast {
			t.Errorf("%s: reply %+v %v", tc.result, r, ok)
		}
	}
}
