package watcher

import (
	"fmt"
	"testing"
	"time"

	"github.com/failover/failover/plan"
)

// ms is a time offset in milliseconds, for the send times the tests below write down.
func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// sent is one probe result by its send time (an offset from t0).
type sent struct {
	at      time.Duration
	healthy bool
}

func okAt(at time.Duration) sent   { return sent{at, true} }
func failAt(at time.Duration) sent { return sent{at, false} }

// feed observes the results in order and returns the offset of the first down verdict (-1: none).
func feed(s *regionState, t0 time.Time, results ...sent) time.Duration {
	downAt := time.Duration(-1)
	for _, r := range results {
		s.observe(r.healthy, t0.Add(r.at))
		if s.verdict == Down && downAt < 0 {
			downAt = r.at
		}
	}
	return downAt
}

// The failure run is judged by the probes' send times, not by how many results arrived: under load a 1 s blip
// reached 6 consecutive failures because slow probes delayed ticks and the next probe went out as soon as the
// late one returned. Those probes were sent less than a second apart, so they are not an outage of a second.
func TestBunchedProbesOfABlipAreNotAnOutage(t *testing.T) {
	w := testWatch() // 200ms × 6: an outage must span 1 s of sends
	t0 := time.Unix(1_000_000, 0)
	tests := []struct {
		name    string
		results []sent
	}{
		// The blip is [0, 1000ms). The probe sent at -150 was answered after it began (a loaded region), the one
		// sent at 150 is tick 0's, late because the probe before it was slow, and tick 200's follows at once.
		{"1 s blip, bunched sends", []sent{okAt(ms(-400)), failAt(ms(-150)), failAt(ms(150)), failAt(ms(200)), failAt(ms(400)),
			failAt(ms(600)), failAt(ms(800)), okAt(ms(1000)), okAt(ms(1200))}},
		// Seven results within the blip, two pairs of them bunched (a slow probe, then its pending tick at once).
		{"1 s blip, seven failures", []sent{okAt(ms(-200)), failAt(ms(0)), failAt(ms(190)), failAt(ms(200)), failAt(ms(400)),
			failAt(ms(590)), failAt(ms(600)), failAt(ms(800)), okAt(ms(1000))}},
		// A healthy region on a loaded machine: probes time out in a bunch for 0.6 s, then answer again.
		{"slow probes in a bunch", []sent{okAt(ms(0)), failAt(ms(200)), failAt(ms(450)), failAt(ms(460)), failAt(ms(600)),
			failAt(ms(700)), failAt(ms(800)), okAt(ms(1000)), okAt(ms(1200))}},
		// One probe that hung for 1.4 s (far past its timeout on a stalled machine), then a good answer.
		{"one slow probe", []sent{okAt(ms(0)), okAt(ms(200)), failAt(ms(400)), okAt(ms(1800)), okAt(ms(2000))}},
		// A single timeout: the next probe goes out at once (its tick is pending) and answers.
		{"one timeout", []sent{okAt(ms(0)), okAt(ms(200)), failAt(ms(400)), okAt(ms(610)), okAt(ms(800))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRegionState(w, t0)
			if at := feed(s, t0, tt.results...); at >= 0 {
				t.Fatalf("down at %s: failures sent within less than %s are not an outage", at, w.Tolerance())
			}
			if s.verdict != Up || s.shouldFailOver() {
				t.Fatalf("verdict %s, fail over %t: want up", s.verdict, s.shouldFailOver())
			}
		})
	}
}

// A real outage is still down on the probe that completes 1 s of failed sends: the sixth at 200 ms, as before,
// even when that probe's send lagged its tick less than the first one's did (timer jitter).
func TestRealOutageIsDownWhenItsFailuresSpanTheTolerance(t *testing.T) {
	w := testWatch()
	t0 := time.Unix(1_000_000, 0)
	for _, lag := range []struct{ first, last time.Duration }{{0, 0}, {ms(0.8), ms(0.05)}, {ms(0.05), ms(3)}} {
		t.Run(fmt.Sprintf("lags %s %s", lag.first, lag.last), func(t *testing.T) {
			s := newRegionState(w, t0)
			results := []sent{okAt(0), failAt(ms(200) + lag.first)}
			for k := 2; k <= 5; k++ {
				results = append(results, failAt(time.Duration(k)*ms(200)+ms(0.4)))
			}
			results = append(results, failAt(ms(1200)+lag.last), failAt(ms(1400)))
			if at := feed(s, t0, results...); at != ms(1200)+lag.last {
				t.Fatalf("down at %s, want at the sixth failure (1.2 s)", at)
			}
			if !s.shouldFailOver() || !s.downSince.Equal(t0.Add(ms(200)+lag.first)) {
				t.Fatalf("fail over %t, down since %s: want a failover from the first failed send",
					s.shouldFailOver(), s.downSince.Sub(t0))
			}
		})
	}
	// A hung region: every probe times out (200 ms), and each next one goes out on its pending tick.
	s := newRegionState(w, t0)
	at := feed(s, t0, okAt(0), failAt(ms(200)), failAt(ms(400.3)), failAt(ms(600.5)), failAt(ms(800.6)),
		failAt(ms(1000.8)), failAt(ms(1200.9)))
	if at != ms(1200.9) {
		t.Fatalf("hung region down at %s, want at the sixth timeout", at)
	}
}

