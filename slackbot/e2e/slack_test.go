package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/slackbot"
	"github.com/failover/failover/slackbot/internal/slackfake"
	"github.com/failover/failover/workflows"
)

func TestApproveOverHTTPRunsTheFailoverAndThreadsIt(t *testing.T) {
	const ch = "CAPPROVE"
	p := manualPlan(ch, 1)
	run := failover(t, p)
	card := cardOf(t, ch, run, "the card asks for a decision", withButtons)

	wantText(t, "card", card.AllText(), "Failover payments: us-east → eu-west", "*From → to*\nus-east → eu-west",
		"failover-payments", p.Hash(), "Detection evidence", "/healthz: HTTP 503", "*Readiness* ✅ eu-west healthy",
		"What will change", "etcd /failover/payments/active: {region: us-east", "kong upstream payments",
		"Decision needed* (approve-failover, 0 of 1 approvals)")
	value, _ := card.Button(slackbot.ActionApprove)
	v, err := slackbot.ParseButtonValue(value)
	if err != nil || v != (slackbot.ButtonValue{WorkflowID: "failover-payments", RunID: run.GetRunID(), PlanHash: p.Hash(), Kind: workflows.DecideFailover}) {
		t.Fatalf("button value %q (%v): must bind this run, its plan hash and the decision kind", value, err)
	}

	if code := clickHTTP(t, card, alice, slackbot.ActionApprove); code != http.StatusOK {
		t.Fatalf("approve: HTTP %d", code)
	}
	res := result(t, run)
	defer resetToUSEast(t)
	if res.Outcome != workflows.Succeeded {
		t.Fatalf("outcome %s (%s)", res.Outcome, res.Reason)
	}
	if n := updatesAccepted(t, run); n != 1 {
		t.Fatalf("%d updates accepted, want 1", n)
	}
	if e := lastEphemeral(t, alice, 0); !strings.Contains(e, "approval of failover-payments is recorded: 1 of 1") {
		t.Fatalf("alice was told %q", e)
	}

	card = cardOf(t, ch, run, "the card shows who decided, when, and the outcome",
		containing("✅ *Approved* (approve-failover)", "by <@U111>", "Outcome: succeeded", "*RTO*"))
	if withButtons(card) || card.Updates == 0 {
		t.Fatalf("buttons still there (%v) or the card never updated in place (%d updates)", withButtons(card), card.Updates)
	}
	wantText(t, "decided card", card.AllText(), "<@U111> approved via slack · <!date^")

	eventually(t, 10*time.Second, "the final summary in the thread", func() bool {
		return strings.Contains(threadTexts(ch, card.TS), "Outcome: succeeded")
	})
	thread := threadTexts(ch, card.TS)
	for _, s := range []string{"detect", "readiness", "approve", "cutover", "reroute", "warmup", "verify"} {
		if n := strings.Count(thread, "*"+s+"*"); n != 1 {
			t.Errorf("%d replies for step %s, want 1", n, s)
		}
	}
	wantText(t, "thread", thread, "Decision needed", "*RTO* ", "fault → traffic verified on eu-west")
	if n := len(env.slack.TopLevel(ch)); n != 1 {
		t.Fatalf("%d messages in the channel, want only the card (progress goes to the thread)", n)
	}
}

