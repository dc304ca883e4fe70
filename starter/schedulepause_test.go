package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// schedState is a schedule's state as Temporal holds it now (not the lagging list).
func schedState(ctx context.Context, t *testing.T, s *stack.Stack, id string) client.ScheduleState {
	t.Helper()
	desc, err := s.TemporalClient.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil || desc.Schedule.State == nil {
		t.Fatalf("describe schedule %s: %v", id, err)
	}
	return *desc.Schedule.State
}

// holdOf is the hold a running failover puts on its service's drill schedules, as the workflow builds it.
func holdOf(ctx context.Context, t *testing.T, s *stack.Stack, service, workflowID string) activities.DrillHold {
	t.Helper()
	d, err := s.TemporalClient.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	info := d.GetWorkflowExecutionInfo()
	return activities.DrillHold{Service: service, DrillWorkflowID: workflows.DrillID(service), Kind: workflows.KindFailover,
		WorkflowID: workflowID, RunID: info.GetExecution().GetRunId(), Since: info.GetStartTime().AsTime()}
}

// TestRealFailoverPausesDrillSchedules, on the local stack through the CLI: a real failover of payments pauses
// payments' drill schedule with a note naming it, leaves one an operator paused and payments-a's alone, and
// resumes only its own when it ends. Then two overlapping incidents: the schedule stays paused until the last
// one ends, and a retried pause or resume changes nothing.
func TestRealFailoverPausesDrillSchedules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, p, file := manualStack(ctx, t, nil)
	pa := p
	pa.Service = "payments-a" // shares the prefix: drill-payments-a-weekly starts with drill-payments-
	fileA := writeStackPlan(t, pa)
	never := []string{"--cron", "0 10 1 1 *", "--to", "eu-west", "--no-failback", "--soak", "0s"} // Jan 1st: no firing here
	for _, c := range [][]string{{"weekly", file}, {"frozen", file}, {"weekly", fileA}} {
		if out, err := starter(t, s, append([]string{"drill", "schedule", "create", c[0], "--plan", c[1]}, never...)...); err != nil {
			t.Fatalf("create %v: %v %s", c, err, out)
		}
	}
	const weekly, frozen, other = "drill-payments-weekly", "drill-payments-frozen", "drill-payments-a-weekly"
	if _, err := starter(t, s, "drill", "schedule", "pause", frozen, "--note", "freeze INC-7"); err != nil {
		t.Fatal(err)
	}
	// A failover finds the schedules through Temporal's visibility, which lists a new schedule a moment later.
	drillWithin(t, 10*time.Second, "the three schedules listed", func() bool {
		e, err := control.ListDrillSchedules(ctx, s.TemporalClient)
		return err == nil && len(e) == 3
	})
	frozenUntouched := func() {
		t.Helper()
		if st := schedState(ctx, t, s, frozen); !st.Paused || st.Note != "freeze INC-7" {
			t.Fatalf("%s: %+v, want paused by hand with its note", frozen, st)
		}
	}
	active := func(id string) bool { return !schedState(ctx, t, s, id).Paused }
	heldBy := func(id string, runs ...string) bool {
		st := schedState(ctx, t, s, id)
		if !st.Paused || !strings.HasPrefix(st.Note, "paused automatically: real failover ") || strings.Count(st.Note, "(run ") != len(runs) {
			return false
		}
		for _, r := range runs {
			if !strings.Contains(st.Note, "(run "+r+") running since ") {
				return false
			}
		}
		return true
	}
	if err := region.InjectFault(s.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		t.Fatal(err)
	}

	// One incident: paused while it runs, resumed when it ends.
	if out, err := starter(t, s, "start", "--plan", file, "--to", "eu-west", "--as", "carol"); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	waitForApproval(t, s)
	first := holdOf(ctx, t, s, "payments", "failover-payments")
	drillWithin(t, 10*time.Second, weekly+" paused by failover-payments", func() bool { return heldBy(weekly, first.RunID) })
	frozenUntouched()
	if !active(other) {
		t.Fatalf("%s paused by a failover of payments", other)
	}
	out, err := starter(t, s, "drill", "schedule", "list")
	if err != nil || !strings.Contains(out, "paused automatically: real failover failover-payments (run "+first.RunID+") running since") {
		t.Fatalf("list does not show why %s is paused: %v\n%s", weekly, err, out)
	}
	acts := &activities.Activities{Temporal: s.TemporalClient}
	note := schedState(ctx, t, s, weekly).Note
	if _, err := acts.PauseDrillSchedules(ctx, first); err != nil || schedState(ctx, t, s, weekly).Note != note {
		t.Fatalf("a retried pause changed the note (%v): %q, was %q", err, schedState(ctx, t, s, weekly).Note, note)
	}
	if _, err := starter(t, s, "reject", "failover-payments", "--as", "alice"); err != nil {
		t.Fatal(err)
	}
	var res workflows.Result
	if err := s.TemporalClient.GetWorkflow(ctx, "failover-payments", first.RunID).Get(ctx, &res); err != nil || res.Outcome != workflows.Rejected {
		t.Fatalf("first failover: %+v %v", res, err)
	}
	recordDrillHistory(t, s, "failover-payments", first.RunID, "drill-schedules-paused")
	if st := schedState(ctx, t, s, weekly); st.Paused || !strings.Contains(st.Note, "resumed automatically: real failover failover-payments (run "+first.RunID+") ended") {
		t.Fatalf("%s after the failover ended: %+v, want resumed with a note", weekly, st)
	}
	frozenUntouched()
	if !active(other) {
		t.Fatalf("%s paused by a failover of payments", other)
	}

	// Two overlapping incidents: the second (failover-payments-a, standing in for any other run holding payments'
	// schedules) keeps weekly paused after the first ends.
	if _, err := starter(t, s, "start", "--plan", file, "--to", "eu-west", "--as", "carol"); err != nil {
		t.Fatal(err)
	}
	waitForApproval(t, s)
	second := holdOf(ctx, t, s, "payments", "failover-payments")
	drillWithin(t, 10*time.Second, weekly+" paused by the second failover", func() bool { return heldBy(weekly, second.RunID) })
	if _, err := starter(t, s, "start", "--plan", fileA, "--to", "eu-west", "--as", "carol"); err != nil {
		t.Fatal(err)
	}
	otherHold := holdOf(ctx, t, s, "payments-a", "failover-payments-a")
	drillWithin(t, 10*time.Second, other+" paused by failover-payments-a", func() bool { return heldBy(other, otherHold.RunID) })
	if !heldBy(weekly, second.RunID) {
		t.Fatalf("failover-payments-a changed %s: %+v", weekly, schedState(ctx, t, s, weekly))
	}
	overlap := otherHold
	overlap.Service, overlap.DrillWorkflowID = "payments", workflows.DrillID("payments")
	if _, err := acts.PauseDrillSchedules(ctx, overlap); err != nil || !heldBy(weekly, second.RunID, overlap.RunID) {
		t.Fatalf("a second hold on %s (%v): %+v", weekly, err, schedState(ctx, t, s, weekly))
	}
	if _, err := starter(t, s, "reject", "failover-payments", "--as", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.TemporalClient.GetWorkflow(ctx, "failover-payments", second.RunID).Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if !heldBy(weekly, overlap.RunID) {
		t.Fatalf("%s after the first of two incidents ended: %+v, want still paused for the other", weekly, schedState(ctx, t, s, weekly))
	}
	drillWithin(t, 30*time.Second, "failover-payments-a waits for approval", func() bool {
		v, err := s.TemporalClient.QueryWorkflow(ctx, "failover-payments-a", otherHold.RunID, workflows.StatusQuery)
		var st workflows.Status
		return err == nil && v.Get(&st) == nil && st.Pending != nil
	})
	if _, err := starter(t, s, "reject", "failover-payments-a", "--as", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.TemporalClient.GetWorkflow(ctx, "failover-payments-a", otherHold.RunID).Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if !active(other) {
		t.Fatalf("%s not resumed by its own failover: %+v", other, schedState(ctx, t, s, other))
	}
	// The other hold's run has ended without releasing weekly (it only stood in for a second incident of payments):
	// a retried resume of the second failover finds it ended and resumes.
	if r, err := acts.ResumeDrillSchedules(ctx, second); err != nil || !active(weekly) || len(r.Resumed) != 1 || r.Resumed[0] != weekly {
		t.Fatalf("resume after both ended (%v): %+v %+v", err, r, schedState(ctx, t, s, weekly))
	}
	frozenUntouched()
	if r, err := acts.ResumeDrillSchedules(ctx, second); err != nil || len(r.Resumed)+len(r.StillHeld) != 0 || !active(weekly) {
		t.Fatalf("a retried resume: %+v %v", r, err)
	}
}
