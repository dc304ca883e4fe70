package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/slackbot"
	"github.com/failover/failover/slackbot/internal/slackfake"
	"github.com/failover/failover/workflows"
)

// replica starts a second front door that shares nothing with the first but Temporal (and Slack, and the
// config every replica is deployed with: signing secret, allow-list, front-door key): its own click handler,
// replay caches and HTTP endpoint. It returns the endpoint's URL.
func replica(t *testing.T) string {
	t.Helper()
	api := env.cfg.BotClient()
	a := slackbot.NewApprovals(api, slackbot.Temporal{Client: env.stack.TemporalClient}, env.cfg.Allowlist(api), nil)
	a.FrontDoor = env.frontDoor
	t.Cleanup(a.Wait)
	srv := httptest.NewServer(slackbot.NewInteractions(env.cfg.SigningSecret, a, nil))
	t.Cleanup(srv.Close)
	return srv.URL + "/slack/interactions"
}

// TestAReplayedClickIsOneDecisionAcrossReplicas: the same signed Slack click sent to replica 1, then to replica 2,
// is one decision. Replica 2 reads the workflow's record of the click and answers "already recorded", not a new
// count, and the history holds one accepted Update. On a plan with people the click's user groups, read by the
// front door at the click, are recorded with it.
func TestAReplayedClickIsOneDecisionAcrossReplicas(t *testing.T) {
	second := replica(t)
	for _, tc := range []struct {
		name   string
		people bool
		user   string
	}{
		{"plan without people", false, alice},
		{"plan with people, user allowed through a Slack user group", true, oncaller},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const ch = "CREPLICAS"
			p := manualPlan(ch, 2)
			if tc.people {
				p.Approval.People = []plan.Person{{Name: "alice", Slack: []string{alice}}, {Name: "olga", Slack: []string{oncaller}}}
				p.Approval.Approvers = []string{"alice", "olga"}
			}
			run := failover(t, p)
			card := cardOf(t, ch, run, "the card asks for a decision", withButtons)
			body := slackfake.Form(slackfake.Click(card, tc.user, slackbot.ActionApprove, actionTS()))
			signed := slackfake.Sign(secret, time.Now(), body)

			seen := len(env.slack.Ephemerals(tc.user))
			if code, err := slackfake.Post(env.url, signed, body); err != nil || code != http.StatusOK {
				t.Fatalf("the click to replica 1: HTTP %d %v", code, err)
			}
			if e := lastEphemeral(t, tc.user, seen); !strings.Contains(e, "is recorded: 1 of 2 approvals") {
				t.Fatalf("replica 1 told the user %q, want the vote counted", e)
			}
			seen = len(env.slack.Ephemerals(tc.user))
			if code, err := slackfake.Post(second, signed, body); err != nil || code != http.StatusOK {
				t.Fatalf("the same click to replica 2: HTTP %d %v", code, err)
			}
			e := lastEphemeral(t, tc.user, seen)
			if !strings.Contains(e, "Already recorded") || strings.Contains(e, "of 2 approvals") {
				t.Fatalf("replica 2 told the user %q, want it answered as already recorded, not counted", e)
			}
			if n := updatesAccepted(t, run); n != 1 {
				t.Fatalf("%d Updates accepted, want exactly one decision in the history", n)
			}
			st := status(t, run)
			if st.Pending == nil || st.Pending.Have != 1 || len(st.Approvals) != 1 || st.Approvals[0].SlackClick == "" {
				t.Fatalf("pending %+v, recorded %+v: want one vote, recorded with its click", st.Pending, st.Approvals)
			}
			if tc.people && !slices.Equal(st.Approvals[0].SlackGroups, []string{"S0ONCALL"}) {
				t.Fatalf("recorded %+v, want olga's user group S0ONCALL, read at the click", st.Approvals[0])
			}
		})
	}
}

// TestAbortButtonAndPauseOnTheCard: the card carries an Abort button with a confirm dialog; a pause shows on the
// card with who paused; Abort pressed in Slack (a paused failover can be aborted) ends the run aborted before the
// cutover, with nothing changed, and the card loses the button and says who aborted.
func TestAbortButtonAndPauseOnTheCard(t *testing.T) {
	const ch = "CABORT"
	p := manualPlan(ch, 2)
	run := failover(t, p)
	card := cardOf(t, ch, run, "the card asks for a decision", withButtons)
	var confirm string
	for _, b := range card.BlockList() {
		for _, e := range b.Elements {
			if e.ActionID == slackbot.ActionAbort {
				confirm = string(e.Confirm)
			}
		}
	}
	if !strings.Contains(confirm, "Abort the failover?") || !strings.Contains(confirm, "rolled back") {
		t.Fatalf("the Abort button's confirm dialog is %q, want one saying what an abort does", confirm)
	}

	if _, err := control.Decide(context.Background(), env.stack.TemporalClient, control.Vote{WorkflowID: run.GetID(), RunID: run.GetRunID(),
		Update: workflows.PauseUpdate, Request: workflows.ApprovalRequest{By: alice, PlanHash: p.Hash(), Via: "cli"}}); err != nil {
		t.Fatalf("pause: %v", err)
	}
	card = cardOf(t, ch, run, "the card shows the pause and who paused", containing("Paused", alice))

	seen := len(env.slack.Ephemerals(bob))
	if code := clickHTTP(t, card, bob, slackbot.ActionAbort); code != http.StatusOK {
		t.Fatalf("bob's abort: HTTP %d", code)
	}
	if e := lastEphemeral(t, bob, seen); !strings.Contains(e, "Your abort of "+run.GetID()+" is recorded") {
		t.Fatalf("bob was told %q, want his abort recorded", e)
	}
	res := result(t, run)
	if res.Outcome != workflows.Aborted || !strings.Contains(res.Reason, "nothing was changed") {
		t.Fatalf("outcome %s (%s), want aborted with nothing changed", res.Outcome, res.Reason)
	}
	final := cardOf(t, ch, run, "the card ends aborted", containing("Outcome: aborted"))
	if _, ok := final.Button(slackbot.ActionAbort); ok {
		t.Fatal("the ended card still offers Abort")
	}
	if strings.Contains(final.AllText(), "Paused") {
		t.Fatal("the ended card still says paused")
	}
}
