package slackbot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/sdk/activity"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

// Publisher posts a failover's events to the plan's Slack channel (approval.slackChannel); it implements
// activities.Publisher. List it first among the worker's publishers: the workflow carries the first publisher's
// reference as Event.ThreadRef.
//
// Channel readability: one top-level message (the card) per failover run, posted by the run's first event
// (started) and edited in place from then on: the evidence, readiness, the dry-run diff and Approve / Reject
// buttons while a decision is pending, each vote (who, when), the decision (buttons removed) and the outcome with
// the RTO. Under it, one thread reply per step, per decision asked and per escalation (also shown in the channel,
// mentioning the plan's escalateTo), and a final summary with the RTO. Side effects, checks and alerts are not
// posted: they are in the audit log. A plan without slackChannel posts nothing.
//
// If the first event could not be posted (Slack down), the next event that gets through posts the card: the
// failover never waits for Slack (the workflow publishes in the background and the Publish activity gives up on
// a failing publisher after a few tries).
//
// Retries: the Publish activity may run an event twice (a lost response, a worker crash). The card is rewritten
// with blocks keyed by ID and votes keyed by the event's Seq, so a repeat changes nothing. It is rendered onto the
// card this process last wrote when it handled the run's previous event (cardMemory), and read back from Slack
// (conversations.history, tier 3) only when it did not: another worker, a restart, a dropped event. A thread reply carries its Seq in its block ID; the Publisher
// remembers the replies and cards it posted, and when an earlier attempt's result is unknown (it failed here, or
// Temporal says this is a retry) it looks in the thread (conversations.replies) or the channel's history
// (conversations.history) before posting again. The bot needs chat:write and channels:history (groups:history
// for private channels), and usergroups:read for group allow-lists.
type Publisher struct {
	api    *slack.Client
	logger *slog.Logger

	parents *recent // run ID → the card's ref
	replies *recent // ref#seq of replies posted
	tried   *recent // posts attempted whose result is unknown
	cards   *cardMemory
	pace    *channelPace
	now     func() time.Time
}

// NewPublisher posts with api (the bot client: Config.BotClient).
func NewPublisher(api *slack.Client, logger *slog.Logger) *Publisher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{api: api, logger: logger, now: time.Now, pace: newChannelPace(channelInterval, channelBurst),
		parents: newRecent(48*time.Hour, 10000), replies: newRecent(48*time.Hour, 50000), tried: newRecent(48*time.Hour, 10000),
		cards: newCardMemory(1000)}
}

var (
	_ activities.Publisher = (*Publisher)(nil)
	_ activities.Selective = (*Publisher)(nil)
)

// Wants: only a plan with a Slack channel (approval.slackChannel) gets Slack messages.
func (p *Publisher) Wants(e activities.Event) bool { return e.Channel != "" }

// messageRef is a Slack message, "CHANNEL:TS" as a ThreadRef.
type messageRef struct {
	channel, ts string
}

var refPattern = regexp.MustCompile(`^([A-Z0-9]+):([0-9]+\.[0-9]+)$`)

func parseRef(s string) (messageRef, bool) {
	m := refPattern.FindStringSubmatch(s)
	if m == nil {
		return messageRef{}, false
	}
	return messageRef{channel: m[1], ts: m[2]}, true
}

func (r messageRef) String() string { return r.channel + ":" + r.ts }

// Publish posts or applies one event and returns the card's reference ("CHANNEL:TS"). When Slack rate-limits a
// call (HTTP 429), the error is an *activities.RateLimited carrying Slack's Retry-After, the channel's send queue
// (pace.go) holds every write to that channel for as long, and the caller waits that long before trying the event
// again (a repeat changes nothing, see above).
func (p *Publisher) Publish(ctx context.Context, e activities.Event) (string, error) {
	ref, err := p.publish(ctx, e)
	var limited *slack.RateLimitedError
	if errors.As(err, &limited) {
		p.pace.hold(e.Channel, limited.RetryAfter)
		return "", &activities.RateLimited{Wait: limited.RetryAfter, Err: err}
	}
	return ref, err
}

// Sink names this publisher in the failover_events_dropped_total metric and in audit records of dropped events.
func (p *Publisher) Sink() string { return "slack" }

