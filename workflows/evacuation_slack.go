package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// An evacuation with approval.slackChannel posts one card to that channel: the whole evacuation's state (counts,
// waves, blast radius, decisions) with its Approve / Reject / Abort buttons, rewritten in place. Under it, one
// thread reply per service that did not succeed and per decision a service's own failover asks (perService keep,
// inconclusive checks, an undo past the point of no return), with that failover's buttons. The children post
// nothing else to Slack (their audit log and metrics are unchanged).
//
// Card updates are coalesced: a change that only moves the counts waits until cardInterval has passed since the
// last card (a workflow timer, so replay sees the same), so 5,000 child completions cost a card update every few
// seconds, not 5,000; a decision asked or made, a hold, a pause, a new wave and the end go at once. Every write
// still takes its turn in the channel's send queue on the worker (slackbot/pace.go) and waits out a 429's
// Retry-After; a card state the publisher gave up on is sent again, so the last one always lands.

// evacuationSlackCard is the change ID under which an evacuation posts its card and its children report to the
// card's thread instead of posting cards of their own.
const evacuationSlackCard = "evacuation-slack-card"

// EvacuationServiceSignal carries a child failover's decision-needed event to its evacuation, which posts it in
// its card's thread.
const EvacuationServiceSignal = "evacuation-service-event"

const (
	// cardInterval is the least time between two card updates that only move counts.
	cardInterval = 5 * time.Second
	// cardDrain is how long the run waits at its end for Slack to take the last card state.
	cardDrain = 2 * time.Minute
	// cardBackoff caps the wait before a card state Slack gave up on is tried again.
	cardBackoff = 2 * time.Minute
	// maxFailureReplies bounds the failure replies of one evacuation; past it the card counts them alone.
	maxFailureReplies = 50
	// Card contents: the latest decisions, the first waves and the first services that did not succeed.
	maxCardDecisions = 8
	maxCardWaves     = 20
	maxCardLeft      = 15
)

// EvacuationSlack is what an evacuation run hands the next one about its card.
type EvacuationSlack struct {
	// Ref is the card ("CHANNEL:TS"), Seq the last event number used, Failures the failure replies posted.
	Ref      string `json:"ref,omitempty"`
	Seq      int    `json:"seq,omitempty"`
	Failures int    `json:"failures,omitempty"`
}

// evacuationCard is the run's side of the card: what waits to go to Slack.
type evacuationCard struct {
	channel string  // "" when the evacuation posts nothing
	dirty   bool    // the card changed since the last state handed to Slack
	sentKey cardKey // the key of that state
	last    time.Time
	// failures counts the card states Slack gave up on in a row: each doubles the wait before the next try.
	failures int
	replies  []activities.Event
	closing  bool
	closed   bool
}

// startCard starts the card's publisher when the evacuation names a channel (and the run is new enough to).
func (e *evacuation) startCard(ctx workflow.Context) {
	if e.req.Approval.SlackChannel == "" || workflow.GetVersion(ctx, evacuationSlackCard, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	e.card.channel = e.req.Approval.SlackChannel
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	signals := workflow.GetSignalChannel(ctx, EvacuationServiceSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var ev activities.Event
			signals.Receive(ctx, &ev)
			e.replyDecision(ctx, ev)
		}
	})
	workflow.Go(ctx, e.publishCard)
}

// cardChanged notes that the card's state changed (publish calls it on every change).
func (e *evacuation) cardChanged() {
	if e.card.channel != "" {
		e.card.dirty = true
	}
}

// cardKey is what makes a card update urgent when it changes: everything but the counts. Await conditions
// compare it after every event, so it is a plain comparable value.
type cardKey struct {
	step            Step
	wave, approvals int
	pending         Pending
	held, abortedBy string
	paused          bool
	outcome         Outcome
}

func (e *evacuation) cardKey() cardKey {
	k := cardKey{step: e.step, wave: e.carry.Wave, approvals: len(e.carry.Approvals), held: e.carry.Held,
		abortedBy: e.abortedBy, paused: e.carry.Paused, outcome: e.outcome}
	if e.pending != nil {
		k.pending = *e.pending
	}
	return k
}

func (e *evacuation) cardUrgent() bool {
	return e.card.dirty && e.cardKey() != e.card.sentKey
}

