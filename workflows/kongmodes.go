package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// kongModesChange is the workflow.GetVersion change ID of the Kong preflight at readiness (KongPreflight): runs
// started before it neither run it nor pass a mode to the reroute, which then writes Kong's entities as before.
const kongModesChange = "kong-modes"

// dataPlaneConvergence bounds the wait for a hybrid control plane's data planes to apply one change (Kong pushes
// throttled by db_update_frequency, 5 s by default).
const dataPlaneConvergence = time.Minute

// kongPreflight starts reading how Kong can be changed (deployment mode, upstream, health); nil for older runs.
func (f *failover) kongPreflight(ctx workflow.Context) workflow.Future {
	if workflow.GetVersion(ctx, kongModesChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	in := KongPreflightInput(f.plan, f.req.From, f.req.To)
	if f.localReads { // a few GETs: a local read since localReads (latency.go)
		return workflow.ExecuteLocalActivity(quickLocally(ctx, "Kong preflight"), a.KongPreflight, in)
	}
	return workflow.ExecuteActivity(quick(ctx, "Kong preflight"), a.KongPreflight, in)
}

// KongPreflightInput is what the reroute between from and to will change (readiness and `starter plan` ask the
// same question).
func KongPreflightInput(p plan.Plan, from, to string) activities.KongPreflightInput {
	split := false
	for _, pct := range p.Traffic.Steps {
		split = split || (pct > 0 && pct < 100)
	}
	if p.Kong.SwitchesService() {
		return activities.KongPreflightInput{Service: p.Kong.Service, FromHost: p.Regions[from].KongHost, ToHost: p.Regions[to].KongHost}
	}
	in := activities.KongPreflightInput{Upstream: p.Kong.Upstream, Split: split,
		Targets: []string{p.Regions[from].KongTarget, p.Regions[to].KongTarget}}
	if p.Kong.ResetUnhealthyTarget {
		in.MayReset = p.Regions[to].KongTarget
	}
	return in
}

// kongReady collects the preflight: its problems stop readiness; its findings go into the evidence.
func (f *failover) kongReady(ctx workflow.Context, preflight workflow.Future) []string {
	if preflight == nil {
		return nil
	}
	if err := preflight.Get(ctx, &f.kong); err != nil {
		return []string{fmt.Sprintf("Kong preflight: %v", err)}
	}
	f.status.Evidence = append(f.status.Evidence, f.kong.Describe())
	for _, n := range f.kong.Notes {
		f.status.Evidence = append(f.status.Evidence, "Kong: "+n)
	}
	return f.kong.Problems
}

// waitDataPlanes waits until every data plane of a hybrid control plane runs the change just made (summary), and
// records how long that took; a data plane that lags past dataPlaneConvergence fails the change.
func (f *failover) waitDataPlanes(ctx workflow.Context, summary string, before map[string]string) error {
	var res activities.WaitDataPlanesResult
	actx := heartbeating(ctx, "data planes apply: "+summary, dataPlaneConvergence+10*time.Second)
	err := workflow.ExecuteActivity(actx, a.WaitDataPlanes, activities.WaitDataPlanesInput{Before: before, Timeout: dataPlaneConvergence}).Get(ctx, &res)
	if err != nil {
		return err
	}
	f.status.Evidence = append(f.status.Evidence, fmt.Sprintf("%s: %d Kong data planes on configuration %s after %s",
		summary, res.DataPlanes, res.Hash, res.Waited.Round(time.Millisecond)))
	return nil
}

// resetTargetHealth marks the target region's target healthy before the first traffic step, when readiness found
// Kong holding it UNHEALTHY and the plan allows the reset; otherwise its weight would bring it no traffic.
func (f *failover) resetTargetHealth(ctx workflow.Context) *stop {
	t := f.kong.ResetTarget
	if t == "" {
		return nil
	}
	in := activities.MarkHealthyInput{Upstream: f.plan.Kong.Upstream, Target: t}
	if err := workflow.ExecuteActivity(quick(ctx, "mark "+t+" healthy"), a.MarkTargetHealthy, in).Get(ctx, nil); err != nil {
		return f.stepFailed(ctx, RolledBack, "mark Kong target %s healthy: %v", t, err)
	}
	f.status.Evidence = append(f.status.Evidence, fmt.Sprintf("Kong target %s was UNHEALTHY: marked healthy (PUT /upstreams/%s/targets/%s/healthy)",
		t, f.plan.Kong.Upstream, t))
	return nil
}

// gitopsReminder is added to the approval question when the plan says a tool owns Kong's configuration.
func (f *failover) gitopsReminder() string {
	if !f.plan.Kong.GitOps {
		return ""
	}
	return " Kong's configuration is GitOps-owned (decK, CI or the Ingress Controller): after the failover, update its source " +
		"with the Kong changes this run lists, or the next sync undoes the reroute."
}

// recordKongChanges puts into the evidence (status, report) exactly which Kong entities the reroute left changed,
// decK-style, so the configuration's source of truth can be updated; it returns the same as "; <line>" for the
// reroute step's detail (audit log, Slack), or "" when nothing changed.
func (f *failover) recordKongChanges() string {
	var changes []string
	for _, after := range f.status.KongAfter {
		before, _ := weightOf(f.weights, after.Target)
		if before != after.Weight {
			changes = append(changes, fmt.Sprintf("update target %s of upstream %s: weight %d → %d", after.Target, f.plan.Kong.Upstream, before, after.Weight))
		}
	}
	return f.kongChangesLine(changes)
}

// kongChangesLine records the Kong changes in the evidence and returns them for a step detail.
func (f *failover) kongChangesLine(changes []string) string {
	if len(changes) == 0 {
		return ""
	}
	line := "Kong entities changed (update the configuration's source, e.g. decK): " + strings.Join(changes, "; ")
	f.status.Evidence = append(f.status.Evidence, line)
	return "; " + line
}

// confirmSplit samples the gateway until it serves pct% from the target (plan traffic.confirm), so the pause and
// the gate that follow judge the new split, not the one a lagging Kong node still serves.
func (f *failover) confirmSplit(ctx workflow.Context, pct int) *stop {
	c := f.plan.Traffic.Confirm
	if c == nil {
		return nil
	}
	in := activities.ConfirmSplitInput{URL: c.URL, RegionHeader: c.RegionHeader, Region: f.req.To, Want: float64(pct) / 100,
		Tolerance: c.Tolerance, Samples: c.Samples, Timeout: c.Timeout}
	var res activities.ConfirmSplitResult
	actx := heartbeating(ctx, fmt.Sprintf("gateway serves %d%% from %s", pct, f.req.To), c.Timeout+30*time.Second)
	if err := workflow.ExecuteActivity(actx, a.ConfirmSplit, in).Get(ctx, &res); err != nil {
		return f.stepFailed(ctx, RolledBack, "traffic step %d%%: %v", pct, err)
	}
	f.status.Evidence = append(f.status.Evidence, fmt.Sprintf("gateway serves %.0f%% from %s at step %d%% (round %d, after %s)",
		100*res.Share, f.req.To, pct, res.Rounds, res.Waited.Round(time.Millisecond)))
	return nil
}
