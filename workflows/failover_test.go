package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/follow"
	"github.com/failover/failover/plan"
)

// testPlan is a two-region plan with probes, a gate, one verification check and a manual approval.
func testPlan() plan.Plan {
	p := plan.Plan{
		Service: "payments",
		Regions: map[string]plan.Region{
			"us-east": {KongTarget: "10.0.0.1:8080", HealthURL: "http://us-east/healthz", PrometheusURL: "http://prom"},
			"eu-west": {KongTarget: "10.0.0.2:8080", HealthURL: "http://eu-west/healthz", PrometheusURL: "http://prom"},
		},
		Etcd:      plan.Etcd{ActiveKey: "/failover/payments/active", AckPrefix: "/failover/payments/acks/", MinAcks: 1},
		Kong:      plan.Kong{Upstream: "payments"},
		Detection: plan.Detection{Probes: 3},
		Approval:  plan.Approval{Mode: plan.ApprovalManual, Approvers: []string{"alice", "bob", "carol"}, Timeout: 10 * time.Minute},
		Traffic: plan.Traffic{Steps: []int{50, 100}, StepPause: time.Second,
			Gate: []plan.Check{{Name: "gateway", HTTP: &plan.HTTPCheck{URL: "http://kong/items/x"}}}},
		Verification: plan.Verification{Count: 2, Interval: time.Second,
			Checks: []plan.Check{{Name: "errors", Prometheus: &plan.Query{Expr: `error_ratio{region="${region}"}`, Condition: "< 0.05"}}}},
	}
	p.SetDefaults()
	return p
}

func request(p plan.Plan) Request {
	return Request{Plan: p, PlanHash: p.Hash(), From: "us-east", To: "eu-west", Kind: KindFailover, Trigger: Trigger{Source: "test", By: "tester"}}
}

// fakes answers every activity like a healthy run: source down, target ready, writes succeed, checks pass.
type fakes struct {
	env        *testsuite.TestWorkflowEnvironment
	auditMu    sync.Mutex                 // RecordAudit runs as a local activity, twice at once when dropped events are audited
	notifyCall *testsuite.MockCallWrapper // the Notify mock: a test may delay it (After)
	sourceUp   bool
	targetUp   bool
	verdict    activities.Verdict
	gate       activities.Verdict
	cutoverErr error
	acksErr    error
	restoreErr error
	notifyErr  error // every Notify fails with it (Slack unreachable past the activity's retries)
	unheard    bool  // every Notify answers that no publisher wants the run's events
	// kongFault, when set, runs before each SetWeights write and may fail it (after applying some targets).
	kongFault func(in activities.SetWeightsInput) error
	cutovers  []activities.CutoverInput
	restores  []activities.RestoreInput
	weights   [][]activities.TargetWeight
	events    []activities.Event
	notified  [][]activities.Event // the batches handed to Notify
	checkRuns int
	// values and verdicts are what Prometheus checks return, by check name (0 and verdict when absent).
	values   map[string]float64
	verdicts map[string]activities.Verdict
	// etcd and kong are the state the fakes converge, so read-backs see the writes.
	etcd activities.ActiveState
	kong map[string]int
	// preflight is what KongPreflight answers; kongHashes records the ConfigHash each SetWeights was fenced on.
	preflight  activities.KongPreflightResult
	kongHashes []string
}

func newEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakes) {
	return newEnvOn(t, &testsuite.WorkflowTestSuite{})
}

