package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kong/go-kong/kong"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/kongstandin"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// startKongStack runs the stack with the Kong stand-in playing mode (demo configuration loaded through
// POST /config when it has no database), and a worker.
func startKongStack(t *testing.T, mode kongstandin.Mode, tags ...string) *stack.Stack {
	t.Helper()
	return startKongStackWith(t, stack.Options{KongMode: mode, KongTags: tags})
}

func startKongStackWith(t *testing.T, opts stack.Options) *stack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts.NoUI, opts.NoWorker = true, true
	s, err := stack.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	startWorker(t, s)
	fault(t, s, "us-east", `{"status":503}`)
	return s
}

func configHash(t *testing.T, s *stack.Stack) string {
	t.Helper()
	st, err := s.KongClient.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.ConfigurationHash
}

// A DB-less Kong is failed over through its declarative configuration: the target PUT that answers 405 is never
// sent; the proxy ends up on the target region; the status names the mode and the hash it was fenced on.
func TestDBLessFailoverSucceeds(t *testing.T) {
	s := startKongStack(t, kongstandin.ModeDBLess)
	before := configHash(t, s)
	run := start(t, s, request(planWithoutPrometheus(s), "us-east", "eu-west"))
	res := result(t, run)
	wantOutcome(t, res, workflows.Succeeded)
	if w := weights(t, s); w["eu-west"] != 100 || w["us-east"] != 0 {
		t.Fatalf("kong after: %v", w)
	}
	if after := configHash(t, s); after == before {
		t.Errorf("configuration hash unchanged (%s): the declarative configuration was not reloaded", after)
	}
	eventually(t, 5*time.Second, "proxy serves eu-west", func() bool { return servedBy(t, s, 4)["eu-west 200"] == 4 })
	if a := active(t, s); a.Value.Region != "eu-west" {
		t.Fatalf("etcd after: %+v", a.Value)
	}
	v, err := s.TemporalClient.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), workflows.StatusQuery)
	var st workflows.Status
	if err != nil || v.Get(&st) != nil {
		t.Fatalf("status query: %v", err)
	}
	if !slices.ContainsFunc(st.Evidence, func(e string) bool { return strings.Contains(e, "declarative, configuration hash "+before) }) {
		t.Errorf("evidence %q: want the Kong mode and the hash readiness read", st.Evidence)
	}
	recordHistory(t, s, "dbless-succeeded")
}

// Kong setups the reroute cannot change are caught at readiness, before etcd changes, with what to do instead.
func TestUnchangeableKongCaughtAtReadiness(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode kongstandin.Mode
		tags []string
		want string
	}{
		{name: "hybrid data plane", mode: kongstandin.ModeDataPlane, want: "point --kong-admin-url at the control plane"},
		{name: "ingress controller", mode: kongstandin.ModeDBLess, tags: []string{activities.KongIngressControllerTag}, want: "HTTPRoute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startKongStack(t, tc.mode, tc.tags...)
			before := active(t, s)
			res := result(t, start(t, s, request(planWithoutPrometheus(s), "us-east", "eu-west")))
			wantOutcome(t, res, workflows.NotReady)
			if !strings.Contains(res.Reason, tc.want) {
				t.Errorf("reason %q: want %q", res.Reason, tc.want)
			}
			if after := active(t, s); after.ModRevision != before.ModRevision {
				t.Fatalf("etcd changed: revision %d → %d", before.ModRevision, after.ModRevision)
			}
			if w := weights(t, s); w["us-east"] != 100 || w["eu-west"] != 0 {
				t.Fatalf("kong changed: %v", w)
			}
		})
	}
}

// The DB-less Admin API refuses the reroute's load (an injected 400 on POST /config): the failover rolls back,
// etcd is restored, and Kong, which never changed, needs no write to be restored.
func TestDBLessAdminFaultDuringRerouteRollsBack(t *testing.T) {
	s := startKongStack(t, kongstandin.ModeDBLess)
	before := configHash(t, s)
	s.Kong.InjectAdminFault(kongstandin.Fault{Status: http.StatusBadRequest, Methods: []string{http.MethodPost}})
	t.Cleanup(s.Kong.ClearAdminFault)
	res := result(t, start(t, s, request(planWithoutPrometheus(s), "us-east", "eu-west")))
	wantOutcome(t, res, workflows.RolledBack)
	if a := active(t, s); a.Value.Region != "us-east" {
		t.Fatalf("etcd after rollback: %+v, want us-east", a.Value)
	}
	if w := weights(t, s); w["us-east"] != 100 || w["eu-west"] != 0 {
		t.Fatalf("kong after rollback: %v", w)
	}
	if after := configHash(t, s); after != before {
		t.Errorf("configuration hash %s → %s: Kong was changed", before, after)
	}
}

