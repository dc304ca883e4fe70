package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
)

// Event is one thing a failover did or decided, in order (Seq). Every event is written to the audit log and handed
// to the publishers (Slack, ...). It never holds secrets.
type Event struct {
	Seq        int       `json:"seq"`
	Time       time.Time `json:"time"`
	Type       string    `json:"type"` // see the Event* constants
	WorkflowID string    `json:"workflow_id"`
	RunID      string    `json:"run_id"`
	Service    string    `json:"service"`
	Kind       string    `json:"kind"` // failover, failback, or drill (the drill's own report)
	From       string    `json:"from"`
	To         string    `json:"to"`
	PlanHash   string    `json:"plan_hash"`
	// Channel and EscalateTo come from the plan's approval section.
	Channel    string `json:"channel,omitempty"`
	EscalateTo string `json:"escalate_to,omitempty"`
	// Drill marks the events of a drill's failover and failback, and of the drill itself.
	Drill bool `json:"drill,omitempty"`

	Step   string `json:"step,omitempty"`
	Result string `json:"result,omitempty"`
	Detail string `json:"detail,omitempty"`
	// StepSeconds is the step's duration, for step events.
	StepSeconds float64 `json:"step_seconds,omitempty"`

	// Decisions: what is asked, and who answered how.
	DecisionKind string `json:"decision_kind,omitempty"`
	Question     string `json:"question,omitempty"`
	Needed       int    `json:"needed,omitempty"`
	Have         int    `json:"have,omitempty"`
	Actor        string `json:"actor,omitempty"`
	Via          string `json:"via,omitempty"`
	// Proof, on a decision of a plan with approval.people, is how it was proven (workflows.Approval.Proven).
	Proof    string `json:"proof,omitempty"`
	Decision string `json:"decision,omitempty"`
	// Voters, on the decision event that approves (Result approve), are who approved that decision, in order.
	Voters   []string `json:"voters,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
	Preview  []string `json:"preview,omitempty"`

	// Side effects: the state before and after, as JSON.
	Target string `json:"target,omitempty"` // e.g. the etcd key or the Kong upstream
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`

	Outcome    string  `json:"outcome,omitempty"`
	Reason     string  `json:"reason,omitempty"`
	RTOSeconds float64 `json:"rto_seconds,omitempty"`
	// RPOSeconds is the RPO estimate of an outcome (replication lag at the cutover); nil is unknown.
	RPOSeconds *float64 `json:"rpo_seconds,omitempty"`
	// SLA is the outcome judged against the plan's sla in one line; SLABreaches the kinds missed (rto, rpo).
	SLA         string   `json:"sla,omitempty"`
	SLABreaches []string `json:"sla_breaches,omitempty"`
	// StillChanged lists, with a failed-needs-human outcome, what is still changed and how to finish by hand.
	StillChanged []string `json:"still_changed,omitempty"`

	// Sink and Dropped, on a dropped record (EventDropped), name the publisher that gave up on event Seq and
	// that event's type; Reason says why (Drop*), Detail the last error.
	Sink    string `json:"sink,omitempty"`
	Dropped string `json:"dropped,omitempty"`

	// ThreadRef is what the first publisher returned for this failover (e.g. a Slack message), so later events
	// can update or reply to it.
	ThreadRef string `json:"thread_ref,omitempty"`

	// Evacuation, on an evacuation's event, is the whole state its card shows (evacuation.go); the event replaces
	// the card. InEvacuation, on an event about one service of an evacuation (its failure, a decision it needs),
	// names the evacuation: the event is a reply in the evacuation card's thread (ThreadRef), never a card.
	Evacuation   *EvacuationCard `json:"evacuation,omitempty"`
	InEvacuation string          `json:"in_evacuation,omitempty"`

	// On an evacuation's own audit records (EventEvacuation*): Services is how many services it moves, Counts
	// the services per state (waiting, running, joined) or outcome, NotSucceeded (on its end) those that did not
	// succeed, "service: outcome — reason", at most workflows' maxAuditedLeft of them.
	Services     int            `json:"services,omitempty"`
	Counts       map[string]int `json:"counts,omitempty"`
	NotSucceeded []string       `json:"not_succeeded,omitempty"`
}

// Event types.
const (
	EventStarted        = "started"
	EventStep           = "step"
	EventDecisionNeeded = "decision-needed"
	EventDecision       = "decision"
	EventControl        = "control" // an operator's abort, pause or resume (Decision), by Actor via Via
	EventSideEffect     = "side-effect"
	EventCheck          = "check"
	EventEscalation     = "escalation"
	EventAlert          = "alert"
	EventOutcome        = "outcome"
	EventDrill          = "drill" // a drill's report: Outcome is its verdict (DrillPassed, ...), Reason what went wrong
)

// Publisher delivers events to people (Slack, a pager). It returns a reference to what it posted first (a
// message), which later events carry as ThreadRef.
type Publisher interface {
	Publish(ctx context.Context, e Event) (ref string, err error)
}

