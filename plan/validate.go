package plan

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
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
	for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, " =,") {
			v.add("labels", "key %q: use a name without spaces, '=' or ',', e.g. tier", k)
		}
	}
	p.validateRegions(&v)
	p.validateEtcd(&v)
	p.validateKong(&v)
	p.validateDetection(&v)
	p.validateReadiness(&v)
	p.validateApproval(&v)
	p.validateTraffic(&v)
	p.validateWarmup(&v)
	p.validateVerification(&v)
	if !slices.Contains([]string{RollbackAuto, RollbackManual, RollbackNone}, p.Rollback.OnFailure) {
		v.add("rollback.onFailure", "%q: use auto, manual or none", p.Rollback.OnFailure)
	}
	if p.Rollback.PointOfNoReturn != "" && !slices.Contains(pointsOfNoReturn, p.Rollback.PointOfNoReturn) {
		v.add("rollback.pointOfNoReturn", "%q: use one of %s, or leave it empty", p.Rollback.PointOfNoReturn, strings.Join(pointsOfNoReturn, ", "))
	}
	p.validateFailback(&v)
	p.validateSLA(&v)
	p.validateWatch(&v)
	p.validateDrill(&v)
	p.validateDurations(&v)
	if b, err := json.Marshal(p); err == nil && len(b) > MaxPlanBytes {
		v.add("plan", "%d KiB exceeds the limit of %d KiB (the plan is every failover's workflow input; Temporal warns "+
			"from 512 KB and refuses 2 MB): shorten it, usually warmup.keys", kib(len(b)), kib(MaxPlanBytes))
	}
	return v.err()
}

func (p Plan) validateRegions(v *problems) {
	if len(p.Regions) < 2 {
		v.add("regions", "has %d region(s): a failover needs at least two", len(p.Regions))
	}
	targets := map[string]string{} // Kong target → the first region that uses it
	for _, name := range p.RegionNames() {
		r := p.Regions[name]
		f := "regions." + name
		if p.Kong.SwitchesService() {
			// a service switch repoints the Service at kongHost; no targets move (validateKong)
		} else if _, _, err := net.SplitHostPort(r.KongTarget); err != nil {
			v.add(f+".kongTarget", "%q is not host:port: write the Kong upstream target, e.g. 10.0.0.5:8080", r.KongTarget)
		} else if other, ok := targets[strings.ToLower(r.KongTarget)]; ok {
			v.add(f+".kongTarget", "%q is also regions.%s.kongTarget: give %s and %s each their own target (the last "+
				"traffic step sets the source's weight to 0, which would take the target down with it)", r.KongTarget, other, other, name)
		} else {
			targets[strings.ToLower(r.KongTarget)] = name
		}
		v.url(f+".healthURL", r.HealthURL, true)
		v.grpcHealth(f+".grpc", r.GRPC)
		v.url(f+".prometheusURL", r.PrometheusURL, p.needsPrometheus())
		v.url(f+".warmupURL", r.WarmupURL, len(p.Warmup.Keys) > 0)
	}
}

// validateKong checks how the reroute moves traffic: target weights in an upstream, or a service switch.
func (p Plan) validateKong(v *problems) {
	k := p.Kong
	switch k.Switch {
	case "", SwitchWeights:
		if k.Upstream == "" {
			v.add("kong.upstream", "missing: name the Kong upstream whose targets are the regions")
		}
		return
	case SwitchService:
	default:
		v.add("kong.switch", "%q: use weights (shift the upstream's target weights) or service (repoint the Kong Service)", k.Switch)
		return
	}
	if k.Service == "" {
		v.add("kong.service", "missing: name the Kong Service that kong.switch service repoints")
	}
	hosts := map[string]string{}
	for _, name := range p.RegionNames() {
		h := p.Regions[name].KongHost
		switch other, dup := hosts[h]; {
		case h == "":
			v.add("regions."+name+".kongHost", "missing: give the host (upstream name or hostname) kong.service points at while %s is active", name)
		case dup:
			v.add("regions."+name+".kongHost", "%q is also regions.%s.kongHost: each region needs its own", h, other)
		default:
			hosts[h] = name
		}
	}
	if len(p.Traffic.Steps) != 1 || p.Traffic.Steps[0] != 100 {
		v.add("traffic.steps", "%v: a service switch moves all traffic at once: set traffic.steps to [100]", p.Traffic.Steps)
	}
}

