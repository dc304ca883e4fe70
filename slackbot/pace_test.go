package slackbot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.temporal.io/sdk/testsuite"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/observe"
)

// The queue's arithmetic on a clock the test moves: a burst, then one slot a second per channel, channels
// independent, Retry-After holding a channel, and a slot past the deadline refused instead of taken.
func TestChannelPaceQueuesPerChannel(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newChannelPace(time.Second, 3)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	reserve := func(ch string) time.Duration {
		t.Helper()
		d, err := c.reserve(ctx, ch)
		if err != nil {
			t.Fatalf("reserve %s: %v", ch, err)
		}
		return d
	}
	for i, want := range []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 3 * time.Second} {
		if got := reserve("C1"); got != want {
			t.Fatalf("C1 call %d waits %s, want %s", i+1, got, want)
		}
	}
	if got := reserve("C2"); got != 0 {
		t.Fatalf("C2 waits %s behind C1's queue; channels are independent", got)
	}
	now = now.Add(10 * time.Second) // the queue drained
	if got := reserve("C1"); got != 0 {
		t.Fatalf("C1 after a quiet 10s waits %s, want 0", got)
	}
	c.hold("C2", 30*time.Second) // Slack: 429, Retry-After: 30
	if got := reserve("C2"); got != 30*time.Second {
		t.Fatalf("C2 after Retry-After 30 waits %s, want 30s", got)
	}
	if got := reserve("C2"); got != 31*time.Second {
		t.Fatalf("C2's next call waits %s, want 31s: one a second after a rate limit, no burst", got)
	}
	dctx, cancel := context.WithDeadline(ctx, now.Add(5*time.Second))
	defer cancel()
	_, err := c.reserve(dctx, "C2")
	var limited *activities.RateLimited
	if !errors.As(err, &limited) || limited.Wait != 32*time.Second {
		t.Fatalf("a slot after the deadline: got %v, want RateLimited waiting 32s", err)
	}
	if got := reserve("C2"); got != 32*time.Second {
		t.Fatalf("the refused call took a slot: the next waits %s, want 32s", got)
	}
}

// Against the Slack fake: two failovers posting to one channel at once never exceed the burst, and each write
// waits its turn (every message is posted, none twice).
func TestPublisherPacesWritesToOneChannel(t *testing.T) {
	p, fake := newPublisher(t)
	p.pace = newChannelPace(200*time.Millisecond, 2)
	a, b := newRun(t, p, "CBUSY"), newRun(t, p, "CBUSY")
	b.base.RunID = "run-CBUSY-2"
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.emit(activities.EventStarted, nil)
		b.emit(activities.EventStep, step("detect", "ok", "us-east is down", 0.5))
	}()
	a.emit(activities.EventStarted, nil)
	a.emit(activities.EventStep, step("detect", "ok", "us-east is down", 0.5))
	<-done
	elapsed := time.Since(start)
	msgs := fake.TopLevel("CBUSY")
	if len(msgs) != 2 {
		t.Fatalf("%d cards in the channel, want 2 (one per run)", len(msgs))
	}
	for _, m := range msgs {
		if n := len(fake.Thread("CBUSY", m.TS)); n != 1 {
			t.Fatalf("card %s has %d replies, want 1", m.TS, n)
		}
	}
	// Each run: the card, its update and one reply = 6 writes; 2 go at once, the other 4 each take a 200 ms slot.
	if writes := fake.Calls("chat.postMessage") + fake.Calls("chat.update"); writes != 6 || elapsed < 800*time.Millisecond {
		t.Fatalf("%d writes in %s; want 6, the last no earlier than 4 slots (800ms) after the first", writes, elapsed)
	}
}

// Slack's 429 beyond what the activity has left: the event is dropped, but counted in
// failover_events_dropped_total{sink="slack",reason="rate-limited"} (on the worker's real metrics registry) and
// written to the audit log as a "dropped" record, once even when the activity runs the batch again. The run again
// does not ask Slack during its Retry-After: the channel's queue is held and refuses at once.
func TestNotifyCountsAndAuditsWhatSlackDrops(t *testing.T) {
	p, fake := newPublisher(t)
	metrics := observe.NewMetrics(nil)
	var audit bytes.Buffer
	acts := &activities.Activities{Publishers: []activities.Publisher{p}, Audit: activities.NewAuditLog(&audit)}
	var s testsuite.WorkflowTestSuite
	s.SetMetricsHandler(metrics.SDKHandler())
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(acts.Notify)
	env.SetTestTimeout(time.Minute)

	// Retry-After 15 minutes: longer than the test environment's 10-minute activity timeout.
	fake.RateLimit("chat.postMessage", 1, 900)
	e := activities.Event{Seq: 1, Type: activities.EventStarted, WorkflowID: "failover-payments", RunID: "r1",
		Service: "payments", Channel: "CDROP", Time: time.Now()}
	in := activities.NotifyInput{Events: []activities.Event{e}}
	for range 2 {
		if _, err := env.ExecuteActivity(acts.Notify, in); err != nil {
			t.Fatalf("Notify failed the failover: %v", err)
		}
	}
	if n, calls := len(fake.Messages("CDROP")), fake.Calls("chat.postMessage"); n != 0 || calls != 1 {
		t.Fatalf("%d messages after %d chat.postMessage calls; want none after the one Slack refused", n, calls)
	}
	var drops []activities.Event
	for _, line := range strings.Split(strings.TrimSpace(audit.String()), "\n") {
		var rec activities.Event
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if rec.Type == activities.EventDropped {
			drops = append(drops, rec)
		}
	}
	if len(drops) != 1 {
		t.Fatalf("%d dropped records, want 1:\n%s", len(drops), audit.String())
	}
	d := drops[0]
	if d.Seq != 1 || d.Dropped != activities.EventStarted || d.Sink != "slack" || d.Reason != activities.DropRateLimited ||
		!strings.Contains(d.Detail, "rate limited") || d.WorkflowID != "failover-payments" {
		t.Fatalf("dropped record %+v: want seq 1, the started event, sink slack, reason rate-limited and Slack's error", d)
	}

	if err := metrics.Close(); err != nil { // flushes tally's counters into the registry
		t.Fatal(err)
	}
	fams, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// The counter counts give-ups (two activity runs gave up); the audit log names the event once.
	if got := counterValue(fams, observe.EventsDroppedTotal, map[string]string{"sink": "slack", "reason": activities.DropRateLimited}); got != 2 {
		t.Fatalf("%s{sink=slack,reason=rate-limited} = %v, want 2", observe.EventsDroppedTotal, got)
	}
}

func counterValue(fams []*dto.MetricFamily, name string, labels map[string]string) float64 {
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
