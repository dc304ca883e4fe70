package slackbot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/proof"
	"github.com/failover/failover/slackbot/internal/slackfake"
	"github.com/failover/failover/testsuite/testkeys"
	"github.com/failover/failover/workflows"
)

// pausedBy alice in Slack: the card's state and its latest decision.
func pausedByAlice(c *activities.EvacuationCard) {
	c.Step, c.PausedBy = workflows.StepHeld, "alice"
	c.Decisions = append(c.Decisions[1:], activities.CardDecision{By: "alice", Via: proof.ViaSlack, Decision: workflows.PauseUpdate,
		SlackUser: "U111", At: time.Unix(1700000100, 0)})
}

// buttonsOf lists the action IDs of a card's buttons, in order.
func buttonsOf(blocks []slack.Block) []string {
	var ids []string
	for _, b := range blocks {
		if a, ok := b.(*slack.ActionBlock); ok {
			for _, e := range a.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok {
					ids = append(ids, btn.ActionID)
				}
			}
		}
	}
	return ids
}

// TestEvacuationCardControlsFollowItsState: Pause while the evacuation runs and nothing holds it (also while its
// decision is asked), Resume instead while it is paused or held by its blast radius, Abort beside them until it
// is aborted or ends; a paused card says who paused, through what, and that nothing new starts while what runs
// carries on. Every state of a 5,000-service card stays within Block Kit's limits, and Slack (the fake, which
// refuses what Slack refuses) takes each as an update of the one card.
func TestEvacuationCardControlsFollowItsState(t *testing.T) {
	pending := func(c *activities.EvacuationCard) {
		c.Step, c.Pending = workflows.StepApprove, &activities.PendingDecision{Kind: workflows.DecideEvacuation, Question: "go?", Needed: 1}
	}
	held := func(c *activities.EvacuationCard) {
		c.Step, c.Held = workflows.StepHeld, "101 failed since the last resume, over maxFailed 100: "+strings.Repeat("svc-x rolled back; ", 200)
	}
	for _, tt := range []struct {
		name    string
		edit    func(*activities.EvacuationCard)
		buttons []string
		texts   []string
	}{
		{"running", nil, []string{ActionPause, ActionAbort}, []string{"Wave *w3* running"}},
		{"asking its decision", pending, []string{ActionApprove, ActionReject, ActionPause, ActionAbort}, nil},
		{"paused", pausedByAlice, []string{ActionResume, ActionAbort}, []string{"Paused by alice: no new failover starts until a resume",
			"⏸️ *Paused* by alice (<@U111>) via slack <!date^1700000100^", "no new failover starts until someone resumes it",
			"`starter resume evacuation-us-east`", "the 200 failovers running now are not paused and carry on to their end"}},
		{"held by the blast radius", held, []string{ActionResume, ActionAbort}, []string{"✋ *Held:* 101 failed"}},
		{"held and paused", func(c *activities.EvacuationCard) { held(c); pausedByAlice(c) }, []string{ActionResume, ActionAbort},
			[]string{"✋ *Held:*", "⏸️ *Paused* by alice"}},
		{"aborted", func(c *activities.EvacuationCard) { c.AbortedBy = "bob" }, nil, []string{"Aborted by bob"}},
		{"finished", finished, nil, []string{"Outcome: incomplete"}},
		{"paused, then finished", func(c *activities.EvacuationCard) { pausedByAlice(c); finished(c) }, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := evacuationEvent(1, tt.edit)
			c := evacuationCard(e)
			if got := buttonsOf(c.blocks); !slices.Equal(got, tt.buttons) {
				t.Fatalf("buttons %v, want %v", got, tt.buttons)
			}
			mustFit(t, 0, tt.name, c.text(), c.blocks)
			all := c.json()
			for _, w := range tt.texts {
				if !strings.Contains(all, w) {
					t.Errorf("card lacks %q:\n%s", w, all)
				}
			}
			p, fake := newPublisher(t)
			if _, err := p.Publish(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			posted := onlyCard(t, fake, "CEVAC")
			for _, action := range []string{ActionPause, ActionResume, ActionAbort} {
				value, ok := posted.Button(action)
				if !ok {
					continue
				}
				if v, err := ParseButtonValue(value); err != nil || v != (ButtonValue{WorkflowID: "evacuation-us-east", RunID: "first-run",
					PlanHash: "evhash", Kind: workflows.ControlKind}) {
					t.Fatalf("%s value %q (%v): must bind the evacuation's first run and hash, as an operator control", action, value, err)
				}
			}
			if refused := fake.Refusals(); len(refused) > 0 {
				t.Fatalf("Slack refused: %v", refused)
			}
		})
	}
	c := evacuationCard(evacuationEvent(1, nil))
	if !strings.Contains(c.json(), "Failovers already running are not paused: each carries on to its own end") {
		t.Fatalf("the Pause confirm dialog does not say what a pause leaves running:\n%s", c.json())
	}
}

