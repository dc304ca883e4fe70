package plan

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// Steps whose start is a point of no return may be named in rollback.pointOfNoReturn.
var pointsOfNoReturn = []string{"reroute", "warmup", "verify"}

// Validate checks a defaulted plan and returns every problem at once, each naming the field and the fix.
func (p Plan) Validate() error {
	var v problems
	if p.Service == "" {
		v.add("service", "missing: name the service, e.g. payments")
	} else if strings.ContainsAny(p.Service, " /") {
		v.add("service", "%q has a space or slash: use letters, digits and dashes", p.Service)
	}
	if len(p.Regions) < 2 {
		v.add("regions", "has %d region(s): a failover needs at least two", len(p.Regions))
	}
	for _, name := range p.RegionNames() {
		r := p.Regions[name]
		f := "regions." + name
		if _, _, err := net.SplitHostPort(r.KongTarget); err != nil {
			v.add(f+".kongTarget", "%q is not host:port: write the Kong upstream target, e.g. 10.0.0.5:8080", r.KongTarget)
		}
		v.url(f+".healthURL", r.HealthURL, true)
		v.url(f+".prometheusURL", r.PrometheusURL, p.needsPrometheus())
		v.url(f+".warmupURL", r.WarmupURL, len(p.Warmup.Keys) > 0)
	}
	if !strings.HasPrefix(p.Etcd.ActiveKey, "/") {
		v.add("etcd.activeKey", "%q: give an absolute key, e.g. /failover/payments/active", p.Etcd.ActiveKey)
	}
	if (len(p.Etcd.RequiredConsumers) > 0 || p.Etcd.MinAcks > 0) && !strings.HasSuffix(p.Etcd.AckPrefix, "/") {
		v.add("etcd.ackPrefix", "%q: consumers are required to ack, so give a prefix ending in /, e.g. /failover/payments/acks/", p.Etcd.AckPrefix)
	}
	if p.Etcd.MinAcks < 0 {
		v.add("etcd.minAcks", "is %d: use 0 or more", p.Etcd.MinAcks)
	}
	if p.Kong.Upstream == "" {
		v.add("kong.upstream", "missing: name the Kong upstream whose targets are the regions")
	}
	if p.Detection.Probes < 0 {
		v.add("detection.probes", "is %d: use 0 (off) or more", p.Detection.Probes)
	}
	if p.Detection.Probes == 0 && p.Detection.Query == nil {
		v.add("detection", "has neither probes nor query: set detection.probes (e.g. 3) so a healthy region is never failed over")
	}
	if p.Detection.Query != nil {
		v.query("detection.query", *p.Detection.Query)
	}
	if p.Detection.Require != "any" && p.Detection.Require != "all" {
		v.add("detection.require", "%q: use any or all", p.Detection.Require)
	}
	if (p.Readiness.LagQuery == "") != (p.Readiness.MaxReplicationLag == 0) {
		v.add("readiness.lagQuery", "set it together with readiness.maxReplicationLag, or neither")
	}
	if (p.Readiness.ReadyQuery == "") != (p.Readiness.MinReadyInstances == 0) {
		v.add("readiness.readyQuery", "set it together with readiness.minReadyInstances, or neither")
	}
	p.validateApproval(&v)
	if len(p.Traffic.Steps) == 0 || p.Traffic.Steps[len(p.Traffic.Steps)-1] != 100 {
		v.add("traffic.steps", "%v: the last step must be 100 (all traffic on the target)", p.Traffic.Steps)
	}
	for i, s := range p.Traffic.Steps {
		if s < 1 || s > 100 || (i > 0 && s <= p.Traffic.Steps[i-1]) {
			v.add("traffic.steps", "%v: use increasing percentages from 1 to 100, e.g. [10, 50, 100]", p.Traffic.Steps)
			break
		}
	}
	v.checks("traffic.gate", p.Traffic.Gate)
	if p.Warmup.Concurrency < 1 || p.Warmup.Concurrency > 256 {
		v.add("warmup.concurrency", "is %d: use 1 to 256", p.Warmup.Concurrency)
	}
	if p.Warmup.HitRatio < 0 || p.Warmup.HitRatio > 1 {
		v.add("warmup.hitRatio", "is %g: use a fraction from 0 to 1", p.Warmup.HitRatio)
	}
	if p.Verification.Count < 1 {
		v.add("verification.count", "is %d: run each check at least once", p.Verification.Count)
	}
	if p.Verification.FailureLimit < 0 {
		v.add("verification.failureLimit", "is %d: use 0 or more", p.Verification.FailureLimit)
	}
	v.checks("verification.checks", p.Verification.Checks)
	if !slices.Contains([]string{RollbackAuto, RollbackManual, RollbackNone}, p.Rollback.OnFailure) {
		v.add("rollback.onFailure", "%q: use auto, manual or none", p.Rollback.OnFailure)
	}
	if p.Rollback.PointOfNoReturn != "" && !slices.Contains(pointsOfNoReturn, p.Rollback.PointOfNoReturn) {
		v.add("rollback.pointOfNoReturn", "%q: use one of %s, or leave it empty", p.Rollback.PointOfNoReturn, strings.Join(pointsOfNoReturn, ", "))
	}
	return v.err()
}

