package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/follow"
	"github.com/failover/failover/plan"
)

// StatusQuery is the query that returns Status.
const StatusQuery = "status"

// Status is the live picture of one failover, returned by the status query.
type Status struct {
	Kind     string  `json:"kind"`
	Service  string  `json:"service"`
	From     string  `json:"from"`
	To       string  `json:"to"`
	PlanHash string  `json:"plan_hash"`
	Trigger  Trigger `json:"trigger"`
	// Requester is who asked for the failover, as far as it is proven (approval.fourEyes reads it).
	Requester Requester `json:"requester"`
	// Approval is the plan's approval policy: the people who may decide and how they must sign, so the CLI and the
	// Slack front door know whom to sign for.
	Approval plan.Approval `json:"approval"`
	// Step is the step running now, or StepDone.
	Step      Step         `json:"step"`
	Steps     []StepRecord `json:"steps"`
	Approvals []Approval   `json:"approvals,omitempty"`
	// Paused is set while an operator holds the failover before its next change; PausedBy is who.
	Paused   bool   `json:"paused,omitempty"`
	PausedBy string `json:"paused_by,omitempty"`
	// Pending is the decision the workflow waits for, if any.
	Pending  *Pending `json:"pending,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
	// Alerts are the alerts (one record per fingerprint) that started or joined this failover.
	Alerts []AlertState `json:"alerts,omitempty"`
	// AlertsNotRecorded counts notifications of alerts beyond the first MaxAlertStates fingerprints: seen, not kept.
	AlertsNotRecorded int `json:"alerts_not_recorded,omitempty"`
	// EtcdBefore and EtcdAfter are the active-region key before and after the cutover.
	EtcdBefore *activities.ActiveState `json:"etcd_before,omitempty"`
	EtcdAfter  *follow.Active          `json:"etcd_after,omitempty"`
	// KongBefore and KongAfter are the upstream's weights before the reroute and as last set.
	KongBefore []activities.TargetWeight `json:"kong_before,omitempty"`
	KongAfter  []activities.TargetWeight `json:"kong_after,omitempty"`
	Checks     []activities.CheckResult  `json:"checks,omitempty"`
	// StillChanged lists, once the outcome is failed-needs-human, what is still changed and how to finish by hand.
	StillChanged []Leftover `json:"still_changed,omitempty"`
	// NotifyDropped counts events Slack never took (the audit log has every event).
	NotifyDropped int       `json:"notify_dropped,omitempty"`
	Outcome       Outcome   `json:"outcome,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	StartedAt     time.Time `json:"started_at"`
	FaultAt       time.Time `json:"fault_at"`
	// RTOSeconds is fault → now while running, fault → verified once succeeded.
	RTOSeconds float64 `json:"rto_seconds"`
	// RPOSeconds is the RPO estimate: the target's replication lag sampled at the cutover; nil is unknown.
	RPOSeconds *float64 `json:"rpo_seconds,omitempty"`
	// SLA is the finished run judged against the plan's sla (sla.go); nil while running or without one.
	SLA *SLAVerdict `json:"sla,omitempty"`
}

// StepRecord is one step's timing and result.
type StepRecord struct {
	Name    Step       `json:"name"`
	Started time.Time  `json:"started"`
	Ended   time.Time  `json:"ended,omitempty"`
	Result  StepResult `json:"result,omitempty"`
	Detail  string     `json:"detail,omitempty"`
}

// Seconds is how long the step took.
func (s StepRecord) Seconds() float64 {
	if s.Ended.IsZero() {
		return 0
	}
	return s.Ended.Sub(s.Started).Seconds()
}

// progressLine renders the status as the one-glance text shown in the Web UI.
func (s *Status) progressLine() string {
	var b strings.Builder
	if s.Trigger.Source == TriggerDrill {
		b.WriteString("**DRILL** · ")
	}
	fmt.Fprintf(&b, "**%s %s: %s → %s** — step **%s**", s.Kind, s.Service, s.From, s.To, s.Step)
	if s.Paused {
		fmt.Fprintf(&b, ", **paused** by %s (resume: starter resume)", s.PausedBy)
	}
	if s.Outcome != "" {
		fmt.Fprintf(&b, ", outcome **%s**", s.Outcome)
	}
	fmt.Fprintf(&b, ", RTO %.1fs", s.RTOSeconds)
	if s.RPOSeconds != nil {
		fmt.Fprintf(&b, ", RPO %s", RPOString(s.RPOSeconds))
	}
	if s.SLA != nil {
		fmt.Fprintf(&b, ", %s", s.SLA)
	}
	b.WriteString("\n\n")
	for _, st := range s.Steps {
		mark := "…"
		switch st.Result {
		case ResultOK:
			mark = "✔"
		case ResultFailed:
			mark = "✘"
		case ResultSkipped:
			mark = "–"
		}
		fmt.Fprintf(&b, "- %s %s %.2fs %s\n", mark, st.Name, st.Seconds(), st.Detail)
	}
	if s.Pending != nil {
		fmt.Fprintf(&b, "\n**Waiting for a decision:** %s (%d/%d approvals)\n", s.Pending.Question, s.Pending.Have, s.Pending.Needed)
	}
	return b.String()
}
