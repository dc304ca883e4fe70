package slackbot

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

// The card is the one top-level message a failover posts. Its blocks carry IDs so that a later event can find
// and replace its part of the card after reading the message back from Slack: the card needs no memory in the
// worker, and replaying an event onto it changes nothing (votes are keyed by the event's Seq).
const (
	blockHead     = "fo-head"     // + ":" + run ID: finds the card of a run in the channel's history
	blockFacts    = "fo-facts"    // service, from → to, workflow, plan hash, who started it
	blockStatus   = "fo-status"   // one line: what the failover is doing or how it ended
	blockStep     = "fo-step"     // + ":" + step: the results before the decision (detect, readiness)
	blockEvidence = "fo-evidence" // detection evidence (alert, failed probes)
	blockPreview  = "fo-preview"  // what will change (the dry-run diff)
	blockQuestion = "fo-question" // the decision asked, then who decided
	blockActions  = "fo-actions"  // Approve / Reject, only while a decision is pending
	blockAbort    = "fo-abort"    // the Abort button (with a confirm dialog), until the failover ends or is aborted
	blockPaused   = "fo-paused"   // who paused the failover, while it is paused
	blockVote     = "fo-vote"     // + ":" + Seq + ":" + decision kind: one line per vote or policy decision
	blockOutcome  = "fo-outcome"  // the final outcome and RTO
	blockEvent    = "fo-ev"       // + ":" + Seq: first block of a thread reply, to spot a duplicate after a retry
)

// cardOrder places a block among the others by the prefix of its ID.
var cardOrder = []string{blockHead, blockFacts, blockStatus, blockPaused, blockStep, blockEvidence, blockPreview,
	blockQuestion, blockActions, blockVote, blockAbort, blockOutcome}

// Action IDs of the buttons.
const (
	ActionApprove = "failover-approve"
	ActionReject  = "failover-reject"
	ActionAbort   = "failover-abort" // value: a ButtonValue of Kind workflows.ControlKind
)

// questionPrefix starts the question block while it is open.
const questionPrefix = "*Decision needed* "

// maxVotes bounds the vote lines on a card (Slack allows 50 blocks per message); fit may keep fewer.
const maxVotes = 30

// ButtonValue is what a button carries: it binds a click to one decision (Kind) of one failover run, under the
// plan it was shown with. A click on an earlier failover's message names another run or plan and changes nothing.
type ButtonValue struct {
	WorkflowID string                 `json:"w"`
	RunID      string                 `json:"r"`
	PlanHash   string                 `json:"h"`
	Kind       workflows.DecisionKind `json:"k"`
}

// Encode renders the value as the button's value (JSON; Slack allows 2000 characters). HTML is not escaped: it
// would make "<" six characters long.
func (v ButtonValue) Encode() string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// ParseButtonValue reads a button's value; every field must be present.
func ParseButtonValue(s string) (ButtonValue, error) {
	var v ButtonValue
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return ButtonValue{}, fmt.Errorf("button value is not a failover decision: %w", err)
	}
	if v.WorkflowID == "" || v.RunID == "" || v.PlanHash == "" || v.Kind == "" {
		return ButtonValue{}, errors.New("button value is not a failover decision: workflow, run, plan hash and kind are all required")
	}
	return v, nil
}

// card is a failover's message as blocks.
type card struct {
	blocks []slack.Block
}

// newCard starts the card of e's run: header, facts and status.
func newCard(e activities.Event) *card {
	c := &card{}
	title := fmt.Sprintf("%s %s: %s → %s", titleCase(orDefault(e.Kind, "failover")), e.Service, e.From, e.To)
	if e.Drill && e.Kind != "drill" {
		title = "DRILL · " + title
	}
	c.put(slack.NewHeaderBlock(plain(title, maxHeaderText), slack.HeaderBlockOptionBlockID(blockHead+":"+e.RunID)))
	c.put(slack.NewSectionBlock(nil, []*slack.TextBlockObject{
		mrkdwn("*Service*\n" + fact(e.Service)),
		mrkdwn(fmt.Sprintf("*From → to*\n%s → %s", fact(e.From), fact(e.To))),
		mrkdwn("*Workflow*\n`" + fact(e.WorkflowID) + "`"),
		mrkdwn("*Plan hash*\n`" + fact(e.PlanHash) + "`"),
	}, nil, slack.SectionBlockOptionBlockID(blockFacts)))
	c.setStatus("🔎 Started: confirming the outage and checking the target before anything changes")
	c.putAbort(e)
	return c
}

