package activities

import (
	"testing"
	"time"
)

// TestHoldNoteRoundTrips: the holds written into a schedule's note read back exactly; any other note (an
// operator's, the creation note, an edited hold) is not a hold, so the schedule is never resumed automatically.
func TestHoldNoteRoundTrips(t *testing.T) {
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a := DrillHold{Kind: "failover", WorkflowID: "failover-svc", RunID: "0b7c-1", Since: since}
	b := DrillHold{Kind: "failback", WorkflowID: "failover-svc", RunID: "9f2e-2", Since: since.Add(time.Hour)}
	for _, holds := range [][]DrillHold{{a}, {a, b}} {
		got, ok := parseHoldNote(holdNote(holds))
		if !ok || len(got) != len(holds) {
			t.Fatalf("%q: %+v %v", holdNote(holds), got, ok)
		}
		for i := range holds {
			if got[i] != holds[i] {
				t.Errorf("hold %d: %+v, want %+v", i, got[i], holds[i])
			}
		}
	}
	for _, note := range []string{"", "freeze INC-7", "drill of svc us-east → eu-west, plan abc", "Paused via Go SDK",
		holdNotePrefix + "someone typed this" + holdNoteTail, holdNote([]DrillHold{a}) + " (and INC-7)"} {
		if holds, ok := parseHoldNote(note); ok {
			t.Errorf("%q read as holds %+v", note, holds)
		}
	}
}
