package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"gopkg.in/yaml.v3"

	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/slackbot"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// TestEvacuationPostsOneCard evacuates us-east with 24 services on the real stack, the evacuation's card in
// channel CEVAC and every service's plan naming channel CPLANS:
//   - the evacuation posts exactly one card and updates it far less often than once per service;
//   - alice approves it with the card's Approve button, through the real interactions handler (Slack's signature
//     checked, her Slack ID mapped to the person alice, the decision signed by the front door's key);
//   - the one service whose plan changed since the start is refused, and that is exactly one thread reply;
//   - the children post nothing of their own (CPLANS stays empty);
//   - Slack answers one chat.update with 429 Retry-After 2: the card's final state still arrives.
func TestEvacuationPostsOneCard(t *testing.T) {
	const ch, plansCh = "CEVAC", "CPLANS"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	names := stack.ServiceNames("evs", 24)
	opts := stack.ServiceOptions{Probes: 2, Samples: 1}
	if err := env.stack.SeedServices(ctx, dir, names, opts); err != nil {
		t.Fatal(err)
	}
	for _, n := range names { // each plan would post its own card in CPLANS, were it not the evacuation's child
		p := env.stack.ServicePlan(n, opts)
		p.Approval.SlackChannel = plansCh
		writePlan(t, filepath.Join(dir, n+".yaml"), p)
	}
	run := evacuate(ctx, t, dir, 6, ch)
	started := time.Now()
	// An edit after the start: the evacuation refuses that service at its turn.
	edited := filepath.Join(dir, names[5]+".yaml")
	b, err := os.ReadFile(edited)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(edited, append(b, []byte("# edited after the start\nlabels: {edited: \"yes\"}\n")...), 0o644); err != nil {
		t.Fatal(err)
	}

	card := cardOf(t, ch, run, "the evacuation's card asks for its decision", withButtons)
	wantText(t, "card", card.AllText(), "Evacuation us-east → eu-west · 24 services", "evacuation-us-east",
		"Decision needed* (approve-evacuation, 0 of 1 approvals)", "waiting *24*")
	// The next card write after the approval meets Slack's rate limit.
	env.slack.RateLimit("chat.update", 1, 2)
	updateCalls := env.slack.Calls("chat.update")
	seen := len(env.slack.Ephemerals(alice))
	if code := clickHTTP(t, card, alice, slackbot.ActionApprove); code != http.StatusOK {
		t.Fatalf("approve: HTTP %d", code)
	}
	if e := lastEphemeral(t, alice, seen); !strings.Contains(e, "approval of evacuation-us-east is recorded: 1 of 1") {
		t.Fatalf("alice was told %q", e)
	}

	var res workflows.EvacuationResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(started)
	if res.Outcome != workflows.Incomplete || res.Counts[workflows.Succeeded] != 23 || res.Counts[workflows.Refused] != 1 {
		t.Fatalf("result %+v, want 23 succeeded and %s refused", res, names[5])
	}
	st, err := control.EvacuationStatus(ctx, env.stack.TemporalClient, run.GetID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if a := st.Approvals[0]; a.Person != "alice" || a.Via != "slack" || a.SlackUser != alice || a.ProofID == "" {
		t.Fatalf("approval %+v, want alice's signed Slack click", a)
	}

	final := cardOf(t, ch, run, "the card's final state, after the 429", containing("Outcome: incomplete", "*RTO* p50"))
	if withButtons(final) {
		t.Fatal("the finished card still has buttons")
	}
	if _, ok := final.Button(slackbot.ActionAbort); ok {
		t.Fatal("the finished card still has its Abort button")
	}
	wantText(t, "final card", final.AllText(), "succeeded *23*", "refused *1*", names[5]+": refused")
	if n := len(env.slack.TopLevel(ch)); n != 1 {
		t.Fatalf("%d top-level messages in %s, want the one card", n, ch)
	}
	// Updates: one every 5 s at most while counts move, plus the urgent ones (approved, the end); never one per
	// service (24 would be the naive count).
	bound := int(elapsed/(5*time.Second)) + 4
	if final.Updates > bound || final.Updates >= len(names) {
		t.Fatalf("the card was updated %d times in %s for %d services, want at most %d", final.Updates, elapsed.Round(time.Second), len(names), bound)
	}
	if refused := env.slack.Calls("chat.update") - updateCalls - (final.Updates - card.Updates); refused != 1 {
		t.Fatalf("%d chat.update calls refused, want the one 429", refused)
	}
	thread := env.slack.Thread(ch, final.TS)
	if len(thread) != 1 || !strings.Contains(thread[0].Text, "*"+names[5]+"* ended *refused*") {
		t.Fatalf("thread %v, want exactly one reply: %s refused", threadTexts(ch, final.TS), names[5])
	}
	if msgs := env.slack.Messages(plansCh); len(msgs) != 0 {
		t.Fatalf("the children posted %d messages to their plans' channel, want none: %q", len(msgs), msgs[0].Text)
	}
	t.Logf("%d services in %s: 1 card, %d updates (bound %d), %d thread reply", len(names), elapsed.Round(time.Second),
		final.Updates, bound, len(thread))
	recordHistory(t, run.GetID(), "evacuation-slack-card")                     // the card, a signed click, a thread reply
	recordHistory(t, workflows.WorkflowID(names[0]), "evacuation-slack-child") // a child reporting to the thread
}

// evacuate breaks us-east and starts its evacuation of the plans in dir, concurrency services at once, approved
// by alice alone (her Slack ID in the plan's people), its card in channel, the services' own approvals waived.
func evacuate(ctx context.Context, t *testing.T, dir string, concurrency int, channel string) client.WorkflowRun {
	t.Helper()
	setFault(t, "us-east", 503)
	t.Cleanup(func() { setFault(t, "us-east", 0) })
	e, err := plan.DecodeEvacuation(strings.NewReader(fmt.Sprintf(`plans: %s
from: us-east
concurrency: %d
approval:
  mode: manual
  people: [{name: alice, slack: [%s]}]
  approvers: [alice]
  slackChannel: %s
  perService: waive
`, dir, concurrency, alice, channel)))
	if err != nil {
		t.Fatal(err)
	}
	waves, err := e.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	req := workflows.NewEvacuationRequest(e, workflows.KindFailover, waves, workflows.Trigger{Source: "test", By: "slackbot-e2e"})
	run, err := control.StartEvacuation(ctx, env.stack.TemporalClient, req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.stack.TemporalClient.TerminateWorkflow(context.Background(), run.GetID(), "", "test over")
	})
	return run
}

// recordHistory writes the workflow's latest run as testsuite/histories/NAME.json with RECORD_HISTORIES=1, for
// the replay test.
func recordHistory(t *testing.T, id, name string) {
	t.Helper()
	if os.Getenv("RECORD_HISTORIES") != "1" {
		return
	}
	b, err := env.stack.ExportHistory(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "testsuite", "histories", name+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writePlan(t *testing.T, path string, p plan.Plan) {
	t.Helper()
	b, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Load(path); err != nil {
		t.Fatalf("plan %s does not load back: %v", path, err)
	}
}
