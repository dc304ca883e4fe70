package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// AlertSignal is the signal alert-triggered starts send (Signal-With-Start): the first starts the failover, every
// repeat (Alertmanager resends, HA pairs) attaches to it as evidence.
const AlertSignal = "alert"

// Alert is one Alertmanager alert as the webhook received it.
type Alert struct {
	Status      string            `json:"status"` // firing or resolved
	Alertname   string            `json:"alertname"`
	Fingerprint string            `json:"fingerprint"`
	GroupKey    string            `json:"group_key"`
	Severity    string            `json:"severity,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      time.Time         `json:"ends_at,omitempty"`
	ReceivedAt  time.Time         `json:"received_at"`
	// Repeats counts how many more times this same alert (fingerprint and status) arrived.
	Repeats int `json:"repeats"`
}

// listenForAlerts records every alert signal. A "resolved" that arrives before the cutover means the source came
// back by itself: the failover stops with outcome source-recovered. After the cutover it is only recorded.
func (f *failover) listenForAlerts(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, AlertSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var al Alert
			if more := ch.Receive(ctx, &al); !more {
				return
			}
			f.recordAlert(ctx, al)
		}
	})
}

func (f *failover) recordAlert(ctx workflow.Context, al Alert) {
	for i := range f.status.Alerts {
		seen := &f.status.Alerts[i]
		if seen.Fingerprint == al.Fingerprint && seen.Status == al.Status {
			seen.Repeats++
			return
		}
	}
	f.status.Alerts = append(f.status.Alerts, al)
	f.emit(ctx, activities.Event{Type: activities.EventAlert, Step: f.status.Step, Result: al.Status,
		Detail: fmt.Sprintf("%s %s (fingerprint %s)", al.Alertname, al.Status, al.Fingerprint)})
	if al.Status == "resolved" && !f.changesBegan && f.allResolved() {
		f.sourceRecovered = true
	}
	f.publish(ctx)
}

// allResolved reports whether every alert seen (by fingerprint) was last reported resolved: one resolved alert
// must not abort a failover while another alert on the source still fires.
func (f *failover) allResolved() bool {
	last := map[string]string{}
	for _, al := range f.status.Alerts {
		last[al.Fingerprint] = al.Status
	}
	for _, status := range last {
		if status != "resolved" {
			return false
		}
	}
	return true
}

// recovered stops the failover if the source recovered before anything changed.
func (f *failover) recovered(ctx workflow.Context) *stop {
	if !f.sourceRecovered {
		return nil
	}
	if f.status.Steps != nil && f.status.Steps[len(f.status.Steps)-1].Ended.IsZero() {
		f.end(ctx, "failed", "the source recovered")
	}
	return &stop{SourceRecovered, fmt.Sprintf("Alertmanager reported the alert on %s resolved before the cutover; nothing changed", f.req.From)}
}
