// Package report turns a failover's status into the record people need afterwards: what happened, who decided,
// what changed, and where the recovery time went (detection, approval wait, cutover, reroute, warmup,
// verification). It renders text for terminals, JSON for tools and a self-contained HTML page with a timeline.
package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

// Report is one failover, reconstructed from its status query.
type Report struct {
	WorkflowID string            `json:"workflow_id"`
	RunID      string            `json:"run_id,omitempty"`
	Kind       string            `json:"kind"`
	Service    string            `json:"service"`
	From       string            `json:"from"`
	To         string            `json:"to"`
	PlanHash   string            `json:"plan_hash"`
	Trigger    workflows.Trigger `json:"trigger"`
	// Outcome is the workflow's outcome, or Running.
	Outcome workflows.Outcome `json:"outcome"`
	Reason  string            `json:"reason,omitempty"`
	// Step is the step running now, while the failover runs.
	Step      string    `json:"step,omitempty"`
	FaultAt   time.Time `json:"fault_at"`
	StartedAt time.Time `json:"started_at"`
	// EndedAt is when the last step ended (or now, while running).
	EndedAt time.Time `json:"ended_at"`
	// RTOSeconds is fault → traffic verified; only a succeeded failover has one.
	RTOSeconds float64 `json:"rto_seconds"`
	// RPOSeconds is the RPO estimate: the target's replication lag sampled at the cutover; absent is unknown.
	RPOSeconds *float64 `json:"rpo_seconds,omitempty"`
	// SLA is the run judged against its plan's sla; absent when the plan has none.
	SLA *workflows.SLAVerdict `json:"sla,omitempty"`
	// ElapsedSeconds is fault → EndedAt, whatever the outcome.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Phases break ElapsedSeconds down, in order; with BetweenSeconds they add up to it.
	Phases []Phase `json:"phases"`
	// BetweenSeconds is the time between steps: the workflow's own scheduling.
	BetweenSeconds float64                `json:"between_seconds"`
	Decisions      []workflows.Approval   `json:"decisions,omitempty"`
	Checks         CheckSummary           `json:"checks"`
	Changes        []Change               `json:"changes,omitempty"`
	Alerts         []workflows.AlertState `json:"alerts,omitempty"`
	// StillChanged is what a failed-needs-human run left changed, and how to finish by hand.
	StillChanged []workflows.Leftover `json:"still_changed,omitempty"`
	Evidence     []string             `json:"evidence,omitempty"`
}

// Phase is one stretch of the timeline: a workflow step, or the alerting delay before the failover started.
type Phase struct {
	Name    string    `json:"name"` // alerting, detection, readiness, approval wait, cutover, reroute, warmup, verification, rollback
	Step    string    `json:"step,omitempty"`
	Started time.Time `json:"started"`
	// StartSeconds is the phase's start, counted from the fault.
	StartSeconds float64 `json:"start_seconds"`
	Seconds      float64 `json:"seconds"`
	// Share is Seconds as a fraction of ElapsedSeconds.
	Share  float64 `json:"share"`
	Result string  `json:"result"` // a workflows.StepResult, or Running
	Detail string  `json:"detail,omitempty"`
}

// CheckSummary counts verification and gate check results.
type CheckSummary struct {
	Pass         int                      `json:"pass"`
	Fail         int                      `json:"fail"`
	Inconclusive int                      `json:"inconclusive"`
	Results      []activities.CheckResult `json:"results,omitempty"`
}

// Change is one system's state before and after the failover.
type Change struct {
	System string `json:"system"` // etcd, kong
	Target string `json:"target"` // the key or upstream
	Before string `json:"before"`
	After  string `json:"after"`
}

// Running is the Outcome of a failover that has not finished, and the Result of a phase still running.
const Running = "running"

// phaseNames maps workflow steps to the phases of the RTO breakdown.
var phaseNames = map[workflows.Step]string{
	workflows.StepDetect: "detection", workflows.StepHoldDown: "detection", workflows.StepReadiness: "readiness",
	workflows.StepApprove: "approval wait", workflows.StepCutover: "cutover", workflows.StepReroute: "reroute",
	workflows.StepWarmup: "warmup", workflows.StepVerify: "verification", workflows.StepRollback: "rollback",
}

// PhaseName is the breakdown's name for a workflow step.
func PhaseName(step workflows.Step) string {
	if n, ok := phaseNames[step]; ok {
		return n
	}
	return step
}

