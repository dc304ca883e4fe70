package promstack

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// DefaultJob is the scrape job regions are scraped under; RegionDown and RegionUnavailable watch up{job="regions"}.
const DefaultJob = "regions"

// RuleParams tune the generated alert rules. The zero value gives the rules used with a 1s scrape interval.
type RuleParams struct {
	// Job is the scrape job of the region services; default DefaultJob.
	Job string
	// Window is the range the 5xx ratio is computed over; default 5 scrape intervals of 1s (Prometheus needs at least
	// two samples in it, and four or more keep one late scrape from hiding the errors).
	Window time.Duration
	// For is how long a condition must hold before the alert fires; default 2s.
	For time.Duration
	// RegionDownFraction is the share of a region's scrape targets that must fail for RegionUnavailable, the
	// region-wide alert; default 0.75. Each service's own failover still confirms its outage before moving it, so
	// the one healthy service among four does not move.
	RegionDownFraction float64
	// RegionMinTargets is how many scrape targets a region needs before RegionUnavailable speaks for it; default 2,
	// as the region watcher's region-wide failure needs two watched services: one service down is that service's
	// RegionDown, not a region.
	RegionMinTargets int
}

func (p RuleParams) withDefaults() RuleParams {
	if p.Job == "" {
		p.Job = DefaultJob
	}
	if p.Window <= 0 {
		p.Window = 5 * time.Second
	}
	if p.For <= 0 {
		p.For = 2 * time.Second
	}
	if p.RegionDownFraction <= 0 || p.RegionDownFraction > 1 {
		p.RegionDownFraction = DefaultRegionDownFraction
	}
	if p.RegionMinTargets <= 0 {
		p.RegionMinTargets = 2
	}
	return p
}

// DefaultRegionDownFraction is RuleParams.RegionDownFraction's default: three in four scrape targets down.
const DefaultRegionDownFraction = 0.75

// RegionWideAlert is the alert about a whole region: aggregated by region, it carries no service label, which is
// what the alert routes' region-wide (evacuation) routes match.
const RegionWideAlert = "RegionUnavailable"

// RuleParamsFor returns the rule parameters that suit a scrape interval: a window of five intervals.
func RuleParamsFor(scrapeInterval time.Duration) RuleParams {
	if scrapeInterval <= 0 {
		scrapeInterval = time.Second
	}
	return RuleParams{Window: 5 * scrapeInterval}.withDefaults()
}

type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Rules returns the Prometheus rule file (YAML) with the alerts the orchestrator reacts to. Per service:
// RegionHighErrorRatio (more than half of a region's requests answer 5xx) and RegionDown (its scrape fails), both
// with the service and region labels of the scrape target. Region-wide: RegionUnavailable (at least
// RegionDownFraction of the region's scrape targets fail, in a region of at least RegionMinTargets), aggregated by
// region, so it carries a region label and
// no service label and Alertmanager (grouping by alertname, service, region) notifies it apart from the
// per-service alerts. All carry severity=critical.
func Rules(p RuleParams) string {
	p = p.withDefaults()
	window := model.Duration(p.Window).String()
	// The region service exports no service/region labels; Prometheus attaches them from the target, so summing by
	// them keeps them on the alert while folding the instances of one region together.
	errRatio := fmt.Sprintf(
		"sum by (service, region) (rate(region_http_requests_total{job=%q, code=~\"5..\"}[%s]))\n"+
			"  /\n"+
			"sum by (service, region) (rate(region_http_requests_total{job=%q}[%s]))\n"+
			"  > 0.5",
		p.Job, window, p.Job, window)
	f := ruleFile{Groups: []ruleGroup{{
		Name: "failover-regions",
		Rules: []rule{
			{
				Alert:  "RegionHighErrorRatio",
				Expr:   errRatio,
				For:    model.Duration(p.For).String(),
				Labels: map[string]string{"severity": "critical"},
				Annotations: map[string]string{
					"summary": "{{ $labels.service }} in {{ $labels.region }}: {{ $value | humanizePercentage }} of requests fail",
				},
			},
			{
				Alert:  "RegionDown",
				Expr:   fmt.Sprintf("up{job=%q} == 0", p.Job),
				For:    model.Duration(p.For).String(),
				Labels: map[string]string{"severity": "critical"},
				Annotations: map[string]string{
					"summary": "{{ $labels.service }} in {{ $labels.region }} ({{ $labels.instance }}) does not answer scrapes",
				},
			},
			{
				Alert:  RegionWideAlert,
				Expr:   regionDownRatio(p),
				For:    model.Duration(p.For).String(),
				Labels: map[string]string{"severity": "critical"},
				Annotations: map[string]string{
					"summary": "{{ $labels.region }}: {{ $value | humanizePercentage }} of the scrape targets do not answer",
				},
			},
		},
	}}}
	return mustYAML(f)
}

// regionDownRatio is the share of a region's targets whose scrape fails, in regions with enough targets. A region
// with none down has no series on the left, so no ratio (not 0) and no alert; with every target down the ratio is
// 1. A target that service discovery drops has no up series and counts neither way.
func regionDownRatio(p RuleParams) string {
	return fmt.Sprintf("(\n"+
		"  count by (region) (up{job=%q} == 0)\n"+
		"    /\n"+
		"  count by (region) (up{job=%q})\n"+
		") >= %s\n"+
		"  and on (region)\n"+
		"count by (region) (up{job=%q}) >= %d",
		p.Job, p.Job, strconv.FormatFloat(p.RegionDownFraction, 'f', -1, 64), p.Job, p.RegionMinTargets)
}

type promConfig struct {
	Global        promGlobal         `yaml:"global"`
	RuleFiles     []string           `yaml:"rule_files"`
	Alerting      promAlerting       `yaml:"alerting"`
	ScrapeConfigs []promScrapeConfig `yaml:"scrape_configs"`
}

