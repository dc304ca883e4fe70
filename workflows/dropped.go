package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// auditDrops is the change ID under which events the publishers never got (the Notify activity failed for good,
// or the run closed with events still queued) are written to the audit log as "dropped" records, as the Notify
// activity already does for each event Slack refused. Before it they were only counted.
const auditDrops = "audit-workflow-drops"

// auditDropped writes one "dropped" audit record per event the publishers never got (sink "publishers"), with
// why. The audit log keys dropped records by sink, so a retry or the event's own record never doubles them.
func (f *failover) auditDropped(ctx workflow.Context, events []activities.Event, reason, detail string) {
	if len(events) == 0 || workflow.GetVersion(ctx, auditDrops, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	records := make([]activities.Event, 0, len(events))
	for _, e := range events {
		records = append(records, activities.Event{Seq: e.Seq, Time: e.Time, Type: activities.EventDropped,
			WorkflowID: e.WorkflowID, RunID: e.RunID, Service: e.Service, Kind: e.Kind, From: e.From, To: e.To,
			PlanHash: e.PlanHash, Channel: e.Channel, Drill: e.Drill,
			Sink: dropSink, Dropped: e.Type, Reason: reason, Detail: detail})
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	var err error
	if f.cheap {
		err = workflow.ExecuteLocalActivity(auditingLocally(ctx, "audit dropped events"), a.RecordAudit, records).Get(ctx, nil)
	} else {
		err = workflow.ExecuteActivity(auditing(ctx, "audit dropped events"), a.RecordAudit, records).Get(ctx, nil)
	}
	if err != nil {
		workflow.GetLogger(ctx).Error("audit records of dropped events not written", "error", err, "events", len(records))
	}
}
