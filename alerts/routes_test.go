package alerts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failover/failover/plan"
)

func TestShippedRoutesLoad(t *testing.T) {
	for _, f := range []string{"routes.yaml", "demo.yaml"} {
		r, err := LoadRoutes(filepath.Join("..", "deploy", "alerts", f))
		if err != nil {
			t.Fatalf("deploy/alerts/%s: %v", f, err)
		}
		t.Logf("%s: %s", f, r)
	}
}

// writeRoutes writes a routes file next to a copy of the demo plan and returns its path.
func writeRoutes(t *testing.T, routes string) string {
	t.Helper()
	dir := t.TempDir()
	demo, err := os.ReadFile(filepath.Join("..", "deploy", "plans", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "plans"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plans", "payments.yaml"), demo, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(path, []byte(routes), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadRoutesNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		name, routes, want string
	}{
		{"empty file", "", "the routes file is empty"},
		{"no routes", "routes: []\n", "routes: empty"},
		{"unknown field", "routes:\n  - match: {service: payments}\n    plan: plans/payments.yaml\n    to: other\n    target: eu-west\n",
			"field target not found"},
		{"empty match", "routes:\n  - match: {}\n    plan: plans/payments.yaml\n    to: other\n", "routes[0].match: empty"},
		{"bad label name", "routes:\n  - match: {service-name: payments}\n    plan: plans/payments.yaml\n    to: other\n",
			`routes[0].match: "service-name" is not a label name`},
		{"empty label value", "routes:\n  - match: {service: \"\"}\n    plan: plans/payments.yaml\n    to: other\n",
			"routes[0].match.service: empty value"},
		{"no plan", "routes:\n  - match: {service: payments}\n    to: other\n", "routes[0].plan: missing"},
		{"no target", "routes:\n  - match: {service: payments}\n    plan: plans/payments.yaml\n", "routes[0].to: missing"},
		{"plan not found", "routes:\n  - match: {service: payments}\n    plan: plans/nope.yaml\n    to: other\n",
			"routes[0].plan: read plan"},
		{"region not in plan", "routes:\n  - match: {service: payments}\n    plan: plans/payments.yaml\n    to: mars\n",
			`routes[0].to: region "mars" is not in plan payments`},
		{"second route bad", "routes:\n  - match: {service: payments}\n    plan: plans/payments.yaml\n    to: other\n" +
			"  - match: {service: payments}\n    plan: plans/payments.yaml\n    to: venus\n", `routes[1].to: region "venus"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadRoutes(writeRoutes(t, tc.routes))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestLoadRoutesResolvesPlansRelativeToTheFile(t *testing.T) {
	path := writeRoutes(t, "routes:\n  - match: {service: payments}\n    plan: plans/payments.yaml\n    to: eu-west\n")
	wd, _ := os.Getwd()
	t.Chdir(t.TempDir()) // elsewhere: the plan must still be found next to the routes file
	r, err := LoadRoutes(path)
	t.Chdir(wd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r.Route(alert(map[string]string{"service": "payments"})); !ok || err != nil {
		t.Fatalf("route: %v %v", ok, err)
	}
}

func alert(labels map[string]string) Alert {
	if labels["alertname"] == "" {
		labels["alertname"] = "RegionHighErrorRatio"
	}
	return Alert{Status: Firing, Labels: labels}
}

func demoPlan(t testing.TB) plan.Plan {
	t.Helper()
	p, err := plan.Load(filepath.Join("..", "deploy", "plans", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoute(t *testing.T) {
	p := demoPlan(t)
	other := p
	other.Service = "ledger"
	r, err := NewRouter(
		Route{Match: map[string]string{"alertname": "RegionHighErrorRatio", "service": "payments"}, Plan: p, To: ToOther},
		Route{Match: map[string]string{"alertname": "PaymentsUSEastDown"}, Plan: p, To: "eu-west"},
		Route{Match: map[string]string{"service": "ledger"}, Plan: other, To: "eu-west"},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name            string
		labels          map[string]string
		matched         bool
		route           int
		service         string
		from, to        string
		missing, ignore bool
	}{
		{"other region of us-east", map[string]string{"service": "payments", "region": "us-east"}, true, 0, "payments", "us-east", "eu-west", false, false},
		{"other region of eu-west", map[string]string{"service": "payments", "region": "eu-west"}, true, 0, "payments", "eu-west", "us-east", false, false},
		{"extra labels do not matter", map[string]string{"service": "payments", "region": "us-east", "severity": "critical", "instance": "x"},
			true, 0, "payments", "us-east", "eu-west", false, false},
		{"to: other needs the region", map[string]string{"service": "payments"}, true, 0, "", "", "", true, false},
		{"region the plan lacks", map[string]string{"service": "payments", "region": "ap-south"}, true, 0, "", "", "", false, true},
		{"fixed target, no region label", map[string]string{"alertname": "PaymentsUSEastDown"}, true, 1, "payments", "us-east", "eu-west", false, false},
		{"fixed target, about the target itself", map[string]string{"alertname": "PaymentsUSEastDown", "region": "eu-west"},
			true, 1, "", "", "", false, true},
		{"another service's plan", map[string]string{"service": "ledger", "region": "us-east"}, true, 2, "ledger", "us-east", "eu-west", false, false},
		{"value must be equal", map[string]string{"service": "Payments", "region": "us-east"}, false, 0, "", "", "", false, false},
		{"nothing matches", map[string]string{"alertname": "DiskFull", "service": "payments"}, false, 0, "", "", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := r.Route(alert(tc.labels))
			if ok != tc.matched {
				t.Fatalf("matched %v, want %v (err %v)", ok, tc.matched, err)
			}
			switch {
			case tc.missing:
				if !errors.Is(err, ErrMissingLabel) {
					t.Fatalf("err %v, want ErrMissingLabel", err)
				}
			case tc.ignore:
				if err == nil || errors.Is(err, ErrMissingLabel) {
					t.Fatalf("err %v, want a reason to ignore it", err)
				}
			case err != nil:
				t.Fatal(err)
			case ok && (got.Route != tc.route || got.Plan.Service != tc.service || got.From != tc.from || got.To != tc.to):
				t.Fatalf("target %d %s %s→%s, want %d %s %s→%s", got.Route, got.Plan.Service, got.From, got.To,
					tc.route, tc.service, tc.from, tc.to)
			}
		})
	}
}

func TestNewRouterChecksTargetsAgainstPlans(t *testing.T) {
	p := demoPlan(t)
	three := p
	three.Regions = map[string]plan.Region{"a": p.Regions["us-east"], "b": p.Regions["eu-west"], "c": p.Regions["eu-west"]}
	for _, tc := range []struct {
		route Route
		want  string
	}{
		{Route{Match: map[string]string{"service": "payments"}, Plan: p, To: "mars"}, `routes[0].to: region "mars" is not in plan payments`},
		{Route{Match: map[string]string{"service": "payments"}, Plan: three, To: ToOther}, "needs a plan with exactly two regions"},
		{Route{Plan: p, To: "eu-west"}, "routes[0].match: empty"},
	} {
		if _, err := NewRouter(tc.route); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// TestMissingLabelNamesTheFix: a rejected alert's reason is all its sender sees, so it says what to change.
func TestMissingLabelNamesTheFix(t *testing.T) {
	p := demoPlan(t)
	three := p
	three.Regions = map[string]plan.Region{"a": p.Regions["us-east"], "b": p.Regions["eu-west"], "c": p.Regions["eu-west"]}
	for _, tc := range []struct {
		route Route
		want  []string
	}{
		{Route{Match: map[string]string{"service": "payments"}, Plan: p, To: ToOther},
			[]string{`no "region" label`, "add the label to the alert rule", "or set routes[0].to to a region of plan payments"}},
		{Route{Match: map[string]string{"service": "payments"}, Plan: three, To: "c"},
			[]string{`no "region" label`, "regions [a b] besides the target c", "add the label to the alert rule"}},
	} {
		r, err := NewRouter(tc.route)
		if err != nil {
			t.Fatal(err)
		}
		_, ok, err := r.Route(alert(map[string]string{"service": "payments"}))
		if !ok || !errors.Is(err, ErrMissingLabel) {
			t.Fatalf("to %s: matched %v, err %v, want ErrMissingLabel", tc.route.To, ok, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("to %s: %v, want it to say %q", tc.route.To, err, w)
			}
		}
	}
}