// publishCard hands the card's changes and the thread's replies to Slack (Notify), one batch at a time.
func (e *evacuation) publishCard(ctx workflow.Context) {
	c := &e.card
	defer func() { c.closed = true }()
	nctx := notifying(ctx, "Slack: evacuation card")
	for {
		_ = workflow.Await(ctx, func() bool { return c.closing || c.dirty || len(c.replies) > 0 })
		if !c.dirty && len(c.replies) == 0 {
			return // closing with nothing left
		}
		// At once: a reply, or an urgent change (unless Slack is failing); else the card waits for its slot.
		now := func() bool {
			return len(c.replies) > 0 || (c.failures == 0 && (c.closing || e.cardUrgent()))
		}
		if wait := c.last.Add(c.interval()).Sub(workflow.Now(ctx)); !now() && wait > 0 {
			_, _ = awaitWithTimeout(ctx, wait, "card update in "+wait.String(), now)
		}
		var batch []activities.Event
		cardSeq := 0
		if c.dirty && ((c.failures == 0 && (c.closing || e.cardUrgent())) || !workflow.Now(ctx).Before(c.last.Add(c.interval()))) {
			ev := e.cardEvent(ctx)
			cardSeq = ev.Seq
			batch = append(batch, ev)
			c.dirty, c.sentKey, c.last = false, e.cardKey(), workflow.Now(ctx)
		}
		n := min(len(c.replies), eventBatch-len(batch))
		batch = append(batch, c.replies[:n]...)
		c.replies = c.replies[n:]
		if len(batch) == 0 {
			continue
		}
		var res activities.PublishResult
		err := workflow.ExecuteActivity(nctx, a.Notify, activities.NotifyInput{ThreadRef: e.carry.Slack.Ref, Events: batch}).Get(ctx, &res)
		if err != nil {
			workflow.GetLogger(ctx).Warn("evacuation card not delivered to Slack; sending it again", "error", err)
		}
		if e.carry.Slack.Ref == "" {
			e.carry.Slack.Ref = res.Ref
		}
		// The card carries the whole state: one Slack gave up on is sent again (after a growing wait, so a Slack
		// that is down costs few activities), and the last state lands once Slack takes it.
		switch {
		case cardSeq > 0 && (err != nil || slices.Contains(res.Dropped, cardSeq)):
			c.dirty = true
			c.failures++
		case cardSeq > 0:
			c.failures = 0
		}
	}
}

// interval is the least wait between two card states: cardInterval, doubled for each one Slack gave up on.
func (c *evacuationCard) interval() time.Duration {
	if c.failures == 0 {
		return cardInterval
	}
	return min(cardInterval<<min(c.failures, 10), cardBackoff)
}

