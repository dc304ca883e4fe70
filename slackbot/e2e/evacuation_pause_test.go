package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/failover/failover/control"
	"github.com/failover/failover/proof"
	"github.com/failover/failover/slackbot"
	"github.com/failover/failover/slackbot/internal/slackfake"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// pauseWindow is how long a paused evacuation with nothing in flight is watched for a failover starting: a
// failover here starts within a workflow task of being allowed to (tens of milliseconds), so seconds of an
// unchanged status mean the pause holds.
const pauseWindow = 3 * time.Second

// TestEvacuationPausedAndResumedFromTheCard evacuates twelve services of us-east one at a time on the real stack,
// with its card in channel CEVPAUSE, and drives it from the card's buttons only, through the real interactions
// handler (Slack's signature checked, the Slack ID mapped to the person alice, the click signed by the front door):
//   - alice approves, then pauses: the evacuation's status says paused by alice, the failover in flight finishes
//     and then no further failover starts (the status's counts polled over pauseWindow stay put, services
//     waiting);
//   - the card is rewritten: Resume instead of Pause, who paused, via slack, and that nothing new starts;
//   - a second Pause on the card as it was (a double click), mallory (not on the Slack allow-list) and the on-call
//     member who is nobody in the plan clicking Resume are each told why nothing changed, and nothing does
//     (no Update reaches the workflow's history, it stays paused);
//   - alice resumes: every service moves, and the evacuation's record has her approve, pause and resume via slack.
func TestEvacuationPausedAndResumedFromTheCard(t *testing.T) {
	const ch = "CEVPAUSE"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	names := stack.ServiceNames("evp", 12)
	opts := stack.ServiceOptions{Probes: 2, Samples: 1}
	if err := env.stack.SeedServices(ctx, dir, names, opts); err != nil {
		t.Fatal(err)
	}
	run := evacuate(ctx, t, dir, 1, ch)

	asking := cardOf(t, ch, run, "the evacuation's card asks for its decision", withButtons)
	if _, ok := asking.Button(slackbot.ActionPause); !ok {
		t.Fatal("the running evacuation's card has no Pause button")
	}
	click(t, asking, alice, slackbot.ActionApprove, "approval of evacuation-us-east is recorded: 1 of 1")
	click(t, asking, alice, slackbot.ActionPause, "Your pause of evacuation-us-east is recorded: no new failover starts until someone resumes it")

	st := evacuationStatus(t, run)
	if !st.Paused || st.PausedBy != "alice" || st.Step != workflows.StepHeld {
		t.Fatalf("after the Pause click: paused %v by %q at step %s, want paused by alice, held", st.Paused, st.PausedBy, st.Step)
	}
	eventually(t, time.Minute, "the failover in flight at the pause ends", func() bool {
		st = evacuationStatus(t, run)
		return st.Counts[workflows.ServiceRunning]+st.Counts[workflows.ServiceJoined] == 0
	})
	waiting := st.Counts[workflows.ServiceWaiting]
	if waiting == 0 {
		t.Fatalf("counts %v: every service started before the pause took; the test proves nothing", st.Counts)
	}
	t.Logf("paused with %d of %d services waiting: %v", waiting, len(names), st.Counts)
	holds(t, pauseWindow, "no failover starts while paused", func() string {
		now := evacuationStatus(t, run)
		if now.Counts[workflows.ServiceWaiting] != waiting || now.Counts[workflows.ServiceRunning] != 0 || !now.Paused {
			return fmt.Sprintf("counts %v, paused %v (%d waiting at the start)", now.Counts, now.Paused, waiting)
		}
		return ""
	})

	paused := cardOf(t, ch, run, "the card shows the pause", containing("⏸️ *Paused* by alice (<@"+alice+">) via slack",
		"no new failover starts until someone resumes it"))
	if _, ok := paused.Button(slackbot.ActionResume); !ok {
		t.Fatal("the paused card has no Resume button")
	}
	if _, ok := paused.Button(slackbot.ActionPause); ok {
		t.Fatal("the paused card still has its Pause button")
	}

	accepted := updatesAccepted(t, run)
	decides := env.wf.decides.Load()
	click(t, asking, alice, slackbot.ActionPause, "out of date: the evacuation is paused already (by alice via slack at")
	click(t, paused, mallory, slackbot.ActionResume, "You are not allowed to decide failovers, so nothing changed")
	click(t, paused, oncaller, slackbot.ActionResume, "Your Slack user ("+oncaller+") is nobody in the plan's approval.people, so nothing changed")
	if st := evacuationStatus(t, run); !st.Paused || st.Counts[workflows.ServiceWaiting] != waiting {
		t.Fatalf("after the refused clicks: paused %v, counts %v; want still paused, %d waiting", st.Paused, st.Counts, waiting)
	}
	if n, d := updatesAccepted(t, run), env.wf.decides.Load(); n != accepted || d != decides {
		t.Fatalf("the refused clicks sent %d Updates, %d accepted; want none", d-decides, n-accepted)
	}

	click(t, paused, alice, slackbot.ActionResume, "Your resume of evacuation-us-east is recorded: waiting failovers start again")
	var res workflows.EvacuationResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != workflows.Succeeded || res.Counts[workflows.Succeeded] != len(names) {
		t.Fatalf("result %+v, want all %d succeeded after the resume", res, len(names))
	}
	st = evacuationStatus(t, run)
	var got []string
	for _, a := range st.Approvals {
		if a.Person != "alice" || a.Via != proof.ViaSlack || a.SlackUser != alice || a.ProofID == "" {
			t.Fatalf("decision %+v, want alice's signed Slack click", a)
		}
		got = append(got, a.Decision)
	}
	if strings.Join(got, ",") != "approve,pause,resume" {
		t.Fatalf("decisions %v, want approve, pause, resume", got)
	}
	final := cardOf(t, ch, run, "the card's final state", containing("Outcome: succeeded", "*pause* via slack", "*resume* via slack"))
	if withButtons(final) || hasControl(final) {
		t.Fatal("the finished card still has buttons")
	}
	if n := len(env.slack.TopLevel(ch)); n != 1 {
		t.Fatalf("%d top-level messages in %s, want the one card", n, ch)
	}
}

