// Package watcher is the front door's region watcher: it probes every region of the plans with a `watch:` section
// directly (HTTP and gRPC health, sub-second intervals), turns the results into a verdict per region with
// hysteresis (state.go), and when a region is down, not flapping, and the quorum agrees (quorum.go: other
// watchers' verdicts in etcd under leases, board.go, and/or a Prometheus query), starts the service's failover
// away from it through the same Signal-With-Start path as Alertmanager's alerts (alerts.Handler.Fire), so it is
// deduplicated with the alerts and with the other front doors by Temporal itself. When every watched service of a
// region is down and confirmed, it also hands the region-wide failure to its Evacuator (evacuate.go), which starts
// the region's evacuation the same way; in a region with an evacuation, each service's own start is held for a
// settle window first (settle.go), so a region-wide failure is the evacuation's alone. A watcher that cannot reach
// etcd, or whose probes of most regions fail at once, is the one cut off: it declares itself partitioned and
// starts nothing.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/alerts"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/probe"
	"github.com/failover/failover/workflows"
)

// Firer delivers the watcher's verdicts as alerts; *alerts.Handler is one.
type Firer interface {
	Fire(ctx context.Context, t alerts.Target, sig workflows.Alert, trigger workflows.Trigger) (alerts.Result, error)
	Resolve(ctx context.Context, t alerts.Target, sig workflows.Alert) (alerts.Result, error)
}

// AlertName is the alertname of the watcher's verdicts, as failovers record them.
const AlertName = "WatcherRegionDown"

// Options configure a Watcher.
type Options struct {
	// Observer names this watcher (on the etcd board, in the trigger and in probes); unique per replica.
	Observer string
	// Plans are the plans the front door routes; those with a watch section are watched.
	Plans []plan.Plan
	Firer Firer
	// Board records verdicts in etcd for the other watchers; required when a plan's quorum names observers.
	Board *Board
	// Queries runs quorum queries; default a plain *activities.Activities.
	Queries QueryEvaluator
	// Prober probes the regions; default one with Observer set.
	Prober *probe.Prober
	// Evacuator is told about region-wide failures; default LogEvacuator.
	Evacuator Evacuator
	Metrics   *Metrics
	Logger    *slog.Logger
	// Standby names where a down region's failover goes; *alerts.Router is one (the routes' targets). Default:
	// the plan's other region, which only two-region plans have.
	Standby Standby
	// Settle is how long, in a region the Evacuator evacuates, a service's confirmed down verdict waits for the
	// rest of the region before its own failover starts (settle.go): 0 takes half the longest detection time of
	// the region's plans (failures × interval), at least two intervals; negative holds nothing.
	Settle time.Duration
}

// Standby names the region a failover of p's service away from the down region goes to; ok false: none does.
type Standby interface {
	Standby(p plan.Plan, down string) (to string, ok bool, err error)
}

// OtherRegion is the Standby of two-region plans: the plan's other region.
type OtherRegion struct{}

// Standby is p's other region; a plan with more regions needs the routes to name it.
func (OtherRegion) Standby(p plan.Plan, down string) (string, bool, error) {
	if n := len(p.Regions); n != 2 {
		return "", false, fmt.Errorf("plan %s has %d regions: which one a failover away from %s goes to is the routes' to: "+
			"give the watcher the routes (Options.Standby)", p.Service, n, down)
	}
	to, err := p.OtherRegion(down)
	return to, err == nil, err
}

// target is one watched region of one plan, and where its failover goes ("" when no route names a standby for
// it: watched, never failed over).
type target struct {
	plan      plan.Plan
	region    string
	to        string
	probe     probe.Target
	alertKey  string
	startedBy string
}

func (t target) alertsTarget() alerts.Target {
	return alerts.Target{Plan: t.plan, From: t.region, To: t.to}
}