type promGlobal struct {
	ScrapeInterval     string `yaml:"scrape_interval"`
	ScrapeTimeout      string `yaml:"scrape_timeout"`
	EvaluationInterval string `yaml:"evaluation_interval"`
}

type promAlerting struct {
	Alertmanagers []promAlertmanager `yaml:"alertmanagers"`
}

type promAlertmanager struct {
	StaticConfigs []promStatic `yaml:"static_configs"`
}

type promScrapeConfig struct {
	JobName       string       `yaml:"job_name"`
	StaticConfigs []promStatic `yaml:"static_configs"`
}

type promStatic struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// PrometheusConfig returns prometheus.yml: every target scraped at /metrics under its job, the rule file at
// rulesFile, and alerts sent to the Alertmanager at alertmanagerAddr (host:port).
func PrometheusConfig(opts Options, rulesFile, alertmanagerAddr string) (string, error) {
	interval := opts.ScrapeInterval
	if interval <= 0 {
		interval = time.Second
	}
	c := promConfig{
		Global: promGlobal{
			ScrapeInterval: model.Duration(interval).String(),
			// A scrape may not outlast its interval; Prometheus rejects the config otherwise.
			ScrapeTimeout:      model.Duration(interval).String(),
			EvaluationInterval: model.Duration(interval).String(),
		},
		RuleFiles: []string{rulesFile},
		Alerting: promAlerting{Alertmanagers: []promAlertmanager{{
			StaticConfigs: []promStatic{{Targets: []string{alertmanagerAddr}}},
		}}},
	}
	jobIndex := map[string]int{} // job name -> index in c.ScrapeConfigs, keeping first-seen order
	for i, t := range opts.Targets {
		if _, _, err := net.SplitHostPort(t.Addr); err != nil {
			return "", fmt.Errorf("promstack: Targets[%d].Addr %q is not host:port", i, t.Addr)
		}
		job := t.Job
		if job == "" {
			job = DefaultJob
		}
		for k := range t.Labels {
			if !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
				return "", fmt.Errorf("promstack: Targets[%d].Labels key %q is not a usable Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)", i, k)
			}
		}
		j, ok := jobIndex[job]
		if !ok {
			j = len(c.ScrapeConfigs)
			jobIndex[job] = j
			c.ScrapeConfigs = append(c.ScrapeConfigs, promScrapeConfig{JobName: job})
		}
		c.ScrapeConfigs[j].StaticConfigs = append(c.ScrapeConfigs[j].StaticConfigs,
			promStatic{Targets: []string{t.Addr}, Labels: t.Labels})
	}
	return mustYAML(c), nil
}

type amConfig struct {
	Route     amRoute      `yaml:"route"`
	Receivers []amReceiver `yaml:"receivers"`
}

type amRoute struct {
	Receiver       string   `yaml:"receiver"`
	GroupBy        []string `yaml:"group_by"`
	GroupWait      string   `yaml:"group_wait"`
	GroupInterval  string   `yaml:"group_interval"`
	RepeatInterval string   `yaml:"repeat_interval"`
}

type amReceiver struct {
	Name           string            `yaml:"name"`
	WebhookConfigs []amWebhookConfig `yaml:"webhook_configs,omitempty"`
}

type amWebhookConfig struct {
	URL          string        `yaml:"url"`
	SendResolved bool          `yaml:"send_resolved"`
	MaxAlerts    int           `yaml:"max_alerts"`
	HTTPConfig   *amHTTPConfig `yaml:"http_config,omitempty"`
}

type amHTTPConfig struct {
	Authorization amAuthorization `yaml:"authorization"`
}

type amAuthorization struct {
	Type            string `yaml:"type"`
	CredentialsFile string `yaml:"credentials_file"`
}

// ReceiverName is the name of the Alertmanager receiver that posts to the orchestrator.
const ReceiverName = "orchestrator"

// AlertmanagerConfig returns alertmanager.yml: one route grouped by alertname, service and region to a webhook at
// opts.WebhookURL that also reports resolutions. tokenFile holds the bearer token; it is referenced rather than
// inlined so the token never sits in a config that gets logged or copied. Pass "" when there is no token.
func AlertmanagerConfig(opts Options, tokenFile string) (string, error) {
	r := amReceiver{Name: ReceiverName}
	if opts.WebhookURL != "" {
		if !strings.HasPrefix(opts.WebhookURL, "http://") && !strings.HasPrefix(opts.WebhookURL, "https://") {
			return "", fmt.Errorf("promstack: WebhookURL %q must start with http:// or https://", opts.WebhookURL)
		}
		w := amWebhookConfig{URL: opts.WebhookURL, SendResolved: true}
		if tokenFile != "" {
			w.HTTPConfig = &amHTTPConfig{Authorization: amAuthorization{Type: "Bearer", CredentialsFile: tokenFile}}
		}
		r.WebhookConfigs = []amWebhookConfig{w}
	}
	c := amConfig{
		Route: amRoute{
			Receiver:       ReceiverName,
			GroupBy:        slices.Clone(GroupBy),
			GroupWait:      "1s",
			GroupInterval:  "5s",
			RepeatInterval: "1m",
		},
		Receivers: []amReceiver{r},
	}
	return mustYAML(c), nil
}

// GroupBy are the labels Alertmanager groups alerts by: one notification stream per alert, service and region.
var GroupBy = []string{"alertname", "service", "region"}

func mustYAML(v any) string {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		// Only plain structs of strings reach here; failing to marshal them is a programming error.
		panic(fmt.Sprintf("promstack: marshal config: %v", err))
	}
	return b.String()
}
