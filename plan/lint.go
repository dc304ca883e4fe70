package plan

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Severity says whether a lint finding fails `starter plan validate`: errors always, warnings with --strict, notes
// never (a note points out a policy the plan chose, for its reviewers).
type Severity string

// Severities.
const (
	SevError   Severity = "error"   // the plan cannot protect anyone as written
	SevWarning Severity = "warning" // the plan works, but something people rely on is missing or weak
	SevNote    Severity = "note"    // the plan chose a policy its reviewers should see (e.g. drill.failback auto)
)

// Finding is one lint result: the field, what is wrong and the fix.
type Finding struct {
	Severity Severity `json:"severity"`
	Field    string   `json:"field"`
	Message  string   `json:"message"`
}

func (f Finding) String() string { return fmt.Sprintf("%s: %s: %s", f.Severity, f.Field, f.Message) }

// Lint finds plans that pass Validate yet cannot protect anyone: checks that can never fail, detection that cannot
// see the source region, approvers nothing identifies, no SLA, waits longer than the SLA. It reads the plan only;
// `starter plan validate --live` also runs its queries and probes. Call it on a plan Validate accepted.
func (p Plan) Lint() []Finding {
	var l lints
	p.lintChecks(&l)
	p.lintDetection(&l)
	p.lintApprovers(&l)
	p.lintSLA(&l)
	p.lintDrill(&l)
	return l
}

type lints []Finding

func (l *lints) add(sev Severity, field, format string, args ...any) {
	*l = append(*l, Finding{Severity: sev, Field: field, Message: fmt.Sprintf(format, args...)})
}

// constantFallback matches a constant fallback such as `or vector(0)` (or `or on() vector(0)`), which answers
// whenever the series before it is absent.
var constantFallback = regexp.MustCompile(`\bor\b(?:\s+on\s*\(\s*\))?\s+vector\s*\(\s*([-+]?[0-9.eE+-]+|[-+]?Inf|NaN)\s*\)`)

// ConstantFallback returns the value of a constant fallback (`or vector(N)`) in a PromQL expression.
func ConstantFallback(expr string) (float64, string, bool) {
	m := constantFallback.FindStringSubmatch(expr)
	if m == nil {
		return 0, "", false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, "", false
	}
	return v, m[0], true
}

// WithoutFallback is expr with its constant fallbacks removed: what `--live` runs to see whether the series exist.
func WithoutFallback(expr string) string {
	return strings.TrimSpace(constantFallback.ReplaceAllString(expr, ""))
}

// lintChecks: a gate or verification check whose constant fallback meets its condition passes whenever the metric
// is absent, so it can never fail on missing data; the same fallback in readiness makes a missing metric ready.
func (p Plan) lintChecks(l *lints) {
	for _, group := range []struct {
		field  string
		checks []Check
	}{{"traffic.gate", p.Traffic.Gate}, {"verification.checks", p.Verification.Checks}} {
		for i, c := range group.checks {
			if c.Prometheus == nil {
				continue
			}
			field := fmt.Sprintf("%s[%d].prometheus.expr", group.field, i)
			if v, text, ok := ConstantFallback(c.Prometheus.Expr); ok && holds(c.Prometheus.Condition, v) {
				l.add(SevError, field, "check %q can never fail on missing data: `%s` passes its condition (%g %s) whenever "+
					"the metric is absent (e.g. Kong exports per-status-code counters only with status_code_metrics=true): "+
					"remove `%s` so a missing metric reads inconclusive and a person decides, or fall back on an "+
					"expression that exists only when traffic does, e.g. `or sum(rate(<all requests>[1m])) * 0`",
					c.Name, text, v, c.Prometheus.Condition, text)
			}
			if !mentionsRegion(c.Prometheus.Expr) {
				l.add(SevWarning, field, "check %q names no ${region} or ${to}: it judges every region at once, so the "+
					"source's errors can fail the target's verification (or hide them): filter on region=\"${region}\"", c.Name)
			}
		}
	}
	r := p.Readiness
	if v, text, ok := ConstantFallback(r.LagQuery); ok && v <= r.MaxReplicationLag.Seconds() {
		l.add(SevError, "readiness.lagQuery", "`%s` reads a missing lag metric as %gs of lag: the target looks "+
			"replicated (and the RPO measured) when nothing is known: remove `%s` so readiness stops on missing data", text, v, text)
	}
	if v, text, ok := ConstantFallback(r.ReadyQuery); ok && v >= float64(r.MinReadyInstances) {
		l.add(SevError, "readiness.readyQuery", "`%s` reads a missing capacity metric as %g ready instances: "+
			"remove `%s` so readiness stops on missing data", text, v, text)
	}
}

