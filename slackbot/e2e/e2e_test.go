// Package e2e drives failovers through Slack on the real local stack: embedded Temporal running workflows.Failover,
// embedded etcd, the Kong stand-in and the demo regions, with a worker whose only publisher is the Slack Publisher
// pointed at a recording fake Slack. Clicks arrive as signed HTTP callbacks and as Socket Mode envelopes.
//
// The tests share one stack and one workflow ID (failover-payments), so they run one after another; a test that
// fails over resets etcd and Kong to us-east when it is done.
package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/ssh"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/slackbot"
	"github.com/failover/failover/slackbot/internal/slackfake"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/testsuite/testkeys"
	"github.com/failover/failover/workflows"
)

const secret = "e2e-signing-secret"

// Who is who. The plan's approvers are U111, U222 and U333; the Slack-side allow-list is U111, U222 and the
// members of S0ONCALL (U555).
const (
	alice    = "U111" // plan approver, allowed in Slack
	bob      = "U222" // plan approver, allowed in Slack
	carol    = "U333" // plan approver, not on the Slack allow-list
	mallory  = "U999" // nobody
	oncaller = "U555" // in S0ONCALL (allowed in Slack) but not a plan approver
)

// countingWorkflows counts the Updates the click handlers send.
type countingWorkflows struct {
	slackbot.Workflows
	decides atomic.Int32
}

func (c *countingWorkflows) Decide(ctx context.Context, id, runID, update, updateID string, req workflows.ApprovalRequest) (workflows.DecisionState, error) {
	c.decides.Add(1)
	return c.Workflows.Decide(ctx, id, runID, update, updateID, req)
}

var env struct {
	stack     *stack.Stack
	slack     *slackfake.Slack
	wf        *countingWorkflows
	approvals *slackbot.Approvals
	url       string // POST /slack/interactions
	cfg       slackbot.Config
	frontDoor ssh.Signer // the front door's key, which the worker trusts
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "slackbot e2e:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("SLACKBOT_E2E_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	s, err := stack.Start(ctx, stack.Options{NoUI: true, NoWorker: true, Logger: slog.New(slog.DiscardHandler)})
	cancel()
	if err != nil {
		return 1, err
	}
	defer s.Stop()
	fake := slackfake.New()
	defer fake.Close()
	fake.SetGroup("S0ONCALL", oncaller)

	cfg := slackbot.Config{BotToken: "xoxb-e2e", SigningSecret: secret, AppToken: "xapp-e2e", APIURL: fake.APIURL(),
		ApproverUsers: []string{alice, bob}, ApproverGroups: []string{"S0ONCALL"}}
	if err := cfg.Validate(true); err != nil {
		return 1, err
	}
	api := cfg.BotClient()

	// The front door signs clicks on plans with approval.people; the worker trusts its public key.
	frontDoor, err := testkeys.New()
	if err != nil {
		return 1, err
	}
	w := worker.New(s.TemporalClient, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, &activities.Activities{Etcd: s.EtcdClient, Kong: s.KongClient, HTTP: &http.Client{Timeout: 10 * time.Second},
		Logger: logger, Publishers: []activities.Publisher{slackbot.NewPublisher(api, logger)}}, workflows.Trust{FrontDoorKeys: []ssh.PublicKey{frontDoor.PublicKey()}})
	if err := w.Start(); err != nil {
		return 1, err
	}
	defer w.Stop()

	wf := &countingWorkflows{Workflows: slackbot.Temporal{Client: s.TemporalClient}}
	approvals := slackbot.NewApprovals(api, wf, cfg.Allowlist(api), logger)
	approvals.FrontDoor = frontDoor
	defer approvals.Wait()
	mux := http.NewServeMux()
	mux.Handle("POST /slack/interactions", slackbot.NewInteractions(cfg.SigningSecret, approvals, logger))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	smCtx, stopSocket := context.WithCancel(context.Background())
	socketDone := make(chan error, 1)
	go func() { socketDone <- slackbot.RunSocketMode(smCtx, cfg, approvals, logger) }()
	defer func() { stopSocket(); <-socketDone }()

	env.stack, env.slack, env.wf, env.approvals, env.url = s, fake, wf, approvals, srv.URL+"/slack/interactions"
	env.cfg, env.frontDoor = cfg, frontDoor
	return m.Run(), nil
}

// manualPlan is the demo plan made quick (no Prometheus, one traffic step, no warmup, one verification round) and
// manual: approvers alice, bob and carol, quorum n, approval messages to channel.
func manualPlan(channel string, quorum int) plan.Plan {
	p := env.stack.Plan
	p.Detection.Probes, p.Detection.ProbeInterval = 2, 100*time.Millisecond
	p.Readiness = plan.Readiness{}
	p.Traffic = plan.Traffic{Steps: []int{100}}
	p.Warmup.Keys = nil
	var checks []plan.Check
	for _, c := range p.Verification.Checks {
		if c.HTTP != nil {
			checks = append(checks, c)
		}
	}
	p.Verification.Checks, p.Verification.Count = checks, 1
	p.Approval = plan.Approval{Mode: plan.ApprovalManual, Approvers: []string{alice, bob, carol}, Quorum: quorum,
		Timeout: 2 * time.Minute, OnTimeout: plan.OnTimeoutAbort, SlackChannel: channel}
	return p
}

