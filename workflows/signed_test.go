package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"golang.org/x/crypto/ssh"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/proof"
	"github.com/failover/failover/testsuite/testkeys"
)

// start is when the signed-vote tests' workflows start; their proofs are signed on the test clock.
var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// The test env's run: proofs must name it.
const (
	testWorkflowID = "default-test-workflow-id"
	testRunID      = "default-test-run-id"
)

// people holds the keys of the signed-vote tests: alice and bob sign with their own keys and click in Slack,
// the front door signs Slack clicks, mallory is nobody in the plan.
type people struct {
	alice, bob, frontDoor, mallory ssh.Signer
}

// peoplePlan is testPlan with alice, bob and carol as people with keys and Slack IDs.
func peoplePlan(t *testing.T) (plan.Plan, people) {
	t.Helper()
	k := people{alice: testkeys.Signer(t), bob: testkeys.Signer(t), frontDoor: testkeys.Signer(t), mallory: testkeys.Signer(t)}
	p := testPlan()
	p.Approval.People = []plan.Person{
		{Name: "alice", Slack: []string{"UALICE"}, SSHKeys: []string{proof.MarshalPublicKey(k.alice.PublicKey())}},
		{Name: "bob", Slack: []string{"UBOB"}, SSHKeys: []string{proof.MarshalPublicKey(k.bob.PublicKey())}},
		{Name: "carol", Slack: []string{"UCAROL"}},
	}
	setTrust(Trust{FrontDoorKeys: []ssh.PublicKey{k.frontDoor.PublicKey()}})
	t.Cleanup(func() { setTrust(Trust{}) })
	return p, k
}

// statement is a valid statement for the test run, signed at delay after start.
func statement(p plan.Plan, decision, approver, via string, delay time.Duration) proof.Statement {
	return proof.Statement{WorkflowID: testWorkflowID, RunID: testRunID, PlanHash: p.Hash(), Kind: DecideFailover,
		Decision: decision, Approver: approver, Via: via, Time: start.Add(delay)}
}

func sign(t *testing.T, st proof.Statement, key ssh.Signer) *proof.Proof {
	t.Helper()
	pr, err := proof.Sign(st, key)
	if err != nil {
		t.Fatal(err)
	}
	return &pr
}

// signedVote sends the update at delay with the proof's ID as the Update ID, as the CLI and Slack do.
func signedVote(env *testsuite.TestWorkflowEnvironment, delay time.Duration, update string, req ApprovalRequest) *error {
	return voteWithID(env, delay, update, req.Proof.ID(), req)
}

func voteWithID(env *testsuite.TestWorkflowEnvironment, delay time.Duration, update, id string, req ApprovalRequest) *error {
	var rejected error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(update, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { rejected = err }, OnComplete: func(any, error) {},
		}, req)
	}, delay)
	return &rejected
}

func wantRefused(t *testing.T, what string, err error, refusal, text string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != refusal || !strings.Contains(appErr.Error(), text) {
		t.Errorf("%s: refused with %v, want a %s refusal saying %q", what, err, refusal, text)
	}
}

