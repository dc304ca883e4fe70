package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// AlertSignal is the signal alert-triggered starts send (Signal-With-Start): the first starts the failover, every
// repeat (Alertmanager resends, HA pairs) attaches to it as evidence.
const AlertSignal = "alert"

// RegionLabel is the alert label that names the region an alert is about.
const RegionLabel = "region"

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

// AlertState is what the run knows of one alert (by fingerprint): its status now, and counts rather than copies
// of the notifications, so the status stays small however often Alertmanager repeats itself.
type AlertState struct {
	Fingerprint string            `json:"fingerprint"`
	Alertname   string            `json:"alertname"`
	Severity    string            `json:"severity,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	// Region is the alert's region label; AboutSource says whether it is about the region this run moves away
	// from. Only those alerts can end the run as source-recovered.
	Region      string    `json:"region,omitempty"`
	AboutSource bool      `json:"about_source"`
	Status      string    `json:"status"` // firing or resolved, as last reported
	StartsAt    time.Time `json:"starts_at"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	// Notifications counts every notification that carried it; Changes counts status changes after the first.
	Notifications int `json:"notifications"`
	Changes       int `json:"changes"`
}

// listenForAlerts records every alert signal. When every alert about the source is resolved before the cutover of
// an alert-started run, the source came back by itself: the failover stops with outcome source-recovered. After
// the cutover, and in runs a person started, alerts are only recorded.
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

// MaxAlertStates is how many alerts (fingerprints) one run records; the status counts the notifications of any
// more in AlertsNotRecorded, so the status query stays small however many alerts arrive. The front door bounds
// each alert's labels (package alerts, limits.go).
const MaxAlertStates = 32

// boundedAlertsChange is the workflow.GetVersion change ID of MaxAlertStates.
const boundedAlertsChange = "bounded-alerts"

func (f *failover) recordAlert(ctx workflow.Context, al Alert) {
	if f.overflows(ctx, al) {
		return
	}
	st, isNew := f.alertState(al)
	changed := !isNew && st.Status != al.Status
	st.Notifications++
	st.LastSeen = workflow.Now(ctx)
	if changed {
		st.Changes++
	}
	st.Status = al.Status
	if f.legacy {
		f.recordAlertV0(ctx, al)
		return
	}
	if (!isNew && !changed) || f.status.Outcome != "" {
		return // a repeat, or the run has its outcome and only waits for its audit records
	}
	about := "about the source"
	if !st.AboutSource {
		about = fmt.Sprintf("about %s, not the source %s: evidence only", st.Region, f.req.From)
	}
	f.emit(ctx, activities.Event{Type: activities.EventAlert, Step: f.status.Step, Result: al.Status,
		Detail: fmt.Sprintf("%s %s (fingerprint %s), %s", al.Alertname, al.Status, al.Fingerprint, about)})
	if f.mayRecover() && f.sourceAlertsResolved() {
		f.sourceRecovered = true
	}
	f.publish(ctx)
}

// overflows counts an alert that is not recorded because MaxAlertStates fingerprints are. A firing one about the
// source keeps the run from ending as source-recovered: it cannot tell that every alert on the source resolved.
func (f *failover) overflows(ctx workflow.Context, al Alert) bool {
	if f.legacy || len(f.status.Alerts) < MaxAlertStates || slices.ContainsFunc(f.status.Alerts, func(st AlertState) bool {
		return st.Fingerprint == al.Fingerprint
	}) {
		return false
	}
	if workflow.GetVersion(ctx, boundedAlertsChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return false
	}
	f.status.AlertsNotRecorded++
	if region := al.Labels[RegionLabel]; al.Status != "resolved" && (region == "" || region == f.req.From) {
		f.unrecordedSourceFiring = true
	}
	return true
}

// alertState finds the alert's record by fingerprint, or adds one.
func (f *failover) alertState(al Alert) (*AlertState, bool) {
	for i := range f.status.Alerts {
		if f.status.Alerts[i].Fingerprint == al.Fingerprint {
			return &f.status.Alerts[i], false
		}
	}
	region := al.Labels[RegionLabel]
	f.status.Alerts = append(f.status.Alerts, AlertState{Fingerprint: al.Fingerprint, Alertname: al.Alertname, Severity: al.Severity,
		Labels: al.Labels, Region: region, AboutSource: region == "" || region == f.req.From, Status: al.Status,
		StartsAt: al.StartsAt, FirstSeen: al.ReceivedAt})
	return &f.status.Alerts[len(f.status.Alerts)-1], true
}

// mayRecover: only a run an alert (or the watcher) started ends by itself when its alerts resolve, and only before the cutover. A
// person's start (--force or not) is a person's decision; they reject or cancel it.
func (f *failover) mayRecover() bool {
	return !f.changesBegan && f.req.Trigger.Automatic() && !f.req.Force
}

// sourceAlertsResolved reports whether every alert about the source is resolved now (at least one seen): one
// resolved alert must not abort a failover while another alert on the source still fires.
func (f *failover) sourceAlertsResolved() bool {
	if f.unrecordedSourceFiring {
		return false
	}
	seen := false
	for _, st := range f.status.Alerts {
		if !st.AboutSource {
			continue
		}
		if st.Status != "resolved" {
			return false
		}
		seen = true
	}
	return seen
}

// recovered stops the failover if the source recovered before anything changed.
func (f *failover) recovered(ctx workflow.Context) *stop {
	if !f.sourceRecovered {
		return nil
	}
	if f.status.Steps != nil && f.status.Steps[len(f.status.Steps)-1].Ended.IsZero() {
		f.end(ctx, ResultFailed, "the source recovered")
	}
	by := "Alertmanager reported the alert"
	if f.req.Trigger.Source == TriggerWatcher {
		by = "the region watcher reported"
	}
	return &stop{SourceRecovered, fmt.Sprintf("%s on %s resolved before the cutover; nothing changed", by, f.req.From)}
}
