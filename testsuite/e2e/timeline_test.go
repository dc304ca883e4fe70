package e2e

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// timeline is where one failover's time went up to a moment (Kong 100 % in BenchmarkFailoverToKong), read from
// its history's event timestamps: the server writes them, on the same clock as the benchmark.
type timeline struct {
	Start        time.Duration // client's start call → first workflow task started (eager: in the start's answer)
	TaskWait     time.Duration // workflow tasks scheduled → started (the server hands the task to the worker)
	TaskRun      time.Duration // workflow tasks started → completed (the worker's code and its local activities)
	ActivityWait time.Duration // activities scheduled → started (eager: in the workflow task's answer)
	ActivityRun  time.Duration // activities started → completed (the call, and its answer to the server)
	Rest         time.Duration // what no span covers: the server between a completion and the next task
	Total        time.Duration
	// WorkflowTasks and Activities count what ran before the moment; each activity is a round trip to the server
	// and back, and each workflow task one more.
	WorkflowTasks, Activities, LocalActivities int
	Lines                                      []string // every event up to the moment, at its offset
}

// timelineOf reads h from begin (the client's start call) until until.
func timelineOf(h *historypb.History, begin, until time.Time) timeline {
	var tl timeline
	tl.Total = until.Sub(begin)
	var wftScheduled, wftStarted time.Time
	actScheduled := map[int64]time.Time{}
	actStarted := map[int64]time.Time{}
	for _, e := range h.Events {
		at := e.GetEventTime().AsTime()
		if at.After(until) {
			break
		}
		name := strings.TrimPrefix(e.GetEventType().String(), "EVENT_TYPE_")
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			wftScheduled = at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			wftStarted = at
			if tl.WorkflowTasks == 0 && tl.Start == 0 {
				tl.Start = at.Sub(begin)
			} else {
				tl.TaskWait += at.Sub(wftScheduled)
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			tl.TaskRun += at.Sub(wftStarted)
			tl.WorkflowTasks++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			actScheduled[e.GetEventId()] = at
			name += " " + e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			id := e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()
			actStarted[id] = at
			tl.ActivityWait += at.Sub(actScheduled[id])
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			id := e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()
			if id == 0 {
				id = e.GetActivityTaskFailedEventAttributes().GetScheduledEventId()
			}
			tl.ActivityRun += at.Sub(actStarted[id])
			tl.Activities++
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
	tl.Rest = tl.Total - tl.Start - tl.TaskWait - tl.TaskRun - tl.ActivityWait - tl.ActivityRun
	return tl
}

func (tl timeline) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("total %s = start %s + workflow tasks waiting %s + running %s (%d tasks, %d local activities) + "+
		"activities waiting %s + running %s (%d activities) + server between them %s",
		ms(tl.Total), ms(tl.Start), ms(tl.TaskWait), ms(tl.TaskRun), tl.WorkflowTasks, tl.LocalActivities,
		ms(tl.ActivityWait), ms(tl.ActivityRun), tl.Activities, ms(tl.Rest))
}
