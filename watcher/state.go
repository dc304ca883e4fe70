package watcher

import (
	"time"

	"github.com/failover/failover/plan"
)

// Verdict is what a watcher concludes about one region of one service.
type Verdict string

// Verdicts.
const (
	Unknown Verdict = "unknown" // not probed enough yet
	Up      Verdict = "up"
	Down    Verdict = "down"
)

// Verdicts lists them in the order metrics show them.
var Verdicts = []Verdict{Up, Down, Unknown}

// regionState turns one region's probe results into a verdict with hysteresis: down after watch.failures
// consecutive failures whose first and last lie within watch.window; up again after watch.recoveries consecutive
// successes; flapping while watch.flapLimit outages (runs of failures, however short) began within
// watch.flapWindow. It is plain data, driven by the results and their times, so tests run it without a clock.
type regionState struct {
	w plan.Watch

	verdict Verdict
	changed time.Time // when verdict last changed
	// fails are the times of the current run of consecutive failures (the last watch.failures of them).
	fails []time.Time
	// downSince is when the current outage's first failure was seen.
	downSince time.Time
	oks       int
	// lastHealthy says whether the last probe answered healthy.
	lastHealthy bool
	probed      bool
	// outages are the start times of the runs of failures within watch.flapWindow.
	outages  []time.Time
	flapping bool
}

func newRegionState(w plan.Watch, now time.Time) *regionState {
	return &regionState{w: w, verdict: Unknown, changed: now}
}

// observe records one probe result seen at `at`; it reports whether the verdict or flapping changed.
func (s *regionState) observe(healthy bool, at time.Time) (changed bool) {
	before, flapBefore := s.verdict, s.flapping
	s.probed = true
	if healthy {
		s.fails = s.fails[:0]
		s.oks++
		if s.verdict == Unknown || (s.verdict == Down && s.oks >= s.w.Recoveries) {
			s.set(Up, at)
		}
	} else {
		if len(s.fails) == 0 {
			s.downSince = at
			s.outages = append(s.outages, at)
		}
		s.oks = 0
		s.fails = append(s.fails, at)
		if len(s.fails) > s.w.Failures {
			s.fails = s.fails[len(s.fails)-s.w.Failures:]
		}
		if len(s.fails) == s.w.Failures && s.fails[len(s.fails)-1].Sub(s.fails[0]) <= s.w.Window {
			s.set(Down, at)
		}
	}
	s.lastHealthy = healthy
	s.updateFlapping(at)
	return s.verdict != before || s.flapping != flapBefore
}

func (s *regionState) set(v Verdict, at time.Time) {
	if s.verdict != v {
		s.verdict, s.changed = v, at
	}
}

// updateFlapping forgets outages older than watch.flapWindow and counts the rest.
func (s *regionState) updateFlapping(at time.Time) {
	i := 0
	for i < len(s.outages) && at.Sub(s.outages[i]) > s.w.FlapWindow {
		i++
	}
	s.outages = s.outages[i:]
	s.flapping = len(s.outages) >= s.w.FlapLimit
}

// failing says whether the region's last probe failed: a watcher whose probes of most regions fail at once is
// more likely cut off itself than looking at that many outages.
func (s *regionState) failing() bool { return s.probed && !s.lastHealthy }

// shouldFailOver: down, and not flapping (a flapping region is reported, never failed over back and forth).
func (s *regionState) shouldFailOver() bool { return s.verdict == Down && !s.flapping }
