package slackbot

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/slackbot/internal/slackfake"
	"github.com/failover/failover/workflows"
)

// run plays a failover's events through the real Publish activity (audit-less), carrying the first ref as
// ThreadRef the way the workflow's publisher coroutine does.
type run struct {
	t    *testing.T
	acts *activities.Activities
	base activities.Event
	seq  int
	ref  string
}

func newRun(t *testing.T, p *Publisher, channel string) *run {
	return &run{t: t, acts: &activities.Activities{Publishers: []activities.Publisher{p}},
		base: activities.Event{WorkflowID: "failover-payments", RunID: "run-" + channel, Service: "payments", Kind: "failover",
			From: "us-east", To: "eu-west", PlanHash: "abc123", Channel: channel, EscalateTo: "S0SRE"}}
}

func (r *run) emit(typ string, f func(*activities.Event)) activities.Event {
	r.t.Helper()
	r.seq++
	e := r.base
	e.Seq, e.Type, e.Time, e.ThreadRef = r.seq, typ, time.Now(), r.ref
	if f != nil {
		f(&e)
	}
	r.publish(e)
	return e
}

func (r *run) publish(e activities.Event) {
	r.t.Helper()
	res, err := r.acts.Publish(context.Background(), e)
	if err != nil {
		r.t.Fatalf("publish %d: %v", e.Seq, err)
	}
	if r.ref == "" {
		r.ref = res.Ref
	}
}

func step(name, result, detail string, secs float64) func(*activities.Event) {
	return func(e *activities.Event) { e.Step, e.Result, e.Detail, e.StepSeconds = name, result, detail, secs }
}

func decisionNeeded(needed int) func(*activities.Event) {
	return func(e *activities.Event) {
		e.Step, e.DecisionKind, e.Needed = "approve", workflows.DecideFailover, needed
		e.Question = "failover payments from us-east to eu-west?"
		e.Evidence = []string{"probe 1/3 http://us-east/healthz: HTTP 503", "probe 2/3 http://us-east/healthz: HTTP 503"}
		e.Preview = []string{"etcd /failover/payments/active: {region: us-east, epoch: 1} → {region: eu-west, epoch: 2} if still at revision 7",
			"kong upstream payments: eu-west 0/us-east 100 → 100/0"}
	}
}

func vote(actor, decision string, have, needed int, result string) func(*activities.Event) {
	return func(e *activities.Event) {
		e.Step, e.DecisionKind, e.Actor, e.Via, e.Decision, e.Have, e.Needed, e.Result = "approve", workflows.DecideFailover, actor, "slack", decision, have, needed, result
	}
}

func newPublisher(t *testing.T) (*Publisher, *slackfake.Slack) {
	fake := slackfake.Start(t)
	return NewPublisher(Config{BotToken: "xoxb-test", APIURL: fake.APIURL()}.BotClient(), nil), fake
}

func onlyCard(t *testing.T, fake *slackfake.Slack, channel string) slackfake.Message {
	t.Helper()
	var cards []slackfake.Message
	for _, m := range fake.Messages(channel) {
		if m.ThreadTS == "" {
			cards = append(cards, m)
		}
	}
	if len(cards) != 1 {
		t.Fatalf("%d top-level messages in %s, want exactly one card", len(cards), channel)
	}
	return cards[0]
}