// fakeEvacuation stands in for a running evacuation (first run "first-run", current run "run-2") in the click
// tests: its status, and the pause and resume Updates applied as the workflow's validator would let them.
type fakeEvacuation struct {
	mu    sync.Mutex
	st    workflows.EvacuationStatus
	calls []decideCall
}

func (f *fakeEvacuation) Status(context.Context, string, string) (workflows.Status, error) {
	return workflows.Status{}, ErrRunClosed
}

func (f *fakeEvacuation) EvacuationStatus(_ context.Context, id, firstRunID string) (workflows.EvacuationStatus, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != f.st.ID || firstRunID != "first-run" {
		return workflows.EvacuationStatus{}, "", ErrRunClosed
	}
	return f.st, "run-2", nil
}

func (f *fakeEvacuation) Decide(_ context.Context, workflowID, runID, update, updateID string, req workflows.ApprovalRequest) (workflows.DecisionState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, decideCall{workflowID, runID, update, updateID, req})
	switch update {
	case workflows.PauseUpdate:
		f.st.Paused, f.st.PausedBy = true, req.By
		f.st.Approvals = append(f.st.Approvals, workflows.Approval{By: req.By, Via: req.Via, Decision: update, At: time.Unix(1700000100, 0)})
	case workflows.ResumeUpdate:
		f.st.Paused, f.st.PausedBy, f.st.Held = false, "", ""
	}
	return workflows.DecisionState{Kind: workflows.ControlKind, Outcome: update}, nil
}

func (f *fakeEvacuation) decides() []decideCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]decideCall(nil), f.calls...)
}

// evacuationClicks is an evacuation's card in a fake Slack, and the endpoint its clicks are posted to.
type evacuationClicks struct {
	clickEnv
	ev *fakeEvacuation
}

func newEvacuationClicks(t *testing.T, allow func(*Config)) *evacuationClicks {
	t.Helper()
	p, fake := newPublisher(t)
	if _, err := p.Publish(context.Background(), evacuationEvent(1, nil)); err != nil {
		t.Fatal(err)
	}
	cfg := Config{BotToken: "xoxb-test", SigningSecret: testSecret, APIURL: fake.APIURL()}
	if allow != nil {
		allow(&cfg)
	}
	api := cfg.BotClient()
	ev := &fakeEvacuation{st: workflows.EvacuationStatus{ID: "evacuation-us-east", Hash: "evhash", Step: workflows.StepWaves,
		Policy: plan.Approval{Approvers: []string{"U111"}}}}
	a := NewApprovals(api, ev, cfg.Allowlist(api), nil)
	srv := httptest.NewServer(NewInteractions(cfg.SigningSecret, a, nil))
	t.Cleanup(srv.Close)
	t.Cleanup(a.Wait)
	return &evacuationClicks{clickEnv: clickEnv{fake: fake, approvals: a, url: srv.URL, card: onlyCard(t, fake, "CEVAC")}, ev: ev}
}

