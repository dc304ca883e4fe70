package activities

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// A real failover pauses its service's drill schedules while it runs and resumes them when it ends, so no drill
// fires into an incident. The schedule's note says who holds it paused, and is the only record of it: a hold is
// "real <kind> <workflow ID> (run <run ID>) running since <time>". Only a schedule whose note is such a hold is
// ever resumed, so one an operator paused (or paused again, which replaces the note) stays paused. Each run adds
// and removes only its own hold, by run ID, so a retry after a crash changes nothing, and a schedule resumes only
// when no hold is left whose run still runs (a run that was terminated cannot remove its hold: the next failover
// of the service drops it).

// EventDrillSchedules is the event of a real failover that paused or resumed its service's drill schedules (or
// could not): Result is one of the DrillSchedules* results, Detail which schedules (DrillHoldResult.String).
const EventDrillSchedules = "drill-schedules"

// Results of an EventDrillSchedules.
const (
	DrillSchedulesPaused  = "paused"
	DrillSchedulesResumed = "resumed"
	DrillSchedulesFailed  = "failed" // the pause or resume gave up: Detail says what to do
)

// DrillHold names the failover run that holds its service's drill schedules paused.
type DrillHold struct {
	Service string `json:"service"`
	// DrillWorkflowID is the workflow ID the service's drill schedules start (workflows.DrillID): a schedule is the
	// service's when its action starts exactly that ID, so drill-svc-a-weekly is not svc's.
	DrillWorkflowID string    `json:"drill_workflow_id"`
	Kind            string    `json:"kind"` // failover or failback
	WorkflowID      string    `json:"workflow_id"`
	RunID           string    `json:"run_id"`
	Since           time.Time `json:"since"`
}

// DrillHoldResult says what became of the service's drill schedules.
type DrillHoldResult struct {
	// Paused: held paused by this run now (paused by it, or already paused automatically and joined).
	Paused []string `json:"paused,omitempty"`
	// Resumed: no hold left, resumed.
	Resumed []string `json:"resumed,omitempty"`
	// StillHeld: still paused for another running failover of the service.
	StillHeld []string `json:"still_held,omitempty"`
	// ByHand: paused by someone else (an operator, or at creation): left as they are.
	ByHand []string `json:"by_hand,omitempty"`
}

// Held reports whether this run may have left a hold on any schedule, so it must release them at its end.
func (r DrillHoldResult) Held() bool { return len(r.Paused) > 0 }

