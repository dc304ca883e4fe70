package slackbot

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/slackbot/internal/slackfake"
	"github.com/failover/failover/workflows"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// fakeWorkflows stands in for Temporal in the transport tests (the e2e package runs the real workflow).
type fakeWorkflows struct {
	mu     sync.Mutex
	runID  string
	st     workflows.Status
	refuse error
	calls  []decideCall
}

type decideCall struct {
	workflowID, runID, update, updateID string
	req                                 workflows.ApprovalRequest
}

func newFakeWorkflows(runID string, needed int) *fakeWorkflows {
	return &fakeWorkflows{runID: runID, st: workflows.Status{Service: "payments", PlanHash: "abc123", Step: "approve",
		Pending: &workflows.Pending{Kind: workflows.DecideFailover, Needed: needed}}}
}

func (f *fakeWorkflows) Status(_ context.Context, workflowID, runID string) (workflows.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if runID != f.runID {
		return workflows.Status{}, ErrRunClosed
	}
	st := f.st
	if st.Pending != nil {
		p := *st.Pending
		st.Pending = &p
	}
	return st, nil
}

func (f *fakeWorkflows) EvacuationStatus(context.Context, string, string) (workflows.EvacuationStatus, string, error) {
	return workflows.EvacuationStatus{}, "", ErrRunClosed
}

func (f *fakeWorkflows) Decide(_ context.Context, workflowID, runID, update, updateID string, req workflows.ApprovalRequest) (workflows.DecisionState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, decideCall{workflowID, runID, update, updateID, req})
	if f.refuse != nil {
		return workflows.DecisionState{}, f.refuse
	}
	p := f.st.Pending
	if update == workflows.RejectUpdate {
		p.Outcome = workflows.RejectUpdate
	} else if p.Have++; p.Have >= p.Needed {
		p.Outcome = workflows.ApproveUpdate
	}
	return workflows.DecisionState{Kind: p.Kind, Have: p.Have, Needed: p.Needed, Outcome: p.Outcome}, nil
}

func (f *fakeWorkflows) decides() []decideCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]decideCall(nil), f.calls...)
}

// clickEnv is a card waiting for a decision in a fake Slack, and the endpoint that receives its clicks.
type clickEnv struct {
	fake      *slackfake.Slack
	wf        *fakeWorkflows
	approvals *Approvals
	url       string
	card      slackfake.Message
	n         int
}

func newClickEnv(t *testing.T, channel string, allow func(*Config)) *clickEnv {
	t.Helper()
	p, fake := newPublisher(t)
	r := newRun(t, p, channel)
	r.emit(activities.EventStarted, nil)
	r.emit(activities.EventDecisionNeeded, decisionNeeded(2))
	cfg := Config{BotToken: "xoxb-test", SigningSecret: testSecret, APIURL: fake.APIURL()}
	if allow != nil {
		allow(&cfg)
	}
	api := cfg.BotClient()
	wf := newFakeWorkflows(r.base.RunID, 2)
	a := NewApprovals(api, wf, cfg.Allowlist(api), nil)
	srv := httptest.NewServer(NewInteractions(cfg.SigningSecret, a, nil))
	t.Cleanup(srv.Close)
	t.Cleanup(a.Wait)
	return &clickEnv{fake: fake, wf: wf, approvals: a, url: srv.URL, card: onlyCard(t, fake, channel)}
}

// click returns the signed form body of user pressing action on the card.
func (c *clickEnv) click(user, action string) []byte {
	c.n++
	return slackfake.Form(slackfake.Click(c.card, user, action, "1700000000."+itoa(int64(100000+c.n))))
}