// click posts user's signed click on action of card and waits for their answer, which must contain want.
func click(t *testing.T, card slackfake.Message, user, action, want string) {
	t.Helper()
	seen := len(env.slack.Ephemerals(user))
	if code := clickHTTP(t, card, user, action); code != http.StatusOK {
		t.Fatalf("%s by %s: HTTP %d", action, user, code)
	}
	if e := lastEphemeral(t, user, seen); !strings.Contains(e, want) {
		t.Fatalf("%s by %s: told %q, want %q", action, user, e, want)
	}
}

func evacuationStatus(t *testing.T, run client.WorkflowRun) workflows.EvacuationStatus {
	t.Helper()
	st, err := control.EvacuationStatus(context.Background(), env.stack.TemporalClient, run.GetID(), "")
	if err != nil {
		t.Fatalf("evacuation status: %v", err)
	}
	return st
}

// holds polls broken for the whole window and fails as soon as it says what broke.
func holds(t *testing.T, window time.Duration, what string, broken func() string) {
	t.Helper()
	polls := 0
	for end := time.Now().Add(window); time.Now().Before(end); polls++ {
		if why := broken(); why != "" {
			t.Fatalf("%s: broken after %d polls: %s", what, polls, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s: held for %s (%d polls of the status)", what, window, polls)
}

func hasControl(m slackfake.Message) bool {
	for _, a := range []string{slackbot.ActionAbort, slackbot.ActionPause, slackbot.ActionResume} {
		if _, ok := m.Button(a); ok {
			return true
		}
	}
	return false
}
