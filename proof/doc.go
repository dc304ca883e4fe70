// Package proof signs and checks a person's decision on a failover (approve, reject, abort, pause, resume) with an
// SSH key, so the workflow can trust who decided instead of believing whatever name a caller writes.
//
// A Statement says who decides what about which workflow run and plan, through which front door, and when. Sign
// signs its canonical bytes with an SSH key (the person's own via the CLI, or the Slack front door's on behalf of
// the person who clicked); Proof.Verify checks the signature, that the key is trusted and that the proof is fresh.
// Verify is pure (no clock, no I/O), so a Temporal Update validator can call it with workflow.Now.
//
// Verify checks that the key is trusted, not whose key it is: the caller's trust function binds the key to
// Statement.Approver (for Via cli, the key must be one of that person's keys in the plan; for Via slack, one of
// the front-door keys the worker is configured with).
package proof