func wantText(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func TestPublisherKeepsOneCardAndThreadsTheProgress(t *testing.T) {
	p, fake := newPublisher(t)
	r := newRun(t, p, "CCARD")
	r.emit(activities.EventStarted, func(e *activities.Event) { e.Actor, e.Via = "alice", "cli" })
	r.emit(activities.EventStep, step("detect", "ok", "us-east is down", 0.6))
	r.emit(activities.EventStep, step("readiness", "ok", "eu-west healthy; etcd revision 7; weights [us-east 100, eu-west 0]", 0.1))
	asked := r.emit(activities.EventDecisionNeeded, decisionNeeded(2))

	c := onlyCard(t, fake, "CCARD")
	if c.TS+"" == "" || r.ref != "CCARD:"+c.TS {
		t.Fatalf("ref %q, card ts %q: the ref must be CHANNEL:TS of the card", r.ref, c.TS)
	}
	wantText(t, "card", c.AllText(), "Failover payments: us-east → eu-west", "payments", "us-east → eu-west", "failover-payments",
		"abc123", "probe 1/3 http://us-east/healthz: HTTP 503", "eu-west healthy; etcd revision 7",
		"{region: us-east, epoch: 1} → {region: eu-west, epoch: 2}", "kong upstream payments", "Decision needed", "0 of 2 approvals")
	for _, action := range []string{ActionApprove, ActionReject} {
		value, ok := c.Button(action)
		if !ok {
			t.Fatalf("no %s button", action)
		}
		v, err := ParseButtonValue(value)
		if err != nil || v != (ButtonValue{WorkflowID: asked.WorkflowID, RunID: asked.RunID, PlanHash: "abc123", Kind: workflows.DecideFailover}) {
			t.Fatalf("%s value %q (%v): must bind workflow, run, plan hash and kind", action, value, err)
		}
	}

	r.emit(activities.EventDecision, vote("U111", "approve", 1, 2, ""))
	c = onlyCard(t, fake, "CCARD")
	if _, ok := c.Button(ActionApprove); !ok {
		t.Fatal("1 of 2 approvals: the buttons must stay")
	}
	wantText(t, "card after one vote", c.AllText(), "<@U111> approved via slack", "1 of 2")

	decided := r.emit(activities.EventDecision, func(e *activities.Event) {
		vote("U222", "approve", 2, 2, "approve")(e)
		e.Voters = []string{"U111", "U222"} // the workflow lists who approved on the deciding event
	})
	r.emit(activities.EventStep, step("approve", "ok", "approved", 2.5))
	r.emit(activities.EventSideEffect, func(e *activities.Event) {
		e.Step, e.Target, e.Detail = "cutover", "/failover/payments/active", "etcd → eu-west"
	})
	r.emit(activities.EventStep, step("cutover", "ok", "/failover/payments/active → eu-west, epoch 2", 0.2))
	r.emit(activities.EventCheck, func(e *activities.Event) { e.Step, e.Target, e.Result = "verify", "served-by-target", "pass" })
	r.emit(activities.EventAlert, func(e *activities.Event) { e.Result, e.Detail = "firing", "RegionDown firing" })
	r.emit(activities.EventStep, step("verify", "ok", "3 rounds of 1 checks, 0 failures", 2.0))
	r.emit(activities.EventOutcome, func(e *activities.Event) {
		e.Outcome, e.Reason, e.RTOSeconds = workflows.Succeeded, "traffic verified on eu-west", 12.34
	})

	c = onlyCard(t, fake, "CCARD")
	if _, ok := c.Button(ActionApprove); ok {
		t.Fatal("decided: the buttons must be gone")
	}
	if c.Updates == 0 {
		t.Fatal("the card was never updated in place")
	}
	wantText(t, "decided card", c.AllText(), "Approved", "<@U111>, <@U222>",
		"<!date^"+itoa(decided.Time.Unix()), "Outcome: succeeded", "RTO* 12.3s")

	var replies []string
	for _, m := range fake.Thread("CCARD", c.TS) {
		replies = append(replies, m.Text)
	}
	want := []string{"*detect* ok in 0.6s", "*readiness* ok in 0.1s", "Decision needed", "*approve* ok in 2.5s",
		"*cutover* ok in 0.2s", "*verify* ok in 2.0s", "Outcome: succeeded"}
	if len(replies) != len(want) {
		t.Fatalf("thread has %d replies, want %d (one per step, the question, the summary):\n%s", len(replies), len(want), strings.Join(replies, "\n"))
	}
	for i, w := range want {
		wantText(t, "reply", replies[i], w)
	}
	wantText(t, "summary", replies[len(replies)-1], "RTO* 12.3s")
	if n := len(fake.TopLevel("CCARD")); n != 1 {
		t.Fatalf("%d messages in the channel itself, want only the card", n)
	}
	if n := fake.Calls("conversations.history"); n != 0 {
		t.Fatalf("%d conversations.history calls: one publisher that handled every event renders the card from memory", n)
	}
}

// TestPublisherOnAnotherWorkerReadsTheCardBack: when the previous event went through another worker's publisher,
// the remembered card may be stale, so the card is read back from Slack once; the next event renders from memory.
func TestPublisherOnAnotherWorkerReadsTheCardBack(t *testing.T) {
	p1, fake := newPublisher(t)
	p2 := NewPublisher(Config{BotToken: "xoxb-test", APIURL: fake.APIURL()}.BotClient(), nil)
	r := newRun(t, p1, "CTWO")
	r.emit(activities.EventStarted, nil)
	r.emit(activities.EventDecisionNeeded, decisionNeeded(2))
	r.acts.Publishers[0] = p2
	r.emit(activities.EventDecision, vote("U111", "approve", 1, 2, ""))
	if n := fake.Calls("conversations.history"); n != 1 {
		t.Fatalf("%d conversations.history calls, want 1: the second worker reads the card once", n)
	}
	r.acts.Publishers[0] = p1
	r.emit(activities.EventDecision, vote("U222", "approve", 2, 2, "approve"))
	if n := fake.Calls("conversations.history"); n != 2 {
		t.Fatalf("%d conversations.history calls, want 2: back on the first worker, its memory is behind by one event", n)
	}
	r.emit(activities.EventStep, step("approve", "ok", "approved", 2.5))
	if n := fake.Calls("conversations.history"); n != 2 {
		t.Fatalf("%d conversations.history calls, want still 2: the card it just wrote is current", n)
	}
	wantText(t, "card", onlyCard(t, fake, "CTWO").AllText(), "<@U111> approved via slack", "<@U222> approved via slack", "Approved")
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestPublisherEscalatesInTheChannel(t *testing.T) {
	p, fake := newPublisher(t)
	r := newRun(t, p, "CESC")
	r.emit(activities.EventStarted, nil)
	r.emit(activities.EventDecisionNeeded, decisionNeeded(1))
	r.emit(activities.EventEscalation, func(e *activities.Event) {
		e.Step, e.Detail = "approve", "failover-payments has waited 1s for approval: failover payments from us-east to eu-west?"
	})
	r.emit(activities.EventDecision, func(e *activities.Event) {
		e.Step, e.DecisionKind, e.Actor, e.Via, e.Decision, e.Detail = "approve", workflows.DecideFailover, "policy", "plan", "escalate", "no decision in 1s; paged S0SRE"
	})
	top := fake.TopLevel("CESC")
	if len(top) != 2 || !top[1].Broadcast {
		t.Fatalf("want the card and one broadcast escalation in the channel, got %d messages", len(top))
	}
	wantText(t, "escalation", top[1].AllText(), "<!subteam^S0SRE>", "Escalation", "has waited 1s for approval")
	wantText(t, "card", onlyCard(t, fake, "CESC").AllText(), "The plan: *escalate*", "paged S0SRE")
}

func TestPublisherRetriesDoNotDuplicate(t *testing.T) {
	p, fake := newPublisher(t)
	r := newRun(t, p, "CRETRY")
	r.emit(activities.EventStarted, nil)
	// The reply is posted but its response is lost: Publish fails, the activity retries it.
	fake.LoseResponses("chat.postMessage", 1)
	e := r.emit(activities.EventStep, step("detect", "ok", "us-east is down", 0.6))
	// Temporal may also run the whole activity again (a worker crash after posting).
	r.publish(e)
	c := onlyCard(t, fake, "CRETRY")
	if n := len(fake.Thread("CRETRY", c.TS)); n != 1 {
		t.Fatalf("%d replies for one step event, want 1", n)
	}
	// The card's post is lost too: the retry finds it in the channel instead of posting another.
	r2 := newRun(t, p, "CRETRY2")
	fake.LoseResponses("chat.postMessage", 1)
	r2.emit(activities.EventStarted, nil)
	onlyCard(t, fake, "CRETRY2")
	if r2.ref == "" {
		t.Fatal("the retried started event returned no ref")
	}
}

func TestPublisherPostsTheCardOnceSlackIsBack(t *testing.T) {
	p, fake := newPublisher(t)
	r := newRun(t, p, "CDOWN")
	fake.SetDown(true)
	r.emit(activities.EventStarted, nil) // retried, then given up: the failover goes on
	if r.ref != "" || len(fake.Messages("CDOWN")) != 0 {
		t.Fatalf("ref %q while Slack is down", r.ref)
	}
	fake.SetDown(false)
	r.emit(activities.EventStep, step("detect", "ok", "us-east is down", 0.6))
	c := onlyCard(t, fake, "CDOWN")
	if r.ref != "CDOWN:"+c.TS {
		t.Fatalf("ref %q, want the late card", r.ref)
	}
	wantText(t, "late card", c.AllText(), "Failover payments: us-east → eu-west", "us-east is down")
	// A restarted worker (no memory) with an event that still has no ref finds the card rather than posting another.
	r.acts = &activities.Activities{Publishers: []activities.Publisher{NewPublisher(Config{BotToken: "xoxb-test", APIURL: fake.APIURL()}.BotClient(), nil)}}
	ref := r.ref
	r.ref = ""
	r.emit(activities.EventStep, step("readiness", "ok", "eu-west healthy", 0.1))
	onlyCard(t, fake, "CDOWN")
	if r.ref != ref || len(fake.Thread("CDOWN", c.TS)) != 2 {
		t.Fatalf("ref %q (want %q), %d replies (want 2)", r.ref, ref, len(fake.Thread("CDOWN", c.TS)))
	}
}

func TestPublisherWithoutChannelPostsNothing(t *testing.T) {
	p, fake := newPublisher(t)
	ref, err := p.Publish(context.Background(), activities.Event{Seq: 1, Type: activities.EventStarted, WorkflowID: "w", RunID: "r"})
	if err != nil || ref != "" || fake.Calls("chat.postMessage") != 0 {
		t.Fatalf("ref %q err %v calls %d", ref, err, fake.Calls("chat.postMessage"))
	}
}

// Slack answers 429 with Retry-After: the event waits as long as Slack says and is posted once, not dropped after
// three quick tries (the first release gave up within about a second).
func TestPublisherWaitsOutSlacksRateLimit(t *testing.T) {
	p, fake := newPublisher(t)
	r := newRun(t, p, "CLIMIT")
	r.emit(activities.EventStarted, nil)
	fake.RateLimit("chat.postMessage", 3, 1)
	r.emit(activities.EventStep, step("detect", "ok", "us-east is down", 0.6))
	c := onlyCard(t, fake, "CLIMIT")
	if n := len(fake.Thread("CLIMIT", c.TS)); n != 1 {
		t.Fatalf("%d replies after three 429s, want the step's reply posted once", n)
	}
	if n := fake.Calls("chat.postMessage"); n != 5 {
		t.Fatalf("%d chat.postMessage calls, want 5 (the card, three refused, the reply)", n)
	}
}
