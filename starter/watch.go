package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/report"
	"github.com/failover/failover/workflows"
)

func (c *cli) watchCmd() *cobra.Command {
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "watch WORKFLOW_ID",
		Short: "Follow a failover live (steps, durations, warmup progress), then print its report; or an evacuation's counts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval < 50*time.Millisecond {
				return fmt.Errorf("--interval %s: poll at most every 50ms", interval)
			}
			tc, err := c.temporal()
			if err != nil {
				return err
			}
			defer tc.Close()
			if control.IsEvacuation(args[0]) {
				return watchEvacuation(cmd.Context(), tc, cmd.OutOrStdout(), args[0], interval)
			}
			w := watcher{tc: tc, dc: c.endpoints.DataConverter(), out: cmd.OutOrStdout(), interval: interval, tty: isTerminal(cmd.OutOrStdout())}
			rep, err := w.run(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(w.out)
			return rep.WriteText(w.out)
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", 500*time.Millisecond, "how often to poll the failover's status")
	return cmd
}

// watcher polls one failover's status query (and, during the warmup, its heartbeat) and redraws its progress.
type watcher struct {
	tc       client.Client
	dc       converter.DataConverter // decodes heartbeat details: the worker's codec applies to them too
	out      io.Writer
	interval time.Duration
	// tty redraws in place; otherwise a frame is printed only when something but the clock changed.
	tty bool
}

// run returns the report once the failover has an outcome.
func (w watcher) run(ctx context.Context, id string) (report.Report, error) {
	desc, err := w.tc.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return report.Report{}, fmt.Errorf("watch %s: %w", id, err)
	}
	runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	var last string
	failures := 0
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for {
		st, err := control.Status(ctx, w.tc, id, runID)
		var notFound *serviceerror.NotFound
		switch {
		case errors.As(err, &notFound):
			return report.Report{}, err
		case err != nil:
			// A worker restart or a Temporal hiccup: keep watching for a while, the failover goes on.
			if failures++; failures == 20 {
				return report.Report{}, err
			}
		default:
			failures = 0
			warm := w.warmup(ctx, id, runID, st)
			frame := renderWatch(st, warm, time.Now(), 100)
			if w.tty {
				fmt.Fprint(w.out, "\x1b[H\x1b[2J"+frame)
			} else if sig := signature(st, warm); sig != last {
				fmt.Fprint(w.out, frame+"\n")
				last = sig
			}
			if st.Outcome != "" {
				return report.FromStatus(id, runID, st), nil
			}
		}
		select {
		case <-ctx.Done():
			return report.Report{}, ctx.Err()
		case <-tick.C:
		}
	}
}

// warmup reads the Warmup activity's last heartbeat (activities.WarmupProgress) from the pending activities.
func (w watcher) warmup(ctx context.Context, id, runID string, st workflows.Status) *activities.WarmupProgress {
	if st.Step != workflows.StepWarmup {
		return nil
	}
	desc, err := w.tc.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return nil
	}
	for _, pa := range desc.GetPendingActivities() {
		if pa.GetActivityType().GetName() != "Warmup" || pa.GetHeartbeatDetails() == nil {
			continue
		}
		var p activities.WarmupProgress
		if err := w.dc.FromPayloads(pa.GetHeartbeatDetails(), &p); err == nil {
			return &p
		}
	}
	return nil
}

// stepOrder is what a failover (or failback) runs when all goes well; steps not reached yet show as pending.
func stepOrder(kind string) []workflows.Step {
	first := workflows.StepDetect
	if kind == workflows.KindFailback {
		first = workflows.StepHoldDown
	}
	return []workflows.Step{first, workflows.StepReadiness, workflows.StepApprove, workflows.StepCutover, workflows.StepReroute,
		workflows.StepWarmup, workflows.StepVerify}
}

// renderWatch draws one frame: header, one line per step with its duration, a warmup progress bar, and the
// decision the failover waits for. The running step's clock is now (the status only moves with workflow events);
// width bounds each line.
func renderWatch(st workflows.Status, warm *activities.WarmupProgress, now time.Time, width int) string {
	var b strings.Builder
	state := "step " + st.Step
	if st.Outcome != "" {
		state = "outcome " + st.Outcome
	}
	elapsed := report.Duration(max(0, now.Sub(st.FaultAt).Seconds())) + " since the fault"
	if st.Outcome != "" && st.Outcome != workflows.Succeeded {
		elapsed = "no RTO"
	} else if st.Outcome == workflows.Succeeded {
		elapsed = "RTO " + report.Duration(st.RTOSeconds)
	}
	b.WriteString(clip(fmt.Sprintf("%s %s: %s → %s   %s   %s", st.Kind, st.Service, st.From, st.To, state, elapsed), width) + "\n")
	seen := map[workflows.Step]bool{}
	for _, s := range st.Steps {
		seen[s.Name] = true
		mark, secs := "✔", s.Seconds()
		switch s.Result {
		case workflows.ResultFailed:
			mark = "✘"
		case workflows.ResultSkipped:
			mark = "–"
		case "":
			mark, secs = "▶", max(0, now.Sub(s.Started).Seconds())
		}
		detail := s.Detail
		if s.Result == "" && s.Name == workflows.StepWarmup {
			detail = progressBar(warm, 24)
		}
		b.WriteString(clip(fmt.Sprintf("  %s %-10s %9s  %s", mark, s.Name, report.Duration(secs), detail), width) + "\n")
	}
	if st.Outcome == "" {
		for _, name := range stepOrder(st.Kind) {
			if !seen[name] {
				fmt.Fprintf(&b, "  · %s\n", name)
			}
		}
	}
	if st.Paused {
		b.WriteString(clip(fmt.Sprintf("  PAUSED by %s: resume with starter resume %s", st.PausedBy, workflows.WorkflowID(st.Service)), width) + "\n")
	}
	if p := st.Pending; p != nil {
		b.WriteString(clip(fmt.Sprintf("  waiting for a decision (%d/%d): %s", p.Have, p.Needed, p.Question), width) + "\n")
		fmt.Fprintf(&b, "  approve: starter approve %s --as NAME\n", workflows.WorkflowID(st.Service))
	}
	if st.Outcome != "" && st.Reason != "" {
		b.WriteString(clip("  "+st.Reason, width) + "\n")
	}
	return b.String()
}

// progressBar renders warmup progress: [#########···············]  3/8 batches, 12 keys loaded, 62% were cached
func progressBar(p *activities.WarmupProgress, width int) string {
	if p == nil || p.Total == 0 {
		return "[" + strings.Repeat("·", width) + "]  starting"
	}
	done := min(width, width*p.Batches/p.Total)
	return fmt.Sprintf("[%s%s]  %d/%d batches, %d keys loaded, %.0f%% were cached", strings.Repeat("#", done), strings.Repeat("·", width-done),
		p.Batches, p.Total, p.Keys, 100*p.HitRatio)
}

// signature is what a frame shows apart from the clock, so a pipe gets a new frame only when a step, a decision
// or the warmup moved.
func signature(st workflows.Status, warm *activities.WarmupProgress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|", st.Step, st.Outcome, st.PausedBy)
	for _, s := range st.Steps {
		fmt.Fprintf(&b, "%s=%s;", s.Name, s.Result)
	}
	if p := st.Pending; p != nil {
		fmt.Fprintf(&b, "|%s %d/%d", p.Kind, p.Have, p.Needed)
	}
	if warm != nil {
		fmt.Fprintf(&b, "|%d", warm.Batches)
	}
	return b.String()
}

func clip(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	return string([]rune(s)[:width-1]) + "…"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