func (p *Publisher) publish(ctx context.Context, e activities.Event) (string, error) {
	if e.Channel == "" {
		return "", nil
	}
	if e.Evacuation != nil || e.InEvacuation != "" {
		return p.publishEvacuation(ctx, e)
	}
	ref, ok := parseRef(e.ThreadRef)
	if !ok {
		ref, ok = p.knownCard(ctx, e)
	}
	if !ok {
		c := newCard(e)
		c.apply(e)
		var err error
		if ref, err = p.postCard(ctx, e, c); err != nil {
			return "", err
		}
		p.cards.handled(e.RunID, e.Seq, c)
	} else if touchesCard(e) {
		if err := p.updateCard(ctx, ref, e); err != nil {
			p.cards.forget(e.RunID)
			return "", err
		}
	} else {
		p.cards.handled(e.RunID, e.Seq, nil)
	}
	if r, ok := replyFor(e); ok {
		if err := p.reply(ctx, ref, e.Seq, r); err != nil {
			return "", err
		}
	}
	return ref.String(), nil
}

// touchesCard reports whether an event changes the card (the rest only get thread replies, or nothing).
func touchesCard(e activities.Event) bool {
	switch e.Type {
	case activities.EventStarted, activities.EventDecisionNeeded, activities.EventDecision, activities.EventControl,
		activities.EventOutcome:
		return true
	case activities.EventStep:
		switch e.Step {
		case workflows.StepDetect, workflows.StepHoldDown, workflows.StepReadiness, workflows.StepApprove:
			return true
		}
	}
	return false
}

// knownCard finds a card already posted for e's run when the event does not name it: from memory, or, if an
// earlier post may have got through unseen, from the channel's history.
func (p *Publisher) knownCard(ctx context.Context, e activities.Event) (messageRef, bool) {
	if v, ok := p.parents.get(e.RunID, p.now()); ok {
		return parseRef(v)
	}
	if !p.mayHavePosted(ctx, "card:"+e.RunID, e.Seq > 1) {
		return messageRef{}, false
	}
	ref, ok, err := p.findCard(ctx, e)
	if err != nil {
		// A second card is better than none: post, and say so.
		p.logger.Warn("slack: cannot look for an earlier card; posting a new one", "workflow", e.WorkflowID, "error", err)
		return messageRef{}, false
	}
	if ok {
		p.parents.put(e.RunID, ref.String(), p.now())
	}
	return ref, ok
}

func (p *Publisher) findCard(ctx context.Context, e activities.Event) (messageRef, bool, error) {
	since := e.Time
	if since.IsZero() {
		since = p.now()
	}
	resp, err := p.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: e.Channel, Oldest: slackTS(since.Add(-24 * time.Hour)), Limit: 200})
	if err != nil {
		return messageRef{}, false, err
	}
	for _, m := range resp.Messages {
		if hasBlock(m, blockHead+":"+e.RunID) {
			return messageRef{channel: e.Channel, ts: m.Timestamp}, true, nil
		}
	}
	return messageRef{}, false, nil
}

func (p *Publisher) postCard(ctx context.Context, e activities.Event, c *card) (messageRef, error) {
	key := "card:" + e.RunID
	if err := p.pace.wait(ctx, e.Channel); err != nil {
		return messageRef{}, fmt.Errorf("slack: post the card of %s to %s: %w", e.WorkflowID, e.Channel, err)
	}
	p.tried.put(key, "", p.now())
	ch, ts, err := p.api.PostMessageContext(ctx, e.Channel, slack.MsgOptionText(c.text(), false), slack.MsgOptionBlocks(c.blocks...))
	if err != nil {
		return messageRef{}, fmt.Errorf("slack: post the card of %s to %s: %w", e.WorkflowID, e.Channel, err)
	}
	p.tried.delete(key)
	ref := messageRef{channel: ch, ts: ts}
	p.parents.put(e.RunID, ref.String(), p.now())
	return ref, nil
}