func (p Plan) validateEtcd(v *problems) {
	e := p.Etcd
	if !strings.HasPrefix(e.ActiveKey, "/") {
		v.add("etcd.activeKey", "%q: give an absolute key, e.g. /failover/payments/active", e.ActiveKey)
	}
	if (len(e.RequiredConsumers) > 0 || e.MinAcks > 0) && !strings.HasSuffix(e.AckPrefix, "/") {
		v.add("etcd.ackPrefix", "%q: consumers are required to ack, so give a prefix ending in /, e.g. /failover/payments/acks/", e.AckPrefix)
	}
	if e.AckPrefix != "" && strings.HasPrefix(e.ActiveKey, e.AckPrefix) {
		v.add("etcd.activeKey", "%q is under etcd.ackPrefix %q, so reading acks would read the active key too: keep it "+
			"outside the prefix, e.g. /failover/payments/active", e.ActiveKey, e.AckPrefix)
	}
	v.names("etcd.requiredConsumers", e.RequiredConsumers)
	if e.MinAcks < 0 {
		v.add("etcd.minAcks", "is %d: use 0 or more", e.MinAcks)
	}
}

func (p Plan) validateDetection(v *problems) {
	d := p.Detection
	if d.Probes < 0 {
		v.add("detection.probes", "is %d: use 0 (off) or more", d.Probes)
	}
	if d.Probes > MaxProbes {
		v.add("detection.probes", "%d exceeds the limit of %d (the probe activity's result lists every probe): a few "+
			"consecutive failures confirm an outage; use e.g. 3 with a longer probeInterval", d.Probes, MaxProbes)
	}
	if d.Probes == 0 && d.Query == nil {
		v.add("detection", "has neither probes nor query: set detection.probes (e.g. 3) so a healthy region is never failed over")
	}
	if d.Query != nil {
		v.query("detection.query", *d.Query)
	}
	if d.Require != RequireAny && d.Require != RequireAll {
		v.add("detection.require", "%q: use %s or %s", d.Require, RequireAny, RequireAll)
	}
}

func (p Plan) validateReadiness(v *problems) {
	r := p.Readiness
	if (r.LagQuery == "") != (r.MaxReplicationLag == 0) {
		v.add("readiness.lagQuery", "set it together with readiness.maxReplicationLag, or neither")
	}
	if (r.ReadyQuery == "") != (r.MinReadyInstances == 0) {
		v.add("readiness.readyQuery", "set it together with readiness.minReadyInstances, or neither")
	}
	if r.MinReadyInstances < 0 {
		v.add("readiness.minReadyInstances", "is %d: use 0 (no capacity check) or more", r.MinReadyInstances)
	}
	v.placeholders("readiness.lagQuery", r.LagQuery)
	v.placeholders("readiness.readyQuery", r.ReadyQuery)
}

func (p Plan) validateApproval(v *problems) {
	a := p.Approval
	if a.Mode != ApprovalManual && a.Mode != ApprovalAuto {
		v.add("approval.mode", "%q: use manual or auto", a.Mode)
	}
	distinct := v.names("approval.approvers", a.Approvers)
	if a.HasPeople() {
		a.validatePeople(v)
		distinct = len(a.ApproverPeople())
	} else if a.PeopleFile != "" {
		v.add("approval.peopleFile", "%q was never read into approval.people: load the plan with plan.Load", a.PeopleFile)
	}
	if len(a.Approvers) > MaxApprovers {
		v.add("approval.approvers", "%d approvers exceed the limit of %d (the list travels in every approval check and "+
			"message): name the people on call and page a group with escalateTo", len(a.Approvers), MaxApprovers)
	}
	if a.Quorum < 1 {
		v.add("approval.quorum", "is %d: need at least 1 approver", a.Quorum)
	} else if distinct < a.Quorum {
		v.add("approval.quorum", "is %d but approval.approvers names %d distinct approver(s), so it could never be met: "+
			"add approvers or lower the quorum (failback and manual mode always need them)", a.Quorum, distinct)
	} else if a.FourEyes && distinct == a.Quorum {
		v.add("approval.fourEyes", "is on with quorum %d and %d distinct approver(s), so a failover one of them requests "+
			"could never be approved (they may not approve their own): add an approver or lower the quorum", a.Quorum, distinct)
	}
	if !slices.Contains([]string{OnTimeoutAbort, OnTimeoutApprove, OnTimeoutEscalate}, a.OnTimeout) {
		v.add("approval.onTimeout", "%q: use abort, approve or escalate", a.OnTimeout)
	}
	if a.OnTimeout == OnTimeoutEscalate && a.EscalateTo == "" {
		v.add("approval.escalateTo", "missing: onTimeout is escalate, so name who gets paged")
	}
}

