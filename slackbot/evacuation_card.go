package slackbot

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

// An evacuation's card is rendered whole from the state its event carries (activities.EvacuationCard): a
// summary of bounded size whatever the number of services, so it never needs reading back from Slack and a
// repeated event writes the same card. It keeps the failover card's head, status and decision blocks (same IDs,
// same buttons), so the channel's history finds it and the click handlers take its buttons; its controls (Pause or
// Resume, and Abort) are evacuation_controls.go's.
const (
	blockEvCounts    = "ev-counts"    // services per state and outcome
	blockEvWaves     = "ev-waves"     // each wave's progress
	blockEvHold      = "ev-hold"      // the blast radius, held or not; a pause
	blockEvDecisions = "ev-decisions" // who approved, rejected, paused, resumed, aborted
	blockEvOutcome   = "ev-outcome"   // the final summary
)

// Budgets of the evacuation card's texts (bytes), well within a section each and within cardTextBudget in all.
const (
	evCountsText    = 600
	evWavesText     = 1500
	evHoldText      = 900 // why it is held (half) and who paused (evPausedText)
	evPausedText    = 550
	evDecisionsText = 1200
	evOutcomeText   = 2500
	evLeftLineText  = 150
)

// evacuationCard renders the card of an evacuation event.
func evacuationCard(e activities.Event) *card {
	ev := e.Evacuation
	c := &card{}
	title := fmt.Sprintf("Evacuation %s → %s", ev.From, orDefault(ev.To, "each plan's other region"))
	if ev.Kind == workflows.KindFailback {
		title = fmt.Sprintf("Failback %s → %s", orDefault(ev.From, "each plan's other region"), ev.To)
	}
	c.put(slack.NewHeaderBlock(plain(fmt.Sprintf("%s · %d services", title, ev.Services), maxHeaderText),
		slack.HeaderBlockOptionBlockID(blockHead+":"+e.RunID)))
	c.put(slack.NewSectionBlock(nil, []*slack.TextBlockObject{
		mrkdwn("*Evacuation*\n`" + fact(ev.ID) + "`"),
		mrkdwn(fmt.Sprintf("*Kind*\n%s, %d waves", fact(ev.Kind), len(ev.Waves)+ev.MoreWaves)),
		mrkdwn("*Started by*\n" + fact(orDefault(ev.Trigger, "?"))),
		mrkdwn("*Hash*\n`" + fact(e.PlanHash) + "`"),
	}, nil, slack.SectionBlockOptionBlockID(blockFacts)))
	c.setStatus(evacuationStatus(ev))
	c.put(section(blockEvCounts, clip("*Services* "+countsLine(ev.Counts), evCountsText, "")))
	if len(ev.Waves) > 0 {
		c.put(section(blockEvWaves, wavesText(ev)))
	}
	if hold := holdText(ev); hold != "" {
		c.put(section(blockEvHold, hold))
	}
	if ev.Pending != nil && ev.Outcome == "" {
		c.putEvacuationQuestion(e)
	}
	if len(ev.Decisions) > 0 {
		c.put(section(blockEvDecisions, decisionsText(ev.Decisions)))
	}
	if ev.Outcome == "" && ev.AbortedBy == "" {
		c.putEvacuationControls(e)
	}
	if ev.Outcome != "" {
		c.put(section(blockEvOutcome, outcomeSummary(ev)))
	}
	return c
}

func evacuationStatus(ev *activities.EvacuationCard) string {
	elapsed := seconds(ev.ElapsedSeconds)
	switch {
	case ev.Outcome != "":
		return fmt.Sprintf("%s Finished after %s: *%s*", outcomeMark(ev.Outcome), elapsed, esc(ev.Outcome))
	case ev.AbortedBy != "":
		return fmt.Sprintf("🛑 Aborted by %s: nothing new starts; the failovers it started are being cancelled", who(ev.AbortedBy))
	case ev.Pending != nil:
		return fmt.Sprintf("⏳ Waiting for a decision: %d of %d approvals", ev.Pending.Have, ev.Pending.Needed)
	case ev.Held != "":
		return "✋ Held by the blast radius: nothing new starts until a resume or an abort"
	case ev.PausedBy != "":
		return fmt.Sprintf("⏸️ Paused by %s: no new failover starts until a resume", who(ev.PausedBy))
	case ev.Step == workflows.StepWaves:
		return fmt.Sprintf("🚚 Wave *%s* running (%s so far)", esc(ev.Wave), elapsed)
	}
	return fmt.Sprintf("🔎 %s (%s so far)", esc(titleCase(ev.Step)), elapsed)
}

