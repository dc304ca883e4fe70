package slackbot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

// evacuationEvent is card event seq of a big evacuation: 5,000 services, 60 waves, long reasons and decisions.
func evacuationEvent(seq int, edit func(*activities.EvacuationCard)) activities.Event {
	c := &activities.EvacuationCard{ID: "evacuation-us-east", Kind: workflows.KindFailover, From: "us-east", To: "eu-west",
		Trigger: "alert RegionDown by alertmanager", Services: 5000, Step: workflows.StepWaves, Wave: "w3",
		Counts:     map[string]int{workflows.Succeeded: 3100, workflows.ServiceRunning: 200, workflows.ServiceWaiting: 1650, workflows.RolledBack: 50},
		BlastLimit: "maxFailed 100", BlastFailed: 50, ElapsedSeconds: 812}
	for i := 0; i < 60; i++ {
		c.Waves = append(c.Waves, activities.WaveProgress{Name: fmt.Sprintf("wave-%02d-%s", i, strings.Repeat("x", 40)), Total: 83, Done: 40, Running: 3, Failed: 1})
	}
	for i := 0; i < 8; i++ {
		c.Decisions = append(c.Decisions, activities.CardDecision{By: "alice", Via: "slack", Decision: workflows.ApproveUpdate,
			SlackUser: "U111", Comment: strings.Repeat("checked the dashboards ", 30), At: time.Unix(1700000000, 0)})
	}
	if edit != nil {
		edit(c)
	}
	return activities.Event{Seq: seq, Type: activities.EventEvacuation, WorkflowID: c.ID, RunID: "first-run", PlanHash: "evhash",
		Channel: "CEVAC", Evacuation: c}
}

func finished(c *activities.EvacuationCard) {
	c.Step, c.Outcome, c.Reason = workflows.StepDone, workflows.Incomplete, "50 of 5000 services did not succeed: see not_succeeded"
	c.RTOP50, c.RTOP99 = 34.1, 48
	for i := 0; i < 15; i++ {
		c.Left = append(c.Left, fmt.Sprintf("svc-%d: rolled-back — %s", i, strings.Repeat("verification failed on eu-west ", 20)))
	}
	c.LeftMore = 35
}

