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

// regionState turns one region's probe results into a verdict with hysteresis: down once a run of consecutive
// failures spans the blip tolerance in time (see observe); up again after watch.recoveries consecutive successes;
// flapping while watch.flapLimit outages (runs of failures, however short) began within watch.flapWindow. It is
// plain data, driven by the results and the times their probes were sent, so tests run it without a clock.
type regionState struct {
	w plan.Watch

	verdict Verdict
	changed time.Time // when verdict last changed
	// fails are the send times of the current run of consecutive failures, those within watch.window of the last.
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

// observe records one probe result, sent at `sent`; it reports whether the verdict or flapping changed.
//
// Down is decided on time, not on a count: the run of consecutive failures sent within watch.window of the last
// one must span at least the tolerance (plan.Watch.Tolerance: (failures-1) × interval, 1 s by default) from its
// first failed send to its last, less sendJitter, and hold at least plan.Watch.FailuresNeeded probes. Send times,
// not completion times: under load slow probes return late and the next probe goes out at once on its pending
// tick, so results bunch; counted, a 1 s blip became 6 failures, but their sends still lie within the blip. A
// probe is one failure however long it took, and an outage no longer than the tolerance never spans it.
func (s *regionState) observe(healthy bool, sent time.Time) (changed bool) {
	before, flapBefore := s.verdict, s.flapping
	s.probed = true
	if healthy {
		s.fails = s.fails[:0]
		s.oks++
		if s.verdict == Unknown || (s.verdict == Down && s.oks >= s.w.Recoveries) {
			s.set(Up, sent)
		}
	} else {
		if len(s.fails) == 0 {
			s.downSince = sent
			s.outages = append(s.outages, sent)
		}
		s.oks = 0
		s.fails = append(s.fails, sent)
		i := 0
		for i < len(s.fails) && (sent.Sub(s.fails[i]) > s.w.Window || len(s.fails)-i > maxFailTimes) {
			i++
		}
		s.fails = s.fails[i:]
		if len(s.fails) >= s.w.FailuresNeeded() && sent.Sub(s.fails[0]) >= s.w.Tolerance()-sendJitter(s.w) {
			s.set(Down, sent)
		}
	}
	s.lastHealthy = healthy
	s.updateFlapping(sent)
	return s.verdict != before || s.flapping != flapBefore
}

// maxFailTimes bounds the send times one region keeps (a long outage at a short interval within a long window).
const maxFailTimes = 1024

// sendJitter is how much less than the tolerance a run of failures may span: ticks are exactly an interval apart,
// but each send lags its tick by the scheduler's delay (microseconds on an idle machine), and a last send that
// lagged less than the first must not cost a real outage one more interval. A twentieth of the interval (10 ms at
// 200 ms) absorbs that while a blip's failures, which are sent within the blip, stay short of the tolerance
// unless the first of them lagged its tick by almost that much more than the last.
func sendJitter(w plan.Watch) time.Duration { return w.Interval / 20 }

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
