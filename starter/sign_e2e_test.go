package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/proof"
	"github.com/failover/failover/testsuite/testkeys"
	"github.com/failover/failover/workflows"
)

// TestCLISignsDecisions: on a plan with approval.people, `starter start` signs the start (the requester is
// proven; unsigned or as someone else it is refused), `starter approve` signs with --key and the workflow
// counts each person once; without a key, with a key not in the plan, or as someone else, it is refused. A signed
// pause holds the approved failover before the cutover until a signed resume.
func TestCLISignsDecisions(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "") // no agent: only --key signs
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	aliceKey, alicePub := testkeys.File(t, "alice")
	bobKey, bobPub := testkeys.File(t, "bob")
	malloryKey, _ := testkeys.File(t, "mallory")
	s, _, planFile := manualStack(ctx, t, func(p *plan.Plan) {
		p.Approval.People = []plan.Person{
			{Name: "alice", SSHKeys: []string{proof.MarshalPublicKey(alicePub)}},
			{Name: "bob", SSHKeys: []string{proof.MarshalPublicKey(bobPub)}},
			{Name: "carol", Slack: []string{"UCAROL"}},
		}
		p.Approval.Approvers = []string{"alice", "bob", "carol"}
		p.Approval.Quorum = 2
		p.Approval.AllowUnsigned = false
	})
	if err := region.InjectFault(s.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		t.Fatal(err)
	}
	if _, err := starter(t, s, "start", "--plan", planFile, "--to", "eu-west", "--as", "carol"); err == nil ||
		!strings.Contains(err.Error(), "a start is signed to prove who asked") {
		t.Fatalf("an unsigned start on a plan with people: %v, want it refused", err)
	}
	if _, err := starter(t, s, "start", "--plan", planFile, "--to", "eu-west", "--as", "carol", "--key", bobKey); err == nil ||
		!strings.Contains(err.Error(), "is bob's in the plan") {
		t.Fatalf("a start signed by bob's key as carol: %v, want it refused", err)
	}
	if out, err := starter(t, s, "start", "--plan", planFile, "--to", "eu-west", "--key", bobKey); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	waitForApproval(t, s)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no key", []string{"--as", "alice"}, "pass --key FILE"},
		{"a key not in the plan", []string{"--key", malloryKey}, "nobody's in the plan"},
		{"alice's key as bob", []string{"--key", aliceKey, "--as", "bob"}, "is alice's in the plan"},
	} {
		if _, err := starter(t, s, append([]string{"approve", "failover-payments"}, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("approve with %s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if out, err := starter(t, s, "pause", "failover-payments", "--key", bobKey); err != nil || !strings.Contains(out, "pause recorded") {
		t.Fatalf("pause as bob: %v\n%s", err, out)
	}
	if _, err := starter(t, s, "pause", "failover-payments", "--key", aliceKey); err == nil || !strings.Contains(err.Error(), "already paused by bob") {
		t.Fatalf("second pause: %v, want already paused", err)
	}
	if out, err := starter(t, s, "approve", "failover-payments", "--key", aliceKey); err != nil || !strings.Contains(out, "1/2 approvals") {
		t.Fatalf("approve as alice: %v\n%s", err, out)
	}
	if _, err := starter(t, s, "approve", "failover-payments", "--key", aliceKey); err == nil || !strings.Contains(err.Error(), "alice already approved") {
		t.Fatalf("alice again: %v, want already approved", err)
	}
	if out, err := starter(t, s, "approve", "failover-payments", "--key", bobKey); err != nil || !strings.Contains(out, "decided: approve") {
		t.Fatalf("approve as bob: %v\n%s", err, out)
	}
	if out, err := starter(t, s, "status", "failover-payments", "--json"); err != nil || !strings.Contains(out, `"paused_by":"bob"`) {
		t.Fatalf("status while paused: %v\n%s", err, out)
	}
	if out, err := starter(t, s, "resume", "failover-payments", "--key", aliceKey); err != nil || !strings.Contains(out, "resume recorded") {
		t.Fatalf("resume as alice: %v\n%s", err, out)
	}
	var res workflows.Result
	if err := s.TemporalClient.GetWorkflow(ctx, "failover-payments", "").Get(ctx, &res); err != nil || res.Outcome != workflows.Succeeded {
		t.Fatalf("result %+v %v", res, err)
	}
	out, err := starter(t, s, "status", "failover-payments", "--json")
	if err != nil || !strings.Contains(out, `"person":"alice"`) || !strings.Contains(out, `"key":"`+proof.Fingerprint(alicePub)+`"`) ||
		!strings.Contains(out, `"proof_id":"proof-`) {
		t.Fatalf("status --json does not record alice's signed approval: %v\n%s", err, out)
	}
	if want := `"requester":{"person":"bob","proven":"signed","key":"` + proof.Fingerprint(bobPub) + `"}`; !strings.Contains(out, want) {
		t.Fatalf("status --json lacks %s: the signed start proves bob asked\n%s", want, out)
	}
}
