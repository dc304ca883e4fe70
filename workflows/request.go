// Package workflows holds the failover workflow: one durable Temporal workflow per failover of one service.
package workflows

import (
	"errors"
	"fmt"
	"time"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/proof"
)

// TaskQueue is where the worker listens and the starter sends failovers.
const TaskQueue = "failover"

// Kinds of run.
const (
	KindFailover = "failover"
	KindFailback = "failback"
)

// WorkflowID is the one ID a service's failovers use, so at most one runs per service at a time.
func WorkflowID(service string) string { return "failover-" + service }

// Request starts a failover. It holds no secrets: the worker's config has the credentials.
type Request struct {
	Plan plan.Plan `json:"plan"`
	// PlanHash is plan.Hash() of Plan; approvals must name it.
	PlanHash string `json:"plan_hash"`
	From     string `json:"from"`
	To       string `json:"to"`
	// Kind is failover (default) or failback.
	Kind string `json:"kind"`
	// Force skips the outage confirmation: the failover proceeds even if the source looks healthy.
	Force   bool    `json:"force"`
	Trigger Trigger `json:"trigger"`
}

// Trigger.Source values of the automatic front doors.
const (
	// TriggerAlert is Trigger.Source for failovers an Alertmanager alert started.
	TriggerAlert = "alert"
	// TriggerWatcher is Trigger.Source for failovers the front door's region watcher started (package watcher):
	// it delivers its verdicts as alerts (AlertSignal) through the same path, so it is held and recovers alike.
	TriggerWatcher = "watcher"
)

// Automatic reports whether an alert or the watcher started the failover (not a person): such a run stays open
// for repeats and ends source-recovered when every alert about its source resolves before the cutover.
func (t Trigger) Automatic() bool { return t.Source == TriggerAlert || t.Source == TriggerWatcher }

// TriggerDrill is Trigger.Source for the failover and failback a drill runs (drill.go): they say DRILL everywhere.
const TriggerDrill = "drill"

// Trigger records who or what started the failover.
type Trigger struct {
	Source   string `json:"source"` // cli, alert, watcher, demo, bench
	By       string `json:"by,omitempty"`
	Alert    string `json:"alert,omitempty"`
	Severity string `json:"severity,omitempty"`
	// FaultAt is when the fault began (an alert's startsAt); the RTO counts from it. Zero means the workflow start.
	FaultAt time.Time `json:"fault_at,omitempty"`
	// RequireApproval overrides the plan's auto-approve policies, e.g. inside the cooldown after a failover.
	RequireApproval bool   `json:"require_approval,omitempty"`
	RequireReason   string `json:"require_reason,omitempty"`
	// Proof proves By on plans with approval.people: By's signed start (StartStatement), so approval.fourEyes
	// knows who asked. A start without one has an unproven requester (see Requester).
	Proof *proof.Proof `json:"proof,omitempty"`
	// Quorum, on a failover the region watcher started, is the quorum's agreement that the source is down (which
	// watchers recorded it down, what Prometheus said): detection then confirms with one probe (watcherdetect.go).
	Quorum string `json:"quorum,omitempty"`
	// Evacuation, on a failover an evacuation started, carries the evacuation's approval (evacuation_services.go).
	// The failover honours it only when that evacuation is its parent workflow.
	Evacuation *EvacuationGrant `json:"evacuation,omitempty"`
	// Drill, on a drill's failover and failback, is the drill's workflow ID. The plan's drill.failback auto approves
	// the failback only when that drill is its parent workflow (drill_failback.go).
	Drill string `json:"drill,omitempty"`
	// ReportToEvacuation, on a failover an evacuation started, sends its failures and decisions to the
	// evacuation's Slack thread instead of a card of its own; honoured only when that evacuation is its parent.
	ReportToEvacuation bool `json:"report_to_evacuation,omitempty"`
}

// Validate checks a request before it starts: the plan, its hash and what the workflow itself checks.
func (r Request) Validate() error {
	if err := r.Plan.Validate(); err != nil {
		return err
	}
	var errs []error
	if r.PlanHash != r.Plan.Hash() {
		errs = append(errs, fmt.Errorf("plan_hash %q does not match the plan (%s): compute it with plan.Hash()", r.PlanHash, r.Plan.Hash()))
	}
	return errors.Join(append(errs, r.checkRun())...)
}

