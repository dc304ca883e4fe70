package activities

// An evacuation's own audit records: one each for its start, every decision about the whole evacuation, every
// blast-radius hold, the waiver of per-service approvals and its end. Their WorkflowID is the evacuation's
// (evacuation-<region>, failback-<region>), their RunID the run that wrote them; the failovers it started write
// their own records, as any failover does, and their started record names the evacuation (Actor, Via evacuation).
const (
	// EventEvacuationStarted: who or what started it (Actor, Via, Detail), the region (From, To), its hash
	// (PlanHash), the scope (Services, Detail: waves, approval, blast radius).
	EventEvacuationStarted = "evacuation-started"
	// EventEvacuationDecision: approve, reject, abort, pause, resume (or the plan's auto-approve) by Actor via Via,
	// with how it was proven (Proof: Slack user, key fingerprint, proof ID; never a secret). A resume that
	// releases a blast-radius hold says so in Detail.
	EventEvacuationDecision = "evacuation-decision"
	// EventEvacuationHeld: the blast radius was exceeded (Reason); nothing new starts until a resume or an abort.
	EventEvacuationHeld = "evacuation-held"
	// EventEvacuationWaiver: with approval.perService waive, the evacuation's approval stands for each failover's
	// own (Voters: who approved; none when its plan did).
	EventEvacuationWaiver = "evacuation-waiver"
	// EventEvacuationOutcome: its end (Outcome, Reason, Counts, NotSucceeded).
	EventEvacuationOutcome = "evacuation-outcome"
)
