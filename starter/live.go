package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// liveVerdict is one query or probe of a plan run today, read-only: what a failover from Where would see.
type liveVerdict struct {
	// Where is the direction it was judged for, e.g. "us-east→eu-west", or one region for its health.
	Where   string `json:"where"`
	Field   string `json:"field"`
	Verdict string `json:"verdict"`
	Detail  string `json:"detail"`
	// Absent is set for a query with a constant fallback (`or vector(0)`) whose metric returns no series today:
	// the check answers with the fallback alone.
	Absent bool `json:"absent,omitempty"`
	// Inconclusive is set when a failover would get no verdict from it today (no data, several series,
	// Prometheus unreachable): it would pause for a person.
	Inconclusive bool `json:"inconclusive,omitempty"`
}

// liveTimeout bounds the whole --live pass of one plan.
const liveTimeout = 2 * time.Minute

// liveChecks runs every probe and query of the plan for each direction between its regions, read-only: health
// probes (GET), Prometheus instant queries and the HTTP checks (GET through the gateway). Nothing is written.
func liveChecks(ctx context.Context, p plan.Plan, hc *http.Client) []liveVerdict {
	ctx, cancel := context.WithTimeout(ctx, liveTimeout)
	defer cancel()
	acts := &activities.Activities{HTTP: hc}
	var out []liveVerdict
	names := p.RegionNames()
	for _, r := range names {
		res, err := acts.ProbeHealth(ctx, activities.ProbeInput{URL: p.Regions[r].HealthURL, Attempts: 1, Timeout: p.Detection.ProbeTimeout, Expect: "up"})
		v := liveVerdict{Where: r, Field: "regions." + r + ".healthURL", Verdict: "up"}
		switch {
		case err != nil:
			v.Verdict, v.Detail, v.Inconclusive = "unknown", err.Error(), true
		case !res.Confirmed:
			v.Verdict = "down"
		}
		if len(res.Evidence) > 0 {
			v.Detail = res.Evidence[len(res.Evidence)-1]
		}
		out = append(out, v)
	}
	for _, from := range names {
		for _, to := range names {
			if from == to {
				continue
			}
			d := direction{p: p, from: from, to: to, acts: acts}
			out = append(out, d.run(ctx)...)
		}
	}
	return out
}

// direction is a failover from one region to another, as --live judges its checks.
type direction struct {
	p        plan.Plan
	from, to string
	acts     *activities.Activities
}

func (d direction) run(ctx context.Context) []liveVerdict {
	var out []liveVerdict
	if q := d.p.Detection.Query; q != nil {
		out = append(out, d.query(ctx, "detection.query", d.from, *q, "outage confirmed", "not down")...)
	}
	r := d.p.Readiness
	if r.LagQuery != "" {
		q := plan.Query{Expr: r.LagQuery, Condition: fmt.Sprintf("<= %g", r.MaxReplicationLag.Seconds())}
		out = append(out, d.query(ctx, "readiness.lagQuery", d.to, q, "pass", "fail")...)
	}
	if r.ReadyQuery != "" {
		q := plan.Query{Expr: r.ReadyQuery, Condition: fmt.Sprintf(">= %d", r.MinReadyInstances)}
		out = append(out, d.query(ctx, "readiness.readyQuery", d.to, q, "pass", "fail")...)
	}
	for _, g := range []struct {
		field  string
		checks []plan.Check
	}{{"traffic.gate", d.p.Traffic.Gate}, {"verification.checks", d.p.Verification.Checks}} {
		for i, c := range g.checks {
			field := fmt.Sprintf("%s[%d]", g.field, i)
			if c.Prometheus != nil {
				out = append(out, d.query(ctx, field, d.to, *c.Prometheus, "pass", "fail")...)
				continue
			}
			out = append(out, d.httpCheck(ctx, field, c))
		}
	}
	return out
}

// query evaluates q for region as the workflow would, and, when q has a constant fallback, the query without it:
// no series there means the check answers with the fallback alone today.
func (d direction) query(ctx context.Context, field, region string, q plan.Query, pass, fail string) []liveVerdict {
	where := d.from + "→" + d.to
	expand := func(s string) string { return plan.Expand(s, d.p.Service, region, d.from, d.to) }
	url := d.p.Regions[region].PrometheusURL
	res, err := d.acts.EvaluateQuery(ctx, activities.QueryInput{Name: field, PrometheusURL: url, Expr: expand(q.Expr), Condition: q.Condition})
	v := liveVerdict{Where: where, Field: field, Detail: res.Detail}
	switch {
	case err != nil:
		v.Verdict, v.Detail, v.Inconclusive = string(activities.Inconclusive), err.Error(), true
	case res.Verdict == activities.Pass:
		v.Verdict = pass
	case res.Verdict == activities.Fail:
		v.Verdict = fail
	default:
		v.Verdict, v.Inconclusive = string(activities.Inconclusive), true
	}
	out := []liveVerdict{v}
	if _, text, ok := plan.ConstantFallback(q.Expr); ok {
		bare := plan.WithoutFallback(q.Expr)
		res, err := d.acts.EvaluateQuery(ctx, activities.QueryInput{Name: field, PrometheusURL: url, Expr: expand(bare), Condition: q.Condition})
		if err == nil && res.Verdict == activities.Inconclusive {
			out = append(out, liveVerdict{Where: where, Field: field, Verdict: "absent", Absent: true,
				Detail: fmt.Sprintf("without `%s` the query answers nothing (%s): today the check reads the fallback alone", text, res.Detail)})
		}
	}
	return out
}

func (d direction) httpCheck(ctx context.Context, field string, c plan.Check) liveVerdict {
	h := c.HTTP
	headers := map[string]string{}
	for k, v := range h.ExpectHeader {
		headers[k] = plan.Expand(v, d.p.Service, d.to, d.from, d.to)
	}
	res, err := d.acts.HTTPCheck(ctx, activities.HTTPCheckInput{Name: c.Name, URL: plan.Expand(h.URL, d.p.Service, d.to, d.from, d.to),
		ExpectStatus: h.ExpectStatus, ExpectHeader: headers, Samples: h.Samples, MinSuccess: h.MinSuccess, Timeout: h.Timeout})
	v := liveVerdict{Where: d.from + "→" + d.to, Field: field, Verdict: string(res.Verdict), Detail: res.Detail}
	if err != nil {
		v.Verdict, v.Detail = string(activities.Inconclusive), err.Error()
	}
	v.Inconclusive = v.Verdict == string(activities.Inconclusive)
	return v
}

// liveFindings turns what --live saw into findings: a check that answers with its fallback alone today is an
// error (it passes without data); one a failover would find inconclusive is a warning.
func liveFindings(vs []liveVerdict) []plan.Finding {
	var out []plan.Finding
	for _, v := range vs {
		switch {
		case v.Absent:
			out = append(out, plan.Finding{Severity: plan.SevError, Field: v.Field, Message: fmt.Sprintf("live %s: %s: "+
				"remove the fallback, or export the metric (for Kong: the Prometheus plugin's status_code_metrics=true)", v.Where, v.Detail)})
		case v.Inconclusive:
			out = append(out, plan.Finding{Severity: plan.SevWarning, Field: v.Field, Message: fmt.Sprintf("live %s: "+
				"inconclusive today (%s): a failover would pause here for a person: fix the query or its data source", v.Where, v.Detail)})
		}
	}
	return out
}
