package workflows

import (
	"fmt"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// Preview describes, from the live state, what a failover from → to would change in etcd and Kong. It changes
// nothing; `starter plan` prints it and approval messages show it.
func Preview(p plan.Plan, from, to string, active activities.ActiveState, weights []activities.TargetWeight) []string {
	var out []string
	key := p.Etcd.ActiveKey
	switch {
	case !active.Exists:
		out = append(out, fmt.Sprintf("etcd %s: (absent) → {region: %s, epoch: 1}", key, to))
	case active.Value.Region == to:
		out = append(out, fmt.Sprintf("etcd %s: already %s (epoch %d): nothing to do", key, to, active.Value.Epoch))
		return out
	default:
		out = append(out, fmt.Sprintf("etcd %s: {region: %s, epoch: %d} → {region: %s, epoch: %d} if still at revision %d",
			key, active.Value.Region, active.Value.Epoch, to, active.Value.Epoch+1, active.ModRevision))
		if active.Value.Region != from {
			out = append(out, fmt.Sprintf("WARNING: the active region is %s, not %s: readiness will stop this failover", active.Value.Region, from))
		}
	}
	if p.Kong.SwitchesService() {
		out = append(out, fmt.Sprintf("kong service %s: host %s → %s", p.Kong.Service, p.Regions[from].KongHost, p.Regions[to].KongHost))
		if len(p.Warmup.Keys) > 0 {
			out = append(out, fmt.Sprintf("warmup: %d keys into %s", len(p.Warmup.Keys), p.Regions[to].WarmupURL))
		}
		return out
	}
	fromT, toT := p.Regions[from].KongTarget, p.Regions[to].KongTarget
	for _, t := range []string{toT, fromT} {
		if _, ok := weightOf(weights, t); !ok {
			out = append(out, fmt.Sprintf("WARNING: Kong upstream %s has no target %s: readiness will stop this failover", p.Kong.Upstream, t))
		}
	}
	wTo, _ := weightOf(weights, toT)
	wFrom, _ := weightOf(weights, fromT)
	line := fmt.Sprintf("kong upstream %s: %s %d/%s %d", p.Kong.Upstream, toT, wTo, fromT, wFrom)
	for _, pct := range p.Traffic.Steps {
		line += fmt.Sprintf(" → %d/%d", pct, 100-pct)
	}
	out = append(out, line)
	if len(p.Warmup.Keys) > 0 {
		out = append(out, fmt.Sprintf("warmup: %d keys into %s", len(p.Warmup.Keys), p.Regions[to].WarmupURL))
	}
	return out
}
