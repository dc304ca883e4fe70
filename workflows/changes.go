package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// cutover moves the active-region key to the target in one fenced etcd transaction, then waits until the plan's
// consumers acked the new epoch. Its undo, registered first, writes the source region back with a newer epoch.
func (f *failover) cutover(ctx workflow.Context) *stop {
	f.begin(ctx, StepCutover)
	f.sampleRPO(ctx)
	key := f.plan.Etcd.ActiveKey
	in := activities.CutoverInput{Key: key, Expected: f.active, Region: f.req.To,
		WorkflowID: f.info.WorkflowExecution.ID, RunID: f.info.WorkflowExecution.RunID, AckPrefix: f.plan.Etcd.AckPrefix}
	f.changesBegan = true
	if !f.legacy {
		f.addUndo("restore "+key, f.restoreActive)
	}
	if err := workflow.ExecuteActivity(quick(ctx, fmt.Sprintf("cutover %s → %s", key, f.req.To)), a.Cutover, in).Get(ctx, &f.cut); err != nil {
		if isFenced(err) {
			if !f.legacy {
				f.undo = f.undo[:len(f.undo)-1] // the fenced transaction wrote nothing
			}
			return f.stepFailed(ctx, Fenced, "%v", err)
		}
		return f.stepFailed(ctx, FailedNeedsHuman, "cutover %s: %v", key, err)
	}
	f.status.EtcdAfter = &f.cut.Value
	f.sideEffect(ctx, key, f.active, f.cut, fmt.Sprintf("etcd %s → %s epoch %d at revision %d", key, f.req.To, f.cut.Value.Epoch, f.cut.Revision))
	if f.legacy && f.active.Exists {
		f.addUndo("restore "+key, f.restoreActiveV0)
	}
	e := f.plan.Etcd
	if len(e.RequiredConsumers) > 0 || e.MinAcks > 0 {
		var acks activities.WaitAcksResult
		wait := activities.WaitAcksInput{AckPrefix: e.AckPrefix, Epoch: f.cut.Value.Epoch, Required: e.RequiredConsumers,
			MinAcks: e.MinAcks, Timeout: e.AckTimeout}
		if err := f.waitAcks(ctx, wait, &acks); err != nil {
			return f.stepFailed(ctx, RolledBack, "consumers did not follow epoch %d: %v", f.cut.Value.Epoch, err)
		}
		f.status.Evidence = append(f.status.Evidence, fmt.Sprintf("epoch %d acked by %v", f.cut.Value.Epoch, acks.Acked))
	}
	f.end(ctx, ResultOK, fmt.Sprintf("%s → %s, epoch %d at revision %d", key, f.req.To, f.cut.Value.Epoch, f.cut.Revision))
	return nil
}

// reroute shifts the Kong upstream's weights to the target in the plan's steps, running the gate checks between
// steps. Its undo, registered first, puts the weights readiness read back.
func (f *failover) reroute(ctx workflow.Context) *stop {
	f.begin(ctx, StepReroute)
	if f.plan.Kong.SwitchesService() {
		return f.switchService(ctx)
	}
	up := f.plan.Kong.Upstream
	fromT, toT := f.plan.Regions[f.req.From].KongTarget, f.plan.Regions[f.req.To].KongTarget
	if !f.legacy {
		// Registered before the first write: a step that fails halfway (one target raised, the other not yet
		// lowered) is undone too.
		f.addUndo("restore Kong weights", f.restoreWeights)
	}
	if s := f.resetTargetHealth(ctx); s != nil {
		return s
	}
	for i, pct := range f.plan.Traffic.Steps {
		want := []activities.TargetWeight{{Target: toT, Weight: pct}, {Target: fromT, Weight: 100 - pct}}
		if err := f.setWeights(ctx, fmt.Sprintf("%s: %d%% to %s", up, pct, f.req.To), want); err != nil {
			return f.stepFailed(ctx, RolledBack, "set Kong weights %v: %v", want, err)
		}
		if f.legacy && i == 0 {
			f.addUndo("restore Kong weights", f.restoreWeights)
		}
		if s := f.confirmSplit(ctx, pct); s != nil {
			return s
		}
		if i == len(f.plan.Traffic.Steps)-1 {
			break
		}
		pause := fmt.Sprintf("pause %s before %d%% → %d%%", f.plan.Traffic.StepPause, pct, f.plan.Traffic.Steps[i+1])
		if err := sleep(ctx, f.plan.Traffic.StepPause, pause); err != nil {
			return f.stepFailed(ctx, RolledBack, "%v", err)
		}
		if s := f.gate(ctx, fmt.Sprintf("gate at %d%%", pct), f.plan.Traffic.Gate); s != nil {
			return s
		}
		if s := f.checkpoint(ctx); s != nil { // an operator's pause holds between traffic steps; an abort rolls back
			return f.stepFailed(ctx, s.Outcome, "%s", s.Reason)
		}
	}
	f.end(ctx, ResultOK, fmt.Sprintf("%s: all traffic to %s (%s)", up, f.req.To, toT)+f.recordKongChanges())
	return nil
}

