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
	"net/http"
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

// ErrTooLarge is returned (wrapped) by Decode for a body over the limit.
var ErrTooLarge = errors.New("body too large")

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
}

// Name is the alert's alertname label.
func (a Alert) Name() string { return a.Labels[model.AlertNameLabel] }

// Decode reads one notification of at most limit bytes (DefaultMaxBody when limit <= 0) and checks what the
// orchestrator relies on: version 4, at least one alert, and per alert a firing/resolved status, an alertname
// label and a startsAt. Errors name the offending field; a body over the limit wraps ErrTooLarge.
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
		return Payload{}, fmt.Errorf("read body: %w", err)
	}
	return DecodeBytes(body)
}

// DecodeBytes is Decode for a body already in memory (no size limit).
func DecodeBytes(body []byte) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		return Payload{}, fmt.Errorf("malformed JSON: %w", err)
	}
	if err := p.validate(); err != nil {
		return Payload{}, err
	}
	return p, nil
}

func (p *Payload) validate() error {
	if p.Version != SupportedVersion {
		return fmt.Errorf("version %q: unsupported, want %q (the Alertmanager webhook payload version)", p.Version, SupportedVersion)
	}
	if len(p.Alerts) == 0 {
		return errors.New("alerts: empty: a notification must carry at least one alert")
	}
	var errs []error
	for i := range p.Alerts {
		a := &p.Alerts[i]
		field := fmt.Sprintf("alerts[%d]", i)
		if a.Status != Firing && a.Status != Resolved {
			errs = append(errs, fmt.Errorf("%s.status %q: want %s or %s", field, a.Status, Firing, Resolved))
		}
		if a.Name() == "" {
			errs = append(errs, fmt.Errorf("%s.labels.alertname: missing: the orchestrator routes and records alerts by it", field))
		}
		if a.StartsAt.IsZero() {
			errs = append(errs, fmt.Errorf("%s.startsAt: missing: it is when the fault began (the RTO counts from it)", field))
		}
		if a.Fingerprint == "" {
			a.Fingerprint = toLabelSet(a.Labels).Fingerprint().String()
		}
	}
	return errors.Join(errs...)
}

func toLabelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}
