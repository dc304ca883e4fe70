package activities

import "time"

// EventEvacuation is an evacuation's card event: Evacuation holds the card's whole state.
const EventEvacuation = "evacuation"

// EvacuationCard is what an evacuation's one Slack card shows, whole: every card event carries the full state, so
// a publisher renders the card from it alone (a repeat, a lost update or another worker changes nothing) and a
// card event dropped on the way is made good by the next one. It is a summary of bounded size whatever the number
// of services: counts, waves, the first few services that did not succeed.
type EvacuationCard struct {
	// ID is the evacuation's workflow ID; Kind failover or failback; From and To the regions ("" To: each
	// plan's other region).
	ID   string `json:"id"`
	Kind string `json:"kind"`
	From string `json:"from"`
	To   string `json:"to,omitempty"`
	// Trigger says who or what started it ("test by e2e", "alert RegionDown").
	Trigger  string `json:"trigger,omitempty"`
	Services int    `json:"services"`
	// Step is start, approve, waves, held or done; Wave the wave running now.
	Step string `json:"step"`
	Wave string `json:"wave,omitempty"`
	// Counts has the number of services per state (waiting, running, joined) and per outcome once done.
	Counts map[string]int `json:"counts"`
	Waves  []WaveProgress `json:"waves,omitempty"`
	// MoreWaves counts waves beyond those listed.
	MoreWaves int `json:"more_waves,omitempty"`
	// Held is why the blast radius holds the evacuation; BlastFailed and BlastLimit how many failed since the last
	// resume against the plan's limit ("" when none).
	Held        string `json:"held,omitempty"`
	BlastFailed int    `json:"blast_failed,omitempty"`
	BlastLimit  string `json:"blast_limit,omitempty"`
	PausedBy    string `json:"paused_by,omitempty"`
	AbortedBy   string `json:"aborted_by,omitempty"`
	// Pending is the decision the evacuation waits for (its buttons), nil when none.
	Pending *PendingDecision `json:"pending,omitempty"`
	// Decisions are the latest decisions recorded (who approved, rejected, paused, resumed, aborted), oldest first.
	Decisions []CardDecision `json:"decisions,omitempty"`
	// Outcome and Reason, once it ended; the RTO percentiles are over the services that succeeded.
	Outcome        string  `json:"outcome,omitempty"`
	Reason         string  `json:"reason,omitempty"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	RTOP50         float64 `json:"rto_p50,omitempty"`
	RTOP99         float64 `json:"rto_p99,omitempty"`
	// Left lists the first services that did not succeed, with their outcome and why; LeftMore counts the rest.
	Left     []string `json:"left,omitempty"`
	LeftMore int      `json:"left_more,omitempty"`
}

// WaveProgress counts one wave's services.
type WaveProgress struct {
	Name    string `json:"name"`
	Total   int    `json:"total"`
	Done    int    `json:"done"`
	Running int    `json:"running"`
	Failed  int    `json:"failed"`
}

// PendingDecision is a decision asked on a card.
type PendingDecision struct {
	Kind     string `json:"kind"`
	Question string `json:"question"`
	Have     int    `json:"have"`
	Needed   int    `json:"needed"`
}

// CardDecision is one decision recorded on an evacuation: a vote, a policy decision or an operator control.
type CardDecision struct {
	By       string `json:"by"`
	Via      string `json:"via,omitempty"`
	Decision string `json:"decision"`
	// SlackUser is the Slack member who clicked, for a decision made in Slack.
	SlackUser string    `json:"slack_user,omitempty"`
	Comment   string    `json:"comment,omitempty"`
	At        time.Time `json:"at"`
}