// String is the result in one line, for the audit log and Slack.
func (r DrillHoldResult) String() string {
	var parts []string
	for _, p := range []struct {
		what string
		ids  []string
	}{
		{"paused while this failover runs (they resume when it ends)", r.Paused},
		{"resumed", r.Resumed},
		{"still paused for another running failover", r.StillHeld},
		{"paused by hand, left paused", r.ByHand},
	} {
		if len(p.ids) > 0 {
			parts = append(parts, p.what+": "+strings.Join(p.ids, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

const (
	holdNotePrefix = "paused automatically: "
	holdNoteTail   = ". Resumes when the failover ends (starter drill schedule pause keeps it paused)"
	holdSeparator  = "; "
)

var holdPattern = regexp.MustCompile(`^real (\S+) (\S+) \(run (\S+)\) running since (\S+)$`)

func (h DrillHold) String() string {
	return fmt.Sprintf("real %s %s (run %s) running since %s", h.Kind, h.WorkflowID, h.RunID, h.Since.UTC().Format(time.RFC3339))
}

// holdNote is the note of a schedule held paused by holds (at least one).
func holdNote(holds []DrillHold) string {
	parts := make([]string, len(holds))
	for i, h := range holds {
		parts[i] = h.String()
	}
	return holdNotePrefix + strings.Join(parts, holdSeparator) + holdNoteTail
}

// parseHoldNote reads the holds back from a note holdNote wrote; ok is false for any other note.
func parseHoldNote(note string) (holds []DrillHold, ok bool) {
	rest, ok := strings.CutPrefix(note, holdNotePrefix)
	if !ok {
		return nil, false
	}
	if rest, ok = strings.CutSuffix(rest, holdNoteTail); !ok {
		return nil, false
	}
	for _, part := range strings.Split(rest, holdSeparator) {
		m := holdPattern.FindStringSubmatch(part)
		if m == nil {
			return nil, false
		}
		since, err := time.Parse(time.RFC3339, m[4])
		if err != nil {
			return nil, false
		}
		holds = append(holds, DrillHold{Kind: m[1], WorkflowID: m[2], RunID: m[3], Since: since})
	}
	return holds, len(holds) > 0
}

func (h DrillHold) same(o DrillHold) bool { return h.WorkflowID == o.WorkflowID && h.RunID == o.RunID }

// PauseDrillSchedules pauses the service's active drill schedules with this run's hold in the note, and adds the
// hold to those already paused automatically (dropping holds of runs that ended). Schedules paused otherwise are
// left alone. Running it again changes nothing. It finds the service's schedules in the worker's last list of
// them while that is younger than DrillIndexMaxAge (drillindex.go, which states the bound).
func (a *Activities) PauseDrillSchedules(ctx context.Context, in DrillHold) (DrillHoldResult, error) {
	var res DrillHoldResult
	err := a.eachDrillSchedule(ctx, in, false, func(h client.ScheduleHandle, state client.ScheduleState) error {
		holds, auto := parseHoldNote(state.Note)
		if state.Paused && !auto {
			res.ByHand = append(res.ByHand, h.GetID())
			return nil
		}
		res.Paused = append(res.Paused, h.GetID())
		if state.Paused && slices.ContainsFunc(holds, in.same) {
			return nil // a retry: already held by this run
		}
		holds = append(a.runningHolds(ctx, holds, in), in)
		return h.Pause(ctx, client.SchedulePauseOptions{Note: holdNote(holds)})
	})
	return res, err
}

// ResumeDrillSchedules removes this run's hold from the service's drill schedules, and resumes those that no
// running failover holds any more. Schedules paused otherwise are left alone. Running it again changes nothing.
func (a *Activities) ResumeDrillSchedules(ctx context.Context, in DrillHold) (DrillHoldResult, error) {
	var res DrillHoldResult
	err := a.eachDrillSchedule(ctx, in, true, func(h client.ScheduleHandle, state client.ScheduleState) error {
		holds, auto := parseHoldNote(state.Note)
		switch {
		case !state.Paused:
			return nil
		case !auto:
			res.ByHand = append(res.ByHand, h.GetID())
			return nil
		}
		left := a.runningHolds(ctx, holds, in)
		if len(left) > 0 {
			res.StillHeld = append(res.StillHeld, h.GetID())
			if len(left) == len(holds) {
				return nil
			}
			return h.Pause(ctx, client.SchedulePauseOptions{Note: holdNote(left)})
		}
		res.Resumed = append(res.Resumed, h.GetID())
		return h.Unpause(ctx, client.ScheduleUnpauseOptions{
			Note: fmt.Sprintf("resumed automatically: real %s %s (run %s) ended", in.Kind, in.WorkflowID, in.RunID)})
	})
	return res, err
}

// runningHolds is holds without the caller's own and without those whose run has ended. A run that cannot be
// described is kept: better a drill skipped than one fired into an incident.
func (a *Activities) runningHolds(ctx context.Context, holds []DrillHold, self DrillHold) []DrillHold {
	var out []DrillHold
	for _, h := range holds {
		if h.same(self) {
			continue
		}
		desc, err := a.Temporal.DescribeWorkflowExecution(ctx, h.WorkflowID, h.RunID)
		var notFound *serviceerror.NotFound
		switch {
		case errors.As(err, &notFound):
			continue
		case err == nil && desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			continue
		case err != nil:
			a.logger().Warn("drill schedules: cannot tell whether the run holding them paused still runs; keeping its hold",
				"workflow", h.WorkflowID, "run", h.RunID, "error", err)
		}
		out = append(out, h)
	}
	return out
}

// eachDrillSchedule calls fn with each of the service's drill schedules and its current state (described, not
// listed: the list lags behind). Visibility lists a schedule a moment after its creation. Which schedules are the
// service's comes from the worker's last list of them unless fresh (drillindex.go).
func (a *Activities) eachDrillSchedule(ctx context.Context, in DrillHold, fresh bool, fn func(client.ScheduleHandle, client.ScheduleState) error) error {
	if in.DrillWorkflowID == "" {
		return badInput("drill schedules of %q: no drill workflow ID", in.Service)
	}
	if a.Temporal == nil {
		a.logger().Warn("drill schedules: this worker has no Temporal client; not pausing or resuming them", "service", in.Service)
		return nil
	}
	sc := a.Temporal.ScheduleClient()
	ids, err := a.drillScheduleIDs(ctx, sc, in.DrillWorkflowID+"-", fresh)
	if err != nil {
		return err
	}
	slices.Sort(ids)
	var errs []error
	for _, id := range ids {
		h := sc.GetHandle(ctx, id)
		desc, err := h.Describe(ctx)
		var notFound *serviceerror.NotFound
		switch {
		case errors.As(err, &notFound):
			continue // deleted meanwhile
		case err != nil:
			errs = append(errs, fmt.Errorf("describe schedule %s: %w", id, err))
			continue
		}
		action, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
		if !ok || action.ID != in.DrillWorkflowID || desc.Schedule.State == nil {
			continue // another service's (drill-svc-a-... when the service is svc), or not a drill
		}
		if err := fn(h, *desc.Schedule.State); err != nil {
			errs = append(errs, fmt.Errorf("schedule %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}
