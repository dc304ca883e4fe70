package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/failover/failover/alerts"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/promstack"
)

// updateEnv regenerates the files derived from testsuite/promstack instead of comparing them.
const updateEnv = "UPDATE_DEPLOY_FILES"

type promFile struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		ScrapeTimeout      string `yaml:"scrape_timeout"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	RuleFiles []string `yaml:"rule_files"`
	Alerting  struct {
		Alertmanagers []struct {
			StaticConfigs []promStatic `yaml:"static_configs"`
		} `yaml:"alertmanagers"`
	} `yaml:"alerting"`
	ScrapeConfigs []struct {
		JobName       string       `yaml:"job_name"`
		MetricsPath   string       `yaml:"metrics_path"`
		StaticConfigs []promStatic `yaml:"static_configs"`
		DNSSDConfigs  []struct {
			Names           []string `yaml:"names"`
			Type            string   `yaml:"type"`
			Port            int      `yaml:"port"`
			RefreshInterval string   `yaml:"refresh_interval"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

type promStatic struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

func loadProm(t testing.TB) promFile {
	t.Helper()
	var p promFile
	dec := yaml.NewDecoder(strings.NewReader(string(readRepoFile(t, "deploy/prometheus/prometheus.yml"))))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("deploy/prometheus/prometheus.yml: %v", err)
	}
	return p
}

// withoutHeader drops the leading comment block: the shipped files explain themselves, the generated text does not.
func withoutHeader(b []byte) string {
	lines := strings.SplitAfter(string(b), "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], "#") {
		i++
	}
	return strings.Join(lines[i:], "")
}

// header returns the leading comment block of b.
func header(b []byte) string {
	s := string(b)
	return s[:len(s)-len(withoutHeader(b))]
}

