package slackbot

import (
	"fmt"
	"slices"

	"github.com/slack-go/slack"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

// An evacuation's card carries the operator controls of the whole evacuation, as `starter pause|resume|abort`
// does: Pause while it runs and nothing holds it, Resume while it is paused or held by its blast radius, and Abort
// until it ends or is aborted. A pause stops the evacuation from starting failovers; it does not pause the
// failovers already running (each carries on to its own end) nor a failback's hold-down. The clicks go the way
// an Abort click goes (approvals.go): the same Slack checks, the same person and proof, the evacuation's own
// pause / resume Update, which its validator refuses when there is nothing to pause or resume.

// Action IDs of the evacuation card's Pause and Resume buttons; their value is a ButtonValue of Kind
// workflows.ControlKind, like Abort's.
const (
	ActionPause  = "failover-pause"
	ActionResume = "failover-resume"
)

// blockEvControls holds Pause or Resume, and Abort, until the evacuation ends or is aborted.
const blockEvControls = "ev-controls"

// putEvacuationControls adds the control buttons, each with a confirm dialog saying what it does to the whole
// evacuation. IDs too long for a button leave them out (`starter pause|resume|abort` work).
func (c *card) putEvacuationControls(e activities.Event) {
	ev := e.Evacuation
	value := ButtonValue{WorkflowID: e.WorkflowID, RunID: e.RunID, PlanHash: e.PlanHash, Kind: workflows.ControlKind}.Encode()
	if len(value) > maxButtonValue {
		return
	}
	first := pauseButton(value)
	if ev.PausedBy != "" || ev.Held != "" {
		first = resumeButton(value)
	}
	c.put(slack.NewActionBlock(blockEvControls, first, abortButton(value, "Abort the whole evacuation?",
		"Nothing new starts; the failovers it started are cancelled (before their cutover nothing changes, "+
			"after it they roll back) and services still waiting end not-started. You abort as yourself.")))
}

// pauseButton pauses the whole evacuation, behind a confirm dialog saying what a pause does and does not do.
func pauseButton(value string) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(ActionPause, value, plain("Pause", maxButtonText))
	b.WithConfirm(slack.NewConfirmationBlockObject(plain("Pause the whole evacuation?", maxConfirmTitle),
		mrkdwn(clip("No new failover starts until someone resumes it. Failovers already running are not paused: "+
			"each carries on to its own end. You pause as yourself.", maxConfirmText, "")),
		plain("Pause", maxConfirmButton), plain("Keep going", maxConfirmButton)))
	return b
}

// resumeButton resumes a paused or held evacuation, behind a confirm dialog.
func resumeButton(value string) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(ActionResume, value, plain("Resume", maxButtonText)).WithStyle(slack.StylePrimary)
	b.WithConfirm(slack.NewConfirmationBlockObject(plain("Resume the evacuation?", maxConfirmTitle),
		mrkdwn(clip("Waiting failovers start again, up to each wave's concurrency, and the blast radius counts "+
			"failures from now on (a hold by it is lifted too). You resume as yourself.", maxConfirmText, "")),
		plain("Resume", maxConfirmButton), plain("Stay paused", maxConfirmButton)))
	return b
}

// pausedText says who paused the evacuation, through what and when (from its latest pause decision on the card),
// and what the pause means: nothing new starts, what runs carries on.
func pausedText(ev *activities.EvacuationCard) string {
	by := who(ev.PausedBy)
	for i := len(ev.Decisions) - 1; i >= 0; i-- {
		if d := ev.Decisions[i]; d.Decision == workflows.PauseUpdate && d.By == ev.PausedBy {
			if d.SlackUser != "" {
				by += " (" + who(d.SlackUser) + ")"
			}
			by += fmt.Sprintf(" via %s %s", esc(orDefault(d.Via, "?")), when(d.At))
			break
		}
	}
	text := fmt.Sprintf("⏸️ *Paused* by %s: no new failover starts until someone resumes it (the Resume button or "+
		"`starter resume %s`)", by, fact(ev.ID))
	if n := ev.Counts[workflows.ServiceRunning] + ev.Counts[workflows.ServiceJoined]; n > 0 {
		text += fmt.Sprintf("; the %d failovers running now are not paused and carry on to their end", n)
	}
	return text + "."
}

// isControl reports whether the Update is an operator control (abort, pause, resume): it answers no pending
// decision.
func isControl(update string) bool {
	return update == workflows.AbortUpdate || update == workflows.PauseUpdate || update == workflows.ResumeUpdate
}

// staleToggle says why a Pause or Resume click does not apply to the run as it is now, or "": a Pause on a run
// paused already (a double click, or a card not yet rewritten), a Resume on one neither paused nor held.
func staleToggle(t target, update string) string {
	noun := t.noun()
	switch {
	case update == workflows.PauseUpdate && t.st.Paused:
		return fmt.Sprintf("the %s is paused already (%s)", noun, pausedBy(t.st))
	case update == workflows.ResumeUpdate && !t.st.Paused && t.held == "":
		return fmt.Sprintf("the %s is not paused (nor held by its blast radius), so there is nothing to resume", noun)
	}
	return ""
}

// pausedBy names who paused the run, via what and when, from its latest pause record.
func pausedBy(st workflows.Status) string {
	for i := len(st.Approvals) - 1; i >= 0; i-- {
		if a := st.Approvals[i]; a.Decision == workflows.PauseUpdate {
			return fmt.Sprintf("by %s via %s at %s", esc(a.By), esc(a.Via), a.At.UTC().Format("15:04:05 UTC"))
		}
	}
	return "by " + esc(orDefault(st.PausedBy, "?"))
}

// controlRecorded is what the user is told once their control is recorded.
func controlRecorded(update, id string, evacuation bool) string {
	switch {
	case update == workflows.PauseUpdate && evacuation:
		return fmt.Sprintf("Your pause of %s is recorded: no new failover starts until someone resumes it (the Resume "+
			"button or `starter resume %s`); failovers already running carry on to their end.", id, id)
	case update == workflows.PauseUpdate:
		return fmt.Sprintf("Your pause of %s is recorded: it holds before its next change until someone resumes it "+
			"(`starter resume %s`).", id, id)
	case update == workflows.ResumeUpdate && evacuation:
		return fmt.Sprintf("Your resume of %s is recorded: waiting failovers start again, and the blast radius counts "+
			"failures from now on. `starter status %s` shows where it is.", id, id)
	case update == workflows.ResumeUpdate:
		return fmt.Sprintf("Your resume of %s is recorded: it carries on. `starter status %s` shows where it is.", id, id)
	}
	return fmt.Sprintf("Your abort of %s is recorded: it stops at its next checkpoint (before the cutover nothing "+
		"changes; after it, it rolls back). `starter status %s` shows where it is.", id, id)
}

// decisionAction reports whether a button's action is one the click handlers take.
func decisionAction(actionID string) bool {
	return slices.Contains([]string{ActionApprove, ActionReject, ActionAbort, ActionPause, ActionResume}, actionID)
}
