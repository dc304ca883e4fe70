package workflows

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// The test environment's first activity hashes the whole test binary (the worker's default build ID): on a
// loaded machine that alone can outlast the deadlock detector's second. A fixed build ID skips it.
func init() { worker.SetBinaryChecksum("workflows-test") }

// slackRecorder is a Notify fake that records the batches an evacuation hands to Slack and the test time of each.
type slackRecorder struct {
	mu      sync.Mutex
	batches [][]activities.Event
	at      []time.Time
	// dropFinal makes Slack give up once on the first card state with an outcome.
	dropFinal bool
}

func (r *slackRecorder) mock(env *testsuite.TestWorkflowEnvironment) {
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotifyInput) (activities.PublishResult, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.batches = append(r.batches, in.Events)
			r.at = append(r.at, env.Now())
			res := activities.PublishResult{Ref: "CEVAC:1.000001"}
			for _, e := range in.Events {
				if r.dropFinal && e.Evacuation != nil && e.Evacuation.Outcome != "" {
					r.dropFinal = false
					res.Dropped = append(res.Dropped, e.Seq)
				}
			}
			return res, nil
		})
}

// cards and replies split what was handed to Slack.
func (r *slackRecorder) cards() []activities.Event {
	var out []activities.Event
	for _, b := range r.batches {
		for _, e := range b {
			if e.Evacuation != nil {
				out = append(out, e)
			}
		}
	}
	return out
}

func (r *slackRecorder) replies() []activities.Event {
	var out []activities.Event
	for _, b := range r.batches {
		for _, e := range b {
			if e.Evacuation == nil {
				out = append(out, e)
			}
		}
	}
	return out
}

// TestEvacuationCardUpdatesAreCoalesced: 120 services finishing one after another over minutes update the card
// every cardInterval at most, plus the changes that go at once (waves, the end), not once per service; a card
// state Slack gave up on is sent again, so the last state lands; one service failed and gets one thread reply.
func TestEvacuationCardUpdatesAreCoalesced(t *testing.T) {
	w := &evacWorld{outcome: func(s string) Outcome {
		if s == "b17" {
			return RolledBack
		}
		return Succeeded
	}}
	// Each service takes its own time, 1 to 30 s, so nearly every completion falls on its own instant.
	w.holdOf = func(svc string) time.Duration {
		n := 0
		for _, c := range svc {
			n = n*31 + int(c)
		}
		return time.Second + time.Duration(n%29000)*time.Millisecond
	}
	req := evacRequest(20, names("a", 40), names("b", 80))
	req.Approval.SlackChannel = "CEVAC"
	rec := &slackRecorder{dropFinal: true}
	res, runs := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) { rec.mock(env) })
	if res.Outcome != Incomplete || res.Counts[Succeeded] != 119 || runs != 1 {
		t.Fatalf("result %+v in %d runs, want 119 succeeded and b17 rolled back", res, runs)
	}
	cards := rec.cards()
	elapsed := rec.at[len(rec.at)-1].Sub(rec.at[0])
	// Urgent: the first card (waves), wave 2 starting, the end, and the end again after Slack dropped it.
	bound := int(elapsed/cardInterval) + 4
	if len(cards) > bound || len(cards) >= 120/4 {
		t.Fatalf("%d card updates in %s for 120 services, want at most %d (one per %s plus the urgent ones)",
			len(cards), elapsed, bound, cardInterval)
	}
	for i := 1; i < len(rec.at); i++ {
		prevCard, thisCard := slices.ContainsFunc(rec.batches[i-1], isCard), slices.ContainsFunc(rec.batches[i], isCard)
		if prevCard && thisCard && rec.at[i].Sub(rec.at[i-1]) < cardInterval && !urgentChange(rec.batches[i-1], rec.batches[i]) {
			t.Fatalf("card updates %d and %d only %s apart without an urgent change", i-1, i, rec.at[i].Sub(rec.at[i-1]))
		}
	}
	t.Logf("%d card updates in %s (bound %d), %d Notify batches", len(cards), elapsed, bound, len(rec.batches))
	last := cards[len(cards)-1].Evacuation
	if last.Outcome != Incomplete || last.Counts[Succeeded] != 119 || last.RTOP50 != 1.5 || len(last.Left) != 1 ||
		!strings.HasPrefix(last.Left[0], "b17: rolled-back") {
		t.Fatalf("last card %+v, want the outcome with counts, RTO and b17 left", last)
	}
	if prev := cards[len(cards)-2].Evacuation; prev.Outcome != Incomplete {
		t.Fatalf("the card state Slack dropped was not sent again: the one before the last is %+v", prev)
	}
	replies := rec.replies()
	if len(replies) != 1 || replies[0].Service != "b17" || replies[0].Outcome != RolledBack || replies[0].InEvacuation == "" ||
		replies[0].WorkflowID != "failover-b17" {
		t.Fatalf("replies %+v, want one: b17 rolled back, in the evacuation's thread", replies)
	}
	for _, r := range w.requests {
		if !r.Trigger.ReportToEvacuation {
			t.Fatalf("child %s does not report to the evacuation's thread", r.Plan.Service)
		}
	}
}