// putAbort adds the Abort button, which asks for confirmation first: before the cutover an abort changes
// nothing, after it the failover rolls back. IDs too long for a button leave it out (`starter abort` works).
func (c *card) putAbort(e activities.Event) {
	value := ButtonValue{WorkflowID: e.WorkflowID, RunID: e.RunID, PlanHash: e.PlanHash, Kind: workflows.ControlKind}.Encode()
	if len(value) > maxButtonValue {
		return
	}
	// The card names the service; the dialog says what an abort does, whole, within maxConfirmText.
	c.put(slack.NewActionBlock(blockAbort, abortButton(value, "Abort the failover?",
		"Before the cutover, nothing is changed and the failover ends aborted; after it, everything "+
			"changed so far is rolled back. You abort as yourself.")))
}

// abortButton is the red Abort button carrying value, behind a confirm dialog (title, text) saying what it does.
func abortButton(value, title, text string) *slack.ButtonBlockElement {
	abort := slack.NewButtonBlockElement(ActionAbort, value, plain("Abort", maxButtonText)).WithStyle(slack.StyleDanger)
	abort.WithConfirm(slack.NewConfirmationBlockObject(plain(title, maxConfirmTitle),
		mrkdwn(clip(text, maxConfirmText, "")), plain("Abort", maxConfirmButton), plain("Keep going", maxConfirmButton)).
		WithStyle(slack.StyleDanger))
	return abort
}

// applyControl shows an operator's abort, pause or resume on the card: a paused failover says so and by whom
// until it is resumed; an aborted one loses its Abort button.
func (c *card) applyControl(e activities.Event) {
	switch e.Decision {
	case workflows.PauseUpdate:
		c.put(section(blockPaused, clip(fmt.Sprintf("⏸️ *Paused* by %s via %s %s, before the next change: `starter resume %s` "+
			"carries on", who(e.Actor), esc(e.Via), when(e.Time), fact(e.WorkflowID)), statusText, "")))
	case workflows.ResumeUpdate:
		c.remove(blockPaused)
	case workflows.AbortUpdate:
		c.remove(blockPaused)
		c.remove(blockAbort)
		c.setStatus(fmt.Sprintf("🛑 Aborted by %s via %s %s: stopping at the next checkpoint", who(e.Actor), esc(e.Via), when(e.Time)))
	}
}

// cardFrom reads a card back from the message Slack stored.
func cardFrom(blocks []slack.Block) *card { return &card{blocks: blocks} }