// Selective is a Publisher that takes only some runs' events: Slack those of a plan with a channel. A publisher
// that does not implement it takes every event.
type Selective interface {
	Wants(e Event) bool
}

// PublishResult carries the first publisher's reference, and the Seq of each event it gave up on (counted and
// audited as dropped), so a workflow can send a card's state again.
type PublishResult struct {
	Ref     string
	Dropped []int `json:",omitempty"`
	// Unheard: no publisher wants any event of the batch (none configured, or each Selective declined), so none
	// will want the run's later events either: the workflow stops calling Notify (workflows/scale.go).
	Unheard bool `json:",omitempty"`
}

// NotifyInput is a batch of events for the publishers, in order, with the thread reference known so far.
type NotifyInput struct {
	ThreadRef string
	Events    []Event
}

// Notify hands each event to every publisher (Slack, ...), in order; the first publisher's reference threads the
// events after it. A publisher that fails is retried a few times and then given up on, never failing the
// failover (Slack being down must not block a failover), but never silently either: the drop is counted and
// audited (dropped.go). The audit log is written by RecordAudit, not here.
func (a *Activities) Notify(ctx context.Context, in NotifyInput) (PublishResult, error) {
	// Slack's rate limit can hold one batch for most of a minute: heartbeat how far it got, so a retry after a
	// worker died goes on from there instead of posting the batch's first events twice.
	var p NotifyProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p) // unreadable details just mean starting over
	}
	res := PublishResult{Ref: in.ThreadRef, Dropped: p.Dropped, Unheard: !a.wantsAny(in.Events)}
	if res.Ref == "" {
		res.Ref = p.Ref
	}
	var mu sync.Mutex
	defer keepAlive(ctx, func() any {
		mu.Lock()
		defer mu.Unlock()
		return p
	})()
	for i := p.Done; i < len(in.Events); i++ {
		e := in.Events[i]
		if e.ThreadRef == "" {
			e.ThreadRef = res.Ref
		}
		ref, dropped := a.notifyOne(ctx, e)
		if res.Ref == "" {
			res.Ref = ref
		}
		if dropped {
			res.Dropped = append(res.Dropped, e.Seq)
		}
		mu.Lock()
		p = NotifyProgress{Done: i + 1, Ref: res.Ref, Dropped: res.Dropped}
		mu.Unlock()
	}
	return res, nil
}

// NotifyProgress is heartbeated by Notify: the events of the batch handed to every publisher, and the thread.
type NotifyProgress struct {
	Done    int
	Ref     string
	Dropped []int `json:",omitempty"`
}

// wantsAny reports whether some publisher wants some of the events.
func (a *Activities) wantsAny(events []Event) bool {
	for _, p := range a.Publishers {
		s, ok := p.(Selective)
		if !ok {
			return true
		}
		for _, e := range events {
			if s.Wants(e) {
				return true
			}
		}
	}
	return false
}

// notifyOne hands e to every publisher; dropped reports that one of them gave up on it.
func (a *Activities) notifyOne(ctx context.Context, e Event) (first string, dropped bool) {
	for _, p := range a.Publishers {
		ref, err := publishWithRetry(ctx, p, e)
		if err != nil {
			a.recordDrop(ctx, p, e, err)
			dropped = true
			continue
		}
		if first == "" {
			first = ref
		}
	}
	return first, dropped
}

// Publish is the first release's combined activity (audit record, then publishers, one event at a time). Runs
// started before the RecordAudit/Notify split still schedule it, so it stays registered until they have all ended.
func (a *Activities) Publish(ctx context.Context, e Event) (PublishResult, error) {
	if err := a.RecordAudit(ctx, []Event{e}); err != nil {
		return PublishResult{}, err
	}
	ref, _ := a.notifyOne(ctx, e)
	return PublishResult{Ref: ref}, nil
}

func publishWithRetry(ctx context.Context, p Publisher, e Event) (string, error) {
	for attempt, wait := 1, 200*time.Millisecond; ; {
		ref, err := p.Publish(ctx, e)
		var limited *RateLimited
		switch {
		case err == nil:
			return ref, nil
		case errors.As(err, &limited):
			// Not a failure: the service said when to come back. Waiting costs no attempt; the activity's
			// deadline bounds it.
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < limited.Wait {
				return "", fmt.Errorf("rate limited for %s, longer than this attempt has left: %w", limited.Wait, err)
			}
			if err := sleepCtx(ctx, limited.Wait); err != nil {
				return "", err
			}
			continue
		case attempt == 3:
			return "", err
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return "", err
		}
		attempt, wait = attempt+1, wait*4
	}
}

// RateLimited is what a publisher returns when the service asks it to wait (Slack: HTTP 429 with Retry-After).
type RateLimited struct {
	Wait time.Duration
	Err  error
}

func (r *RateLimited) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", r.Wait, r.Err)
}
func (r *RateLimited) Unwrap() error { return r.Err }

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