// updateCard applies the event to the card and writes it with chat.update when it changed. The card is the one
// this process last wrote when that is current (cardMemory), else it is read back from Slack.
func (p *Publisher) updateCard(ctx context.Context, ref messageRef, e activities.Event) error {
	c, ok := p.cards.card(e.RunID, e.Seq)
	if !ok {
		var err error
		if c, ok, err = p.readCard(ctx, ref, e); err != nil || !ok {
			return err
		}
	}
	if !c.apply(e) {
		p.cards.handled(e.RunID, e.Seq, c)
		return nil
	}
	if err := p.pace.wait(ctx, ref.channel); err != nil {
		return fmt.Errorf("slack: update the card %s with event %d (%s): %w", ref, e.Seq, e.Type, err)
	}
	if _, _, _, err := p.api.UpdateMessageContext(ctx, ref.channel, ref.ts,
		slack.MsgOptionText(c.text(), false), slack.MsgOptionBlocks(c.blocks...)); err != nil {
		return fmt.Errorf("slack: update the card %s with event %d (%s): %w", ref, e.Seq, e.Type, err)
	}
	p.cards.handled(e.RunID, e.Seq, c)
	return nil
}

// readCard reads the card back from Slack (conversations.history); ok is false when the message is gone.
func (p *Publisher) readCard(ctx context.Context, ref messageRef, e activities.Event) (*card, bool, error) {
	resp, err := p.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: ref.channel, Latest: ref.ts, Oldest: ref.ts, Inclusive: true, Limit: 1})
	if err != nil {
		return nil, false, fmt.Errorf("slack: read the card %s: %w", ref, err)
	}
	for i := range resp.Messages {
		if resp.Messages[i].Timestamp == ref.ts {
			return cardFrom(resp.Messages[i].Blocks.BlockSet), true, nil
		}
	}
	p.logger.Warn("slack: the failover's message is gone (deleted?); not updating it", "ref", ref.String(), "event", e.Type)
	return nil, false, nil
}

// reply posts one thread reply per event Seq.
func (p *Publisher) reply(ctx context.Context, ref messageRef, seq int, r reply) error {
	key := ref.String() + "#" + strconv.Itoa(seq)
	if _, ok := p.replies.get(key, p.now()); ok {
		return nil
	}
	if p.mayHavePosted(ctx, key, false) {
		found, err := p.findReply(ctx, ref, seq)
		if err != nil {
			return fmt.Errorf("slack: look for reply %d under %s: %w", seq, ref, err)
		}
		if found {
			p.replies.put(key, "", p.now())
			return nil
		}
	}
	opts := []slack.MsgOption{slack.MsgOptionTS(ref.ts), slack.MsgOptionText(r.text, false), slack.MsgOptionBlocks(replyBlocks(seq, r)...)}
	if r.broadcast {
		opts = append(opts, slack.MsgOptionBroadcast())
	}
	if err := p.pace.wait(ctx, ref.channel); err != nil {
		return fmt.Errorf("slack: reply %d under %s: %w", seq, ref, err)
	}
	p.tried.put(key, "", p.now())
	if _, _, err := p.api.PostMessageContext(ctx, ref.channel, opts...); err != nil {
		return fmt.Errorf("slack: reply %d under %s: %w", seq, ref, err)
	}
	p.tried.delete(key)
	p.replies.put(key, "", p.now())
	return nil
}

func (p *Publisher) findReply(ctx context.Context, ref messageRef, seq int) (bool, error) {
	id := blockEvent + ":" + strconv.Itoa(seq)
	params := &slack.GetConversationRepliesParameters{ChannelID: ref.channel, Timestamp: ref.ts, Limit: 200}
	for page := 0; page < 10; page++ {
		msgs, more, cursor, err := p.api.GetConversationRepliesContext(ctx, params)
		if err != nil {
			return false, err
		}
		for _, m := range msgs {
			if hasBlock(m, id) {
				return true, nil
			}
		}
		if !more || cursor == "" {
			break
		}
		params.Cursor = cursor
	}
	return false, nil
}

// mayHavePosted reports whether a post may already have happened without us seeing its result: hint, an earlier
// failed attempt in this process, or a Temporal retry of the activity (possibly on another worker).
func (p *Publisher) mayHavePosted(ctx context.Context, key string, hint bool) bool {
	if hint {
		return true
	}
	if _, ok := p.tried.get(key, p.now()); ok {
		return true
	}
	return activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt > 1
}

func hasBlock(m slack.Message, id string) bool {
	for _, b := range m.Blocks.BlockSet {
		if b.ID() == id {
			return true
		}
	}
	return false
}

func slackTS(t time.Time) string {
	if t.Unix() < 0 {
		return "0"
	}
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}