// apply folds an event into the card and reports whether the card changed. The card stays within one Slack
// message whatever the event's texts: each is cut to its budget (limits.go) and fit drops the oldest votes.
func (c *card) apply(e activities.Event) bool {
	before := c.json()
	switch e.Type {
	case activities.EventStarted:
		if e.Actor != "" {
			c.setStatus(fmt.Sprintf("🔎 Started by %s via %s: confirming the outage and checking the target before anything changes",
				who(e.Actor), esc(orDefault(e.Via, "?"))))
		}
	case activities.EventStep:
		switch e.Step {
		case workflows.StepDetect, workflows.StepHoldDown, workflows.StepReadiness:
			c.put(section(blockStep+":"+e.Step, fill(fmt.Sprintf("*%s* %s ", esc(titleCase(e.Step)), resultMark(e.Result)),
				esc(e.Detail), "", stepText, noteStatus)))
		case workflows.StepApprove:
			c.remove(blockActions) // decided, timed out or recovered: nothing left to click
			c.closeQuestion(e.Detail)
		}
	case activities.EventDecisionNeeded:
		c.applyDecisionNeeded(e)
	case activities.EventDecision:
		c.applyDecision(e)
	case activities.EventControl:
		c.applyControl(e)
	case activities.EventDrill:
		c.setStatus(drillStatus(e))
	case activities.EventOutcome:
		c.remove(blockActions)
		c.remove(blockAbort)
		c.remove(blockPaused)
		c.closeQuestion("the failover ended: " + e.Outcome)
		rto := ""
		if e.RTOSeconds > 0 {
			rto = fmt.Sprintf("\n*RTO* %s", seconds(e.RTOSeconds))
		}
		rto += slaText(e)
		c.put(section(blockOutcome, fill(fmt.Sprintf("%s *Outcome: %s*. ", outcomeMark(e.Outcome), esc(e.Outcome)), esc(e.Reason), rto,
			outcomeText, noteStatus)))
		c.setStatus(fmt.Sprintf("%s Finished %s: *%s*", outcomeMark(e.Outcome), when(e.Time), esc(e.Outcome)))
	}
	c.fit()
	return c.json() != before
}

func (c *card) applyDecisionNeeded(e activities.Event) {
	if len(e.Evidence) > 0 {
		lines, more := list(e.Evidence, evidenceText, func(l string) string { return "• " + clip(esc(l), listLineText, "") })
		c.put(section(blockEvidence, "*Detection evidence*\n"+lines+orNone("\n", more)))
	}
	if len(e.Preview) > 0 {
		lines, more := list(e.Preview, previewText, func(l string) string { return clip(codeLine(esc(l)), listLineText, "") })
		c.put(section(blockPreview, "*What will change*\n```\n"+lines+"\n```"+orNone("\n", more)))
	}
	head := fmt.Sprintf(questionPrefix+"(%s, %d of %d approvals): ", esc(e.DecisionKind), e.Have, max(e.Needed, 1))
	value := ButtonValue{WorkflowID: e.WorkflowID, RunID: e.RunID, PlanHash: e.PlanHash, Kind: e.DecisionKind}.Encode()
	if len(value) > maxButtonValue { // IDs too long for a button: the CLI still works
		c.remove(blockActions)
		c.put(section(blockQuestion, head+elide(esc(e.Question), questionText-len(head)-len(noButtons), noteStatus)+noButtons))
	} else {
		c.put(section(blockQuestion, head+elide(esc(e.Question), questionText-len(head), noteStatus)))
		c.put(slack.NewActionBlock(blockActions, decisionButtons(value, e.Question, e.Needed)...))
	}
	c.setStatus(fmt.Sprintf("⏳ Waiting for a decision since %s: %d of %d approvals", when(e.Time), e.Have, max(e.Needed, 1)))
}

func (c *card) applyDecision(e activities.Event) {
	id := blockVote + ":" + strconv.Itoa(e.Seq) + ":" + e.DecisionKind
	var line string
	switch {
	case e.Actor == "policy":
		line = fmt.Sprintf("🤖 The plan: *%s* (%s) · %s", esc(e.Decision), esc(e.Detail), when(e.Time))
	case e.Decision == workflows.ApproveUpdate:
		line = fmt.Sprintf("✅ %s approved via %s · %s · %d of %d", who(e.Actor), esc(e.Via), when(e.Time), e.Have, max(e.Needed, 1))
	default:
		line = fmt.Sprintf("❌ %s rejected via %s · %s", who(e.Actor), esc(e.Via), when(e.Time))
	}
	if e.Detail != "" && e.Actor != "policy" {
		line += " · “" + esc(e.Detail) + "”"
	}
	if !c.has(id) {
		if c.count(blockVote) >= maxVotes {
			c.remove(c.first(blockVote))
		}
		c.put(slack.NewContextBlock(id, mrkdwn(clip(line, voteText, ""))))
	}
	switch e.Result {
	case workflows.ApproveUpdate:
		c.remove(blockActions)
		c.put(section(blockQuestion, clip(fmt.Sprintf("✅ *Approved* (%s) %s, by %s", esc(e.DecisionKind), when(e.Time),
			voters(e)), questionText, "")))
		c.setStatus(fmt.Sprintf("✅ Approved %s: carrying on", when(e.Time)))
	case workflows.RejectUpdate:
		c.remove(blockActions)
		c.put(section(blockQuestion, clip(fmt.Sprintf("❌ *Rejected* (%s) %s, by %s", esc(e.DecisionKind), when(e.Time), who(e.Actor)),
			questionText, "")))
		c.setStatus(fmt.Sprintf("❌ Rejected %s by %s", when(e.Time), who(e.Actor)))
	default:
		if e.Actor != "policy" && e.Needed > 0 {
			c.setStatus(fmt.Sprintf("⏳ Waiting for a decision: %d of %d approvals", e.Have, e.Needed))
		}
	}
}