func (c *clickEnv) post(t *testing.T, h http.Header, body []byte) int {
	t.Helper()
	code, err := slackfake.Post(c.url, h, body)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (c *clickEnv) ephemeral(t *testing.T, user string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if es := c.fake.Ephemerals(user); len(es) > 0 {
			return es[len(es)-1].Text
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ephemeral answer to %s", user)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInteractionsApproveAndRejectSignedClicks(t *testing.T) {
	c := newClickEnv(t, "CHTTP", nil)
	body := c.click("U111", ActionApprove)
	if code := c.post(t, slackfake.Sign(testSecret, time.Now(), body), body); code != http.StatusOK {
		t.Fatalf("approve: HTTP %d", code)
	}
	body = c.click("U222", ActionReject)
	if code := c.post(t, slackfake.Sign(testSecret, time.Now(), body), body); code != http.StatusOK {
		t.Fatalf("reject: HTTP %d", code)
	}
	calls := c.wf.decides()
	if len(calls) != 2 {
		t.Fatalf("%d updates, want 2", len(calls))
	}
	want := []struct{ update, by string }{{workflows.ApproveUpdate, "U111"}, {workflows.RejectUpdate, "U222"}}
	for i, w := range want {
		got := calls[i]
		if got.update != w.update || got.req.By != w.by || got.req.PlanHash != "abc123" || got.req.Via != "slack" ||
			got.runID != "run-CHTTP" || got.workflowID != "failover-payments" || !strings.HasPrefix(got.updateID, "slack:"+w.by+":") {
			t.Fatalf("update %d: %+v", i, got)
		}
	}
	if e := c.ephemeral(t, "U111"); !strings.Contains(e, "approval of failover-payments is recorded: 1 of 2") {
		t.Fatalf("U111 was told %q", e)
	}
	if e := c.ephemeral(t, "U222"); !strings.Contains(e, "rejection") || !strings.Contains(e, "Decided: reject") {
		t.Fatalf("U222 was told %q", e)
	}
}

func TestInteractionsRefuseForgedStaleAndReplayed(t *testing.T) {
	c := newClickEnv(t, "CFORGE", nil)
	body := c.click("U111", ActionApprove)
	tampered := bytes.Replace(body, []byte("U111"), []byte("U222"), 1)
	noSig := slackfake.Sign(testSecret, time.Now(), body)
	noSig.Del("X-Slack-Signature")
	for _, tt := range []struct {
		name string
		h    http.Header
		body []byte
	}{
		{"signed with another secret", slackfake.Sign("not-the-secret", time.Now(), body), body},
		{"body changed after signing", slackfake.Sign(testSecret, time.Now(), body), tampered},
		{"no signature", noSig, body},
		{"timestamp 6 minutes old", slackfake.Sign(testSecret, time.Now().Add(-6*time.Minute), body), body},
		{"timestamp 6 minutes ahead", slackfake.Sign(testSecret, time.Now().Add(6*time.Minute), body), body},
	} {
		if code := c.post(t, tt.h, tt.body); code != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d, want 401", tt.name, code)
		}
	}
	if n := len(c.wf.decides()); n != 0 {
		t.Fatalf("%d updates from refused requests", n)
	}

	h := slackfake.Sign(testSecret, time.Now(), body)
	if code := c.post(t, h, body); code != http.StatusOK {
		t.Fatalf("the genuine request: HTTP %d", code)
	}
	upper := h.Clone()
	upper.Set("X-Slack-Signature", "v0="+strings.ToUpper(strings.TrimPrefix(h.Get("X-Slack-Signature"), "v0=")))
	for _, replay := range []http.Header{h, upper} {
		if code := c.post(t, replay, body); code != http.StatusOK {
			t.Fatalf("replay: HTTP %d", code)
		}
	}
	// Re-signed (as Slack would on a redelivery): a new signature, the same click.
	if code := c.post(t, slackfake.Sign(testSecret, time.Now().Add(time.Second), body), body); code != http.StatusOK {
		t.Fatalf("redelivery: HTTP %d", code)
	}
	c.approvals.Wait()
	if n := len(c.wf.decides()); n != 1 {
		t.Fatalf("%d updates for one click replayed, want 1", n)
	}
}

func TestInteractionsRejectMalformedRequests(t *testing.T) {
	c := newClickEnv(t, "CBAD", nil)
	if resp, err := http.Get(c.url); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %v", resp, err)
	}
	big := bytes.Repeat([]byte("a"), maxInteractionBody+1)
	if code := c.post(t, slackfake.Sign(testSecret, time.Now(), big), big); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("big body: HTTP %d", code)
	}
	for _, body := range [][]byte{[]byte("payload=%7Bnot+json"), []byte("nopayload=1")} {
		if code := c.post(t, slackfake.Sign(testSecret, time.Now(), body), body); code != http.StatusBadRequest {
			t.Fatalf("%s: HTTP %d", body, code)
		}
	}
}