// watched is a target and what the watcher knows and did about it.
type watched struct {
	target
	st *regionState
	// busy while a quorum check, start or resolve runs for it; fired once this outage was delivered; confirmed
	// once the quorum agreed on it (quorumDetail says how), which a region-wide failure needs of every service.
	busy, fired, disagreed, heldBack, confirmed bool
	lastDetail, quorumDetail                    string
	// heldSince is when a held region's service was confirmed down (settle.go); its start waits from then.
	heldSince time.Time
	// downSince and changed are copies of st's for the goroutines launch starts (st belongs to the loop).
	downSince, changed time.Time
}

// Watcher watches regions; Run it.
type Watcher struct {
	o       Options
	regions []*watched

	mu          sync.Mutex
	partitioned string // why, or "" when not
	snapshot    []RegionStatus
	// evacuating, settle and evacSettled belong to the loop: the regions whose evacuation was requested, the
	// settle window of each region whose starts are held (settle.go), and the evacuator's "done".
	evacuating  map[string]*regionEvacuation
	settle      map[string]time.Duration
	evacSettled chan *regionEvacuation
}

// New checks the options: every watched region has at most one standby (Options.Standby), and a plan whose
// quorum counts observers needs a Board.
func New(o Options) (*Watcher, error) {
	if o.Firer == nil {
		return nil, errors.New("watcher: Options.Firer is nil")
	}
	if o.Observer == "" {
		return nil, errors.New("watcher: empty Options.Observer: give each watcher its own name (--watcher-id)")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Queries == nil {
		o.Queries = &activities.Activities{Logger: o.Logger}
	}
	if o.Prober == nil {
		o.Prober = &probe.Prober{Observer: o.Observer}
	}
	if o.Evacuator == nil {
		o.Evacuator = LogEvacuator{Logger: o.Logger}
	}
	if o.Standby == nil {
		o.Standby = OtherRegion{}
	}
	w := &Watcher{o: o, evacuating: map[string]*regionEvacuation{}, evacSettled: make(chan *regionEvacuation)}
	var errs []error
	now := time.Now()
	for _, p := range o.Plans {
		if p.Watch == nil {
			continue
		}
		if p.Watch.Quorum.Observers >= 2 && o.Board == nil {
			errs = append(errs, fmt.Errorf("plan %s: watch.quorum.observers is %d: the watcher needs etcd to read the other watchers (set the etcd endpoints)",
				p.Service, p.Watch.Quorum.Observers))
		}
		for _, r := range p.RegionNames() {
			to, ok, err := o.Standby.Standby(p, r)
			if err != nil {
				errs = append(errs, fmt.Errorf("plan %s: where a failover away from %s goes: %w", p.Service, r, err))
				continue
			}
			if !ok {
				o.Logger.Info("watcher: no route names a region to fail over to: watched (verdicts, region-wide failures), never failed over",
					"service", p.Service, "region", r)
			}
			t := target{plan: p, region: r, to: to, probe: probe.TargetOf(p.Regions[r]),
				alertKey: fmt.Sprintf("watcher/%s/%s/%s", o.Observer, p.Service, r), startedBy: "watcher " + o.Observer}
			w.regions = append(w.regions, &watched{target: t, st: newRegionState(*p.Watch, now)})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	w.settle = settleWindows(w.regions, o.Evacuator, o.Settle)
	for region, d := range w.settle {
		o.Logger.Info("watcher: the region has an evacuation: each service's own failover waits for the rest of the region",
			"region", region, "settle", d)
	}
	w.publish()
	return w, nil
}

// Watching reports whether any plan is watched.
func (w *Watcher) Watching() bool { return len(w.regions) > 0 }

type probeResult struct {
	i   int
	res probe.Result
	// sent is when the probe went out: the verdict is judged by send times (state.go), which a slow answer or a
	// busy loop does not move.
	sent time.Time
}

type outcome struct {
	i    int
	done func(*watched)
}

// Run probes and acts until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	defer w.o.Prober.Close()
	if w.o.Board != nil {
		go w.o.Board.Run(ctx)
	}
	results := make(chan probeResult, len(w.regions))
	outcomes := make(chan outcome, len(w.regions))
	for i := range w.regions {
		go w.probeLoop(ctx, i, results)
	}
	w.o.Logger.Info("watcher: watching", "observer", w.o.Observer, "regions", len(w.regions))
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-results:
			w.onProbe(ctx, r, outcomes)
		case o := <-outcomes:
			rw := w.regions[o.i]
			rw.busy = false
			o.done(rw)
		case ev := <-w.evacSettled:
			ev.settled = true
		}
	}
}

