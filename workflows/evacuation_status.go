package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/failover/failover/plan"
)

// EvacuationStatusQuery is the query that returns EvacuationStatus.
const EvacuationStatusQuery = "evacuation-status"

// EvacuationStatus is the live picture of one evacuation, returned by its status query.
type EvacuationStatus struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Region string `json:"region"`
	Hash   string `json:"hash"`
	// Step is start, approve, waves, held or done.
	Step Step `json:"step"`
	// Wave is the wave running now (its name).
	Wave string `json:"wave,omitempty"`
	// Run counts this evacuation's continue-as-new runs (0 for the first).
	Run int `json:"run"`
	// Counts has the number of services per state (waiting, running, joined) and, once done, per outcome.
	Counts    map[string]int `json:"counts"`
	Waves     []WaveStatus   `json:"waves"`
	Services  []ServiceState `json:"services"`
	Approvals []Approval     `json:"approvals,omitempty"`
	Pending   *Pending       `json:"pending,omitempty"`
	// Policy is the evacuation's approval policy, so the CLI and Slack know whom to sign for.
	Policy    plan.Approval `json:"policy"`
	Paused    bool          `json:"paused,omitempty"`
	PausedBy  string        `json:"paused_by,omitempty"`
	Held      string        `json:"held,omitempty"`
	AbortedBy string        `json:"aborted_by,omitempty"`
	Outcome   Outcome       `json:"outcome,omitempty"`
	Reason    string        `json:"reason,omitempty"`
	StartedAt time.Time     `json:"started_at"`
	Elapsed   float64       `json:"elapsed_seconds"`
	Blast     BlastState    `json:"blast_radius"`
	// HoldDown is a failback's hold-down, and HoldDownLine says where it stands ("holding down: us-east healthy
	// for 2m10s of 10m0s (reset 1× at 10:02:03: svc-a down)").
	HoldDown     *HoldDownState `json:"hold_down,omitempty"`
	HoldDownLine string         `json:"hold_down_line,omitempty"`
}

// WaveStatus counts one wave's services.
type WaveStatus struct {
	Name    string `json:"name"`
	Total   int    `json:"total"`
	Waiting int    `json:"waiting"`
	Running int    `json:"running"`
	Done    int    `json:"done"`
	Failed  int    `json:"failed"`
}

// BlastState is how many services failed against the limits (since the last resume).
type BlastState struct {
	Failed           int     `json:"failed"`
	MaxFailed        int     `json:"max_failed,omitempty"`
	MaxFailedPercent float64 `json:"max_failed_percent,omitempty"`
}

func (e *evacuation) status(now time.Time) EvacuationStatus {
	st := EvacuationStatus{ID: e.id, Kind: e.req.Kind, Region: e.req.Region, Hash: e.req.Hash, Step: e.step,
		Run: e.carry.Runs, Policy: e.req.Approval.Approval, Counts: e.counts(), Services: e.svc, Approvals: e.carry.Approvals, Pending: e.pending,
		Paused: e.carry.Paused, PausedBy: e.carry.PausedBy, Held: e.carry.Held, AbortedBy: e.abortedBy,
		Outcome: e.outcome, Reason: e.reason, StartedAt: e.carry.StartedAt, Elapsed: now.Sub(e.carry.StartedAt).Seconds(),
		Blast: BlastState{Failed: e.failed - e.carry.Rearmed, MaxFailed: e.req.BlastRadius.MaxFailed,
			MaxFailedPercent: e.req.BlastRadius.MaxFailedPercent},
		HoldDown: e.carry.Hold, HoldDownLine: e.carry.Hold.Line(now)}
	if e.carry.Wave < len(e.req.Waves) && e.step == StepWaves {
		st.Wave = e.req.Waves[e.carry.Wave].Name
	}
	st.Waves = make([]WaveStatus, len(e.req.Waves))
	for i, w := range e.req.Waves {
		st.Waves[i].Name = w.Name
	}
	for _, s := range e.svc {
		w := &st.Waves[s.Wave]
		w.Total++
		switch s.State {
		case ServiceWaiting:
			w.Waiting++
		case ServiceRunning, ServiceJoined:
			w.Running++
		default:
			w.Done++
		}
		if s.Failed() {
			w.Failed++
		}
	}
	return st
}

// counts is the number of services per state, and per outcome for those done.
func (e *evacuation) counts() map[string]int {
	c := map[string]int{}
	for _, s := range e.svc {
		if s.State == ServiceDone {
			c[s.Outcome]++
		} else {
			c[s.State]++
		}
	}
	return c
}

// CountsLine renders counts as "succeeded 12, running 3, waiting 85", largest first.
func CountsLine(counts map[string]int) string {
	keys := LargestFirst(counts)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// LargestFirst orders the states or outcomes of counts by their count, largest first (then by name).
func LargestFirst(counts map[string]int) []string {
	return slices.SortedFunc(maps.Keys(counts), func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
}

// progressLine renders the status as the Web UI's current details: counts, waves and what holds it.
func (s EvacuationStatus) progressLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s: %s of %d services, region %s** — step **%s**", s.ID, s.Kind, len(s.Services), s.Region, s.Step)
	if s.Outcome != "" {
		fmt.Fprintf(&b, ", outcome **%s** (%s)", s.Outcome, s.Reason)
	}
	fmt.Fprintf(&b, ", %.0fs\n\n%s\n\n", s.Elapsed, CountsLine(s.Counts))
	for _, w := range s.Waves {
		fmt.Fprintf(&b, "- wave %s: %d/%d done, %d running, %d failed\n", w.Name, w.Done, w.Total, w.Running, w.Failed)
	}
	if s.HoldDownLine != "" {
		fmt.Fprintf(&b, "\n**Hold-down:** %s\n", s.HoldDownLine)
	}
	if s.Held != "" {
		fmt.Fprintf(&b, "\n**Held:** %s\n", s.Held)
	}
	if s.Paused {
		fmt.Fprintf(&b, "\n**Paused** by %s (resume: starter resume %s)\n", s.PausedBy, s.ID)
	}
	if s.Pending != nil {
		fmt.Fprintf(&b, "\n**Waiting for a decision:** %s (%d/%d approvals)\n", s.Pending.Question, s.Pending.Have, s.Pending.Needed)
	}
	return b.String()
}
