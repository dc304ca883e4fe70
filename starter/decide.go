package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/failover/failover/control"
	"github.com/failover/failover/proof"
	"github.com/failover/failover/workflows"
)

// decideCmd is `approve` or `reject`, or an operator control (`abort`, `pause`, `resume`): it sends the workflow's Update, which the workflow validates (proof, allow-list,
// plan hash) before anything is recorded. On a plan with approval.people the decision is signed with the
// operator's SSH key: the ssh-agent's first, then --key FILE.
func (c *cli) decideCmd(name string) *cobra.Command {
	var as, planHash, comment, keyFile string
	cmd := &cobra.Command{
		Use: name + " WORKFLOW_ID [--as NAME] [--key FILE]",
		Short: map[string]string{workflows.ApproveUpdate: "Approve the decision a failover waits for", workflows.RejectUpdate: "Reject it",
			workflows.AbortUpdate:  "Abort a failover: before the cutover nothing changes, after it the plan's rollback runs",
			workflows.PauseUpdate:  "Hold a failover before its next change",
			workflows.ResumeUpdate: "Resume a paused failover"}[name],
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("as") && as == "" {
				return fmt.Errorf("--as: empty: say who you are (your name in the plan's approval.people or approval.approvers), or leave it out to sign as your key's person")
			}
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			id := args[0]
			desc, err := control.Latest(cmd.Context(), tc, id)
			if err != nil {
				return err
			}
			if desc == nil {
				return fmt.Errorf("%s %s: no such failover: `starter status` lists what runs (IDs look like failover-SERVICE)", name, id)
			}
			runID := desc.WorkflowExecution.RunID
			st, err := decisionStatus(cmd.Context(), tc, id, runID)
			if err != nil {
				return err
			}
			if planHash == "" {
				planHash = st.PlanHash // without --plan-hash, decide on what runs now; the printed hash shows what that was
			}
			vote := control.Vote{WorkflowID: id, RunID: runID, Update: name,
				Request: workflows.ApprovalRequest{By: as, PlanHash: planHash, Via: proof.ViaCLI, Comment: comment}}
			if st.Approval.HasPeople() {
				named := "" // --as as typed, not its $USER default: with a key, the key says who signs
				if cmd.Flags().Changed("as") {
					named = as
				}
				if vote, err = signVote(vote, st, named, keyFile, cmd.ErrOrStderr()); err != nil {
					return err
				}
			} else if as == "" {
				return fmt.Errorf("--as: say who you are (must be in the plan's approval.approvers)")
			}
			state, err := control.Decide(cmd.Context(), tc, vote)
			if _, why, refused := control.Refusal(err); refused {
				return fmt.Errorf("%s %s refused: %s", name, id, why)
			}
			if err != nil {
				return err
			}
			if state.Kind == workflows.ControlKind {
				fmt.Fprintf(cmd.OutOrStdout(), "%s recorded for %s (plan %s)\n", name, id, planHash)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s recorded for %s (plan %s): %s, %d/%d approvals%s\n", name, id, planHash, state.Kind, state.Have, state.Needed,
				map[bool]string{true: ", decided: " + state.Outcome, false: ""}[state.Outcome != ""])
			return nil
		},
	}
	cmd.Flags().StringVar(&as, "as", os.Getenv("USER"), "your name as the plan lists it (approval.people or approval.approvers)")
	cmd.Flags().StringVar(&planHash, "plan-hash", "", "the plan hash you reviewed (default: the running failover's)")
	cmd.Flags().StringVar(&comment, "comment", "", "why (kept in the history)")
	cmd.Flags().StringVar(&keyFile, "key", "", "your SSH private key file, used when the ssh-agent (SSH_AUTH_SOCK) does not hold a key of yours (default: the agent's)")
	return cmd
}

// signVote signs the vote for a plan with approval.people, as the person whose key signs (named, the --as typed,
// must be that person when given). Without a key of the person's, a plan with allowUnsigned takes the vote unsigned; any other plan
// is told what to do.
func signVote(v control.Vote, st workflows.Status, named, keyFile string, stderr io.Writer) (control.Vote, error) {
	kind := workflows.ControlKind // abort, pause and resume answer no pending decision
	if v.Update == workflows.ApproveUpdate || v.Update == workflows.RejectUpdate {
		if st.Pending == nil {
			return control.Vote{}, fmt.Errorf("%s %s: the failover waits for no decision now (step %s): nothing to sign", v.Update, v.WorkflowID, st.Step)
		}
		kind = st.Pending.Kind
	}
	signer, err := findSigner(st.Approval, keyFile)
	if err != nil && st.Approval.AllowUnsigned && keyFile == "" {
		fmt.Fprintf(stderr, "no SSH key of a person in the plan (%v); sending unsigned: the plan sets approval.allowUnsigned, so it counts as a Web UI decision\n", err)
		return v, nil
	}
	if err != nil {
		return control.Vote{}, fmt.Errorf("%s %s: this plan names approval.people, so decisions are signed: %w", v.Update, v.WorkflowID, err)
	}
	person, _ := st.Approval.PersonByKey(signer.PublicKey())
	if named != "" && named != person.Name {
		return control.Vote{}, fmt.Errorf("--as %s: your key %s is %s's in the plan: sign with %s's key, or leave out --as",
			named, proof.Fingerprint(signer.PublicKey()), person.Name, named)
	}
	v.Request.By = person.Name
	return v.Sign(signer, kind, person.Name, proof.ViaCLI, time.Now())
}

// decisionStatus is what a decision on the workflow must name and sign: a failover's status, or for an evacuation
// (control.IsEvacuation) its hash, pending decision and approval policy in the same shape.
func decisionStatus(ctx context.Context, tc control.Querier, id, runID string) (workflows.Status, error) {
	if !control.IsEvacuation(id) {
		return control.Status(ctx, tc, id, runID)
	}
	ev, err := control.EvacuationStatus(ctx, tc, id, runID)
	if err != nil {
		return workflows.Status{}, err
	}
	return workflows.Status{PlanHash: ev.Hash, Pending: ev.Pending, Approval: ev.Policy, Step: ev.Step}, nil
}
