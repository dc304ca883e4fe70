package plan

import "time"

// Limits keep one failover inside Temporal's limits. A workflow history holds at most 51,200 events and 50 MB
// (the server warns from 10,240 events); one payload (the workflow input, an activity's input or result) at most
// 2 MB (warns from 512 KB). Every activity costs about three history events, and every check run also publishes
// an event (another activity), so one check run costs about eight.
const (
	// MaxVerificationRounds caps verification.count: each round runs every check again.
	MaxVerificationRounds = 100
	// MaxChecks caps the checks in traffic.gate and in verification.checks: each runs as its own activity.
	MaxChecks = 20
	// MaxCheckRuns caps all check runs of one failover (verification rounds × checks, plus gates × gate checks):
	// at about eight events each this keeps a history below the server's 10,240-event warning.
	MaxCheckRuns = 1000
	// MaxTrafficSteps caps traffic.steps: each step is a Kong write, a pause and a gate.
	MaxTrafficSteps = 10
	// MaxProbes caps detection.probes: the probe activity's result lists every probe.
	MaxProbes = 100
	// MaxHoldDownProbes caps failback.holdDown / failback.probeInterval + 1, the probes of one hold-down activity,
	// whose result lists every probe.
	MaxHoldDownProbes = 1000
	// MaxWarmupKeys caps warmup.keys: all keys travel in one activity input.
	MaxWarmupKeys = 10000
	// MaxWarmupKeyBytes caps the JSON size of warmup.keys, half of the 512 KB payload warning.
	MaxWarmupKeyBytes = 256 << 10
	// MaxApprovers caps approval.approvers: a longer list is a group, which escalateTo can page.
	MaxApprovers = 50
	// MaxSamples caps an http check's samples: they are sent one after another inside one activity.
	MaxSamples = 100
	// MaxPlanBytes caps the whole plan's JSON size: the plan travels in every failover's workflow input.
	MaxPlanBytes = 512 << 10
)

// CheckRunTime is the longest one check may need: the workflow gives a check activity 30 s, so an http check's
// samples × timeout must leave it a margin.
const CheckRunTime = 25 * time.Second
