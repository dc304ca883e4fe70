package slackbot

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	blockVote     = "fo-vote"     // + ":" + Seq + ":" + decision kind: one line per vote or policy decision
	blockOutcome  = "fo-outcome"  // the final outcome and RTO
	blockEvent    = "fo-ev"       // + ":" + Seq: first block of a thread reply, to spot a duplicate after a retry
)

// cardOrder places a block among the others by the prefix of its ID.
var cardOrder = []string{blockHead, blockFacts, blockStatus, blockStep, blockEvidence, blockPreview, blockQuestion,
	blockActions, blockVote, blockOutcome}

// Action IDs of the two buttons.
const (
	ActionApprove = "failover-approve"
	ActionReject  = "failover-reject"
)

// questionPrefix starts the question block while it is open.
const questionPrefix = "*Decision needed* "

// maxVotes bounds the vote lines on a card (Slack allows 50 blocks per message).
const maxVotes = 30

// ButtonValue is what a button carries: it binds a click to one decision (Kind) of one failover run, under the
// plan it was shown with. A click on an earlier failover's message names another run or plan and changes nothing.
type ButtonValue struct {
	WorkflowID string `json:"w"`
	RunID      string `json:"r"`
	PlanHash   string `json:"h"`
	Kind       string `json:"k"`
}

// Encode renders the value as the button's value (JSON; Slack allows 2000 characters).
func (v ButtonValue) Encode() string {
	b, _ := json.Marshal(v)
	return string(b)
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
	c.put(slack.NewHeaderBlock(plain(title), slack.HeaderBlockOptionBlockID(blockHead+":"+e.RunID)))
	c.put(slack.NewSectionBlock(nil, []*slack.TextBlockObject{
		mrkdwn("*Service*\n" + esc(e.Service)),
		mrkdwn(fmt.Sprintf("*From → to*\n%s → %s", esc(e.From), esc(e.To))),
		mrkdwn("*Workflow*\n`" + esc(e.WorkflowID) + "`"),
		mrkdwn("*Plan hash*\n`" + esc(e.PlanHash) + "`"),
	}, nil, slack.SectionBlockOptionBlockID(blockFacts)))
	c.setStatus("🔎 Started: confirming the outage and checking the target before anything changes")
	return c
}

// cardFrom reads a card back from the message Slack stored.
func cardFrom(blocks []slack.Block) *card { return &card{blocks: blocks} }

// apply folds an event into the card and reports whether the card changed.
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
		case "detect", "hold-down", "readiness":
			c.put(section(blockStep+":"+e.Step, fmt.Sprintf("*%s* %s %s", esc(titleCase(e.Step)), resultMark(e.Result), truncate(esc(e.Detail), 2800))))
		case "approve":
			c.remove(blockActions) // decided, timed out or recovered: nothing left to click
			c.closeQuestion(e.Detail)
		}
	case activities.EventDecisionNeeded:
		c.applyDecisionNeeded(e)
	case activities.EventDecision:
		c.applyDecision(e)
	case activities.EventOutcome:
		c.remove(blockActions)
		c.closeQuestion("the failover ended: " + e.Outcome)
		text := fmt.Sprintf("%s *Outcome: %s*. %s", outcomeMark(e.Outcome), esc(e.Outcome), truncate(esc(e.Reason), 2500))
		if e.RTOSeconds > 0 {
			text += fmt.Sprintf("\n*RTO* %s", seconds(e.RTOSeconds))
		}
		c.put(section(blockOutcome, text))
		c.setStatus(fmt.Sprintf("%s Finished %s: *%s*", outcomeMark(e.Outcome), when(e.Time), esc(e.Outcome)))
	}
	return c.json() != before
}

