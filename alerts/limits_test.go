package alerts

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLimitsRejectOneAlert: each limit on one alert rejects that alert with a reason naming the field and the
// limit; nothing is started for it and its valid sibling is still delivered.
func TestLimitsRejectOneAlert(t *testing.T) {
	manyLabels := map[string]any{"alertname": "BackendDown", "service": "payments", "region": "us-east"}
	for i := range MaxLabels {
		manyLabels[fmt.Sprintf("l%02d", i)] = "x"
	}
	tests := []struct {
		name, want string
		edit       func(a map[string]any)
	}{
		{"label value", "labels.service: 1025 bytes, the limit is 1024", func(a map[string]any) {
			a["labels"].(map[string]any)["service"] = strings.Repeat("p", MaxLabelValueBytes+1)
		}},
		{"label name", "labels: a name of 129 bytes", func(a map[string]any) {
			a["labels"].(map[string]any)[strings.Repeat("n", MaxLabelNameBytes+1)] = "v"
		}},
		{"labels", "labels: 35 labels, the limit is 32", func(a map[string]any) { a["labels"] = manyLabels }},
		{"label bytes", "labels: 5", func(a map[string]any) {
			for i := range 5 {
				a["labels"].(map[string]any)[fmt.Sprintf("big%d", i)] = strings.Repeat("b", MaxLabelValueBytes)
			}
		}},
		{"annotation value", "annotations.summary: 4097 bytes, the limit is 4096", func(a map[string]any) {
			a["annotations"] = map[string]any{"summary": strings.Repeat("s", MaxAnnotationValueBytes+1)}
		}},
		{"annotations", "annotations: 33 annotations, the limit is 32", func(a map[string]any) {
			many := map[string]any{}
			for i := range MaxAnnotations + 1 {
				many[fmt.Sprintf("a%02d", i)] = "x"
			}
			a["annotations"] = many
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, nil)
			body := edit(t, capturedBody(t, "firing.json"), func(m map[string]any) {
				good := firstAlert(m)
				bad := map[string]any{}
				for k, v := range good {
					bad[k] = v
				}
				labels := map[string]any{}
				for k, v := range good["labels"].(map[string]any) {
					labels[k] = v
				}
				bad["labels"] = labels
				delete(bad, "fingerprint")
				tt.edit(bad)
				m["alerts"] = []any{bad, good}
			})
			rec, resp := fx.post(t, body, nil)
			if rec.Code != http.StatusOK || len(resp.Alerts) != 2 {
				t.Fatalf("%d %.300s", rec.Code, rec.Body)
			}
			if r := resp.Alerts[0]; r.Action != ActionRejected || !strings.Contains(r.Reason, tt.want) || r.RunID != "" {
				t.Fatalf("bad alert: %+v, want rejected with %q", r, tt.want)
			}
			if r := resp.Alerts[1]; r.Action != ActionStarted {
				t.Fatalf("its valid sibling: %+v, want started", r)
			}
		})
	}
}

// TestNonUTF8BytesAreRejected: raw bytes that are not UTF-8, or a lone surrogate escape, in a label value reject
// the alert (JSON decoding would have stored either as U+FFFD).
func TestNonUTF8BytesAreRejected(t *testing.T) {
	for _, bad := range []string{"pay\xffments", `pay\udc80ments`} {
		fx := newFixture(t, nil)
		body := payload(t, "firing.json", time.Time{}, map[string]string{"service": "PAYMENTS"})
		body = bytes.Replace(body, []byte("PAYMENTS"), []byte(bad), 1)
		rec, resp := fx.post(t, body, nil)
		if rec.Code != http.StatusOK || len(resp.Alerts) != 1 {
			t.Fatalf("%q: %d %s", bad, rec.Code, rec.Body)
		}
		if r := resp.Alerts[0]; r.Action != ActionRejected || !strings.Contains(r.Reason, "labels.service: not valid UTF-8") {
			t.Fatalf("%q: %+v, want rejected as not UTF-8", bad, r)
		}
		if runs := fx.fake.snapshot("failover-payments"); len(runs) != 0 {
			t.Fatalf("%q: %d runs started", bad, len(runs))
		}
	}
}

// TestTooManyAlertsIs413: more than MaxAlerts alerts in one notification is refused as a whole, with a short body
// that says how to configure Alertmanager.
func TestTooManyAlertsIs413(t *testing.T) {
	fx := newFixture(t, nil)
	body := edit(t, capturedBody(t, "firing.json"), func(m map[string]any) {
		one := firstAlert(m)
		many := make([]any, MaxAlerts+1)
		for i := range many {
			many[i] = one
		}
		m["alerts"] = many
	})
	rec, _ := fx.post(t, body, nil)
	want := fmt.Sprintf("alerts: %d alerts, the limit is %d (set the webhook receiver's max_alerts to %d)", MaxAlerts+1, MaxAlerts, MaxAlerts)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), want) || rec.Body.Len() > 300 {
		t.Fatalf("%d %q, want 413 with %q", rec.Code, rec.Body, want)
	}
	if runs := fx.fake.snapshot("failover-payments"); len(runs) != 0 {
		t.Fatalf("%d runs started", len(runs))
	}

	rec, resp := fx.post(t, edit(t, body, func(m map[string]any) { m["alerts"] = m["alerts"].([]any)[:MaxAlerts] }), nil)
	if rec.Code != http.StatusOK || len(resp.Alerts) != MaxAlerts {
		t.Fatalf("%d alerts: %d, want 200", MaxAlerts, rec.Code)
	}
}
