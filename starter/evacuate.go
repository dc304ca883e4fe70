package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/workflows"
)

// evacuateCmd is `starter evacuate`: every service of a region, in waves, with one decision.
func (c *cli) evacuateCmd() *cobra.Command {
	var o evacuateOptions
	cmd := &cobra.Command{
		Use:   "evacuate --region REGION [--to REGION] (--evacuation FILE | --plans DIR) [--dry-run]",
		Short: "Evacuate a region: fail over every service of a plan directory, in waves, with one decision",
		Example: "  starter evacuate --region us-east --evacuation deploy/evacuation/example.yaml --dry-run\n" +
			"  starter evacuate --region us-east --to eu-west --plans deploy/evacuation/plans\n" +
			"  starter evacuate --region us-east --evacuation E.yaml --failback   # back into us-east once it held down",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := o.request()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.dryRun {
				return c.previewEvacuation(cmd.Context(), out, req)
			}
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			run, err := control.StartEvacuation(cmd.Context(), tc, req)
			if errors.Is(err, control.ErrEvacuationRunning) {
				id := workflows.EvacuationID(req.Kind, req.Region)
				return fmt.Errorf("an evacuation of %s is already running as %s: follow it with starter status %s", req.Region, id, id)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "started %s (run %s): %s of %d services in %d waves, evacuation %s\n", run.GetID(), run.GetRunID(),
				req.Kind, len(req.Services), len(req.Waves), req.Hash)
			if !o.wait {
				fmt.Fprintf(out, "follow it: starter status %s   approve it: starter approve %s\n", run.GetID(), run.GetID())
				return nil
			}
			var res workflows.EvacuationResult
			if err := run.Get(cmd.Context(), &res); err != nil {
				return fmt.Errorf("evacuation %s: %w", run.GetID(), err)
			}
			return json.NewEncoder(out).Encode(res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.region, "region", "", "the region to evacuate (default: the evacuation file's from)")
	f.StringVar(&o.to, "to", "", "the target region (default: the evacuation file's, else each plan's other region)")
	f.StringVar(&o.file, "evacuation", "", "evacuation plan YAML: waves, blast radius, one approval (deploy/evacuation/example.yaml)")
	f.StringVar(&o.plans, "plans", "", "directory of per-service plans (default: the evacuation file's plans); the worker reads it too")
	f.StringVar(&o.as, "as", os.Getenv("USER"), "who starts it (recorded; without --evacuation the one who may abort it)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the waves and every etcd and Kong change from the live state; start nothing")
	f.BoolVar(&o.failback, "failback", false, "move every service back into --region once the region held down as a whole "+
		"(the evacuation file's failback:), each after its plan's hold-down")
	f.BoolVar(&o.force, "force", false, "skip each failover's outage confirmation")
	f.BoolVar(&o.wait, "wait", false, "wait for the outcome and print it as JSON")
	return cmd
}

type evacuateOptions struct {
	region, to, file, plans, as   string
	dryRun, failback, force, wait bool
}

// request loads the evacuation (file or defaults), resolves it against the plans and builds the request.
func (o evacuateOptions) request() (workflows.EvacuationRequest, error) {
	var e plan.Evacuation
	switch {
	case o.file != "":
		var err error
		if e, err = plan.LoadEvacuation(o.file); err != nil {
			return workflows.EvacuationRequest{}, err
		}
	case o.region == "" || o.plans == "":
		return workflows.EvacuationRequest{}, errors.New("--region and --plans, or --evacuation FILE: say which region and which plans")
	default:
		e = plan.DefaultEvacuation(o.region, o.to, o.plans, o.as)
	}
	if o.region != "" {
		e.From = o.region
	}
	if o.to != "" {
		e.To = o.to
	}
	if o.plans != "" {
		e.Plans = o.plans
	}
	e.Force = e.Force || o.force
	abs, err := filepath.Abs(e.Plans)
	if err != nil {
		return workflows.EvacuationRequest{}, fmt.Errorf("--plans: %w", err)
	}
	e.Plans = abs
	if err := e.Validate(); err != nil {
		return workflows.EvacuationRequest{}, err
	}
	waves, err := e.Resolve()
	if err != nil {
		return workflows.EvacuationRequest{}, err
	}
	kind := workflows.KindFailover
	if o.failback {
		kind = workflows.KindFailback
	}
	req := workflows.NewEvacuationRequest(e, kind, waves, workflows.Trigger{Source: "cli", By: o.as})
	return req, req.Validate()
}

// previewEvacuation prints the waves and, for every service, what its failover would change in etcd and Kong,
// read from the live state. It changes nothing.
func (c *cli) previewEvacuation(ctx context.Context, w io.Writer, req workflows.EvacuationRequest) error {
	acts, closeReader, err := c.liveReader(ctx)
	if err != nil {
		return err
	}
	defer closeReader()
	fmt.Fprintf(w, "%s of %s: %d services in %d waves (evacuation %s); dry run, nothing changes\n",
		req.Kind, req.Region, len(req.Services), len(req.Waves), req.Hash)
	fmt.Fprintf(w, "approval: %s (perService %s); blast radius: maxFailed %d, maxFailedPercent %g\n",
		req.Approval.Mode, req.Approval.PerService, req.BlastRadius.MaxFailed, req.BlastRadius.MaxFailedPercent)
	if req.Failback != nil {
		fmt.Fprintf(w, "hold-down: before its decision is asked for and before any service moves back, %s must be %s\n",
			req.Region, req.Failback)
	}
	for i, wave := range req.Waves {
		fmt.Fprintf(w, "\nwave %d %s (concurrency %d):\n", i+1, wave.Name, wave.Concurrency)
		for _, s := range req.Services {
			if s.Wave != i {
				continue
			}
			p, err := plan.Load(filepath.Join(req.PlansDir, s.File))
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "  %s %s → %s (plan %s, %s)\n", s.Service, s.From, s.To, s.File, s.PlanHash)
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			active, err := acts.ReadActive(rctx, p.Etcd.ActiveKey)
			if err != nil {
				cancel()
				return fmt.Errorf("%s: etcd at %v: %w", s.Service, c.endpoints.EtcdEndpoints, err)
			}
			weights, err := acts.ReadWeights(rctx, p.Kong.Upstream)
			cancel()
			if err != nil {
				return fmt.Errorf("%s: kong at %s: %w", s.Service, c.endpoints.KongAdminURL, err)
			}
			for _, line := range workflows.Preview(p, s.From, s.To, active, weights) {
				fmt.Fprintln(w, "    "+line)
			}
		}
	}
	return nil
}