// countsLine renders the counts largest first: "succeeded 12 · running 3 · waiting 85".
func countsLine(counts map[string]int) string {
	keys := workflows.LargestFirst(counts)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %s *%d*", outcomeOrStateMark(k), esc(k), counts[k])
	}
	return strings.Join(parts, " · ")
}

func outcomeOrStateMark(k string) string {
	switch k {
	case workflows.ServiceWaiting, workflows.NotStarted:
		return "⏸"
	case workflows.ServiceRunning, workflows.ServiceJoined:
		return "🔄"
	}
	return outcomeMark(k)
}

func wavesText(ev *activities.EvacuationCard) string {
	var b strings.Builder
	b.WriteString("*Waves*")
	for _, w := range ev.Waves {
		mark := "⏸"
		switch {
		case w.Done == w.Total && w.Failed == 0:
			mark = "✅"
		case w.Done == w.Total:
			mark = "⚠️"
		case w.Running > 0 || w.Done > 0:
			mark = "🔄"
		}
		line := fmt.Sprintf("\n%s *%s* %d/%d done, %d running, %d failed", mark, fact(w.Name), w.Done, w.Total, w.Running, w.Failed)
		if b.Len()+len(line) > evWavesText-100 {
			fmt.Fprintf(&b, "\n… and more waves: `starter status %s`", fact(ev.ID))
			return b.String()
		}
		b.WriteString(line)
	}
	if ev.MoreWaves > 0 {
		fmt.Fprintf(&b, "\n… and %d more waves: `starter status %s`", ev.MoreWaves, fact(ev.ID))
	}
	return b.String()
}

func holdText(ev *activities.EvacuationCard) string {
	var parts []string
	switch {
	case ev.Held != "":
		parts = append(parts, "✋ *Held:* "+clip(esc(ev.Held), evHoldText/2, ""))
	case ev.BlastLimit != "":
		parts = append(parts, fmt.Sprintf("*Blast radius* %d failed since the last resume (limit: %s)", ev.BlastFailed, esc(ev.BlastLimit)))
	}
	if ev.PausedBy != "" && ev.Outcome == "" {
		parts = append(parts, clip(pausedText(ev), evPausedText, ""))
	}
	return clip(strings.Join(parts, "\n"), evHoldText, "")
}

// putEvacuationQuestion adds the decision asked and its Approve / Reject buttons, bound to the evacuation's first
// run (the front door finds its current run) and hash.
func (c *card) putEvacuationQuestion(e activities.Event) {
	p := e.Evacuation.Pending
	head := fmt.Sprintf(questionPrefix+"(%s, %d of %d approvals): ", esc(p.Kind), p.Have, p.Needed)
	value := ButtonValue{WorkflowID: e.WorkflowID, RunID: e.RunID, PlanHash: e.PlanHash, Kind: p.Kind}.Encode()
	if len(value) > maxButtonValue {
		c.put(section(blockQuestion, head+elide(esc(p.Question), questionText-len(head)-len(noButtons), noteStatus)+noButtons))
		return
	}
	c.put(section(blockQuestion, head+elide(esc(p.Question), questionText-len(head), noteStatus)))
	c.put(slack.NewActionBlock(blockActions, decisionButtons(value, p.Question, p.Needed)...))
}

// decisionButtons are Approve (with a confirm dialog) and Reject carrying value.
func decisionButtons(value, question string, needed int) []slack.BlockElement {
	confirm := fmt.Sprintf(" — you are approving as yourself (%d needed).", max(needed, 1))
	approve := slack.NewButtonBlockElement(ActionApprove, value, plain("Approve", maxButtonText)).WithStyle(slack.StylePrimary)
	approve.WithConfirm(slack.NewConfirmationBlockObject(plain("Approve?", maxConfirmTitle),
		mrkdwn(elide(esc(question), maxConfirmText-len(confirm), "")+confirm),
		plain("Approve", maxConfirmButton), plain("Cancel", maxConfirmButton)))
	reject := slack.NewButtonBlockElement(ActionReject, value, plain("Reject", maxButtonText)).WithStyle(slack.StyleDanger)
	return []slack.BlockElement{approve, reject}
}