// A timeout longer than the interval: the loop is serial, so a hung region's probes go out one timeout apart and
// fewer of them fit in the tolerance. The region is down once they span it (here 3 probes, 0.6 s apart), not
// after watch.failures of them (3 s); one slow probe followed by a good one is still one failure.
func TestTimeoutLongerThanTheIntervalNeedsFewerProbes(t *testing.T) {
	w := testWatch()
	w.Timeout = 600 * time.Millisecond
	t0 := time.Unix(1_000_000, 0)
	if n := w.FailuresNeeded(); n != 3 {
		t.Fatalf("failures needed with a 600ms timeout: %d, want 3", n)
	}
	s := newRegionState(w, t0)
	if at := feed(s, t0, okAt(0), failAt(ms(200)), failAt(ms(800)), failAt(ms(1400)), failAt(ms(2000))); at != ms(1400) {
		t.Fatalf("hung region down at %s, want at the third timeout (1.4 s)", at)
	}
	s = newRegionState(w, t0)
	if at := feed(s, t0, okAt(0), failAt(ms(200)), okAt(ms(800)), failAt(ms(1000)), okAt(ms(1600))); at >= 0 {
		t.Fatalf("down at %s after single slow probes", at)
	}
	// Fast failures (503s) with that timeout still need a whole second of them.
	s = newRegionState(w, t0)
	at := feed(s, t0, okAt(0), failAt(ms(200)), failAt(ms(400)), failAt(ms(600)), failAt(ms(800)), failAt(ms(1000)),
		failAt(ms(1200)))
	if at != ms(1200) {
		t.Fatalf("503s down at %s, want at 1.2 s (1 s of failed sends)", at)
	}
}

// simulate is one region's serial probe loop as probeLoop runs it: a ticker every interval (a missed tick waits,
// at most one, as time.Ticker), each probe sent at its tick plus the machine's lag, or at once when the probe before
// overran its tick. probe says, for a probe sent at an offset, how long it took and whether it was healthy.
func simulate(s *regionState, t0 time.Time, w plan.Watch, until time.Duration, lag func(n int) time.Duration,
	probe func(sent time.Duration) (took time.Duration, healthy bool)) (downAt time.Duration) {
	downAt = -1
	tick, free := time.Duration(0), time.Duration(0) // the next tick; when the loop is free to send
	for n := 0; tick < until; n++ {
		send := max(tick, free) + lag(n)
		took, healthy := probe(send)
		s.observe(healthy, t0.Add(send))
		if s.verdict == Down && downAt < 0 {
			downAt = send
		}
		free = send + took
		// The ticker keeps its phase: the next tick is the first after the one just used; ticks missed while the
		// probe ran collapse into one pending tick.
		tick += w.Interval
		for tick+w.Interval <= free {
			tick += w.Interval
		}
	}
	return downAt
}

// loadedLag and loadedProbe are a machine at load 40: sends lag their ticks by up to 120 ms, answers take up to
// 190 ms (slow, not yet timed out), in a fixed pattern so the tests are deterministic.
func loadedLag(n int) time.Duration { return ms(float64((n * 37) % 120)) }

func loadedProbe(outageFrom, outageTo time.Duration) func(time.Duration) (time.Duration, bool) {
	n := 0
	return func(sent time.Duration) (time.Duration, bool) {
		n++
		took := ms(float64(20 + (n*71)%170))
		answered := sent + took/2 // when the region handled it
		return took, answered < outageFrom || answered >= outageTo
	}
}

// The flap drill on a loaded machine, at every phase of the probes against the 1 s outages: never down. A real
// outage on the same machine is down within a probe or two of its tolerance.
func TestLoadedMachineBlipsNeverDownRealOutageDetected(t *testing.T) {
	w := testWatch()
	t0 := time.Unix(1_000_000, 0)
	for phase := time.Duration(0); phase < w.Interval; phase += 10 * time.Millisecond {
		s := newRegionState(w, t0)
		from := 3*time.Second + phase
		if at := simulate(s, t0, w, 6*time.Second, loadedLag, loadedProbe(from, from+time.Second)); at >= 0 {
			t.Fatalf("phase %s: a 1 s blip was down at %s", phase, at-from)
		}
		s = newRegionState(w, t0)
		at := simulate(s, t0, w, 8*time.Second, loadedLag, loadedProbe(from, from+time.Hour))
		if at < 0 || at-from > w.Tolerance()+2*w.Interval+ms(120) {
			t.Fatalf("phase %s: a real outage down at %s after it began, want within %s", phase, at-from,
				w.Tolerance()+2*w.Interval+ms(120))
		}
	}
}

// Repeated 1 s outages on a loaded machine, at every phase of the probes against them: reported flapping, never
// failed over.
func TestLoadedFlapDrillIsReportedNotFailedOver(t *testing.T) {
	w := testWatch()
	t0 := time.Unix(1_000_000, 0)
	for phase := time.Duration(0); phase < w.Interval; phase += 10 * time.Millisecond {
		s := newRegionState(w, t0)
		probe := loadedProbe(0, 0)
		at := simulate(s, t0, w, time.Minute, loadedLag, func(sent time.Duration) (time.Duration, bool) {
			took, _ := probe(sent)
			answered := sent + took/2
			return took, (answered+phase)%(10*time.Second) < 9*time.Second // down for 1 s of every 10
		})
		if at >= 0 {
			t.Fatalf("phase %s: down at %s", phase, at)
		}
		if !s.flapping {
			t.Fatalf("phase %s: six outages in a minute not reported as flapping", phase)
		}
	}
}