// A hybrid control plane: each traffic step waits until every data plane runs it (one lags 300 ms, as the proxy
// does), and the status shows it.
func TestControlPlaneFailoverWaitsForDataPlanes(t *testing.T) {
	lag := 300 * time.Millisecond
	s := startKongStackWith(t, stack.Options{KongMode: kongstandin.ModeControlPlane, KongPropagationDelay: lag,
		KongDataPlanes: []kongstandin.DataPlane{{Hostname: "dp-1", Lag: lag / 3}, {Hostname: "dp-2", Lag: lag}}})
	run := start(t, s, request(planWithoutPrometheus(s), "us-east", "eu-west"))
	res := result(t, run)
	wantOutcome(t, res, workflows.Succeeded)
	v, err := s.TemporalClient.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), workflows.StatusQuery)
	var st workflows.Status
	if err != nil || v.Get(&st) != nil {
		t.Fatalf("status query: %v", err)
	}
	var waits []string
	for _, e := range st.Evidence {
		if strings.Contains(e, "2 Kong data planes on configuration") {
			waits = append(waits, e)
		}
	}
	t.Logf("data-plane waits: %q", waits)
	if len(waits) != len(s.Plan.Traffic.Steps) {
		t.Errorf("data-plane waits in the evidence %q, want one per traffic step (%d)", st.Evidence, len(s.Plan.Traffic.Steps))
	}
	// The last wait ended on the configuration the control plane has now, so the proxy serves the target at once.
	if got := servedBy(t, s, 4); got["eu-west 200"] != 4 {
		t.Errorf("right after the failover: served by %v, want eu-west only", got)
	}
}

// The target region's target is UNHEALTHY in Kong (a passive check tripped): readiness stops the failover before
// etcd changes; with kong.resetUnhealthyTarget the reroute marks it healthy first and the proxy then serves it.
func TestUnhealthyTargetRefusedThenReset(t *testing.T) {
	s := startKongStack(t, kongstandin.ModeTraditional)
	target := s.Plan.Regions["eu-west"].KongTarget
	if !s.Kong.MarkTargetUnhealthy(s.Plan.Kong.Upstream, target) {
		t.Fatal("mark unhealthy")
	}
	before := active(t, s)
	p := planWithoutPrometheus(s)
	res := result(t, start(t, s, request(p, "us-east", "eu-west")))
	wantOutcome(t, res, workflows.NotReady)
	if !strings.Contains(res.Reason, "UNHEALTHY") || !strings.Contains(res.Reason, "kong.resetUnhealthyTarget") {
		t.Errorf("reason %q: want the UNHEALTHY target and the plan setting", res.Reason)
	}
	if after := active(t, s); after.ModRevision != before.ModRevision {
		t.Fatalf("etcd changed: revision %d → %d", before.ModRevision, after.ModRevision)
	}

	p.Kong.ResetUnhealthyTarget = true
	res = result(t, start(t, s, request(p, "us-east", "eu-west")))
	wantOutcome(t, res, workflows.Succeeded)
	if got := servedBy(t, s, 4); got["eu-west 200"] != 4 {
		t.Errorf("after the failover: served by %v, want eu-west only", got)
	}
}

// A Kong node that applies changes 1 s late (db_update_frequency): after each step the workflow samples the proxy
// until it serves the step's split (plan traffic.confirm) before the pause and gate, and says how long it took.
func TestRerouteConfirmsTheSplitOnTheGateway(t *testing.T) {
	s := startKongStackWith(t, stack.Options{KongPropagationDelay: time.Second})
	p := planWithoutPrometheus(s)
	p.Traffic.Confirm = &plan.SplitCheck{URL: s.Kong.ProxyURL() + "/payments/items/confirm"}
	p.SetDefaults()
	run := start(t, s, request(p, "us-east", "eu-west"))
	wantOutcome(t, result(t, run), workflows.Succeeded)
	v, err := s.TemporalClient.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), workflows.StatusQuery)
	var st workflows.Status
	if err != nil || v.Get(&st) != nil {
		t.Fatalf("status query: %v", err)
	}
	var confirmed []string
	waitedForKong := false
	for _, e := range st.Evidence {
		if strings.HasPrefix(e, "gateway serves") {
			confirmed = append(confirmed, e)
			waitedForKong = waitedForKong || !strings.Contains(e, "(round 1,")
		}
	}
	t.Logf("confirmations: %q", confirmed)
	// A round that straddles Kong applying the change reads a share near the step's (20 samples, tolerance 15 %).
	if len(confirmed) != 2 || !splitWithin(confirmed[0], 50, 100*p.Traffic.Confirm.Tolerance) ||
		!strings.Contains(confirmed[1], "serves 100% from eu-west at step 100%") {
		t.Fatalf("confirmations %q: want 50%% (± %.0f) then 100%% on eu-west", confirmed, 100*p.Traffic.Confirm.Tolerance)
	}
	if !waitedForKong {
		t.Errorf("confirmations %q: want at least one that needed more than one round (Kong applies changes 1 s late)", confirmed)
	}
}

