// Package histories holds recorded failover histories; the test replays each against today's workflow code, so a
// change that would break running failovers (a non-determinism error) fails CI. Guard such changes with
// workflow.GetVersion and record a new history. v0-*.json were recorded before the change ID truthful-outcomes
// (failovers started by the first release); local-*.json by today's code (RECORD_HISTORIES=1 go test -run
// TestFailoverCost ./testsuite/e2e/); lean-*.json before the change ID local-reads; cheap-*.json before the change
// ID scale-per-failover; watcher-succeeded.json,
// a run the region watchers started with their quorum (change ID watcher-quorum-detect), by RECORD_HISTORIES=1 go
// test -run 'TestWatcherDrills$' ./testsuite/devstack/; the others before the change ID cost-per-failover (audit
// and reads by normal activities): re-recording them with today's code would lose that shape, so copy them to new
// names first.
// local-acks-late.json and local-acks-missing.json (RECORD_HISTORIES=1 go test -run TestAcksAfterTheLocalWait
// ./testsuite/e2e/): the wait for acks outlived its local second and went on as an activity (change ID local-reads).
// drill-schedules-paused.json (RECORD_HISTORIES=1 go test -run TestRealFailoverPausesDrillSchedules ./starter/) is a
// failover that paused its service's drill schedules and resumed them (change ID pause-drill-schedules).
// evacuation-audit.json (RECORD_HISTORIES=1 go test -run 'TestEvacuationMovesEveryServiceInWaves$' ./testsuite/e2e/) is
// an evacuation writing its own audit records (change ID evacuation-audit); evacuation-incomplete.json is the same
// evacuation from before it.
// Keep the old ones for as long as a failover started by that release may still be running.
package histories

import (
	"log/slog"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/workflows"
)

func TestRecordedHistoriesReplay(t *testing.T) {
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d recorded histories, want at least 3 (record with RECORD_HISTORIES=1 go test ./testsuite/e2e/)", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(workflows.Failover)
			r.RegisterWorkflow(workflows.Drill)
			r.RegisterWorkflow(workflows.Evacuation)
			if err := r.ReplayWorkflowHistoryFromJSONFile(log.NewStructuredLogger(slog.New(slog.DiscardHandler)), f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
