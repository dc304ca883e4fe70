package promstack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needTool finds a checker; `make test` installs them, so a missing one is a broken machine, not a skip.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not in PATH: apt-get install prometheus prometheus-alertmanager (make test does)", name)
	}
	return p
}

func runTool(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func sampleOptions() Options {
	return Options{
		Targets: []Target{
			{Addr: "127.0.0.1:18081", Labels: map[string]string{"service": "payments", "region": "us-east"}},
			{Addr: "127.0.0.1:18082", Labels: map[string]string{"service": "payments", "region": "eu-west"}},
			{Job: "orchestrator", Addr: "127.0.0.1:18090"},
		},
		WebhookURL:   "http://127.0.0.1:18090/webhooks/alertmanager",
		WebhookToken: "s3cret-token",
	}
}

// TestGeneratedConfigsPassOfficialCheckers writes the configs exactly as Start does and runs promtool/amtool on them.
func TestGeneratedConfigsPassOfficialCheckers(t *testing.T) {
	promtool, amtool := needTool(t, "promtool"), needTool(t, "amtool")
	dir := t.TempDir()
	files, err := writeConfigs(dir, sampleOptions(), "127.0.0.1:19093")
	if err != nil {
		t.Fatal(err)
	}
	out := runTool(t, promtool, "check", "config", files.prometheus)
	if !strings.Contains(out, "3 rules found") {
		t.Errorf("promtool check config: want the rule file with 3 rules checked too, got:\n%s", out)
	}
	runTool(t, promtool, "check", "rules", files.rules)
	out = runTool(t, amtool, "check-config", files.alertmanager)
	if !strings.Contains(out, "1 receivers") {
		t.Errorf("amtool check-config: want 1 receiver, got:\n%s", out)
	}

	am, _ := os.ReadFile(files.alertmanager)
	if strings.Contains(string(am), "s3cret-token") {
		t.Errorf("alertmanager.yml inlines the token; it must reference the token file:\n%s", am)
	}
	for _, want := range []string{"credentials_file: " + filepath.Join(dir, "webhook-token"), "send_resolved: true",
		"group_by:\n    - alertname\n    - service\n    - region\n", "group_wait: 1s", "group_interval: 5s", "repeat_interval: 1m"} {
		if !strings.Contains(string(am), want) {
			t.Errorf("alertmanager.yml lacks %q:\n%s", want, am)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "webhook-token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	prom, _ := os.ReadFile(files.prometheus)
	for _, want := range []string{"job_name: regions", "job_name: orchestrator", "scrape_interval: 1s",
		"evaluation_interval: 1s", "region: eu-west", "127.0.0.1:19093"} {
		if !strings.Contains(string(prom), want) {
			t.Errorf("prometheus.yml lacks %q:\n%s", want, prom)
		}
	}
}

// TestRulesFireAsSpecified runs the alert rules through promtool's rule unit tests: synthetic series in, exact
// alerts (labels and annotations) out, without starting a server. us-east's four services stop answering scrapes
// one after another: RegionDown fires per service, RegionUnavailable once three in four are down, for the region
// alone (no service, instance or job label); eu-west, with one target, never has it.
func TestRulesFireAsSpecified(t *testing.T) {
	promtool := needTool(t, "promtool")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(Rules(RuleParams{})), 0o600); err != nil {
		t.Fatal(err)
	}
	// us-east: 10 ok/s throughout, 20 errors/s from t=10s → ratio 2/3 > 0.5. eu-west: 10% errors, never alerts.
	// us-east goes unscrapable at t=20s.
	const tests = `rule_files: [rules.yml]
evaluation_interval: 1s
tests:
  - interval: 1s
    input_series:
      - series: 'region_http_requests_total{job="regions",instance="a:1",service="payments",region="us-east",code="200"}'
        values: '0+10x40'
      - series: 'region_http_requests_total{job="regions",instance="a:1",service="payments",region="us-east",code="503"}'
        values: '0x10 0+20x30'
      - series: 'region_http_requests_total{job="regions",instance="b:1",service="payments",region="eu-west",code="200"}'
        values: '0+9x40'
      - series: 'region_http_requests_total{job="regions",instance="b:1",service="payments",region="eu-west",code="500"}'
        values: '0+1x40'
      - series: 'up{job="regions",instance="a:1",service="payments",region="us-east"}'
        values: '1x20 0x20'
      - series: 'up{job="regions",instance="a:2",service="orders",region="us-east"}'
        values: '1x25 0x15'
      - series: 'up{job="regions",instance="a:3",service="search",region="us-east"}'
        values: '1x30 0x10'
      - series: 'up{job="regions",instance="a:4",service="ledger",region="us-east"}'
        values: '1x35 0x5'
      - series: 'up{job="regions",instance="b:1",service="payments",region="eu-west"}'
        values: '1x35 0x5'
    alert_rule_test:
      - eval_time: 9s
        alertname: RegionHighErrorRatio
        exp_alerts: []
      # Errors start at t=11s; the 5s window sees them at once and for: 2s holds them back until t=13s.
      - eval_time: 12s
        alertname: RegionHighErrorRatio
        exp_alerts: []
      - eval_time: 18s
        alertname: RegionHighErrorRatio
        exp_alerts:
          - exp_labels: {severity: critical, service: payments, region: us-east}
            exp_annotations:
              summary: 'payments in us-east: 66.67% of requests fail'
      - eval_time: 21s
        alertname: RegionDown
        exp_alerts: []
      - eval_time: 24s
        alertname: RegionDown
        exp_alerts:
          - exp_labels: {severity: critical, job: regions, instance: 'a:1', service: payments, region: us-east}
            exp_annotations:
              summary: 'payments in us-east (a:1) does not answer scrapes'
      # One in four down from t=21s, two from 26s: each service's own RegionDown, nothing region-wide.
      - eval_time: 30s
        alertname: RegionUnavailable
        exp_alerts: []
      # Three in four from t=31s: pending for 2s.
      - eval_time: 32s
        alertname: RegionUnavailable
        exp_alerts: []
      - eval_time: 34s
        alertname: RegionUnavailable
        exp_alerts:
          - exp_labels: {severity: critical, region: us-east}
            exp_annotations:
              summary: 'us-east: 75% of the scrape targets do not answer'
      # Every one from t=36s: still the one alert. eu-west's only target is down from t=36s too: one service is
      # its RegionDown, not a region (RegionMinTargets 2).
      - eval_time: 40s
        alertname: RegionUnavailable
        exp_alerts:
          - exp_labels: {severity: critical, region: us-east}
            exp_annotations:
              summary: 'us-east: 100% of the scrape targets do not answer'
`
	if err := os.WriteFile(filepath.Join(dir, "rules_test.yml"), []byte(tests), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "test", "rules", "rules_test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\nrules:\n%s", err, out, Rules(RuleParams{}))
	}
}

func TestRuleParamsScaleWithScrapeInterval(t *testing.T) {
	for _, tc := range []struct {
		scrape time.Duration
		window string
	}{
		{0, "[5s]"},
		{time.Second, "[5s]"},
		{15 * time.Second, "[1m15s]"},
	} {
		r := Rules(RuleParamsFor(tc.scrape))
		if !strings.Contains(r, tc.window) || !strings.Contains(r, "for: 2s") {
			t.Errorf("scrape %v: want window %s and for: 2s in\n%s", tc.scrape, tc.window, r)
		}
	}
	for _, tc := range []struct {
		fraction float64
		want     string
	}{
		{0, ") >= 0.75\n"},
		{1, ") >= 1\n"},
		{0.5, ") >= 0.5\n"},
		{1.5, ") >= 0.75\n"}, // not a share: the default
	} {
		if r := Rules(RuleParams{RegionDownFraction: tc.fraction}); !strings.Contains(r, tc.want) {
			t.Errorf("RegionDownFraction %v: want %q on the region-wide rule in\n%s", tc.fraction, tc.want, r)
		}
	}
}

func TestConfigRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"addr without port", Options{Targets: []Target{{Addr: "127.0.0.1"}}}, `Targets[0].Addr "127.0.0.1" is not host:port`},
		{"bad label", Options{Targets: []Target{{Addr: "a:1", Labels: map[string]string{"my-label": "x"}}}}, `Targets[0].Labels key "my-label"`},
		{"reserved label", Options{Targets: []Target{{Addr: "a:1", Labels: map[string]string{"__address__": "x"}}}}, `"__address__"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PrometheusConfig(tc.opts, "rules.yml", "127.0.0.1:9093")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := AlertmanagerConfig(Options{WebhookURL: "127.0.0.1:8080/hook"}, ""); err == nil ||
		!strings.Contains(err.Error(), "WebhookURL") {
		t.Fatalf("webhook without scheme: err = %v", err)
	}
}
