package control_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// TestStartJoinStatusDecide runs every call against the local stack (a real Temporal server and worker): a
// failover that waits for people at the approve step is started, refused a second start, joined by an alert,
// read, refused a vote by a non-approver and a stale one (typed refusals), then rejected.
func TestStartJoinStatusDecide(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{NoUI: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	tc := s.TemporalClient
	req := waitingRequest(t, s.Plan)

	run, err := control.Start(ctx, tc, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := control.Start(ctx, tc, req); !errors.Is(err, control.ErrAlreadyRunning) {
		t.Fatalf("second start: %v, want ErrAlreadyRunning", err)
	}
	joined, err := control.Join(ctx, tc, req, workflows.Alert{Status: "firing", Alertname: "RegionDown", Fingerprint: "f1",
		Severity: "critical", ReceivedAt: time.Now()})
	if err != nil || joined.GetRunID() != run.GetRunID() {
		t.Fatalf("join: run %v, %v; want the running %s", joined, err, run.GetRunID())
	}
	desc, err := control.Latest(ctx, tc, run.GetID())
	if err != nil || desc == nil || desc.WorkflowExecution.RunID != run.GetRunID() {
		t.Fatalf("latest: %v %v", desc, err)
	}
	if summary, _ := desc.GetStaticSummary(); summary != "failover payments: us-east → eu-west" {
		t.Fatalf("summary %q", summary)
	}

	st := waitForDecision(ctx, t, tc, run.GetID(), run.GetRunID())
	if st.Step != workflows.StepApprove || st.Pending.Kind != workflows.DecideFailover || len(st.Alerts) != 1 {
		t.Fatalf("status %+v, want the approve step waiting for %s with the joined alert", st, workflows.DecideFailover)
	}

	vote := control.Vote{WorkflowID: run.GetID(), RunID: run.GetRunID(), Update: workflows.ApproveUpdate,
		Request: workflows.ApprovalRequest{By: "mallory", PlanHash: req.PlanHash, Via: "test"}}
	_, err = control.Decide(ctx, tc, vote)
	if refusal, why, ok := control.Refusal(err); !ok || refusal != workflows.RefusedNotApprover || why != "mallory may not decide: not in the plan's approval.approvers" {
		t.Fatalf("vote by mallory: %v (refusal %q %q)", err, refusal, why)
	}
	vote.Request.By, vote.Request.PlanHash = "alice", "an-older-plan"
	if refusal, _, _ := control.Refusal(ignoreState(control.Decide(ctx, tc, vote))); refusal != workflows.RefusedStalePlan {
		t.Fatalf("stale vote: refusal %q, want %s", refusal, workflows.RefusedStalePlan)
	}
	vote.Update, vote.Request.PlanHash = workflows.RejectUpdate, req.PlanHash
	state, err := control.Decide(ctx, tc, vote)
	if err != nil || state.Outcome != workflows.RejectUpdate || state.Kind != workflows.DecideFailover {
		t.Fatalf("reject by alice: %+v %v", state, err)
	}
	if _, _, ok := control.Refusal(err); ok {
		t.Fatal("no error is no refusal")
	}

	var res workflows.Result
	if err := run.Get(ctx, &res); err != nil || res.Outcome != workflows.Rejected {
		t.Fatalf("result %+v %v, want %s", res, err, workflows.Rejected)
	}
	if _, err := control.OpenStatus(ctx, tc, run.GetID(), run.GetRunID()); !errors.Is(err, control.ErrRunClosed) {
		t.Fatalf("open status of a closed run: %v, want ErrRunClosed", err)
	}
	if st, err := control.Status(ctx, tc, run.GetID(), run.GetRunID()); err != nil || st.Outcome != workflows.Rejected || st.Step != workflows.StepDone {
		t.Fatalf("status of the closed run: %+v %v", st, err)
	}
	if err := control.Health(ctx, tc); err != nil {
		t.Fatalf("health: %v", err)
	}
}

// waitingRequest fails the stack's demo plan over without Prometheus (the stack here runs none) and with people
// to approve, so the run waits at the approve step before anything changes.
func waitingRequest(t *testing.T, p plan.Plan) workflows.Request {
	t.Helper()
	p.Detection.Query = nil
	p.Readiness = plan.Readiness{}
	p.Approval.Mode = plan.ApprovalManual
	req := workflows.Request{Plan: p, PlanHash: p.Hash(), From: "us-east", To: "eu-west", Kind: workflows.KindFailover,
		Force: true, Trigger: workflows.Trigger{Source: "test", By: "control_test"}}
	if err := req.Validate(); err != nil {
		t.Fatal(err)
	}
	return req
}

func waitForDecision(ctx context.Context, t *testing.T, tc control.Querier, id, runID string) workflows.Status {
	t.Helper()
	for {
		st, err := control.OpenStatus(ctx, tc, id, runID)
		if err == nil && st.Pending != nil {
			return st
		}
		if err == nil && st.Outcome != "" {
			t.Fatalf("ended before the approve step: %s (%s)", st.Outcome, st.Reason)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no decision asked: %+v %v", st, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ignoreState(_ workflows.DecisionState, err error) error { return err }
