package slackbot

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/slackbot/internal/slackfake"
	"github.com/failover/failover/workflows"
)

// promError is what a check's detail looks like when Prometheus answers with a long error.
func promError(n int) string {
	var b strings.Builder
	b.WriteString(`query "sum(rate(kong_http_requests_total{service=\"payments\",code=~\"5..\"}[1m])) / sum(rate(kong_http_requests_total{service=\"payments\"}[1m]))": bad_data: `)
	for b.Len() < n {
		b.WriteString(`1:1: parse error: unexpected character inside braces: '<' & "é日本🔥" `)
	}
	return b.String()[:n]
}

// A verification round whose check errored asks a human; the question carries the check's error, and the card
// must still show it, with its buttons, when the error is longer than Slack takes in one text.
func TestLongInconclusiveQuestionReachesSlack(t *testing.T) {
	p, fake := newPublisher(t)
	base := activities.Event{WorkflowID: "failover-payments", RunID: "run-long", Service: "payments", Kind: "failover",
		From: "us-east", To: "eu-west", PlanHash: "abc123", Channel: "CLONG"}
	results := []activities.CheckResult{{Name: "error-rate", Verdict: activities.Inconclusive, Detail: promError(5000)}}
	question := fmt.Sprintf("verification round 1 is inconclusive (%v): approve to carry on, reject to roll back", results)
	var evidence []string
	for i := range 80 {
		evidence = append(evidence, fmt.Sprintf("probe %d/80 http://us-east/healthz: %s", i+1, promError(400)))
	}
	ref := ""
	publish := func(seq int, typ string, f func(*activities.Event)) {
		t.Helper()
		e := base
		e.Seq, e.Type, e.Time, e.ThreadRef = seq, typ, time.Now(), ref
		f(&e)
		got, err := p.Publish(context.Background(), e)
		if err != nil {
			t.Fatalf("event %d (%s): %v", seq, typ, err)
		}
		ref = got
	}
	publish(1, activities.EventStarted, func(*activities.Event) {})
	publish(2, activities.EventStep, func(e *activities.Event) { e.Step, e.Result, e.Detail = "readiness", "ok", promError(6000) })
	publish(3, activities.EventDecisionNeeded, func(e *activities.Event) {
		e.Step, e.DecisionKind, e.Question, e.Needed = "verify", workflows.DecideInconclusive, question, 1
		e.Evidence, e.Preview = evidence, []string{"```" + promError(3000), "kong upstream payments: eu-west 0/us-east 100 → 100/0"}
	})
	if got := fake.Refusals(); len(got) > 0 {
		t.Fatalf("Slack refused %d messages:\n%s", len(got), strings.Join(got, "\n"))
	}
	c := onlyCard(t, fake, "CLONG")
	if _, ok := c.Button(ActionApprove); !ok {
		t.Fatal("the card has no Approve button: a human cannot answer")
	}
	q, _ := c.Block(blockQuestion)
	wantText(t, "question", q.Text.Text, "Decision needed", "verification round 1 is inconclusive", "error-rate",
		"approve to carry on, reject to roll back", "truncated; full text in `starter status`")
	ev, _ := c.Block(blockEvidence)
	wantText(t, "evidence", ev.Text.Text, "probe 1/80", "more (full list in the audit log)")
	thread := fake.Thread("CLONG", c.TS)
	if len(thread) != 2 {
		t.Fatalf("%d thread replies, want the step and the question", len(thread))
	}
	wantText(t, "asking reply", thread[1].AllText(), "Decision needed", "approve to carry on, reject to roll back",
		"`starter approve failover-payments --as <you>`")

	publish(4, activities.EventDecision, func(e *activities.Event) {
		e.Step, e.DecisionKind, e.Actor, e.Via, e.Decision, e.Have, e.Needed, e.Result, e.Detail =
			"verify", workflows.DecideInconclusive, "U111", "slack", "approve", 1, 1, "approve", promError(4000)
	})
	publish(5, activities.EventOutcome, func(e *activities.Event) {
		e.Outcome, e.Reason, e.RTOSeconds = workflows.RolledBack, promError(5000), 42
		e.StillChanged = []string{"kong payments/10.0.0.2:8080 is weight 100 (before: weight 0); to finish by hand: curl -X PUT $KONG_ADMIN_URL/upstreams/payments/targets/10.0.0.2:8080 -d weight=0"}
	})
	if got := fake.Refusals(); len(got) > 0 {
		t.Fatalf("Slack refused %d messages:\n%s", len(got), strings.Join(got, "\n"))
	}
	thread = fake.Thread("CLONG", c.TS)
	wantText(t, "outcome reply", thread[len(thread)-1].AllText(), "Still changed, finish by hand", "-d weight=0")
	wantText(t, "final card", onlyCard(t, fake, "CLONG").AllText(), "Approved", "<@U111>", "Outcome: rolled-back", "RTO* 42.0s")
}

