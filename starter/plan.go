package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

func (c *cli) planCmd() *cobra.Command {
	var planFile, from, to string
	cmd := &cobra.Command{
		Use:   "plan --plan FILE --to REGION",
		Short: "Dry run: show what a failover would change in etcd and Kong, from the live state; changes nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := buildRequest(planFile, from, to, "", false, false)
			if err != nil {
				return err
			}
			acts, closeReader, err := c.liveReader(cmd.Context())
			if err != nil {
				return err
			}
			defer closeReader()
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			active, err := acts.ReadActive(ctx, req.Plan.Etcd.ActiveKey)
			if err != nil {
				return fmt.Errorf("etcd at %v: %w", c.endpoints.EtcdEndpoints, err)
			}
			weights, err := acts.ReadWeights(ctx, req.Plan.Kong.Upstream)
			if err != nil {
				return fmt.Errorf("kong at %s: %w", c.endpoints.KongAdminURL, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "plan %s (%s): failover %s → %s would change:\n", planFile, req.PlanHash, req.From, req.To)
			for _, line := range workflows.Preview(req.Plan, req.From, req.To, active, weights) {
				fmt.Fprintln(cmd.OutOrStdout(), "  "+line)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&planFile, "plan", "", "failover plan YAML (required)")
	cmd.Flags().StringVar(&to, "to", "", "target region (required)")
	cmd.Flags().StringVar(&from, "from", "", "source region (default: the plan's other region)")
	_ = cmd.MarkFlagRequired("plan")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// liveReader connects to etcd and Kong for a dry run: activities that read the live state (ReadActive,
// ReadWeights). Call close when done.
func (c *cli) liveReader(ctx context.Context) (_ *activities.Activities, close func(), _ error) {
	if err := c.endpoints.Load(); err != nil {
		return nil, nil, err
	}
	etcd, err := c.endpoints.Etcd()
	if err != nil {
		return nil, nil, err
	}
	kc, err := c.endpoints.Kong()
	if err != nil {
		etcd.Close()
		return nil, nil, err
	}
	if err := c.endpoints.Check(ctx, nil, etcd, kc); err != nil {
		etcd.Close()
		return nil, nil, err
	}
	acts := &activities.Activities{Etcd: etcd, Kong: kc, HTTP: &http.Client{Timeout: 5 * time.Second}, Logger: c.logger}
	return acts, func() { etcd.Close() }, nil
}
