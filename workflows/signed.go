package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"
	"golang.org/x/crypto/ssh"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/proof"
)

// ViaWebUI is how a vote without a proof is recorded on a plan with approval.people, whatever front door it names:
// nothing proves it came through the CLI or Slack, and the Temporal Web UI is the door that cannot sign.
const ViaWebUI = "web-ui"

// voter is who a vote on a plan with approval.people comes from, as its proof shows.
type voter struct {
	Person    string // the person's name in approval.people
	Via       string // cli, slack or web-ui
	Key       string // the signing key's SHA256 fingerprint (the person's for cli, the front door's for slack)
	SlackUser string // the Slack member ID that clicked, for slack
	ProofID   string // proof.Proof.ID(), also the Update ID
	// Click and SlackGroups are, for slack, the click the front door handled and the Slack user groups it found
	// the user in at that moment: signed in the proof on plans with approval.people, as sent on plans without.
	Click       string
	SlackGroups []string
}

// voterOf reads who a vote is from without checking it (checkVoter did, in the validator). It reads nothing but
// the request, so the update handler records the same voter when the history is replayed.
func voterOf(req ApprovalRequest) voter {
	if req.Proof == nil {
		return voter{Person: req.By, Via: ViaWebUI, Click: req.Click, SlackGroups: req.SlackGroups}
	}
	v := voter{Person: req.Proof.Approver, Via: req.Proof.Via, ProofID: req.Proof.ID(), Click: req.Proof.Click,
		SlackGroups: req.Proof.SlackGroups}
	if key, err := req.Proof.Key(); err == nil {
		v.Key = proof.Fingerprint(key)
	}
	if v.Via == proof.ViaSlack {
		v.SlackUser = req.By
	}
	return v
}

// checkVoter checks the proof of a vote on a plan with approval.people and returns who it proves the vote is from.
// Without a proof the vote is refused unless the plan sets allowUnsigned. With one, the proof must verify now
// (workflow.Now) with a key trusted for its front door, state exactly this run, plan, pending decision and
// decision, and have sent the Update with its own ID, so that Temporal's Update-ID dedup refuses it a second time.
// Whether the person may approve, four eyes and double votes are checked by the caller.
func (f *failover) checkVoter(ctx workflow.Context, kind DecisionKind, decision string, req ApprovalRequest) (voter, error) {
	return checkProof(ctx, f.req.Plan.Approval, f.req.PlanHash, kind, decision, req)
}

// checkProof is checkVoter for any workflow that takes decisions under an approval policy ap whose decisions must
// name planHash: a failover (its plan) or an evacuation (its evacuation plan).
func checkProof(ctx workflow.Context, ap plan.Approval, planHash string, kind DecisionKind, decision string, req ApprovalRequest) (voter, error) {
	if req.Proof == nil {
		switch {
		case !ap.AllowUnsigned:
			return voter{}, refuse(RefusedUnsigned, "unsigned %s refused: this plan names approval.people, so every decision "+
				"must carry a signed proof: use `starter %s` with your SSH key (ssh-agent or --key FILE) or the Slack buttons; "+
				"the Temporal Web UI cannot sign, so its Updates count only where the plan sets approval.allowUnsigned", decision, decision)
		case req.By == "":
			return voter{}, refuse(RefusedNoVoter, "by: say who decides (--as NAME, a person in approval.people)")
		}
		return voterOf(req), nil
	}
	pr := *req.Proof
	trusted := func(key ssh.PublicKey) bool {
		switch pr.Via {
		case proof.ViaCLI: // the person's own key, as the plan lists it
			p, ok := ap.PersonByKey(key)
			return ok && p.Name == pr.Approver
		case proof.ViaSlack: // the front door's key, as the worker's config lists it
			return frontDoorKey(key)
		}
		return false
	}
	if err := pr.Verify(trusted, workflow.Now(ctx), proof.MaxAge); err != nil {
		return voter{}, refuse(RefusedBadProof, "%s by %s via %s refused: %v", decision, pr.Approver, pr.Via, err)
	}
	run := workflow.GetInfo(ctx).WorkflowExecution
	for _, c := range []struct{ field, got, want string }{
		{"workflow ID", pr.WorkflowID, run.ID},
		{"run ID", pr.RunID, run.RunID},
		{"plan hash", pr.PlanHash, planHash},
		{"decision kind", pr.Kind, kind},
		{"decision", pr.Decision, decision},
	} {
		if c.got != c.want {
			return voter{}, refuse(RefusedProofMismatch, "the proof is for %s %q but this is %q: sign a new decision for the "+
				"failover as it runs now (starter status shows it)", c.field, c.got, c.want)
		}
	}
	if id := workflow.GetCurrentUpdateInfo(ctx).ID; id != pr.ID() {
		return voter{}, refuse(RefusedUpdateID, "the Update ID %q is not the proof's ID %q: send the Update with "+
			"UpdateID = proof.ID(), so that a proof sent twice counts once", id, pr.ID())
	}
	if pr.Via == proof.ViaSlack {
		if p, ok := ap.PersonBySlack(req.By); !ok || p.Name != pr.Approver {
			return voter{}, refuse(RefusedProofMismatch, "the Slack user %q in by is not %s's in approval.people: the front "+
				"door must sign for the person whose Slack ID clicked", req.By, pr.Approver)
		}
	}
	return voterOf(req), nil
}

