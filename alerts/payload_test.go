package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// capturedBody returns the "body" of a webhook captured from Alertmanager 0.25 (testdata/alertmanager/*.json are
// copies of /work/shared/alertmanager/*.json: {"headers": ..., "body": <the payload>}).
func capturedBody(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "alertmanager", name))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || len(c.Body) == 0 {
		t.Fatalf("%s: not a captured webhook (%v)", name, err)
	}
	return c.Body
}

// edit decodes a captured body into a generic map, applies f and re-encodes it.
func edit(t testing.TB, body []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstAlert(m map[string]any) map[string]any { return m["alerts"].([]any)[0].(map[string]any) }

func TestDecodeRealPayloads(t *testing.T) {
	for _, tc := range []struct {
		file, status string
		endsAt       time.Time
	}{
		{"firing.json", Firing, time.Time{}},
		{"resolved.json", Resolved, time.Date(2026, 11, 22, 4, 56, 4, 0, time.UTC)},
	} {
		p, err := DecodeBytes(capturedBody(t, tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if p.Status != tc.status || p.Version != "4" || p.Receiver != "orchestrator" || len(p.Alerts) != 1 ||
			p.GroupKey != `{}:{alertname="BackendDown", service="payments"}` {
			t.Fatalf("%s: %+v", tc.file, p)
		}
		a := p.Alerts[0]
		if a.Status != tc.status || a.Name() != "BackendDown" || a.Labels["region"] != "us-east" || a.Labels["severity"] != "critical" ||
			a.Fingerprint != "6f5f39bfbb62f946" || !a.StartsAt.Equal(time.Date(2026, 11, 22, 4, 55, 51, 0, time.UTC)) ||
			!a.EndsAt.Equal(tc.endsAt) {
			t.Fatalf("%s: alert %+v", tc.file, a)
		}
	}
}

// TestDecodeToleratesAndRejects: only the envelope fails Decode; a bad alert fails its own Validate, so that its
// siblings in the notification are still acted on.
func TestDecodeToleratesAndRejects(t *testing.T) {
	firing := capturedBody(t, "firing.json")
	for _, tc := range []struct {
		name      string
		body      []byte
		want      string // Decode's error; "" = the notification is read
		alertWant string // alerts[0].Validate's error; "" = the alert is valid
	}{
		{"real firing", firing, "", ""},
		{"unknown fields from newer Alertmanagers", edit(t, firing, func(m map[string]any) {
			m["notification_reason"] = "repeat"
			m["routeLabels"] = map[string]any{"team": "payments"}
			firstAlert(m)["silencedBy"] = []string{}
		}), "", ""},
		{"version 3", edit(t, firing, func(m map[string]any) { m["version"] = "3" }), `version "3": unsupported, want "4"`, ""},
		{"no version", edit(t, firing, func(m map[string]any) { delete(m, "version") }), `version "": unsupported`, ""},
		{"no alerts", edit(t, firing, func(m map[string]any) { m["alerts"] = []any{} }), "alerts: empty", ""},
		{"alerts not a list", edit(t, firing, func(m map[string]any) { m["alerts"] = firstAlert(m) }), "malformed JSON", ""},
		{"envelope field of the wrong type", edit(t, firing, func(m map[string]any) { m["groupKey"] = 7 }), "malformed JSON", ""},
		{"malformed JSON", firing[:len(firing)/2], "malformed JSON", ""},
		{"not an object", []byte(`["version","4"]`), "malformed JSON", ""},
		{"empty body", nil, "malformed JSON", ""},
		{"no alertname", edit(t, firing, func(m map[string]any) {
			delete(firstAlert(m)["labels"].(map[string]any), "alertname")
		}), "", "labels.alertname: missing"},
		{"no labels", edit(t, firing, func(m map[string]any) { delete(firstAlert(m), "labels") }), "", "labels.alertname: missing"},
		{"bad alert status", edit(t, firing, func(m map[string]any) { firstAlert(m)["status"] = "pending" }), "",
			`status "pending": want firing or resolved`},
		{"no startsAt", edit(t, firing, func(m map[string]any) { delete(firstAlert(m), "startsAt") }), "", "startsAt: missing"},
		{"several problems at once", edit(t, firing, func(m map[string]any) {
			delete(firstAlert(m), "startsAt")
			firstAlert(m)["status"] = ""
		}), "", `status "": want firing or resolved; startsAt: missing`},
		{"labels of the wrong type", edit(t, firing, func(m map[string]any) { firstAlert(m)["labels"] = "alertname=x" }), "",
			"labels: json: cannot unmarshal string"},
		{"startsAt not a time", edit(t, firing, func(m map[string]any) { firstAlert(m)["startsAt"] = "yesterday" }), "",
			`startsAt: parsing time "yesterday"`},
		{"alert not an object", edit(t, firing, func(m map[string]any) { m["alerts"] = []any{7} }), "", "cannot unmarshal number"},
		{"null alert", edit(t, firing, func(m map[string]any) { m["alerts"] = []any{nil} }), "", `status "": want firing or resolved`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(bytes.NewReader(tc.body), 0)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			case err != nil:
				return
			}
			aerr := p.Alerts[0].Validate()
			switch {
			case tc.alertWant == "" && aerr != nil:
				t.Fatalf("alert rejected: %v", aerr)
			case tc.alertWant != "" && (aerr == nil || !strings.Contains(aerr.Error(), tc.alertWant)):
				t.Fatalf("alert error %v, want it to say %q", aerr, tc.alertWant)
			}
			if p.Alerts[0].Fingerprint == "" {
				t.Fatalf("no fingerprint: %+v", p.Alerts[0])
			}
		})
	}
}

// TestDecodeKeepsValidSiblings: a notification with a bad alert between good ones decodes, and only the bad one
// fails Validate.
func TestDecodeKeepsValidSiblings(t *testing.T) {
	body := edit(t, capturedBody(t, "firing.json"), func(m map[string]any) {
		good := firstAlert(m)
		m["alerts"] = []any{good, map[string]any{"status": "firing", "labels": "x", "startsAt": "2026-11-22T04:55:51Z"}, good}
	})
	p, err := DecodeBytes(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Alerts) != 3 || p.Alerts[0].Validate() != nil || p.Alerts[2].Validate() != nil || p.Alerts[1].Validate() == nil {
		t.Fatalf("alerts %+v", p.Alerts)
	}
	if p.Alerts[2].Name() != "BackendDown" || p.Alerts[2].Fingerprint != "6f5f39bfbb62f946" {
		t.Fatalf("the alert after the bad one: %+v", p.Alerts[2])
	}
}

func TestDecodeComputesAMissingFingerprintAsAlertmanagerDoes(t *testing.T) {
	body := edit(t, capturedBody(t, "firing.json"), func(m map[string]any) { delete(firstAlert(m), "fingerprint") })
	p, err := DecodeBytes(body)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Alerts[0].Fingerprint; got != "6f5f39bfbb62f946" { // what Alertmanager sent for these labels
		t.Fatalf("fingerprint %q", got)
	}
}

func TestDecodeLimitsTheBody(t *testing.T) {
	firing := capturedBody(t, "firing.json")
	if _, err := Decode(bytes.NewReader(firing), int64(len(firing))); err != nil {
		t.Fatalf("a body of exactly the limit: %v", err)
	}
	_, err := Decode(bytes.NewReader(firing), int64(len(firing)-1))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("one byte over the limit: %v, want ErrTooLarge", err)
	}
	// An endless body is cut at the limit, not read to the end.
	_, err = Decode(endless{}, 1024)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless body: %v", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// FuzzDecode feeds the decoder arbitrary bodies, seeded with real Alertmanager webhooks. Whatever the input, it
// must not panic, and whatever it accepts must hold the invariants the handler relies on (every alert has a
// fingerprint; one that passes Validate has a status, an alertname and a startsAt) and survive a round trip.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "alertmanager", "*.json"))
	shared, _ := filepath.Glob(filepath.Join("..", "..", "shared", "alertmanager", "*.json"))
	seeds = append(seeds, shared...)
	if len(seeds) < 2 {
		f.Fatalf("no seed payloads in testdata/alertmanager (copies of /work/shared/alertmanager/*.json)")
	}
	for _, s := range seeds {
		raw, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw) // the capture as a whole: valid JSON, not a payload
		var c struct {
			Body json.RawMessage `json:"body"`
		}
		if json.Unmarshal(raw, &c) == nil && len(c.Body) > 0 {
			f.Add([]byte(c.Body))
		}
	}
	f.Add([]byte(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-01-01T00:00:00+01:00"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Decode(bytes.NewReader(body), 1<<16)
		if err != nil {
			return
		}
		if p.Version != SupportedVersion || len(p.Alerts) == 0 {
			t.Fatalf("accepted %+v", p)
		}
		for i, a := range p.Alerts {
			if a.Fingerprint == "" {
				t.Fatalf("alert %d without a fingerprint: %+v", i, a)
			}
			if a.Validate() == nil && ((a.Status != Firing && a.Status != Resolved) || a.Name() == "" || a.StartsAt.IsZero()) {
				t.Fatalf("accepted alert %d: %+v", i, a)
			}
		}
		once, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("re-encode an accepted payload: %v", err)
		}
		p2, err := DecodeBytes(once)
		if err != nil {
			t.Fatalf("an accepted payload, re-encoded, is rejected: %v\n%s", err, once)
		}
		twice, _ := json.Marshal(p2)
		if !bytes.Equal(once, twice) {
			t.Fatalf("round trip changed the payload:\n%s\n%s", once, twice)
		}
	})
}
