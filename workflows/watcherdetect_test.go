package workflows

import (
	"context"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// A failover the region watcher started with its quorum's agreement confirms the outage with one probe of the
// source; every other start (an alert, the watcher without a quorum, a person) probes detection.probes times. The
// one probe still decides: a source that answers is not failed over.
func TestWatcherQuorumStartConfirmsWithOneProbe(t *testing.T) {
	watcher := Trigger{Source: TriggerWatcher, By: "watcher door-a", Alert: "WatcherRegionDown",
		Quorum: "2 of 3 watchers record us-east down (need 2): down [door-a door-b], not down [door-c up]"}
	for _, tc := range []struct {
		name     string
		trigger  Trigger
		sourceUp bool
		probes   int
		outcome  Outcome
	}{
		{"watcher with quorum", watcher, false, 1, Succeeded},
		{"watcher with quorum, source back", watcher, true, 1, NotNeeded},
		{"watcher without quorum", Trigger{Source: TriggerWatcher, By: "watcher door-a"}, false, 3, Succeeded},
		{"alert", Trigger{Source: TriggerAlert, Alert: "RegionDown", Quorum: "forged"}, false, 3, Succeeded},
		{"person", Trigger{Source: "cli", By: "tester"}, false, 3, Succeeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, f := newEnv(t)
			f.sourceUp = tc.sourceUp
			var sourceProbes []int
			probed := func(name string, args converter.EncodedValues) {
				if name != "ProbeHealth" {
					return
				}
				var in activities.ProbeInput
				if err := args.Get(&in); err != nil {
					t.Error(err)
				}
				if in.Expect == "down" {
					sourceProbes = append(sourceProbes, in.Attempts)
				}
			}
			env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
				probed(info.ActivityType.Name, args)
			})
			// A single probe runs as a local activity (local-reads).
			env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, args []any) {
				if in, ok := args[0].(activities.ProbeInput); ok && info.ActivityType.Name == "ProbeHealth" && in.Expect == "down" {
					sourceProbes = append(sourceProbes, in.Attempts)
				}
			})
			p := testPlan()
			p.Approval.Mode = plan.ApprovalAuto
			req := request(p)
			req.Trigger = tc.trigger
			res := run(t, env, req)
			wantOutcome(t, res, tc.outcome)
			if len(sourceProbes) != 1 || sourceProbes[0] != tc.probes {
				t.Fatalf("detection probed the source %v times, want once with %d attempts", sourceProbes, tc.probes)
			}
			v, err := env.QueryWorkflow(StatusQuery)
			if err != nil {
				t.Fatal(err)
			}
			var st Status
			if err := v.Get(&st); err != nil {
				t.Fatal(err)
			}
			quorumEvidence := strings.Contains(strings.Join(st.Evidence, "\n"), "watcher quorum: 2 of 3 watchers")
			if quorumEvidence != (tc.probes == 1) {
				t.Fatalf("evidence %q: want the watcher quorum in it only when it shortened detection", st.Evidence)
			}
		})
	}
}
