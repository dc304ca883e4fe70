package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/proof"
	"github.com/failover/failover/slackbot"
	"github.com/failover/failover/testsuite/testkeys"
	"github.com/failover/failover/workflows"
)

// TestSignedDecisionsAcrossCLIAndSlack: on a plan with approval.people, the front door signs clicks for the
// person whose Slack ID clicked. alice approves with her SSH key, then clicks Approve too and is counted once; a
// plain Temporal client that claims to be Slack is refused; bob's click completes the quorum of two.
func TestSignedDecisionsAcrossCLIAndSlack(t *testing.T) {
	const ch = "CSIGNED"
	aliceKey, mallorysKey := testkeys.Signer(t), testkeys.Signer(t)
	p := manualPlan(ch, 2)
	p.Approval.People = []plan.Person{
		{Name: "alice", Slack: []string{alice}, SSHKeys: []string{proof.MarshalPublicKey(aliceKey.PublicKey())}},
		{Name: "bob", Slack: []string{bob}},
	}
	p.Approval.Approvers = []string{"alice", "bob"}
	run := failover(t, p)
	card := cardOf(t, ch, run, "the card asks for a decision", withButtons)
	ctx := context.Background()
	tc := env.stack.TemporalClient
	vote := control.Vote{WorkflowID: run.GetID(), RunID: run.GetRunID(), Update: workflows.ApproveUpdate,
		Request: workflows.ApprovalRequest{By: "alice", PlanHash: p.Hash(), Via: proof.ViaCLI}}

	signed, err := vote.Sign(aliceKey, workflows.DecideFailover, "alice", proof.ViaCLI, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, err := control.Decide(ctx, tc, signed); err != nil || st.Have != 1 {
		t.Fatalf("alice via the CLI: %+v %v", st, err)
	}
	if _, err := control.Decide(ctx, tc, signed); err != nil {
		t.Fatalf("the same proof again: %v, want the server to answer it as the same update", err)
	}
	seen := len(env.slack.Ephemerals(alice))
	if code := clickHTTP(t, card, alice, slackbot.ActionApprove); code != http.StatusOK {
		t.Fatalf("alice's click: HTTP %d", code)
	}
	if e := lastEphemeral(t, alice, seen); !strings.Contains(e, "alice already approved (via cli)") {
		t.Fatalf("alice was told %q, want that she already approved", e)
	}

	forged := vote
	forged.Request.By, forged.Request.Via = bob, proof.ViaSlack
	if forged, err = forged.Sign(mallorysKey, workflows.DecideFailover, "bob", proof.ViaSlack, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = control.Decide(ctx, tc, forged)
	if refusal, why, _ := control.Refusal(err); refusal != workflows.RefusedBadProof || !strings.Contains(why, "untrusted key") {
		t.Fatalf("a Slack decision from a plain Temporal client: %v, want %s (untrusted key)", err, workflows.RefusedBadProof)
	}
	if st := status(t, run); st.Pending == nil || st.Pending.Have != 1 {
		t.Fatalf("pending %+v: alice counts once, the forged vote not at all", st.Pending)
	}

	if code := clickHTTP(t, card, bob, slackbot.ActionApprove); code != http.StatusOK {
		t.Fatalf("bob's click: HTTP %d", code)
	}
	res := result(t, run)
	defer resetToUSEast(t)
	if res.Outcome != workflows.Succeeded {
		t.Fatalf("outcome %s (%s)", res.Outcome, res.Reason)
	}
	st, err := control.Status(ctx, tc, run.GetID(), run.GetRunID()) // the closed run answers from its history
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Approvals) != 2 || st.Approvals[0].Person != "alice" || st.Approvals[0].Via != proof.ViaCLI ||
		st.Approvals[0].Key != proof.Fingerprint(aliceKey.PublicKey()) || st.Approvals[1].Person != "bob" ||
		st.Approvals[1].Via != proof.ViaSlack || st.Approvals[1].SlackUser != bob || st.Approvals[1].ProofID == "" {
		t.Fatalf("recorded %+v, want alice via cli with her key, then bob via slack as %s", st.Approvals, bob)
	}
}
