package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

// readAudit reads the audit log at path, one record a line, checking that no (workflow, run, seq) is written twice.
func readAudit(t testing.TB, path string) []activities.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []activities.Event
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e activities.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		key := fmt.Sprintf("%s %s %d %s", e.WorkflowID, e.RunID, e.Seq, e.Sink)
		if seen[key] {
			t.Errorf("audit record %s written twice", key)
		}
		seen[key] = true
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkEvacuationAudited checks the audit log of TestEvacuationMovesEveryServiceInWaves: evacuation-us-east's
// start, alice's approval and its end with the counts, exactly one of each, and the failovers it started naming
// it in their started records (svc-2's, started by a person as run ownRunID, does not).
func checkEvacuationAudited(t testing.TB, path, ownRunID string) {
	t.Helper()
	records := readAudit(t, path)
	one := func(what string, match func(activities.Event) bool) activities.Event {
		t.Helper()
		var found []activities.Event
		for _, e := range records {
			if e.WorkflowID == "evacuation-us-east" && match(e) {
				found = append(found, e)
			}
		}
		if len(found) != 1 {
			t.Fatalf("audit log: %d records of %s, want exactly one: %+v", len(found), what, found)
		}
		return found[0]
	}
	start := one("the start", func(e activities.Event) bool { return e.Type == activities.EventEvacuationStarted })
	if start.Actor != "e2e" || start.Via != "test" || start.Services != 5 || start.From != "us-east" || start.PlanHash == "" {
		t.Errorf("start record %+v, want started by e2e via test, 5 services out of us-east, with the hash", start)
	}
	approve := one("an approval", func(e activities.Event) bool {
		return e.Type == activities.EventEvacuationDecision && e.Decision == workflows.ApproveUpdate
	})
	if approve.Actor != "alice" || approve.Via != "test" || approve.Result != workflows.ApproveUpdate {
		t.Errorf("approval record %+v, want alice's via test, approving", approve)
	}
	end := one("the end", func(e activities.Event) bool { return e.Type == activities.EventEvacuationOutcome })
	if end.Outcome != string(workflows.Incomplete) || end.Counts[workflows.Succeeded] != 4 || end.Counts[workflows.Refused] != 1 ||
		len(end.NotSucceeded) != 1 || !strings.HasPrefix(end.NotSucceeded[0], "edge-1: refused") {
		t.Errorf("end record %+v, want incomplete: 4 succeeded, edge-1 refused", end)
	}
	one("the waiver", func(e activities.Event) bool { return e.Type == activities.EventEvacuationWaiver })
	for _, e := range records {
		if e.WorkflowID == "evacuation-us-east" && !strings.HasPrefix(e.Type, "evacuation-") {
			t.Errorf("evacuation record of type %s, want only evacuation-* records: %+v", e.Type, e)
		}
		if e.Type != activities.EventStarted {
			continue
		}
		byEvacuation := e.Actor == "evacuation-us-east" && e.Via == workflows.TriggerEvacuation
		if byEvacuation == (e.RunID == ownRunID) {
			t.Errorf("%s run %s started by %s via %s: only the failovers the evacuation started name it", e.WorkflowID, e.RunID, e.Actor, e.Via)
		}
	}
	if n := len(records); n > 200 {
		t.Errorf("%d audit records for 5 services", n)
	}
}

// checkAuditedAcrossRuns checks the audit log of an auto-approved evacuation that continued as new: its records
// are the start, the plan's approval, the waiver and the end (all of the services succeeded), in that order,
// numbered 1 to 4 across the runs, the end written by a later run than the start.
func checkAuditedAcrossRuns(t testing.TB, path, id string, services int) {
	t.Helper()
	var got []activities.Event
	for _, e := range readAudit(t, path) {
		if e.WorkflowID == id {
			got = append(got, e)
		}
	}
	want := []string{activities.EventEvacuationStarted, activities.EventEvacuationDecision, activities.EventEvacuationWaiver,
		activities.EventEvacuationOutcome}
	if len(got) != len(want) {
		t.Fatalf("audit log: %d records of %s, want %d: %+v", len(got), id, len(want), got)
	}
	for i, e := range got {
		if e.Type != want[i] || e.Seq != i+1 {
			t.Errorf("record %d: %s seq %d, want %s seq %d", i+1, e.Type, e.Seq, want[i], i+1)
		}
	}
	if d := got[1]; d.Actor != "policy" || d.Decision != "auto-approve" {
		t.Errorf("approval record %+v, want the plan's auto-approve", d)
	}
	if end := got[3]; end.Outcome != string(workflows.Succeeded) || end.Counts[workflows.Succeeded] != services || end.RunID == got[0].RunID {
		t.Errorf("end record %+v, want all %d succeeded, written by a later run than the start (%s)", end, services, got[0].RunID)
	}
}
