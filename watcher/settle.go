package watcher

import (
	"context"
	"strings"
	"time"

	"github.com/failover/failover/plan"
)

// In a region that a region-wide failure evacuates (Evacuator.Evacuates), the watcher does not start a service's
// own failover the moment its quorum confirms it down: it holds the start for the region's settle window, since
// the region's other services are probed out of phase and reach their verdicts a few probes later. When every
// watched service of the region is down and confirmed within the window, only the evacuation starts, and the held
// starts go ahead once it has (the front door answers them "covered by evacuation", so each service moves in the
// evacuation's wave, under its blast-radius limits). When the window passes first, the held start goes ahead as it
// would have without an evacuation, only later by the window. Regions no evacuation covers are never held.

// regionEvacuation is the watcher's request of one region's evacuation; settled once the Evacuator says it started,
// joined or gave up. The loop alone reads and writes it.
type regionEvacuation struct {
	settled bool
}

// defaultSettle is the settle window of a region whose watched plans are ws: half the longest detection time
// (failures × interval), at least two intervals. One region's services reach their down verdicts at most an
// interval apart (the phase of their probes) and are confirmed by the quorum at most about one more apart; half
// the detection time leaves room for a probe that times out where another fails fast, and adds little to the start
// of a service that fails alone.
func defaultSettle(ws []plan.Watch) time.Duration {
	var d time.Duration
	for _, w := range ws {
		d = max(d, time.Duration(w.Failures)*w.Interval/2, 2*w.Interval)
	}
	return d
}

// settleWindows names the regions whose per-service starts are held, and for how long: those with two or more
// watched services (a region-wide failure needs two) that the Evacuator evacuates. settle > 0 sets every window,
// settle < 0 holds nothing, 0 takes defaultSettle.
func settleWindows(regions []*watched, ev Evacuator, settle time.Duration) map[string]time.Duration {
	byRegion := map[string][]plan.Watch{}
	for _, rw := range regions {
		byRegion[rw.region] = append(byRegion[rw.region], *rw.plan.Watch)
	}
	out := map[string]time.Duration{}
	for region, ws := range byRegion {
		if settle < 0 || len(ws) < 2 || !ev.Evacuates(region) {
			continue
		}
		out[region] = settle
		if settle == 0 {
			out[region] = defaultSettle(ws)
		}
	}
	return out
}

// held reports whether rw's region holds per-service starts.
func (w *Watcher) held(rw *watched) bool {
	_, ok := w.settle[rw.region]
	return ok
}

// release reports whether rw's held start goes ahead now: once the region's evacuation request has settled, or,
// when none was requested, once the settle window since rw was confirmed has passed.
func (w *Watcher) release(rw *watched, now time.Time) bool {
	if ev := w.evacuating[rw.region]; ev != nil {
		return ev.settled
	}
	return now.Sub(rw.heldSince) >= w.settle[rw.region]
}

// confirm asks the quorum, as failOver does, without starting anything: a held region's service waits confirmed
// for the rest of its region.
func (w *Watcher) confirm(ctx context.Context, rw *watched) func(*watched) {
	qctx, cancel := context.WithTimeout(ctx, boardTimeout+rw.plan.Watch.Window)
	ag := w.agree(qctx, rw.target)
	cancel()
	if !ag.agree {
		return w.disagreement(rw, ag)
	}
	quorum := strings.Join(ag.evidence, "; ")
	return func(rw *watched) {
		rw.confirmed, rw.quorumDetail, rw.heldSince = true, quorum, time.Now()
		w.o.Logger.Warn("watcher: region down and confirmed: holding the service's own failover for the region's evacuation",
			"service", rw.plan.Service, "region", rw.region, "settle", w.settle[rw.region], "evidence", quorum)
	}
}

// settled hands the evacuator's "done" to the loop.
func (w *Watcher) settled(ctx context.Context, ev *regionEvacuation) func() {
	return func() {
		go func() {
			select {
			case w.evacSettled <- ev:
			case <-ctx.Done():
			}
		}()
	}
}
