// Package plan defines a service's failover plan: the YAML an SRE writes once per service, decoded strictly and
// validated before any workflow starts. A plan carries no secrets: credentials belong to the worker's config.
package plan

import "time"

// Plan is everything the failover workflow needs to know about one service.
type Plan struct {
	// Service names the service; the workflow ID is failover-<service>.
	Service string `yaml:"service" json:"service"`
	// Labels classify the service (tier: data, team: payments) so an evacuation can select plans by label.
	Labels map[string]string `yaml:"labels" json:"labels,omitempty"`
	// Regions maps a region name to where that region lives.
	Regions map[string]Region `yaml:"regions" json:"regions"`
	// Etcd names the active-region key and where consumers ack.
	Etcd Etcd `yaml:"etcd" json:"etcd"`
	// Kong names the upstream whose target weights move traffic.
	Kong Kong `yaml:"kong" json:"kong"`
	// Detection confirms the source region is really down before anything changes.
	Detection Detection `yaml:"detection" json:"detection"`
	// Readiness checks the target region before anything changes.
	Readiness Readiness `yaml:"readiness" json:"readiness"`
	// Approval says who must approve and what happens when nobody does.
	Approval Approval `yaml:"approval" json:"approval"`
	// Traffic is how the gateway shifts traffic, step by step.
	Traffic Traffic `yaml:"traffic" json:"traffic"`
	// Warmup loads the target region's cache before it takes full traffic.
	Warmup Warmup `yaml:"warmup" json:"warmup"`
	// Verification decides whether the failover worked.
	Verification Verification `yaml:"verification" json:"verification"`
	// Rollback says how to undo a failover that failed after changes began.
	Rollback Rollback `yaml:"rollback" json:"rollback"`
	// Cooldown is how long after a completed failover a new alert needs a human anyway.
	Cooldown time.Duration `yaml:"cooldown" json:"cooldown"`
	// Failback configures moving back to the original region.
	Failback Failback `yaml:"failback" json:"failback"`
	// SLA is the RTO and RPO every run is judged against (sla.go); nil judges nothing. A pointer, so plans without
	// one hash as before.
	SLA *SLA `yaml:"sla" json:"sla,omitempty"`
	// Watch, when set, lets the front door's region watcher start this service's failovers (watch.go).
	Watch *Watch `yaml:"watch" json:"watch,omitempty"`
	// Drill, when set, says how the service's drills may run (drill.go); a pointer, so plans without one hash as before.
	Drill *Drill `yaml:"drill" json:"drill,omitempty"`
}

// Region is one place the service runs.
type Region struct {
	// KongTarget is the region's target in the Kong upstream, host:port.
	KongTarget string `yaml:"kongTarget" json:"kongTarget"`
	// HealthURL is probed directly (not through the gateway).
	HealthURL string `yaml:"healthURL" json:"healthURL"`
	// GRPC, when set, is probed too (grpc.health.v1): every probe (detection, readiness, hold-down, watcher)
	// then needs both a good HTTP answer and SERVING.
	GRPC *GRPCHealth `yaml:"grpc" json:"grpc,omitempty"`
	// PrometheusURL is the Prometheus that scrapes this region.
	PrometheusURL string `yaml:"prometheusURL" json:"prometheusURL"`
	// WarmupURL is the region's base URL; warmup posts to <WarmupURL>/warmup.
	WarmupURL string `yaml:"warmupURL" json:"warmupURL"`
	// KongHost is where the Kong Service points while this region is active (an upstream name or a hostname), for
	// kong.switch service.
	KongHost string `yaml:"kongHost,omitempty" json:"kongHost,omitempty"`
}

// Etcd names the service's keys.
type Etcd struct {
	// ActiveKey holds the active region as follow.Active JSON.
	ActiveKey string `yaml:"activeKey" json:"activeKey"`
	// AckPrefix is where consumers write follow.Ack after applying an epoch.
	AckPrefix string `yaml:"ackPrefix" json:"ackPrefix"`
	// RequiredConsumers must all ack the new epoch before the cutover counts as done.
	RequiredConsumers []string `yaml:"requiredConsumers" json:"requiredConsumers"`
	// MinAcks is how many instances (any) must ack; 0 means only RequiredConsumers count.
	MinAcks int `yaml:"minAcks" json:"minAcks"`
	// AckTimeout bounds the wait for acks.
	AckTimeout time.Duration `yaml:"ackTimeout" json:"ackTimeout"`
}