func TestRefusedClicksLeaveTheWorkflowUnchanged(t *testing.T) {
	const ch = "CREFUSE"
	p := manualPlan(ch, 2)
	run := failover(t, p)
	card := cardOf(t, ch, run, "the card asks for a decision", withButtons)
	body := slackfake.Form(slackfake.Click(card, alice, slackbot.ActionApprove, actionTS()))
	unchanged := func(what string) {
		t.Helper()
		env.approvals.Wait()
		st := status(t, run)
		if len(st.Approvals) != 0 || st.Pending == nil || st.Pending.Have != 0 || updatesAccepted(t, run) != 0 {
			t.Fatalf("%s changed the workflow: approvals %+v, pending %+v", what, st.Approvals, st.Pending)
		}
	}

	// Not from Slack: refused before anything is parsed.
	forged, err := slackfake.Post(env.url, slackfake.Sign("not-the-secret", time.Now(), body), body)
	if err != nil || forged != http.StatusUnauthorized {
		t.Fatalf("forged signature: HTTP %d %v", forged, err)
	}
	if code := postSigned(t, body, time.Now().Add(-6*time.Minute)); code != http.StatusUnauthorized {
		t.Fatalf("stale timestamp: HTTP %d", code)
	}
	unchanged("a forged or stale request")

	// From Slack, but not someone who may decide.
	for _, u := range []struct{ user, want string }{
		{mallory, "not allowed"}, // on no list
		{carol, "not allowed"},   // a plan approver, but not on the Slack allow-list
		{oncaller, "U555 may not decide: not in the plan's approval.approvers"}, // allowed in Slack, refused by the workflow
	} {
		seen := len(env.slack.Ephemerals(u.user))
		if code := clickHTTP(t, card, u.user, slackbot.ActionApprove); code != http.StatusOK {
			t.Fatalf("%s: HTTP %d", u.user, code)
		}
		if e := lastEphemeral(t, u.user, seen); !strings.Contains(e, u.want) {
			t.Fatalf("%s was told %q, want %q", u.user, e, u.want)
		}
		unchanged(u.user + "'s click")
	}

	// Stale buttons: another plan hash, another decision kind.
	value, _ := card.Button(slackbot.ActionApprove)
	v, _ := slackbot.ParseButtonValue(value)
	for _, tt := range []struct {
		name string
		v    slackbot.ButtonValue
		want string
	}{
		{"an older plan", slackbot.ButtonValue{WorkflowID: v.WorkflowID, RunID: v.RunID, PlanHash: "0123456789ab", Kind: v.Kind}, "out of date: it shows plan 0123456789ab"},
		{"another decision", slackbot.ButtonValue{WorkflowID: v.WorkflowID, RunID: v.RunID, PlanHash: v.PlanHash, Kind: workflows.DecideUndo}, "it asks undo-past-no-return"},
		{"another workflow", slackbot.ButtonValue{WorkflowID: "failover-orders", RunID: v.RunID, PlanHash: v.PlanHash, Kind: v.Kind}, "has ended (or no longer exists)"},
	} {
		seen := len(env.slack.Ephemerals(alice))
		stale := slackfake.Form(slackfake.ClickWithValue(card, alice, slackbot.ActionApprove, actionTS(), tt.v.Encode()))
		if code := postSigned(t, stale, time.Now()); code != http.StatusOK {
			t.Fatalf("%s: HTTP %d", tt.name, code)
		}
		if e := lastEphemeral(t, alice, seen); !strings.Contains(e, tt.want) {
			t.Fatalf("%s: alice was told %q, want %q", tt.name, e, tt.want)
		}
		unchanged("a button of " + tt.name)
	}

	// A genuine click counts once; the same request replayed is ignored before it reaches Temporal.
	before := env.wf.decides.Load()
	if code := postSigned(t, body, time.Now()); code != http.StatusOK {
		t.Fatalf("genuine approve: HTTP %d", code)
	}
	h := slackfake.Sign(secret, time.Now(), body)
	for i := 0; i < 2; i++ {
		if code, err := slackfake.Post(env.url, h, body); err != nil || code != http.StatusOK {
			t.Fatalf("approve then replay: HTTP %d %v", code, err)
		}
	}
	env.approvals.Wait()
	if got := env.wf.decides.Load() - before; got != 1 {
		t.Fatalf("%d updates sent for one click and its replays, want 1", got)
	}
	if st := status(t, run); len(st.Approvals) != 1 || st.Pending.Have != 1 || updatesAccepted(t, run) != 1 {
		t.Fatalf("after one approval and replays: approvals %+v pending %+v", st.Approvals, st.Pending)
	}

	// Bob rejects: the card says so, without buttons; nothing changed in etcd or Kong.
	if code := clickHTTP(t, card, bob, slackbot.ActionReject); code != http.StatusOK {
		t.Fatalf("reject: HTTP %d", code)
	}
	if res := result(t, run); res.Outcome != workflows.Rejected {
		t.Fatalf("outcome %s (%s), want rejected", res.Outcome, res.Reason)
	}
	decided := cardOf(t, ch, run, "the card shows the rejection", containing("❌ *Rejected*", "by <@U222>", "Outcome: rejected"))
	if withButtons(decided) {
		t.Fatal("rejected: buttons still there")
	}

	// The next failover with the very same plan: the old message's buttons name the old run and do nothing.
	next := failover(t, p)
	nextCard := cardOf(t, ch, next, "the next failover's card", withButtons)
	if nextCard.TS == card.TS {
		t.Fatal("the next failover reused the old card")
	}
	seen := len(env.slack.Ephemerals(alice))
	// card is the old message as a client that has not refreshed still shows it, buttons and all.
	if code := clickHTTP(t, card, alice, slackbot.ActionApprove); code != http.StatusOK {
		t.Fatalf("old message: HTTP %d", code)
	}
	if e := lastEphemeral(t, alice, seen); !strings.Contains(e, "has ended") {
		t.Fatalf("old message: alice was told %q", e)
	}
	env.approvals.Wait()
	if st := status(t, next); len(st.Approvals) != 0 || updatesAccepted(t, next) != 0 {
		t.Fatalf("a click on the old message changed the new failover: %+v", st.Approvals)
	}

	// Socket Mode: bob rejects the new one with an envelope.
	if err := env.slack.SendInteractive("env-reject", slackfake.Click(nextCard, bob, slackbot.ActionReject, actionTS())); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the envelope is acked", func() bool { return env.slack.Acked("env-reject") })
	if res := result(t, next); res.Outcome != workflows.Rejected {
		t.Fatalf("outcome %s (%s), want rejected via Socket Mode", res.Outcome, res.Reason)
	}
	cardOf(t, ch, next, "the new card shows the rejection", containing("❌ *Rejected*", "<@U222> rejected via slack"))
}

