package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kong/go-kong/kong"
	"go.temporal.io/sdk/temporal"

	"github.com/failover/failover/testsuite/kongstandin"
)

const (
	eastTarget = "10.10.1.20:8080"
	westTarget = "10.20.1.20:8080"
)

// startKong runs a Kong stand-in in mode, seeded with upstream payments (east 100, west 0; extra targets and
// upstream fields as given), through the Admin API or, without a database, POST /config.
func startKong(t *testing.T, mode kongstandin.Mode, upstreamJSON string, extraTargets string) *Activities {
	t.Helper()
	_, kc := standIn(t, kongstandin.Options{Mode: mode})
	targets := fmt.Sprintf(`{"target":%q,"weight":100},{"target":%q,"weight":0}%s`, eastTarget, westTarget, extraTargets)
	decl := fmt.Sprintf(`{"_format_version":"3.0","upstreams":[{"name":"payments"%s,"targets":[%s]}]}`, upstreamJSON, targets)
	switch mode {
	case kongstandin.ModeTraditional:
		// The same configuration through the entity endpoints.
		var up kong.Upstream
		must(t, jsonUnmarshal(`{"name":"payments"`+upstreamJSON+`}`, &up))
		if _, err := kc.Upstreams.Create(context.Background(), &up); err != nil {
			t.Fatal(err)
		}
		var ts []kong.Target
		must(t, jsonUnmarshal("["+targets+"]", &ts))
		for _, tg := range ts {
			if _, err := kc.Targets.Create(context.Background(), kong.String("payments"), &tg); err != nil {
				t.Fatal(err)
			}
		}
	default:
		// A data plane's configuration comes from its control plane; the stand-in takes it through /config.
		if err := kc.ReloadDeclarativeRawConfig(context.Background(), strings.NewReader(decl), false, false); err != nil {
			t.Fatal(err)
		}
	}
	return &Activities{Kong: kc}
}

