package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/workflows"
)

// TestDrillTrend: three drills, the last breaching its RPO: the table, the JSON and the chart say so.
func TestDrillTrend(t *testing.T) {
	sla := &plan.SLA{RTO: 30 * time.Second, RPO: time.Second}
	drill := func(day int, rto, rpo float64, verdict string) workflows.DrillResult {
		fo := workflows.DrillPhase{Name: workflows.KindFailover, Outcome: workflows.Succeeded, RTOSeconds: rto, RPOSeconds: &rpo,
			SLA: workflows.JudgeSLA(sla, workflows.Succeeded, rto, &rpo)}
		fb := workflows.DrillPhase{Name: workflows.KindFailback, Outcome: workflows.Succeeded, RTOSeconds: 40,
			Humans: []string{"approve by alice via cli"}}
		return workflows.DrillResult{Service: "payments", Verdict: verdict, FaultAt: fault.AddDate(0, 0, 7*day),
			Phases: []workflows.DrillPhase{fo, fb}}
	}
	tr := NewDrillTrend("payments", []string{"d1", "d2", "d3"}, []workflows.DrillResult{
		drill(0, 12, 0.1, workflows.DrillPassed), drill(1, 9.5, 0.2, workflows.DrillPassed), drill(2, 11, 2.5, workflows.DrillBreached)})
	var text, page bytes.Buffer
	if err := tr.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := tr.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"drills of payments (3)", "2026-03-28 09:30  breached  11.0s         2.5s  40.0s         -    30s/1s         failover:rpo  1"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if n := strings.Count(page.String(), "<circle"); n != 6 || !strings.Contains(page.String(), "sla.rto 30s") ||
		!strings.Contains(page.String(), `<td class="breached">breached</td>`) {
		t.Errorf("HTML: %d points (want 3 RTO + 3 RPO), objective line, breached row:\n%s", n, page.String())
	}
	if d := tr.Drills[2]; d.FailoverRTO == nil || *d.FailoverRTO != 11 || len(d.Breaches) != 1 || d.Breaches[0] != "failover:rpo" || len(d.NeededHuman) != 1 {
		t.Errorf("row %+v", d)
	}
}