func TestApprovalsRefuseUnauthorizedAndStaleClicks(t *testing.T) {
	c := newClickEnv(t, "CAUTH", func(cfg *Config) {
		cfg.ApproverUsers, cfg.ApproverGroups = []string{"U111"}, []string{"S0ONCALL"}
	})
	c.fake.SetGroup("S0ONCALL", "U222", "U333")
	send := func(user, action string) {
		t.Helper()
		body := c.click(user, action)
		if code := c.post(t, slackfake.Sign(testSecret, time.Now(), body), body); code != http.StatusOK {
			t.Fatalf("%s: HTTP %d", user, code)
		}
	}
	send("U999", ActionApprove)
	if e := c.ephemeral(t, "U999"); !strings.Contains(e, "not allowed") {
		t.Fatalf("U999 was told %q", e)
	}
	if n := len(c.wf.decides()); n != 0 {
		t.Fatalf("an unauthorized click reached the workflow (%d updates)", n)
	}

	// Stale: the run now runs another plan, then waits for another kind of decision, then has ended.
	c.wf.mu.Lock()
	c.wf.st.PlanHash = "def456"
	c.wf.mu.Unlock()
	send("U111", ActionApprove)
	if e := c.ephemeral(t, "U111"); !strings.Contains(e, "out of date") || !strings.Contains(e, "def456") {
		t.Fatalf("stale plan: U111 was told %q", e)
	}
	c.wf.mu.Lock()
	c.wf.st.PlanHash, c.wf.st.Pending.Kind = "abc123", workflows.DecideInconclusive
	c.wf.mu.Unlock()
	send("U111", ActionApprove)
	if e := c.ephemeral(t, "U111"); !strings.Contains(e, "now asks inconclusive-checks") {
		t.Fatalf("stale kind: U111 was told %q", e)
	}
	c.wf.mu.Lock()
	c.wf.st.Pending.Kind, c.wf.runID = workflows.DecideFailover, "a-later-run"
	c.wf.mu.Unlock()
	send("U111", ActionApprove)
	if e := c.ephemeral(t, "U111"); !strings.Contains(e, "has ended") {
		t.Fatalf("stale run: U111 was told %q", e)
	}
	if n := len(c.wf.decides()); n != 0 {
		t.Fatalf("a stale click reached the workflow (%d updates)", n)
	}

	// Group members pass the Slack gate (members read once, then cached); the workflow has the last word.
	c.wf.mu.Lock()
	c.wf.runID = "run-CAUTH"
	c.wf.mu.Unlock()
	send("U222", ActionApprove)
	if e := c.ephemeral(t, "U222"); !strings.Contains(e, "recorded: 1 of 2") {
		t.Fatalf("U222 was told %q", e)
	}
	c.wf.mu.Lock()
	c.wf.refuse = fmt.Errorf("approve failover-payments refused: %w",
		temporal.NewApplicationError("U333 may not decide: not in the plan's approval.approvers", workflows.RefusedNotApprover))
	c.wf.mu.Unlock()
	send("U333", ActionApprove)
	if e := c.ephemeral(t, "U333"); !strings.Contains(e, "not allowed to decide this failover, so nothing changed: U333 may not decide") || strings.Contains(e, "type:") {
		t.Fatalf("U333 was told %q", e)
	}
	if n := c.fake.Calls("usergroups.users.list"); n != 1 {
		t.Fatalf("usergroups.users.list called %d times, want 1 (cached)", n)
	}
}
