package main

import (
	"github.com/failover/failover/plan"
)

// fastPath is the demo plan as a service that wants its outage failovers fast would write it (`watchdrill
// --plan fast`, the default); README.md's watcher section weighs what each setting gives up:
//   - traffic.steps [100]: with the source down (the watchers' quorum and detection agree), a 50% step sends half
//     the users to the dead region for the step pause, and the gate at 50% judges what verification judges at
//     100% anyway; a planned move (starter start) keeps its canary steps;
//   - verification: 2 rounds 1 s apart instead of 3 (Temporal timers below 1 s take about 1 s anyway, see
//     README.md "Tests"): the target is watched for 1 s instead of 2 s before the run is called verified.
//
// Detection, readiness (health, capacity, replication lag), the fenced cutover with its consumers' acks, the
// warmup, the rollback policy and every check stay as they are.
func fastPath(p *plan.Plan) {
	p.Traffic.Steps = []int{100}
	p.Verification.Count = 2
}

// planVariants are the plans `watchdrill --plan` runs.
var planVariants = map[string]func(*plan.Plan){
	"fast": fastPath,
	"demo": func(*plan.Plan) {}, // deploy/plans/demo.yaml as it is
}