// splitWithin reports whether a confirmation says the gateway served eu-west within tolerance points of step %.
func splitWithin(confirmation string, step int, tolerance float64) bool {
	var served int
	_, err := fmt.Sscanf(confirmation[strings.Index(confirmation, "serves"):], "serves %d%% from eu-west at step "+strconv.Itoa(step)+"%%", &served)
	return err == nil && math.Abs(float64(served-step)) <= tolerance
}

// blueGreen gives each region its own upstream and points the demo service at us-east's: the setup a
// kong.switch service plan repoints.
func blueGreen(t *testing.T, s *stack.Stack) plan.Plan {
	t.Helper()
	ctx := context.Background()
	kc := s.KongClient
	p := planWithoutPrometheus(s)
	p.Kong.Switch, p.Kong.Service, p.Traffic.Steps = plan.SwitchService, "payments", []int{100}
	for _, name := range stack.RegionNames {
		host := "payments-" + name
		if _, err := kc.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String(host)}); err != nil {
			t.Fatal(err)
		}
		if _, err := kc.Targets.Create(ctx, kong.String(host), &kong.Target{Target: kong.String(s.Regions[name].Addr())}); err != nil {
			t.Fatal(err)
		}
		r := p.Regions[name]
		r.KongHost = host
		p.Regions[name] = r
	}
	svc, err := kc.Services.Get(ctx, kong.String("payments"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.Services.Update(ctx, &kong.Service{ID: svc.ID, Host: kong.String("payments-us-east")}); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func serviceHost(t *testing.T, s *stack.Stack) string {
	t.Helper()
	svc, err := s.KongClient.Services.Get(context.Background(), kong.String("payments"))
	if err != nil {
		t.Fatal(err)
	}
	return *svc.Host
}

// Blue-green: the reroute points the Kong Service at eu-west's upstream in one change; a failed verification
// points it back; an Admin API that refuses the switch leaves it where it was. Each outcome is read back.
func TestServiceSwitchFailover(t *testing.T) {
	s := startKongStack(t, kongstandin.ModeTraditional)
	p := blueGreen(t, s)
	res := result(t, start(t, s, request(p, "us-east", "eu-west")))
	wantOutcome(t, res, workflows.Succeeded)
	if h := serviceHost(t, s); h != "payments-eu-west" {
		t.Fatalf("service host after: %s, want payments-eu-west", h)
	}
	eventually(t, 5*time.Second, "proxy serves eu-west", func() bool { return servedBy(t, s, 4)["eu-west 200"] == 4 })
	recordHistory(t, s, "service-switch-succeeded")

	// Back to us-east (healthy again, eu-west down), but us-east answers too slowly for verification: rolled back.
	fault(t, s, "us-east", `{"status":0,"latency_ms":300}`)
	fault(t, s, "eu-west", `{"status":503}`)
	back := p
	back.Verification.Checks = append([]plan.Check(nil), p.Verification.Checks...)
	slow := *back.Verification.Checks[0].HTTP
	slow.Timeout = 100 * time.Millisecond
	back.Verification.Checks[0].HTTP = &slow
	res = result(t, start(t, s, request(back, "eu-west", "us-east")))
	wantOutcome(t, res, workflows.RolledBack)
	if h := serviceHost(t, s); h != "payments-eu-west" {
		t.Fatalf("service host after the rollback: %s, want payments-eu-west again", h)
	}

	// The Admin API refuses the PATCH: rolled back, the service never moved.
	s.Kong.InjectAdminFault(kongstandin.Fault{Status: http.StatusBadRequest, Methods: []string{http.MethodPatch}})
	t.Cleanup(s.Kong.ClearAdminFault)
	res = result(t, start(t, s, request(back, "eu-west", "us-east")))
	wantOutcome(t, res, workflows.RolledBack)
	if h := serviceHost(t, s); h != "payments-eu-west" {
		t.Fatalf("service host after a refused switch: %s, want payments-eu-west", h)
	}
}
