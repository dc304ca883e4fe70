package workflows

import (
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
}

// voterOf reads who a vote is from without checking it (checkVoter did, in the validator). It reads nothing but
// the request, so the update handler records the same voter when the history is replayed.
func voterOf(req ApprovalRequest) voter {
	if req.Proof == nil {
		return voter{Person: req.By, Via: ViaWebUI}
	}
	v := voter{Person: req.Proof.Approver, Via: req.Proof.Via, ProofID: req.Proof.ID()}
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

// requester is who asked for this failover, whom approval.fourEyes forbids to approve it. Starts are not signed
// yet, so this is Trigger.By as the starter wrote it (the --as of `starter start`, or "" for an alert, which is
// no person); an unsigned start can name someone else, which fourEyes cannot catch.
func (f *failover) requester() string {
	return f.req.Trigger.By
}