// probeLoop probes region i every interval, one probe at a time: a probe that overruns its tick (a timeout longer
// than the interval, or a loaded machine) delays the next send, which then goes out at once on the pending tick.
// Each result carries its send time, which is what the verdict is judged by.
func (w *Watcher) probeLoop(ctx context.Context, i int, results chan<- probeResult) {
	rw := w.regions[i]
	wt := rw.plan.Watch
	tick := time.NewTicker(wt.Interval)
	defer tick.Stop()
	for {
		sent := time.Now()
		res := w.o.Prober.Check(ctx, rw.probe, wt.Timeout)
		select {
		case <-ctx.Done():
			return
		case results <- probeResult{i: i, res: res, sent: sent}:
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// boardTimeout bounds one etcd call of the watcher loop.
const boardTimeout = time.Second

func (w *Watcher) onProbe(ctx context.Context, r probeResult, outcomes chan<- outcome) {
	rw := w.regions[r.i]
	m := w.o.Metrics
	result := "healthy"
	if !r.res.Healthy {
		result = "failed"
	}
	m.Probes.WithLabelValues(rw.plan.Service, rw.region, result).Inc()
	rw.lastDetail = r.res.Detail
	before := rw.st.verdict
	if rw.st.observe(r.res.Healthy, r.sent) {
		w.verdictChanged(ctx, rw, before)
	}
	w.checkPartition()
	w.checkEvacuation(ctx)
	w.publish()
	if rw.busy {
		return
	}
	held := w.held(rw)
	switch {
	case rw.st.verdict == Up && rw.fired:
		rw.fired, rw.disagreed, rw.heldBack, rw.confirmed, rw.heldSince = false, false, false, false, time.Time{}
		w.launch(ctx, r.i, outcomes, w.resolve)
	case rw.st.verdict == Up:
		rw.disagreed, rw.heldBack, rw.confirmed, rw.heldSince = false, false, false, time.Time{}
	case rw.st.shouldFailOver() && !rw.fired && (rw.to != "" || held && !rw.confirmed):
		if why := w.partitionReason(); why != "" {
			if !rw.heldBack {
				rw.heldBack = true
				w.o.Logger.Warn("watcher: region down, but this watcher is partitioned: starting nothing",
					"service", rw.plan.Service, "region", rw.region, "reason", why)
			}
			return
		}
		switch {
		case !held:
			w.launch(ctx, r.i, outcomes, w.failOver)
		case !rw.confirmed:
			w.launch(ctx, r.i, outcomes, w.confirm)
		case w.release(rw, time.Now()):
			w.launch(ctx, r.i, outcomes, w.failOver)
		}
	}
}

func (w *Watcher) verdictChanged(ctx context.Context, rw *watched, before Verdict) {
	st := rw.st
	m := w.o.Metrics
	for _, v := range Verdicts {
		val := 0.0
		if v == st.verdict {
			val = 1
		}
		m.Verdict.WithLabelValues(rw.plan.Service, rw.region, string(v)).Set(val)
	}
	flap := 0.0
	if st.flapping {
		flap = 1
	}
	m.Flapping.WithLabelValues(rw.plan.Service, rw.region).Set(flap)
	m.LastChange.WithLabelValues(rw.plan.Service, rw.region).Set(float64(st.changed.UnixNano()) / 1e9)
	level := slog.LevelInfo
	if st.verdict == Down || st.flapping {
		level = slog.LevelWarn
	}
	w.o.Logger.Log(ctx, level, "watcher: verdict", "service", rw.plan.Service, "region", rw.region, "verdict", st.verdict,
		"was", before, "flapping", st.flapping, "since", st.changed, "probe", rw.lastDetail)
	if w.o.Board != nil && st.verdict != before {
		bctx, cancel := context.WithTimeout(ctx, boardTimeout)
		err := w.o.Board.Put(bctx, rw.plan.Service, rw.region, Record{Verdict: st.verdict, Since: st.changed, At: time.Now()})
		cancel()
		if err != nil {
			w.o.Logger.Warn("watcher: could not record the verdict in etcd", "service", rw.plan.Service, "region", rw.region, "err", err)
		}
	}
}

// launch runs act for region i off the loop (it calls etcd, Prometheus and Temporal); its outcome comes back to
// the loop.
func (w *Watcher) launch(ctx context.Context, i int, outcomes chan<- outcome, act func(context.Context, *watched) func(*watched)) {
	rw := w.regions[i]
	rw.busy = true
	snapshot := *rw
	snapshot.st, snapshot.downSince, snapshot.changed = nil, rw.st.downSince, rw.st.changed
	go func() {
		done := act(ctx, &snapshot)
		select {
		case outcomes <- outcome{i: i, done: done}:
		case <-ctx.Done():
		}
	}()
}

// failOver asks the quorum and, when it agrees, starts (or joins) the failover away from the region.
func (w *Watcher) failOver(ctx context.Context, rw *watched) func(*watched) {
	qctx, cancel := context.WithTimeout(ctx, boardTimeout+rw.plan.Watch.Window)
	ag := w.agree(qctx, rw.target)
	cancel()
	svc, region := rw.plan.Service, rw.region
	if !ag.agree {
		return w.disagreement(rw, ag)
	}
	now := time.Now()
	quorum := strings.Join(ag.evidence, "; ")
	evidence := strings.Join(append([]string{rw.lastDetail}, ag.evidence...), "; ")
	sig := w.verdictAlert(rw, rw.downSince, evidence, now)
	trigger := workflows.Trigger{Source: workflows.TriggerWatcher, By: rw.startedBy, Alert: AlertName, FaultAt: rw.downSince,
		Quorum: truncate(quorum, 1000)}
	res, err := w.o.Firer.Fire(ctx, rw.alertsTarget(), sig, trigger)
	return func(rw *watched) {
		rw.confirmed, rw.quorumDetail = true, quorum
		if err != nil {
			w.o.Metrics.Starts.WithLabelValues(svc, region, "error").Inc()
			w.o.Logger.Error("watcher: Temporal did not take the failover; trying again", "service", svc, "region", region, "err", err)
			return
		}
		rw.fired = true
		w.o.Metrics.Starts.WithLabelValues(svc, region, res.Action).Inc()
		msg := "watcher: region down and confirmed: failover requested"
		if res.Action == alerts.ActionCovered {
			msg = "watcher: region down and confirmed: covered by the region's evacuation, nothing started separately"
		}
		w.o.Logger.Warn(msg, "service", svc, "region", region, "to", rw.to,
			"action", res.Action, "workflow", res.WorkflowID, "run", res.RunID, "reason", res.Reason, "evidence", evidence,
			"down_for", now.Sub(rw.downSince).Round(time.Millisecond))
	}
}

// disagreement is the outcome of a quorum that does not confirm rw's down verdict.
func (w *Watcher) disagreement(rw *watched, ag agreement) func(*watched) {
	svc, region := rw.plan.Service, rw.region
	return func(rw *watched) {
		// The other watchers reach the same verdict a few probes apart: only a disagreement that outlasts that
		// skew (one more run of failures) is one. Until then the quorum is asked again at every probe.
		if rw.disagreed || time.Since(rw.st.changed) < disagreeAfter(*rw.plan.Watch) {
			return
		}
		rw.disagreed = true
		w.o.Metrics.Disagreements.WithLabelValues(svc, region).Inc()
		w.o.Logger.Warn("watcher: observer disagrees: this watcher sees the region down, the quorum does not confirm it; starting nothing",
			"service", svc, "region", region, "observer", w.o.Observer, "evidence", ag.evidence, "probe", rw.lastDetail)
	}
}

// verdictAlert is a confirmed down verdict on one service's region as the watcher delivers it: to that service's
// failover, and as evidence to the region's evacuation.
func (w *Watcher) verdictAlert(rw *watched, downSince time.Time, evidence string, now time.Time) workflows.Alert {
	return workflows.Alert{Status: alerts.Firing, Alertname: AlertName, Fingerprint: rw.alertKey, GroupKey: "watcher/" + w.o.Observer,
		Labels: map[string]string{"alertname": AlertName, workflows.RegionLabel: rw.region, "service": rw.plan.Service,
			"observer": w.o.Observer, "evidence": truncate(evidence, 1000)},
		StartsAt: downSince, ReceivedAt: now}
}

// disagreeAfter is how long after its own down verdict a watcher waits for the quorum before it reports that the
// observers disagree: the time the others need for the same run of failures.
func disagreeAfter(w plan.Watch) time.Duration { return time.Duration(w.Failures) * w.Interval }

// resolve tells the failover the region is up again (before its cutover, a run the watcher started then ends
// source-recovered).
func (w *Watcher) resolve(ctx context.Context, rw *watched) func(*watched) {
	sig := workflows.Alert{Status: alerts.Resolved, Alertname: AlertName, Fingerprint: rw.alertKey, GroupKey: "watcher/" + w.o.Observer,
		Labels:   map[string]string{"alertname": AlertName, workflows.RegionLabel: rw.region, "service": rw.plan.Service, "observer": w.o.Observer},
		StartsAt: rw.downSince, EndsAt: rw.changed, ReceivedAt: time.Now()}
	res, err := w.o.Firer.Resolve(ctx, rw.alertsTarget(), sig)
	return func(*watched) {
		w.o.Logger.Info("watcher: region up again", "service", rw.plan.Service, "region", rw.region, "action", res.Action,
			"reason", res.Reason, "err", err)
	}
}

// checkPartition: a watcher that cannot reach etcd (when it has a board), or whose last probes of most regions
// failed, is more likely cut off than looking at that many outages.
func (w *Watcher) checkPartition() {
	why := ""
	if w.o.Board != nil {
		if err := w.o.Board.Reachable(); err != nil {
			why = err.Error()
		}
	}
	failing, total := 0, 0
	for _, rw := range w.regions {
		total++
		if rw.st.failing() {
			failing++
		}
	}
	if why == "" && total >= 2 && 2*failing > total {
		why = fmt.Sprintf("probes of %d of %d regions fail at once", failing, total)
	}
	w.mu.Lock()
	was := w.partitioned
	w.partitioned = why
	w.mu.Unlock()
	switch {
	case why != "" && was == "":
		w.o.Metrics.Partitioned.Set(1)
		w.o.Logger.Warn("watcher: partitioned: this watcher is cut off and starts nothing", "observer", w.o.Observer, "reason", why)
	case why == "" && was != "":
		w.o.Metrics.Partitioned.Set(0)
		w.o.Logger.Info("watcher: no longer partitioned", "observer", w.o.Observer)
	}
}

func (w *Watcher) partitionReason() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.partitioned
}

// checkEvacuation hands a region-wide failure to the Evacuator once, until one of its services is up again: every
// watched service of a region (at least two) down, and each down verdict confirmed by its plan's quorum, while this
// watcher is not partitioned.
func (w *Watcher) checkEvacuation(ctx context.Context) {
	byRegion := map[string][]*watched{}
	for _, rw := range w.regions {
		byRegion[rw.region] = append(byRegion[rw.region], rw)
	}
	for region, rws := range byRegion {
		allDown := len(rws) >= 2 && !slices.ContainsFunc(rws, func(rw *watched) bool { return rw.st.verdict != Down })
		confirmed := !slices.ContainsFunc(rws, func(rw *watched) bool { return !rw.confirmed })
		switch {
		case allDown && confirmed && w.evacuating[region] == nil && w.partitionReason() == "":
			ev := &regionEvacuation{}
			w.evacuating[region] = ev
			w.o.Metrics.Evacuations.WithLabelValues(region).Inc()
			w.o.Evacuator.Evacuate(ctx, w.regionDown(region, rws), w.settled(ctx, ev))
		case !allDown:
			delete(w.evacuating, region)
		}
	}
}

// regionDown describes a confirmed region-wide failure: the services, when the first went down, and each one's
// verdict with its probe detail and the quorum's verdicts.
func (w *Watcher) regionDown(region string, rws []*watched) RegionDown {
	now := time.Now()
	d := RegionDown{Region: region, Observer: w.o.Observer}
	for _, rw := range rws {
		d.Services = append(d.Services, rw.plan.Service)
		if d.Since.IsZero() || rw.st.downSince.Before(d.Since) {
			d.Since = rw.st.downSince
		}
		evidence := strings.Join([]string{rw.lastDetail, rw.quorumDetail}, "; ")
		d.Evidence = append(d.Evidence, w.verdictAlert(rw, rw.st.downSince, evidence, now))
	}
	slices.Sort(d.Services)
	slices.SortFunc(d.Evidence, func(a, b workflows.Alert) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
	return d
}

// RegionStatus is one watched region as /healthz shows it.
type RegionStatus struct {
	Service  string  `json:"service"`
	Region   string  `json:"region"`
	Verdict  Verdict `json:"verdict"`
	Flapping bool    `json:"flapping"`
	// RecentOutages counts the outages (runs of failed probes) that began within watch.flapWindow.
	RecentOutages int       `json:"recent_outages"`
	Since         time.Time `json:"since"`
}

// Health is the watcher's own state: partitioned (and why) and every region's verdict.
type Health struct {
	Observer    string         `json:"observer"`
	Partitioned string         `json:"partitioned,omitempty"`
	Regions     []RegionStatus `json:"regions"`
}

func (w *Watcher) publish() {
	snap := make([]RegionStatus, 0, len(w.regions))
	for _, rw := range w.regions {
		snap = append(snap, RegionStatus{Service: rw.plan.Service, Region: rw.region, Verdict: rw.st.verdict,
			Flapping: rw.st.flapping, RecentOutages: len(rw.st.outages), Since: rw.st.changed})
	}
	w.mu.Lock()
	w.snapshot = snap
	w.mu.Unlock()
}

// Health reports the watcher's state; safe to call from any goroutine.
func (w *Watcher) Health() Health {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Health{Observer: w.o.Observer, Partitioned: w.partitioned, Regions: slices.Clone(w.snapshot)}
}

// String is the one-line summary /healthz prints.
func (h Health) String() string {
	var parts []string
	for _, r := range h.Regions {
		s := fmt.Sprintf("%s/%s %s", r.Service, r.Region, r.Verdict)
		if r.Flapping {
			s += " (flapping)"
		}
		parts = append(parts, s)
	}
	state := "watching"
	if h.Partitioned != "" {
		state = "partitioned (" + h.Partitioned + "): starts nothing"
	}
	return fmt.Sprintf("watcher %s: %s; %s", h.Observer, state, strings.Join(parts, ", "))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
