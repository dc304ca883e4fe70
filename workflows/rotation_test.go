package workflows

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/failover/failover/proof"
	"github.com/failover/failover/testsuite/testkeys"
)

// TestKeyRotation: while a front-door key is rotated the workers trust two at once, and decisions signed by either
// count; a third, untrusted key is refused. bob holds two SSH keys in the plan, and either signs for him.
func TestKeyRotation(t *testing.T) {
	env, _ := newEnv(t)
	env.SetStartTime(start)
	p, k := peoplePlan(t)
	oldDoor, newDoor, strayDoor, bob2 := k.frontDoor, testkeys.Signer(t), testkeys.Signer(t), testkeys.Signer(t)
	setTrust(Trust{FrontDoorKeys: []ssh.PublicKey{oldDoor.PublicKey(), newDoor.PublicKey()}})
	p.Approval.People[1].SSHKeys = append(p.Approval.People[1].SSHKeys, proof.MarshalPublicKey(bob2.PublicKey()))
	p.Approval.Quorum = 3
	h := p.Hash()
	slack := func(d time.Duration, person, user string, door ssh.Signer) ApprovalRequest {
		return ApprovalRequest{By: user, PlanHash: h, Via: proof.ViaSlack,
			Proof: sign(t, statement(p, ApproveUpdate, person, proof.ViaSlack, d), door)}
	}
	control := func(d time.Duration, decision string, key ssh.Signer) ApprovalRequest {
		st := statement(p, decision, "bob", proof.ViaCLI, d)
		st.Kind = ControlKind
		return ApprovalRequest{By: "bob", PlanHash: h, Via: proof.ViaCLI, Proof: sign(t, st, key)}
	}
	stray := signedVote(env, 10*time.Second, ApproveUpdate, slack(10*time.Second, "carol", "UCAROL", strayDoor))
	pause := signedVote(env, 20*time.Second, PauseUpdate, control(20*time.Second, PauseUpdate, k.bob))   // bob's first key
	resume := signedVote(env, 25*time.Second, ResumeUpdate, control(25*time.Second, ResumeUpdate, bob2)) // and his second
	viaOld := signedVote(env, 30*time.Second, ApproveUpdate, slack(30*time.Second, "alice", "UALICE", oldDoor))
	bobReq := ApprovalRequest{By: "bob", PlanHash: h, Via: proof.ViaCLI, Proof: sign(t, statement(p, ApproveUpdate, "bob", proof.ViaCLI, 40*time.Second), bob2)}
	viaBob2 := signedVote(env, 40*time.Second, ApproveUpdate, bobReq)
	viaNew := signedVote(env, 50*time.Second, ApproveUpdate, slack(50*time.Second, "carol", "UCAROL", newDoor))

	res := run(t, env, request(p))
	wantOutcome(t, res, Succeeded)
	wantRefused(t, "a Slack decision signed by a front-door key the worker does not trust", *stray, RefusedBadProof, "untrusted key")
	for name, err := range map[string]*error{"pause with bob's first key": pause, "resume with bob's second key": resume,
		"alice via the old front-door key": viaOld, "bob with his second key": viaBob2, "carol via the new front-door key": viaNew} {
		if *err != nil {
			t.Errorf("%s: refused: %v", name, *err)
		}
	}
	var st Status
	if v, err := env.QueryWorkflow(StatusQuery); err != nil || v.Get(&st) != nil {
		t.Fatalf("status: %v", err)
	}
	wantKeys := []string{proof.Fingerprint(k.bob.PublicKey()), proof.Fingerprint(bob2.PublicKey()), proof.Fingerprint(oldDoor.PublicKey()),
		proof.Fingerprint(bob2.PublicKey()), proof.Fingerprint(newDoor.PublicKey())}
	if len(st.Approvals) != len(wantKeys) {
		t.Fatalf("recorded %+v, want pause, resume and three approvals", st.Approvals)
	}
	for i, w := range wantKeys {
		if st.Approvals[i].Key != w {
			t.Errorf("decision %d (%s by %s) recorded key %s, want %s", i, st.Approvals[i].Decision, st.Approvals[i].By, st.Approvals[i].Key, w)
		}
	}
}

// TestSlackClickIsRecordedOnce: a click carries its identity and the Slack user groups the front door found at the
// click, signed. The same click signed again (as a second front-door replica does, at its own time, so with
// another proof and Update ID) is refused as AlreadyRecorded, and the audit record names the groups.
func TestSlackClickIsRecordedOnce(t *testing.T) {
	env, f := newEnv(t)
	env.SetStartTime(start)
	p, k := peoplePlan(t)
	p.Approval.Quorum = 2
	const click = "UCAROL:failover-approve:1772366460.000001:1772366400.000100"
	clicked := func(d time.Duration) ApprovalRequest {
		st := statement(p, ApproveUpdate, "carol", proof.ViaSlack, d)
		st.Click, st.SlackGroups = click, []string{"S0ONCALL"}
		return ApprovalRequest{By: "UCAROL", PlanHash: p.Hash(), Via: proof.ViaSlack, Proof: sign(t, st, k.frontDoor)}
	}
	first := signedVote(env, time.Minute, ApproveUpdate, clicked(time.Minute))
	again := signedVote(env, time.Minute+time.Second, ApproveUpdate, clicked(time.Minute+time.Second))
	signedVote(env, 2*time.Minute, ApproveUpdate, ApprovalRequest{By: "bob", PlanHash: p.Hash(), Via: proof.ViaCLI,
		Proof: sign(t, statement(p, ApproveUpdate, "bob", proof.ViaCLI, 2*time.Minute), k.bob)})
	res := run(t, env, request(p))
	wantOutcome(t, res, Succeeded)
	if *first != nil {
		t.Fatalf("the click: %v", *first)
	}
	wantRefused(t, "the same click signed again", *again, RefusedRecorded, "recorded already: carol's approve via slack")
	var st Status
	if v, err := env.QueryWorkflow(StatusQuery); err != nil || v.Get(&st) != nil || len(st.Approvals) != 2 {
		t.Fatalf("recorded %+v (%v), want carol's click and bob", st.Approvals, err)
	}
	if a := st.Approvals[0]; a.SlackClick != click || len(a.SlackGroups) != 1 || a.SlackGroups[0] != "S0ONCALL" {
		t.Errorf("carol's decision recorded as %+v, want the click and the group S0ONCALL", a)
	}
	if e := f.ofType("decision"); len(e) != 2 || !strings.Contains(e[0].Proof, "in user groups S0ONCALL at the click") {
		t.Errorf("audit events %+v, want two decisions, carol's naming her user group", e)
	}
}