func TestQuorumOfTwoOverHTTPAndSocketMode(t *testing.T) {
	const ch = "CQUORUM"
	run := failover(t, manualPlan(ch, 2))
	card := cardOf(t, ch, run, "the card asks for a decision", withButtons)

	if code := clickHTTP(t, card, alice, slackbot.ActionApprove); code != http.StatusOK {
		t.Fatalf("alice: HTTP %d", code)
	}
	card = cardOf(t, ch, run, "one vote on the card, buttons kept", func(m slackfake.Message) bool {
		return withButtons(m) && strings.Contains(m.AllText(), "<@U111> approved via slack") && strings.Contains(m.AllText(), "1 of 2")
	})
	seen := len(env.slack.Ephemerals(alice))
	if code := clickHTTP(t, card, alice, slackbot.ActionApprove); code != http.StatusOK {
		t.Fatalf("alice again: HTTP %d", code)
	}
	if e := lastEphemeral(t, alice, seen); !strings.Contains(e, "already approved: quorum needs 2 distinct approvers") {
		t.Fatalf("alice's second vote: told %q", e)
	}
	if st := status(t, run); st.Pending == nil || st.Pending.Have != 1 {
		t.Fatalf("after a double vote: pending %+v, want 1 of 2", st.Pending)
	}

	if err := env.slack.SendInteractive("env-quorum", slackfake.Click(card, bob, slackbot.ActionApprove, actionTS())); err != nil {
		t.Fatal(err)
	}
	res := result(t, run)
	defer resetToUSEast(t)
	if res.Outcome != workflows.Succeeded || !env.slack.Acked("env-quorum") {
		t.Fatalf("outcome %s (%s), envelope acked %v", res.Outcome, res.Reason, env.slack.Acked("env-quorum"))
	}
	card = cardOf(t, ch, run, "the card shows both approvers", containing("✅ *Approved*", "by <@U111>, <@U222>", "2 of 2"))
	if withButtons(card) {
		t.Fatal("approved: buttons still there")
	}
}

func TestTimeoutEscalatesThenAborts(t *testing.T) {
	const ch = "CTIMEOUT"
	p := manualPlan(ch, 1)
	p.Approval.Timeout, p.Approval.OnTimeout, p.Approval.EscalateTo = time.Second, plan.OnTimeoutEscalate, "S0SRELEADS"
	run := failover(t, p)
	res := result(t, run)
	if res.Outcome != workflows.TimedOut {
		t.Fatalf("outcome %s (%s), want timed-out", res.Outcome, res.Reason)
	}
	var escalation slackfake.Message
	eventually(t, 10*time.Second, "the escalation in the channel", func() bool {
		for _, m := range env.slack.TopLevel(ch) {
			if m.Broadcast && strings.Contains(m.Text, "Escalation") {
				escalation = m
				return true
			}
		}
		return false
	})
	wantText(t, "escalation", escalation.AllText(), "<!subteam^S0SRELEADS>", "has waited 1s for approval")
	card := cardOf(t, ch, run, "the card shows the timeout", containing("Outcome: timed-out", "The plan: *escalate*", "No longer asked*: no decision within 1s"))
	if withButtons(card) {
		t.Fatal("timed out: buttons still there")
	}
	if escalation.ThreadTS != card.TS {
		t.Fatalf("the escalation is not in the card's thread")
	}
}

func TestSlackDownTheFailoverWaitsAndTheCLIApproves(t *testing.T) {
	const ch = "CDOWN"
	env.slack.SetDown(true)
	defer env.slack.SetDown(false)
	run := failover(t, manualPlan(ch, 1))
	eventually(t, 20*time.Second, "the failover waits for approval", func() bool {
		st := status(t, run)
		return st.Pending != nil && st.Step == "approve"
	})
	// What `starter approve` does: the same Update, via cli.
	state, err := slackbot.Temporal{Client: env.stack.TemporalClient}.Decide(context.Background(), run.GetID(), run.GetRunID(),
		workflows.ApproveUpdate, "", workflows.ApprovalRequest{By: alice, PlanHash: status(t, run).PlanHash, Via: "cli"})
	if err != nil || state.Outcome != workflows.ApproveUpdate {
		t.Fatalf("CLI approve: %+v %v", state, err)
	}
	env.slack.SetDown(false)
	res := result(t, run)
	defer resetToUSEast(t)
	if res.Outcome != workflows.Succeeded {
		t.Fatalf("outcome %s (%s)", res.Outcome, res.Reason)
	}
	// Slack is back: the first event that got through posted the card, and the rest followed.
	card := cardOf(t, ch, run, "a card once Slack is back", containing("Outcome: succeeded"))
	if n := len(env.slack.TopLevel(ch)); n != 1 {
		t.Fatalf("%d cards, want 1", n)
	}
	wantText(t, "thread", threadTexts(ch, card.TS), "Outcome: succeeded")
	if env.slack.Calls("chat.postMessage") == 0 {
		t.Fatal("nothing posted")
	}
}
