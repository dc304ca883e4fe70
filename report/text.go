package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/failover/failover/workflows"
)

const stamp = "2006-01-02 15:04:05.000 MST"

// Headline is the one-line answer: outcome and recovery time.
func (r Report) Headline() string {
	switch {
	case r.Outcome == Running:
		return fmt.Sprintf("running, step %s, %s since the fault", r.Step, Duration(r.ElapsedSeconds))
	case r.RTOSeconds > 0:
		return fmt.Sprintf("RTO %s (fault → traffic verified on %s)", Duration(r.RTOSeconds), r.To)
	default:
		return fmt.Sprintf("no RTO: ended %s after %s", r.Outcome, Duration(r.ElapsedSeconds))
	}
}

// RPOText is the RPO estimate in seconds, or unknown.
func (r Report) RPOText() string { return workflows.RPOString(r.RPOSeconds) }

// WriteText renders the report for a terminal or a ticket.
func (r Report) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "%s of %s: %s → %s\n", r.Kind, r.Service, r.From, r.To)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	outcome := r.Outcome
	if r.Reason != "" {
		outcome += ": " + r.Reason
	}
	fmt.Fprintf(tw, "outcome\t%s\n", outcome)
	fmt.Fprintf(tw, "workflow\t%s", r.WorkflowID)
	if r.RunID != "" {
		fmt.Fprintf(tw, " (run %s)", r.RunID)
	}
	fmt.Fprintf(tw, "\nplan\t%s\n", r.PlanHash)
	trigger := r.Trigger.Source
	if r.Trigger.By != "" {
		trigger += " by " + r.Trigger.By
	}
	if r.Trigger.Alert != "" {
		trigger += fmt.Sprintf(": %s (%s)", r.Trigger.Alert, r.Trigger.Severity)
	}
	fmt.Fprintf(tw, "trigger\t%s\n", trigger)
	fmt.Fprintf(tw, "fault at\t%s\n", r.FaultAt.Format(stamp))
	fmt.Fprintf(tw, "started\t%s (+%s)\n", r.StartedAt.Format(stamp), Duration(r.StartedAt.Sub(r.FaultAt).Seconds()))
	fmt.Fprintf(tw, "ended\t%s (+%s)\n", r.EndedAt.Format(stamp), Duration(r.ElapsedSeconds))
	fmt.Fprintf(tw, "result\t%s\n", r.Headline())
	if r.RPOSeconds != nil || r.SLA != nil {
		fmt.Fprintf(tw, "rpo\t%s (the target's replication lag at the cutover)\n", r.RPOText())
	}
	if r.SLA != nil {
		fmt.Fprintf(tw, "sla\t%s\n", r.SLA)
	}
	tw.Flush()

	b.WriteString("\ntime breakdown (from the fault)\n")
	rows := [][]string{{"phase", "start", "duration", "share", "result", "detail"}}
	for _, p := range r.Phases {
		rows = append(rows, []string{p.Name, "+" + Duration(p.StartSeconds), Duration(p.Seconds), fmt.Sprintf("%.1f%%", 100*p.Share), p.Result, oneLine(p.Detail, 90)})
	}
	if r.ElapsedSeconds > 0 {
		rows = append(rows, []string{"between steps", "", Duration(r.BetweenSeconds), fmt.Sprintf("%.1f%%", 100*r.BetweenSeconds/r.ElapsedSeconds), "", ""})
	}
	rows = append(rows, []string{"total", "", Duration(r.ElapsedSeconds), "100.0%", "", ""})
	table(b, rows, []bool{false, true, true, true, false, false})

	if len(r.Decisions) > 0 {
		b.WriteString("\ndecisions\n")
		for _, d := range r.Decisions {
			fmt.Fprintf(b, "  %s  %s: %s by %s via %s", d.At.UTC().Format("15:04:05.000"), d.For, d.Decision, d.By, d.Via)
			if d.Comment != "" {
				fmt.Fprintf(b, " (%q)", d.Comment)
			}
			if p := d.Proven(); p != "" {
				fmt.Fprintf(b, " [%s]", p)
			}
			b.WriteString("\n")
		}
	}
	if len(r.StillChanged) > 0 {
		b.WriteString("\nstill changed (finish by hand)\n")
		for _, l := range r.StillChanged {
			fmt.Fprintf(b, "  %s %s: %s (before: %s)\n    %s\n", l.System, l.Target, l.Now, l.Before, l.Fix)
		}
	}
	if len(r.Changes) > 0 {
		b.WriteString("\nchanges\n")
		for _, c := range r.Changes {
			fmt.Fprintf(b, "  %s: %s → %s\n", c.System, c.Before, c.After)
		}
	}
	if n := r.Checks.Pass + r.Checks.Fail + r.Checks.Inconclusive; n > 0 {
		fmt.Fprintf(b, "\nchecks: %d pass, %d fail, %d inconclusive\n", r.Checks.Pass, r.Checks.Fail, r.Checks.Inconclusive)
		for _, c := range r.Checks.Results {
			fmt.Fprintf(b, "  %-12s %s: %s\n", c.Verdict, c.Name, oneLine(c.Detail, 100))
		}
	}
	if len(r.Alerts) > 0 {
		b.WriteString("\nalerts\n")
		for _, a := range r.Alerts {
			fmt.Fprintf(b, "  %s %s %s (fingerprint %s, region %s, %d notifications, %d status changes) first %s, last %s\n", a.Alertname, a.Status,
				a.Severity, a.Fingerprint, a.Region, a.Notifications, a.Changes, a.FirstSeen.UTC().Format(time.TimeOnly), a.LastSeen.UTC().Format(time.TimeOnly))
		}
	}
	if len(r.Evidence) > 0 {
		b.WriteString("\nevidence\n")
		for _, e := range r.Evidence {
			fmt.Fprintf(b, "  - %s\n", oneLine(e, 120))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON renders the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// table writes rows as columns two spaces apart, indented; numbers right-aligned, the last column unpadded.
func table(b *strings.Builder, rows [][]string, right []bool) {
	width := make([]int, len(right))
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		line := " "
		for i, cell := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell))
			switch {
			case right[i]:
				line += " " + pad + cell
			case i == len(row)-1:
				line += " " + cell
			default:
				line += " " + cell + pad
			}
			line += " "
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}

func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > limit {
		return string(r[:limit-1]) + "…"
	}
	return s
}
