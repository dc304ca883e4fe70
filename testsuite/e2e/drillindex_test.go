package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/workflows"
)

// TestDrillIndexBound checks the bound activities.DefaultDrillIndexMaxAge states, on the embedded Temporal: a
// worker pauses from its last list of schedules while that list is younger than its max age, so a drill schedule
// created meanwhile is not paused by it; once the list is older, the next pause lists again and pauses it; a
// resume always lists afresh, so it finds every schedule a pause held.
func TestDrillIndexBound(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startStack(t)
	p := planWithoutPrometheus(s)
	hold := func(run string) activities.DrillHold {
		return activities.DrillHold{Service: p.Service, DrillWorkflowID: workflows.DrillID(p.Service), Kind: workflows.KindFailover,
			WorkflowID: workflows.WorkflowID(p.Service), RunID: run, Since: time.Now()}
	}
	pause := func(acts *activities.Activities, run string) []string {
		t.Helper()
		res, err := acts.PauseDrillSchedules(ctx, hold(run))
		if err != nil {
			t.Fatalf("pause for %s: %v", run, err)
		}
		return res.Paused
	}
	kept := &activities.Activities{Temporal: s.TemporalClient, DrillIndexMaxAge: time.Hour}
	aged := &activities.Activities{Temporal: s.TemporalClient, DrillIndexMaxAge: 100 * time.Millisecond}
	for _, acts := range []*activities.Activities{kept, aged} {
		if paused := pause(acts, "run-0"); len(paused) > 0 {
			t.Fatalf("paused %v with no drill schedule", paused)
		}
	}

	req := workflows.DrillRequest{Plan: p, PlanHash: p.Hash(), From: "us-east", To: "eu-west", SkipFailback: true, By: "e2e"}
	id, err := control.CreateDrillSchedule(ctx, s.TemporalClient, control.DrillSchedule{Name: "weekly", Cron: "0 10 1 1 *"}, req, false)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, id+" listed by visibility", func() bool {
		e, err := control.ListDrillSchedules(ctx, s.TemporalClient)
		return err == nil && len(e) == 1
	})

	// Within its max age the worker pauses from the list it made before the schedule existed: the bound.
	if paused := pause(kept, "run-1"); len(paused) > 0 {
		t.Fatalf("a list younger than its max age paused %v: it was listed again", paused)
	}
	if schedulePaused(ctx, t, s.TemporalClient, id) {
		t.Fatalf("%s paused by a pause that did not know it", id)
	}
	// Past its max age the worker lists again.
	eventually(t, 30*time.Second, id+" paused once the list is older than its max age", func() bool {
		return slices.Equal(pause(aged, "run-2"), []string{id})
	})
	if !schedulePaused(ctx, t, s.TemporalClient, id) {
		t.Fatalf("%s not paused", id)
	}
	// A resume lists afresh: the worker whose list does not name the schedule still resumes it.
	res, err := kept.ResumeDrillSchedules(ctx, hold("run-2"))
	if err != nil || !slices.Equal(res.Resumed, []string{id}) {
		t.Fatalf("resume: %+v %v, want %s resumed", res, err, id)
	}
	if schedulePaused(ctx, t, s.TemporalClient, id) {
		t.Fatalf("%s still paused after the resume", id)
	}
}

func schedulePaused(ctx context.Context, t *testing.T, tc interface {
	ScheduleClient() client.ScheduleClient
}, id string) bool {
	t.Helper()
	desc, err := tc.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil || desc.Schedule.State == nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return desc.Schedule.State.Paused
}