// lintDetection: detection must be able to see the source region's outage and nothing else.
func (p Plan) lintDetection(l *lints) {
	d := p.Detection
	if d.Query == nil {
		return
	}
	if v, text, ok := ConstantFallback(d.Query.Expr); ok && holds(d.Query.Condition, v) {
		l.add(SevError, "detection.query.expr", "`%s` meets the condition %s when the metric is absent: a region "+
			"that stopped reporting counts as down, so a scrape gap fails a healthy region over: remove `%s`", text, d.Query.Condition, text)
	}
	if !mentionsRegion(d.Query.Expr) && !strings.Contains(d.Query.Expr, "${from}") {
		sev := SevWarning
		if d.Probes == 0 || d.Require == RequireAll {
			sev = SevError // the query alone decides
		}
		l.add(sev, "detection.query.expr", "names no ${region} or ${from}: it cannot tell the source region's outage "+
			"from the target's, so it is no detection signal for the source: filter on region=\"${region}\"")
	}
}

// lintApprovers: a decision should be proven by an identity, not a name anyone can type.
func (p Plan) lintApprovers(l *lints) {
	a := p.Approval
	if !a.HasPeople() {
		if len(a.Approvers) > 0 {
			l.add(SevWarning, "approval.approvers", "%v are names nothing proves (a legacy plan): anyone with Temporal "+
				"access can approve as them: list approval.people with each person's slack IDs or sshKeys", a.Approvers)
		}
		return
	}
	for _, name := range a.ApproverPeople() {
		for _, person := range a.People {
			if person.Name == name && len(person.Slack) == 0 && len(person.SSHKeys) == 0 {
				l.add(SevWarning, "approval.people."+name, "approver %s has no identity (no slack, no sshKeys): their "+
					"decisions count only unsigned (allowUnsigned), so anyone can send them: add their Slack member ID or SSH key", name)
			}
		}
	}
}

// lintSLA: a plan without an SLA is judged against nothing; one whose own waits exceed it can never meet it.
func (p Plan) lintSLA(l *lints) {
	s := p.SLA
	if s == nil {
		l.add(SevWarning, "sla", "missing: runs and drills are judged against nothing: declare sla.rto (e.g. 30s) and sla.rpo (e.g. 5s)")
		return
	}
	if s.RPO > 0 && p.Readiness.LagQuery == "" {
		l.add(SevWarning, "sla.rpo", "is %s but readiness.lagQuery is empty, so every RPO is unknown: set readiness.lagQuery "+
			"(the target's replication lag in seconds) with readiness.maxReplicationLag", s.RPO)
	}
	if s.RPO > 0 && p.Readiness.MaxReplicationLag > s.RPO {
		l.add(SevWarning, "readiness.maxReplicationLag", "%s lets a failover start with more lag than sla.rpo %s, "+
			"knowingly breaching it: lower it to %s, or keep it if failing over with some data loss beats staying down",
			p.Readiness.MaxReplicationLag, s.RPO, s.RPO)
	}
	if s.RTO == 0 {
		l.add(SevWarning, "sla.rto", "missing: declare how long a failover may take, e.g. 30s")
		return
	}
	if waits, parts := p.fixedWaits(); waits >= s.RTO {
		l.add(SevError, "sla.rto", "%s, but the plan's own waits add up to %s (%s): no failover can meet it: "+
			"shorten those waits or raise sla.rto", s.RTO, waits, strings.Join(parts, " + "))
	}
	timeouts := []struct {
		field string
		d     time.Duration
		on    bool
	}{
		{"approval.timeout", p.Approval.Timeout, p.Approval.Mode == ApprovalManual},
		{"etcd.ackTimeout", p.Etcd.AckTimeout, len(p.Etcd.RequiredConsumers) > 0 || p.Etcd.MinAcks > 0},
		{"warmup.timeout", p.Warmup.Timeout, len(p.Warmup.Keys) > 0},
	}
	for _, t := range timeouts {
		if t.on && t.d > s.RTO {
			l.add(SevWarning, t.field, "%s is longer than sla.rto %s: a failover that waits it out has missed its SLA "+
				"long before it gives up: use at most %s", t.d, s.RTO, s.RTO)
		}
	}
}

// fixedWaits is the least time a failover spends waiting by the plan's own clock: detection probes, the pauses
// between traffic steps and verification rounds.
func (p Plan) fixedWaits() (time.Duration, []string) {
	var total time.Duration
	var parts []string
	add := func(d time.Duration, what string) {
		if d > 0 {
			total += d
			parts = append(parts, fmt.Sprintf("%s %s", what, d))
		}
	}
	if n := p.Detection.Probes; n > 1 {
		add(time.Duration(n-1)*p.Detection.ProbeInterval, "detection probes")
	}
	if n := len(p.Traffic.Steps); n > 1 {
		add(time.Duration(n-1)*p.Traffic.StepPause, "traffic.stepPause")
	}
	if n := p.Verification.Count; n > 1 {
		add(time.Duration(n-1)*p.Verification.Interval, "verification rounds")
	}
	return total, parts
}

func holds(condition string, v float64) bool {
	c, err := ParseCondition(condition)
	return err == nil && c.Holds(v)
}

func mentionsRegion(expr string) bool {
	return slices.ContainsFunc([]string{"${region}", "${to}"}, func(ph string) bool { return strings.Contains(expr, ph) })
}