// newEnvOn is newEnv on a suite the test configured (a metrics handler).
func newEnvOn(t *testing.T, s *testsuite.WorkflowTestSuite) (*testsuite.TestWorkflowEnvironment, *fakes) {
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	f := &fakes{env: env, targetUp: true, verdict: activities.Pass, gate: activities.Pass,
		etcd: activities.ActiveState{Exists: true, ModRevision: 7, Value: follow.Active{Region: "us-east", Epoch: 4}},
		kong: map[string]int{"10.0.0.1:8080": 100, "10.0.0.2:8080": 0}, preflight: activities.KongPreflightResult{Mode: activities.KongEntities}}
	env.OnActivity(a.KongPreflight, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.KongPreflightInput) (activities.KongPreflightResult, error) {
			return f.preflight, nil
		})
	env.OnActivity(a.ProbeHealth, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ProbeInput) (activities.ProbeResult, error) {
			up := f.sourceUp
			if strings.Contains(in.URL, "eu-west") {
				up = f.targetUp
			}
			return activities.ProbeResult{Confirmed: up == (in.Expect == "up"), Probes: in.Attempts, Evidence: []string{in.URL + " probed"}}, nil
		})
	env.OnActivity(a.ReadActive, mock.Anything, mock.Anything).Return(
		func(context.Context, string) (activities.ActiveState, error) { return f.etcd, nil })
	env.OnActivity(a.ReadWeights, mock.Anything, mock.Anything).Return(
		func(context.Context, string) ([]activities.TargetWeight, error) {
			return []activities.TargetWeight{{Target: "10.0.0.1:8080", Weight: f.kong["10.0.0.1:8080"]}, {Target: "10.0.0.2:8080", Weight: f.kong["10.0.0.2:8080"]}}, nil
		})
	env.OnActivity(a.Cutover, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CutoverInput) (activities.CutoverResult, error) {
			f.cutovers = append(f.cutovers, in)
			if f.cutoverErr != nil {
				return activities.CutoverResult{}, f.cutoverErr
			}
			f.etcd = activities.ActiveState{Exists: true, ModRevision: f.etcd.ModRevision + 1,
				Value: follow.Active{Region: in.Region, Epoch: in.Expected.Value.Epoch + 1, RunID: in.RunID}}
			return activities.CutoverResult{Value: f.etcd.Value, Revision: f.etcd.ModRevision}, nil
		})
	env.OnActivity(a.RestoreActive, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RestoreInput) (activities.RestoreResult, error) {
			f.restores = append(f.restores, in)
			if f.restoreErr != nil {
				return activities.RestoreResult{}, f.restoreErr
			}
			if f.etcd.Value.Region != in.CutRegion {
				return activities.RestoreResult{Value: f.etcd.Value}, nil
			}
			f.etcd = activities.ActiveState{Exists: true, ModRevision: f.etcd.ModRevision + 1,
				Value: follow.Active{Region: in.Region, Epoch: f.etcd.Value.Epoch + 1, RunID: in.RunID}}
			return activities.RestoreResult{Changed: true, Value: f.etcd.Value, Revision: f.etcd.ModRevision}, nil
		})
	env.OnActivity(a.WaitAcks, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.WaitAcksInput) (activities.WaitAcksResult, error) {
			return activities.WaitAcksResult{Acked: []string{"payments-eu-west-1"}}, f.acksErr
		})
	env.OnActivity(a.SetWeights, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SetWeightsInput) (activities.SetWeightsResult, error) {
			if f.kongFault != nil {
				if err := f.kongFault(in); err != nil {
					return activities.SetWeightsResult{}, err
				}
			}
			f.weights = append(f.weights, in.Weights)
			f.kongHashes = append(f.kongHashes, in.ConfigHash)
			for _, w := range in.Weights {
				f.kong[w.Target] = w.Weight
			}
			res := activities.SetWeightsResult{Changed: in.Weights}
			if in.Mode == activities.KongDeclarative {
				res.ConfigHash = fmt.Sprintf("hash-%d", len(f.kongHashes))
			}
			return res, nil
		})
	env.OnActivity(a.HTTPCheck, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.HTTPCheckInput) (activities.CheckResult, error) {
			return activities.CheckResult{Name: in.Name, Verdict: f.gate}, nil
		})
	env.OnActivity(a.EvaluateQuery, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.QueryInput) (activities.CheckResult, error) {
			f.checkRuns++
			if v, ok := f.verdicts[in.Name]; ok {
				return activities.CheckResult{Name: in.Name, Verdict: v}, nil
			}
			return activities.CheckResult{Name: in.Name, Verdict: f.verdict, Value: f.values[in.Name]}, nil
		})
	env.OnActivity(a.Warmup, mock.Anything, mock.Anything).Return(activities.WarmupResult{}, nil)
	env.OnActivity(a.RecordAudit, mock.Anything, mock.Anything).Return(
		func(_ context.Context, events []activities.Event) error {
			f.auditMu.Lock()
			defer f.auditMu.Unlock()
			f.events = append(f.events, events...)
			return nil
		})
	f.notifyCall = env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotifyInput) (activities.PublishResult, error) {
			f.notified = append(f.notified, in.Events)
			return activities.PublishResult{Ref: "thread-1", Unheard: f.unheard}, f.notifyErr
		})
	return env, f
}