// randomText mixes what breaks naive cutting: multi-byte runes, escapes, mentions, fences, long lines.
func randomText(r *rand.Rand, max int) string {
	pieces := []string{"a", "payments ", "é", "日本", "🔥", "&", "<", ">", "<@U111>", "```", "`", "*", "_", "~", "\n", " ",
		"HTTP 503", "…", "\u200b", "\\", `"`, "|"}
	n := r.IntN(max + 1)
	var b strings.Builder
	for b.Len() < n {
		if r.IntN(8) == 0 { // a long run of one piece
			b.WriteString(strings.Repeat(pieces[r.IntN(len(pieces))], 1+r.IntN(400)))
			continue
		}
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randomLines(r *rand.Rand, maxLines, maxLen int) []string {
	out := make([]string, r.IntN(maxLines+1))
	for i := range out {
		out[i] = randomText(r, maxLen)
	}
	return out
}

// mustFit fails unless Slack (as the fake checks it) would take text and blocks as one message.
func mustFit(t *testing.T, seed uint64, what, text string, blocks []slack.Block) {
	t.Helper()
	b, err := json.Marshal(blocks)
	if err != nil {
		t.Fatalf("seed %d, %s: %v", seed, what, err)
	}
	if why := slackfake.Check(text, string(b)); why != nil {
		t.Fatalf("seed %d, %s: Slack would refuse it: %v", seed, what, why)
	}
	if len(blocks) > maxBlocks {
		t.Fatalf("seed %d, %s: %d blocks", seed, what, len(blocks))
	}
}

// Any event, however long its texts, renders into a card and thread replies Slack takes.
func TestEveryRenderingKeepsWithinSlackLimits(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		r := rand.New(rand.NewPCG(seed, 8))
		long := 8000
		if seed%4 == 0 {
			long = 300 // short texts too: the common case must not be cut needlessly
		}
		base := activities.Event{WorkflowID: "failover-" + randomText(r, 60), RunID: "run-1", Service: randomText(r, 500),
			Kind: "failover", From: randomText(r, 300), To: randomText(r, 300), PlanHash: randomText(r, 80), Channel: "C1",
			EscalateTo: randomText(r, 200), Time: time.Unix(1_700_000_000+int64(seed), 0)}
		ev := func(seq int, typ string) activities.Event {
			e := base
			e.Seq, e.Type = seq, typ
			e.Detail, e.Actor, e.Via = randomText(r, long), randomText(r, 300), randomText(r, 100)
			switch typ {
			case activities.EventDecisionNeeded:
				e.Question = randomText(r, long)
				e.Evidence, e.Preview = randomLines(r, 120, long/4), randomLines(r, 120, long/4)
			case activities.EventOutcome:
				e.Reason = randomText(r, long)
				e.StillChanged = randomLines(r, 40, long/4)
			}
			e.Needed, e.Have = r.IntN(5), r.IntN(5)
			e.DecisionKind = []string{workflows.DecideFailover, workflows.DecideInconclusive}[r.IntN(2)]
			return e
		}
		events := []activities.Event{ev(1, activities.EventStarted)}
		for i, s := range []string{"detect", "hold-down", "readiness"} {
			e := ev(2+i, activities.EventStep)
			e.Step, e.Result = s, []string{"ok", "failed", "skipped"}[r.IntN(3)]
			events = append(events, e)
		}
		events = append(events, ev(5, activities.EventDecisionNeeded), ev(6, activities.EventEscalation))
		for i := range 3 + r.IntN(15) {
			e := ev(7+i, activities.EventDecision)
			e.Decision = []string{workflows.ApproveUpdate, workflows.RejectUpdate, "escalate"}[r.IntN(3)]
			switch r.IntN(4) {
			case 0:
				e.Actor = "policy"
			case 1:
				e.Result = e.Decision
			}
			events = append(events, e)
		}
		paused := ev(99, activities.EventControl) // a pause stays on the card until the resume or the outcome
		paused.Decision = workflows.PauseUpdate
		events = append(events, paused)
		approve := ev(100, activities.EventStep)
		approve.Step = "approve"
		events = append(events, approve, ev(101, activities.EventOutcome))

		c := newCard(events[0])
		for _, e := range events {
			if r.IntN(8) == 0 { // asked again, over earlier votes
				e = ev(e.Seq, activities.EventDecisionNeeded)
			}
			c = roundTrip(t, c)
			c.apply(e)
			mustFit(t, seed, fmt.Sprintf("card after event %d (%s)", e.Seq, e.Type), c.text(), c.blocks)
			if rep, ok := replyFor(e); ok {
				mustFit(t, seed, fmt.Sprintf("reply to event %d (%s)", e.Seq, e.Type), rep.text, replyBlocks(e.Seq, rep))
			}
		}
	}
}

// The cutting itself: within the limit, valid UTF-8, no code block left open, and untouched when it fits.
func TestClipKeepsTextWhole(t *testing.T) {
	for seed := uint64(1); seed <= 2000; seed++ {
		r := rand.New(rand.NewPCG(seed, 9))
		s := esc(randomText(r, 4000))
		if r.IntN(2) == 0 {
			s = strings.ReplaceAll(s, "```", "") + "```" + randomText(r, 3000) + "```" // one closed code block
		}
		n := r.IntN(3200)
		for name, got := range map[string]string{
			"cut": cut(s, n), "clip": clip(s, n, noteStatus), "elide": elide(s, n, noteAudit), "clip, no note": clip(s, n, ""),
		} {
			switch {
			case len(got) > n:
				t.Fatalf("seed %d: %s to %d bytes gave %d", seed, name, n, len(got))
			case !utf8.ValidString(got):
				t.Fatalf("seed %d: %s cut a rune: %q", seed, name, got)
			case len(s) <= n && got != s:
				t.Fatalf("seed %d: %s changed a text that fits", seed, name)
			case name != "cut" && strings.Count(s, "```")%2 == 0 && strings.Count(got, "```")%2 == 1:
				t.Fatalf("seed %d: %s left a code block open:\n%s", seed, name, got)
			}
		}
	}
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"ab &amp; cd ef", 12, "ab …"}, // not "ab &am…"
		{"see <!date^1700000000^{date_short_pretty}|2023-11-14> now", 20, "see …"},
		{"```\nlong code here```", 20, "```\nlong code…\n```"},
		{"the first line\nsecond line is long", 28, "the first line…"},
	} {
		if got := clip(tt.in, tt.n, ""); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// A run whose IDs do not fit in a button's value still gets its question, and the way to answer it.
func TestCardWithoutRoomForButtons(t *testing.T) {
	e := activities.Event{Seq: 3, Type: activities.EventDecisionNeeded, WorkflowID: "failover-" + strings.Repeat("p", 2100), RunID: "r",
		PlanHash: "h", Service: "payments", DecisionKind: workflows.DecideFailover, Question: "failover payments?", Needed: 1}
	c := newCard(e)
	c.apply(e)
	mustFit(t, 0, "card", c.text(), c.blocks)
	if c.has(blockActions) || !strings.Contains(c.json(), "use `starter approve`") {
		t.Fatalf("want no buttons and the CLI named:\n%s", c.json())
	}
}

// A card an earlier version wrote with longer texts is brought back within one message on its next edit.
func TestCardFromAnEarlierVersionIsShrunk(t *testing.T) {
	c := newCard(activities.Event{RunID: "r", Service: "payments"})
	for _, step := range []string{"detect", "hold-down", "readiness"} {
		c.blocks = append(c.blocks, section(blockStep+":"+step, strings.Repeat("x", 2800)))
	}
	c.blocks = append(c.blocks, section(blockEvidence, strings.Repeat("é", 1450)), section(blockOutcome, strings.Repeat("y", 2500)))
	c = roundTrip(t, c)
	c.apply(activities.Event{Seq: 9, Type: activities.EventStep, Step: "detect", Result: "ok", Detail: "us-east is down"})
	mustFit(t, 0, "card", c.text(), c.blocks)
	if n := textBytes(c.blocks); n > cardTextBudget {
		t.Fatalf("%d bytes of text, budget %d", n, cardTextBudget)
	}
}