// restoreActive undoes the cutover, whatever became of it (see activities.RestoreActive).
func (f *failover) restoreActive(ctx workflow.Context) error {
	key := f.plan.Etcd.ActiveKey
	in := activities.RestoreInput{Key: key, Original: f.active, Region: f.req.From, CutRegion: f.req.To,
		WorkflowID: f.info.WorkflowExecution.ID, RunID: f.info.WorkflowExecution.RunID}
	var res activities.RestoreResult
	err := workflow.ExecuteActivity(quick(ctx, "restore "+key+" → "+f.req.From), a.RestoreActive, in).Get(ctx, &res)
	if err == nil && res.Value.Region != "" {
		f.status.EtcdAfter = &res.Value
	}
	if err == nil && res.Changed {
		f.sideEffect(ctx, key, f.cut, res, res.Detail)
	}
	return err
}

// restoreWeights puts the source and target weights back to what readiness read.
func (f *failover) restoreWeights(ctx workflow.Context) error {
	var before []activities.TargetWeight
	for _, region := range []string{f.req.To, f.req.From} {
		t := f.plan.Regions[region].KongTarget
		w, _ := weightOf(f.weights, t)
		before = append(before, activities.TargetWeight{Target: t, Weight: w})
	}
	return f.setWeights(ctx, fmt.Sprintf("restore %s weights", f.plan.Kong.Upstream), before)
}

func (f *failover) setWeights(ctx workflow.Context, summary string, want []activities.TargetWeight) error {
	var res activities.SetWeightsResult
	err := workflow.ExecuteActivity(quick(ctx, summary), a.SetWeights, activities.SetWeightsInput{Upstream: f.plan.Kong.Upstream,
		Weights: want, Mode: f.kong.Mode, ConfigHash: f.kong.ConfigHash, ControlPlane: f.kong.ControlPlane()}).Get(ctx, &res)
	if err == nil && res.ConfigHash != "" {
		f.kong.ConfigHash = res.ConfigHash // the next change is fenced on the configuration this one made
	}
	if err == nil && len(res.DataPlanesBefore) > 0 {
		err = f.waitDataPlanes(ctx, summary, res.DataPlanesBefore)
	}
	if err == nil {
		before := f.status.KongAfter
		if before == nil {
			before = f.weights
		}
		f.status.KongAfter = want
		f.sideEffect(ctx, f.plan.Kong.Upstream, before, want, summary)
		f.publish(ctx)
	}
	return err
}

// warmup loads the target's cache (progress is heartbeated and visible in the Web UI).
func (f *failover) warmup(ctx workflow.Context) *stop {
	w := f.plan.Warmup
	if len(w.Keys) == 0 {
		f.beginQuietly(ctx, StepWarmup)
		f.end(ctx, ResultSkipped, "the plan lists no warmup keys")
		return nil
	}
	f.begin(ctx, StepWarmup)
	var res activities.WarmupResult
	actx := heartbeating(ctx, fmt.Sprintf("warm %d keys in %s", len(w.Keys), f.req.To), w.Timeout)
	err := workflow.ExecuteActivity(actx, a.Warmup, activities.WarmupInput{URL: f.plan.Regions[f.req.To].WarmupURL,
		Keys: w.Keys, Concurrency: w.Concurrency, BatchSize: w.BatchSize, HitRatio: w.HitRatio}).Get(ctx, &res)
	if err != nil {
		return f.stepFailed(ctx, RolledBack, "warmup of %s: %v", f.req.To, err)
	}
	detail := fmt.Sprintf("%d keys loaded in %d of %d batches; hit ratio %.0f%% before (already cached), %.0f%% after (%d keys sampled)",
		res.Keys, res.Batches, res.Total, 100*res.HitRatio, 100*res.HitRatioAfter, res.Sampled)
	if res.GateMet {
		detail += fmt.Sprintf("; stopped early: the cache was already %.0f%% warm (warmup.hitRatio %.2f)", 100*res.HitRatio, w.HitRatio)
	}
	f.end(ctx, ResultOK, detail)
	return nil
}

