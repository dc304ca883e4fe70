package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/failover/failover/plan"
)

// planValidateCmd is `starter plan validate FILE...`: every structural check of plan.Load plus plan.Lint, and
// with --live every query and probe run read-only against today's systems. Meant for CI on a plan repository: it
// exits non-zero when any plan has an error (with --strict, a warning too).
func (c *cli) planValidateCmd() *cobra.Command {
	var live, strict bool
	var format string
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check plans for CI: structure, lints for plans that cannot protect anyone, and with --live today's verdicts of every query and probe",
		Example: "  starter plan validate deploy/plans/*.yaml\n  starter plan validate --live --strict plans/payments.yaml\n" +
			"  starter plan validate --format json plans/*.yaml | jq '.[].findings'",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("--format %q: use text or json", format)
			}
			var results []planCheck
			for _, f := range files {
				r := validatePlan(f)
				if live && r.plan != nil {
					r.Live = liveChecks(cmd.Context(), *r.plan, &http.Client{Timeout: 5 * time.Second})
					r.Findings = append(r.Findings, liveFindings(r.Live)...)
				}
				results = append(results, r)
			}
			if err := writePlanChecks(cmd.OutOrStdout(), format, results); err != nil {
				return err
			}
			var failed []string
			for _, r := range results {
				if r.failed(strict) {
					failed = append(failed, r.File)
				}
			}
			if len(failed) > 0 {
				what := "errors"
				if strict {
					what = "errors or warnings (--strict)"
				}
				return fmt.Errorf("%d of %d plan(s) have %s: %s", len(failed), len(results), what, strings.Join(failed, ", "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&live, "live", false, "also run every query and probe of the plan read-only and show today's verdicts")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on warnings too")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

// planCheck is what `plan validate` found in one file.
type planCheck struct {
	File     string         `json:"file"`
	PlanHash string         `json:"plan_hash,omitempty"`
	Findings []plan.Finding `json:"findings"`
	Live     []liveVerdict  `json:"live,omitempty"`
	plan     *plan.Plan
}

func (r planCheck) failed(strict bool) bool {
	for _, f := range r.Findings {
		if f.Severity == plan.SevError || (strict && f.Severity == plan.SevWarning) {
			return true
		}
	}
	return false
}

// validatePlan loads a plan (every structural problem becomes an error finding) and lints it.
func validatePlan(file string) planCheck {
	r := planCheck{File: file, Findings: []plan.Finding{}}
	p, err := plan.Load(file)
	if err != nil {
		var invalid *plan.InvalidError
		if !errors.As(err, &invalid) { // unreadable, or not YAML a plan decodes from
			r.Findings = append(r.Findings, plan.Finding{Severity: plan.SevError, Field: "plan", Message: err.Error()})
			return r
		}
		for _, pr := range invalid.Problems {
			r.Findings = append(r.Findings, plan.Finding{Severity: plan.SevError, Field: pr.Field, Message: pr.Message})
		}
		return r
	}
	r.plan, r.PlanHash = &p, p.Hash()
	r.Findings = append(r.Findings, p.Lint()...)
	return r
}

func writePlanChecks(w io.Writer, format string, results []planCheck) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	for _, r := range results {
		errs, warns, notes := 0, 0, 0
		for _, f := range r.Findings {
			switch f.Severity {
			case plan.SevError:
				errs++
			case plan.SevWarning:
				warns++
			default:
				notes++
			}
		}
		status := "ok"
		if errs > 0 {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s: %s (%d errors, %d warnings", r.File, status, errs, warns)
		switch { // notes point out policies the plan chose; they never fail it
		case notes == 1:
			fmt.Fprint(w, ", 1 note")
		case notes > 1:
			fmt.Fprintf(w, ", %d notes", notes)
		}
		fmt.Fprint(w, ")")
		if r.PlanHash != "" {
			fmt.Fprintf(w, " plan %s", r.PlanHash)
		}
		fmt.Fprintln(w)
		for _, f := range r.Findings {
			fmt.Fprintf(w, "  %s\n", f)
		}
		if len(r.Live) > 0 {
			fmt.Fprintln(w, "  today (--live, read-only):")
			for _, v := range r.Live {
				fmt.Fprintf(w, "    %-44s %-13s %s\n", v.Where+" "+v.Field, v.Verdict, v.Detail)
			}
		}
	}
	return nil
}
