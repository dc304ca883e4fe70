package slackbot

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/proof"
	"github.com/failover/failover/slackbot/internal/slackfake"
	"github.com/failover/failover/testsuite/testkeys"
	"github.com/failover/failover/workflows"
)

// TestClicksOnPlansWithPeopleAreSigned: without a front-door key the click is refused with what to do; a Slack
// user who is nobody in the plan is refused; a person's click is signed for that person.
func TestClicksOnPlansWithPeopleAreSigned(t *testing.T) {
	c := newClickEnv(t, "CPEOPLE", nil)
	c.wf.mu.Lock()
	c.wf.st.Approval = plan.Approval{People: []plan.Person{{Name: "alice", Slack: []string{"U111"}}}, Approvers: []string{"alice"}}
	c.wf.mu.Unlock()
	send := func(user string) string {
		t.Helper()
		body := c.click(user, ActionApprove)
		if code := c.post(t, slackfake.Sign(testSecret, time.Now(), body), body); code != http.StatusOK {
			t.Fatalf("%s: HTTP %d", user, code)
		}
		return c.ephemeral(t, user)
	}
	if e := send("U111"); !strings.Contains(e, "this front door has no key (starter serve --front-door-key)") {
		t.Fatalf("without a front-door key U111 was told %q", e)
	}
	frontDoor := testkeys.Signer(t)
	c.approvals.FrontDoor = frontDoor
	if e := send("U999"); !strings.Contains(e, "Your Slack user (U999) is nobody in the plan's approval.people") {
		t.Fatalf("U999 was told %q", e)
	}
	if n := len(c.wf.decides()); n != 0 {
		t.Fatalf("%d refused clicks reached the workflow", n)
	}
	if e := send("U111"); !strings.Contains(e, "recorded") {
		t.Fatalf("U111 was told %q", e)
	}
	calls := c.wf.decides()
	if len(calls) != 1 {
		t.Fatalf("%d updates, want 1", len(calls))
	}
	got := calls[0]
	pr := got.req.Proof
	if pr == nil || pr.Approver != "alice" || pr.Via != proof.ViaSlack || pr.RunID != "run-CPEOPLE" || pr.PlanHash != "abc123" ||
		pr.Kind != workflows.DecideFailover || pr.Decision != workflows.ApproveUpdate || got.updateID != pr.ID() || got.req.By != "U111" {
		t.Fatalf("update %+v, want alice's decision signed by the front door with the proof's ID", got)
	}
	if err := pr.Verify(proof.TrustKeys(frontDoor.PublicKey()), time.Now(), 0); err != nil {
		t.Fatalf("the front door's proof does not verify: %v", err)
	}
}