// voters renders who approved, as the workflow listed them on the deciding event (Event.Voters); an event from
// a worker that did not list them names the last voter.
func voters(e activities.Event) string {
	if len(e.Voters) == 0 {
		return who(e.Actor)
	}
	names := make([]string, len(e.Voters))
	for i, v := range e.Voters {
		names[i] = who(v)
	}
	return strings.Join(names, ", ")
}

// closeQuestion marks a question nobody answered (a timeout, a recovered source) as no longer asked.
func (c *card) closeQuestion(why string) {
	i := c.index(blockQuestion)
	if i < 0 {
		return
	}
	if s, ok := c.blocks[i].(*slack.SectionBlock); ok && s.Text != nil && strings.HasPrefix(s.Text.Text, questionPrefix) {
		c.blocks[i] = section(blockQuestion, "⌛ *No longer asked*: "+clip(esc(why), statusText, "")+
			"\n~"+clip(strings.TrimPrefix(s.Text.Text, questionPrefix), questionText-statusText, "")+"~")
	}
}

func (c *card) setStatus(text string) {
	c.put(section(blockStatus, clip("*Status* "+text, statusText, "")))
}

// fit keeps the card one message Slack takes: at most maxBlocks blocks and cardTextBudget bytes of text. The
// oldest votes go first (the audit log keeps them); then, for a card written by an earlier version with longer
// texts, the longest section is halved.
func (c *card) fit() {
	for (len(c.blocks) > maxBlocks || textBytes(c.blocks) > cardTextBudget) && c.count(blockVote) > 0 {
		c.remove(c.first(blockVote))
	}
	for textBytes(c.blocks) > cardTextBudget {
		var longest *slack.TextBlockObject
		for _, b := range c.blocks {
			if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil && (longest == nil || len(s.Text.Text) > len(longest.Text)) {
				longest = s.Text
			}
		}
		if longest == nil || len(longest.Text) < 400 {
			return
		}
		longest.Text = clip(longest.Text, len(longest.Text)/2, noteStatus)
	}
}

// textBytes counts the text of blocks the way Slack bounds a message's total (msg_blocks_too_long).
func textBytes(blocks []slack.Block) int {
	n := 0
	add := func(ts ...*slack.TextBlockObject) {
		for _, t := range ts {
			if t != nil {
				n += len(t.Text)
			}
		}
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			add(b.Text)
		case *slack.SectionBlock:
			add(b.Text)
			add(b.Fields...)
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					add(t)
				}
			}
		case *slack.ActionBlock:
			for _, e := range b.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok {
					add(btn.Text)
					if btn.Confirm != nil {
						add(btn.Confirm.Title, btn.Confirm.Text, btn.Confirm.Confirm, btn.Confirm.Deny)
					}
				}
			}
		}
	}
	return n
}

// text is the message's plain fallback (notifications, screen readers).
func (c *card) text() string {
	var parts []string
	for _, b := range c.blocks {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			if b.Text != nil {
				parts = append(parts, b.Text.Text)
			}
		case *slack.SectionBlock:
			if b.BlockID == blockStatus && b.Text != nil {
				parts = append(parts, strings.TrimPrefix(b.Text.Text, "*Status* "))
			}
		}
	}
	return strings.Join(parts, ": ")
}