func (p Plan) validateTraffic(v *problems) {
	steps := p.Traffic.Steps
	if len(steps) == 0 || steps[len(steps)-1] != 100 {
		v.add("traffic.steps", "%v: the last step must be 100 (all traffic on the target)", steps)
	}
	for i, s := range steps {
		if s < 1 || s > 100 || (i > 0 && s <= steps[i-1]) {
			v.add("traffic.steps", "%v: use increasing percentages from 1 to 100, e.g. [10, 50, 100]", steps)
			break
		}
	}
	if len(steps) > MaxTrafficSteps {
		v.add("traffic.steps", "%d steps exceed the limit of %d (each is a Kong write, a pause and a gate in the "+
			"workflow history): use a few steps, e.g. [10, 50, 100]", len(steps), MaxTrafficSteps)
	}
	v.checks("traffic.gate", p.Traffic.Gate)
	if c := p.Traffic.Confirm; c != nil {
		v.url("traffic.confirm.url", c.URL, true)
		if c.Samples < 1 || c.Samples > 1000 {
			v.add("traffic.confirm.samples", "%d: give 1 to 1000 requests per round, e.g. 20", c.Samples)
		}
		if c.Tolerance <= 0 || c.Tolerance >= 1 {
			v.add("traffic.confirm.tolerance", "%g: give a fraction between 0 and 1, e.g. 0.15", c.Tolerance)
		}
		if c.Timeout <= 0 {
			v.add("traffic.confirm.timeout", "%s: give how long one step may take to show on the gateway, e.g. 30s", c.Timeout)
		}
	}
}

func (p Plan) validateWarmup(v *problems) {
	w := p.Warmup
	if w.Concurrency < 1 || w.Concurrency > 256 {
		v.add("warmup.concurrency", "is %d: use 1 to 256", w.Concurrency)
	}
	if w.BatchSize < 1 {
		v.add("warmup.batchSize", "is %d: use 1 or more keys per request, e.g. 50", w.BatchSize)
	}
	if w.HitRatio < 0 || w.HitRatio > 1 {
		v.add("warmup.hitRatio", "is %g: use a fraction from 0 to 1", w.HitRatio)
	}
	if len(w.Keys) > MaxWarmupKeys {
		v.add("warmup.keys", "%d keys exceed the limit of %d (all travel in one activity input): list the hottest keys "+
			"and let the rest fill on demand", len(w.Keys), MaxWarmupKeys)
	}
	if b, err := json.Marshal(w.Keys); err == nil && len(b) > MaxWarmupKeyBytes {
		v.add("warmup.keys", "%d KiB of keys exceeds the limit of %d KiB (they travel in one activity input; Temporal "+
			"warns from 512 KB and refuses 2 MB): list fewer or shorter keys", kib(len(b)), kib(MaxWarmupKeyBytes))
	}
}

func (p Plan) validateVerification(v *problems) {
	vf := p.Verification
	if vf.Count < 1 {
		v.add("verification.count", "is %d: run each check at least once", vf.Count)
	}
	if vf.Count > MaxVerificationRounds {
		v.add("verification.count", "%d exceeds the limit of %d (each round adds activity events to the workflow "+
			"history): use a longer interval and fewer rounds", vf.Count, MaxVerificationRounds)
	}
	if len(vf.Checks) == 0 {
		v.add("verification.checks", "missing: add at least one check, or a failover would count as verified with nothing checked")
	}
	if vf.FailureLimit < 0 {
		v.add("verification.failureLimit", "is %d: use 0 or more", vf.FailureLimit)
	}
	if results := vf.Count * len(vf.Checks); results > 0 && vf.FailureLimit >= results {
		v.add("verification.failureLimit", "%d tolerates all %d results (%d rounds × %d checks), so verification could "+
			"never fail: use fewer than %d, usually 0", vf.FailureLimit, results, vf.Count, len(vf.Checks), results)
	}
	v.checks("verification.checks", vf.Checks)
	gates := max(len(p.Traffic.Steps)-1, 0)
	if runs := vf.Count*len(vf.Checks) + gates*len(p.Traffic.Gate); runs > MaxCheckRuns {
		v.add("verification.count", "%d rounds × %d checks, plus %d gates × %d checks, are %d check runs and exceed the "+
			"limit of %d (each adds about eight events to the workflow history): use fewer rounds or checks",
			vf.Count, len(vf.Checks), gates, len(p.Traffic.Gate), runs, MaxCheckRuns)
	}
}

