package alerts

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits on what one notification may carry. Alertmanager itself bounds none of these (its webhook's max_alerts
// is 0, unlimited, by default; Prometheus' label_limit and label_value_length_limit are off by default), so the
// front door does: an alert is evidence recorded in the failover's history and status, and a few hundred bytes of
// labels identify any real alert. Cortex and Mimir, which run Alertmanager for many tenants, bound alert size
// and count the same way (alertmanager_max_alert_size_bytes, alertmanager_max_alerts_count).
const (
	// MaxAlerts is the most alerts one notification may carry; more is refused as a whole with 413. Set the
	// webhook receiver's max_alerts to it: Alertmanager then truncates (and says so in truncatedAlerts).
	MaxAlerts = 500
	// MaxLabels is the most labels one alert may carry.
	MaxLabels = 32
	// MaxLabelNameBytes and MaxLabelValueBytes bound one label.
	MaxLabelNameBytes  = 128
	MaxLabelValueBytes = 1024
	// MaxLabelBytes bounds all of one alert's label names and values together: the failover records the labels.
	MaxLabelBytes = 4096
	// MaxAnnotationValueBytes bounds one annotation value (annotations are logged, not recorded).
	MaxAnnotationValueBytes = 4096
	// MaxAnnotations is the most annotations one alert may carry.
	MaxAnnotations = 32
)

// checkLimits says which of the limits above the alert exceeds, and which of its labels or annotations are not
// UTF-8 (JSON decoding turns such bytes, and lone surrogate escapes, into U+FFFD: a label that differs from what
// the sender meant must not route or identify an alert). Nil when none.
func (a Alert) checkLimits() []string {
	var problems []string
	if len(a.Labels) > MaxLabels {
		problems = append(problems, fmt.Sprintf("labels: %d labels, the limit is %d", len(a.Labels), MaxLabels))
	}
	total := 0
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		v := a.Labels[k]
		total += len(k) + len(v)
		switch {
		case len(k) > MaxLabelNameBytes:
			problems = append(problems, fmt.Sprintf("labels: a name of %d bytes (%.20q...), the limit is %d", len(k), k, MaxLabelNameBytes))
		case len(v) > MaxLabelValueBytes:
			problems = append(problems, fmt.Sprintf("labels.%s: %d bytes, the limit is %d", k, len(v), MaxLabelValueBytes))
		}
		if !isText(k) || !isText(v) {
			problems = append(problems, fmt.Sprintf("labels.%.64s: not valid UTF-8", k))
		}
	}
	if total > MaxLabelBytes {
		problems = append(problems, fmt.Sprintf("labels: %d bytes of names and values, the limit is %d", total, MaxLabelBytes))
	}
	if len(a.Annotations) > MaxAnnotations {
		problems = append(problems, fmt.Sprintf("annotations: %d annotations, the limit is %d", len(a.Annotations), MaxAnnotations))
	}
	for _, k := range slices.Sorted(maps.Keys(a.Annotations)) {
		v := a.Annotations[k]
		if len(v) > MaxAnnotationValueBytes {
			problems = append(problems, fmt.Sprintf("annotations.%.64s: %d bytes, the limit is %d", k, len(v), MaxAnnotationValueBytes))
		}
		if !isText(k) || !isText(v) {
			problems = append(problems, fmt.Sprintf("annotations.%.64s: not valid UTF-8", k))
		}
	}
	return problems
}

// isText reports whether s is valid UTF-8 without U+FFFD, the character JSON decoding puts in place of bytes
// that are not UTF-8.
func isText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, utf8.RuneError)
}
