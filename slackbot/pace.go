package slackbot

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/failover/failover/activities"
)

// Slack takes about one message a second per channel (chat.postMessage; "short bursts of more than 1 allowed")
// and answers HTTP 429 with Retry-After beyond that. A worker running several failovers that share a channel
// would hit that limit at their busiest moment, so every write the Publisher makes to a channel (a post, a reply,
// a chat.update) first takes that channel's next slot: a small burst, then one a second, and nothing at all
// until a Retry-After Slack gave has passed. Calls queue per channel in the order they asked; nothing is
// dropped here: a call whose slot falls after its activity's deadline gets an *activities.RateLimited, which
// the Notify activity counts and audits as a drop (activities/dropped.go).
const (
	channelInterval = time.Second
	channelBurst    = 4
)

// errChannelBusy is the cause of a RateLimited the pacer returns itself, without asking Slack.
var errChannelBusy = errors.New("slack: this channel's send queue is full for longer than the activity has left")

// channelPace is a per-channel send queue: a generic cell rate algorithm (a token bucket kept as one time per
// channel, the theoretical arrival time of the next call) that also honours Retry-After.
type channelPace struct {
	interval time.Duration
	burst    int

	mu  sync.Mutex
	tat map[string]time.Time // channel → when the queue is empty again
	now func() time.Time
}

func newChannelPace(interval time.Duration, burst int) *channelPace {
	return &channelPace{interval: interval, burst: max(burst, 1), tat: map[string]time.Time{}, now: time.Now}
}

// reserve takes the channel's next slot and says how long to wait for it. A slot after the context's deadline is
// not taken: the caller gets a RateLimited saying how long the queue is.
func (c *channelPace) reserve(ctx context.Context, channel string) (time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	tat := c.tat[channel]
	if tat.Before(now) {
		tat = now
	}
	slot := tat.Add(-time.Duration(c.burst-1) * c.interval)
	if slot.Before(now) {
		slot = now
	}
	if deadline, ok := ctx.Deadline(); ok && deadline.Before(slot) {
		return 0, &activities.RateLimited{Wait: slot.Sub(now), Err: errChannelBusy}
	}
	c.tat[channel] = tat.Add(c.interval)
	c.forget(now)
	return slot.Sub(now), nil
}

// wait blocks until the channel's next slot.
func (c *channelPace) wait(ctx context.Context, channel string) error {
	d, err := c.reserve(ctx, channel)
	if err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// hold keeps the channel quiet for d (Slack's Retry-After), then lets one call through a slot at a time.
func (c *channelPace) hold(channel string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	until := c.now().Add(d).Add(time.Duration(c.burst-1) * c.interval)
	if c.tat[channel].Before(until) {
		c.tat[channel] = until
	}
}

// forget drops channels whose queue has been empty for a while, so the map stays as small as the channels in use.
func (c *channelPace) forget(now time.Time) {
	if len(c.tat) < 1000 {
		return
	}
	for ch, t := range c.tat {
		if t.Before(now.Add(-time.Minute)) {
			delete(c.tat, ch)
		}
	}
}
