// Package workflows holds the failover workflow: one durable Temporal workflow per failover of one service.
package workflows

import (
	"errors"
	"fmt"
	"time"

	"github.com/failover/failover/plan"
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

// Trigger records who or what started the failover.
type Trigger struct {
	Source   string `json:"source"` // cli, alert, demo, bench
	By       string `json:"by,omitempty"`
	Alert    string `json:"alert,omitempty"`
	Severity string `json:"severity,omitempty"`
	// FaultAt is when the fault began (an alert's startsAt); the RTO counts from it. Zero means the workflow start.
	FaultAt time.Time `json:"fault_at,omitempty"`
	// RequireApproval overrides the plan's auto-approve policies, e.g. inside the cooldown after a failover.
	RequireApproval bool   `json:"require_approval,omitempty"`
	RequireReason   string `json:"require_reason,omitempty"`
}

// Validate checks a request before it starts and again inside the workflow.
func (r Request) Validate() error {
	if err := r.Plan.Validate(); err != nil {
		return err
	}
	var errs []error
	if r.PlanHash != r.Plan.Hash() {
		errs = append(errs, fmt.Errorf("plan_hash %q does not match the plan (%s): compute it with plan.Hash()", r.PlanHash, r.Plan.Hash()))
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

// Outcomes: every failover ends with exactly one.
const (
	Succeeded        = "succeeded"          // traffic verified on the target
	NotNeeded        = "not-needed"         // source healthy, or the target is already active
	NotReady         = "not-ready"          // the target failed readiness; nothing changed
	Rejected         = "rejected"           // an approver said no; nothing changed
	TimedOut         = "timed-out"          // nobody decided in time; nothing changed
	Fenced           = "fenced"             // someone else changed the active-region key; nothing changed by us
	RolledBack       = "rolled-back"        // a step failed after changes began; every change was undone
	FailedNeedsHuman = "failed-needs-human" // a step failed and the system is not back to a known state
	SourceRecovered  = "source-recovered"   // the alert resolved before the cutover; nothing changed
)

// Result is what a finished failover returns.
type Result struct {
	Outcome    string       `json:"outcome"`
	Reason     string       `json:"reason,omitempty"`
	Service    string       `json:"service"`
	From       string       `json:"from"`
	To         string       `json:"to"`
	Epoch      int64        `json:"epoch,omitempty"`
	RTOSeconds float64      `json:"rto_seconds,omitempty"`
	Steps      []StepRecord `json:"steps"`
}
