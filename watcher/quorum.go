package watcher

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// QueryEvaluator runs a Prometheus check; *activities.Activities is one.
type QueryEvaluator interface {
	EvaluateQuery(ctx context.Context, in activities.QueryInput) (activities.CheckResult, error)
}

// agreement is what the independent signals said about a region this watcher sees down.
type agreement struct {
	agree    bool
	evidence []string
}

// agree asks the plan's independent signals (other watchers' verdicts in etcd, a Prometheus query) whether the
// region is down too, and combines them per watch.quorum.require.
func (w *Watcher) agree(ctx context.Context, t target) agreement {
	q := t.plan.Watch.Quorum
	var signals []bool
	var ev []string
	if q.Observers >= 2 {
		ok, detail := w.observersAgree(ctx, t, q.Observers)
		signals, ev = append(signals, ok), append(ev, detail)
	}
	if q.Query != nil {
		ok, detail := w.queryAgrees(ctx, t, *q.Query)
		signals, ev = append(signals, ok), append(ev, detail)
	}
	agree := len(signals) > 0 && (q.Require == plan.RequireAll && !slices.Contains(signals, false) ||
		q.Require != plan.RequireAll && slices.Contains(signals, true))
	return agreement{agree: agree, evidence: ev}
}

func (w *Watcher) observersAgree(ctx context.Context, t target, need int) (bool, string) {
	if w.o.Board == nil {
		return false, "no etcd board to read other watchers from"
	}
	recs, err := w.o.Board.Verdicts(ctx, t.plan.Service, t.region)
	if err != nil {
		return false, err.Error()
	}
	var down, other []string
	for _, r := range recs {
		if r.Verdict == Down {
			down = append(down, r.Observer)
		} else {
			other = append(other, fmt.Sprintf("%s %s", r.Observer, r.Verdict))
		}
	}
	slices.Sort(down)
	slices.Sort(other)
	detail := fmt.Sprintf("%d of %d watchers record %s down (need %d): down [%s], not down [%s]", len(down), len(recs),
		t.region, need, strings.Join(down, " "), strings.Join(other, ", "))
	return len(down) >= need, detail
}

func (w *Watcher) queryAgrees(ctx context.Context, t target, q plan.Query) (bool, string) {
	expr := plan.Expand(q.Expr, t.plan.Service, t.region, t.region, t.to)
	res, err := w.o.Queries.EvaluateQuery(ctx, activities.QueryInput{Name: "watch-quorum",
		PrometheusURL: t.plan.Regions[t.region].PrometheusURL, Expr: expr, Condition: q.Condition})
	if err != nil {
		return false, "prometheus: " + err.Error()
	}
	return res.Verdict == activities.Pass, fmt.Sprintf("prometheus %s: %s", res.Verdict, res.Detail)
}
