package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

func TestCheckRefusesWhatSlackRefuses(t *testing.T) {
	section := func(text string) slack.Block {
		return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
	}
	plain := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
	}
	button := func(text, value string, confirm *slack.ConfirmationBlockObject) slack.Block {
		b := slack.NewButtonBlockElement("a", value, plain(text))
		if confirm != nil {
			b.WithConfirm(confirm)
		}
		return slack.NewActionBlock("act", b)
	}
	confirm := func(title, text, yes, no string) *slack.ConfirmationBlockObject {
		return slack.NewConfirmationBlockObject(plain(title), slack.NewTextBlockObject(slack.MarkdownType, text, false, false), plain(yes), plain(no))
	}
	contextBlock := func(text string) slack.Block {
		return slack.NewContextBlock("ctx", slack.NewTextBlockObject(slack.MarkdownType, text, false, false))
	}
	many := func(n int, b slack.Block) []slack.Block {
		out := make([]slack.Block, n)
		for i := range out {
			out[i] = b
		}
		return out
	}
	x := strings.Repeat
	for _, tt := range []struct {
		name   string
		text   string
		blocks []slack.Block
		want   string // "" for accepted
	}{
		{"at every limit", "t", []slack.Block{
			slack.NewHeaderBlock(plain(x("h", 150))), section(x("é", 3000)), contextBlock(x("c", 3000)),
			button(x("b", 75), x("v", 2000), confirm(x("t", 100), x("x", 300), x("y", 30), x("n", 30))),
		}, ""},
		{"50 blocks", "t", many(50, section("s")), ""},
		{"51 blocks", "t", many(51, section("s")), "invalid_blocks"},
		{"section text 3,001", "t", []slack.Block{section(x("é", 3001))}, "invalid_blocks"},
		{"empty section text", "t", []slack.Block{section("")}, "invalid_blocks"},
		{"header 151", "t", []slack.Block{slack.NewHeaderBlock(plain(x("h", 151)))}, "invalid_blocks"},
		{"mrkdwn header", "t", []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.MarkdownType, "h", false, false))}, "invalid_blocks"},
		{"field 2,001", "t", []slack.Block{slack.NewSectionBlock(nil, []*slack.TextBlockObject{plain(x("f", 2001))}, nil)}, "invalid_blocks"},
		{"context element 3,001", "t", []slack.Block{contextBlock(x("c", 3001))}, "invalid_blocks"},
		{"button text 76", "t", []slack.Block{button(x("b", 76), "v", nil)}, "invalid_blocks"},
		{"button value 2,001", "t", []slack.Block{button("b", x("v", 2001), nil)}, "invalid_blocks"},
		{"confirm title 101", "t", []slack.Block{button("b", "v", confirm(x("t", 101), "x", "y", "n"))}, "invalid_blocks"},
		{"confirm text 301", "t", []slack.Block{button("b", "v", confirm("t", x("x", 301), "y", "n"))}, "invalid_blocks"},
		{"confirm label 31", "t", []slack.Block{button("b", "v", confirm("t", "x", x("y", 31), "n"))}, "invalid_blocks"},
		{"deny label 31", "t", []slack.Block{button("b", "v", confirm("t", "x", "y", x("n", 31)))}, "invalid_blocks"},
		{"block_id 256", "t", []slack.Block{slack.NewSectionBlock(plain("s"), nil, nil, slack.SectionBlockOptionBlockID(x("i", 256)))}, "invalid_blocks"},
		{"all text over 12,000", "t", many(5, section(x("s", 2500))), "msg_blocks_too_long"},
		{"message text 40,001", x("t", 40001), nil, "msg_too_long"},
		{"nothing at all", "", nil, "no_text"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			blocks := ""
			if tt.blocks != nil {
				b, err := json.Marshal(tt.blocks)
				if err != nil {
					t.Fatal(err)
				}
				blocks = string(b)
			}
			got := Check(tt.text, blocks)
			switch {
			case tt.want == "" && got != nil:
				t.Fatalf("refused: %v", got)
			case tt.want != "" && got == nil:
				t.Fatalf("accepted, want %s", tt.want)
			case tt.want != "" && got.Code != tt.want:
				t.Fatalf("refused with %v, want %s", got, tt.want)
			}
		})
	}
}

// A refused post records nothing and a refused update leaves the message as it was, with Slack's error code for
// the client to see.
func TestRefusedMessagesChangeNothing(t *testing.T) {
	f := Start(t)
	api := slack.New("xoxb-test", slack.OptionAPIURL(f.APIURL()))
	ctx := context.Background()
	long := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, strings.Repeat("x", 3001), false, false), nil, nil))

	_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("t", false), long)
	var slackErr slack.SlackErrorResponse
	if !errors.As(err, &slackErr) || slackErr.Err != "invalid_blocks" || len(slackErr.ResponseMetadata.Messages) == 0 {
		t.Fatalf("post: %v, want invalid_blocks with the reason", err)
	}
	if n := len(f.Messages("C1")); n != 0 {
		t.Fatalf("%d messages recorded after a refused post", n)
	}

	ch, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("card", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "card", false, false), nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText("changed", false), long); err == nil || !strings.Contains(err.Error(), "invalid_blocks") {
		t.Fatalf("update: %v, want invalid_blocks", err)
	}
	if m := f.Messages("C1")[0]; m.Text != "card" || m.Updates != 0 || !strings.Contains(m.AllText(), "card") {
		t.Fatalf("a refused update changed the message: %+v", m)
	}
	if _, err := api.PostEphemeralContext(ctx, "C1", "U1", slack.MsgOptionText(strings.Repeat("e", 40001), false)); err == nil || !strings.Contains(err.Error(), "msg_too_long") {
		t.Fatalf("ephemeral: %v, want msg_too_long", err)
	}
	if n := len(f.Ephemerals("U1")); n != 0 {
		t.Fatalf("%d ephemerals recorded after a refusal", n)
	}
	if n := len(f.Refusals()); n != 3 {
		t.Fatalf("%d refusals kept, want 3: %q", n, f.Refusals())
	}
}
