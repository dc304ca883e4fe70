package observe

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The Prometheus rules and the Grafana dashboard in deploy/ are checked here, against the metric names this
// package exports (MetricNames, SDKMetricNames; TestDrillObservability in starter/ checks those against a real
// worker's /metrics after a drill).
const (
	rulesFile     = "../deploy/prometheus/failover-rules.yml"
	rulesTestFile = "../deploy/prometheus/failover-rules.test.yml"
	dashboardFile = "../deploy/grafana/failover-dashboard.json"
)

func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not on PATH: run `make deps` (Debian package prometheus)")
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return rf
}

var (
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// seriesNames picks the metric and recording-rule names out of a PromQL expression: identifiers that start with
// failover_ or temporal_, or contain a colon. Label values (quoted) are skipped.
func seriesNames(expr string) []string {
	var out []string
	for _, id := range identifier.FindAllString(quoted.ReplaceAllString(expr, `""`), -1) {
		if strings.HasPrefix(id, "failover_") || strings.HasPrefix(id, "temporal_") || strings.Contains(id, ":") {
			out = append(out, id)
		}
	}
	return out
}

// known is every name an expression may use: what the worker exports, and the recording rules.
func known(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, n := range slices.Concat(MetricNames(), SLAMetricNames(), SDKMetricNames()) {
		names[n] = true
	}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				names[r.Record] = true
			}
		}
	}
	return names
}

func TestPrometheusRules(t *testing.T) {
	promtool(t, "check", "rules", rulesFile)
	promtool(t, "test", "rules", rulesTestFile)

	names := known(t)
	var alerts []string
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r.Alert)
			}
			for _, n := range seriesNames(r.Expr) {
				if !names[n] {
					t.Errorf("rule %s%s uses %s, which nothing exports", r.Record, r.Alert, n)
				}
			}
		}
	}
	for _, want := range []string{"FailoverWaitingForApproval", "FailoverFailedNeedsHuman", "FailoverRolledBack"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s in %s", want, rulesFile)
		}
	}
}

type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Fatalf("dashboard without uid or title")
	}
	names := known(t)
	var titles []string
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		titles = append(titles, p.Title)
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the ${datasource} variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range seriesNames(tg.Expr) {
				if !names[m] {
					t.Errorf("panel %q queries %s, which nothing exports", p.Title, m)
				}
			}
			// Grafana's variables as Grafana would expand them, so promtool can parse the query.
			expr := strings.NewReplacer("$service", ".*", "$__rate_interval", "1m", "$__range", "1d").Replace(tg.Expr)
			n++
			b, _ := json.Marshal(expr) // a JSON string is a valid YAML string
			rules.WriteString("      - record: dashboard:query:" + strings.Repeat("x", n) + "\n        expr: " + string(b) + "\n")
		}
	}
	for _, want := range []string{"RTO over time", "Step breakdown", "Outcomes", "in flight"} {
		if !slices.ContainsFunc(titles, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("no panel about %q: %v", want, titles)
		}
	}
	file := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, "check", "rules", file) // parses every query with Prometheus' own parser
}

func TestSeriesNames(t *testing.T) {
	got := seriesNames(`sum by (service) (failover_total{outcome="failover_fake"} offset 1h) / service:failover_rto_seconds:mean1h and temporal_request_total`)
	want := []string{"failover_total", "service:failover_rto_seconds:mean1h", "temporal_request_total"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