func (c *card) json() string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(c.blocks)
	return b.String()
}

func (c *card) index(id string) int {
	for i, b := range c.blocks {
		if b.ID() == id {
			return i
		}
	}
	return -1
}

func (c *card) has(id string) bool { return c.index(id) >= 0 }

func (c *card) count(prefix string) int {
	n := 0
	for _, b := range c.blocks {
		if rankOf(b.ID()) == rankOf(prefix) {
			n++
		}
	}
	return n
}

func (c *card) first(prefix string) string {
	for _, b := range c.blocks {
		if rankOf(b.ID()) == rankOf(prefix) {
			return b.ID()
		}
	}
	return ""
}

// put replaces the block with b's ID, or inserts b after the blocks that come before it in cardOrder.
func (c *card) put(b slack.Block) {
	if i := c.index(b.ID()); i >= 0 {
		c.blocks[i] = b
		return
	}
	r := rankOf(b.ID())
	at := len(c.blocks)
	for i, x := range c.blocks {
		if rankOf(x.ID()) > r {
			at = i
			break
		}
	}
	c.blocks = append(c.blocks[:at], append([]slack.Block{b}, c.blocks[at:]...)...)
}

func (c *card) remove(id string) {
	if i := c.index(id); i >= 0 {
		c.blocks = append(c.blocks[:i], c.blocks[i+1:]...)
	}
}

func rankOf(id string) int {
	prefix, _, _ := strings.Cut(id, ":")
	for i, p := range cardOrder {
		if p == prefix {
			return i
		}
	}
	return len(cardOrder)
}

// reply is one thread message under the card.
type reply struct {
	text      string
	broadcast bool // also shown in the channel: only for escalations, which must reach people
	// actions are blocks after the text: the buttons of a decision asked in an evacuation's thread.
	actions []slack.Block
}

// replyFor renders the thread reply of an event, if it gets one: one per step, the decision asked, the
// escalation and the final summary. Side effects, checks, alerts and votes stay in the audit log (votes are on
// the card), so the thread stays readable.
func replyFor(e activities.Event) (reply, bool) {
	switch e.Type {
	case activities.EventStep:
		text := fmt.Sprintf("%s *%s* %s in %s", resultMark(e.Result), esc(e.Step), esc(e.Result), seconds(e.StepSeconds))
		if e.Detail != "" {
			text = fill(text+": ", esc(e.Detail), "", maxSectionText, noteStatus)
		}
		return reply{text: text}, true
	case activities.EventDecisionNeeded:
		head := fmt.Sprintf("🔔 *Decision needed* (%s, %d of %d approvals): ", esc(e.DecisionKind), e.Have, max(e.Needed, 1))
		tail := fmt.Sprintf("\nUse the buttons on the message above, or `starter approve %s --as <you>`.", fact(e.WorkflowID))
		return reply{text: head + elide(esc(e.Question), maxSectionText-len(head)-len(tail), noteStatus) + tail}, true
	case activities.EventControl:
		mark := map[string]string{workflows.AbortUpdate: "🛑", workflows.PauseUpdate: "⏸️", workflows.ResumeUpdate: "▶️"}[e.Decision]
		text := fmt.Sprintf("%s *%s* by %s via %s at step %s", mark, esc(e.Decision), clip(mention(e.Actor), factText, ""), esc(e.Via), esc(e.Step))
		if e.Detail != "" {
			text = fill(text+": ", esc(e.Detail), "", maxSectionText, noteAudit)
		}
		return reply{text: text, broadcast: e.Decision == workflows.AbortUpdate}, true
	case activities.EventEscalation:
		text := fill(fmt.Sprintf("⏫ %s *Escalation*: ", clip(mention(e.EscalateTo), factText, "")), esc(e.Detail), "", maxSectionText, noteAudit)
		return reply{text: text, broadcast: true}, true
	case activities.EventDrill:
		return drillReply(e), true
	case activities.EventDrillSchedules:
		mark := map[string]string{activities.DrillSchedulesPaused: "⏸️", activities.DrillSchedulesResumed: "▶️"}[e.Result]
		if mark == "" {
			mark = "⚠️"
		}
		return reply{text: fill(mark+" *Drill schedules*: ", esc(e.Detail), "", maxSectionText, noteAudit)}, true
	case activities.EventOutcome:
		rto := ""
		if e.RTOSeconds > 0 {
			rto = fmt.Sprintf("\n*RTO* %s (fault → traffic verified on %s)", seconds(e.RTOSeconds), fact(e.To))
		}
		rto += slaText(e)
		if len(e.StillChanged) > 0 {
			// What a human must finish, read back from etcd and Kong by the workflow: the reason says it too, but cut.
			lines, more := list(e.StillChanged, maxSectionText/2, func(l string) string { return "• " + clip(esc(l), listLineText*2, "") })
			rto += "\n*Still changed, finish by hand:*\n" + lines
			if more != "" {
				rto += "\n" + more
			}
		}
		text := fill(fmt.Sprintf("%s *Outcome: %s* · ", outcomeMark(e.Outcome), esc(e.Outcome)), esc(e.Reason), rto, maxSectionText, noteStatus)
		return reply{text: text}, true
	}
	return reply{}, false
}

