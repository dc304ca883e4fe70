package slackbot

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/failover/failover/activities"
)

// publishEvacuation posts or rewrites an evacuation's card (an event with Evacuation), or replies in its thread
// (an event with InEvacuation: a service that did not succeed, a decision a service's failover asks). The card is
// rendered whole from the event, so it is written without reading it back; like a failover's, every write takes
// its turn in the channel's send queue, and a card posted by an attempt whose answer was lost is found in the
// channel's history (its head block names the evacuation's first run) instead of posted twice.
func (p *Publisher) publishEvacuation(ctx context.Context, e activities.Event) (string, error) {
	ref, ok := parseRef(e.ThreadRef)
	if e.Evacuation == nil {
		if !ok {
			return "", fmt.Errorf("slack: no card of evacuation %s yet to reply under (event %d, %s)", e.InEvacuation, e.Seq, e.Type)
		}
		return ref.String(), p.reply(ctx, ref, e.Seq, evacuationReply(e))
	}
	if !ok {
		ref, ok = p.knownCard(ctx, e)
	}
	c := evacuationCard(e)
	if !ok {
		posted, err := p.postCard(ctx, e, c)
		if err != nil {
			return "", err
		}
		return posted.String(), nil
	}
	if err := p.pace.wait(ctx, ref.channel); err != nil {
		return "", fmt.Errorf("slack: update the card %s of %s (event %d): %w", ref, e.WorkflowID, e.Seq, err)
	}
	if _, _, _, err := p.api.UpdateMessageContext(ctx, ref.channel, ref.ts,
		slack.MsgOptionText(c.text(), false), slack.MsgOptionBlocks(c.blocks...)); err != nil {
		return "", fmt.Errorf("slack: update the card %s of %s (event %d): %w", ref, e.WorkflowID, e.Seq, err)
	}
	return ref.String(), nil
}
