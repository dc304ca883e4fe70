package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/workflows"
)

// TestDrillScheduleFiresAndPauses: a drill schedule on the embedded Temporal server fires a real drill (a forced
// switchover without failback, auto-approved), shows in the list, pauses, and is deleted; bad input is refused with
// the flag and the fix.
func TestDrillScheduleFiresAndPauses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, _, file := manualStack(ctx, t, func(p *plan.Plan) { p.Approval.Mode = plan.ApprovalAuto })
	drill := []string{"--plan", file, "--to", "eu-west", "--no-failback", "--soak", "0s"}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{append([]string{"drill", "schedule", "create", "weekly", "--cron", "every tuesday"}, drill...), "--cron \"every tuesday\": write five fields"},
		{append([]string{"drill", "schedule", "create", "weekly", "--cron", "0 10 * * XYZ"}, drill...), "--cron \"0 10 * * XYZ\": Temporal refused it"},
		{append([]string{"drill", "schedule", "create", "weekly"}, drill...), "--cron or --every: give exactly one"},
		{[]string{"drill", "schedule", "create", "weekly", "--every", "1h", "--plan", "nowhere.yaml", "--to", "eu-west"}, "read plan: open nowhere.yaml: no such file"},
		{[]string{"drill", "schedule", "pause", "drill-payments-nope"}, "schedule drill-payments-nope: not found"},
	} {
		if _, err := starter(t, s, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}

	out, err := starter(t, s, append([]string{"drill", "schedule", "create", "ci", "--every", "2s"}, drill...)...)
	if err != nil || !strings.Contains(out, "schedule drill-payments-ci created (active)") {
		t.Fatalf("create: %v %s", err, out)
	}
	list := func() []control.DrillScheduleEntry {
		out, err := starter(t, s, "drill", "schedule", "list", "--format", "json")
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		var entries []control.DrillScheduleEntry
		if err := json.Unmarshal([]byte(out), &entries); err != nil {
			t.Fatalf("list: %v: %s", err, out)
		}
		return entries
	}
	var fired string
	drillWithin(t, 30*time.Second, "the schedule fires a drill", func() bool {
		entries := list()
		if len(entries) == 1 && len(entries[0].LastRuns) > 0 {
			fired = entries[0].LastRuns[0]
		}
		return fired != ""
	})
	// Pause while the first drill runs (its overlap skips the firings meanwhile), so it stays the only one.
	if out, err := starter(t, s, "drill", "schedule", "pause", "drill-payments-ci", "--note", "incident INC-42"); err != nil || !strings.Contains(out, "paused") {
		t.Fatalf("pause: %v %s", err, out)
	}
	// The list reads Temporal's visibility, which catches up with the pause a moment later.
	drillWithin(t, 10*time.Second, "the list shows the schedule paused", func() bool {
		e := list()
		return len(e) == 1 && e[0].Paused && e[0].Spec == "every 2s"
	})
	var res workflows.DrillResult
	if err := s.TemporalClient.GetWorkflow(ctx, fired, "").Get(ctx, &res); err != nil {
		t.Fatalf("drill %s: %v", fired, err)
	}
	if !strings.HasPrefix(fired, "drill-payments-") || res.Verdict != workflows.DrillPassed || len(res.Phases) != 1 ||
		res.Phases[0].Outcome != workflows.Succeeded {
		t.Fatalf("scheduled drill %s: %+v", fired, res)
	}
	text, err := starter(t, s, "drill", "schedule", "list")
	if err != nil || !strings.Contains(text, "drill-payments-ci") || !strings.Contains(text, "paused") {
		t.Fatalf("list: %v\n%s", err, text)
	}
	if _, err := starter(t, s, "drill", "schedule", "delete", "drill-payments-ci"); err != nil {
		t.Fatal(err)
	}
	drillWithin(t, 10*time.Second, "the list no longer shows the deleted schedule", func() bool { return len(list()) == 0 })
}