func isCard(e activities.Event) bool { return e.Evacuation != nil }

// urgentChange: the card in b differs from the one in a by more than its counts.
func urgentChange(a, b []activities.Event) bool {
	ca, cb := a[slices.IndexFunc(a, isCard)].Evacuation, b[slices.IndexFunc(b, isCard)].Evacuation
	return ca.Step != cb.Step || ca.Wave != cb.Wave || ca.Outcome != cb.Outcome || ca.Held != cb.Held ||
		(ca.Pending == nil) != (cb.Pending == nil) || len(ca.Decisions) != len(cb.Decisions) || cb.Outcome != ""
}

// TestEvacuationWithoutChannelPostsNothing: no approval.slackChannel, no card, and the children post as before.
func TestEvacuationWithoutChannelPostsNothing(t *testing.T) {
	w := &evacWorld{}
	rec := &slackRecorder{}
	res, _ := runEvacuation(t, w, evacRequest(2, names("s", 3)), func(env *testsuite.TestWorkflowEnvironment) { rec.mock(env) })
	if res.Outcome != Succeeded || len(rec.batches) != 0 || w.requests[0].Trigger.ReportToEvacuation {
		t.Fatalf("result %+v, %d Slack batches, child trigger %+v: want nothing posted, children on their own",
			res, len(rec.batches), w.requests[0].Trigger)
	}
}

// TestChildrenReportToTheEvacuationThread runs the real Failover as the evacuation's child with perService keep:
// each child asks its own approvers, and that question reaches Slack only as a reply in the evacuation's thread
// carrying the child's workflow, run and plan hash (its buttons decide the child); the child times out, and its
// failure is one more reply. No child posts a card or any other event; the audit log still has all of them.
func TestChildrenReportToTheEvacuationThread(t *testing.T) {
	env, f := newEnv(t)
	withRealChildren(env, func(p *plan.Plan) { p.Approval.SlackChannel = "CPLAN" }) // approval.mode manual, its own channel
	req := evacRequest(1, names("s", 2))
	req.Approval.SlackChannel, req.Approval.PerService = "CEVAC", "keep"
	env.ExecuteWorkflow(Evacuation, req)
	var res EvacuationResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Counts[TimedOut] != 2 {
		t.Fatalf("result %+v, want both children timed out waiting for their own approvers", res)
	}
	var decisions, failures []activities.Event
	for _, b := range f.notified {
		for _, e := range b {
			switch {
			case e.Channel != "CEVAC":
				t.Fatalf("event %s of %s went to channel %q, want only the evacuation's", e.Type, e.WorkflowID, e.Channel)
			case e.Evacuation != nil:
			case e.InEvacuation == "" || e.ThreadRef != "":
				t.Fatalf("event %+v is no reply in the evacuation's thread", e)
			case e.Type == activities.EventDecisionNeeded:
				decisions = append(decisions, e)
			case e.Type == activities.EventOutcome:
				failures = append(failures, e)
			default:
				t.Fatalf("unexpected reply %+v", e)
			}
		}
	}
	if len(decisions) != 2 || len(failures) != 2 {
		t.Fatalf("%d decision and %d failure replies, want 2 of each", len(decisions), len(failures))
	}
	d := decisions[0]
	if d.WorkflowID != "failover-s0" || d.RunID == "" || d.PlanHash != "hash-s0" || d.DecisionKind != DecideFailover || d.Service != "s0" {
		t.Fatalf("decision reply %+v, want s0's own failover, run, plan hash and decision kind (its buttons decide it)", d)
	}
	if failures[0].Service != "s0" || failures[0].Outcome != TimedOut {
		t.Fatalf("failure reply %+v, want s0 timed out", failures[0])
	}
	if len(f.ofType(activities.EventStarted)) != 2 || len(f.ofType(activities.EventDecisionNeeded)) != 2 {
		t.Fatalf("the audit log lacks the children's events: %d started, %d decisions", len(f.ofType(activities.EventStarted)),
			len(f.ofType(activities.EventDecisionNeeded)))
	}
}

// TestLegacyEvacuationChildrenStillPost: a failover whose trigger asks to report to an evacuation that is not its
// parent (a client wrote it) posts its own card as before.
func TestForgedReportToEvacuationIsIgnored(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	p.Approval.SlackChannel, p.Approval.Mode = "CPLAN", plan.ApprovalAuto
	req := request(p)
	req.Trigger = Trigger{Source: TriggerEvacuation, By: "evacuation-us-east", ReportToEvacuation: true}
	wantOutcome(t, run(t, env, req), Succeeded)
	if len(f.notified) == 0 || f.notified[0][0].Type != activities.EventStarted || f.notified[0][0].InEvacuation != "" {
		t.Fatalf("notified %+v, want the failover's own events", f.notified)
	}
}