// replyBlocks renders a reply; the block ID marks which event it was, so a retry can find it.
func replyBlocks(seq int, r reply) []slack.Block {
	return append([]slack.Block{section(blockEvent+":"+strconv.Itoa(seq), r.text)}, r.actions...)
}

// section is a block of mrkdwn text, cut to Slack's limit as a last guard (callers cut to their own budgets).
func section(id, text string) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwn(clip(text, maxSectionText, "")), nil, nil, slack.SectionBlockOptionBlockID(id))
}

// plain is a plain_text object cut to n bytes (the limit of where it goes).
func plain(s string, n int) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, cut(s, n), true, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// esc escapes the three characters Slack's mrkdwn treats as control characters.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// fact renders one of a run's names (service, region, workflow ID) escaped and cut to factText.
func fact(s string) string { return clip(esc(s), factText, "") }

// noButtons replaces the buttons when a run's IDs do not fit in a button's value.
const noButtons = "\n_No buttons: this run's IDs are longer than Slack lets a button carry; use `starter approve`._"

func orNone(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

var (
	userID  = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	groupID = regexp.MustCompile(`^S[A-Z0-9]{2,}$`)
)

// who renders an approver: a Slack user ID as a mention, anyone else (a CLI name) as text.
func who(s string) string {
	if userID.MatchString(s) {
		return "<@" + s + ">"
	}
	return esc(s)
}

// mention renders the plan's escalateTo so that Slack notifies it: a user group ID (S…), a user ID (U…/W…),
// here/channel, or else the text as written.
func mention(s string) string {
	s = strings.TrimSpace(s)
	switch t := strings.TrimPrefix(s, "@"); {
	case groupID.MatchString(s):
		return "<!subteam^" + s + ">"
	case userID.MatchString(s):
		return "<@" + s + ">"
	case t == "here" || t == "channel":
		return "<!" + t + ">"
	}
	return esc(s)
}

// when renders a time in each reader's own time zone, with UTC as the fallback.
func when(t time.Time) string {
	if t.IsZero() {
		return "just now"
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time_secs}|%s>", t.Unix(), t.UTC().Format(time.RFC3339))
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) + "s" }

func resultMark(result string) string {
	switch result {
	case workflows.ResultOK:
		return "✅"
	case workflows.ResultFailed:
		return "❌"
	case workflows.ResultSkipped:
		return "⏭️"
	}
	return "•"
}

func outcomeMark(outcome string) string {
	switch outcome {
	case workflows.Succeeded:
		return "🟢"
	case workflows.NotNeeded, workflows.SourceRecovered:
		return "⚪"
	case workflows.RolledBack, workflows.Rejected, workflows.TimedOut, workflows.NotReady, workflows.Fenced:
		return "🟠"
	}
	return "🔴"
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
