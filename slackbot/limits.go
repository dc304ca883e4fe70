package slackbot

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Slack refuses a whole message (invalid_blocks) when one text is too long, so a failover would lose its card
// exactly when it has the most to say. Every text the bot sends is cut to fit, here, and the limits are counted in
// bytes: Slack counts characters without saying which kind, and a UTF-8 byte count is never below any of them.
const (
	maxBlocks        = 50   // blocks in one message
	maxSectionText   = 3000 // a section's text; also any text object, such as a context element
	maxFieldText     = 2000 // one section field
	maxHeaderText    = 150  // a header
	maxButtonText    = 75   // a button's label
	maxButtonValue   = 2000 // a button's value
	maxConfirmTitle  = 100  // a confirm dialog's title
	maxConfirmText   = 300  // a confirm dialog's text
	maxConfirmButton = 30   // a confirm dialog's confirm and deny labels
)

// The card's own budgets keep all its text together well under what Slack takes in one message
// (msg_blocks_too_long, about 12,000 characters and not documented): the card is a summary, the thread replies
// carry up to a section's worth of each step, and the audit log and `starter status` have everything.
const (
	cardTextBudget = 9000 // all the card's text; the oldest votes go first when it is over
	factText       = 200  // each of service, regions, workflow ID and plan hash
	statusText     = 500
	stepText       = 500 // detect, hold-down, readiness
	evidenceText   = 1000
	previewText    = 1000
	listLineText   = 300 // one evidence or preview line
	questionText   = 1000
	outcomeText    = 800
	voteText       = 250
)

// Notes closing a cut text, saying where the rest is.
const (
	noteStatus = "\n_(truncated; full text in `starter status` and the audit log)_"
	noteAudit  = "\n_(truncated; full text in the audit log)_"
)

const ellipsis = "…"

// cut keeps plain text within n bytes, ending with an ellipsis when cut, never inside a rune.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < len(ellipsis) {
		return ""
	}
	return s[:runeStart(s, n-len(ellipsis))] + ellipsis
}

// clip keeps mrkdwn text within n bytes. A cut text ends with an ellipsis and note (when note fits in half of
// n), and the cut falls on a rune boundary, outside an entity (&amp;) or a <…> token (mentions, dates, links),
// preferably at a line end; a code block left open is closed.
func clip(s string, n int, note string) string {
	if len(s) <= n {
		return s
	}
	if len(note) > n/2 {
		note = ""
	}
	room := n - len(ellipsis) - len(note) - len("\n```")
	if room <= 0 {
		return cut(s, n)
	}
	head := safeHead(s, room)
	if strings.Count(head, "```")%2 == 1 {
		return head + ellipsis + "\n```" + note
	}
	return head + ellipsis + note
}

// elide keeps mrkdwn text within n bytes by cutting out its middle: a question ends with what to do.
func elide(s string, n int, note string) string {
	if len(s) <= n {
		return s
	}
	if len(note) > n/2 {
		note = ""
	}
	mid := " " + ellipsis + " "
	room := n - len(mid) - len(note) - len("\n```")
	if room < 40 {
		return clip(s, n, note)
	}
	head := safeHead(s, room*2/3)
	fence := ""
	if strings.Count(head, "```")%2 == 1 {
		fence = "\n```"
	}
	tail := safeTail(s, room-len(head))
	return head + fence + mid + tail + note
}

// safeHead is the longest prefix of s within n bytes that ends outside a rune, an entity and a <…> token and
// leaves no text on a partly kept line when a line ends nearby.
func safeHead(s string, n int) string {
	i := runeStart(s, n)
	head := s[:i]
	if amp := strings.LastIndexByte(head, '&'); amp >= 0 && len(head)-amp < len("&amp;") && !strings.Contains(head[amp:], ";") {
		head = head[:amp]
	}
	if lt := strings.LastIndexByte(head, '<'); lt >= 0 && !strings.Contains(head[lt:], ">") && len(head)-lt < 300 {
		head = head[:lt]
	}
	if nl := strings.LastIndexByte(head, '\n'); nl >= 0 && len(head)-nl < 80 && nl > len(head)/2 {
		head = head[:nl]
	}
	return head
}

// safeTail is the longest suffix of s within n bytes that starts outside a rune, an entity, a <…> token and a
// code block.
func safeTail(s string, n int) string {
	if n <= 0 {
		return ""
	}
	i := len(s) - n
	if i < 0 {
		i = 0
	}
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	tail := s[i:]
	if amp := strings.LastIndexByte(s[:i], '&'); amp >= 0 && i-amp < len("&amp;") && !strings.Contains(s[amp:i], ";") {
		if semi := strings.IndexByte(tail, ';'); semi >= 0 {
			tail = tail[semi+1:]
		}
	}
	if gt := strings.IndexByte(tail, '>'); gt >= 0 && !strings.Contains(tail[:gt], "<") && gt < 300 {
		tail = tail[gt+1:]
	}
	if strings.Count(tail, "```")%2 == 1 {
		tail = tail[strings.Index(tail, "```")+len("```"):]
	}
	return tail
}

// runeStart is the largest index ≤ n (and ≤ len(s)) that starts a rune of s.
func runeStart(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	if n < 0 {
		return 0
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// fill joins head, body and tail within n bytes, cutting body (mrkdwn) to what is left.
func fill(head, body, tail string, n int, note string) string {
	room := n - len(head) - len(tail)
	if room < 20 {
		return clip(head+body+tail, n, "")
	}
	return head + clip(body, room, note) + tail
}

// list renders lines as one block of text within n bytes: each line cut to listLineText, and those that do not
// fit counted in a last line.
func list(lines []string, n int, render func(string) string) (text, more string) {
	var b strings.Builder
	for i, l := range lines {
		line := render(l)
		rest := len(lines) - i - 1
		reserve := 0
		if rest > 0 {
			reserve = len(moreLine(rest + 1))
		}
		if b.Len()+len(line)+1+reserve > n {
			return strings.TrimSuffix(b.String(), "\n"), moreLine(len(lines) - i)
		}
		b.WriteString(line + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n"), ""
}

func moreLine(n int) string {
	return "… and " + strconv.Itoa(n) + " more (full list in the audit log)"
}

// codeLine makes a line safe inside a ``` block: a fence in it would end the block early.
func codeLine(s string) string {
	return strings.ReplaceAll(s, "```", "`\u200b`\u200b`")
}