// Kong names the upstream, and what the failover may do about Kong's own state.
type Kong struct {
	Upstream string `yaml:"upstream" json:"upstream"`
	// ResetUnhealthyTarget lets the reroute mark the target region's target healthy (PUT …/targets/{t}/healthy)
	// when Kong's health checks hold it UNHEALTHY: a weight change alone never sends it traffic. Without it such a
	// target stops readiness.
	ResetUnhealthyTarget bool `yaml:"resetUnhealthyTarget,omitempty" json:"resetUnhealthyTarget,omitempty"`
	// GitOps says a tool (decK, the Ingress Controller, CI) owns this Kong configuration: the approval question
	// reminds the approvers that its source must be updated, and the change list says with what.
	GitOps bool `yaml:"gitops,omitempty" json:"gitops,omitempty"`
	// Switch is how the reroute moves traffic: "weights" (default: the upstream's target weights, in
	// traffic.steps) or "service" (blue-green: point Kong Service kong.service at the target region's kongHost
	// in one fenced change).
	Switch string `yaml:"switch,omitempty" json:"switch,omitempty"`
	// Service is the Kong Service (name or id) a service switch repoints.
	Service string `yaml:"service,omitempty" json:"service,omitempty"`
}

// Switch modes (Kong.Switch).
const (
	SwitchWeights = "weights"
	SwitchService = "service"
)

// SwitchesService reports a blue-green plan: the reroute repoints the Kong Service instead of shifting weights.
func (k Kong) SwitchesService() bool { return k.Switch == SwitchService }

// Detection confirms an outage: failed probes and/or a Prometheus query.
type Detection struct {
	// Probes is how many consecutive failed health probes confirm the outage; 0 disables probing.
	Probes int `yaml:"probes" json:"probes"`
	// ProbeInterval is the pause between probes.
	ProbeInterval time.Duration `yaml:"probeInterval" json:"probeInterval"`
	// ProbeTimeout bounds one probe.
	ProbeTimeout time.Duration `yaml:"probeTimeout" json:"probeTimeout"`
	// Query, when set, is a Prometheus check whose Condition is true while the region is down.
	Query *Query `yaml:"query" json:"query,omitempty"`
	// Require is "any" (probes or query confirm) or "all" (both must); default any.
	Require string `yaml:"require" json:"require"`
}

// Detection.Require values.
const (
	RequireAny = "any" // probes or query confirm the outage
	RequireAll = "all" // probes and query must both confirm it
)

// Query is a PromQL expression and the condition its value must meet, e.g. "> 0.5".
// ${region}, ${service}, ${from} and ${to} in the expression are replaced before it runs.
type Query struct {
	Expr      string `yaml:"expr" json:"expr"`
	Condition string `yaml:"condition" json:"condition"`
}

// Readiness checks the target region before anything changes.
type Readiness struct {
	// MaxReplicationLag is the RPO: lag above it stops the failover.
	MaxReplicationLag time.Duration `yaml:"maxReplicationLag" json:"maxReplicationLag"`
	// LagQuery returns the target's replication lag in seconds.
	LagQuery string `yaml:"lagQuery" json:"lagQuery"`
	// MinReadyInstances is the capacity needed in the target.
	MinReadyInstances int `yaml:"minReadyInstances" json:"minReadyInstances"`
	// ReadyQuery returns the target's ready instance count.
	ReadyQuery string `yaml:"readyQuery" json:"readyQuery"`
}

// Approval modes and timeout actions.
const (
	ApprovalManual = "manual"
	ApprovalAuto   = "auto"

	OnTimeoutAbort    = "abort"
	OnTimeoutApprove  = "approve"
	OnTimeoutEscalate = "escalate"
)

// Approval says who must approve.
type Approval struct {
	// Mode is manual (default) or auto.
	Mode string `yaml:"mode" json:"mode"`
	// AutoApproveSeverities auto-approves failovers triggered by alerts of these severities.
	AutoApproveSeverities []string `yaml:"autoApproveSeverities" json:"autoApproveSeverities"`
	// Approvers may approve or reject. With People: person names and @group names (a group is every person who
	// lists it in groups). Without People (legacy, no signed identities): CLI names and Slack user IDs, as written.
	Approvers []string `yaml:"approvers" json:"approvers"`
	// People names each person once with the identities they sign decisions with (see people.go). Empty means
	// legacy mode: decisions carry a name and nothing proves it.
	People []Person `yaml:"people" json:"people,omitempty"`
	// PeopleFile, instead of People, is a YAML file (relative to the plan file) with a people list, so teams share
	// one list. Load reads it into People and keeps the name as a record of where People came from.
	PeopleFile string `yaml:"peopleFile" json:"peopleFile,omitempty"`
	// FourEyes forbids the person who requested a failover to approve it.
	FourEyes bool `yaml:"fourEyes" json:"fourEyes,omitempty"`
	// AllowUnsigned accepts decisions without a signed proof, such as Updates sent from the Temporal Web UI.
	// Off by default; applies only with People (legacy plans sign nothing).
	AllowUnsigned bool `yaml:"allowUnsigned" json:"allowUnsigned,omitempty"`
	// Quorum is how many distinct approvers are needed; default 1.
	Quorum int `yaml:"quorum" json:"quorum"`
	// Timeout bounds the wait for a decision.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// OnTimeout is abort (default), approve, or escalate (same as abort, but EscalateTo is required). When
	// EscalateTo is set, the first timeout pages it and waits once more before applying OnTimeout.
	OnTimeout string `yaml:"onTimeout" json:"onTimeout"`
	// EscalateTo names who is paged (mentioned in Slack) when nobody decides in time.
	EscalateTo string `yaml:"escalateTo" json:"escalateTo"`
	// SlackChannel receives the approval message.
	SlackChannel string `yaml:"slackChannel" json:"slackChannel"`
}

