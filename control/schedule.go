package control

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/failover/failover/workflows"
)

// DrillSchedule is when a service's drill runs: a cron expression or an interval, never both.
type DrillSchedule struct {
	// Name tells the schedules of one service apart; the schedule's ID is drill-<service>-<name>.
	Name  string
	Cron  string
	Every time.Duration
}

var scheduleName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,40}$`)

// Validate checks the schedule's shape; Temporal checks the cron expression itself when it is created.
func (s DrillSchedule) Validate() error {
	var errs []error
	if !scheduleName.MatchString(s.Name) {
		errs = append(errs, fmt.Errorf("NAME %q: use lower-case letters, digits and dashes, e.g. weekly", s.Name))
	}
	switch {
	case (s.Cron == "") == (s.Every == 0):
		errs = append(errs, errors.New("--cron or --every: give exactly one, e.g. --cron '0 10 * * TUE' or --every 168h"))
	case s.Every < 0:
		errs = append(errs, fmt.Errorf("--every %s: give a positive interval, e.g. 168h", s.Every))
	case s.Cron != "" && len(strings.Fields(s.Cron)) != 5 && !strings.HasPrefix(s.Cron, "@"):
		errs = append(errs, fmt.Errorf("--cron %q: write five fields (minute hour day-of-month month day-of-week), e.g. '0 10 * * TUE', or @daily, @weekly", s.Cron))
	}
	return errors.Join(errs...)
}

// DrillScheduleID is the schedule's ID.
func DrillScheduleID(service, name string) string { return workflows.DrillID(service) + "-" + name }

// CreateDrillSchedule creates a Temporal Schedule that starts the drill at the schedule's times. A firing while the
// previous drill still runs is skipped (overlap skip). A real failover of the service pauses the schedule while it
// runs and resumes it when it ends (workflows/drillpause.go); a drill that fires anyway (the failover could not
// pause it) refuses by itself and injects nothing. The Web UI's Schedules page shows it.
func CreateDrillSchedule(ctx context.Context, tc client.Client, s DrillSchedule, req workflows.DrillRequest, paused bool) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	id := DrillScheduleID(req.Plan.Service, s.Name)
	req.By = "schedule " + id
	start := DrillOptions(req)
	spec := client.ScheduleSpec{}
	if s.Cron != "" {
		spec.CronExpressions = []string{s.Cron}
	} else {
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: s.Every}}
	}
	_, err := tc.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   id,
		Spec: spec,
		Action: &client.ScheduleWorkflowAction{ID: start.ID, Workflow: workflows.Drill, Args: []any{req}, TaskQueue: start.TaskQueue,
			WorkflowTaskTimeout: start.WorkflowTaskTimeout, TypedSearchAttributes: start.TypedSearchAttributes,
			StaticSummary: start.StaticSummary, StaticDetails: start.StaticDetails},
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Paused:  paused,
		Note:    fmt.Sprintf("drill of %s %s → %s, plan %s", req.Plan.Service, req.From, req.To, req.PlanHash),
	})
	var invalid *serviceerror.InvalidArgument
	switch {
	case errors.Is(err, temporal.ErrScheduleAlreadyRunning):
		return "", fmt.Errorf("schedule %s exists: delete it first (starter drill schedule delete %s), or pick another NAME", id, id)
	case errors.As(err, &invalid) && s.Cron != "":
		return "", fmt.Errorf("--cron %q: Temporal refused it (%s): write five fields, e.g. '0 10 * * TUE'", s.Cron, invalid.Message)
	case err != nil:
		return "", fmt.Errorf("create schedule %s: %w", id, err)
	}
	return id, nil
}

// DrillScheduleEntry is one drill schedule, as `starter drill schedule list` shows it.
type DrillScheduleEntry struct {
	ID       string      `json:"id"`
	Spec     string      `json:"spec"`
	Paused   bool        `json:"paused"`
	Note     string      `json:"note,omitempty"`
	Next     []time.Time `json:"next,omitempty"`
	LastRuns []string    `json:"last_runs,omitempty"` // workflow IDs of the latest drills it started
}

// ListDrillSchedules lists the namespace's drill schedules (those whose action is the Drill workflow).
func ListDrillSchedules(ctx context.Context, tc client.Client) ([]DrillScheduleEntry, error) {
	it, err := tc.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 100})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var out []DrillScheduleEntry
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		if e.WorkflowType.Name != "Drill" {
			continue
		}
		d := DrillScheduleEntry{ID: e.ID, Paused: e.Paused, Note: e.Note, Next: e.NextActionTimes, Spec: specString(e.Spec)}
		// The list (Temporal's visibility) lags a pause by a moment; the schedule itself does not.
		if desc, err := tc.ScheduleClient().GetHandle(ctx, e.ID).Describe(ctx); err == nil && desc.Schedule.State != nil {
			d.Paused, d.Note = desc.Schedule.State.Paused, desc.Schedule.State.Note
		}
		for _, a := range e.RecentActions {
			if a.StartWorkflowResult != nil {
				d.LastRuns = append(d.LastRuns, a.StartWorkflowResult.WorkflowID)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

func specString(s *client.ScheduleSpec) string {
	if s == nil {
		return "?"
	}
	var parts []string
	for _, i := range s.Intervals {
		parts = append(parts, "every "+i.Every.String())
	}
	for _, c := range s.CronExpressions {
		parts = append(parts, "cron "+c)
	}
	if len(parts) == 0 && len(s.Calendars) > 0 {
		parts = append(parts, fmt.Sprintf("%d calendar spec(s)", len(s.Calendars)))
	}
	return strings.Join(parts, ", ")
}

// PauseDrillSchedule pauses (or with resume, unpauses) a drill schedule, with a note saying why.
func PauseDrillSchedule(ctx context.Context, tc client.Client, id, note string, resume bool) error {
	h := tc.ScheduleClient().GetHandle(ctx, id)
	var err error
	if resume {
		err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
	} else {
		err = h.Pause(ctx, client.SchedulePauseOptions{Note: note})
	}
	if IsNotFound(err) {
		return fmt.Errorf("schedule %s: not found: see starter drill schedule list", id)
	}
	return err
}

// DeleteDrillSchedule deletes a drill schedule; drills it started keep running.
func DeleteDrillSchedule(ctx context.Context, tc client.Client, id string) error {
	err := tc.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
	if IsNotFound(err) {
		return fmt.Errorf("schedule %s: not found: see starter drill schedule list", id)
	}
	return err
}
