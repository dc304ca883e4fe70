package proof

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Decisions a statement can carry.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
	DecisionAbort   = "abort"
	DecisionPause   = "pause"
	DecisionResume  = "resume"
	DecisionStart   = "start" // a person asks for a failover (`starter start`): the run's requester
)

var decisions = []string{DecisionApprove, DecisionReject, DecisionAbort, DecisionPause, DecisionResume, DecisionStart}

// Front doors a decision comes through.
const (
	ViaCLI   = "cli"   // signed by the person's own SSH key
	ViaSlack = "slack" // signed by the Slack front door's key for the person who clicked
)

var vias = []string{ViaCLI, ViaSlack}

// version starts every statement's signed bytes. It names the format, and it keeps the bytes apart from anything
// else an SSH key signs: an SSH login signs data that starts with a binary length, never with this text.
const version = "failover-proof-v1\n"

// Statement is what a person decides, about which failover, and when. Every field is signed.
type Statement struct {
	// WorkflowID and RunID name the one workflow run the decision is for, so a proof cannot be replayed on another.
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	// PlanHash is the hash of the plan the decider saw (plan.Plan.Hash).
	PlanHash string `json:"plan_hash"`
	// Kind is the decision being answered (workflows.DecideFailover, DecideUndo, ...).
	Kind string `json:"kind"`
	// Decision is approve, reject, abort, pause, resume or start.
	Decision string `json:"decision"`
	// Approver is the person's name in the plan's approval.people.
	Approver string `json:"approver"`
	// Via is the front door: cli or slack.
	Via string `json:"via"`
	// Time is when the decision was signed; Verify refuses proofs older than its maxAge.
	Time time.Time `json:"time"`
	// Click is, via slack, the click the front door signed for (user, button, action and message timestamps): the
	// workflow records it, so the same click sent to another front-door replica is known as already recorded.
	// Optional: statements without it sign the same bytes as before it existed.
	Click string `json:"click,omitempty"`
	// SlackGroups are, via slack, the Slack user groups the front door found the clicking user in when they
	// clicked (the groups its allow-list names). Optional, like Click.
	SlackGroups []string `json:"slack_groups,omitempty"`
}

// Bytes is the canonical encoding that is signed: the version line, then one "name=value" line per field in a
// fixed order, the time in UTC RFC 3339 with nanoseconds. Check refuses control characters in values, so no value
// can run into the next line and two different statements never share their bytes.
func (st Statement) Bytes() []byte {
	var b strings.Builder
	b.WriteString(version)
	for _, f := range st.fields() {
		b.WriteString(f.name + "=" + f.value + "\n")
	}
	return []byte(b.String())
}

// Check reports every missing or malformed field at once.
func (st Statement) Check() error {
	var errs []error
	for _, f := range st.fields() {
		switch {
		case f.value == "" && !f.optional:
			errs = append(errs, fmt.Errorf("%s: missing", f.name))
		case !utf8.ValidString(f.value) || strings.ContainsFunc(f.value, unicode.IsControl):
			errs = append(errs, fmt.Errorf("%s: %q holds a control character or invalid UTF-8: use printable text", f.name, f.value))
		}
	}
	for i, g := range st.SlackGroups {
		if g == "" || strings.Contains(g, ",") {
			errs = append(errs, fmt.Errorf("slack_groups[%d]: %q: a Slack user group ID is non-empty and has no comma", i, g))
		}
	}
	if st.Decision != "" && !slices.Contains(decisions, st.Decision) {
		errs = append(errs, fmt.Errorf("decision: %q: use one of %s", st.Decision, strings.Join(decisions, ", ")))
	}
	if st.Via != "" && !slices.Contains(vias, st.Via) {
		errs = append(errs, fmt.Errorf("via: %q: use one of %s", st.Via, strings.Join(vias, ", ")))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("statement: %w", err)
	}
	return nil
}

type field struct {
	name, value string
	optional    bool // signed only when set, after the fields every statement has
}

// fields lists the statement's fields in their signed order. The time is empty when unset, so Check reports it.
// Optional fields follow, each only when set, so a statement without them signs the bytes it always did.
func (st Statement) fields() []field {
	var at string
	if !st.Time.IsZero() {
		at = st.Time.UTC().Format(time.RFC3339Nano)
	}
	fs := []field{
		{"workflow_id", st.WorkflowID, false},
		{"run_id", st.RunID, false},
		{"plan_hash", st.PlanHash, false},
		{"kind", st.Kind, false},
		{"decision", st.Decision, false},
		{"approver", st.Approver, false},
		{"via", st.Via, false},
		{"time", at, false},
	}
	if st.Click != "" {
		fs = append(fs, field{"click", st.Click, true})
	}
	if len(st.SlackGroups) > 0 {
		fs = append(fs, field{"slack_groups", strings.Join(st.SlackGroups, ","), true})
	}
	return fs
}