func (f *fakes) ofType(typ string) []activities.Event {
	var out []activities.Event
	for _, e := range f.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// vote sends an approve or reject update after delay and returns where its rejection (if any) lands.
func vote(env *testsuite.TestWorkflowEnvironment, delay time.Duration, update string, req ApprovalRequest) *error {
	var rejected error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(update, "", &testsuite.TestUpdateCallback{
			OnAccept:   func() {},
			OnReject:   func(err error) { rejected = err },
			OnComplete: func(any, error) {},
		}, req)
	}, delay)
	return &rejected
}

func run(t *testing.T, env *testsuite.TestWorkflowEnvironment, req Request) Result {
	t.Helper()
	env.ExecuteWorkflow(Failover, req)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var res Result
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func wantOutcome(t *testing.T, res Result, outcome Outcome) {
	t.Helper()
	if res.Outcome != outcome {
		t.Fatalf("outcome %q (%s), want %q", res.Outcome, res.Reason, outcome)
	}
}

func TestAutoApprovedFailoverSucceeds(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	res := run(t, env, request(p))
	wantOutcome(t, res, Succeeded)
	if len(f.cutovers) != 1 || f.cutovers[0].Region != "eu-west" || f.cutovers[0].Expected.ModRevision != 7 {
		t.Fatalf("cutovers %+v, want one to eu-west fenced on revision 7", f.cutovers)
	}
	want := [][]activities.TargetWeight{
		{{Target: "10.0.0.2:8080", Weight: 50}, {Target: "10.0.0.1:8080", Weight: 50}},
		{{Target: "10.0.0.2:8080", Weight: 100}, {Target: "10.0.0.1:8080", Weight: 0}},
	}
	if !equalWeights(f.weights, want) {
		t.Fatalf("weights %v, want %v", f.weights, want)
	}
	if res.Epoch != 5 || f.checkRuns != 2 {
		t.Fatalf("epoch %d, check runs %d; want 5 and 2", res.Epoch, f.checkRuns)
	}
	var names []string
	for _, s := range res.Steps {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "detect,readiness,approve,cutover,reroute,warmup,verify" {
		t.Fatalf("steps %s", got)
	}
}

func TestHealthySourceIsNotFailedOver(t *testing.T) {
	env, f := newEnv(t)
	f.sourceUp = true
	res := run(t, env, request(testPlan()))
	wantOutcome(t, res, NotNeeded)
	if len(f.cutovers) != 0 {
		t.Fatal("cutover ran for a healthy source")
	}
}

func TestForceFailsOverAHealthySource(t *testing.T) {
	env, f := newEnv(t)
	f.sourceUp = true
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	req := request(p)
	req.Force = true
	wantOutcome(t, run(t, env, req), Succeeded)
}

func TestUnreadyTargetChangesNothing(t *testing.T) {
	env, f := newEnv(t)
	f.targetUp = false
	res := run(t, env, request(testPlan()))
	wantOutcome(t, res, NotReady)
	if len(f.cutovers) != 0 || len(f.weights) != 0 {
		t.Fatalf("changes made: cutovers %v weights %v", f.cutovers, f.weights)
	}
}

func TestManualApproval(t *testing.T) {
	env, _ := newEnv(t)
	p := testPlan()
	vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash(), Via: "cli"})
	res := run(t, env, request(p))
	wantOutcome(t, res, Succeeded)
}

