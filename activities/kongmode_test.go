package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

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
	k, err := kongstandin.Start(kongstandin.Options{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	admin := k.AdminURL()
	kc, err := kong.NewClient(&admin, nil)
	if err != nil {
		t.Fatal(err)
	}
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