func (p Plan) validateApproval(v *problems) {
	a := p.Approval
	if a.Mode != ApprovalManual && a.Mode != ApprovalAuto {
		v.add("approval.mode", "%q: use manual or auto", a.Mode)
	}
	if a.Quorum < 1 {
		v.add("approval.quorum", "is %d: need at least 1 approver", a.Quorum)
	}
	if len(a.Approvers) < a.Quorum {
		v.add("approval.approvers", "lists %d approver(s) but quorum is %d: add approvers (failback and manual mode always need them)", len(a.Approvers), a.Quorum)
	}
	if !slices.Contains([]string{OnTimeoutAbort, OnTimeoutApprove, OnTimeoutEscalate}, a.OnTimeout) {
		v.add("approval.onTimeout", "%q: use abort, approve or escalate", a.OnTimeout)
	}
	if a.OnTimeout == OnTimeoutEscalate && a.EscalateTo == "" {
		v.add("approval.escalateTo", "missing: onTimeout is escalate, so name who gets paged")
	}
}

func (p Plan) needsPrometheus() bool {
	if p.Detection.Query != nil || p.Readiness.LagQuery != "" || p.Readiness.ReadyQuery != "" {
		return true
	}
	for _, c := range append(slices.Clone(p.Traffic.Gate), p.Verification.Checks...) {
		if c.Prometheus != nil {
			return true
		}
	}
	return false
}

// RegionNames lists the plan's regions in sorted order.
func (p Plan) RegionNames() []string {
	names := make([]string, 0, len(p.Regions))
	for n := range p.Regions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// OtherRegion is the plan's region that is not r, when the plan has exactly two.
func (p Plan) OtherRegion(r string) (string, error) {
	names := p.RegionNames()
	if len(names) != 2 || !slices.Contains(names, r) {
		return "", fmt.Errorf("plan %s: cannot pick the other region of %q among %v: name the target region", p.Service, r, names)
	}
	if names[0] == r {
		return names[1], nil
	}
	return names[0], nil
}

type problems []string

func (v *problems) add(field, format string, args ...any) {
	*v = append(*v, field+": "+fmt.Sprintf(format, args...))
}

func (v *problems) url(field, s string, required bool) {
	if s == "" {
		if required {
			v.add(field, "missing: give an http(s) URL")
		}
		return
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(field, "%q is not an http(s) URL with a host", s)
	}
}

func (v *problems) query(field string, q Query) {
	if strings.TrimSpace(q.Expr) == "" {
		v.add(field+".expr", "missing: write the PromQL expression")
	}
	if _, err := ParseCondition(q.Condition); err != nil {
		v.add(field+".condition", "%v", err)
	}
}

func (v *problems) checks(field string, cs []Check) {
	seen := map[string]bool{}
	for i, c := range cs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if c.Name == "" {
			v.add(f+".name", "missing: name the check so results can be told apart")
		} else if seen[c.Name] {
			v.add(f+".name", "%q is used twice: names must be unique", c.Name)
		}
		seen[c.Name] = true
		switch {
		case (c.Prometheus == nil) == (c.HTTP == nil):
			v.add(f, "give exactly one of prometheus or http")
		case c.Prometheus != nil:
			v.query(f+".prometheus", *c.Prometheus)
		default:
			v.url(f+".http.url", c.HTTP.URL, true)
			if c.HTTP.MinSuccess < 0 || c.HTTP.MinSuccess > 1 {
				v.add(f+".http.minSuccess", "is %g: use a fraction from 0 to 1", c.HTTP.MinSuccess)
			}
		}
	}
}

func (v problems) err() error {
	if len(v) == 0 {
		return nil
	}
	return errors.New("invalid plan:\n  " + strings.Join(v, "\n  "))
}