func decisionsText(ds []activities.CardDecision) string {
	lines := []string{"*Decisions*"}
	for _, d := range ds {
		mark := map[string]string{workflows.ApproveUpdate: "✅", workflows.RejectUpdate: "❌", workflows.AbortUpdate: "🛑",
			workflows.PauseUpdate: "⏸️", workflows.ResumeUpdate: "▶️"}[d.Decision]
		by := who(d.By)
		if d.SlackUser != "" {
			by += " (" + who(d.SlackUser) + ")"
		}
		line := fmt.Sprintf("%s %s *%s* via %s · %s", orDefault(mark, "🤖"), by, esc(d.Decision), esc(orDefault(d.Via, "?")), when(d.At))
		if d.Comment != "" {
			line += " · “" + esc(d.Comment) + "”"
		}
		lines = append(lines, clip(line, voteText, ""))
	}
	return clip(strings.Join(lines, "\n"), evDecisionsText, "")
}

// outcomeSummary is the final summary: outcome, counts, RTO percentiles and what did not succeed.
func outcomeSummary(ev *activities.EvacuationCard) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s *Outcome: %s* · %s", outcomeMark(ev.Outcome), esc(ev.Outcome), clip(esc(ev.Reason), outcomeText, ""))
	if ev.RTOP50 > 0 {
		fmt.Fprintf(&b, "\n*RTO* p50 %s · p99 %s (per service, fault → traffic verified)", seconds(ev.RTOP50), seconds(ev.RTOP99))
	}
	more := ev.LeftMore
	if len(ev.Left) > 0 {
		b.WriteString("\n*Did not succeed* (each service's outcome says what is still changed):")
	}
	for i, l := range ev.Left {
		line := "\n• " + clip(esc(l), evLeftLineText, "")
		if b.Len()+len(line) > evOutcomeText-200 { // room for the line saying how many more
			more += len(ev.Left) - i
			break
		}
		b.WriteString(line)
	}
	if more > 0 {
		fmt.Fprintf(&b, "\n… and %d more: `starter status %s --all`", more, fact(ev.ID))
	}
	return clip(b.String(), evOutcomeText, noteStatus)
}

// evacuationReply renders a reply about one service in the evacuation card's thread: its failure, or a decision
// its failover asks, with that failover's buttons.
func evacuationReply(e activities.Event) reply {
	switch e.Type {
	case activities.EventOutcome:
		text := fmt.Sprintf("%s *%s* ended *%s*", outcomeMark(e.Outcome), fact(e.Service), esc(e.Outcome))
		if e.Step != "" {
			text += " at step " + esc(e.Step)
		}
		tail := fmt.Sprintf("\n`starter status %s`", fact(e.WorkflowID))
		return reply{text: fill(text+": ", esc(e.Reason), tail, maxSectionText, noteStatus)}
	case activities.EventDecisionNeeded:
		head := fmt.Sprintf("🔔 *%s* needs a decision (%s, %d of %d approvals): ", fact(e.Service), esc(e.DecisionKind), e.Have, max(e.Needed, 1))
		tail := fmt.Sprintf("\nUse the buttons, or `starter approve %s --as <you>`.", fact(e.WorkflowID))
		r := reply{text: head + elide(esc(e.Question), maxSectionText-len(head)-len(tail), noteStatus) + tail}
		value := ButtonValue{WorkflowID: e.WorkflowID, RunID: e.RunID, PlanHash: e.PlanHash, Kind: e.DecisionKind}.Encode()
		if len(value) <= maxButtonValue {
			r.actions = []slack.Block{slack.NewActionBlock(blockActions, decisionButtons(value, e.Question, e.Needed)...)}
		}
		return r
	}
	return reply{text: clip(esc(e.Detail), maxSectionText, "")}
}