// Traffic is the gateway's shift to the target, e.g. steps 10, 50, 100 (percent of traffic on the target).
type Traffic struct {
	Steps []int `yaml:"steps" json:"steps"`
	// Gate runs after every step but the last; a failed gate rolls back.
	Gate []Check `yaml:"gate" json:"gate"`
	// StepPause waits after each step before its gate, so the gateway and metrics catch up: a minimum soak.
	StepPause time.Duration `yaml:"stepPause" json:"stepPause"`
	// Confirm, when set, samples the gateway after each step until it serves that step's split, before the pause
	// and the gate: a Kong cluster applies a change later on other nodes (db_update_frequency, data planes).
	Confirm *SplitCheck `yaml:"confirm,omitempty" json:"confirm,omitempty"`
}

// SplitCheck confirms which region the gateway sends requests to, from a response header naming the region.
type SplitCheck struct {
	// URL is requested through the gateway.
	URL string `yaml:"url" json:"url"`
	// RegionHeader is the response header that names the serving region (its value is the region's name).
	RegionHeader string `yaml:"regionHeader" json:"regionHeader"`
	// Samples is how many requests one round sends.
	Samples int `yaml:"samples" json:"samples"`
	// Tolerance is how far (a fraction, 0.1 = 10 points) a round's share on the target may be from the step's.
	Tolerance float64 `yaml:"tolerance" json:"tolerance"`
	// Timeout bounds the rounds of one step; past it the step fails and rolls back.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
}

// Warmup loads the target region's cache.
type Warmup struct {
	Keys        []string      `yaml:"keys" json:"keys"`
	Concurrency int           `yaml:"concurrency" json:"concurrency"`
	BatchSize   int           `yaml:"batchSize" json:"batchSize"`
	HitRatio    float64       `yaml:"hitRatio" json:"hitRatio"`
	Timeout     time.Duration `yaml:"timeout" json:"timeout"`
}

// Verification runs every check Count times, Interval apart.
type Verification struct {
	Interval time.Duration `yaml:"interval" json:"interval"`
	Count    int           `yaml:"count" json:"count"`
	// FailureLimit is how many failed results are tolerated before rolling back.
	FailureLimit int     `yaml:"failureLimit" json:"failureLimit"`
	Checks       []Check `yaml:"checks" json:"checks"`
}

// Check is one verification: exactly one of Prometheus or HTTP.
type Check struct {
	Name       string     `yaml:"name" json:"name"`
	Prometheus *Query     `yaml:"prometheus" json:"prometheus,omitempty"`
	HTTP       *HTTPCheck `yaml:"http" json:"http,omitempty"`
}

// HTTPCheck sends Samples requests (through the gateway) and expects them to succeed.
type HTTPCheck struct {
	URL          string            `yaml:"url" json:"url"`
	ExpectStatus int               `yaml:"expectStatus" json:"expectStatus"`
	ExpectHeader map[string]string `yaml:"expectHeader" json:"expectHeader,omitempty"`
	Samples      int               `yaml:"samples" json:"samples"`
	// MinSuccess is the fraction of samples that must pass; default 1.
	MinSuccess float64       `yaml:"minSuccess" json:"minSuccess"`
	Timeout    time.Duration `yaml:"timeout" json:"timeout"`
}

// Rollback policies.
const (
	RollbackAuto   = "auto"
	RollbackManual = "manual"
	RollbackNone   = "none"
)

// Rollback says how to undo.
type Rollback struct {
	// OnFailure is auto (default: undo at once), manual (ask first) or none (leave it to a human).
	OnFailure string `yaml:"onFailure" json:"onFailure"`
	// PointOfNoReturn is the step (reroute, warmup or verify) from which an undo needs approval; empty = never.
	PointOfNoReturn string `yaml:"pointOfNoReturn" json:"pointOfNoReturn"`
}

// Failback configures moving back.
type Failback struct {
	// HoldDown is how long the original region must stay healthy before failing back.
	HoldDown time.Duration `yaml:"holdDown" json:"holdDown"`
	// ProbeInterval is how often it is probed during the hold-down.
	ProbeInterval time.Duration `yaml:"probeInterval" json:"probeInterval"`
}
