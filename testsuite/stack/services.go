package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kong/go-kong/kong"
	"gopkg.in/yaml.v3"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// ServiceOptions shape the services SeedServices adds.
type ServiceOptions struct {
	// Labels gives a service's plan labels (e.g. tier) by name; nil labels none.
	Labels func(name string) map[string]string
	// Probes is each plan's detection.probes (default 3).
	Probes int
	// Samples is the requests of each plan's one HTTP verification check (default 3).
	Samples int
}

// SeedServices adds services for evacuations, each like the demo service but with its own names, served by the
// same two demo regions: a Kong upstream named after the service (both regions as targets, the first at weight
// 100), a Kong service and route /<name>, an active-region key /failover/<name>/active on the first region, and a
// plan written to dir as <name>.yaml: the demo plan without Prometheus (no gate, no readiness queries), no
// warmup and no consumers to wait for, one verification round of one HTTP check through the Kong proxy. It
// converges when run twice.
func (s *Stack) SeedServices(ctx context.Context, dir string, names []string, opts ServiceOptions) error {
	acts := &activities.Activities{Etcd: s.EtcdClient, Logger: s.logger}
	for _, name := range names {
		if err := s.seedKong(ctx, name); err != nil {
			return err
		}
		key := "/failover/" + name + "/active"
		cur, err := acts.ReadActive(ctx, key)
		if err != nil {
			return fmt.Errorf("stack: read %s: %w", key, err)
		}
		if !cur.Exists {
			if _, err := acts.Cutover(ctx, activities.CutoverInput{Key: key, Region: RegionNames[0], WorkflowID: "stack-seed"}); err != nil {
				return fmt.Errorf("stack: seed %s: %w", key, err)
			}
		}
		p := s.ServicePlan(name, opts)
		if err := writePlan(filepath.Join(dir, name+".yaml"), p); err != nil {
			return err
		}
	}
	return nil
}

// ServicePlan is the plan SeedServices writes for name.
func (s *Stack) ServicePlan(name string, opts ServiceOptions) plan.Plan {
	probes, samples := opts.Probes, opts.Samples
	if probes == 0 {
		probes = 3
	}
	if samples == 0 {
		samples = 3
	}
	p := s.Plan
	p.Service = name
	if opts.Labels != nil {
		p.Labels = opts.Labels(name)
	}
	p.Etcd = plan.Etcd{ActiveKey: "/failover/" + name + "/active", AckPrefix: "/failover/" + name + "/acks/"}
	p.Kong = plan.Kong{Upstream: name}
	p.Detection = plan.Detection{Probes: probes, ProbeInterval: 100 * time.Millisecond, ProbeTimeout: time.Second}
	p.Readiness = plan.Readiness{}
	p.Traffic = plan.Traffic{Steps: []int{100}}
	p.Warmup = plan.Warmup{}
	regions := map[string]plan.Region{}
	for n, r := range p.Regions {
		r.PrometheusURL, r.WarmupURL = "", ""
		regions[n] = r
	}
	p.Regions = regions
	p.Verification = plan.Verification{Count: 1, Interval: time.Second, Checks: []plan.Check{{Name: "served-by-target",
		HTTP: &plan.HTTPCheck{URL: s.Kong.ProxyURL() + "/" + name + "/items/verify", ExpectHeader: map[string]string{"X-Region": "${to}"},
			Samples: samples}}}}
	p.SetDefaults()
	return p
}

// writePlan writes p as YAML and checks that it loads back. (Its hash may differ from p's: YAML writes a nil list
// as [], which loads back empty, not nil.)
func writePlan(path string, p plan.Plan) error {
	b, err := yaml.Marshal(p)
	if err != nil {
		return fmt.Errorf("stack: plan %s: %w", p.Service, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("stack: write plan: %w", err)
	}
	if _, err := plan.Load(path); err != nil {
		return fmt.Errorf("stack: plan %s does not load back: %w", path, err)
	}
	return nil
}

// seedKong creates the service's Kong upstream (both regions as targets), service and route, converging.
func (s *Stack) seedKong(ctx context.Context, name string) error {
	kc := s.KongClient
	if _, err := kc.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String(name)}); err != nil && !isConflict(err) {
		return fmt.Errorf("stack: create Kong upstream %s: %w", name, err)
	}
	for i, r := range RegionNames {
		t := &kong.Target{Target: kong.String(s.Regions[r].Addr()), Weight: kong.Int(map[bool]int{true: 100}[i == 0])}
		if _, err := kc.Targets.Create(ctx, kong.String(name), t); err != nil && !isConflict(err) {
			return fmt.Errorf("stack: create Kong target %s of %s: %w", r, name, err)
		}
	}
	svc := &kong.Service{Name: kong.String(name), Host: kong.String(name), Port: kong.Int(80), Protocol: kong.String("http")}
	if _, err := kc.Services.Create(ctx, svc); err != nil && !isConflict(err) {
		return fmt.Errorf("stack: create Kong service %s: %w", name, err)
	}
	route := &kong.Route{Name: kong.String(name), Paths: kong.StringSlice("/" + name), StripPath: kong.Bool(true),
		Service: &kong.Service{Name: kong.String(name)}}
	if _, err := kc.Routes.Create(ctx, route); err != nil && !isConflict(err) {
		return fmt.Errorf("stack: create Kong route %s: %w", name, err)
	}
	return nil
}

// ServiceNames returns n names prefix-0001 … prefix-n.
func ServiceNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i+1)
	}
	return out
}
