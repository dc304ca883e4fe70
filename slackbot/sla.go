package slackbot

import (
	"fmt"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

// slaText is an outcome's RPO estimate and SLA verdict, for the card and the thread: empty when the run has neither.
func slaText(e activities.Event) string {
	out := ""
	if e.RPOSeconds != nil {
		out += fmt.Sprintf("\n*RPO* %s (replication lag at the cutover)", workflows.RPOString(e.RPOSeconds))
	}
	if e.SLA != "" {
		mark := "✅"
		if len(e.SLABreaches) > 0 {
			mark = "🚨"
		}
		out += fmt.Sprintf("\n%s %s", mark, clip(esc(e.SLA), listLineText*2, ""))
	}
	return out
}
