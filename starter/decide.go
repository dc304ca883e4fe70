package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/failover/failover/control"
	"github.com/failover/failover/workflows"
)

// decideCmd is `approve` or `reject`: it sends the workflow's Update, which the workflow validates (allow-list,
// plan hash) before anything is recorded.
func (c *cli) decideCmd(name string) *cobra.Command {
	var as, planHash, comment string
	cmd := &cobra.Command{
		Use:   name + " WORKFLOW_ID --as NAME",
		Short: map[string]string{workflows.ApproveUpdate: "Approve the decision a failover waits for", workflows.RejectUpdate: "Reject it"}[name],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if as == "" {
				return fmt.Errorf("--as: say who you are (must be in the plan's approval.approvers)")
			}
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			id := args[0]
			if planHash == "" {
				// Without --plan-hash, approve what is running now; the printed hash shows what that was.
				st, err := control.Status(cmd.Context(), tc, id, "")
				if err != nil {
					return err
				}
				planHash = st.PlanHash
			}
			state, err := control.Decide(cmd.Context(), tc, control.Vote{WorkflowID: id, Update: name,
				Request: workflows.ApprovalRequest{By: as, PlanHash: planHash, Via: "cli", Comment: comment}})
			if _, why, refused := control.Refusal(err); refused {
				return fmt.Errorf("%s %s refused: %s", name, id, why)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s recorded for %s (plan %s): %s, %d/%d approvals%s\n", name, id, planHash, state.Kind, state.Have, state.Needed,
				map[bool]string{true: ", decided: " + state.Outcome, false: ""}[state.Outcome != ""])
			return nil
		},
	}
	cmd.Flags().StringVar(&as, "as", os.Getenv("USER"), "your name as listed in the plan's approvers")
	cmd.Flags().StringVar(&planHash, "plan-hash", "", "the plan hash you reviewed (default: the running failover's)")
	cmd.Flags().StringVar(&comment, "comment", "", "why (kept in the history)")
	return cmd
}