// TestEvacuationCardStaysOneSummary: however many services, waves and decisions, the card is one message Slack
// takes, with the decision's buttons while it is asked, the Abort button until the end, and at the end the
// summary (counts, RTO, what did not succeed) without buttons; a failed service and a decision a service asks
// are thread replies, the latter with that service's buttons.
func TestEvacuationCardStaysOneSummary(t *testing.T) {
	p, fake := newPublisher(t)
	ctx := context.Background()
	asking := evacuationEvent(1, func(c *activities.EvacuationCard) {
		c.Step, c.Pending = workflows.StepApprove, &activities.PendingDecision{Kind: workflows.DecideEvacuation,
			Question: "evacuation-us-east: failover of 5000 services out of us-east?", Needed: 2}
	})
	ref, err := p.Publish(ctx, asking)
	if err != nil {
		t.Fatal(err)
	}
	card := onlyCard(t, fake, "CEVAC")
	for _, action := range []string{ActionApprove, ActionReject, ActionAbort} {
		value, ok := card.Button(action)
		if !ok {
			t.Fatalf("no %s button on the card asking for the decision", action)
		}
		v, err := ParseButtonValue(value)
		if err != nil || v.WorkflowID != "evacuation-us-east" || v.RunID != "first-run" || v.PlanHash != "evhash" {
			t.Fatalf("%s value %+v (%v): must bind the evacuation, its first run and its hash", action, v, err)
		}
	}
	wantText(t, "card", card.AllText(), "Evacuation us-east → eu-west · 5000 services", "Decision needed* (approve-evacuation, 0 of 2",
		"succeeded *3100*", "waiting *1650*", "*Blast radius* 50 failed since the last resume (limit: maxFailed 100)",
		"and more waves", "<@U111>")

	failed := activities.Event{Seq: 2, Type: activities.EventOutcome, InEvacuation: "evacuation-us-east", ThreadRef: ref,
		Channel: "CEVAC", WorkflowID: "failover-svc-3", RunID: "r3", Service: "svc-3", Outcome: workflows.RolledBack,
		Step: workflows.StepVerify, Reason: "verification failed: rolled back"}
	asks := activities.Event{Seq: 3, Type: activities.EventDecisionNeeded, InEvacuation: "evacuation-us-east", ThreadRef: ref,
		Channel: "CEVAC", WorkflowID: "failover-svc-4", RunID: "r4", PlanHash: "h4", Service: "svc-4",
		DecisionKind: workflows.DecideFailover, Question: "failover svc-4 from us-east to eu-west?", Needed: 1}
	for _, e := range []activities.Event{failed, asks, failed} { // the repeat (a retried Notify) posts nothing
		if _, err := p.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	thread := fake.Thread("CEVAC", card.TS)
	if len(thread) != 2 || !strings.Contains(thread[0].Text, "*svc-3* ended *rolled-back* at step verify") {
		t.Fatalf("thread %+v, want svc-3's failure and svc-4's decision", thread)
	}
	v, _ := thread[1].Button(ActionApprove)
	if bv, err := ParseButtonValue(v); err != nil || bv != (ButtonValue{WorkflowID: "failover-svc-4", RunID: "r4", PlanHash: "h4", Kind: workflows.DecideFailover}) {
		t.Fatalf("svc-4's reply button %q (%v): must decide svc-4's own failover", v, err)
	}

	asking.ThreadRef = ref
	end := evacuationEvent(4, finished)
	end.ThreadRef = ref
	if _, err := p.Publish(ctx, end); err != nil {
		t.Fatal(err)
	}
	card = onlyCard(t, fake, "CEVAC")
	if withAnyButton(card) || card.Updates != 1 {
		t.Fatalf("final card: buttons %v, %d updates; want no buttons, updated in place once", withAnyButton(card), card.Updates)
	}
	wantText(t, "final card", card.AllText(), "Outcome: incomplete", "*RTO* p50 34.1s · p99 48.0s", "svc-0: rolled-back",
		"more: `starter status evacuation-us-east --all`")
	if refused := fake.Refusals(); len(refused) > 0 {
		t.Fatalf("Slack refused: %v", refused)
	}
	for _, e := range []activities.Event{asking, end} {
		c := evacuationCard(e)
		mustFit(t, 0, "evacuation card", c.text(), c.blocks)
	}
}

func withAnyButton(m interface{ Button(string) (string, bool) }) bool {
	for _, a := range []string{ActionApprove, ActionReject, ActionAbort, ActionPause, ActionResume} {
		if _, ok := m.Button(a); ok {
			return true
		}
	}
	return false
}

// TestEvacuationCardWaitsOutRetryAfter: a 429 holds the channel for Slack's Retry-After and the Notify activity
// tries the card again after it: the final state is delayed, not dropped.
func TestEvacuationCardWaitsOutRetryAfter(t *testing.T) {
	p, fake := newPublisher(t)
	acts := &activities.Activities{Publishers: []activities.Publisher{p}}
	ctx := context.Background()
	first := evacuationEvent(1, nil)
	res, err := acts.Notify(ctx, activities.NotifyInput{Events: []activities.Event{first}})
	if err != nil || res.Ref == "" {
		t.Fatalf("first card: %+v %v", res, err)
	}
	fake.RateLimit("chat.update", 1, 1)
	start := time.Now()
	res, err = acts.Notify(ctx, activities.NotifyInput{ThreadRef: res.Ref, Events: []activities.Event{evacuationEvent(2, finished)}})
	if err != nil || len(res.Dropped) != 0 {
		t.Fatalf("final card: %+v %v, want it delivered", res, err)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("the final card went out %s after a 429 with Retry-After 1 s: Retry-After not honoured", took)
	}
	card := onlyCard(t, fake, "CEVAC")
	if !strings.Contains(card.AllText(), "Outcome: incomplete") || fake.Calls("chat.update") != 2 {
		t.Fatalf("card %q after %d chat.update calls, want the final state on the second", card.Text, fake.Calls("chat.update"))
	}
	var limited *activities.RateLimited
	_, err = p.Publish(ctx, evacuationEvent(3, finished))
	if errors.As(err, &limited) {
		t.Fatalf("the 429 is still in force: %v", err)
	}
}
