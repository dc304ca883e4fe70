package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/failover/failover/control"
	"github.com/failover/failover/workflows"
)

func (c *cli) statusCmd() *cobra.Command {
	var asJSON, all bool
	cmd := &cobra.Command{
		Use:   "status WORKFLOW_ID",
		Short: "Show a failover's current step, step timings, approvals and RTO so far; or an evacuation's counts, waves and services",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			if control.IsEvacuation(args[0]) {
				return evacuationStatus(cmd.Context(), tc, cmd.OutOrStdout(), args[0], asJSON, all)
			}
			st, err := control.Status(cmd.Context(), tc, args[0], "")
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(st)
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	cmd.Flags().BoolVar(&all, "all", false, "an evacuation: list every service, not only those that did not succeed")
	return cmd
}

func printStatus(w io.Writer, st workflows.Status) {
	fmt.Fprintf(w, "%s %s: %s → %s (plan %s)\nstep: %s", st.Kind, st.Service, st.From, st.To, st.PlanHash, st.Step)
	if st.Outcome != "" {
		fmt.Fprintf(w, "   outcome: %s (%s)", st.Outcome, st.Reason)
	}
	fmt.Fprintf(w, "   RTO: %.2fs\n", st.RTOSeconds)
	if r := st.Requester; r.Proven != "" && (r.Person != "" || r.Proven == workflows.RequesterAlert) {
		fmt.Fprintf(w, "requested by: %s (%s%s%s)\n", orAlert(r.Person), r.Proven, map[bool]string{true: ", key " + r.Key}[r.Key != ""],
			map[bool]string{true: ": " + r.Why}[r.Why != ""])
	}
	if st.Paused {
		fmt.Fprintf(w, "PAUSED by %s: holds before its next change (starter resume %s)\n", st.PausedBy, workflows.WorkflowID(st.Service))
	}
	fmt.Fprintln(w)
	for _, s := range st.Steps {
		fmt.Fprintf(w, "  %-10s %-8s %8.3fs  %s\n", s.Name, s.Result, s.Seconds(), s.Detail)
	}
	for _, a := range st.Approvals {
		fmt.Fprintf(w, "  decision: %s %s by %s via %s at %s %s\n", a.For, a.Decision, a.By, a.Via, a.At.Format("15:04:05"), a.Comment)
	}
	if st.Pending != nil {
		fmt.Fprintf(w, "\nwaiting for: %s (%d/%d)\n", st.Pending.Question, st.Pending.Have, st.Pending.Needed)
	}
}

// orAlert names the requester of an alert-started run, which no person asked for.
func orAlert(person string) string {
	if person == "" {
		return "the alert route"
	}
	return person
}
