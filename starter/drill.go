package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/workflows"
)

// drillFlags are what `starter drill` and `starter drill schedule create` share: the plan, the direction, the hooks.
type drillFlags struct {
	planFile, from, to, by                 string
	faultURL, faultMethod, faultBody       string
	recoverURL, recoverMethod, recoverBody string
	faultHook, recoverHook                 string
	soak                                   time.Duration
	noFailback                             bool
}

func (f *drillFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.planFile, "plan", "", "failover plan YAML (required)")
	fs.StringVar(&f.to, "to", "", "region the drill fails over to (required)")
	fs.StringVar(&f.from, "from", "", "region it fails over from (default: the plan's other region)")
	fs.StringVar(&f.faultURL, "fault-url", "", "HTTP hook that injects the outage, e.g. the demo region's http://127.0.0.1:9101/fault, a Toxiproxy or Chaos Mesh endpoint (none: a forced switchover)")
	fs.StringVar(&f.faultMethod, "fault-method", "POST", "the fault hook's method")
	fs.StringVar(&f.faultBody, "fault-body", "", `the fault hook's JSON body, e.g. {"status":503}`)
	fs.StringVar(&f.recoverURL, "recover-url", "", "HTTP hook that ends the outage after the soak (default: --fault-url)")
	fs.StringVar(&f.recoverMethod, "recover-method", "DELETE", "the recovery hook's method")
	fs.StringVar(&f.recoverBody, "recover-body", "", "the recovery hook's JSON body")
	fs.StringVar(&f.faultHook, "fault-hook", "", "command hook that injects the outage, by its name in the worker's hooks file (worker --drill-hooks); instead of --fault-url")
	fs.StringVar(&f.recoverHook, "recover-hook", "", "command hook that ends the outage after the soak, by its name in the worker's hooks file; instead of --recover-url")
	fs.DurationVar(&f.soak, "soak", 5*time.Minute, "how long traffic stays on the target before the failback")
	fs.BoolVar(&f.noFailback, "no-failback", false, "leave traffic on the target (no recovery, no failback)")
	fs.StringVar(&f.by, "as", "", "who runs the drill (default: the OS user)")
	_ = cmd.MarkFlagRequired("plan")
	_ = cmd.MarkFlagRequired("to")
}

// request builds and validates the drill request.
func (f *drillFlags) request() (workflows.DrillRequest, error) {
	fo, err := buildRequest(f.planFile, f.from, f.to, "", false, false)
	if err != nil {
		return workflows.DrillRequest{}, err
	}
	by := f.by
	if by == "" {
		if u, err := user.Current(); err == nil {
			by = u.Username
		}
	}
	req := workflows.DrillRequest{Plan: fo.Plan, PlanHash: fo.PlanHash, From: fo.From, To: fo.To, Soak: f.soak,
		SkipFailback: f.noFailback, By: by}
	switch {
	case f.faultURL != "" && f.faultHook != "":
		return workflows.DrillRequest{}, errors.New("--fault-url and --fault-hook: give one fault hook, an HTTP request or a command hook's name")
	case f.recoverURL != "" && f.recoverHook != "":
		return workflows.DrillRequest{}, errors.New("--recover-url and --recover-hook: give one recovery hook, an HTTP request or a command hook's name")
	case f.faultURL != "":
		req.Fault = &activities.FaultHook{Method: strings.ToUpper(f.faultMethod), URL: f.faultURL, Body: f.faultBody}
	case f.faultHook != "":
		req.Fault = &activities.FaultHook{Command: f.faultHook}
	}
	switch {
	case req.Fault == nil || f.noFailback:
	case f.recoverHook != "":
		req.Recover = &activities.FaultHook{Command: f.recoverHook}
	case f.recoverURL != "" || f.faultURL != "":
		url := f.recoverURL
		if url == "" {
			url = f.faultURL
		}
		req.Recover = &activities.FaultHook{Method: strings.ToUpper(f.recoverMethod), URL: url, Body: f.recoverBody}
	}
	if err := req.Validate(); err != nil {
		return workflows.DrillRequest{}, err
	}
	return req, nil
}

func (c *cli) drillCmd() *cobra.Command {
	var f drillFlags
	var format string
	var detach bool
	cmd := &cobra.Command{
		Use:   "drill --plan FILE --to REGION [--fault-url URL | --fault-hook NAME] [--soak 5m]",
		Short: "Drill a real environment: inject the outage, run the real failover, soak, end the outage, fail back, report RTO/RPO vs the SLA",
		Example: "  starter drill --plan deploy/plans/demo.yaml --to eu-west --fault-url http://127.0.0.1:9101/fault --fault-body '{\"status\":503}' --soak 30s\n" +
			"  starter drill --plan plans/payments.yaml --to eu-west --fault-hook us-east-down --recover-hook us-east-up --soak 10m   # hooks of the worker's --drill-hooks file\n" +
			"  starter drill --plan plans/payments.yaml --to eu-west --no-failback --soak 0s     # a forced switchover, no fault",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("--format %q: use text or json", format)
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
			run, err := control.StartDrill(cmd.Context(), tc, req)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "DRILL %s started as %s (run %s): %s → %s, soak %s\n", req.Plan.Service, run.GetID(), run.GetRunID(), req.From, req.To, req.Soak)
			switch {
			case req.SkipFailback:
			case req.Plan.AutoFailback():
				fmt.Fprintf(out, "the failback is approved by the plan (drill.failback auto), after its hold-down and readiness\n")
			default:
				fmt.Fprintf(out, "the failback needs a person: starter approve %s --as NAME when it asks\n", workflows.WorkflowID(req.Plan.Service))
			}
			if detach {
				return nil
			}
			var res workflows.DrillResult
			if err := run.Get(cmd.Context(), &res); err != nil {
				return fmt.Errorf("drill %s: %w", run.GetID(), err)
			}
			if err := writeDrill(out, format, res); err != nil {
				return err
			}
			if res.Verdict != workflows.DrillPassed {
				return fmt.Errorf("drill %s: %s", res.Verdict, res.Reason)
			}
			return nil
		},
	}
	f.bind(cmd)
	cmd.AddCommand(c.drillScheduleCmd())
	cmd.Flags().StringVar(&format, "format", "text", "the drill report: text or json")
	cmd.Flags().BoolVar(&detach, "detach", false, "start the drill and return (follow it in the Web UI: FailoverDrill=true)")
	return cmd
}

// writeDrill renders a drill report: the verdict, each phase's RTO and RPO against the SLA, what needed a human.
func writeDrill(w io.Writer, format string, r workflows.DrillResult) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(w, "DRILL %s %s → %s: %s", r.Service, r.From, r.To, strings.ToUpper(r.Verdict))
	if r.Reason != "" {
		fmt.Fprintf(w, ": %s", r.Reason)
	}
	fmt.Fprintf(w, "\nfault at %s; soak %.1fs\n", r.FaultAt.UTC().Format(time.RFC3339), r.SoakSeconds)
	for _, l := range r.Lines() {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if h := r.NeededHuman(); len(h) > 0 {
		fmt.Fprintf(w, "needed a human:\n  %s\n", strings.Join(h, "\n  "))
	} else {
		fmt.Fprintln(w, "needed a human: nothing")
	}
	return nil
}