// verify runs every check Count times, Interval apart. More failures than the plan's limit roll back; an
// inconclusive result (no data, NaN, Prometheus unreachable) pauses for a human instead of passing.
func (f *failover) verify(ctx workflow.Context) *stop {
	f.begin(ctx, StepVerify)
	v := f.plan.Verification
	failures := 0
	for round := 1; round <= v.Count; round++ {
		if round > 1 {
			if err := sleep(ctx, v.Interval, fmt.Sprintf("verification round %d of %d in %s", round, v.Count, v.Interval)); err != nil {
				return f.stepFailed(ctx, RolledBack, "%v", err)
			}
		}
		results := f.runChecks(ctx, v.Checks)
		inconclusive := false
		for _, r := range results {
			switch r.Verdict {
			case activities.Fail:
				failures++
			case activities.Inconclusive:
				inconclusive = true
			}
		}
		if failures > v.FailureLimit {
			return f.stepFailed(ctx, RolledBack, "%d failed check results, limit %d: %v", failures, v.FailureLimit, results)
		}
		if inconclusive {
			if s := f.askAboutInconclusive(ctx, fmt.Sprintf("verification round %d", round), results); s != nil {
				return s
			}
		}
	}
	f.status.RTOSeconds = workflow.Now(ctx).Sub(f.status.FaultAt).Seconds()
	f.end(ctx, ResultOK, fmt.Sprintf("%d rounds of %d checks, %d failures", v.Count, len(v.Checks), failures))
	return nil
}

// gate runs the traffic-step checks once: any failure rolls back, inconclusive asks a human.
func (f *failover) gate(ctx workflow.Context, name string, checks []plan.Check) *stop {
	results := f.runChecks(ctx, checks)
	for _, r := range results {
		if r.Verdict == activities.Fail {
			return f.stepFailed(ctx, RolledBack, "%s failed: %v", name, r)
		}
	}
	for _, r := range results {
		if r.Verdict == activities.Inconclusive {
			return f.askAboutInconclusive(ctx, name, results)
		}
	}
	return nil
}

func (f *failover) askAboutInconclusive(ctx workflow.Context, what string, results []activities.CheckResult) *stop {
	question := fmt.Sprintf("%s is inconclusive (%v): approve to carry on, reject to roll back", what, results)
	switch f.decide(ctx, DecideInconclusive, question, 1, f.plan.Approval.Timeout) {
	case ApproveUpdate:
		return nil
	case RejectUpdate:
		return f.stepFailed(ctx, RolledBack, "%s inconclusive; %s chose to roll back", what, f.lastVoter())
	}
	return f.stepFailed(ctx, RolledBack, "%s inconclusive and nobody decided within %s", what, f.plan.Approval.Timeout)
}

// runChecks runs checks concurrently (as activities) and records each result.
func (f *failover) runChecks(ctx workflow.Context, checks []plan.Check) []activities.CheckResult {
	futures := make([]workflow.Future, len(checks))
	for i, c := range checks {
		futures[i] = f.startCheck(ctx, c)
	}
	results := make([]activities.CheckResult, len(checks))
	for i, fut := range futures {
		if err := fut.Get(ctx, &results[i]); err != nil {
			results[i] = activities.CheckResult{Name: checks[i].Name, Verdict: activities.Inconclusive, Detail: err.Error()}
		}
	}
	f.status.Checks = append(f.status.Checks, results...)
	for _, r := range results {
		f.countCheck(ctx, r.Name, string(r.Verdict))
		f.emit(ctx, activities.Event{Type: activities.EventCheck, Step: f.status.Step, Target: r.Name, Result: string(r.Verdict), Detail: r.Detail})
	}
	f.publish(ctx)
	return results
}

func (f *failover) startCheck(ctx workflow.Context, c plan.Check) workflow.Future {
	actx := check(ctx, "check "+c.Name)
	if c.Prometheus != nil {
		return workflow.ExecuteActivity(actx, a.EvaluateQuery, f.queryInput(c.Name, f.plan.Regions[f.req.To].PrometheusURL, *c.Prometheus, f.req.To))
	}
	h := c.HTTP
	return workflow.ExecuteActivity(actx, a.HTTPCheck, activities.HTTPCheckInput{Name: c.Name, URL: f.expand(h.URL, f.req.To),
		ExpectStatus: h.ExpectStatus, ExpectHeader: f.expandAll(h.ExpectHeader), Samples: h.Samples, MinSuccess: h.MinSuccess, Timeout: h.Timeout})
}

// query runs one Prometheus check and waits for it; an activity error counts as inconclusive.
func (f *failover) query(ctx workflow.Context, name, url string, q plan.Query, region string) activities.CheckResult {
	var res activities.CheckResult
	err := workflow.ExecuteActivity(check(ctx, "query "+name), a.EvaluateQuery,
		f.queryInput(name, url, q, region)).Get(ctx, &res)
	if err != nil {
		return activities.CheckResult{Name: name, Verdict: activities.Inconclusive, Detail: err.Error()}
	}
	return res
}

func (f *failover) queryInput(name, url string, q plan.Query, region string) activities.QueryInput {
	return activities.QueryInput{Name: name, PrometheusURL: url, Expr: f.expand(q.Expr, region), Condition: q.Condition}
}

func (f *failover) expand(s, region string) string {
	return plan.Expand(s, f.plan.Service, region, f.req.From, f.req.To)
}

func (f *failover) expandAll(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = f.expand(v, f.req.To)
	}
	return out
}

func weightOf(ws []activities.TargetWeight, target string) (int, bool) {
	for _, w := range ws {
		if w.Target == target {
			return w.Weight, true
		}
	}
	return 0, false
}
