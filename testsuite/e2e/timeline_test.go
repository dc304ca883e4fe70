package e2e

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// timeline is where one failover's time went up to a moment (Kong 100 % in BenchmarkFailoverToKong), read from
// its history's event timestamps: the server writes them, on the same clock as the benchmark. The spans partition
// the time: at every moment the run is starting, waiting for a workflow task, running one, or waiting for what its
// last workflow task scheduled (activities, and the server's work before the next workflow task).
type timeline struct {
	Start    time.Duration // client's start call → first workflow task started (eager: in the start's answer)
	TaskWait time.Duration // workflow tasks scheduled → started (the server hands the task to the worker)
	TaskRun  time.Duration // workflow tasks started → completed (the worker's code and its local activities)
	Awaiting time.Duration // workflow task completed → the next one scheduled (its activities, their answers)
	Total    time.Duration
	// WorkflowTasks, Activities and LocalActivities count what ran before the moment: each activity on the path
	// costs a wait for its answer and one more workflow task.
	WorkflowTasks, Activities, LocalActivities int
	Lines                                      []string // every event up to the moment, at its offset
}

// timelineOf reads h from begin (the client's start call) until until.
func timelineOf(h *historypb.History, begin, until time.Time) timeline {
	var tl timeline
	tl.Total = until.Sub(begin)
	var wftScheduled, wftStarted, wftCompleted time.Time
	for _, e := range h.Events {
		at := e.GetEventTime().AsTime()
		if at.After(until) {
			break
		}
		name := strings.TrimPrefix(e.GetEventType().String(), "EVENT_TYPE_")
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			wftScheduled = at
			if !wftCompleted.IsZero() {
				tl.Awaiting += at.Sub(wftCompleted)
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			wftStarted = at
			if tl.Start == 0 {
				tl.Start = at.Sub(begin)
			} else {
				tl.TaskWait += at.Sub(wftScheduled)
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			wftCompleted = at
			tl.TaskRun += at.Sub(wftStarted)
			tl.WorkflowTasks++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			tl.Activities++
			name += " " + e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if m := e.GetMarkerRecordedEventAttributes(); m.GetMarkerName() == "LocalActivity" {
				tl.LocalActivities++
				name += " LocalActivity"
			} else {
				name += " " + m.GetMarkerName()
			}
		}
		tl.Lines = append(tl.Lines, fmt.Sprintf("%7.1f ms  %s", float64(at.Sub(begin).Microseconds())/1000, name))
	}
	return tl
}

func (tl timeline) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("total %s = start %s + workflow tasks waiting %s + running %s (%d tasks, %d local activities) + "+
		"awaiting activities %s (%d activities)",
		ms(tl.Total), ms(tl.Start), ms(tl.TaskWait), ms(tl.TaskRun), tl.WorkflowTasks, tl.LocalActivities,
		ms(tl.Awaiting), tl.Activities)
}
