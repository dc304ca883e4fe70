// Package alerts is the orchestrator's Alertmanager front door. It decodes webhook notifications (payload version
// 4), routes each alert to a service's failover plan, and starts or joins that service's failover workflow with
// Signal-With-Start, so Alertmanager's resends and an HA pair's duplicates attach to the running failover as
// evidence instead of starting a second one.
package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// DefaultMaxBody bounds a webhook body. Alertmanager sends every alert of a group in one post (max_alerts: 0 is
// unlimited); a megabyte holds a few thousand alerts, far more than one service's outage raises.
const DefaultMaxBody = 1 << 20

// SupportedVersion is the webhook payload version this decoder understands.
const SupportedVersion = "4"

// Alert statuses.
const (
	Firing   = "firing"
	Resolved = "resolved"
)

// ErrTooLarge is returned (wrapped) by Decode for a body over the limit or more than MaxAlerts alerts.
var ErrTooLarge = errors.New("body too large")

// ErrUnreadable is returned (wrapped) by Decode when the body cannot be read to its end (the connection broke or
// timed out): not the notification's fault, so the handler answers 503 and Alertmanager sends it again.
var ErrUnreadable = errors.New("read body")

// Payload is an Alertmanager webhook notification. Decoding ignores unknown fields: newer Alertmanagers add some
// (truncatedAlerts, notification_reason, routeLabels, ...).
type Payload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a notification.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	// Fingerprint identifies the alert by its labels; Decode computes it (as Alertmanager does) when absent.
	Fingerprint string `json:"fingerprint"`

	// decodeErr is why Decode could not read this alert (a field of the wrong type); Validate reports it.
	decodeErr error
}

// Name is the alert's alertname label.
func (a Alert) Name() string { return a.Labels[model.AlertNameLabel] }

// Decode reads one notification of at most limit bytes (DefaultMaxBody when limit <= 0) and checks its envelope:
// JSON, version 4, at least one and at most MaxAlerts alerts. Errors name the offending field; a body over the
// limit, or more than MaxAlerts alerts, wraps ErrTooLarge; a body that cannot be read to its end wraps ErrUnreadable.
// A bad alert is not an error of the notification: Alertmanager drops a notification answered 4xx, with every
// valid alert in it, so each alert is checked on its own by Alert.Validate.
func Decode(r io.Reader, limit int64) (Payload, error) {
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr) || int64(len(body)) > limit:
		return Payload{}, fmt.Errorf("%w: the limit is %d bytes (lower the receiver's max_alerts)", ErrTooLarge, limit)
	case err != nil:
		return Payload{}, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	return DecodeBytes(body)
}

// DecodeBytes is Decode for a body already in memory (no size limit).
func DecodeBytes(body []byte) (Payload, error) {
	// The envelope first, with the alerts left raw: one alert with a field of the wrong type must not make the
	// whole notification unreadable. (The outer Alerts field hides the embedded Payload's.)
	var wire struct {
		Payload
		Alerts []json.RawMessage `json:"alerts"`
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		return Payload{}, fmt.Errorf("malformed JSON: %w", err)
	}
	p := wire.Payload
	if p.Version != SupportedVersion {
		return Payload{}, fmt.Errorf("version %q: unsupported, want %q (the Alertmanager webhook payload version)", p.Version, SupportedVersion)
	}
	if len(wire.Alerts) == 0 {
		return Payload{}, errors.New("alerts: empty: a notification must carry at least one alert")
	}
	if len(wire.Alerts) > MaxAlerts {
		return Payload{}, fmt.Errorf("%w: alerts: %d alerts, the limit is %d (set the webhook receiver's max_alerts to %d)",
			ErrTooLarge, len(wire.Alerts), MaxAlerts, MaxAlerts)
	}
	p.Alerts = make([]Alert, len(wire.Alerts))
	for i, raw := range wire.Alerts {
		a := &p.Alerts[i]
		*a, a.decodeErr = decodeAlert(raw)
		if a.Fingerprint == "" {
			a.Fingerprint = toLabelSet(a.Labels).Fingerprint().String()
		}
	}
	return p, nil
}

// decodeAlert decodes one alert; on failure it returns what it could read and an error naming the field.
func decodeAlert(raw json.RawMessage) (Alert, error) {
	var a Alert
	err := json.Unmarshal(raw, &a)
	if err == nil {
		return a, nil
	}
	// encoding/json does not say which field a failing UnmarshalJSON (a bad time) belongs to: find it by decoding
	// the fields one at a time.
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) == nil {
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			one, _ := json.Marshal(map[string]json.RawMessage{k: fields[k]})
			if ferr := json.Unmarshal(one, new(Alert)); ferr != nil {
				return a, fmt.Errorf("%s: %w", k, ferr)
			}
		}
	}
	return a, err
}

// Validate says why the orchestrator cannot act on the alert as sent, naming each field: it needs a firing or
// resolved status, an alertname label and a startsAt, each of the right type, and labels and annotations of UTF-8
// text within the limits (limits.go). Nil when it can.
func (a Alert) Validate() error {
	if a.decodeErr != nil {
		// What follows the bad field was not read: checking it would report problems the sender did not make.
		return a.decodeErr
	}
	var problems []string
	if a.Status != Firing && a.Status != Resolved {
		problems = append(problems, fmt.Sprintf("status %q: want %s or %s", a.Status, Firing, Resolved))
	}
	if a.Name() == "" {
		problems = append(problems, "labels.alertname: missing: the orchestrator routes and records alerts by it")
	}
	if a.StartsAt.IsZero() {
		problems = append(problems, "startsAt: missing: it is when the fault began (the RTO counts from it)")
	}
	problems = append(problems, a.checkLimits()...)
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

func toLabelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}
