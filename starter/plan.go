package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
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
			var weights []activities.TargetWeight
			if !req.Plan.Kong.SwitchesService() {
				if weights, err = acts.ReadWeights(ctx, req.Plan.Kong.Upstream); err != nil {
					return fmt.Errorf("kong at %s: %w", c.endpoints.KongAdminURL, err)
				}
			}
			preflight, err := acts.KongPreflight(ctx, workflows.KongPreflightInput(req.Plan, req.From, req.To))
			if err != nil {
				return fmt.Errorf("kong at %s: %w", c.endpoints.KongAdminURL, err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "plan %s (%s): failover %s → %s would change:\n", planFile, req.PlanHash, req.From, req.To)
			for _, line := range workflows.Preview(req.Plan, req.From, req.To, active, weights) {
				fmt.Fprintln(out, "  "+line)
			}
			for _, line := range kongPreview(req.Plan, req.From, req.To, preflight) {
				fmt.Fprintln(out, "  "+line)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&planFile, "plan", "", "failover plan YAML (required)")
	cmd.Flags().StringVar(&to, "to", "", "target region (required)")
	cmd.Flags().StringVar(&from, "from", "", "source region (default: the plan's other region)")
	_ = cmd.MarkFlagRequired("plan")
	_ = cmd.MarkFlagRequired("to")
	cmd.AddCommand(c.planValidateCmd())
	return cmd
}

// kongPreview says which Kong was found, how the reroute would write it, and what would stop readiness.
func kongPreview(p plan.Plan, from, to string, pf activities.KongPreflightResult) []string {
	upstream, steps := p.Kong.Upstream, len(p.Traffic.Steps)
	out := []string{"kong: " + pf.Describe()}
	switch pf.Mode {
	case activities.KongEntities:
		if p.Kong.SwitchesService() {
			out = append(out, fmt.Sprintf("kong writes: PATCH /services/%s {host: %s}, once, if it still points at %s", p.Kong.Service,
				p.Regions[to].KongHost, p.Regions[from].KongHost))
			break
		}
		out = append(out, fmt.Sprintf("kong writes: PUT /upstreams/%s/targets/{target} {weight}, two targets per step, %d steps", upstream, steps))
	case activities.KongDeclarative:
		out = append(out, fmt.Sprintf("kong writes: GET /config, the weights of upstream %s's two targets changed, POST /config?check_hash=1; "+
			"%d loads, each only if the configuration hash is still the one read before it (first: %s)", upstream, steps, pf.ConfigHash))
	}
	for _, n := range pf.Notes {
		out = append(out, "note: "+n)
	}
	if p.Kong.GitOps {
		out = append(out, fmt.Sprintf("gitops: after the failover update the source of Kong's configuration: target %s of upstream %s weight 100, "+
			"target %s weight 0", p.Regions[to].KongTarget, upstream, p.Regions[from].KongTarget))
	}
	for _, problem := range pf.Problems {
		out = append(out, "NOT READY: "+problem)
	}
	return out
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