// checkGenerated compares a shipped file (below its comment header) with generated text, or rewrites it.
func checkGenerated(t *testing.T, rel, generated, newHeader string) {
	t.Helper()
	p := repoPath(t, rel)
	old, err := os.ReadFile(p)
	if os.Getenv(updateEnv) == "1" {
		h := newHeader
		if err == nil && header(old) != "" {
			h = header(old)
		}
		if err := os.WriteFile(p, []byte(h+generated), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v (regenerate with %s=1 go test ./deploy/deploytest)", rel, err, updateEnv)
	}
	if got := withoutHeader(old); got != generated {
		t.Errorf("%s differs from what testsuite/promstack generates (regenerate with %s=1 go test ./deploy/deploytest):\n--- shipped\n%s\n--- generated\n%s",
			rel, updateEnv, got, generated)
	}
}

// TestRegionRulesArePromstacks: the compose stack alerts with exactly the rules the alert-path tests run,
// parameterised for its scrape interval.
func TestRegionRulesArePromstacks(t *testing.T) {
	p := loadProm(t)
	interval, err := model.ParseDuration(p.Global.ScrapeInterval)
	if err != nil {
		t.Fatalf("prometheus.yml scrape_interval %q: %v", p.Global.ScrapeInterval, err)
	}
	if p.Global.EvaluationInterval != p.Global.ScrapeInterval {
		t.Errorf("evaluation_interval %s != scrape_interval %s: the rules' window assumes both", p.Global.EvaluationInterval, p.Global.ScrapeInterval)
	}
	params := promstack.RuleParamsFor(time.Duration(interval))
	if params.Job != "regions" {
		t.Fatalf("promstack's region job is %q", params.Job)
	}
	checkGenerated(t, "deploy/prometheus/region-rules.yml", promstack.Rules(params),
		fmt.Sprintf("# Generated from testsuite/promstack Rules(RuleParamsFor(%s)): the region alerts the alert-path tests run.\n"+
			"# Do not edit: deploy/deploytest checks it is equal; regenerate with %s=1 go test ./deploy/deploytest\n", interval, updateEnv))
}

// TestAlertmanagerConfigIsPromstacks: the webhook to `starter serve` with its bearer token from a file, grouped
// and timed as in the alert-path tests.
func TestAlertmanagerConfigIsPromstacks(t *testing.T) {
	c := loadCompose(t)
	s := c.Services["starter-serve"]
	f := flagArgs(t, "starter-serve", interfaces(t).command(t, "starter", s.Command), s.Command)
	_, ports := c.listens(t, "starter-serve")
	if len(ports) != 1 {
		t.Fatalf("starter-serve listens on %v", ports)
	}
	tokenFile := f["webhook-token-file"]
	if !strings.HasPrefix(tokenFile, "/run/secrets/") {
		t.Fatalf("starter-serve --webhook-token-file %q: want a compose secret", tokenFile)
	}
	// Alertmanager reads the same secret at the same path.
	c.hostPath(t, "alertmanager", tokenFile)
	webhook := fmt.Sprintf("http://starter-serve:%d/webhooks/alertmanager", ports[0])
	c.checkEndpoint(t, "alertmanager", "webhook", hostOf(webhook))
	want, err := promstack.AlertmanagerConfig(promstack.Options{WebhookURL: webhook}, tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	checkGenerated(t, "deploy/alertmanager/alertmanager.yml", want,
		"# Generated from testsuite/promstack AlertmanagerConfig: the route and webhook the alert-path tests run, posting to\n"+
			"# `starter serve` with the bearer token in the compose secret webhook_token. Do not edit: deploy/deploytest\n"+
			"# checks it is equal; regenerate with "+updateEnv+"=1 go test ./deploy/deploytest\n")
	am := c.Services["alertmanager"]
	for _, a := range am.Command {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			c.requireFile(t, "alertmanager", "--config.file", v)
		}
	}
}

// TestPrometheusScrapesTheComposeServices: every target is a compose service port, the region labels are the
// plan's, the workers are found by DNS (replicas), and the rule files exist.
func TestPrometheusScrapesTheComposeServices(t *testing.T) {
	c := loadCompose(t)
	p := loadProm(t)
	for _, a := range c.Services["prometheus"].Command {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			h := c.requireFile(t, "prometheus", "--config.file", v)
			if h != "" && !sameFile(t, h, repoPath(t, "deploy/prometheus/prometheus.yml")) {
				t.Errorf("prometheus runs %s, not deploy/prometheus/prometheus.yml", h)
			}
		}
	}
	for _, r := range p.RuleFiles {
		if filepath.IsAbs(r) {
			t.Errorf("rule file %s: use a path relative to prometheus.yml, so promtool checks the repo's file", r)
			continue
		}
		c.requireFile(t, "prometheus", "rule file", path.Join("/etc/prometheus", r))
	}
	for _, am := range p.Alerting.Alertmanagers {
		for _, sc := range am.StaticConfigs {
			for _, target := range sc.Targets {
				c.checkEndpoint(t, "prometheus", "alertmanager", target)
			}
		}
	}
	compPlan, err := plan.Load(repoPath(t, "deploy/plans/compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]bool{}
	for _, sc := range p.ScrapeConfigs {
		jobs[sc.JobName] = true
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				c.checkEndpoint(t, "prometheus", "job "+sc.JobName, target)
				if sc.JobName != promstack.DefaultJob {
					continue
				}
				region, svc := st.Labels["region"], st.Labels["service"]
				r, ok := compPlan.Regions[region]
				if svc != compPlan.Service || !ok {
					t.Errorf("job regions target %s: labels service=%q region=%q; the rules sum by both and the plan has service %s regions %v",
						target, svc, region, compPlan.Service, compPlan.RegionNames())
				} else if r.KongTarget != target {
					t.Errorf("job regions: %s is labelled region=%s, whose plan target is %s", target, region, r.KongTarget)
				}
			}
		}
		for _, dns := range sc.DNSSDConfigs {
			for _, name := range dns.Names {
				c.checkEndpoint(t, "prometheus", "job "+sc.JobName+" (DNS)", name+":"+strconv.Itoa(dns.Port))
			}
		}
	}
	if !jobs[promstack.DefaultJob] {
		t.Errorf("no scrape job %q: the region rules watch it", promstack.DefaultJob)
	}
	// The orchestrator's own services are scraped.
	for _, svc := range []string{"worker", "starter-serve"} {
		found := false
		for _, sc := range p.ScrapeConfigs {
			for _, st := range sc.StaticConfigs {
				for _, target := range st.Targets {
					found = found || strings.HasPrefix(target, svc+":")
				}
			}
			for _, d := range sc.DNSSDConfigs {
				found = found || slices.Contains(d.Names, svc)
			}
		}
		if !found {
			t.Errorf("prometheus.yml scrapes no %s", svc)
		}
	}
}

