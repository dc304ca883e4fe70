package slackbot

import (
	"fmt"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

// drillMark is a drill verdict's emoji: a drill that failed or missed its SLA stands out.
func drillMark(verdict string) string {
	if verdict == workflows.DrillPassed {
		return "✅"
	}
	return "🚨"
}

// drillStatus is the drill card's status line.
func drillStatus(e activities.Event) string {
	return fmt.Sprintf("%s DRILL finished %s: *%s*", drillMark(e.Outcome), when(e.Time), esc(e.Outcome))
}

// drillReply is the drill report in the thread: the verdict, each phase's RTO/RPO vs the SLA and what needed a human.
// A failed or breaching drill is also shown in the channel.
func drillReply(e activities.Event) reply {
	lines, more := list(e.Evidence, maxSectionText/2, func(l string) string { return "• " + clip(esc(l), listLineText*2, "") })
	text := fill(fmt.Sprintf("%s *DRILL %s* · ", drillMark(e.Outcome), esc(e.Outcome)), esc(e.Reason), "\n"+lines+orNone("\n", more),
		maxSectionText, noteAudit)
	return reply{text: text, broadcast: e.Outcome != workflows.DrillPassed}
}