// printEvacuation prints an evacuation's status: counts, waves, the RTO distribution, what is left, and one row
// per service (all of them with all, else those not succeeded).
func printEvacuation(w io.Writer, st workflows.EvacuationStatus, all bool) {
	fmt.Fprintf(w, "%s: %s of %d services, region %s (evacuation %s, run %d)\nstep: %s", st.ID, st.Kind, len(st.Services),
		st.Region, st.Hash, st.Run+1, st.Step)
	if st.Outcome != "" {
		fmt.Fprintf(w, "   outcome: %s (%s)", st.Outcome, st.Reason)
	}
	fmt.Fprintf(w, "   elapsed: %.1fs\n%s\n", st.Elapsed, workflows.CountsLine(st.Counts))
	for _, wv := range st.Waves {
		fmt.Fprintf(w, "  wave %-12s %4d/%-4d done  %4d running  %4d waiting  %4d failed\n", wv.Name, wv.Done, wv.Total, wv.Running, wv.Waiting, wv.Failed)
	}
	if rtos := rtosOf(st.Services); len(rtos) > 0 {
		fmt.Fprintf(w, "RTO of %d succeeded: p50 %.2fs  p90 %.2fs  p99 %.2fs  max %.2fs\n", len(rtos),
			percentile(rtos, 50), percentile(rtos, 90), percentile(rtos, 99), rtos[len(rtos)-1])
	}
	if st.HoldDownLine != "" {
		fmt.Fprintln(w, st.HoldDownLine)
	}
	if st.Held != "" {
		fmt.Fprintf(w, "HELD: %s\n", st.Held)
	}
	if st.Paused {
		fmt.Fprintf(w, "PAUSED by %s: starter resume %s\n", st.PausedBy, st.ID)
	}
	if st.Pending != nil {
		fmt.Fprintf(w, "waiting for: %s (%d/%d): starter approve %s\n", st.Pending.Question, st.Pending.Have, st.Pending.Needed, st.ID)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSERVICE\tWAVE\tSTATE\tOUTCOME\tSTEP\tRTO\tREASON")
	for _, s := range st.Services {
		if !all && (s.Outcome == workflows.Succeeded || s.Outcome == workflows.NotNeeded) {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.2fs\t%s\n", s.Service, st.Waves[s.Wave].Name, s.State, s.Outcome, s.Step, s.RTOSeconds, s.Reason)
	}
	tw.Flush()
}

// rtosOf returns the sorted RTOs of the services that succeeded.
func rtosOf(services []workflows.ServiceState) []float64 {
	var rtos []float64
	for _, s := range services {
		if s.Outcome == workflows.Succeeded {
			rtos = append(rtos, s.RTOSeconds)
		}
	}
	slices.Sort(rtos)
	return rtos
}

// percentile is the nearest-rank percentile p of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// evacuationStatusCmd prints an evacuation's status (starter status EVACUATION_ID).
func evacuationStatus(ctx context.Context, tc client.Client, w io.Writer, id string, asJSON, all bool) error {
	st, err := control.EvacuationStatus(ctx, tc, id, "")
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(w).Encode(st)
	}
	printEvacuation(w, st, all)
	return nil
}

// evacuationReport prints an evacuation's report: its status with every service and the RTO distribution as a
// histogram.
func evacuationReport(ctx context.Context, tc client.Client, w io.Writer, id, format string) error {
	st, err := control.EvacuationStatus(ctx, tc, id, "")
	if err != nil {
		return err
	}
	if format == "json" {
		return json.NewEncoder(w).Encode(st)
	}
	printEvacuation(w, st, true)
	rtos := rtosOf(st.Services)
	if len(rtos) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nRTO distribution:")
	bounds := []float64{1, 2, 5, 10, 30, 60, 300, math.Inf(1)}
	lo := 0.0
	for _, hi := range bounds {
		n := 0
		for _, r := range rtos {
			if r >= lo && r < hi {
				n++
			}
		}
		label := fmt.Sprintf("%4.0fs–%4.0fs", lo, hi)
		if math.IsInf(hi, 1) {
			label = fmt.Sprintf("%4.0fs+     ", lo)
		}
		fmt.Fprintf(w, "  %s %5d %s\n", label, n, strings.Repeat("█", (n*50+len(rtos)-1)/len(rtos)))
		lo = hi
	}
	return nil
}

// watchEvacuation prints an evacuation's counts and waves whenever they change, then its report once it has an
// outcome (its latest run: continue-as-new runs follow one another under the same ID).
func watchEvacuation(ctx context.Context, tc client.Client, w io.Writer, id string, interval time.Duration) error {
	var last string
	for {
		st, err := control.EvacuationStatus(ctx, tc, id, "")
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s step %s", workflows.CountsLine(st.Counts), st.Step)
		if st.Step == workflows.StepHoldDown {
			line += " — " + st.HoldDownLine
		}
		if st.Held != "" {
			line += " — HELD: " + st.Held
		}
		if line != last {
			fmt.Fprintf(w, "%s  %s\n", time.Now().Format("15:04:05"), line)
			last = line
		}
		if st.Outcome != "" {
			fmt.Fprintln(w)
			return evacuationReport(ctx, tc, w, id, "text")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
