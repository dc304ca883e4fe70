package slackbot

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

func TestButtonValue(t *testing.T) {
	v := ButtonValue{WorkflowID: "failover-payments", RunID: "run-1", PlanHash: "abc123", Kind: workflows.DecideFailover}
	got, err := ParseButtonValue(v.Encode())
	if err != nil || got != v {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if len(v.Encode()) > 2000 {
		t.Fatalf("value longer than Slack's 2000 characters")
	}
	for _, bad := range []string{"", "approve", `{"w":"failover-payments","h":"abc"}`, `{"w":"a","r":"b","h":"c","k":"d","x":1}`, `[1]`} {
		if _, err := ParseButtonValue(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestMentions(t *testing.T) {
	for in, want := range map[string]string{
		"S0SRELEADS": "<!subteam^S0SRELEADS>", "U111": "<@U111>", "W0123": "<@W0123>", "@here": "<!here>", "channel": "<!channel>",
		"sre-leads": "sre-leads", "<evil>": "&lt;evil&gt;",
	} {
		if got := mention(in); got != want {
			t.Errorf("mention(%q) = %q, want %q", in, got, want)
		}
	}
	if who("U111") != "<@U111>" || who("alice") != "alice" || who("a<b") != "a&lt;b" {
		t.Errorf("who: %q %q %q", who("U111"), who("alice"), who("a<b"))
	}
}

// roundTrip stores the card the way Slack does (JSON) and reads it back, as the Publisher does before each edit.
func roundTrip(t *testing.T, c *card) *card {
	t.Helper()
	b, err := json.Marshal(c.blocks)
	if err != nil {
		t.Fatal(err)
	}
	var bs slack.Blocks
	if err := json.Unmarshal(b, &bs); err != nil {
		t.Fatal(err)
	}
	return cardFrom(bs.BlockSet)
}

func TestCardFoldsEventsAndRepeatsChangeNothing(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	base := activities.Event{WorkflowID: "failover-payments", RunID: "run-1", Service: "payments", Kind: "failover",
		From: "us-east", To: "eu-west", PlanHash: "abc123", Channel: "CFAIL", Time: at}
	ev := func(seq int, typ string, f func(*activities.Event)) activities.Event {
		e := base
		e.Seq, e.Type = seq, typ
		if f != nil {
			f(&e)
		}
		return e
	}
	c := newCard(ev(1, activities.EventStarted, func(e *activities.Event) { e.Actor, e.Via = "alice", "cli" }))
	c.apply(ev(1, activities.EventStarted, func(e *activities.Event) { e.Actor, e.Via = "alice", "cli" }))
	steps := []activities.Event{
		ev(2, activities.EventStep, func(e *activities.Event) { e.Step, e.Result, e.Detail = "detect", "ok", "us-east is down" }),
		ev(3, activities.EventStep, func(e *activities.Event) { e.Step, e.Result, e.Detail = "readiness", "ok", "eu-west healthy" }),
		ev(4, activities.EventDecisionNeeded, func(e *activities.Event) {
			e.DecisionKind, e.Question, e.Needed = workflows.DecideFailover, "failover payments from us-east to eu-west?", 2
			e.Evidence, e.Preview = []string{"probe 1: HTTP 503"}, []string{"etcd /failover/payments/active: us-east → eu-west"}
		}),
		ev(5, activities.EventDecision, func(e *activities.Event) {
			e.Actor, e.Via, e.Decision, e.DecisionKind, e.Have, e.Needed = "U111", "slack", "approve", workflows.DecideFailover, 1, 2
		}),
	}
	for _, e := range steps {
		c = roundTrip(t, c)
		if !c.apply(e) {
			t.Fatalf("event %d (%s) changed nothing", e.Seq, e.Type)
		}
		if c2 := roundTrip(t, c); c2.apply(e) {
			t.Fatalf("applying event %d (%s) twice changed the card again", e.Seq, e.Type)
		}
	}
	if !c.has(blockActions) {
		t.Fatal("1 of 2 approvals: the buttons must stay")
	}
	c = roundTrip(t, c)
	c.apply(ev(6, activities.EventDecision, func(e *activities.Event) {
		e.Actor, e.Via, e.Decision, e.DecisionKind, e.Have, e.Needed, e.Result = "U222", "slack", "approve", workflows.DecideFailover, 2, 2, "approve"
		e.Voters = []string{"U111", "U222"} // the workflow lists who approved on the deciding event
	}))
	c = roundTrip(t, c)
	if c.has(blockActions) {
		t.Fatal("decided: the buttons must go")
	}
	js := c.json()
	for _, want := range []string{"Approved", "<@U111>, <@U222>", "<!date^", "probe 1: HTTP 503", "eu-west healthy", "What will change"} {
		if !strings.Contains(js, want) {
			t.Errorf("card lacks %q:\n%s", want, js)
		}
	}
	if got := c.count(blockVote); got != 2 {
		t.Fatalf("%d vote lines, want 2", got)
	}
}

func TestCardKeepsWithinSlackLimits(t *testing.T) {
	e := activities.Event{Seq: 4, Type: activities.EventDecisionNeeded, WorkflowID: "w", RunID: "r", PlanHash: "h", Service: strings.Repeat("s", 300),
		DecisionKind: "k", Question: "q", Needed: 1, Evidence: []string{strings.Repeat("é", 5000)}, Preview: []string{strings.Repeat("<>", 3000)}}
	c := newCard(e)
	c.apply(e)
	for seq := 10; seq < 100; seq++ {
		c.apply(activities.Event{Seq: seq, Type: activities.EventDecision, Actor: "U1", Decision: "approve", Needed: 1000})
	}
	if len(c.blocks) > 50 {
		t.Fatalf("%d blocks: Slack allows 50", len(c.blocks))
	}
	for _, b := range c.blocks {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil && len(s.Text.Text) > 3000 {
			t.Fatalf("section %s has %d characters: Slack allows 3000", s.BlockID, len(s.Text.Text))
		}
		if h, ok := b.(*slack.HeaderBlock); ok && len(h.Text.Text) > 150 {
			t.Fatalf("header has %d characters: Slack allows 150", len(h.Text.Text))
		}
	}
}

func TestControlsReplyInTheThread(t *testing.T) {
	r, ok := replyFor(activities.Event{Type: activities.EventControl, Decision: workflows.PauseUpdate, Actor: "alice", Via: "cli", Step: "reroute"})
	if !ok || !strings.Contains(r.text, "⏸️ *pause* by alice via cli at step reroute") || r.broadcast {
		t.Fatalf("pause reply %+v (%v)", r, ok)
	}
	r, ok = replyFor(activities.Event{Type: activities.EventControl, Decision: workflows.AbortUpdate, Actor: "U111", Via: "slack", Step: "approve"})
	if !ok || !strings.Contains(r.text, "🛑 *abort* by <@U111>") || !r.broadcast {
		t.Fatalf("abort reply %+v (%v): an abort is broadcast to the channel", r, ok)
	}
}

// The card offers Abort (with a confirm dialog) from the start; a pause shows who paused until the resume; an abort
// or the outcome takes the button away.
func TestCardAbortButtonAndPause(t *testing.T) {
	e := activities.Event{WorkflowID: "failover-payments", RunID: "r1", Service: "payments", From: "us-east", To: "eu-west", PlanHash: "abc"}
	c := newCard(e)
	var abort *slack.ButtonBlockElement
	if i := c.index(blockAbort); i >= 0 {
		abort, _ = c.blocks[i].(*slack.ActionBlock).Elements.ElementSet[0].(*slack.ButtonBlockElement)
	}
	if abort == nil || abort.ActionID != ActionAbort || abort.Confirm == nil || !strings.Contains(abort.Confirm.Text.Text, "rolled back") {
		t.Fatalf("new card's Abort button %+v, want one with a confirm dialog", abort)
	}
	if v, err := ParseButtonValue(abort.Value); err != nil || v.Kind != workflows.ControlKind || v.RunID != "r1" {
		t.Fatalf("Abort value %q (%v), want this run and the operator-control kind", abort.Value, err)
	}
	control := func(decision string) activities.Event {
		x := e
		x.Type, x.Decision, x.Actor, x.Via = activities.EventControl, decision, "bob", "cli"
		return x
	}
	c.apply(control(workflows.PauseUpdate))
	if !strings.Contains(c.json(), "Paused* by bob via cli") {
		t.Fatalf("paused card lacks who paused:\n%s", c.json())
	}
	c.apply(control(workflows.ResumeUpdate))
	if c.has(blockPaused) {
		t.Fatal("resumed card still says paused")
	}
	c.apply(control(workflows.AbortUpdate))
	if c.has(blockAbort) || !strings.Contains(c.json(), "Aborted by bob") {
		t.Fatalf("aborted card: abort button %v, want gone and the status naming bob:\n%s", c.has(blockAbort), c.json())
	}
}
