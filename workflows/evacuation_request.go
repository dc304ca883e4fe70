package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/failover/failover/plan"
)

// EvacuationID is the workflow ID of the evacuation of a region (kind failover) or of the failback into it, so at
// most one of each runs per region.
func EvacuationID(kind, region string) string {
	if kind == KindFailback {
		return "failback-" + region
	}
	return "evacuation-" + region
}

// EvacuationRequest starts an evacuation: the schedule the starter resolved from the evacuation plan and the
// per-service plans (file and hash of each, not the plans: 5,000 plans would not fit in one payload), and, after
// a continue-as-new, the progress so far. It holds no secrets.
type EvacuationRequest struct {
	// Region is the region being evacuated (a failback evacuation moves services back into it).
	Region string `json:"region"`
	// Kind is failover (out of Region) or failback (back into Region, each service after its plan's hold-down).
	Kind string `json:"kind"`
	// Hash is the evacuation plan's hash (plan.Evacuation.Hash): its decisions must name it.
	Hash string `json:"hash"`
	// PlansDir is where the worker reads the per-service plans; a plan whose hash differs from Services' is refused.
	PlansDir    string                  `json:"plans_dir"`
	Approval    plan.EvacuationApproval `json:"approval"`
	BlastRadius plan.BlastRadius        `json:"blast_radius"`
	Force       bool                    `json:"force,omitempty"`
	Waves       []WaveSpec              `json:"waves"`
	// Services are every service's state, wave by wave in run order.
	Services []ServiceState `json:"services"`
	Trigger  Trigger        `json:"trigger"`
	// Evidence is what started an automatic evacuation (Trigger.Source alert or watcher): the region-wide alert as
	// received, or each service's confirmed down verdict as the region watcher delivers it. Labels, fingerprints and
	// times only: no annotations, no secrets; at most MaxAlertStates.
	Evidence []Alert `json:"evidence,omitempty"`
	// ServicesPerRun is how many failovers one run starts before it continues as new (0: MaxServicesPerRun), which
	// keeps each run's history small whatever the number of services.
	ServicesPerRun int `json:"services_per_run,omitempty"`
	// Carry is the progress a previous run handed over with continue-as-new; nil for the first run.
	Carry *EvacuationCarry `json:"carry,omitempty"`
	// Failback is a failback's hold-down rule, defaults filled in (plan.Evacuation.FailbackRule); nil for a
	// failover, and a failback without one holds down with plan.EvacuationFailback's defaults.
	Failback *plan.EvacuationFailback `json:"failback,omitempty"`
}

// WaveSpec is one wave: its name and how many of its failovers run at once.
type WaveSpec struct {
	Name        string `json:"name"`
	Concurrency int    `json:"concurrency"`
}

// MaxServicesPerRun bounds the failovers one evacuation run starts: each costs its run about three history events
// and its plan (a few KB) in the child's start event, so 500 keep a run near 2,000 events and a few MB, far below
// Temporal's 51,200 events and 50 MB, and 5,000 services take ten runs.
const MaxServicesPerRun = 500

// EvacuationCarry is what an evacuation run hands the next one.
type EvacuationCarry struct {
	Runs      int        `json:"runs"`
	StartedAt time.Time  `json:"started_at"`
	Wave      int        `json:"wave"`
	Approved  bool       `json:"approved"`
	Approvals []Approval `json:"approvals,omitempty"`
	Paused    bool       `json:"paused,omitempty"`
	PausedBy  string     `json:"paused_by,omitempty"`
	Held      string     `json:"held,omitempty"`
	// Rearmed are the failed counts (in all, and per wave) when a person last resumed: the blast radius counts
	// failures since then.
	Rearmed     int   `json:"rearmed,omitempty"`
	RearmedWave []int `json:"rearmed_wave,omitempty"`
	// Hold is a failback's hold-down so far (evacuation_holddown.go).
	Hold *HoldDownState `json:"hold,omitempty"`
	// Slack is the evacuation's card, which every run updates (evacuation_slack.go).
	Slack EvacuationSlack `json:"slack"`
	// AuditSeq is the Seq of the evacuation's last audit record (evacuation_audit.go): the next run numbers on.
	AuditSeq int `json:"audit_seq,omitempty"`
}

// Service states in an evacuation.
const (
	ServiceWaiting = "waiting" // not started yet
	ServiceRunning = "running" // its failover runs as the evacuation's child
	ServiceJoined  = "joined"  // a failover someone else started was running: the evacuation waits for it
	ServiceDone    = "done"    // it has an outcome
)

// Outcomes of a service in an evacuation besides the failover's own.
const (
	Refused    Outcome = "refused"     // the evacuation did not start its failover: the plan changed or no longer loads
	NotStarted Outcome = "not-started" // the evacuation ended (aborted, rejected) before its turn
	Errored    Outcome = "error"       // its failover workflow failed without an outcome (terminated, bad request)
)

