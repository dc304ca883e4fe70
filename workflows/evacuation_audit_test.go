package workflows

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// evacAudit is the worker's audit log for an evacuation's runs; the first write of each run is lost with the
// worker (written, then the activity fails), so the retry must not double it.
type evacAudit struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	log   *activities.AuditLog
	calls int
}

func (l *evacAudit) install(env *testsuite.TestWorkflowEnvironment, failFirst bool) {
	env.OnActivity(a.RecordAudit, mock.Anything, mock.Anything).Return(func(ctx context.Context, events []activities.Event) error {
		l.mu.Lock()
		l.calls++
		first := l.calls == 1
		l.mu.Unlock()
		if err := (&activities.Activities{Audit: l.log}).RecordAudit(ctx, events); err != nil {
			return err
		}
		if first && failFirst {
			return errors.New("injected: audit written, then the worker died")
		}
		return nil
	})
}

// records returns the evacuation's own records (workflow ID id), checking each (run, seq) appears once and the
// seqs count 1, 2, 3, … across runs.
func (l *evacAudit) records(t *testing.T, id string) []activities.Event {
	t.Helper()
	var out []activities.Event
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var e activities.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.WorkflowID != id {
			continue
		}
		key := fmt.Sprintf("%s/%d", e.RunID, e.Seq)
		if seen[key] {
			t.Fatalf("record %s written twice", key)
		}
		seen[key] = true
		if e.Seq != len(out)+1 {
			t.Fatalf("record %d has seq %d: %s", len(out)+1, e.Seq, sc.Text())
		}
		out = append(out, e)
	}
	return out
}

func ofType(records []activities.Event, typ string) []activities.Event {
	var out []activities.Event
	for _, r := range records {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// TestEvacuationAuditsItsStartDecisionsAndEnd: an evacuation of 5 services, approved by a quorum of two, held by
// its blast radius and resumed, over three continue-as-new runs, writes one record per start, decision, waiver,
// hold and end (none per service), each exactly once though the worker died after the first write, numbered
// 1…N across the runs (the test environment gives every run the same run ID, so a seq that restarted would be
// taken for a record already written and lost). Refused decisions write nothing.
func TestEvacuationAuditsItsStartDecisionsAndEnd(t *testing.T) {
	w := &evacWorld{outcome: func(s string) Outcome {
		if s == "s0" {
			return RolledBack
		}
		return Succeeded
	}}
	req := evacRequest(2, names("s", 5))
	req.Approval.Mode, req.Approval.Quorum, req.Approval.Timeout = plan.ApprovalManual, 2, time.Hour
	req.BlastRadius.MaxFailedPercent = 10 // s0 alone is 20 %
	req.ServicesPerRun = 2
	l := &evacAudit{}
	l.log = activities.NewAuditLog(&l.buf)
	run := 0
	var refused []string
	decide := func(env *testsuite.TestWorkflowEnvironment, update, by string, after time.Duration) {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(update, "", &testsuite.TestUpdateCallback{OnAccept: func() {},
				OnReject:   func(err error) { refused = append(refused, fmt.Sprintf("run %d %s %s: %v", run, update, by, err)) },
				OnComplete: func(any, error) {}}, ApprovalRequest{By: by, PlanHash: req.Hash, Via: "cli", Comment: "3 a.m."})
		}, after)
	}
	res, runs := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) {
		run++
		l.install(env, run == 1)
		if run == 1 {
			decide(env, ApproveUpdate, "mallory", time.Minute) // not an approver: refused, not recorded
			decide(env, ApproveUpdate, "alice", 2*time.Minute)
			decide(env, ApproveUpdate, "bob", 3*time.Minute)
		}
		decide(env, ResumeUpdate, "bob", time.Hour) // the run that is held takes it; the others refuse it
	})
	if res.Outcome != Incomplete || res.Counts[Succeeded] != 4 || res.Counts[RolledBack] != 1 || runs < 3 {
		t.Fatalf("result %+v after %d runs, want incomplete (4 succeeded, s0 rolled back) over at least 3 runs", res, runs)
	}
	recs := l.records(t, "default-test-workflow-id")
	var types []string
	for _, r := range recs {
		types = append(types, r.Type+" "+r.Decision)
	}
	want := []string{"evacuation-started ", "evacuation-decision approve", "evacuation-decision approve", "evacuation-waiver ",
		"evacuation-held ", "evacuation-decision resume", "evacuation-outcome "}
	if strings.Join(types, ", ") != strings.Join(want, ", ") {
		t.Fatalf("records %q, want %q (refused: %v)", types, want, refused)
	}
	start := recs[0]
	if start.Actor != "tester" || start.Via != "test" || start.Services != 5 || start.PlanHash != req.Hash || start.From != "us-east" ||
		!strings.Contains(start.Detail, "failover of 5 services out of us-east in 1 waves") {
		t.Fatalf("start record %+v", start)
	}
	if d := recs[2]; d.Actor != "bob" || d.Via != "cli" || d.Detail != "3 a.m." || d.Have != 2 || d.Needed != 2 || d.Result != ApproveUpdate {
		t.Fatalf("bob's approval %+v, want the quorum's second vote", d)
	}
	if wv := recs[3]; strings.Join(wv.Voters, ",") != "alice,bob" || wv.Services != 5 {
		t.Fatalf("waiver %+v, want approved by alice and bob for 5 services", wv)
	}
	if h := recs[4]; !strings.Contains(h.Reason, "more than blastRadius.maxFailedPercent 10") || h.Counts[RolledBack] != 1 {
		t.Fatalf("hold %+v", h)
	}
	if r := recs[5]; r.Actor != "bob" || !strings.Contains(r.Detail, "released: 1 of wave w0's 5 services failed") {
		t.Fatalf("resume %+v, want bob releasing the blast-radius hold", r)
	}
	end := recs[6]
	if end.Outcome != string(Incomplete) || end.Counts[Succeeded] != 4 || end.Counts[RolledBack] != 1 ||
		len(end.NotSucceeded) != 1 || !strings.HasPrefix(end.NotSucceeded[0], "s0: rolled-back") {
		t.Fatalf("end %+v", end)
	}
	if len(refused) == 0 || !strings.Contains(refused[0], "mallory") {
		t.Fatalf("refusals %v, want mallory's", refused)
	}
}

