package slackbot

import (
	"strings"
	"testing"

	"github.com/failover/failover/activities"
)

// TestOutcomeShowsRPOAndSLA: the outcome's thread reply and card carry the RPO and a breached SLA, marked.
func TestOutcomeShowsRPOAndSLA(t *testing.T) {
	rpo := 2.5
	e := activities.Event{Seq: 9, Type: activities.EventOutcome, Outcome: "succeeded", Reason: "traffic verified on eu-west",
		RTOSeconds: 12, To: "eu-west", RPOSeconds: &rpo, SLA: "SLA breached: rpo breached: RPO 2.5s > 1s", SLABreaches: []string{"rpo"}}
	r, ok := replyFor(e)
	if !ok {
		t.Fatal("no reply for the outcome")
	}
	for _, want := range []string{"*RPO* 2.5s", "🚨 SLA breached: rpo breached: RPO 2.5s &gt; 1s"} {
		if !strings.Contains(r.text, want) {
			t.Errorf("reply %q lacks %q", r.text, want)
		}
	}
	c := newCard(activities.Event{Type: activities.EventStarted, Service: "payments", From: "us-east", To: "eu-west"})
	c.apply(e)
	if !strings.Contains(c.json(), "RPO* 2.5s") {
		t.Errorf("card lacks the RPO: %s", c.json())
	}
}