func TestSignedVotesAreChecked(t *testing.T) {
	env, f := newEnv(t)
	env.SetStartTime(start)
	p, k := peoplePlan(t)
	p.Approval.Quorum = 2
	h := p.Hash()
	at := func(i int) time.Duration { return time.Minute + time.Duration(i)*time.Second }
	cli := func(i int, approver string, key ssh.Signer, change func(*proof.Statement)) ApprovalRequest {
		st := statement(p, ApproveUpdate, approver, proof.ViaCLI, at(i))
		if change != nil {
			change(&st)
		}
		return ApprovalRequest{By: approver, PlanHash: h, Via: proof.ViaCLI, Proof: sign(t, st, key)}
	}
	forged := ApprovalRequest{By: "UALICE", PlanHash: h, Via: proof.ViaSlack,
		Proof: sign(t, statement(p, ApproveUpdate, "alice", proof.ViaSlack, at(0)), k.mallory)}
	refused := []struct {
		name, refusal, text string
		err                 *error
	}{
		{"forged Slack decision from a plain client", RefusedBadProof, "untrusted key", signedVote(env, at(0), ApproveUpdate, forged)},
		{"CLI decision without a key", RefusedUnsigned, "signed proof",
			vote(env, at(1), ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: h, Via: proof.ViaCLI})},
		{"CLI decision with a key not in the plan", RefusedBadProof, "untrusted key", signedVote(env, at(2), ApproveUpdate, cli(2, "alice", k.mallory, nil))},
		{"alice's key signing as bob", RefusedBadProof, "untrusted key", signedVote(env, at(3), ApproveUpdate, cli(3, "bob", k.alice, nil))},
		{"expired proof", RefusedBadProof, "expired", signedVote(env, at(4), ApproveUpdate,
			cli(4, "alice", k.alice, func(st *proof.Statement) { st.Time = st.Time.Add(-proof.MaxAge - time.Second) }))},
		{"proof for another run", RefusedProofMismatch, "run ID", signedVote(env, at(5), ApproveUpdate,
			cli(5, "alice", k.alice, func(st *proof.Statement) { st.RunID = "another-run" }))},
		{"proof for another plan hash", RefusedProofMismatch, "plan hash", signedVote(env, at(6), ApproveUpdate,
			cli(6, "alice", k.alice, func(st *proof.Statement) { st.PlanHash = "0123456789abcdef" }))},
		{"proof of a rejection sent as an approval", RefusedProofMismatch, "decision", signedVote(env, at(7), ApproveUpdate,
			cli(7, "alice", k.alice, func(st *proof.Statement) { st.Decision = RejectUpdate }))},
		{"Update ID other than the proof's", RefusedUpdateID, "not the proof's ID",
			voteWithID(env, at(8), ApproveUpdate, "my-own-id", cli(8, "alice", k.alice, nil))},
		{"alice again, via Slack", RefusedAlreadyVoted, "alice already approved (via cli)",
			signedVote(env, at(10), ApproveUpdate, ApprovalRequest{By: "UALICE", PlanHash: h, Via: proof.ViaSlack,
				Proof: sign(t, statement(p, ApproveUpdate, "alice", proof.ViaSlack, at(10)), k.frontDoor)})},
		{"a Slack proof for alice carrying bob's Slack ID", RefusedProofMismatch, "Slack user", signedVote(env, at(11), ApproveUpdate,
			ApprovalRequest{By: "UBOB", PlanHash: h, Via: proof.ViaSlack,
				Proof: sign(t, statement(p, ApproveUpdate, "alice", proof.ViaSlack, at(11)), k.frontDoor)})},
	}
	aliceCLI := cli(9, "alice", k.alice, nil)
	signedVote(env, at(9), ApproveUpdate, aliceCLI)
	bobSlack := ApprovalRequest{By: "UBOB", PlanHash: h, Via: proof.ViaSlack,
		Proof: sign(t, statement(p, ApproveUpdate, "bob", proof.ViaSlack, at(12)), k.frontDoor)}
	signedVote(env, at(12), ApproveUpdate, bobSlack)

	res := run(t, env, request(p))
	wantOutcome(t, res, Succeeded)
	for _, r := range refused {
		wantRefused(t, r.name, *r.err, r.refusal, r.text)
	}
	if got := res.Steps[2].Seconds(); got != at(12).Seconds() {
		t.Errorf("approval took %.0fs, want %.0f: the second person (bob via Slack) completes the quorum", got, at(12).Seconds())
	}
	var decisions []Approval
	var st Status
	if v, err := env.QueryWorkflow(StatusQuery); err == nil && v.Get(&st) == nil {
		decisions = st.Approvals
	}
	want := []Approval{
		{By: "alice", Person: "alice", Via: proof.ViaCLI, Key: proof.Fingerprint(k.alice.PublicKey()), ProofID: aliceCLI.Proof.ID()},
		{By: "bob", Person: "bob", Via: proof.ViaSlack, Key: proof.Fingerprint(k.frontDoor.PublicKey()), SlackUser: "UBOB", ProofID: bobSlack.Proof.ID()},
	}
	if len(decisions) != len(want) {
		t.Fatalf("recorded %+v, want %d decisions", decisions, len(want))
	}
	for i, w := range want {
		d := decisions[i]
		if d.By != w.By || d.Person != w.Person || d.Via != w.Via || d.Key != w.Key || d.SlackUser != w.SlackUser || d.ProofID != w.ProofID {
			t.Errorf("decision %d recorded as %+v, want %+v", i, d, w)
		}
	}
	events := f.ofType("decision")
	if len(events) != 2 {
		t.Fatalf("%d decision events, want 2: refused votes leave no trace", len(events))
	}
	if e := events[0]; e.Actor != "alice" || e.Via != proof.ViaCLI || e.Proof != want[0].Proven() ||
		!strings.Contains(e.Proof, proof.Fingerprint(k.alice.PublicKey())) || !strings.Contains(e.Proof, aliceCLI.Proof.ID()) {
		t.Errorf("audit event %+v, want alice via cli with her key and the proof ID", e)
	}
	if e := events[1]; !strings.Contains(e.Proof, "Slack user UBOB, front-door key "+proof.Fingerprint(k.frontDoor.PublicKey())) {
		t.Errorf("audit event proof %q, want bob's Slack user and the front-door key", e.Proof)
	}
}