// closeCard waits (bounded) until Slack has the card's last state and every reply: at the run's end, or before
// it continues as new (the next run updates the same card).
func (e *evacuation) closeCard(ctx workflow.Context) {
	if e.card.channel == "" {
		return
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	e.card.closing = true
	if ok, _ := awaitWithTimeout(ctx, cardDrain, "Slack drain timeout "+cardDrain.String(), func() bool { return e.card.closed }); !ok {
		workflow.GetLogger(ctx).Warn("Slack did not take the evacuation card's last state before the run closed",
			"replies", len(e.card.replies))
	}
}

// event fills in what every event of the evacuation names.
func (e *evacuation) event(ctx workflow.Context, ev activities.Event) activities.Event {
	e.carry.Slack.Seq++
	ev.Seq, ev.Time, ev.Channel = e.carry.Slack.Seq, workflow.Now(ctx), e.card.channel
	return ev
}

// cardEvent is the card's whole state now. It names the evacuation's first run: the card and its buttons stay the
// same across continue-as-new (the front door finds the run that is current).
func (e *evacuation) cardEvent(ctx workflow.Context) activities.Event {
	st := e.status(workflow.Now(ctx))
	from, to := e.regions()
	c := &activities.EvacuationCard{ID: e.id, Kind: e.req.Kind, From: from, To: to, Trigger: e.triggerText(),
		Services: len(e.svc), Step: st.Step, Wave: st.Wave, Counts: st.Counts, Held: st.Held, BlastFailed: st.Blast.Failed,
		BlastLimit: e.blastLimit(), AbortedBy: st.AbortedBy, Outcome: st.Outcome, Reason: st.Reason, ElapsedSeconds: st.Elapsed}
	if st.Paused {
		c.PausedBy = orDefault(st.PausedBy, "?")
	}
	for i, w := range st.Waves {
		if i == maxCardWaves {
			c.MoreWaves = len(st.Waves) - i
			break
		}
		c.Waves = append(c.Waves, activities.WaveProgress{Name: w.Name, Total: w.Total, Done: w.Done, Running: w.Running, Failed: w.Failed})
	}
	if p := e.pending; p != nil && p.Outcome == "" && e.abortedBy == "" {
		c.Pending = &activities.PendingDecision{Kind: p.Kind, Question: p.Question, Have: p.Have, Needed: max(p.Needed, 1)}
	}
	for _, a := range e.carry.Approvals[max(0, len(e.carry.Approvals)-maxCardDecisions):] {
		c.Decisions = append(c.Decisions, activities.CardDecision{By: a.By, Via: a.Via, Decision: a.Decision,
			SlackUser: a.SlackUser, Comment: a.Comment, At: a.At})
	}
	var rtos []float64
	for _, s := range e.svc {
		switch {
		case s.State == ServiceDone && s.Outcome == Succeeded:
			rtos = append(rtos, s.RTOSeconds)
		case s.State == ServiceDone && s.Outcome != NotNeeded && len(c.Left) < maxCardLeft:
			c.Left = append(c.Left, fmt.Sprintf("%s: %s — %s", s.Service, s.Outcome, s.Reason))
		case s.State == ServiceDone && s.Outcome != NotNeeded:
			c.LeftMore++
		}
	}
	slices.Sort(rtos)
	c.RTOP50, c.RTOP99 = nearestRank(rtos, 50), nearestRank(rtos, 99)
	return e.event(ctx, activities.Event{Type: activities.EventEvacuation, WorkflowID: e.id,
		RunID: workflow.GetInfo(ctx).FirstRunID, Kind: e.req.Kind, From: from, To: to, PlanHash: e.req.Hash, Evacuation: c})
}

// replyFailed queues the thread reply of service i, which ended without succeeding.
func (e *evacuation) replyFailed(ctx workflow.Context, i int) {
	if e.card.channel == "" || e.carry.Slack.Failures > maxFailureReplies {
		return
	}
	e.carry.Slack.Failures++
	s := e.svc[i]
	ev := activities.Event{Type: activities.EventOutcome, InEvacuation: e.id, WorkflowID: WorkflowID(s.Service),
		RunID: s.RunID, Service: s.Service, Kind: e.req.Kind, From: s.From, To: s.To, PlanHash: s.PlanHash,
		Step: s.Step, Outcome: s.Outcome, Reason: s.Reason, RTOSeconds: s.RTOSeconds}
	if e.carry.Slack.Failures > maxFailureReplies {
		ev = activities.Event{Type: activities.EventStep, InEvacuation: e.id, WorkflowID: e.id, Kind: e.req.Kind,
			Detail: fmt.Sprintf("More than %d services did not succeed: the card counts the others, and `starter status %s --all` lists every one.",
				maxFailureReplies, e.id)}
	}
	e.card.replies = append(e.card.replies, e.event(ctx, ev))
}

// replyDecision queues the thread reply of a decision a child failover asks (its decision-needed event, with its
// own workflow, run and plan hash, so its buttons decide that failover).
func (e *evacuation) replyDecision(ctx workflow.Context, ev activities.Event) {
	if ev.Type != activities.EventDecisionNeeded {
		return
	}
	ev.InEvacuation, ev.ThreadRef, ev.EscalateTo = e.id, "", ""
	e.card.replies = append(e.card.replies, e.event(ctx, ev))
}

// regions is the card's from → to: the evacuated region and the common target ("" when plans differ); reversed
// for a failback.
func (e *evacuation) regions() (from, to string) {
	for i, s := range e.svc {
		if i == 0 {
			from, to = s.From, s.To
			continue
		}
		if s.To != to {
			to = ""
		}
		if s.From != from {
			from = ""
		}
	}
	if e.req.Kind == KindFailback {
		return orDefault(from, "?"), orDefault(to, e.req.Region)
	}
	return orDefault(from, e.req.Region), to
}

func (e *evacuation) triggerText() string {
	t := e.req.Trigger
	s := t.Source
	if t.Alert != "" {
		s += " " + t.Alert
	}
	if t.By != "" {
		s += " by " + t.By
	}
	return s
}

func (e *evacuation) blastLimit() string {
	br := e.req.BlastRadius
	switch {
	case br.MaxFailed > 0 && br.MaxFailedPercent > 0:
		return fmt.Sprintf("maxFailed %d, maxFailedPercent %g per wave", br.MaxFailed, br.MaxFailedPercent)
	case br.MaxFailed > 0:
		return fmt.Sprintf("maxFailed %d", br.MaxFailed)
	case br.MaxFailedPercent > 0:
		return fmt.Sprintf("maxFailedPercent %g per wave", br.MaxFailedPercent)
	}
	return ""
}

// nearestRank is the nearest-rank percentile p of sorted values (0 for none).
func nearestRank(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
