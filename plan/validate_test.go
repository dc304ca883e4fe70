package plan

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// example is the shipped example plan, decoded and defaulted; each test changes a fresh copy.
func example(t *testing.T) Plan {
	t.Helper()
	p, err := Load("../deploy/plans/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checks(n int) []Check {
	cs := make([]Check, n)
	for i := range cs {
		cs[i] = Check{Name: fmt.Sprintf("check-%d", i), Prometheus: &Query{Expr: "up", Condition: "> 0"}}
	}
	return cs
}

func keys(n, size int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("%0*d", size, i)
	}
	return ks
}

func TestValidateRefusesDangerousPlans(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(p *Plan)
		want   []string // each must appear in the error
	}{
		// Durations: negative is never meaningful; zero is where the workflow would misbehave.
		{"negative approval timeout", func(p *Plan) { p.Approval.Timeout, p.Approval.OnTimeout = -time.Second, OnTimeoutApprove },
			[]string{"approval.timeout: is -1s"}},
		{"negative failback probe interval", func(p *Plan) { p.Failback.ProbeInterval = -10 * time.Second },
			[]string{"failback.probeInterval: is -10s"}},
		{"negative probe timeout", func(p *Plan) { p.Detection.ProbeTimeout = -time.Second },
			[]string{"detection.probeTimeout: is -1s"}},
		{"negative step pause", func(p *Plan) { p.Traffic.StepPause = -time.Second }, []string{"traffic.stepPause: is -1s"}},
		{"service switch without service or hosts", func(p *Plan) { p.Kong.Switch = SwitchService },
			[]string{"kong.service: missing", "regions.eu-west.kongHost: missing", "traffic.steps", "set traffic.steps to [100]"}},
		{"unknown switch", func(p *Plan) { p.Kong.Switch = "dns" }, []string{`kong.switch: "dns"`}},
		{"bad split confirmation", func(p *Plan) {
			p.Traffic.Confirm = &SplitCheck{URL: "kong/items", Samples: 5000, Tolerance: 1.5, Timeout: -time.Second}
		}, []string{"traffic.confirm.url", "traffic.confirm.samples: 5000", "traffic.confirm.tolerance: 1.5", "traffic.confirm.timeout: -1s"}},
		{"negative http check timeout", func(p *Plan) { p.Verification.Checks[1].HTTP.Timeout = -time.Second },
			[]string{"verification.checks[1].http.timeout: is -1s"}},
		{"negative replication lag", func(p *Plan) { p.Readiness.MaxReplicationLag = -5 * time.Second },
			[]string{"readiness.maxReplicationLag: is -5s"}},
		{"zero approval timeout", func(p *Plan) { p.Approval.Timeout = 0 }, []string{"approval.timeout: is 0s"}},
		{"zero probe timeout", func(p *Plan) { p.Detection.ProbeTimeout = 0 }, []string{"detection.probeTimeout: is 0s"}},
		{"zero failback probe interval", func(p *Plan) { p.Failback.ProbeInterval = 0 }, []string{"failback.probeInterval: is 0s"}},
		{"zero ack timeout", func(p *Plan) { p.Etcd.AckTimeout = 0 }, []string{"etcd.ackTimeout: is 0s"}},
		{"failback probed once", func(p *Plan) { p.Failback.HoldDown, p.Failback.ProbeInterval = time.Minute, time.Hour },
			[]string{"failback.probeInterval", "longer than failback.holdDown"}},

		// Regions.
		{"shared kong target", func(p *Plan) {
			r := p.Regions["eu-west"]
			r.KongTarget = p.Regions["us-east"].KongTarget
			p.Regions["eu-west"] = r
		}, []string{"regions.us-east.kongTarget", "eu-west", "us-east"}},

		// Approvers.
		{"duplicate approver", func(p *Plan) { p.Approval.Approvers = []string{"alice", "bob", "alice"} },
			[]string{"approval.approvers[2]", `"alice" is listed twice`}},
		{"quorum above distinct approvers", func(p *Plan) { p.Approval.Approvers, p.Approval.Quorum = []string{"alice", "bob", "alice"}, 3 },
			[]string{"approval.quorum", "2 distinct"}},
		{"blank approver", func(p *Plan) { p.Approval.Approvers = []string{"alice", " "} }, []string{"approval.approvers[1]: empty"}},
		{"too many approvers", func(p *Plan) { p.Approval.Approvers = keys(MaxApprovers+1, 3) },
			[]string{"approval.approvers", fmt.Sprintf("limit of %d", MaxApprovers)}},

		// Counts against Temporal's history and payload limits.
		{"verification rounds", func(p *Plan) { p.Verification.Count = 10000 },
			[]string{"verification.count: 10000 exceeds the limit of 100", "fewer rounds"}},
		{"detection probes", func(p *Plan) { p.Detection.Probes = 1000 },
			[]string{"detection.probes: 1000 exceeds the limit of 100"}},
		{"checks per round", func(p *Plan) { p.Verification.Checks = checks(MaxChecks + 1) },
			[]string{fmt.Sprintf("verification.checks: %d checks exceed the limit of %d", MaxChecks+1, MaxChecks)}},
		{"gate checks", func(p *Plan) { p.Traffic.Gate = checks(MaxChecks + 1) },
			[]string{fmt.Sprintf("traffic.gate: %d checks exceed the limit of %d", MaxChecks+1, MaxChecks)}},
		{"all check runs", func(p *Plan) { p.Verification.Count, p.Verification.Checks = 100, checks(11) },
			[]string{"verification.count", "100 rounds × 11 checks", fmt.Sprintf("limit of %d", MaxCheckRuns)}},
		{"traffic steps", func(p *Plan) { p.Traffic.Steps = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100} },
			[]string{"traffic.steps: 11 steps exceed the limit of 10"}},
		{"warmup key count", func(p *Plan) { p.Warmup.Keys = keys(MaxWarmupKeys+1, 5) },
			[]string{fmt.Sprintf("warmup.keys: %d keys exceed the limit of %d", MaxWarmupKeys+1, MaxWarmupKeys)}},
		{"warmup key bytes", func(p *Plan) { p.Warmup.Keys = keys(1000, 300) }, []string{"warmup.keys", "KiB", "limit of 256 KiB"}},
		{"hold-down probes", func(p *Plan) { p.Failback.HoldDown, p.Failback.ProbeInterval = 24*time.Hour, time.Second },
			[]string{"failback.probeInterval", "86401 probes", fmt.Sprintf("limit of %d", MaxHoldDownProbes)}},
		{"http samples", func(p *Plan) { p.Verification.Checks[1].HTTP.Samples = 1000 },
			[]string{"verification.checks[1].http.samples: 1000 exceeds the limit of 100"}},
		{"http samples outlast the check", func(p *Plan) {
			p.Verification.Checks[1].HTTP.Samples, p.Verification.Checks[1].HTTP.Timeout = 20, 5*time.Second
		}, []string{"verification.checks[1].http", "20 samples × 5s"}},
		{"plan size", func(p *Plan) { p.Detection.Query.Expr = strings.Repeat("x", MaxPlanBytes) },
			[]string{"plan: ", "KiB exceeds the limit of 512 KiB"}},

		// Values the workflow relies on.
		{"no verification checks", func(p *Plan) { p.Verification.Checks = nil }, []string{"verification.checks: missing"}},
		{"failure limit tolerates everything", func(p *Plan) { p.Verification.FailureLimit = 8 },
			[]string{"verification.failureLimit: 8", "could never fail"}},
		{"negative batch size", func(p *Plan) { p.Warmup.BatchSize = -1 }, []string{"warmup.batchSize: is -1"}},
		{"negative samples", func(p *Plan) { p.Verification.Checks[1].HTTP.Samples = -1 },
			[]string{"verification.checks[1].http.samples: is -1"}},
		{"bad expected status", func(p *Plan) { p.Verification.Checks[1].HTTP.ExpectStatus = 42 },
			[]string{"verification.checks[1].http.expectStatus: is 42"}},
		{"negative ready instances", func(p *Plan) { p.Readiness.MinReadyInstances = -1 },
			[]string{"readiness.minReadyInstances: is -1"}},
		{"active key among the acks", func(p *Plan) { p.Etcd.ActiveKey = p.Etcd.AckPrefix + "active" },
			[]string{"etcd.activeKey", "under etcd.ackPrefix"}},
		{"blank required consumer", func(p *Plan) { p.Etcd.RequiredConsumers = []string{""} },
			[]string{"etcd.requiredConsumers[0]: empty"}},
		{"misspelt placeholder", func(p *Plan) { p.Verification.Checks[0].Prometheus.Expr = `up{region="${regoin}"}` },
			[]string{"verification.checks[0].prometheus.expr", "${regoin}"}},
		{"placeholder in a header", func(p *Plan) { p.Verification.Checks[1].HTTP.ExpectHeader["X-Region"] = "${target}" },
			[]string{"verification.checks[1].http.expectHeader.X-Region", "${target}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := example(t)
			tc.change(&p)
			requireProblems(t, p, tc.want)
		})
	}
}