// startProof is person's start of req signed with key at at, for the test env's workflow ID.
func startProof(t *testing.T, req Request, person string, at time.Time, key ssh.Signer) *proof.Proof {
	st := StartStatement(req, "start-nonce", person, at)
	st.WorkflowID = testWorkflowID
	return sign(t, st, key)
}

// TestRequesterMayNotApproveUnderFourEyes: a start signed with alice's key proves she asked, so she may not
// approve; bob alone makes the quorum of one.
func TestRequesterMayNotApproveUnderFourEyes(t *testing.T) {
	env, _ := newEnv(t)
	env.SetStartTime(start)
	p, k := peoplePlan(t)
	p.Approval.FourEyes = true
	req := request(p)
	req.Trigger.By = "alice"
	req.Trigger.Proof = startProof(t, req, "alice", start.Add(-30*time.Second), k.alice)
	own := signedVote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash(), Via: proof.ViaCLI,
		Proof: sign(t, statement(p, ApproveUpdate, "alice", proof.ViaCLI, time.Minute), k.alice)})
	signedVote(env, 2*time.Minute, ApproveUpdate, ApprovalRequest{By: "bob", PlanHash: p.Hash(), Via: proof.ViaCLI,
		Proof: sign(t, statement(p, ApproveUpdate, "bob", proof.ViaCLI, 2*time.Minute), k.bob)})
	res := run(t, env, req)
	wantOutcome(t, res, Succeeded)
	wantRefused(t, "the requester approving", *own, RefusedFourEyes, "alice requested this failover (signed start)")
	var st Status
	if v, err := env.QueryWorkflow(StatusQuery); err != nil || v.Get(&st) != nil ||
		st.Requester != (Requester{Person: "alice", Proven: RequesterSigned, Key: proof.Fingerprint(k.alice.PublicKey())}) {
		t.Fatalf("requester %+v, want alice proven by her key", st.Requester)
	}
}

