package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/control"
	"github.com/failover/failover/report"
	"github.com/failover/failover/workflows"
)

// observeCmds are the commands for watching and proving a failover: report, watch, codec-server.
func (c *cli) observeCmds() []*cobra.Command {
	return []*cobra.Command{c.reportCmd(), c.watchCmd(), c.codecServerCmd()}
}

func (c *cli) reportCmd() *cobra.Command {
	var format, output, runID, service string
	var drills bool
	var limit int
	cmd := &cobra.Command{
		Use:   "report WORKFLOW_ID | --drills --service SERVICE",
		Short: "Print a failover's timeline and RTO breakdown as text, JSON, or a self-contained HTML page",
		Example: "  starter report failover-payments\n  starter report failover-payments --format html -o payments-failover.html\n" +
			"  starter report failover-payments --format json | jq .phases\n" +
			"  starter report --drills --service payments --format html -o payments-drills.html   # RTO/RPO across drills",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case drills && len(args) > 0:
				return errors.New("--drills reports a service's drills: give --service SERVICE, not a WORKFLOW_ID")
			case !drills && len(args) == 0:
				return errors.New("accepts 1 arg(s), received 0: give a WORKFLOW_ID, or --drills --service SERVICE for the trend across drills")
			}
			if drills {
				return c.drillTrend(cmd, service, format, output, limit)
			}
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
			out, closeOut, err := outputTo(cmd, output)
			if err != nil {
				return err
			}
			defer closeOut()
			return write(rep, out)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, json or html")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&runID, "run-id", "", "a particular run (default: the latest run of WORKFLOW_ID)")
	cmd.Flags().BoolVar(&drills, "drills", false, "RTO and RPO across the service's finished drills (with --service)")
	cmd.Flags().StringVar(&service, "service", "", "the service whose drills --drills shows")
	cmd.Flags().IntVar(&limit, "limit", 50, "with --drills: the latest this many drills")
	return cmd
}

// outputTo is where a report goes: stdout, or the file --output names.
func outputTo(cmd *cobra.Command, output string) (io.Writer, func(), error) {
	if output == "" || output == "-" {
		return cmd.OutOrStdout(), func() {}, nil
	}
	f, err := os.Create(output)
	if err != nil {
		return nil, nil, fmt.Errorf("--output: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// drillTrend writes `starter report --drills`: the service's drills, oldest first, with RTO/RPO against the SLA.
func (c *cli) drillTrend(cmd *cobra.Command, service, format, output string, limit int) error {
	write := map[string]func(report.DrillTrend, io.Writer) error{"text": report.DrillTrend.WriteText,
		"json": report.DrillTrend.WriteJSON, "html": report.DrillTrend.WriteHTML}[format]
	if write == nil {
		return fmt.Errorf("--format %q: use text, json or html", format)
	}
	tc, err := c.temporal()
	if err != nil {
		return err
	}
	defer tc.Close()
	runs, err := control.Drills(cmd.Context(), tc, service, limit)
	if err != nil {
		return err
	}
	ids := make([]string, len(runs))
	results := make([]workflows.DrillResult, len(runs))
	for i, r := range runs {
		ids[i], results[i] = r.WorkflowID, r.Result
	}
	out, closeOut, err := outputTo(cmd, output)
	if err != nil {
		return err
	}
	defer closeOut()
	return write(report.NewDrillTrend(service, ids, results), out)
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