// TestEvacuationAuditsItsAbort: an automatic evacuation records the plan's approval and the waiver, an operator's
// abort with who did it, and the aborted end with what never started.
func TestEvacuationAuditsItsAbort(t *testing.T) {
	w := &evacWorld{hold: time.Hour}
	req := evacRequest(1, names("s", 3))
	l := &evacAudit{}
	l.log = activities.NewAuditLog(&l.buf)
	res, _ := runEvacuation(t, w, req, func(env *testsuite.TestWorkflowEnvironment) {
		l.install(env, false)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(AbortUpdate, "", &testsuite.TestUpdateCallback{OnAccept: func() {},
				OnReject: func(err error) { t.Errorf("abort refused: %v", err) }, OnComplete: func(any, error) {}},
				ApprovalRequest{By: "alice", PlanHash: req.Hash, Via: "slack"})
		}, time.Minute)
	})
	if res.Outcome != Aborted {
		t.Fatalf("result %+v, want aborted", res)
	}
	recs := l.records(t, "default-test-workflow-id")
	var types []string
	for _, r := range recs {
		types = append(types, r.Type+" "+r.Actor+" "+r.Decision)
	}
	want := "evacuation-started tester , evacuation-decision policy auto-approve, evacuation-waiver  , " +
		"evacuation-decision alice abort, evacuation-outcome  "
	if strings.Join(types, ", ") != want {
		t.Fatalf("records %q, want %q", strings.Join(types, ", "), want)
	}
	if end := ofType(recs, activities.EventEvacuationOutcome)[0]; end.Counts[NotStarted] != 2 || len(end.NotSucceeded) < 2 ||
		!strings.Contains(end.Reason, "aborted by alice") {
		t.Fatalf("end %+v, want aborted by alice, 2 not started and listed", end)
	}
}
