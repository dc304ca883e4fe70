package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// An evacuation writes its own records to the audit log, through the same RecordAudit local activity as a
// failover: its start, each decision about the whole evacuation, each blast-radius hold, the waiver of per-service
// approvals and its end (activities.EventEvacuation*). One record each, never one per service: its failovers
// audit themselves, so 5,000 services add a handful of records. The records are numbered across continue-as-new
// (EvacuationCarry.AuditSeq) and written before a run hands over or ends, so each is written exactly once per
// (workflow_id, run_id, seq), and none is lost between runs.

// evacuationAudit is the workflow.GetVersion change ID of the evacuation's audit records; runs started before it
// write none.
const evacuationAudit = "evacuation-audit"

// maxAuditedLeft bounds the services an evacuation's end record lists as not succeeded; the status query (and
// each failover's own records) have every one.
const maxAuditedLeft = 100

// evacuationAuditLog is the run's queue of audit records.
type evacuationAuditLog struct {
	on      bool
	queue   []activities.Event
	writing bool
}

// startAudit starts the coroutine that writes the queued records (when the run is new enough to), in order, in
// batches of what queued meanwhile; it retries without limit, as a failover's audit coroutine does.
func (e *evacuation) startAudit(ctx workflow.Context) {
	if workflow.GetVersion(ctx, evacuationAudit, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	e.audit.on = true
	ctx, _ = workflow.NewDisconnectedContext(ctx) // a cancelled evacuation still records its decisions and its end
	l := &e.audit
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			_ = workflow.Await(ctx, func() bool { return len(l.queue) > 0 })
			n := min(len(l.queue), eventBatch)
			batch := l.queue[:n:n]
			l.queue, l.writing = l.queue[n:], true
			if err := workflow.ExecuteLocalActivity(auditingLocally(ctx, "audit the evacuation"), a.RecordAudit, batch).Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Error("evacuation audit records not written; trying again in a minute", "error", err, "first_seq", batch[0].Seq)
				l.queue = append(batch, l.queue...)
				_ = sleep(ctx, time.Minute, "audit retry in 1m")
			}
			l.writing = false
		}
	})
}

// record queues an audit record, filling in what every record of the evacuation names.
func (e *evacuation) record(ctx workflow.Context, ev activities.Event) {
	if !e.audit.on {
		return
	}
	e.carry.AuditSeq++
	from, to := e.regions()
	ev.Seq, ev.Time = e.carry.AuditSeq, workflow.Now(ctx)
	ev.WorkflowID, ev.RunID = e.id, workflow.GetInfo(ctx).WorkflowExecution.RunID
	ev.Kind, ev.From, ev.To, ev.PlanHash, ev.Channel = e.req.Kind, from, to, e.req.Hash, e.req.Approval.SlackChannel
	e.audit.queue = append(e.audit.queue, ev)
}

// audited waits until every queued record is written: before the run continues as new or ends.
func (e *evacuation) audited(ctx workflow.Context) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(ctx, func() bool { return len(e.audit.queue) == 0 && !e.audit.writing })
}

// recordStart records who or what started the evacuation and its scope (the first run only).
func (e *evacuation) recordStart(ctx workflow.Context) {
	if e.req.Carry != nil {
		return
	}
	waves := make([]string, len(e.req.Waves))
	for i, w := range e.req.Waves {
		waves[i] = fmt.Sprintf("%s (concurrency %d)", w.Name, w.Concurrency)
	}
	ap := e.req.Approval
	detail := fmt.Sprintf("%s of %d services %s %s in %d waves: %s; approval %s, quorum %d, perService %s",
		e.req.Kind, len(e.svc), e.direction(), e.req.Region, len(waves), strings.Join(waves, ", "), ap.Mode, ap.Quorum,
		orDefault(ap.PerService, "keep"))
	if bl := e.blastLimit(); bl != "" {
		detail += "; blast radius " + bl
	}
	if e.req.Force {
		detail += "; force"
	}
	var evidence []string
	for _, al := range e.req.Evidence {
		evidence = append(evidence, fmt.Sprintf("%s %s %s", al.Alertname, al.Status, al.Fingerprint))
	}
	e.record(ctx, activities.Event{Type: activities.EventEvacuationStarted, Actor: e.req.Trigger.By, Via: e.req.Trigger.Source,
		Detail: detail, Reason: e.triggerText(), Services: len(e.svc), Evidence: evidence})
}

// recordDecision records a decision about the whole evacuation; released is the hold a resume lifted.
func (e *evacuation) recordDecision(ctx workflow.Context, ap Approval, state DecisionState, released string) {
	detail := ap.Comment
	if released != "" {
		detail = strings.TrimPrefix(detail+"; released: "+released, "; ")
	}
	e.record(ctx, activities.Event{Type: activities.EventEvacuationDecision, Step: string(e.step), DecisionKind: string(ap.For),
		Decision: ap.Decision, Actor: ap.By, Via: ap.Via, Proof: ap.Proven(), Detail: detail,
		Have: state.Have, Needed: state.Needed, Result: state.Outcome, Counts: e.counts()})
}

// recordHeld records a blast-radius hold.
func (e *evacuation) recordHeld(ctx workflow.Context) {
	e.record(ctx, activities.Event{Type: activities.EventEvacuationHeld, Step: string(StepHeld), Reason: e.carry.Held,
		Counts: e.counts(), Services: len(e.svc)})
}

// recordWaiver records that the evacuation's approval stands for each failover's own (approval.perService waive).
func (e *evacuation) recordWaiver(ctx workflow.Context) {
	g := e.grant()
	if g == nil {
		return
	}
	by := "its plan (approval.mode auto)"
	if len(g.ApprovedBy) > 0 {
		by = strings.Join(g.ApprovedBy, ", ")
	}
	e.record(ctx, activities.Event{Type: activities.EventEvacuationWaiver, Services: len(e.svc), Voters: g.ApprovedBy,
		Detail: fmt.Sprintf("approval.perService waive: each of the %d failovers is approved with this evacuation by %s "+
			"(a failback, or a failover the front door sent to people, still needs people)", len(e.svc), by)})
}

// recordEnd records the evacuation's outcome, its counts and what did not succeed.
func (e *evacuation) recordEnd(ctx workflow.Context, res EvacuationResult) {
	var left []string
	for _, s := range res.NotSucceeded {
		if len(left) == maxAuditedLeft {
			left = append(left, fmt.Sprintf("… and %d more: starter status %s --all", len(res.NotSucceeded)-maxAuditedLeft, e.id))
			break
		}
		left = append(left, fmt.Sprintf("%s: %s — %s", s.Service, s.Outcome, s.Reason))
	}
	e.record(ctx, activities.Event{Type: activities.EventEvacuationOutcome, Step: string(StepDone), Outcome: string(res.Outcome),
		Reason: res.Reason, Counts: res.Counts, Services: len(e.svc), NotSucceeded: left,
		Detail: fmt.Sprintf("%s after %.0fs (%d runs)", CountsLine(res.Counts), res.ElapsedSeconds, e.carry.Runs+1)})
}

// approved records that the evacuation may go ahead, and what that waives.
func (e *evacuation) approved(ctx workflow.Context) {
	e.carry.Approved = true
	e.recordWaiver(ctx)
}