// ServiceState is one service in an evacuation.
type ServiceState struct {
	Service  string `json:"service"`
	File     string `json:"file"`
	PlanHash string `json:"plan_hash"`
	From     string `json:"from"`
	To       string `json:"to"`
	Wave     int    `json:"wave"`
	State    string `json:"state"`
	RunID    string `json:"run_id,omitempty"`
	// Step is the failover's last step once it ended.
	Step       Step    `json:"step,omitempty"`
	Outcome    Outcome `json:"outcome,omitempty"`
	Reason     string  `json:"reason,omitempty"`
	RTOSeconds float64 `json:"rto_seconds,omitempty"`
}

// Failed reports whether the service counts against the blast radius: it has an outcome other than succeeded or
// not-needed.
func (s ServiceState) Failed() bool {
	return s.State == ServiceDone && s.Outcome != Succeeded && s.Outcome != NotNeeded && s.Outcome != NotStarted
}

// EvacuationGrant is how an evacuation's approval reaches its child failovers. A failover honours it only when
// the evacuation named in it is the failover's parent workflow, which Temporal records and no client can set, so a
// client that writes a grant into a Request gains nothing.
type EvacuationGrant struct {
	// ID is the evacuation's workflow ID.
	ID string `json:"id"`
	// ApprovedBy are the people who approved the evacuation; empty when its plan approved it (mode auto).
	ApprovedBy []string `json:"approved_by,omitempty"`
}

// Validate checks what an evacuation needs before it starts; the starter resolved and validated the plans.
func (r EvacuationRequest) Validate() error {
	var errs []error
	if r.Region == "" {
		errs = append(errs, errors.New("region: empty: name the region to evacuate"))
	}
	if r.Kind != KindFailover && r.Kind != KindFailback {
		errs = append(errs, fmt.Errorf("kind: %q, want %s or %s", r.Kind, KindFailover, KindFailback))
	}
	if r.Hash == "" || r.PlansDir == "" {
		errs = append(errs, errors.New("hash, plans_dir: empty: the starter records the evacuation plan's hash and directory"))
	}
	if len(r.Services) == 0 {
		errs = append(errs, errors.New("services: none: the evacuation selects no service"))
	}
	seen := map[string]bool{}
	for i, s := range r.Services {
		switch {
		case s.Wave < 0 || s.Wave >= len(r.Waves):
			errs = append(errs, fmt.Errorf("services[%d] (%s): wave %d of %d", i, s.Service, s.Wave, len(r.Waves)))
		case seen[s.Service]:
			errs = append(errs, fmt.Errorf("services[%d]: %s is listed twice", i, s.Service))
		case i > 0 && s.Wave < r.Services[i-1].Wave:
			errs = append(errs, fmt.Errorf("services[%d] (%s): out of wave order", i, s.Service))
		}
		seen[s.Service] = true
	}
	for i, w := range r.Waves {
		if w.Concurrency < 1 {
			errs = append(errs, fmt.Errorf("waves[%d].concurrency: %d, want at least 1", i, w.Concurrency))
		}
	}
	return errors.Join(errs...)
}

// NewEvacuationRequest builds the request for an evacuation plan resolved against its plans (plan.Schedule).
func NewEvacuationRequest(e plan.Evacuation, kind string, waves []plan.ScheduledWave, trigger Trigger) EvacuationRequest {
	req := EvacuationRequest{Region: e.From, Kind: kind, PlansDir: e.Plans, Approval: e.Approval,
		BlastRadius: e.BlastRadius, Force: e.Force, Trigger: trigger}
	for i, w := range waves {
		req.Waves = append(req.Waves, WaveSpec{Name: w.Name, Concurrency: w.Concurrency})
		for _, s := range w.Services {
			from, to := s.From, s.To
			if kind == KindFailback {
				from, to = to, from
			}
			req.Services = append(req.Services, ServiceState{Service: s.Service, File: s.File, PlanHash: s.PlanHash,
				From: from, To: to, Wave: i, State: ServiceWaiting})
		}
	}
	if kind == KindFailback {
		rule := e.FailbackRule(waves)
		req.Failback = &rule
	}
	req.Hash = scheduleHash(e.Hash(), kind, req.Services)
	return req
}

// scheduleHash identifies the evacuation plan, its kind and the plan of every service it moves: a decision names
// it, so an approval of another schedule (a plan edited since) is refused.
func scheduleHash(evacuation, kind string, services []ServiceState) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", evacuation, kind)
	for _, s := range services {
		fmt.Fprintf(h, "%s %s %s %s %d\n", s.Service, s.PlanHash, s.From, s.To, s.Wave)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