// failover breaks us-east and starts a failover to eu-west with p.
func failover(t *testing.T, p plan.Plan) client.WorkflowRun {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	setFault(t, "us-east", 503)
	t.Cleanup(func() { setFault(t, "us-east", 0) })
	req := workflows.Request{Plan: p, PlanHash: p.Hash(), From: "us-east", To: "eu-west", Kind: workflows.KindFailover,
		Trigger: workflows.Trigger{Source: "test", By: "slackbot-e2e"}}
	run, err := env.stack.TemporalClient.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: workflows.WorkflowID(p.Service), TaskQueue: workflows.TaskQueue, WorkflowExecutionErrorWhenAlreadyStarted: true},
		workflows.Failover, req)
	if err != nil {
		t.Fatal(err)
	}
	// A test that fails half-way must not leave its failover waiting: the next test needs the workflow ID.
	t.Cleanup(func() {
		_ = env.stack.TemporalClient.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "test over")
	})
	return run
}

func setFault(t *testing.T, region string, status int) {
	t.Helper()
	resp, err := http.Post(env.stack.Regions[region].URL()+"/fault", "application/json", strings.NewReader(fmt.Sprintf(`{"status":%d}`, status)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// resetToUSEast undoes a successful failover: etcd and Kong back to us-east, so the next test starts from the seed.
func resetToUSEast(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	acts := &activities.Activities{Etcd: env.stack.EtcdClient, Kong: env.stack.KongClient}
	p := env.stack.Plan
	cur, err := acts.ReadActive(ctx, p.Etcd.ActiveKey)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Value.Region != "us-east" {
		if _, err := acts.Cutover(ctx, activities.CutoverInput{Key: p.Etcd.ActiveKey, Expected: cur, Region: "us-east", WorkflowID: "slackbot-e2e-reset"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := acts.SetWeights(ctx, activities.SetWeightsInput{Upstream: p.Kong.Upstream, Weights: []activities.TargetWeight{
		{Target: p.Regions["us-east"].KongTarget, Weight: 100}, {Target: p.Regions["eu-west"].KongTarget, Weight: 0}}}); err != nil {
		t.Fatal(err)
	}
}

func result(t *testing.T, run client.WorkflowRun) workflows.Result {
	t.Helper()
	// Poll for the close rather than trust run.Get's long poll alone: on this in-process server a history long
	// poll now and then misses the close and sits out its full 20 s before asking again.
	start := time.Now()
	eventually(t, time.Minute, "the failover ends", func() bool {
		d, err := env.stack.TemporalClient.DescribeWorkflowExecution(context.Background(), run.GetID(), run.GetRunID())
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var res workflows.Result
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("workflow %s: %v", run.GetID(), err)
	}
	if took := time.Since(start); took > 3*time.Second {
		var b strings.Builder
		for _, st := range res.Steps {
			fmt.Fprintf(&b, "\n  %s %s→%s %s", st.Name, st.Started.Format("15:04:05.000"), st.Ended.Format("15:04:05.000"), st.Result)
		}
		t.Logf("slow: the result took %s (now %s); steps:%s", took.Round(time.Millisecond), time.Now().Format("15:04:05.000"), b.String())
	}
	return res
}

func status(t *testing.T, run client.WorkflowRun) workflows.Status {
	t.Helper()
	st, err := slackbot.Temporal{Client: env.stack.TemporalClient}.Status(context.Background(), run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	defer func() {
		if took := time.Since(start); took > 3*time.Second {
			t.Logf("slow: %s took %s", what, took.Round(time.Millisecond))
		}
	}()
	deadline := start.Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cardOf returns run's card in channel once cond holds for it.
func cardOf(t *testing.T, channel string, run client.WorkflowRun, what string, cond func(slackfake.Message) bool) slackfake.Message {
	t.Helper()
	var card slackfake.Message
	eventually(t, 20*time.Second, what, func() bool {
		for _, m := range env.slack.TopLevel(channel) {
			if _, ok := m.Block("fo-head:" + run.GetRunID()); ok && cond(m) {
				card = m
				return true
			}
		}
		return false
	})
	return card
}

func withButtons(m slackfake.Message) bool { _, ok := m.Button(slackbot.ActionApprove); return ok }

func containing(texts ...string) func(slackfake.Message) bool {
	return func(m slackfake.Message) bool {
		all := m.AllText()
		for _, s := range texts {
			if !strings.Contains(all, s) {
				return false
			}
		}
		return true
	}
}

var clicks atomic.Int64

// clickHTTP posts a signed click of user on action of card and returns the HTTP status.
func clickHTTP(t *testing.T, card slackfake.Message, user, action string) int {
	t.Helper()
	return postSigned(t, slackfake.Form(slackfake.Click(card, user, action, actionTS())), time.Now())
}

func postSigned(t *testing.T, body []byte, at time.Time) int {
	t.Helper()
	code, err := slackfake.Post(env.url, slackfake.Sign(secret, at, body), body)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func actionTS() string { return fmt.Sprintf("%d.%06d", time.Now().Unix(), clicks.Add(1)) }

// lastEphemeral waits for an ephemeral answer to user beyond the first `seen` and returns it.
func lastEphemeral(t *testing.T, user string, seen int) string {
	t.Helper()
	eventually(t, 5*time.Second, "an ephemeral answer to "+user, func() bool { return len(env.slack.Ephemerals(user)) > seen })
	es := env.slack.Ephemerals(user)
	return es[len(es)-1].Text
}

// updatesAccepted counts the Updates the run's history accepted: 0 means no click changed it.
func updatesAccepted(t *testing.T, run client.WorkflowRun) int {
	t.Helper()
	it := env.stack.TemporalClient.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED {
			n++
		}
	}
	return n
}

func wantText(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func threadTexts(channel, ts string) string {
	var out []string
	for _, m := range env.slack.Thread(channel, ts) {
		out = append(out, m.Text)
	}
	return strings.Join(out, "\n")
}
