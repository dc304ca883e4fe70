package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/proof"
	"github.com/failover/failover/workflows"
)

func (c *cli) startCmd() *cobra.Command {
	var planFile, from, to, as, keyFile string
	var force, failback, wait bool
	cmd := &cobra.Command{
		Use:   "start --plan FILE --to REGION",
		Short: "Start a failover (or --failback) of the plan's service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := buildRequest(planFile, from, to, as, force, failback)
			if err != nil {
				return err
			}
			if req.Plan.Approval.HasPeople() {
				named := ""
				if cmd.Flags().Changed("as") {
					named = as
				}
				if req, err = signStart(req, named, keyFile, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			run, err := startFailover(cmd.Context(), tc, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "started %s (run %s): %s %s → %s, plan %s\n", run.GetID(), run.GetRunID(), req.Kind, req.Plan.Service, req.To, req.PlanHash)
			if !wait {
				fmt.Fprintf(cmd.OutOrStdout(), "follow it: starter status %s   approve it: starter approve %s --as NAME\n", run.GetID(), run.GetID())
				return nil
			}
			var res workflows.Result
			if err := run.Get(cmd.Context(), &res); err != nil {
				return fmt.Errorf("failover %s: %w", run.GetID(), err)
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
		},
	}
	cmd.Flags().StringVar(&planFile, "plan", "", "failover plan YAML (required)")
	cmd.Flags().StringVar(&to, "to", "", "target region (required)")
	cmd.Flags().StringVar(&from, "from", "", "source region (default: the plan's other region)")
	cmd.Flags().StringVar(&as, "as", os.Getenv("USER"), "who starts it (recorded in the history)")
	cmd.Flags().BoolVar(&force, "force", false, "fail over even if the source region looks healthy")
	cmd.Flags().BoolVar(&failback, "failback", false, "move back to the original region (hold-down and approval required)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the outcome and print it as JSON")
	cmd.Flags().StringVar(&keyFile, "key", "", "your SSH private key file, to sign the start on a plan with approval.people when the ssh-agent holds no key of yours")
	_ = cmd.MarkFlagRequired("plan")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// buildRequest loads the plan and fills a validated request.
func buildRequest(planFile, from, to, as string, force, failback bool) (workflows.Request, error) {
	p, err := plan.Load(planFile)
	if err != nil {
		return workflows.Request{}, err
	}
	if _, ok := p.Regions[to]; !ok {
		return workflows.Request{}, fmt.Errorf("--to: region %q is not in the plan (it has %v)", to, p.RegionNames())
	}
	if from == "" {
		if from, err = p.OtherRegion(to); err != nil {
			return workflows.Request{}, fmt.Errorf("--from: %w", err)
		}
	}
	req := workflows.Request{Plan: p, PlanHash: p.Hash(), From: from, To: to, Kind: workflows.KindFailover, Force: force,
		Trigger: workflows.Trigger{Source: "cli", By: as}}
	if failback {
		req.Kind = workflows.KindFailback
	}
	if err := req.Validate(); err != nil {
		return workflows.Request{}, err
	}
	return req, nil
}

// startFailover starts the workflow as failover-<service> (control.Start); a second one while the first runs is
// refused, with how to follow the running one.
func startFailover(ctx context.Context, tc control.Starter, req workflows.Request) (client.WorkflowRun, error) {
	run, err := control.Start(ctx, tc, req)
	if errors.Is(err, control.ErrAlreadyRunning) {
		id := workflows.WorkflowID(req.Plan.Service)
		return nil, fmt.Errorf("a failover of %s is already running as %s: follow it with starter status %s", req.Plan.Service, id, id)
	}
	return run, err
}

// signStart signs the start for the person whose key signs (named, the --as typed, must be that person when
// given), so approval.fourEyes knows who asked. Without a key of a person's, a plan with allowUnsigned starts
// with an unproven requester (under fourEyes it then needs two approvers); any other plan is told what to do.
func signStart(req workflows.Request, named, keyFile string, stderr io.Writer) (workflows.Request, error) {
	ap := req.Plan.Approval
	signer, err := findSigner(ap, keyFile)
	if err != nil && ap.AllowUnsigned && keyFile == "" {
		fmt.Fprintf(stderr, "no SSH key of a person in the plan (%v); starting unsigned: the requester is unproven, "+
			"so under approval.fourEyes two people must approve\n", err)
		return req, nil
	}
	if err != nil {
		return req, fmt.Errorf("start: this plan names approval.people, so a start is signed to prove who asked: %w", err)
	}
	person, _ := ap.PersonByKey(signer.PublicKey())
	if named != "" && named != person.Name {
		return req, fmt.Errorf("--as %s: your key %s is %s's in the plan: sign with %s's key, or leave out --as",
			named, proof.Fingerprint(signer.PublicKey()), person.Name, named)
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return req, fmt.Errorf("start: nonce: %w", err)
	}
	pr, err := proof.Sign(workflows.StartStatement(req, "start-"+hex.EncodeToString(nonce), person.Name, time.Now()), signer)
	if err != nil {
		return req, fmt.Errorf("start: %w", err)
	}
	req.Trigger.By, req.Trigger.Proof = person.Name, &pr
	return req, nil
}
