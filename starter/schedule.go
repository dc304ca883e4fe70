package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/failover/failover/control"
)

// drillScheduleCmd is `starter drill schedule create|list|pause|resume|delete`: drills on a Temporal Schedule.
func (c *cli) drillScheduleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Run drills on a Temporal Schedule (cron or interval, overlap skip); the Web UI's Schedules page shows them",
	}
	cmd.AddCommand(c.scheduleCreateCmd(), c.scheduleListCmd(), c.schedulePauseCmd(false), c.schedulePauseCmd(true), c.scheduleDeleteCmd())
	return cmd
}

func (c *cli) scheduleCreateCmd() *cobra.Command {
	var f drillFlags
	var s control.DrillSchedule
	var paused bool
	cmd := &cobra.Command{
		Use:   "create NAME --plan FILE --to REGION (--cron EXPR | --every DURATION) [drill flags]",
		Short: "Create a drill schedule drill-<service>-NAME",
		Example: "  starter drill schedule create weekly --plan plans/payments.yaml --to eu-west --cron '0 10 * * TUE' \\\n" +
			"    --fault-url http://toxiproxy:8474/proxies/payments-us-east/toxics --fault-body '{\"type\":\"timeout\",\"attributes\":{\"timeout\":0}}' \\\n" +
			"    --recover-url http://toxiproxy:8474/proxies/payments-us-east/toxics/timeout_downstream --soak 10m",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s.Name = args[0]
			if err := s.Validate(); err != nil {
				return err
			}
			req, err := f.request()
			if err != nil {
				return err
			}
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			id, err := control.CreateDrillSchedule(cmd.Context(), tc, s, req, paused)
			if err != nil {
				return err
			}
			state := "active"
			if paused {
				state = "paused"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schedule %s created (%s): drill of %s %s → %s; overlapping firings are skipped\n",
				id, state, req.Plan.Service, req.From, req.To)
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&s.Cron, "cron", "", "when, as cron: minute hour day-of-month month day-of-week, e.g. '0 10 * * TUE' (UTC)")
	cmd.Flags().DurationVar(&s.Every, "every", 0, "when, as an interval, e.g. 168h")
	cmd.Flags().BoolVar(&paused, "paused", false, "create it paused")
	return cmd
}

func (c *cli) scheduleListCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List drill schedules: spec, paused (and why: the note), next firings, latest drills",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			entries, err := control.ListDrillSchedules(cmd.Context(), tc)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SCHEDULE\tWHEN\tSTATE\tNEXT\tLATEST DRILLS\tNOTE")
			for _, e := range entries {
				state, next := "active", "-"
				if e.Paused {
					state = "paused"
				}
				if len(e.Next) > 0 {
					next = e.Next[0].UTC().Format(time.RFC3339)
				}
				latest := strings.Join(e.LastRuns, " ")
				if latest == "" {
					latest = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Spec, state, next, latest, e.Note)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func (c *cli) schedulePauseCmd(resume bool) *cobra.Command {
	verb, short := "pause", "Pause a drill schedule (e.g. during an incident or a freeze)"
	if resume {
		verb, short = "resume", "Resume a paused drill schedule"
	}
	var note string
	cmd := &cobra.Command{
		Use:   verb + " SCHEDULE_ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			if err := control.PauseDrillSchedule(cmd.Context(), tc, args[0], note, resume); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schedule %s: %sd\n", args[0], verb)
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", verb+"d with starter drill schedule "+verb, "why, shown in the Web UI")
	return cmd
}

func (c *cli) scheduleDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete SCHEDULE_ID",
		Short: "Delete a drill schedule (drills it started keep running)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			if err := control.DeleteDrillSchedule(cmd.Context(), tc, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schedule %s: deleted\n", args[0])
			return nil
		},
	}
}
