package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"
)

// A publisher may give up on an event (Slack down for longer than the retries, a rate limit longer than the
// activity has left). The failover goes on, but never silently: each event given up on is counted in
// failover_events_dropped_total{sink, reason} and written to the audit log as a record of type "dropped" naming
// the event (its Seq and type), the sink and why.

// EventDropped is the audit record of an event a publisher gave up on: Seq and Dropped name the event, Sink the
// publisher, Reason one of the Drop* reasons, Detail the last error.
const EventDropped = "dropped"

// Why a publisher gave up on an event: the reason label of failover_events_dropped_total.
const (
	DropRateLimited = "rate-limited" // the service asked to wait longer than the activity had left
	DropDeadline    = "deadline"     // the activity's time ran out (or the worker stopped) first
	DropFailed      = "failed"       // still failing after the retries
)

// MetricEventsDropped counts events a publisher gave up on, by sink and reason (observe.EventsDroppedTotal).
const MetricEventsDropped = "failover_events_dropped_total"

// Sink is implemented by publishers that name themselves in drop records ("slack"); others are named by type.
type Sink interface {
	Sink() string
}

func sinkOf(p Publisher) string {
	if s, ok := p.(Sink); ok {
		return s.Sink()
	}
	return fmt.Sprintf("%T", p)
}

func dropReason(ctx context.Context, err error) string {
	var limited *RateLimited
	switch {
	case errors.As(err, &limited):
		return DropRateLimited
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return DropDeadline
	}
	return DropFailed
}

// recordDrop counts and audits an event publisher p gave up on, and logs it.
func (a *Activities) recordDrop(ctx context.Context, p Publisher, e Event, err error) {
	sink, reason := sinkOf(p), dropReason(ctx, err)
	a.logger().Warn("event not delivered; the failover goes on, the audit log has it", "sink", sink, "reason", reason,
		"workflow", e.WorkflowID, "event", e.Type, "seq", e.Seq, "error", err)
	if activity.IsActivity(ctx) {
		activity.GetMetricsHandler(ctx).WithTags(map[string]string{"sink": sink, "reason": reason}).
			Counter(MetricEventsDropped).Inc(1)
	}
	if a.Audit == nil {
		return
	}
	rec := Event{Seq: e.Seq, Time: e.Time, Type: EventDropped, WorkflowID: e.WorkflowID, RunID: e.RunID,
		Service: e.Service, Kind: e.Kind, From: e.From, To: e.To, PlanHash: e.PlanHash, Channel: e.Channel,
		Sink: sink, Dropped: e.Type, Reason: reason, Detail: err.Error()}
	if werr := a.Audit.Write(rec); werr != nil {
		a.logger().Error("audit record of a dropped event not written", "sink", sink, "workflow", e.WorkflowID, "seq", e.Seq, "error", werr)
	}
}