// TestUnprovenRequesterUnderFourEyes: a start that names a requester without a valid proof (a Web UI or raw
// client start, a proof signed by someone else's key, a stale one, one for another direction) proves nobody, so
// nobody can be excluded: the failover needs two distinct approvers, so that whoever really asked, one of them is
// someone else. The claimed requester counts as one of them. An alert start has no human requester: one approver
// is enough.
func TestUnprovenRequesterUnderFourEyes(t *testing.T) {
	p, k := peoplePlan(t)
	p.Approval.FourEyes = true
	base := request(p)
	base.Trigger.By = "alice"
	other := base
	other.From, other.To = base.To, base.From
	for _, tc := range []struct {
		name  string
		proof *proof.Proof
		why   string
	}{
		{"no proof", nil, "no signed proof"},
		{"signed by bob's key as alice", startProof(t, base, "alice", start, k.bob), "untrusted key"},
		{"signed too long before the start", startProof(t, base, "alice", start.Add(-StartMaxAge-time.Second), k.alice), "expired"},
		{"signed for the other direction", startProof(t, other, "alice", start, k.alice), "not this run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := newEnv(t)
			env.SetStartTime(start)
			req := base
			req.Trigger.Proof = tc.proof
			cli := func(d time.Duration, who string, key ssh.Signer) *error {
				return signedVote(env, d, ApproveUpdate, ApprovalRequest{By: who, PlanHash: p.Hash(), Via: proof.ViaCLI,
					Proof: sign(t, statement(p, ApproveUpdate, who, proof.ViaCLI, d), key)})
			}
			named := cli(time.Minute, "alice", k.alice)
			bob := cli(2*time.Minute, "bob", k.bob)
			res := run(t, env, req)
			wantOutcome(t, res, Succeeded)
			if *named != nil || *bob != nil {
				t.Fatalf("alice (the claimed requester): %v; bob: %v; want both counted", *named, *bob)
			}
			if got := res.Steps[2].Seconds(); got != (2 * time.Minute).Seconds() {
				t.Errorf("approval took %.0fs, want 120: alice alone is not enough, bob's second approval completes it", got)
			}
			var st Status
			if v, err := env.QueryWorkflow(StatusQuery); err != nil || v.Get(&st) != nil || st.Requester.Proven != RequesterUnproven ||
				!strings.Contains(st.Requester.Why, tc.why) {
				t.Fatalf("requester %+v, want unproven because %q", st.Requester, tc.why)
			}
		})
	}
	for name, trigger := range map[string]Trigger{
		"alert start":   {Source: TriggerAlert, Alert: "PaymentsDown"},
		"watcher start": {Source: TriggerWatcher, By: "watcher door-a", Alert: "WatcherRegionDown"},
	} {
		t.Run(name, func(t *testing.T) {
			env, _ := newEnv(t)
			env.SetStartTime(start)
			req := request(p)
			req.Trigger = trigger
			signedVote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "bob", PlanHash: p.Hash(), Via: proof.ViaCLI,
				Proof: sign(t, statement(p, ApproveUpdate, "bob", proof.ViaCLI, time.Minute), k.bob)})
			res := run(t, env, req)
			wantOutcome(t, res, Succeeded)
			if got := res.Steps[2].Seconds(); got != time.Minute.Seconds() {
				t.Errorf("approval took %.0fs, want 60: bob alone approves a run no person started", got)
			}
		})
	}
}

func TestWebUIUnsignedDecisions(t *testing.T) {
	t.Run("refused by default", func(t *testing.T) {
		env, f := newEnv(t)
		p, _ := peoplePlan(t)
		webUI := vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "alice", PlanHash: p.Hash()})
		res := run(t, env, request(p))
		wantOutcome(t, res, TimedOut)
		wantRefused(t, "unsigned Web UI update", *webUI, RefusedUnsigned, "allowUnsigned")
		if len(f.cutovers) != 0 {
			t.Fatal("cutover ran on an unsigned approval")
		}
	})
	t.Run("accepted when the plan allows it", func(t *testing.T) {
		env, _ := newEnv(t)
		p, _ := peoplePlan(t)
		p.Approval.AllowUnsigned = true
		stranger := vote(env, time.Minute, ApproveUpdate, ApprovalRequest{By: "mallory", PlanHash: p.Hash()})
		vote(env, 2*time.Minute, ApproveUpdate, ApprovalRequest{By: "carol", PlanHash: p.Hash(), Via: proof.ViaSlack})
		res := run(t, env, request(p))
		wantOutcome(t, res, Succeeded)
		wantRefused(t, "unsigned vote by nobody in the plan", *stranger, RefusedNotApprover, "mallory may not decide")
		var st Status
		if v, err := env.QueryWorkflow(StatusQuery); err != nil || v.Get(&st) != nil || len(st.Approvals) != 1 ||
			st.Approvals[0].Person != "carol" || st.Approvals[0].Via != ViaWebUI {
			t.Fatalf("recorded %+v, want carol via %s (an unsigned vote is recorded as the Web UI's)", st.Approvals, ViaWebUI)
		}
	})
}