func TestRejection(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	vote(env, time.Minute, RejectUpdate, ApprovalRequest{By: "bob", PlanHash: p.Hash()})
	res := run(t, env, request(p))
	wantOutcome(t, res, Rejected)
	if !strings.Contains(res.Reason, "bob") || len(f.cutovers) != 0 {
		t.Fatalf("reason %q cutovers %d", res.Reason, len(f.cutovers))
	}
}

func TestBadVotesAreRefused(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	stale := vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: "0123456789abcdef"})
	stranger := vote(env, 2*time.Minute, ApproveUpdate, ApprovalRequest{By: "mallory", PlanHash: p.Hash()})
	res := run(t, env, request(p))
	wantOutcome(t, res, TimedOut)
	if *stale == nil || !strings.Contains((*stale).Error(), "stale approval") {
		t.Fatalf("stale plan hash: %v", *stale)
	}
	if *stranger == nil || !strings.Contains((*stranger).Error(), "mallory may not decide") {
		t.Fatalf("stranger: %v", *stranger)
	}
	if len(f.cutovers) != 0 {
		t.Fatal("cutover ran without approval")
	}
}

func TestQuorumNeedsDistinctApprovers(t *testing.T) {
	env, _ := newEnv(t)
	p := testPlan()
	p.Approval.Quorum = 2
	vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	again := vote(env, 2*time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	vote(env, 3*time.Minute, ApproveUpdate, ApprovalRequest{By: "carol", PlanHash: p.Hash()})
	res := run(t, env, request(p))
	wantOutcome(t, res, Succeeded)
	if *again == nil || !strings.Contains((*again).Error(), "already approved") {
		t.Fatalf("second vote by alice: %v", *again)
	}
	if got := res.Steps[2]; got.Seconds() != 180 {
		t.Fatalf("approval took %.0fs, want 180 (approved by the second distinct approver)", got.Seconds())
	}
}

func TestApprovalTimeoutActions(t *testing.T) {
	for _, tc := range []struct {
		onTimeout, escalateTo string
		outcome               Outcome
		escalations           int
		waited                time.Duration
	}{
		{plan.OnTimeoutAbort, "", TimedOut, 0, 10 * time.Minute},
		{plan.OnTimeoutApprove, "", Succeeded, 0, 10 * time.Minute},
		{plan.OnTimeoutAbort, "@sre-leads", TimedOut, 1, 20 * time.Minute},
		{plan.OnTimeoutApprove, "@sre-leads", Succeeded, 1, 20 * time.Minute},
		{plan.OnTimeoutEscalate, "@sre-leads", TimedOut, 1, 20 * time.Minute},
	} {
		t.Run(tc.onTimeout+tc.escalateTo, func(t *testing.T) {
			env, f := newEnv(t)
			p := testPlan()
			p.Approval.OnTimeout, p.Approval.EscalateTo = tc.onTimeout, tc.escalateTo
			res := run(t, env, request(p))
			wantOutcome(t, res, tc.outcome)
			if n := len(f.ofType(activities.EventEscalation)); n != tc.escalations {
				t.Fatalf("%d escalations, want %d", n, tc.escalations)
			}
			if approve := res.Steps[2]; approve.Seconds() != tc.waited.Seconds() {
				t.Fatalf("approval waited %.0fs, want %s", approve.Seconds(), tc.waited)
			}
		})
	}
}

// onTimeout approve stands in for people only where the plan may approve alone: a failback, and a failover
// inside the cooldown of a successful one, always need a person, so their wait ends timed-out.
func TestTimeoutNeverApprovesWhatNeedsAPerson(t *testing.T) {
	for name, change := range map[string]func(*Request){
		"failback":        func(r *Request) { r.Kind = KindFailback },
		"within cooldown": func(r *Request) { r.Trigger.RequireApproval, r.Trigger.RequireReason = true, "within the 30m cooldown" },
	} {
		t.Run(name, func(t *testing.T) {
			env, f := newEnv(t)
			p := testPlan()
			p.Approval.OnTimeout = plan.OnTimeoutApprove
			req := request(p)
			change(&req)
			res := run(t, env, req)
			wantOutcome(t, res, TimedOut)
			if len(f.cutovers) != 0 || !strings.Contains(res.Reason, "needs a person") {
				t.Fatalf("cutovers %v, reason %q: want none, and the reason to say a person must decide", f.cutovers, res.Reason)
			}
		})
	}
}

func TestEscalationThenApproval(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	p.Approval.OnTimeout, p.Approval.EscalateTo = plan.OnTimeoutEscalate, "@sre-leads"
	vote(env, 15*time.Minute, ApproveUpdate, ApprovalRequest{By: "bob", PlanHash: p.Hash()})
	wantOutcome(t, run(t, env, request(p)), Succeeded)
	if esc := f.ofType(activities.EventEscalation); len(esc) != 1 || esc[0].EscalateTo != "@sre-leads" {
		t.Fatalf("escalations %+v", esc)
	}
}

func TestSeverityAutoApproves(t *testing.T) {
	env, _ := newEnv(t)
	p := testPlan()
	p.Approval.AutoApproveSeverities = []string{"critical"}
	req := request(p)
	req.Trigger.Severity = "critical"
	wantOutcome(t, run(t, env, req), Succeeded)
}

func TestFailedVerificationRollsBack(t *testing.T) {
	env, f := newEnv(t)
	f.verdict = activities.Fail
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	res := run(t, env, request(p))
	wantOutcome(t, res, RolledBack)
	if len(f.cutovers) != 1 || len(f.restores) != 1 {
		t.Fatalf("cutovers %d restores %d, want the cutover and its restore", len(f.cutovers), len(f.restores))
	}
	if restore := f.restores[0]; restore.Region != "us-east" || restore.CutRegion != "eu-west" || restore.Original.ModRevision != 7 {
		t.Fatalf("restore %+v, want us-east over our eu-west write, knowing readiness read revision 7", restore)
	}
	if f.etcd.Value.Region != "us-east" || f.etcd.Value.Epoch != 6 {
		t.Fatalf("etcd %+v, want us-east at the new epoch 6", f.etcd)
	}
	last := f.weights[len(f.weights)-1]
	if !equalWeights([][]activities.TargetWeight{last}, [][]activities.TargetWeight{{{Target: "10.0.0.2:8080", Weight: 0}, {Target: "10.0.0.1:8080", Weight: 100}}}) {
		t.Fatalf("last weights %v, want the original 100/0", last)
	}
}

func TestInconclusiveVerificationWaitsForAHuman(t *testing.T) {
	for _, tc := range []struct {
		update  string
		outcome Outcome
	}{{ApproveUpdate, Succeeded}, {RejectUpdate, RolledBack}} {
		t.Run(tc.update, func(t *testing.T) {
			env, f := newEnv(t)
			f.verdict = activities.Inconclusive
			p := testPlan()
			p.Approval.Mode = plan.ApprovalAuto
			p.Verification.Count = 1
			vote(env, 5*time.Minute, tc.update, ApprovalRequest{By: "carol", PlanHash: p.Hash()})
			res := run(t, env, request(p))
			wantOutcome(t, res, tc.outcome)
			if verify := res.Steps[6]; verify.Name != "verify" || verify.Seconds() < 290 {
				t.Fatalf("verify step %+v: it should have waited for carol", verify)
			}
		})
	}
}

func TestFencedCutoverStopsWithoutChanges(t *testing.T) {
	env, f := newEnv(t)
	f.cutoverErr = temporal.NewNonRetryableApplicationError("changed by someone else", activities.ErrFenced, nil)
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	res := run(t, env, request(p))
	wantOutcome(t, res, Fenced)
	if len(f.weights) != 0 || len(f.cutovers) != 1 || len(f.restores) != 0 {
		t.Fatalf("weights %v cutovers %d restores %d after fencing", f.weights, len(f.cutovers), len(f.restores))
	}
}

func TestMissingAcksRollBackTheCutover(t *testing.T) {
	env, f := newEnv(t)
	f.acksErr = temporal.NewNonRetryableApplicationError("missing acks", activities.ErrAcksTimeout, nil)
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	res := run(t, env, request(p))
	wantOutcome(t, res, RolledBack)
	if len(f.restores) != 1 || len(f.weights) != 0 {
		t.Fatalf("restores %d weights %v", len(f.restores), f.weights)
	}
}

func TestPointOfNoReturnNeedsApprovalToUndo(t *testing.T) {
	env, f := newEnv(t)
	f.verdict = activities.Fail
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	p.Rollback.PointOfNoReturn = "verify"
	vote(env, 5*time.Minute, RejectUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	res := run(t, env, request(p))
	wantOutcome(t, res, FailedNeedsHuman)
	if len(f.restores) != 0 {
		t.Fatal("rolled back although alice declined")
	}
	if len(res.StillChanged) != 3 || !strings.Contains(res.Reason, "still changed: etcd /failover/payments/active is region eu-west epoch 5") {
		t.Fatalf("still changed %+v, reason %q: want the key and both Kong targets listed", res.StillChanged, res.Reason)
	}
}

func TestRollbackPolicyNone(t *testing.T) {
	env, f := newEnv(t)
	f.gate = activities.Fail
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	p.Rollback.OnFailure = plan.RollbackNone
	res := run(t, env, request(p))
	wantOutcome(t, res, FailedNeedsHuman)
	if len(f.restores) != 0 || len(f.weights) != 1 {
		t.Fatalf("restores %d weights %v: nothing should be undone", len(f.restores), f.weights)
	}
}

func TestFailedRollbackNeedsAHuman(t *testing.T) {
	env, f := newEnv(t)
	f.gate = activities.Fail
	f.restoreErr = temporal.NewNonRetryableApplicationError("changed by someone else", activities.ErrFenced, nil)
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto
	res := run(t, env, request(p))
	wantOutcome(t, res, FailedNeedsHuman)
	if !strings.Contains(res.Reason, "restore /failover/payments/active") {
		t.Fatalf("reason %q should name the failed rollback step", res.Reason)
	}
}

func TestFailbackNeedsHoldDownAndApproval(t *testing.T) {
	env, f := newEnv(t)
	p := testPlan()
	p.Approval.Mode = plan.ApprovalAuto // ignored for failbacks
	req := request(p)
	req.Kind = KindFailback
	vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	res := run(t, env, req)
	wantOutcome(t, res, Succeeded)
	if res.Steps[0].Name != "hold-down" || res.Steps[2].Seconds() != 60 {
		t.Fatalf("steps %+v: want a hold-down first and a one-minute wait for alice", res.Steps)
	}
	f.targetUp = false
	env2, f2 := newEnv(t)
	f2.targetUp = false
	wantOutcome(t, run(t, env2, req), NotReady)
}

func TestBadRequestFails(t *testing.T) {
	env, _ := newEnv(t)
	req := request(testPlan())
	req.To = "mars"
	env.ExecuteWorkflow(Failover, req)
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), `to: region "mars" is not in the plan`) {
		t.Fatalf("error %v", err)
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() {
		t.Fatalf("want a non-retryable application error, got %T", err)
	}
}

func TestStatusQueryShowsPendingApproval(t *testing.T) {
	env, _ := newEnv(t)
	p := testPlan()
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(StatusQuery)
		if err != nil {
			t.Errorf("query: %v", err)
			return
		}
		var st Status
		if err := v.Get(&st); err != nil {
			t.Errorf("decode: %v", err)
			return
		}
		if st.Step != "approve" || st.Pending == nil || st.Pending.Kind != DecideFailover || st.EtcdBefore == nil || st.RTOSeconds < 60 {
			t.Errorf("status %+v", st)
		}
	}, time.Minute)
	vote(env, 2*time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
	wantOutcome(t, run(t, env, request(p)), Succeeded)
}

func status(t *testing.T, env *testsuite.TestWorkflowEnvironment) Status {
	t.Helper()
	v, err := env.QueryWorkflow(StatusQuery)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var st Status
	if err := v.Get(&st); err != nil {
		t.Fatalf("decode status: %v", err)
	}
	return st
}

func equalWeights(got, want [][]activities.TargetWeight) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for j := range got[i] {
			if got[i][j] != want[i][j] {
				return false
			}
		}
	}
	return true
}