// tool finds a checker; `make test` installs them, so a missing one is a broken machine.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not in PATH: apt-get install prometheus prometheus-alertmanager (make test does)", name)
	}
	return p
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtoolAndAmtoolAcceptTheShippedConfigs runs the official checkers on the files compose mounts.
func TestPromtoolAndAmtoolAcceptTheShippedConfigs(t *testing.T) {
	p := loadProm(t)
	out := runTool(t, "promtool", "check", "config", "deploy/prometheus/prometheus.yml")
	for _, r := range p.RuleFiles {
		if !strings.Contains(out, r) {
			t.Errorf("promtool check config did not check rule file %s:\n%s", r, out)
		}
		runTool(t, "promtool", "check", "rules", path.Join("deploy/prometheus", r))
	}
	out = runTool(t, "amtool", "check-config", "deploy/alertmanager/alertmanager.yml")
	if !strings.Contains(out, "1 receivers") {
		t.Errorf("amtool check-config: want 1 receiver:\n%s", out)
	}
	t.Logf("promtool and amtool accept prometheus.yml, %v and alertmanager.yml", p.RuleFiles)
}

// TestGrafanaProvisioning: the datasource is the compose Prometheus, the dashboards folder is deploy/grafana,
// and every datasource the dashboards name by uid is provisioned.
func TestGrafanaProvisioning(t *testing.T) {
	c := loadCompose(t)
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string         `yaml:"name"`
			UID       string         `yaml:"uid"`
			Type      string         `yaml:"type"`
			Access    string         `yaml:"access"`
			URL       string         `yaml:"url"`
			IsDefault bool           `yaml:"isDefault"`
			Editable  bool           `yaml:"editable"`
			JSONData  map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	strictYAML(t, "deploy/compose/grafana/provisioning/datasources/prometheus.yml", &ds)
	uids, types := map[string]bool{}, map[string]bool{}
	for _, d := range ds.Datasources {
		uids[d.UID], types[d.Type] = true, true
		c.checkEndpoint(t, "grafana", "datasource "+d.Name, hostOf(d.URL))
	}
	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			Folder                string `yaml:"folder"`
			Type                  string `yaml:"type"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	strictYAML(t, "deploy/compose/grafana/provisioning/dashboards/failover.yml", &dp)
	c.requireFile(t, "grafana", "provisioning", "/etc/grafana/provisioning/datasources/prometheus.yml")
	for _, pr := range dp.Providers {
		dir := c.requireFile(t, "grafana", "dashboards path", pr.Options.Path)
		if dir == "" {
			continue
		}
		if !sameFile(t, dir, repoPath(t, "deploy/grafana")) {
			t.Errorf("dashboards provider %s reads %s, not deploy/grafana", pr.Name, dir)
		}
		dashboards, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		if len(dashboards) == 0 {
			t.Errorf("no dashboard JSON in deploy/grafana yet (failover-dashboard.json is written by another change)")
		}
		for _, f := range dashboards {
			var d map[string]any
			if err := json.Unmarshal(mustRead(t, f), &d); err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			for _, uid := range datasourceUIDs(d) {
				if !uids[uid] {
					t.Errorf("%s names datasource uid %q; provisioned: %v", filepath.Base(f), uid, sortedKeys(uids))
				}
			}
			// A datasource variable picks among the provisioned datasources of its plugin type.
			if tmpl, ok := d["templating"].(map[string]any); ok {
				list, _ := tmpl["list"].([]any)
				for _, v := range list {
					if m, ok := v.(map[string]any); ok && m["type"] == "datasource" {
						if q, _ := m["query"].(string); !types[q] {
							t.Errorf("%s: datasource variable %v wants type %q; provisioned types: %v", filepath.Base(f), m["name"], q, sortedKeys(types))
						}
					}
				}
			}
		}
	}
}

var templateVarRE = regexp.MustCompile(`^\$\{?\w+\}?$`)

// datasourceUIDs collects {"datasource": {"uid": ...}} references, skipping template variables (${DS_...}).
func datasourceUIDs(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if k == "datasource" {
				if m, ok := child.(map[string]any); ok {
					if uid, ok := m["uid"].(string); ok && uid != "" && !templateVarRE.MatchString(uid) && uid != "-- Grafana --" && uid != "grafana" {
						out = append(out, uid)
					}
				}
			}
			out = append(out, datasourceUIDs(child)...)
		}
	case []any:
		for _, child := range x {
			out = append(out, datasourceUIDs(child)...)
		}
	}
	return out
}

func strictYAML(t testing.TB, rel string, v any) {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(string(readRepoFile(t, rel))))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// TestRegionWideRouteMatchesARegionWideRule: the example routes file's evacuation routes match an alert that
// region-rules.yml raises aggregated by region alone, so it carries the region label and no service label (what a
// region-wide route requires), and Alertmanager keeps region in its grouping, so each region's alert is notified
// on its own.
func TestRegionWideRouteMatchesARegionWideRule(t *testing.T) {
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	strictYAML(t, "deploy/prometheus/region-rules.yml", &rules)
	var routes alerts.RoutesFile
	strictYAML(t, "deploy/alerts/routes.yaml", &routes)
	regionWide := 0
	for i, r := range routes.Routes {
		if r.Evacuation == "" {
			continue
		}
		regionWide++
		name := r.Match["alertname"]
		var exprs []string
		for _, g := range rules.Groups {
			for _, rule := range g.Rules {
				if rule.Alert == name {
					exprs = append(exprs, rule.Expr)
					if _, ok := rule.Labels["service"]; ok {
						t.Errorf("routes[%d]: rule %s sets a service label; a region-wide route never matches it", i, name)
					}
				}
			}
		}
		if len(exprs) != 1 {
			t.Errorf("routes[%d] matches alertname %q: region-rules.yml raises it in %d rules, want 1", i, name, len(exprs))
			continue
		}
		for _, agg := range regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`).FindAllStringSubmatch(exprs[0], -1) {
			if strings.TrimSpace(agg[1]) != "region" || strings.HasPrefix(agg[0], "without") {
				t.Errorf("routes[%d]: %s aggregates %s; want by (region) alone, so only the region label is left:\n%s",
					i, name, agg[0], exprs[0])
			}
		}
		if !strings.Contains(exprs[0], "by (region)") {
			t.Errorf("routes[%d]: %s is not aggregated by region; every series keeps its service label:\n%s", i, name, exprs[0])
		}
		if r.Match["region"] == "" {
			t.Errorf("routes[%d]: a region-wide route must name its region in match", i)
		}
	}
	if regionWide == 0 {
		t.Error("deploy/alerts/routes.yaml has no region-wide (evacuation) route: the example documents one")
	}
	if !slices.Contains(promstack.GroupBy, "region") || !slices.Contains(promstack.GroupBy, "alertname") {
		t.Errorf("Alertmanager groups by %v: without alertname and region, the region-wide alert shares a notification with others", promstack.GroupBy)
	}
}
