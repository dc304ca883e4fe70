package workflows

// Step names a step of the failover. The workflow records it in Status.Step, StepRecord.Name, activities.Event.Step,
// the FailoverStep search attribute and the step duration metric; other packages compare against these constants.
// It is an alias of string, so it passes to those string fields as it is.
type Step = string

// The steps, in the order a failover runs them (see Failover). A failback runs hold-down instead of detect.
const (
	StepStart     Step = "start"     // the run has begun and registered its handlers
	StepDetect    Step = "detect"    // confirm the source region is down
	StepHoldDown  Step = "hold-down" // a failback: the original region must stay healthy this long
	StepReadiness Step = "readiness" // check the target and read what the cutover and reroute fence on
	StepApprove   Step = "approve"   // wait for the plan's approvers, or the plan approves
	StepCutover   Step = "cutover"   // move the etcd active-region key
	StepReroute   Step = "reroute"   // shift the Kong upstream's weights
	StepWarmup    Step = "warmup"    // load the target's cache
	StepVerify    Step = "verify"    // run the verification checks
	StepRollback  Step = "rollback"  // undo the changes after a failed step
	StepDone      Step = "done"      // the run has an outcome
)

// StepResult is how a step ended: StepRecord.Result and activities.Event.Result of a step event. Empty while the
// step runs. An alias of string, like Step.
type StepResult = string

// Step results.
const (
	ResultOK      StepResult = "ok"
	ResultFailed  StepResult = "failed"
	ResultSkipped StepResult = "skipped"
)
