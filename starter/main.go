// Command starter is the failover CLI and front door: start, preview, approve and follow failovers, and serve the
// Alertmanager webhook. It ships; the local stack and the demo are in testsuite/devstack, which is not shipped.
//
//	starter start --plan deploy/plans/payments.yaml --to eu-west
//	starter plan --plan deploy/plans/payments.yaml --to eu-west     # dry run: what would change
//	starter approve failover-payments --as alice
//	starter status failover-payments
//	starter workers                                                   # worker builds; `workers promote BUILD` after a deploy
//	starter evacuate --region us-east --evacuation deploy/evacuation/example.yaml [--dry-run]   # every service of a region
//	starter serve --routes deploy/alerts/routes.yaml                 # the Alertmanager webhook: failovers from alerts
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/endpoints"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

// cli is what every command shares: where the systems are, and a logger.
type cli struct {
	endpoints endpoints.Config
	logger    *slog.Logger
}

func newRoot() *cobra.Command {
	c := &cli{logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	root := &cobra.Command{
		Use:           "starter",
		Short:         "Start, approve and follow failovers; serve the Alertmanager webhook",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	c.endpoints.Bind(root.PersistentFlags())
	root.AddCommand(c.startCmd(), c.planCmd(), c.evacuateCmd(), c.decideCmd("approve"), c.decideCmd("reject"),
		c.decideCmd("abort"), c.decideCmd("pause"), c.decideCmd("resume"), c.statusCmd(), c.workersCmd(), c.serveCmd(), c.drillCmd())
	root.AddCommand(c.observeCmds()...)
	return root
}

// temporal loads the endpoint settings and dials Temporal.
func (c *cli) temporal() (client.Client, error) {
	if err := c.endpoints.Load(); err != nil {
		return nil, err
	}
	return c.endpoints.Temporal(c.logger)
}
