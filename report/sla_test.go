package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/workflows"
)

// TestReportShowsRPOAndSLA: a run with an RPO sample and an SLA says both, in text, JSON and HTML.
func TestReportShowsRPOAndSLA(t *testing.T) {
	st := succeeded()
	rpo := 2.5
	st.RPOSeconds = &rpo
	st.SLA = workflows.JudgeSLA(&plan.SLA{RTO: 30 * time.Second, RPO: time.Second}, st.Outcome, st.RTOSeconds, st.RPOSeconds)
	r := FromStatus("failover-payments", "run-1", st)

	var text, js, page bytes.Buffer
	for _, w := range []struct {
		write func(Report, *bytes.Buffer) error
		buf   *bytes.Buffer
	}{
		{func(r Report, b *bytes.Buffer) error { return r.WriteText(b) }, &text},
		{func(r Report, b *bytes.Buffer) error { return r.WriteJSON(b) }, &js},
		{func(r Report, b *bytes.Buffer) error { return r.WriteHTML(b) }, &page},
	} {
		if err := w.write(r, w.buf); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"rpo       2.5s", "SLA breached: rto breached: RTO 162.3s > 30s; rpo breached: RPO 2.5s > 1s"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	var got struct {
		RPOSeconds *float64              `json:"rpo_seconds"`
		SLA        *workflows.SLAVerdict `json:"sla"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.RPOSeconds == nil || *got.RPOSeconds != 2.5 || got.SLA == nil || len(got.SLA.Breaches) != 2 {
		t.Fatalf("JSON rpo %v sla %+v", got.RPOSeconds, got.SLA)
	}
	if !strings.Contains(page.String(), `class="sub sla breached"`) || !strings.Contains(page.String(), "RPO 2.5s") {
		t.Errorf("HTML report has no SLA line")
	}
}