// FromStatus builds the report from the status query's answer. While the failover runs, its status carries the
// elapsed time so far (RTOSeconds), which closes the running step.
func FromStatus(workflowID, runID string, st workflows.Status) Report {
	r := Report{WorkflowID: workflowID, RunID: runID, Kind: st.Kind, Service: st.Service, From: st.From, To: st.To,
		PlanHash: st.PlanHash, Trigger: st.Trigger, Outcome: st.Outcome, Reason: st.Reason, FaultAt: st.FaultAt.UTC(),
		StartedAt: st.StartedAt.UTC(), Decisions: st.Approvals, Alerts: st.Alerts, Evidence: st.Evidence,
		StillChanged: st.StillChanged, RPOSeconds: st.RPOSeconds, SLA: st.SLA}
	if r.FaultAt.IsZero() {
		r.FaultAt = r.StartedAt
	}
	running := st.Outcome == ""
	if running {
		r.Outcome, r.Step = Running, st.Step
		r.EndedAt = r.FaultAt.Add(seconds(st.RTOSeconds))
	} else {
		r.EndedAt = r.StartedAt
		for _, s := range st.Steps {
			if s.Ended.After(r.EndedAt) {
				r.EndedAt = s.Ended.UTC()
			}
		}
	}
	if st.Outcome == workflows.Succeeded {
		r.RTOSeconds = st.RTOSeconds
	}
	r.ElapsedSeconds = r.EndedAt.Sub(r.FaultAt).Seconds()

	if r.StartedAt.After(r.FaultAt) {
		detail := "fault → failover started"
		if st.Trigger.Alert != "" {
			detail += " (alert " + st.Trigger.Alert + ")"
		}
		r.Phases = append(r.Phases, Phase{Name: "alerting", Started: r.FaultAt, Seconds: r.StartedAt.Sub(r.FaultAt).Seconds(), Result: workflows.ResultOK, Detail: detail})
	}
	for _, s := range st.Steps {
		p := Phase{Name: PhaseName(s.Name), Step: s.Name, Started: s.Started.UTC(), StartSeconds: s.Started.Sub(r.FaultAt).Seconds(),
			Seconds: s.Seconds(), Result: s.Result, Detail: s.Detail}
		if s.Ended.IsZero() {
			p.Result = Running
			p.Seconds = max(0, r.EndedAt.Sub(s.Started).Seconds())
		}
		r.Phases = append(r.Phases, p)
	}
	// Milliseconds are the workflow clock's resolution that matters; rounding keeps the JSON readable.
	covered := 0.0
	for i := range r.Phases {
		p := &r.Phases[i]
		p.StartSeconds, p.Seconds = round(p.StartSeconds, 1e3), round(p.Seconds, 1e3)
		covered += p.Seconds
		if r.ElapsedSeconds > 0 {
			p.Share = round(p.Seconds/r.ElapsedSeconds, 1e4)
		}
	}
	r.ElapsedSeconds, r.RTOSeconds = round(r.ElapsedSeconds, 1e3), round(r.RTOSeconds, 1e3)
	r.BetweenSeconds = round(max(0, r.ElapsedSeconds-covered), 1e3)

	for _, c := range st.Checks {
		switch c.Verdict {
		case activities.Pass:
			r.Checks.Pass++
		case activities.Fail:
			r.Checks.Fail++
		default:
			r.Checks.Inconclusive++
		}
	}
	r.Checks.Results = st.Checks
	r.Changes = changes(st)
	return r
}

func changes(st workflows.Status) []Change {
	var out []Change
	if st.EtcdBefore != nil || st.EtcdAfter != nil {
		c := Change{System: "etcd", Before: "(absent)", After: "(unchanged)"}
		if b := st.EtcdBefore; b != nil && b.Exists {
			c.Before = fmt.Sprintf("%s epoch %d (revision %d)", b.Value.Region, b.Value.Epoch, b.ModRevision)
		}
		if a := st.EtcdAfter; a != nil {
			c.After = fmt.Sprintf("%s epoch %d", a.Region, a.Epoch)
		}
		out = append(out, c)
	}
	if len(st.KongBefore) > 0 || len(st.KongAfter) > 0 {
		after := "(unchanged)"
		if len(st.KongAfter) > 0 {
			after = weights(st.KongAfter)
		}
		out = append(out, Change{System: "kong", Before: weights(st.KongBefore), After: after})
	}
	return out
}

// weights renders target weights in a stable order.
func weights(ws []activities.TargetWeight) string {
	ws = append([]activities.TargetWeight(nil), ws...)
	sort.Slice(ws, func(i, j int) bool { return ws[i].Target < ws[j].Target })
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%s=%d", w.Target, w.Weight)
	}
	return strings.Join(parts, " ")
}

func round(v, scale float64) float64 { return math.Round(v*scale) / scale }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Duration renders seconds for people: 0.42s, 12.30s, 1m40.25s, 1h02m03s.
func Duration(s float64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%.2fs", s)
	case s < 3600:
		m := int(s / 60)
		return fmt.Sprintf("%dm%05.2fs", m, s-float64(m*60))
	default:
		d := seconds(s).Round(time.Second)
		return fmt.Sprintf("%dh%02dm%02ds", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	}
}
