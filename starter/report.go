package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/control"
	"github.com/failover/failover/report"
)

// observeCmds are the commands for watching and proving a failover: report, watch, codec-server.
func (c *cli) observeCmds() []*cobra.Command {
	return []*cobra.Command{c.reportCmd(), c.watchCmd(), c.codecServerCmd()}
}

func (c *cli) reportCmd() *cobra.Command {
	var format, output, runID string
	cmd := &cobra.Command{
		Use:   "report WORKFLOW_ID",
		Short: "Print a failover's timeline and RTO breakdown as text, JSON, or a self-contained HTML page",
		Example: "  starter report failover-payments\n  starter report failover-payments --format html -o payments-failover.html\n" +
			"  starter report failover-payments --format json | jq .phases",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if control.IsEvacuation(args[0]) {
				tc, err := c.temporal()
				if err != nil {
					return err
				}
				defer tc.Close()
				return evacuationReport(cmd.Context(), tc, cmd.OutOrStdout(), args[0], format)
			}
			write, err := reportWriter(format)
			if err != nil {
				return err
			}
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			rep, err := fetchReport(cmd.Context(), tc, args[0], runID)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output != "" && output != "-" {
				f, err := os.Create(output)
				if err != nil {
					return fmt.Errorf("--output: %w", err)
				}
				defer f.Close()
				out = f
			}
			return write(rep, out)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, json or html")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&runID, "run-id", "", "a particular run (default: the latest run of WORKFLOW_ID)")
	return cmd
}

func reportWriter(format string) (func(report.Report, io.Writer) error, error) {
	switch format {
	case "text":
		return report.Report.WriteText, nil
	case "json":
		return report.Report.WriteJSON, nil
	case "html":
		return report.Report.WriteHTML, nil
	}
	return nil, fmt.Errorf("--format %q: use text, json or html", format)
}

// fetchReport asks the failover for its status: the query answers for closed workflows too, as long as a worker
// runs (it replays the history to answer).
func fetchReport(ctx context.Context, tc client.Client, id, runID string) (report.Report, error) {
	desc, err := tc.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return report.Report{}, fmt.Errorf("describe %s: %w", id, err)
	}
	runID = desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	st, err := control.Status(ctx, tc, id, runID)
	if err != nil {
		return report.Report{}, err
	}
	if st.Outcome == "" {
		// The query's clock stops at the workflow's last event; a running failover's report runs to now.
		st.RTOSeconds = time.Since(st.FaultAt).Seconds()
	}
	return report.FromStatus(id, runID, st), nil
}
