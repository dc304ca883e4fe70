package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/control"
	"github.com/failover/failover/workflows"
)

// workersCmd shows the worker builds of the Worker Deployment and makes one current (the upgrade procedure in
// README, "Upgrading the worker").
func (c *cli) workersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "Show the worker builds: which one new failovers start on, and how many failovers each still runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			return printWorkers(cmd.Context(), cmd.OutOrStdout(), tc, c.endpoints.TemporalNamespace)
		},
	}
	var wait time.Duration
	promote := &cobra.Command{
		Use:   "promote BUILD_ID",
		Short: "Make a worker build current: new failovers start on it, running ones finish on their own build",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			if err := control.SetCurrentBuild(ctx, tc, args[0], "starter workers promote by "+os.Getenv("USER")); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "build %s is current: new failovers start on it\n", args[0])
			return nil
		},
	}
	promote.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long to wait for a worker of that build to poll Temporal")
	cmd.AddCommand(promote)
	return cmd
}

// printWorkers lists the deployment's builds, newest first as Temporal reports them, with the failovers still
// running on each: a build may be stopped once it is not current and runs none.
func printWorkers(ctx context.Context, w io.Writer, tc client.Client, namespace string) error {
	d, err := tc.WorkerDeploymentClient().GetHandle(workflows.DeploymentName).Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	if err != nil {
		return fmt.Errorf("worker deployment %s (no versioned worker has polled yet?): %w", workflows.DeploymentName, err)
	}
	current := ""
	if v := d.Info.RoutingConfig.CurrentVersion; v != nil {
		current = v.BuildID
	}
	fmt.Fprintf(w, "worker deployment %s; new failovers start on build %q\n", workflows.DeploymentName, current)
	fmt.Fprintf(w, "%-24s %-9s %-9s %s\n", "BUILD", "CURRENT", "RUNNING", "DRAINAGE")
	for _, v := range d.Info.VersionSummaries {
		running, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace,
			Query: fmt.Sprintf("WorkflowType = 'Failover' AND ExecutionStatus = 'Running' AND TemporalWorkerDeploymentVersion = '%s:%s'",
				workflows.DeploymentName, v.Version.BuildID)})
		if err != nil {
			return fmt.Errorf("count failovers on build %s: %w", v.Version.BuildID, err)
		}
		mark := ""
		if v.Version.BuildID == current {
			mark = "yes"
		}
		fmt.Fprintf(w, "%-24s %-9s %-9d %s\n", v.Version.BuildID, mark, running.GetCount(), drainage(v.DrainageStatus))
	}
	return nil
}

func drainage(s client.WorkerDeploymentVersionDrainageStatus) string {
	switch s {
	case client.WorkerDeploymentVersionDrainageStatusDraining:
		return "draining"
	case client.WorkerDeploymentVersionDrainageStatusDrained:
		return "drained"
	}
	return "-"
}