// standIn runs a Kong stand-in for one test and returns a go-kong client for its Admin API.
func standIn(t *testing.T, opts kongstandin.Options) (*kongstandin.Server, *kong.Client) {
	t.Helper()
	k, err := kongstandin.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	admin := k.AdminURL()
	kc, err := kong.NewClient(&admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k, kc
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func preflight(t *testing.T, a *Activities, split bool) KongPreflightResult {
	t.Helper()
	res, err := a.KongPreflight(context.Background(), KongPreflightInput{Upstream: "payments", Targets: []string{eastTarget, westTarget}, Split: split})
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	return res
}

func wantProblem(t *testing.T, res KongPreflightResult, words ...string) {
	t.Helper()
	for _, p := range res.Problems {
		if containsAll(p, words) {
			return
		}
	}
	t.Errorf("problems %q: want one saying %q", res.Problems, words)
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// The preflight tells each Kong deployment apart from GET / and the upstream, and says what to do where the
// reroute cannot change Kong.
func TestKongPreflightModes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mode     kongstandin.Mode
		upstream string
		extra    string
		wantMode KongMode
		problem  []string
	}{
		{name: "traditional", wantMode: KongEntities},
		{name: "dbless", mode: kongstandin.ModeDBLess, wantMode: KongDeclarative},
		{name: "data plane", mode: kongstandin.ModeDataPlane, problem: []string{"data plane", "--kong-admin-url", "control plane"}},
		{name: "ingress controller", mode: kongstandin.ModeDBLess, upstream: `,"tags":["managed-by-ingress-controller","k8s-namespace:pay"]`,
			problem: []string{"Ingress Controller", "HTTPRoute"}},
		{name: "least connections", upstream: `,"algorithm":"least-connections"`, wantMode: KongEntities,
			problem: []string{"least-connections", "round-robin"}},
		{name: "foreign target", extra: `,{"target":"10.30.1.20:8080","weight":50}`, wantMode: KongEntities,
			problem: []string{"10.30.1.20:8080", "weight 50", "set its weight to 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startKong(t, tc.mode, tc.upstream, tc.extra)
			res := preflight(t, a, true)
			if res.Mode != tc.wantMode {
				t.Errorf("mode %q, want %q (%s)", res.Mode, tc.wantMode, res.Describe())
			}
			if tc.problem == nil && len(res.Problems) > 0 {
				t.Errorf("problems %q, want none", res.Problems)
			}
			if tc.problem != nil {
				wantProblem(t, res, tc.problem...)
			}
			if (tc.wantMode == KongDeclarative) != (res.ConfigHash != "") {
				t.Errorf("config hash %q for mode %q", res.ConfigHash, res.Mode)
			}
		})
	}
	// An algorithm that divides by weight is fine when the plan moves everything at once.
	if res := preflight(t, startKong(t, kongstandin.ModeTraditional, `,"algorithm":"latency"`, ""), false); len(res.Problems) > 0 {
		t.Errorf("latency with steps [100]: problems %q, want none", res.Problems)
	}
}

// A DB-less Kong's weights change through /config, fenced on the hash: our own retry converges, someone else's
// change in between is refused and left as it is.
func TestSetWeightsDeclarative(t *testing.T) {
	a := startKong(t, kongstandin.ModeDBLess, "", "")
	ctx := context.Background()
	hash := preflight(t, a, true).ConfigHash
	in := SetWeightsInput{Upstream: "payments", Mode: KongDeclarative, ConfigHash: hash,
		Weights: []TargetWeight{{Target: westTarget, Weight: 50}, {Target: eastTarget, Weight: 50}}}
	res, err := a.SetWeights(ctx, in)
	if err != nil {
		t.Fatalf("set weights: %v", err)
	}
	if len(res.Changed) != 2 || res.ConfigHash == hash || res.ConfigHash == "" {
		t.Fatalf("result %+v: want 2 changed and a new hash", res)
	}
	if got := readWeights(t, a); got[eastTarget] != 50 || got[westTarget] != 50 {
		t.Fatalf("weights %v, want 50/50", got)
	}
	// The same call again (a retry whose first answer was lost): nothing to write, the current hash back.
	again, err := a.SetWeights(ctx, in)
	if err != nil || len(again.Changed) != 0 || again.ConfigHash != res.ConfigHash {
		t.Fatalf("retry: %+v %v, want no change and hash %s", again, err, res.ConfigHash)
	}
	// Someone else reloads Kong (east 70, west 30); our next step, fenced on the hash we saw, refuses.
	other := fmt.Sprintf(`{"_format_version":"3.0","upstreams":[{"name":"payments","targets":[{"target":%q,"weight":70},{"target":%q,"weight":30}]}]}`, eastTarget, westTarget)
	must(t, a.Kong.ReloadDeclarativeRawConfig(ctx, strings.NewReader(other), false, false))
	next := SetWeightsInput{Upstream: "payments", Mode: KongDeclarative, ConfigHash: res.ConfigHash,
		Weights: []TargetWeight{{Target: westTarget, Weight: 100}, {Target: eastTarget, Weight: 0}}}
	_, err = a.SetWeights(ctx, next)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrKongConfigChanged || !strings.Contains(err.Error(), "someone else changed Kong") {
		t.Fatalf("fenced change: %v, want %s", err, ErrKongConfigChanged)
	}
	if got := readWeights(t, a); got[eastTarget] != 70 || got[westTarget] != 30 {
		t.Errorf("weights %v after the refused change, want the other writer's 70/30", got)
	}
	// The entity path would have failed after the cutover; the preflight is what routes it here.
	_, err = a.SetWeights(ctx, SetWeightsInput{Upstream: "payments", Weights: next.Weights})
	if !errors.As(err, &appErr) || appErr.Type() != ErrKongRejected || !strings.Contains(err.Error(), "405") {
		t.Errorf("entity write on DB-less: %v, want a non-retryable 405", err)
	}
}

func readWeights(t *testing.T, a *Activities) map[string]int {
	t.Helper()
	ws, err := a.ReadWeights(context.Background(), "payments")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, w := range ws {
		out[w.Target] = w.Weight
	}
	return out
}

// On a hybrid control plane each change waits until every data plane runs it; one that lags past the time box
// fails the wait, naming it.
func TestControlPlaneWaitsForDataPlanes(t *testing.T) {
	k, kc := standIn(t, kongstandin.Options{Mode: kongstandin.ModeControlPlane,
		DataPlanes: []kongstandin.DataPlane{{Hostname: "dp-1"}, {Hostname: "dp-2", Lag: time.Minute}}})
	a := &Activities{Kong: kc}
	ctx := context.Background()
	seedPayments(t, kc)
	pf := preflight(t, a, true)
	if pf.Mode != KongEntities || !pf.ControlPlane() || len(pf.Problems) > 0 ||
		!slices.ContainsFunc(pf.Notes, func(n string) bool { return strings.Contains(n, "2 data planes connected") }) {
		t.Fatalf("preflight %+v: want entities on a control plane with 2 data planes", pf)
	}
	res, err := a.SetWeights(ctx, SetWeightsInput{Upstream: "payments", ControlPlane: true,
		Weights: []TargetWeight{{Target: westTarget, Weight: 100}, {Target: eastTarget, Weight: 0}}})
	if err != nil || len(res.DataPlanesBefore) != 2 {
		t.Fatalf("set weights: %+v %v, want the 2 data planes' hashes before", res, err)
	}
	_, err = a.WaitDataPlanes(ctx, WaitDataPlanesInput{Before: res.DataPlanesBefore, Timeout: 300 * time.Millisecond})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrDataPlanesLagging || !strings.Contains(err.Error(), "dp-2 on "+res.DataPlanesBefore["dp-2"]) ||
		strings.Contains(err.Error(), "dp-1") {
		t.Fatalf("wait with dp-2 behind: %v, want %s naming dp-2 only", err, ErrDataPlanesLagging)
	}
	k.SetDataPlaneLag("dp-2", 0)
	done, err := a.WaitDataPlanes(ctx, WaitDataPlanesInput{Before: res.DataPlanesBefore, Timeout: 5 * time.Second})
	want, _ := kc.Status(ctx)
	if err != nil || done.DataPlanes != 2 || done.Hash != want.ConfigurationHash {
		t.Fatalf("wait: %+v %v, want 2 data planes on %s", done, err, want.ConfigurationHash)
	}
}

// A target Kong holds UNHEALTHY stops readiness unless the plan lets the reroute reset it; the reset clears it.
func TestUnhealthyTargetRefusedOrReset(t *testing.T) {
	k, kc := standIn(t, kongstandin.Options{})
	a := &Activities{Kong: kc}
	ctx := context.Background()
	seedPayments(t, kc)
	if !k.MarkTargetUnhealthy("payments", westTarget) {
		t.Fatal("mark unhealthy")
	}
	refused := preflight(t, a, true)
	wantProblem(t, refused, westTarget, "UNHEALTHY", "/healthy", "kong.resetUnhealthyTarget")
	allowed, err := a.KongPreflight(ctx, KongPreflightInput{Upstream: "payments", Targets: []string{eastTarget, westTarget}, Split: true, MayReset: westTarget})
	if err != nil || len(allowed.Problems) > 0 || allowed.ResetTarget != westTarget {
		t.Fatalf("preflight with the reset allowed: %+v %v, want no problems and reset %s", allowed, err, westTarget)
	}
	for range 2 { // repeating it is harmless
		if err := a.MarkTargetHealthy(ctx, MarkHealthyInput{Upstream: "payments", Target: westTarget}); err != nil {
			t.Fatalf("mark healthy: %v", err)
		}
	}
	if after := preflight(t, a, true); len(after.Problems) > 0 || after.Health[westTarget] == "UNHEALTHY" {
		t.Errorf("after the reset: %+v, want %s no longer UNHEALTHY", after, westTarget)
	}
}

// seedPayments creates upstream payments with east at 100 and west at 0 through the entity endpoints.
func seedPayments(t *testing.T, kc *kong.Client) {
	t.Helper()
	ctx := context.Background()
	if _, err := kc.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String("payments")}); err != nil {
		t.Fatal(err)
	}
	for tg, w := range map[string]int{eastTarget: 100, westTarget: 0} {
		if _, err := kc.Targets.Create(ctx, kong.String("payments"), &kong.Target{Target: kong.String(tg), Weight: kong.Int(w)}); err != nil {
			t.Fatal(err)
		}
	}
}