// StartMaxAge is how long before the run starts a start proof may be signed: enough for `starter start` to reach
// Temporal, short so that a start proof read from a history cannot be replayed to start another run in its
// signer's name.
const StartMaxAge = 2 * time.Minute

// StartStatement is what `starter start` signs for a person on a plan with approval.people: the service's
// workflow ID, the plan hash, and as the kind the run's kind and direction, so the proof starts nothing else.
// RunID, unknown before the start, carries a random nonce instead.
func StartStatement(req Request, nonce, person string, now time.Time) proof.Statement {
	return proof.Statement{WorkflowID: WorkflowID(req.Plan.Service), RunID: nonce, PlanHash: req.PlanHash,
		Kind: StartKind(req), Decision: proof.DecisionStart, Approver: person, Via: proof.ViaCLI, Time: now}
}

// StartKind is the decision kind a start proof signs: "start-failover:us-east->eu-west".
func StartKind(req Request) DecisionKind {
	return fmt.Sprintf("start-%s:%s->%s", req.Kind, req.From, req.To)
}

// Requester is who asked for a failover and how that is known.
type Requester struct {
	// Person is the requester: the proof's signer, or Trigger.By as written when unproven; "" for an alert.
	Person string `json:"person,omitempty"`
	// Proven says how the requester is known: "signed" (a valid start proof: Key is its fingerprint), "alert"
	// (an alert started the run: no person asked) or "unproven" (a name nothing proves: a Web UI or raw client
	// start, or a start proof that did not verify, Why says why).
	Proven string `json:"proven"`
	Key    string `json:"key,omitempty"`
	Why    string `json:"why,omitempty"`
}

// How a requester is known.
const (
	RequesterSigned   = "signed"
	RequesterAlert    = "alert"
	RequesterUnproven = "unproven"
)

// signedStarts is the change ID under which a run whose requester is unproven needs two approvers under fourEyes.
const signedStarts = "signed-starts"

// requester is who asked for this failover, whom approval.fourEyes forbids to approve it. On a plan with
// approval.people it is proven by the trigger's start proof, checked like a vote's against the people's keys
// at the run's start time (so replay reads the same answer). Only a proven requester is refused as an approver.
// An alert or region-watcher start has no person; any other start without a valid proof has an unproven requester (see
// approvalsNeeded). Without people, Trigger.By as written.
func (f *failover) requester(ctx workflow.Context) Requester {
	t, ap := f.req.Trigger, f.req.Plan.Approval
	switch {
	case !ap.HasPeople():
		return Requester{Person: t.By, Proven: RequesterUnproven, Why: "the plan names no approval.people"}
	case t.Proof == nil && ((t.Source == TriggerAlert && t.By == "") || t.Source == TriggerWatcher):
		return Requester{Proven: RequesterAlert} // the alert route or the region watcher: no person asked
	case t.Proof == nil:
		return Requester{Person: t.By, Proven: RequesterUnproven, Why: "the start carries no signed proof"}
	}
	pr := *t.Proof
	unproven := func(why string) Requester { return Requester{Person: t.By, Proven: RequesterUnproven, Why: why} }
	trusted := func(key ssh.PublicKey) bool {
		p, ok := ap.PersonByKey(key)
		return ok && p.Name == pr.Approver && pr.Via == proof.ViaCLI
	}
	info := workflow.GetInfo(ctx)
	if err := pr.Verify(trusted, info.WorkflowStartTime, StartMaxAge); err != nil {
		return unproven("the start proof does not verify: " + err.Error())
	}
	want := StartStatement(f.req, pr.RunID, pr.Approver, pr.Time)
	if pr.WorkflowID != info.WorkflowExecution.ID || pr.PlanHash != want.PlanHash || pr.Kind != want.Kind || pr.Decision != want.Decision {
		return unproven(fmt.Sprintf("the start proof is for %s %s %s, not this run (%s %s %s)", pr.WorkflowID, pr.Kind,
			pr.PlanHash, info.WorkflowExecution.ID, want.Kind, want.PlanHash))
	}
	key, _ := pr.Key()
	return Requester{Person: pr.Approver, Proven: RequesterSigned, Key: proof.Fingerprint(key)}
}

// approvalsNeeded is how many distinct people must approve kind. Under approval.fourEyes on a plan with people,
// a failover whose requester is unproven (not signed, not an alert) needs at least two: nobody can be excluded
// as the requester, since nothing proves who asked, but whoever asked, one of two distinct approvers is someone
// else. (Refusing the claimed name would add nothing, and could leave a plan with two approvers unable to decide.)
func (f *failover) approvalsNeeded(ctx workflow.Context, kind DecisionKind, quorum int) int {
	ap := f.req.Plan.Approval
	if kind != DecideFailover || !ap.FourEyes || !ap.HasPeople() || quorum >= 2 || f.status.Requester.Proven != RequesterUnproven {
		return quorum
	}
	if workflow.GetVersion(ctx, signedStarts, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return quorum
	}
	return 2
}
