package activities

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/failover/failover/plan"
)

// promAPI is the one Prometheus call the checks make.
type promAPI interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...promv1.Option) (model.Value, promv1.Warnings, promv1.Infos, error)
}

// QueryInput is an instant PromQL query and the condition its single value must meet.
type QueryInput struct {
	Name          string
	PrometheusURL string
	Expr          string
	Condition     string
}

// EvaluateQuery runs an instant query. The condition holding is a pass, not holding a fail; an unreachable
// Prometheus, no data, several series or NaN are inconclusive, never a pass.
func (a *Activities) EvaluateQuery(ctx context.Context, in QueryInput) (CheckResult, error) {
	res := CheckResult{Name: in.Name, Verdict: Inconclusive}
	cond, err := plan.ParseCondition(in.Condition)
	if err != nil {
		return res, badInput("check %s: %v", in.Name, err)
	}
	prom, err := a.promClient(in.PrometheusURL)
	if err != nil {
		return res, badInput("check %s: prometheus URL %q: %v", in.Name, in.PrometheusURL, err)
	}
	defer keepAlive(ctx, nil)() // the query may take its whole 5 s: longer than the HeartbeatTimeout
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	val, _, _, err := prom.Query(qctx, in.Expr, time.Now())
	if err != nil {
		res.Detail = fmt.Sprintf("prometheus unreachable or query failed: %v", err)
		return res, nil
	}
	v, ok, why := single(val)
	if !ok {
		res.Detail = why
		return res, nil
	}
	res.Value = v
	if cond.Holds(v) {
		res.Verdict = Pass
	} else {
		res.Verdict = Fail
	}
	res.Detail = fmt.Sprintf("%s = %g, want %s", in.Expr, v, cond)
	return res, nil
}

// single extracts the one number a check compares.
func single(val model.Value) (float64, bool, string) {
	var v float64
	switch val := val.(type) {
	case model.Vector:
		if len(val) != 1 {
			return 0, false, fmt.Sprintf("query returned %d series, want 1 (aggregate it with sum or max)", len(val))
		}
		v = float64(val[0].Value)
	case *model.Scalar:
		v = float64(val.Value)
	default:
		return 0, false, fmt.Sprintf("query returned a %s, want a vector of one series or a scalar", val.Type())
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, fmt.Sprintf("query returned %g", v)
	}
	return v, true, ""
}

func (a *Activities) promClient(url string) (promAPI, error) {
	a.promMu.Lock()
	defer a.promMu.Unlock()
	if p, ok := a.prom[url]; ok {
		return p, nil
	}
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return nil, err
	}
	if a.prom == nil {
		a.prom = map[string]promAPI{}
	}
	p := promv1.NewAPI(c)
	a.prom[url] = p
	return p, nil
}