func (c *card) applyDecisionNeeded(e activities.Event) {
	if len(e.Evidence) > 0 {
		c.put(section(blockEvidence, "*Detection evidence*\n"+truncate(bullets(e.Evidence), 2900)))
	}
	if len(e.Preview) > 0 {
		c.put(section(blockPreview, "*What will change*\n```"+truncate(esc(strings.Join(e.Preview, "\n")), 2850)+"```"))
	}
	c.put(section(blockQuestion, fmt.Sprintf(questionPrefix+"(%s, %d of %d approvals): %s",
		esc(e.DecisionKind), e.Have, max(e.Needed, 1), esc(e.Question))))
	value := ButtonValue{WorkflowID: e.WorkflowID, RunID: e.RunID, PlanHash: e.PlanHash, Kind: e.DecisionKind}.Encode()
	approve := slack.NewButtonBlockElement(ActionApprove, value, plain("Approve")).WithStyle(slack.StylePrimary)
	approve.WithConfirm(slack.NewConfirmationBlockObject(plain("Approve?"),
		mrkdwn(fmt.Sprintf("%s — you are approving as yourself (%d needed).", esc(e.Question), max(e.Needed, 1))),
		plain("Approve"), plain("Cancel")))
	reject := slack.NewButtonBlockElement(ActionReject, value, plain("Reject")).WithStyle(slack.StyleDanger)
	c.put(slack.NewActionBlock(blockActions, approve, reject))
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
		line += " · “" + truncate(esc(e.Detail), 300) + "”"
	}
	if !c.has(id) {
		if c.count(blockVote) >= maxVotes {
			c.remove(c.first(blockVote))
		}
		c.put(slack.NewContextBlock(id, mrkdwn(line)))
	}
	switch e.Result {
	case workflows.ApproveUpdate:
		c.remove(blockActions)
		c.put(section(blockQuestion, fmt.Sprintf("✅ *Approved* (%s) %s, by %s", esc(e.DecisionKind), when(e.Time), c.voters(workflows.ApproveUpdate, e.DecisionKind))))
		c.setStatus(fmt.Sprintf("✅ Approved %s: carrying on", when(e.Time)))
	case workflows.RejectUpdate:
		c.remove(blockActions)
		c.put(section(blockQuestion, fmt.Sprintf("❌ *Rejected* (%s) %s, by %s", esc(e.DecisionKind), when(e.Time), who(e.Actor))))
		c.setStatus(fmt.Sprintf("❌ Rejected %s by %s", when(e.Time), who(e.Actor)))
	default:
		if e.Actor != "policy" && e.Needed > 0 {
			c.setStatus(fmt.Sprintf("⏳ Waiting for a decision: %d of %d approvals", e.Have, e.Needed))
		}
	}
}

// voters lists, from the vote lines of one decision kind, who voted decision (mentions as rendered).
func (c *card) voters(decision, kind string) string {
	mark := map[string]string{workflows.ApproveUpdate: "✅ ", workflows.RejectUpdate: "❌ "}[decision]
	var names []string
	for _, b := range c.blocks {
		cb, ok := b.(*slack.ContextBlock)
		if !ok || !strings.HasPrefix(cb.BlockID, blockVote+":") || !strings.HasSuffix(cb.BlockID, ":"+kind) ||
			len(cb.ContextElements.Elements) == 0 {
			continue
		}
		if t, ok := cb.ContextElements.Elements[0].(*slack.TextBlockObject); ok && strings.HasPrefix(t.Text, mark) {
			names = append(names, strings.SplitN(strings.TrimPrefix(t.Text, mark), " ", 2)[0])
		}
	}
	if len(names) == 0 {
		return "?"
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
		c.blocks[i] = section(blockQuestion, "⌛ *No longer asked*: "+truncate(esc(why), 2000)+
			"\n~"+truncate(strings.TrimPrefix(s.Text.Text, questionPrefix), 900)+"~")
	}
}

func (c *card) setStatus(text string) { c.put(section(blockStatus, "*Status* "+text)) }

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
}

// replyFor renders the thread reply of an event, if it gets one: one per step, the decision asked, the
// escalation and the final summary. Side effects, checks, alerts and votes stay in the audit log (votes are on
// the card), so the thread stays readable.
func replyFor(e activities.Event) (reply, bool) {
	switch e.Type {
	case activities.EventStep:
		text := fmt.Sprintf("%s *%s* %s in %s", resultMark(e.Result), esc(e.Step), esc(e.Result), seconds(e.StepSeconds))
		if e.Detail != "" {
			text += ": " + truncate(esc(e.Detail), 2800)
		}
		return reply{text: text}, true
	case activities.EventDecisionNeeded:
		return reply{text: fmt.Sprintf("🔔 *Decision needed* (%s, %d of %d approvals): %s\nUse the buttons on the message above, or `starter approve %s --as <you>`.",
			esc(e.DecisionKind), e.Have, max(e.Needed, 1), esc(e.Question), esc(e.WorkflowID))}, true
	case activities.EventEscalation:
		text := fmt.Sprintf("⏫ %s *Escalation*: %s", mention(e.EscalateTo), truncate(esc(e.Detail), 2800))
		return reply{text: text, broadcast: true}, true
	case activities.EventOutcome:
		text := fmt.Sprintf("%s *Outcome: %s* · %s", outcomeMark(e.Outcome), esc(e.Outcome), truncate(esc(e.Reason), 2800))
		if e.RTOSeconds > 0 {
			text += fmt.Sprintf("\n*RTO* %s (fault → traffic verified on %s)", seconds(e.RTOSeconds), esc(e.To))
		}
		return reply{text: text}, true
	}
	return reply{}, false
}

// replyBlocks renders a reply; the block ID marks which event it was, so a retry can find it.
func replyBlocks(seq int, r reply) []slack.Block {
	return []slack.Block{section(blockEvent+":"+strconv.Itoa(seq), r.text)}
}

func section(id, text string) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwn(text), nil, nil, slack.SectionBlockOptionBlockID(id))
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, truncate(s, 150), true, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// esc escapes the three characters Slack's mrkdwn treats as control characters.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func bullets(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("• " + esc(l) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// truncate keeps s within n bytes (Slack's text limits), on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
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
	case "ok":
		return "✅"
	case "failed":
		return "❌"
	case "skipped":
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