// checkRun is what the workflow checks before it runs: only what it cannot run without. It never validates or
// hashes the plan: that code changes between releases (a new field changes every hash), and a running failover
// must make the same decisions when a newer worker replays it. The starters validate the plan and its hash.
func (r Request) checkRun() error {
	var errs []error
	if r.PlanHash == "" {
		errs = append(errs, errors.New("plan_hash: empty: the starter records plan.Hash() of the plan at start"))
	}
	for _, f := range [][2]string{{"from", r.From}, {"to", r.To}} {
		if _, ok := r.Plan.Regions[f[1]]; !ok {
			errs = append(errs, fmt.Errorf("%s: region %q is not in the plan (it has %v)", f[0], f[1], r.Plan.RegionNames()))
		}
	}
	if r.From == r.To {
		errs = append(errs, fmt.Errorf("to: %q is also the source region: name the other region", r.To))
	}
	if r.Kind != KindFailover && r.Kind != KindFailback {
		errs = append(errs, fmt.Errorf("kind: %q, want %s or %s", r.Kind, KindFailover, KindFailback))
	}
	return errors.Join(errs...)
}

// Outcomes: every failover ends with exactly one, and the outcome tells the truth:
//   - succeeded: the active-region key names the target and Kong sends all traffic to it, verified;
//   - rolled-back: every change was undone: the key is back on the source region with a new epoch (or was never
//     written) and Kong's weights are exactly as readiness read them, both read back after the undo;
//   - failed-needs-human: the status, the result, the audit log and Slack list each thing still changed (read
//     back from etcd and Kong, never assumed) with how to finish by hand;
//   - every other outcome: nothing was changed.
//
// Each undo is registered before its change (an undo converges, so undoing a change that never happened is
// harmless), and the rollback, not the failing step, decides the outcome.
const (
	Succeeded        Outcome = "succeeded"          // traffic verified on the target
	NotNeeded        Outcome = "not-needed"         // source healthy, or the target is already active
	NotReady         Outcome = "not-ready"          // the target failed readiness; nothing changed
	Rejected         Outcome = "rejected"           // an approver said no; nothing changed
	TimedOut         Outcome = "timed-out"          // nobody decided in time; nothing changed
	Fenced           Outcome = "fenced"             // someone else changed the active-region key; nothing changed by us
	RolledBack       Outcome = "rolled-back"        // a step failed after changes began; every change was undone
	FailedNeedsHuman Outcome = "failed-needs-human" // a step failed and the system is not back to a known state
	SourceRecovered  Outcome = "source-recovered"   // the alert resolved before the cutover; nothing changed
	Cancelled        Outcome = "cancelled"          // cancelled (Temporal cancel request) before the cutover; nothing changed
	Aborted          Outcome = "aborted"            // an operator aborted it before the cutover; nothing changed
)

// Outcome is how a failover ended: Result.Outcome, Status.Outcome, activities.Event.Outcome and the FailoverOutcome
// search attribute. It is an alias of string, so it passes to those string fields as it is.
type Outcome = string

// Result is what a finished failover returns.
type Result struct {
	Outcome    Outcome      `json:"outcome"`
	Reason     string       `json:"reason,omitempty"`
	Service    string       `json:"service"`
	From       string       `json:"from"`
	To         string       `json:"to"`
	Epoch      int64        `json:"epoch,omitempty"`
	RTOSeconds float64      `json:"rto_seconds,omitempty"`
	Steps      []StepRecord `json:"steps"`
	// StillChanged lists, for failed-needs-human, what differs from before the failover and how to finish by hand.
	StillChanged []Leftover `json:"still_changed,omitempty"`
	// RPOSeconds is the RPO estimate (replication lag sampled at the cutover); nil is unknown.
	RPOSeconds *float64 `json:"rpo_seconds,omitempty"`
	// SLA is the run judged against the plan's sla; nil when the plan has none.
	SLA *SLAVerdict `json:"sla,omitempty"`
	// Approvals are the decisions people (or the plan) made, for a drill's "needed a human".
	Approvals []Approval `json:"approvals,omitempty"`
}