func (p Plan) validateFailback(v *problems) {
	fb := p.Failback
	if fb.HoldDown <= 0 || fb.ProbeInterval <= 0 {
		return // validateDurations reports these
	}
	if fb.ProbeInterval > fb.HoldDown {
		v.add("failback.probeInterval", "%s is longer than failback.holdDown (%s), so the original region would be "+
			"probed only once: use an interval well under the hold-down, e.g. 10s", fb.ProbeInterval, fb.HoldDown)
		return
	}
	// The workflow probes holdDown/probeInterval + 1 times in one activity.
	if probes := int64(fb.HoldDown/fb.ProbeInterval) + 1; probes > MaxHoldDownProbes {
		v.add("failback.probeInterval", "%s over failback.holdDown %s is %d probes, more than the limit of %d (the "+
			"hold-down activity's result lists every probe): use a longer interval, at least %s",
			fb.ProbeInterval, fb.HoldDown, probes, MaxHoldDownProbes, (fb.HoldDown/(MaxHoldDownProbes-1)).Truncate(time.Second)+time.Second)
	}
}

// durationRule says why a duration must be above zero and gives a sane value.
type durationRule struct{ why, example string }

// positiveDurations must be above zero; the key is the field's path without indexes. SetDefaults fills each one
// left out, so a zero here means a plan that was built in code and never defaulted.
var positiveDurations = map[string]durationRule{
	"etcd.ackTimeout":                    {"consumers would get no time to ack and every cutover would roll back", "30s"},
	"detection.probeInterval":            {"probes would run back to back, so one blip would look like an outage", "1s"},
	"detection.probeTimeout":             {"every probe would fail, so a healthy region would look down", "2s"},
	"approval.timeout":                   {"nobody would get time to decide and approval.onTimeout would apply at once", "15m"},
	"traffic.gate[].http.timeout":        {"every sample would fail", "2s"},
	"warmup.timeout":                     {"the warmup would get no time to run", "5m"},
	"verification.interval":              {"rounds would run back to back and see the same metrics", "15s"},
	"verification.checks[].http.timeout": {"every sample would fail", "2s"},
	"cooldown":                           {"an alert right after a failover would move traffic again without a human", "30m"},
	"failback.holdDown":                  {"the original region would not be held down at all", "10m"},
	"failback.probeInterval":             {"the hold-down probes could not be spaced out", "10s"},
	"watch.interval":                     {"the watcher would probe back to back", "200ms"},
	"watch.timeout":                      {"every probe would fail, so a healthy region would look down", "200ms"},
	"watch.window":                       {"no run of failures could fit in it", "3s"},
	"watch.flapWindow":                   {"flapping could never be seen", "1m"},
}

// validateDurations checks every time.Duration in the plan, found by reflection so that a new field is covered.
// None may be negative (a negative timer fails the workflow step; a negative timeout decides at once).
func (p Plan) validateDurations(v *problems) {
	walkDurations(reflect.ValueOf(p), "", "", func(path, pattern string, d time.Duration) {
		rule, positive := positiveDurations[pattern]
		switch {
		case positive && d <= 0:
			v.add(path, "is %s: use a positive duration (otherwise %s), e.g. %s", d, rule.why, rule.example)
		case d < 0:
			v.add(path, "is %s: a duration cannot be negative; use 0 or more, e.g. 10s", d)
		}
	})
}

var durationType = reflect.TypeFor[time.Duration]()

