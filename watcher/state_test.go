package watcher

import (
	"testing"
	"time"

	"github.com/failover/failover/plan"
)

func testWatch() plan.Watch {
	w := plan.Watch{Quorum: plan.Quorum{Observers: 2}}
	p := plan.Plan{Watch: &w}
	p.SetDefaults() // interval 200ms, failures 6, window 3s, recoveries 3, flapLimit 3, flapWindow 1m
	return w
}

// run feeds the state a pattern of results, one per interval: '.' healthy, 'x' failed, '-' skipped.
func run(s *regionState, start time.Time, every time.Duration, pattern string) time.Time {
	at := start
	for _, c := range pattern {
		at = at.Add(every)
		switch c {
		case '.':
			s.observe(true, at)
		case 'x':
			s.observe(false, at)
		}
	}
	return at
}

func TestRegionStateVerdicts(t *testing.T) {
	w := testWatch()
	t0 := time.Unix(1_000_000, 0)
	tests := []struct {
		name     string
		pattern  string
		every    time.Duration
		verdict  Verdict
		flapping bool
		failOver bool
	}{
		{"no probe yet", "", w.Interval, Unknown, false, false},
		{"healthy", "...", w.Interval, Up, false, false},
		{"one timeout", "...x...", w.Interval, Up, false, false},
		{"a 1 s blip (5 failures at 200ms)", "..xxxxx..", w.Interval, Up, false, false},
		{"six consecutive failures", "..xxxxxx", w.Interval, Down, false, true},
		{"failures broken by one success", "..xxxxx.xxxxx", w.Interval, Up, false, false},
		{"six failures spread wider than the window", "..x-x-x-x-x-x", time.Second, Up, false, false},
		{"two good probes do not end an outage", "xxxxxx..", w.Interval, Down, false, true},
		{"three good probes end it", "xxxxxx...", w.Interval, Up, false, false},
		{"three blips are flapping", ".x..x..x.", w.Interval, Up, true, false},
		{"a flapping region that goes down is reported, not failed over", ".x..x..xxxxxxx", w.Interval, Down, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRegionState(w, t0)
			run(s, t0, tt.every, tt.pattern)
			if s.verdict != tt.verdict || s.flapping != tt.flapping || s.shouldFailOver() != tt.failOver {
				t.Fatalf("%q: verdict %s flapping %t failOver %t, want %s %t %t", tt.pattern, s.verdict, s.flapping,
					s.shouldFailOver(), tt.verdict, tt.flapping, tt.failOver)
			}
		})
	}
}

// A flapping region stays reported while outages keep beginning, and fails over once it has stayed down for a
// whole flap window (fewer than flapLimit outages began within it).
func TestFlappingRegionFailsOverOnlyAfterAQuietFlapWindow(t *testing.T) {
	w := testWatch()
	t0 := time.Unix(1_000_000, 0)
	s := newRegionState(w, t0)
	at := run(s, t0, w.Interval, ".x..x..xxxxxxx")
	if s.shouldFailOver() {
		t.Fatal("failed over a flapping region")
	}
	for s.flapping {
		at = at.Add(w.Interval)
		s.observe(false, at)
		if at.Sub(t0) > 2*w.FlapWindow {
			t.Fatal("still flapping two flap windows later")
		}
	}
	if !s.shouldFailOver() {
		t.Fatalf("verdict %s, flapping %t: want a failover after a quiet flap window", s.verdict, s.flapping)
	}
	if took := at.Sub(t0); took < w.FlapWindow {
		t.Fatalf("failed over after %s, before a whole flap window (%s)", took, w.FlapWindow)
	}
}

// The flap drill's shape: 1 s outages every 10 s for a minute never make the region down.
func TestFlapDrillShapeNeverFailsOver(t *testing.T) {
	w := testWatch()
	t0 := time.Unix(1_000_000, 0)
	s := newRegionState(w, t0)
	at := t0
	for at.Sub(t0) < time.Minute {
		at = at.Add(w.Interval)
		inOutage := at.Sub(t0)%(10*time.Second) >= 9*time.Second
		s.observe(!inOutage, at)
		if s.shouldFailOver() {
			t.Fatalf("would fail over at %s", at.Sub(t0))
		}
	}
	if !s.flapping {
		t.Fatal("six outages in a minute not reported as flapping")
	}
}