// A service switch is one PATCH fenced on the source's host: a retry writes nothing, someone else's host is
// refused and left alone; the preflight checks where the service points.
func TestSwitchServiceFenced(t *testing.T) {
	_, kc := standIn(t, kongstandin.Options{})
	a := &Activities{Kong: kc}
	ctx := context.Background()
	svc, err := kc.Services.Create(ctx, &kong.Service{Name: kong.String("payments"), Host: kong.String("payments-us-east")})
	if err != nil {
		t.Fatal(err)
	}
	pf, err := a.KongPreflight(ctx, KongPreflightInput{Service: "payments", FromHost: "payments-us-east", ToHost: "payments-eu-west"})
	if err != nil || pf.Mode != KongEntities || len(pf.Problems) > 0 || pf.ServiceHost != "payments-us-east" {
		t.Fatalf("preflight: %+v %v", pf, err)
	}
	in := SwitchServiceInput{Service: "payments", From: "payments-us-east", To: "payments-eu-west"}
	for i, want := range []bool{true, false} { // the second call is a retry: already switched
		res, err := a.SwitchService(ctx, in)
		if err != nil || res.Changed != want {
			t.Fatalf("switch %d: %+v %v, want changed=%v", i+1, res, err, want)
		}
	}
	if _, err := kc.Services.Update(ctx, &kong.Service{ID: svc.ID, Host: kong.String("payments-canary")}); err != nil {
		t.Fatal(err)
	}
	_, err = a.SwitchService(ctx, SwitchServiceInput{Service: "payments", From: "payments-eu-west", To: "payments-us-east"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrKongConfigChanged || !strings.Contains(err.Error(), "points at payments-canary") {
		t.Fatalf("switch back over someone else's change: %v, want %s", err, ErrKongConfigChanged)
	}
	if host, _ := a.ReadServiceHost(ctx, "payments"); host != "payments-canary" {
		t.Errorf("host %s, want someone else's payments-canary left alone", host)
	}
	pf, _ = a.KongPreflight(ctx, KongPreflightInput{Service: "payments", FromHost: "payments-us-east", ToHost: "payments-eu-west"})
	wantProblem(t, pf, "points at payments-canary")
}

// A Konnect control plane (control-plane path, bearer token): no GET /, so the preflight says Konnect and the
// reroute writes the targets through the path.
func TestKonnectPreflightAndWeights(t *testing.T) {
	prefix := "/v2/control-planes/4b1c6a2e-1c2d-4a55-9a0e-0c1f2d3e4f50/core-entities"
	k, err := kongstandin.Start(kongstandin.Options{KonnectPrefix: prefix, KonnectToken: "kpat_good"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	h := http.Header{}
	h.Set("Authorization", "Bearer kpat_good")
	base := k.AdminURL() + prefix
	kc, err := kong.NewClient(&base, kong.HTTPClientWithHeaders(&http.Client{Timeout: 5 * time.Second}, h))
	if err != nil {
		t.Fatal(err)
	}
	seedPayments(t, kc)
	a := &Activities{Kong: kc}
	pf := preflight(t, a, true)
	if pf.Mode != KongEntities || pf.Role != RoleKonnect || len(pf.Problems) > 0 {
		t.Fatalf("preflight %+v: want entities on Konnect", pf)
	}
	if _, err := a.SetWeights(context.Background(), SetWeightsInput{Upstream: "payments", Mode: pf.Mode,
		Weights: []TargetWeight{{Target: westTarget, Weight: 100}, {Target: eastTarget, Weight: 0}}}); err != nil {
		t.Fatalf("set weights on Konnect: %v", err)
	}
	if got := readWeights(t, a); got[westTarget] != 100 || got[eastTarget] != 0 {
		t.Errorf("weights %v, want all on west", got)
	}
}
