package slackfake

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Slack's limits on a message, as its Block Kit reference documents them (docs.slack.dev, reference/block-kit;
// any text object holds 1 to 3,000 characters unless its field says less). Slack refuses a message breaking one
// and posts or changes nothing; so does the fake.
const (
	MaxBlocks        = 50    // blocks in one message
	MaxText          = 3000  // any text object: section text, a context element
	MaxField         = 2000  // one section field
	MaxFields        = 10    // fields in one section
	MaxHeader        = 150   // header text
	MaxButtonText    = 75    // button label
	MaxButtonValue   = 2000  // button value
	MaxConfirmTitle  = 100   // confirm dialog title
	MaxConfirmText   = 300   // confirm dialog text
	MaxConfirmButton = 30    // confirm dialog's confirm and deny labels
	MaxContextItems  = 10    // elements in one context block
	MaxActionItems   = 25    // elements in one actions block
	MaxID            = 255   // block_id, action_id
	MaxMessageText   = 40000 // the text argument: Slack cuts longer text or answers msg_too_long; the fake refuses

	// MaxBlocksText bounds all the text of a message's blocks together. It is not in Slack's reference:
	// chat.postMessage answers msg_blocks_too_long above a total Slack's engineers gave as "12,000 text
	// characters with a buffer for block containers" (slackapi/bolt-js#2509, #2867). The fake sums the
	// characters of every text object.
	MaxBlocksText = 12000
)

const errInvalidBlocks = "invalid_blocks"

// Refusal is Slack's answer to a message it will not take.
type Refusal struct {
	Code   string   // invalid_blocks, msg_blocks_too_long, msg_too_long, no_text
	Errors []string // what is wrong and where, as Slack words it
}

func (r *Refusal) Error() string { return r.Code + ": " + strings.Join(r.Errors, "; ") }

// Check reports whether Slack would take a message with this text and these blocks (the JSON array sent as the
// blocks argument, "" for none), and if not, why. Characters are counted as Unicode code points.
func Check(text, blocks string) *Refusal {
	if n := chars(text); n > MaxMessageText {
		return &Refusal{Code: "msg_too_long", Errors: []string{fmt.Sprintf("text has %d characters, more than %d", n, MaxMessageText)}}
	}
	if blocks == "" {
		if strings.TrimSpace(text) == "" {
			return &Refusal{Code: "no_text", Errors: []string{"neither text nor blocks"}}
		}
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(blocks), &list); err != nil {
		return &Refusal{Code: "invalid_blocks_format", Errors: []string{err.Error()}}
	}
	v := &validator{}
	if len(list) > MaxBlocks {
		v.failf("/blocks", "must have no more than %d items (has %d)", MaxBlocks, len(list))
	}
	for i, raw := range list {
		var b map[string]any
		if err := json.Unmarshal(raw, &b); err != nil {
			v.failf(fmt.Sprintf("/blocks/%d", i), "must be an object")
			continue
		}
		v.block(fmt.Sprintf("/blocks/%d", i), b)
	}
	if len(v.errors) > 0 {
		return &Refusal{Code: errInvalidBlocks, Errors: v.errors}
	}
	if v.total > MaxBlocksText {
		return &Refusal{Code: "msg_blocks_too_long", Errors: []string{fmt.Sprintf("the blocks hold %d characters of text, more than %d", v.total, MaxBlocksText)}}
	}
	return nil
}

type validator struct {
	errors []string
	total  int // characters of text in all the blocks
}

// failf words a problem the way Slack does: "must be … [json-pointer:/blocks/0/text/text]".
func (v *validator) failf(at, format string, args ...any) {
	v.errors = append(v.errors, fmt.Sprintf(format, args...)+" [json-pointer:"+at+"]")
}

func (v *validator) block(at string, b map[string]any) {
	if id, ok := b["block_id"].(string); ok {
		v.length(at+"/block_id", id, 1, MaxID)
	}
	switch typ, _ := b["type"].(string); typ {
	case "header":
		v.text(at+"/text", b["text"], MaxHeader, true)
	case "section":
		_, hasText := b["text"]
		fields, _ := b["fields"].([]any)
		if !hasText && len(fields) == 0 {
			v.failf(at, "must have text or fields")
		}
		if hasText {
			v.text(at+"/text", b["text"], MaxText, false)
		}
		if len(fields) > MaxFields {
			v.failf(at+"/fields", "must have no more than %d items", MaxFields)
		}
		for i, f := range fields {
			v.text(fmt.Sprintf("%s/fields/%d", at, i), f, MaxField, false)
		}
		if acc, ok := b["accessory"].(map[string]any); ok {
			v.element(at+"/accessory", acc)
		}
	case "context":
		els, _ := b["elements"].([]any)
		v.items(at+"/elements", len(els), MaxContextItems)
		for i, e := range els {
			if m, ok := e.(map[string]any); ok && m["type"] == "image" {
				continue
			}
			v.text(fmt.Sprintf("%s/elements/%d", at, i), e, MaxText, false)
		}
	case "actions":
		els, _ := b["elements"].([]any)
		v.items(at+"/elements", len(els), MaxActionItems)
		for i, e := range els {
			m, _ := e.(map[string]any)
			v.element(fmt.Sprintf("%s/elements/%d", at, i), m)
		}
	case "divider", "image", "rich_text":
	default:
		v.failf(at+"/type", "must be a known block type (got %q)", typ)
	}
}

// element checks an interactive element; the fake knows buttons only, as the bot sends nothing else.
func (v *validator) element(at string, e map[string]any) {
	if e["type"] != "button" {
		v.failf(at+"/type", "must be a known element type (got %v)", e["type"])
		return
	}
	v.text(at+"/text", e["text"], MaxButtonText, true)
	if id, ok := e["action_id"].(string); ok {
		v.length(at+"/action_id", id, 1, MaxID)
	}
	if val, ok := e["value"].(string); ok {
		v.length(at+"/value", val, 1, MaxButtonValue)
	}
	if c, ok := e["confirm"].(map[string]any); ok {
		v.text(at+"/confirm/title", c["title"], MaxConfirmTitle, true)
		v.text(at+"/confirm/text", c["text"], MaxConfirmText, false)
		v.text(at+"/confirm/confirm", c["confirm"], MaxConfirmButton, true)
		v.text(at+"/confirm/deny", c["deny"], MaxConfirmButton, true)
	}
}

// text checks a text object: plain_text or mrkdwn (plain_text only where plainOnly), 1 to limit characters.
func (v *validator) text(at string, obj any, limit int, plainOnly bool) {
	t, ok := obj.(map[string]any)
	if !ok {
		v.failf(at, "must be a text object")
		return
	}
	switch t["type"] {
	case "plain_text":
	case "mrkdwn":
		if plainOnly {
			v.failf(at+"/type", "must be plain_text")
		}
	default:
		v.failf(at+"/type", "must be plain_text or mrkdwn")
	}
	s, _ := t["text"].(string)
	v.length(at+"/text", s, 1, limit)
	v.total += chars(s)
}

func (v *validator) length(at, s string, lo, hi int) {
	switch n := chars(s); {
	case n < lo:
		v.failf(at, "must be more than %d characters", lo-1)
	case n > hi:
		v.failf(at, "must be less than %d characters (has %d)", hi+1, n)
	}
}

func (v *validator) items(at string, n, hi int) {
	switch {
	case n == 0:
		v.failf(at, "must have at least 1 item")
	case n > hi:
		v.failf(at, "must have no more than %d items (has %d)", hi, n)
	}
}

func chars(s string) int { return utf8.RuneCountInString(s) }
