package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"

	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/watcher"
	"github.com/failover/failover/workflows"
)

// drillStack is the local stack with the three watcher replicas and no Alertmanager webhook: only the watchers can
// start a failover, so a drill's outcome is theirs.
type drillStack struct {
	s    *stack.Stack
	door *loopbackDoor
	ws   *watchers
	plan plan.Plan
	// cancel stops the watchers: they run until the stack stops, not until the command ends.
	cancel context.CancelFunc
}

// startDrillStack starts the stack (with Prometheus: the demo plan's readiness queries it) and the watchers on
// the demo plan as variant (nil: as it is) and adjust leave it.
func startDrillStack(ctx context.Context, logger *slog.Logger, variant func(*plan.Plan), adjust func(w *plan.Watch)) (*drillStack, error) {
	door, err := startLoopbackDoor("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var s *stack.Stack
	if err := within(ctx, stackStartWait, "the local stack to start (Temporal, etcd, the Kong stand-in, the regions, Prometheus)",
		func(ctx context.Context) (err error) {
			s, err = stack.Start(ctx, stack.Options{NoUI: true, Prometheus: true, Logger: logger})
			return err
		}); err != nil {
		door.close()
		return nil, err
	}
	d := &drillStack{s: s, door: door, plan: s.Plan}
	ctx, d.cancel = context.WithCancel(ctx)
	if variant != nil {
		variant(&d.plan)
	}
	w := *d.plan.Watch
	if adjust != nil {
		adjust(&w)
	}
	d.plan.Watch = &w
	if err := d.plan.Validate(); err != nil {
		d.stop()
		return nil, err
	}
	token, err := randomToken()
	if err == nil {
		d.ws, err = openWatchedDoor(ctx, door, s, d.plan, token, logger)
	}
	if err == nil {
		err = waitForScrapes(ctx, s)
	}
	if err == nil {
		err = d.waitWatchers(ctx, "every region up, nothing flapping", func(h watcher.Health) bool {
			return !slices.ContainsFunc(h.Regions, func(r watcher.RegionStatus) bool { return r.Verdict != watcher.Up || r.Flapping })
		})
	}
	if err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

func (d *drillStack) stop() {
	d.cancel()
	stopWithin("drill's stack", d.s.Stop)
	d.door.close()
}

// verdicts is every watcher's state, for a run that waited in vain.
func (d *drillStack) verdicts() string {
	var out []string
	for _, w := range d.ws.list {
		out = append(out, w.Health().String())
	}
	return strings.Join(out, "; ")
}

// waitWatchers polls until every watcher's health meets cond.
func (d *drillStack) waitWatchers(ctx context.Context, what string, cond func(watcher.Health) bool) error {
	return poll(ctx, 2*d.plan.Watch.FlapWindow+30*time.Second, what, func() bool {
		return !slices.ContainsFunc(d.ws.list, func(w *watcher.Watcher) bool { return !cond(w.Health()) })
	})
}

func poll(ctx context.Context, within time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", within, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// failoverRuns says whether any failover of the demo service has started.
func (d *drillStack) failoverStarted(ctx context.Context) (bool, error) {
	_, err := d.s.TemporalClient.DescribeWorkflow(ctx, workflows.WorkflowID(d.plan.Service), "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return false, nil
	}
	return err == nil, err
}

// probesOf counts watcher i's probe results on a region.
func (d *drillStack) probesOf(i int, r string) float64 {
	m := d.ws.metrics[i]
	return testutil.ToFloat64(m.Probes.WithLabelValues(d.plan.Service, r, "healthy")) +
		testutil.ToFloat64(m.Probes.WithLabelValues(d.plan.Service, r, "failed"))
}

// partitionResult is what the partition drill saw.
type partitionResult struct {
	// DisagreedAfterSeconds is fault → the cut-off watcher's "observer disagrees".
	DisagreedAfterSeconds float64          `json:"disagreed_after_seconds"`
	HeldSeconds           float64          `json:"held_seconds"`
	FailoverStarted       bool             `json:"failover_started"`
	Verdicts              []watcher.Health `json:"verdicts"`
}

// partitionDrill cuts the first watcher off from us-east (the region drops only its probes) for hold after it
// disagreed, then heals the cut. Nothing may start.
func (d *drillStack) partitionDrill(ctx context.Context, hold time.Duration) (partitionResult, error) {
	var res partitionResult
	us := d.s.Regions["us-east"]
	cutAt := time.Now()
	if err := region.InjectFault(us.URL(), fmt.Sprintf(`{"drop_observer":%q}`, WatcherReplicas[0])); err != nil {
		return res, err
	}
	disagreements := d.ws.metrics[0].Disagreements.WithLabelValues(d.plan.Service, "us-east")
	if err := poll(ctx, 30*time.Second, "observer disagrees", func() bool { return testutil.ToFloat64(disagreements) >= 1 }); err != nil {
		return res, err
	}
	res.DisagreedAfterSeconds = time.Since(cutAt).Seconds()
	heldFrom := time.Now()
	probes := d.probesOf(0, "us-east")
	need := probes + float64(hold/d.plan.Watch.Interval)
	if err := poll(ctx, hold+30*time.Second, "the hold", func() bool { return d.probesOf(0, "us-east") >= need }); err != nil {
		return res, err
	}
	res.HeldSeconds = time.Since(heldFrom).Seconds()
	for _, w := range d.ws.list {
		res.Verdicts = append(res.Verdicts, w.Health())
	}
	started, err := d.failoverStarted(ctx)
	res.FailoverStarted = started
	if err != nil {
		return res, err
	}
	if err := region.InjectFault(us.URL(), `{"drop_observer":""}`); err != nil {
		return res, err
	}
	return res, d.waitWatchers(ctx, "us-east up again", func(h watcher.Health) bool {
		return !slices.ContainsFunc(h.Regions, func(r watcher.RegionStatus) bool { return r.Verdict != watcher.Up })
	})
}

// flapResult is what the flap drill saw.
type flapResult struct {
	Outages         int  `json:"outages"`
	Flapping        bool `json:"flapping_reported"`
	FailoverStarted bool `json:"failover_started"`
	// DownOutages counts the outages a watcher held us-east down for: once the region is flapping nothing starts
	// anyway, so this, not FailoverStarted, says whether every blip stayed within the tolerance.
	DownOutages int `json:"down_outages"`
	// LongestOutageSeconds bounds the longest outage from above: from sending the fault to the answer that ended it.
	LongestOutageSeconds float64 `json:"longest_outage_seconds"`
}

// flapDrill fails us-east for outage every period, for total; nothing may start, and the watchers report it
// flapping. It then waits until every outage has aged out of the flap window, so a later drill starts clean.
func (d *drillStack) flapDrill(ctx context.Context, outage, period, total time.Duration) (flapResult, error) {
	var res flapResult
	us := d.s.Regions["us-east"]
	flapping := func() bool {
		return slices.ContainsFunc(d.ws.list, func(w *watcher.Watcher) bool {
			return slices.ContainsFunc(w.Health().Regions, func(r watcher.RegionStatus) bool { return r.Flapping })
		})
	}
	down := func() bool {
		return slices.ContainsFunc(d.ws.list, func(w *watcher.Watcher) bool {
			return slices.ContainsFunc(w.Health().Regions, func(r watcher.RegionStatus) bool {
				return r.Region == "us-east" && r.Verdict == watcher.Down
			})
		})
	}
	for start := time.Now(); time.Since(start) < total; res.Outages++ {
		next := start.Add(time.Duration(res.Outages+1) * period)
		began := time.Now()
		if err := region.InjectFault(us.URL(), `{"status":503}`); err != nil {
			return res, err
		}
		sawDown, err := watchWhile(ctx, time.Now().Add(outage), down) // the drill's fault shape
		if err != nil {
			return res, err
		}
		if err := region.InjectFault(us.URL(), `{"status":0}`); err != nil {
			return res, err
		}
		res.LongestOutageSeconds = max(res.LongestOutageSeconds, time.Since(began).Seconds())
		res.Flapping = res.Flapping || flapping()
		downAfter, err := watchWhile(ctx, next, down) // a down verdict outlasts the outage by watch.recoveries probes
		if err != nil {
			return res, err
		}
		if sawDown || downAfter {
			res.DownOutages++
		}
		res.Flapping = res.Flapping || flapping()
	}
	started, err := d.failoverStarted(ctx)
	res.FailoverStarted = started
	if err != nil {
		return res, err
	}
	return res, d.waitWatchers(ctx, "the outages to age out", func(h watcher.Health) bool {
		return !slices.ContainsFunc(h.Regions, func(r watcher.RegionStatus) bool { return r.RecentOutages > 0 || r.Verdict != watcher.Up })
	})
}

// watchWhile waits until `until`, checking cond every 20 ms; it reports whether cond ever held.
func watchWhile(ctx context.Context, until time.Time, cond func() bool) (bool, error) {
	held := false
	for {
		held = held || cond()
		left := time.Until(until)
		if left <= 0 {
			return held, nil
		}
		if err := sleepCtx(ctx, min(left, 20*time.Millisecond)); err != nil {
			return held, err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// faultResult is one real outage and its failover, timed from the fault.
type faultResult struct {
	Outcome         string  `json:"outcome"`
	TriggerSource   string  `json:"trigger_source"`
	StartedSeconds  float64 `json:"started_seconds"`
	RestoredSeconds float64 `json:"restored_seconds"`
	VerifiedSeconds float64 `json:"verified_seconds"`
	// WatcherAlerts counts the watcher replicas whose request reached the one run (each has its own fingerprint).
	WatcherAlerts int `json:"watcher_alerts"`
	// Disagreements counts "observer disagrees" events during the outage: none when every watcher sees it.
	Disagreements int `json:"disagreements"`
	// Steps is where the time went: each step's seconds, in the order the run took them.
	Steps []stepTime `json:"steps"`
}

// stepTime is one step of the failover and how long it took.
type stepTime struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

func stepTimes(steps []workflows.StepRecord) []stepTime {
	var out []stepTime
	for _, s := range steps {
		out = append(out, stepTime{Name: s.Name, Seconds: s.Seconds()})
	}
	return out
}

func (r faultResult) stepsString() string {
	var parts []string
	for _, s := range r.Steps {
		parts = append(parts, fmt.Sprintf("%s %.2f", s.Name, s.Seconds))
	}
	return strings.Join(parts, ", ")
}

// faultDrill breaks us-east (every request 503) and times the watchers' failover.
func (d *drillStack) faultDrill(ctx context.Context) (faultResult, error) {
	var res faultResult
	traffic := startTraffic(ctx, d.s.Kong.ProxyURL()+"/payments/items/", 10*time.Millisecond)
	faultAt := time.Now()
	if err := injectFault(ctx, d.s.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		return res, err
	}
	run, err := awaitFailover(ctx, d.s, workflows.WorkflowID(d.plan.Service), alertWait, d.verdicts)
	if err != nil {
		return res, err
	}
	var out workflows.Result
	if err := awaitEnd(ctx, d.s, run, failoverEndWait, &out); err != nil {
		return res, err
	}
	restored, _ := traffic.stop(faultAt, "eu-west")
	st, err := demoStatus(ctx, d.s, run)
	if err != nil {
		return res, err
	}
	res.Outcome, res.TriggerSource = out.Outcome, st.Trigger.Source
	res.StartedSeconds, res.RestoredSeconds = st.StartedAt.Sub(faultAt).Seconds(), restored.Seconds()
	res.Steps = stepTimes(out.Steps)
	if n := len(out.Steps); n > 0 && out.Outcome == workflows.Succeeded {
		res.VerifiedSeconds = out.Steps[n-1].Ended.Sub(faultAt).Seconds()
	}
	for _, a := range st.Alerts {
		if a.Alertname == watcher.AlertName {
			res.WatcherAlerts++
		}
	}
	for _, m := range d.ws.metrics {
		res.Disagreements += int(testutil.ToFloat64(m.Disagreements.WithLabelValues(d.plan.Service, "us-east")))
	}
	return res, nil
}

// drillReport is `devstack watchdrill`'s last line: the figures in README.md.
type drillReport struct {
	Runs      []faultResult      `json:"runs"`
	P50       map[string]float64 `json:"p50_seconds"`
	Baseline  []demoReport       `json:"baseline_alert_path,omitempty"`
	BaseP50   map[string]float64 `json:"baseline_p50_seconds,omitempty"`
	Partition *partitionResult   `json:"partition,omitempty"`
	Flap      *flapResult        `json:"flap,omitempty"`
	// Plan is the --plan variant; LoadAverage is /proc/loadavg at the end (other work on the machine skews it all).
	Plan        string `json:"plan"`
	LoadAverage string `json:"load_average"`
}

// loadAverage is the first three fields of /proc/loadavg, or why not.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return err.Error()
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return string(b)
	}
	return strings.Join(f[:3], " ")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// partitionAndFlap runs the partition drill, then the flap drill, on a stack of their own.
func partitionAndFlap(ctx context.Context, logger *slog.Logger, rep *drillReport, variant func(*plan.Plan), hold, outage, period, total time.Duration) error {
	d, err := startDrillStack(ctx, logger, variant, nil)
	if err != nil {
		return err
	}
	defer d.stop()
	p, err := d.partitionDrill(ctx, hold)
	if err != nil {
		return fmt.Errorf("partition drill: %w", err)
	}
	rep.Partition = &p
	fmt.Printf("partition drill: observer %s disagreed %.2fs after the cut, held %.1fs, failover started: %t\n",
		WatcherReplicas[0], p.DisagreedAfterSeconds, p.HeldSeconds, p.FailoverStarted)
	f, err := d.flapDrill(ctx, outage, period, total)
	if err != nil {
		return fmt.Errorf("flap drill: %w", err)
	}
	rep.Flap = &f
	fmt.Printf("flap drill: %d outages of %s every %s (longest at most %.3fs), flapping reported: %t, failover started: %t, "+
		"outages a watcher held down: %d\n", f.Outages, outage, period, f.LongestOutageSeconds, f.Flapping, f.FailoverStarted, f.DownOutages)
	return nil
}

func watchDrillCmd() *cobra.Command {
	var runs, baseline int
	var planName string
	var drills bool
	var hold, outage, period, total time.Duration
	cmd := &cobra.Command{
		Use:   "watchdrill",
		Short: "Measure the region watcher: fault → failover started / traffic restored / verified (p50 over --runs), a partition drill and a flap drill",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
			rep := drillReport{P50: map[string]float64{}}
			var started, restored, verified []float64
			variant, ok := planVariants[planName]
			if !ok {
				return fmt.Errorf("--plan %q: use fast or demo", planName)
			}
			rep.Plan = planName
			fmt.Printf("load average at the start: %s\n", loadAverage())
			if drills {
				if err := partitionAndFlap(ctx, quiet, &rep, variant, hold, outage, period, total); err != nil {
					return err
				}
			}
			for i := 0; i < runs; i++ {
				d, err := startDrillStack(ctx, quiet, variant, nil)
				if err != nil {
					return err
				}
				r, err := d.faultDrill(ctx)
				d.stop()
				if err != nil {
					return fmt.Errorf("run %d: %w", i+1, err)
				}
				rep.Runs = append(rep.Runs, r)
				started, restored, verified = append(started, r.StartedSeconds), append(restored, r.RestoredSeconds), append(verified, r.VerifiedSeconds)
				fmt.Printf("run %d: %s by %s (%d watcher requests, one run): started %.2fs, restored %.2fs, verified %.2fs; steps: %s\n",
					i+1, r.Outcome, r.TriggerSource, r.WatcherAlerts, r.StartedSeconds, r.RestoredSeconds, r.VerifiedSeconds, r.stepsString())
			}
			rep.P50["started"], rep.P50["restored"], rep.P50["verified"] = median(started), median(restored), median(verified)
			var bStarted, bRestored, bVerified []float64
			for i := 0; i < baseline; i++ {
				b, err := runDemo(ctx, demoOptions{approve: "auto", adjust: variant})
				if err != nil {
					return fmt.Errorf("baseline run %d: %w", i+1, err)
				}
				rep.Baseline = append(rep.Baseline, *b)
				bStarted, bRestored, bVerified = append(bStarted, b.StartedSeconds), append(bRestored, b.TrafficRestoredSeconds), append(bVerified, b.RTOSeconds)
			}
			fmt.Printf("\nwatcher, p50 of %d runs: fault → failover started %.2fs, traffic restored %.2fs, verified %.2fs\n",
				runs, rep.P50["started"], rep.P50["restored"], rep.P50["verified"])
			if baseline > 0 {
				rep.BaseP50 = map[string]float64{"started": median(bStarted), "restored": median(bRestored), "verified": median(bVerified)}
				fmt.Printf("alert path (baseline, same run), p50 of %d runs: started %.2fs, restored %.2fs, verified %.2fs; watcher/alerts: %.2f, %.2f, %.2f\n",
					baseline, rep.BaseP50["started"], rep.BaseP50["restored"], rep.BaseP50["verified"],
					rep.P50["started"]/rep.BaseP50["started"], rep.P50["restored"]/rep.BaseP50["restored"], rep.P50["verified"]/rep.BaseP50["verified"])
			}
			rep.LoadAverage = loadAverage()
			fmt.Printf("load average at the end: %s\n", rep.LoadAverage)
			b, _ := json.Marshal(rep)
			fmt.Println(string(b))
			return nil
		},
	}
	cmd.Flags().StringVar(&planName, "plan", "fast", "the demo plan as it is (demo), or with the fast path's settings (fast, testsuite/devstack/fastpath.go), for the watcher runs and the baseline alike")
	cmd.Flags().IntVar(&runs, "runs", 5, "fault runs (each on a fresh stack)")
	cmd.Flags().BoolVar(&drills, "drills", true, "run the partition and flap drills first (--drills=false: only the timed outages)")
	cmd.Flags().IntVar(&baseline, "baseline", 0, "also run the alert-path demo this many times, as the baseline")
	cmd.Flags().DurationVar(&hold, "partition-hold", 10*time.Second, "how long the cut-off watcher is held after it disagreed")
	cmd.Flags().DurationVar(&outage, "flap-outage", time.Second, "flap drill: length of each outage")
	cmd.Flags().DurationVar(&period, "flap-period", 10*time.Second, "flap drill: one outage every period")
	cmd.Flags().DurationVar(&total, "flap-for", time.Minute, "flap drill: how long it flaps")
	return cmd
}