// send posts user's signed click on action (with the card's button value, even when the card no longer shows
// that button: a stale card) and returns what the user was told.
func (c *evacuationClicks) send(t *testing.T, user, action, value string) string {
	t.Helper()
	c.n++
	seen := len(c.fake.Ephemerals(user))
	body := slackfake.Form(slackfake.ClickWithValue(c.card, user, action, "1700000000."+itoa(int64(200000+c.n)), value))
	if code := c.post(t, slackfake.Sign(testSecret, time.Now(), body), body); code != http.StatusOK {
		t.Fatalf("%s by %s: HTTP %d", action, user, code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(c.fake.Ephemerals(user)) <= seen {
		if time.Now().After(deadline) {
			t.Fatalf("no answer to %s's %s", user, action)
		}
		time.Sleep(5 * time.Millisecond)
	}
	es := c.fake.Ephemerals(user)
	return es[len(es)-1].Text
}

// TestEvacuationPauseAndResumeClicks: Pause and Resume clicks on an evacuation's card go the way Abort's do:
// a forged or stale-signed request is refused before anything (401), a user off the Slack allow-list is told so,
// a signed click of an allowed user becomes the evacuation's pause Update to its current run (via slack, the
// card's hash, the click's ID), a second Pause on the paused run (a double click, a card not yet rewritten) and a
// Resume on a run not paused are answered as out of date and reach nothing.
func TestEvacuationPauseAndResumeClicks(t *testing.T) {
	c := newEvacuationClicks(t, func(cfg *Config) { cfg.ApproverUsers = []string{"U111", "U222"} })
	pause, ok := c.card.Button(ActionPause)
	if !ok {
		t.Fatal("the running evacuation's card has no Pause button")
	}
	body := slackfake.Form(slackfake.Click(c.card, "U111", ActionPause, "1700000000.000001"))
	for name, h := range map[string]http.Header{
		"signed with another secret": slackfake.Sign("not-the-secret", time.Now(), body),
		"signed 6 minutes ago":       slackfake.Sign(testSecret, time.Now().Add(-6*time.Minute), body),
	} {
		if code := c.post(t, h, body); code != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d, want 401", name, code)
		}
	}
	if e := c.send(t, "U999", ActionPause, pause); !strings.Contains(e, "You are not allowed to decide failovers, so nothing changed") {
		t.Fatalf("U999 was told %q", e)
	}
	if n := len(c.ev.decides()); n != 0 {
		t.Fatalf("%d refused clicks reached the evacuation", n)
	}

	e := c.send(t, "U111", ActionPause, pause)
	if !strings.Contains(e, "Your pause of evacuation-us-east is recorded: no new failover starts until someone resumes it") {
		t.Fatalf("U111 was told %q", e)
	}
	calls := c.ev.decides()
	if len(calls) != 1 {
		t.Fatalf("%d updates, want the one pause", len(calls))
	}
	if got := calls[0]; got.update != workflows.PauseUpdate || got.workflowID != "evacuation-us-east" || got.runID != "run-2" ||
		got.req.By != "U111" || got.req.Via != proof.ViaSlack || got.req.PlanHash != "evhash" || got.req.Click == "" ||
		got.updateID != "slack:"+got.req.Click {
		t.Fatalf("pause sent as %+v, want U111's Slack click to the evacuation's current run", got)
	}

	// A double click (or the old card's Pause): already paused, told by whom, nothing sent.
	if e := c.send(t, "U222", ActionPause, pause); !strings.Contains(e, "out of date: the evacuation is paused already (by U111 via slack at") ||
		!strings.Contains(e, "Nothing changed") {
		t.Fatalf("a second Pause: U222 was told %q", e)
	}
	if e := c.send(t, "U222", ActionResume, pause); !strings.Contains(e, "Your resume of evacuation-us-east is recorded: waiting failovers start again") {
		t.Fatalf("resume: U222 was told %q", e)
	}
	if e := c.send(t, "U111", ActionResume, pause); !strings.Contains(e, "the evacuation is not paused (nor held by its blast radius)") {
		t.Fatalf("a second Resume: U111 was told %q", e)
	}
	if calls := c.ev.decides(); len(calls) != 2 || calls[1].update != workflows.ResumeUpdate {
		t.Fatalf("updates %+v, want the pause and one resume", calls)
	}

	// Held by its blast radius, not paused: Resume applies.
	c.ev.mu.Lock()
	c.ev.st.Held = "3 failed since the last resume, over maxFailed 2"
	c.ev.mu.Unlock()
	if e := c.send(t, "U111", ActionResume, pause); !strings.Contains(e, "resume of evacuation-us-east is recorded") {
		t.Fatalf("resume of a held evacuation: U111 was told %q", e)
	}
}

// TestEvacuationPauseClickIsSigned: on an evacuation whose plan names approval.people, a Pause click is the
// person's, signed by the front door as an operator control; a Slack user who is nobody in the plan is refused.
func TestEvacuationPauseClickIsSigned(t *testing.T) {
	c := newEvacuationClicks(t, nil)
	c.ev.mu.Lock()
	c.ev.st.Policy = plan.Approval{People: []plan.Person{{Name: "alice", Slack: []string{"U111"}}}, Approvers: []string{"alice"}}
	c.ev.mu.Unlock()
	frontDoor := testkeys.Signer(t)
	c.approvals.FrontDoor = frontDoor
	pause, _ := c.card.Button(ActionPause)
	if e := c.send(t, "U999", ActionPause, pause); !strings.Contains(e, "Your Slack user (U999) is nobody in the plan's approval.people") {
		t.Fatalf("U999 was told %q", e)
	}
	if e := c.send(t, "U111", ActionPause, pause); !strings.Contains(e, "pause of evacuation-us-east is recorded") {
		t.Fatalf("U111 was told %q", e)
	}
	calls := c.ev.decides()
	if len(calls) != 1 {
		t.Fatalf("%d updates, want 1", len(calls))
	}
	pr := calls[0].req.Proof
	if pr == nil || pr.Approver != "alice" || pr.Kind != workflows.ControlKind || pr.Decision != workflows.PauseUpdate ||
		pr.RunID != "run-2" || pr.PlanHash != "evhash" || pr.Via != proof.ViaSlack || calls[0].updateID != pr.ID() {
		t.Fatalf("pause %+v, want alice's pause of run-2 signed by the front door", calls[0])
	}
	if err := pr.Verify(proof.TrustKeys(frontDoor.PublicKey()), time.Now(), 0); err != nil {
		t.Fatalf("the front door's proof does not verify: %v", err)
	}
}