// walkDurations calls fn for every time.Duration in v with its YAML path ("verification.checks[1].http.timeout")
// and its pattern, the path without indexes or map keys ("verification.checks[].http.timeout").
func walkDurations(v reflect.Value, path, pattern string, fn func(path, pattern string, d time.Duration)) {
	if !mayHoldDuration(v.Type()) {
		return
	}
	switch v.Kind() {
	case reflect.Int64:
		fn(path, pattern, time.Duration(v.Int()))
	case reflect.Pointer:
		if !v.IsNil() {
			walkDurations(v.Elem(), path, pattern, fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkDurations(v.Index(i), fmt.Sprintf("%s[%d]", path, i), pattern+"[]", fn)
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		for _, k := range keys {
			walkDurations(v.MapIndex(k), join(path, fmt.Sprint(k)), join(pattern, "*"), fn)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			walkDurations(v.Field(i), join(path, name), join(pattern, name), fn)
		}
	}
}

// mayHoldDuration says whether a value of type t is or contains a time.Duration, so the walk skips key lists.
func mayHoldDuration(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int64:
		return t == durationType
	case reflect.Pointer, reflect.Slice, reflect.Map:
		return mayHoldDuration(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if mayHoldDuration(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
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

type problems []Problem

func (v *problems) add(field, format string, args ...any) {
	*v = append(*v, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
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

// names reports blank and repeated entries of a list of names and returns how many distinct names it holds.
func (v *problems) names(field string, list []string) int {
	seen := map[string]bool{}
	for i, s := range list {
		switch {
		case strings.TrimSpace(s) == "":
			v.add(fmt.Sprintf("%s[%d]", field, i), "empty: write a name or remove the entry")
		case seen[s]:
			v.add(fmt.Sprintf("%s[%d]", field, i), "%q is listed twice: list each name once", s)
		default:
			seen[s] = true
		}
	}
	return len(seen)
}

var placeholder = regexp.MustCompile(`\$\{[^}]*\}`)

// placeholders reports ${...} that Expand would leave in place: a misspelt one would reach Prometheus or the
// gateway as written.
func (v *problems) placeholders(field, s string) {
	for _, ph := range placeholder.FindAllString(s, -1) {
		if !slices.Contains(placeholders, ph) {
			v.add(field, "%s is not replaced: use one of %s", ph, strings.Join(placeholders, ", "))
		}
	}
}

func (v *problems) query(field string, q Query) {
	if strings.TrimSpace(q.Expr) == "" {
		v.add(field+".expr", "missing: write the PromQL expression")
	}
	v.placeholders(field+".expr", q.Expr)
	if _, err := ParseCondition(q.Condition); err != nil {
		v.add(field+".condition", "%v", err)
	}
}

func (v *problems) checks(field string, cs []Check) {
	if len(cs) > MaxChecks {
		v.add(field, "%d checks exceed the limit of %d (each runs as an activity every time the checks run): "+
			"combine them into fewer PromQL expressions", len(cs), MaxChecks)
	}
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
			v.httpCheck(f+".http", *c.HTTP)
		}
	}
}

func (v *problems) httpCheck(field string, h HTTPCheck) {
	v.url(field+".url", h.URL, true)
	v.placeholders(field+".url", h.URL)
	for _, name := range slices.Sorted(maps.Keys(h.ExpectHeader)) {
		v.placeholders(field+".expectHeader."+name, h.ExpectHeader[name])
	}
	if h.ExpectStatus < 100 || h.ExpectStatus > 599 {
		v.add(field+".expectStatus", "is %d: use an HTTP status from 100 to 599, e.g. 200", h.ExpectStatus)
	}
	switch {
	case h.Samples < 1:
		v.add(field+".samples", "is %d: send at least 1 request, e.g. 5", h.Samples)
	case h.Samples > MaxSamples:
		v.add(field+".samples", "%d exceeds the limit of %d (samples are sent one after another inside one check): "+
			"use fewer, e.g. 10", h.Samples, MaxSamples)
	case h.Timeout > 0 && time.Duration(h.Samples)*h.Timeout > CheckRunTime:
		v.add(field, "%d samples × %s timeout = %s could outlast the %s a check may take, and a check that times out "+
			"reads as inconclusive: use fewer samples or a shorter timeout", h.Samples, h.Timeout, time.Duration(h.Samples)*h.Timeout, CheckRunTime)
	}
	if h.MinSuccess < 0 || h.MinSuccess > 1 {
		v.add(field+".minSuccess", "is %g: use a fraction from 0 to 1", h.MinSuccess)
	}
}

func kib(n int) int { return (n + 1023) / 1024 }

func (v problems) err() error {
	if len(v) == 0 {
		return nil
	}
	return &InvalidError{Problems: v}
}

// InvalidError is Validate's error: every problem at once.
type InvalidError struct {
	Problems []Problem
}

func (e *InvalidError) Error() string {
	return "invalid plan:\n  " + problems(e.Problems).join()
}

// join lists the problems one per line, as the errors show them.
func (v problems) join() string {
	lines := make([]string, len(v))
	for i, p := range v {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n  ")
}

// Problem is one thing Validate refuses: the field, and what is wrong with the fix.
type Problem struct {
	Field   string
	Message string
}

func (p Problem) String() string { return p.Field + ": " + p.Message }