// requireProblems fails unless p.Validate reports problems mentioning every text in want.
func requireProblems(t *testing.T, p Plan, want []string) {
	t.Helper()
	err := p.Validate()
	if err == nil {
		t.Fatalf("plan accepted, want an error mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

func TestValidateAcceptsSaneEdges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(p *Plan)
	}{
		{"no step pause", func(p *Plan) { p.Traffic.StepPause = 0 }},
		{"no readiness", func(p *Plan) { p.Readiness = Readiness{} }},
		{"limits exactly", func(p *Plan) {
			p.Verification.Count, p.Verification.Checks, p.Traffic.Gate = MaxCheckRuns/MaxChecks, checks(MaxChecks), nil
			p.Detection.Probes = MaxProbes
			p.Approval.Approvers = keys(MaxApprovers, 3)
			p.Approval.People, p.Approval.AllowUnsigned = nil, true
			for _, name := range p.Approval.Approvers {
				p.Approval.People = append(p.Approval.People, Person{Name: name})
			}
			p.Warmup.Keys = keys(MaxWarmupKeys, 5)
			p.Failback.HoldDown, p.Failback.ProbeInterval = time.Duration(MaxHoldDownProbes-1)*time.Second, time.Second
		}},
		{"probe interval equals hold-down", func(p *Plan) { p.Failback.HoldDown, p.Failback.ProbeInterval = time.Minute, time.Minute }},
		{"failure limit below all results", func(p *Plan) { p.Verification.FailureLimit = 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := example(t)
			tc.change(&p)
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEveryDurationIsChecked finds every time.Duration in a plan by reflection, so a duration field added later is
// covered without anyone remembering to add it here.
func TestEveryDurationIsChecked(t *testing.T) {
	p := example(t)
	p.Traffic.Gate = append(p.Traffic.Gate, Check{Name: "gate-http", HTTP: &HTTPCheck{URL: "http://kong:8000/", ExpectStatus: 200, Samples: 1, MinSuccess: 1, Timeout: time.Second}})
	var fields []string
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch {
		case v.Type() == reflect.TypeFor[time.Duration]():
			fields = append(fields, path)
			v.SetInt(int64(-time.Second))
		case v.Kind() == reflect.Pointer && !v.IsNil():
			walk(v.Elem(), path)
		case v.Kind() == reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		case v.Kind() == reflect.Struct:
			for i := range v.NumField() {
				name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
				walk(v.Field(i), strings.TrimPrefix(path+"."+name, "."))
			}
		}
	}
	walk(reflect.ValueOf(&p).Elem(), "")
	for _, want := range []string{"etcd.ackTimeout", "detection.probeInterval", "detection.probeTimeout", "readiness.maxReplicationLag",
		"approval.timeout", "traffic.stepPause", "traffic.gate[1].http.timeout", "warmup.timeout", "verification.interval",
		"verification.checks[1].http.timeout", "cooldown", "failback.holdDown", "failback.probeInterval"} {
		if !slices.Contains(fields, want) {
			t.Errorf("the walk missed %s (found %v)", want, fields)
		}
	}
	err := p.Validate()
	if err == nil {
		t.Fatal("a plan with every duration at -1s was accepted")
	}
	for _, f := range fields {
		if !strings.Contains(err.Error(), f+": is -1s") {
			t.Errorf("no problem reported for %s", f)
		}
	}
}

// TestValidateReportsEveryProblem keeps validation a list, not a first-error stop.
func TestValidateReportsEveryProblem(t *testing.T) {
	p := example(t)
	p.Approval.Timeout = -time.Second
	p.Verification.Count = 10000
	p.Approval.Approvers = []string{"alice", "alice"}
	r := p.Regions["eu-west"]
	r.KongTarget = p.Regions["us-east"].KongTarget
	p.Regions["eu-west"] = r
	err := p.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, f := range []string{"approval.timeout", "verification.count", "approval.approvers", "kongTarget"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("missing %s in:\n%v", f, err)
		}
	}
}

// TestExpandReplacesEveryPlaceholder keeps the placeholders Validate accepts and the ones Expand replaces the same.
func TestExpandReplacesEveryPlaceholder(t *testing.T) {
	for _, ph := range placeholders {
		if got := Expand(ph, "s", "r", "f", "t"); strings.Contains(got, "${") {
			t.Errorf("Expand leaves %s as %q", ph, got)
		}
	}
}

// A plan with three regions may be watched: the routes name where each region's failover goes (watcher.Standby).
func TestValidateWatchOfThreeRegions(t *testing.T) {
	p := example(t)
	p.Watch = &Watch{Quorum: Quorum{Observers: 2}}
	p.Regions["ap-south"] = Region{KongTarget: "10.30.1.20:8080", HealthURL: "http://10.30.1.20:8080/healthz",
		PrometheusURL: "http://prometheus.ap-south:9090", WarmupURL: "http://10.30.1.20:8080"}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		t.Fatalf("a watched three-region plan: %v", err)
	}
}

// The watch section and gRPC health checks: every mistake names its field and the fix.
func TestValidateWatchAndGRPCHealth(t *testing.T) {
	watch := func(change func(w *Watch)) func(p *Plan) {
		return func(p *Plan) {
			p.Watch = &Watch{Quorum: Quorum{Observers: 2}}
			p.SetDefaults()
			change(p.Watch)
		}
	}
	for _, tc := range []struct {
		name   string
		change func(p *Plan)
		want   []string
	}{
		{"a watcher alone", watch(func(w *Watch) { w.Quorum.Observers = 1 }), []string{"watch.quorum: has no independent signal"}},
		{"zero failures", watch(func(w *Watch) { w.Failures = 0 }), []string{"watch.failures: is 0"}},
		{"window too short", watch(func(w *Watch) { w.Window = 500 * time.Millisecond }),
			[]string{"watch.window: 500ms is shorter than 6 failures 200ms apart"}},
		{"window too short for the timeout", watch(func(w *Watch) { w.Timeout = 4 * time.Second }),
			[]string{"watch.window: 3s is shorter than 2 probes one watch.timeout (4s) apart"}},
		{"zero interval", watch(func(w *Watch) { w.Interval = 0 }), []string{"watch.interval: is 0s"}},
		{"flap limit 1", watch(func(w *Watch) { w.FlapLimit = 1 }), []string{"watch.flapLimit: is 1"}},
		{"bad require", watch(func(w *Watch) { w.Quorum.Require = "most" }), []string{`watch.quorum.require: "most"`}},
		{"bad quorum query", watch(func(w *Watch) { w.Quorum.Query = &Query{Expr: "up", Condition: "about 1"} }),
			[]string{"watch.quorum.query.condition"}},
		{"grpc address", func(p *Plan) {
			r := p.Regions["us-east"]
			r.GRPC = &GRPCHealth{Address: "payments-east"}
			p.Regions["us-east"] = r
		}, []string{`regions.us-east.grpc.address: "payments-east" is not host:port`}},
		{"grpc server name without tls", func(p *Plan) {
			r := p.Regions["us-east"]
			r.GRPC = &GRPCHealth{Address: "10.0.0.5:9090", ServerName: "payments"}
			p.Regions["us-east"] = r
		}, []string{"regions.us-east.grpc.serverName: is set but tls is off"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := example(t)
			tc.change(&p)
			err := p.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	p := example(t)
	watch(func(*Watch) {})(&p)
	r := p.Regions["us-east"]
	r.GRPC = &GRPCHealth{Address: "10.0.0.5:9090", Service: "payments.v1.Payments", TLS: true}
	p.Regions["us-east"] = r
	if err := p.Validate(); err != nil {
		t.Fatalf("a good watch section and gRPC check refused: %v", err)
	}
}
