package plan

import (
	"fmt"
	"time"
)

// EvacuationFailback is the hold-down of a failback evacuation as a whole (`starter evacuate --failback`): before
// any service moves back, the region must answer every service's own health probe (its plan's
// regions.<region>.healthURL and grpc, with detection.probeTimeout: the probe its plan's failback hold-down runs)
// round after round for HoldDown; one failed round restarts the clock. Every field may be left out.
type EvacuationFailback struct {
	// HoldDown is how long the region must stay healthy without a failed round. Default: the longest
	// failback.holdDown of the services' plans.
	HoldDown time.Duration `yaml:"holdDown" json:"holdDown,omitempty"`
	// ProbeInterval is the time between two rounds of probes. Default: 10s, or a third of the hold-down if less.
	ProbeInterval time.Duration `yaml:"probeInterval" json:"probeInterval,omitempty"`
	// HealthyPercent is the share of the services whose probe must pass for a round to count as healthy; default
	// 100 (every one).
	HealthyPercent float64 `yaml:"healthyPercent" json:"healthyPercent,omitempty"`
	// MinSinceEvacuation, when set, also requires this long since the evacuation out of the region ended (found in
	// Temporal as evacuation-<region>; when it cannot be found, counted from the failback's start).
	MinSinceEvacuation time.Duration `yaml:"minSinceEvacuation" json:"minSinceEvacuation,omitempty"`
	// Timeout ends the failback timed-out, nothing changed, when the hold-down has not passed by then; default 24h.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
}

// Defaults of an evacuation's failback hold-down (EvacuationFailback).
const (
	// DefaultFailbackHoldDown is the hold-down when neither the evacuation nor any plan sets one.
	DefaultFailbackHoldDown = 10 * time.Minute
	// DefaultFailbackProbeInterval is the time between rounds unless the hold-down is shorter than three of them.
	DefaultFailbackProbeInterval = 10 * time.Second
	// MinFailbackProbeInterval keeps a round of up to thousands of probes from running back to back.
	MinFailbackProbeInterval = 500 * time.Millisecond
	// DefaultFailbackTimeout is how long a failback evacuation holds down at most before it gives up.
	DefaultFailbackTimeout = 24 * time.Hour
)

// validateFailback checks the failback block as written (zero means "default").
func (e Evacuation) validateFailback(v *problems) {
	f := e.Failback
	if f == nil {
		return
	}
	for _, d := range []struct {
		field string
		value time.Duration
	}{{"failback.holdDown", f.HoldDown}, {"failback.probeInterval", f.ProbeInterval},
		{"failback.minSinceEvacuation", f.MinSinceEvacuation}, {"failback.timeout", f.Timeout}} {
		if d.value < 0 {
			v.add(d.field, "is %s: use a positive duration such as 10m, or leave it out for the default", d.value)
		}
	}
	if f.ProbeInterval > 0 && f.ProbeInterval < MinFailbackProbeInterval {
		v.add("failback.probeInterval", "is %s: a round probes every service, use at least %s", f.ProbeInterval, MinFailbackProbeInterval)
	}
	if f.HoldDown > 0 && f.ProbeInterval > f.HoldDown {
		v.add("failback.probeInterval", "%s is longer than failback.holdDown %s, so one round would decide: use an interval "+
			"well under the hold-down, e.g. %s", f.ProbeInterval, f.HoldDown, max(f.HoldDown/3, MinFailbackProbeInterval))
	}
	if p := f.HealthyPercent; p < 0 || p > 100 {
		v.add("failback.healthyPercent", "is %g: use a percentage above 0 up to 100 (default 100: every service healthy)", p)
	}
	if f.Timeout > 0 && f.HoldDown > 0 && f.Timeout <= f.HoldDown+f.MinSinceEvacuation {
		v.add("failback.timeout", "%s leaves no room for failback.holdDown %s (and minSinceEvacuation %s): use more, e.g. %s",
			f.Timeout, f.HoldDown, f.MinSinceEvacuation, 2*(f.HoldDown+f.MinSinceEvacuation))
	}
}

// FailbackRule is the hold-down a failback of this evacuation runs: the failback block with every default filled
// in, the hold-down defaulting to the longest failback.holdDown of the scheduled services' plans.
func (e Evacuation) FailbackRule(waves []ScheduledWave) EvacuationFailback {
	var r EvacuationFailback
	if e.Failback != nil {
		r = *e.Failback
	}
	if r.HoldDown == 0 {
		for _, w := range waves {
			for _, s := range w.Services {
				r.HoldDown = max(r.HoldDown, s.HoldDown)
			}
		}
	}
	return r.WithDefaults()
}

// WithDefaults fills what a failback rule leaves out (the hold-down, when no plan gave one either).
func (r EvacuationFailback) WithDefaults() EvacuationFailback {
	if r.HoldDown == 0 {
		r.HoldDown = DefaultFailbackHoldDown
	}
	if r.ProbeInterval == 0 {
		r.ProbeInterval = max(min(DefaultFailbackProbeInterval, r.HoldDown/3), MinFailbackProbeInterval)
	}
	if r.HealthyPercent == 0 {
		r.HealthyPercent = 100
	}
	if r.Timeout == 0 {
		r.Timeout = max(DefaultFailbackTimeout, 2*(r.HoldDown+r.MinSinceEvacuation))
	}
	return r
}

// String states the rule for people: the dry run, the status and the README say it the same way.
func (r EvacuationFailback) String() string {
	s := fmt.Sprintf("healthy for %s without a failed round (a round every %s probes each service's own health check; "+
		"it passes when at least %g%% of them pass; a failed round restarts the clock)", r.HoldDown, r.ProbeInterval, r.HealthyPercent)
	if r.MinSinceEvacuation > 0 {
		s += fmt.Sprintf(", and at least %s after the evacuation out of the region ended", r.MinSinceEvacuation)
	}
	return s + fmt.Sprintf("; gives up after %s", r.Timeout)
}
