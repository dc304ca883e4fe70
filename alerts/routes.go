package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/failover/failover/plan"
)

// ToOther as a route's target means the plan's other region, relative to the alert's region label.
const ToOther = "other"

// RegionLabel is the alert label that names the region an alert is about.
const RegionLabel = "region"

// ServiceLabel is the alert label that names the service an alert is about: region-wide routes (evacuation:)
// match only alerts without it.
const ServiceLabel = "service"

// ErrMissingLabel is wrapped by Router.Route when an alert lacks a label its route needs.
var ErrMissingLabel = errors.New("missing label")

// ErrWrongRegion is wrapped by Router.Route when a region-wide alert is about another region than the one its
// route's evacuation evacuates.
var ErrWrongRegion = errors.New("wrong region")

// RoutesFile is the routes YAML as written: which alerts fail over which service, and to where, and which
// region-wide alerts evacuate their region.
// deploy/alerts/routes.yaml documents it.
type RoutesFile struct {
	Routes []RouteSpec `yaml:"routes"`
}

// RouteSpec is one route: alerts whose labels equal every Match entry fail over Plan's service to To, or, on a
// region-wide route, start Evacuation: the evacuation of the alert's region.
type RouteSpec struct {
	Match map[string]string `yaml:"match"`
	// Plan is the plan file, relative to the routes file.
	Plan string `yaml:"plan"`
	// To is a region of the plan, or "other": the plan's other region than the alert's region label.
	To string `yaml:"to"`
	// Evacuation is an evacuation file (plan.Evacuation), relative to the routes file; instead of Plan and To. It
	// matches only alerts with a region label and without a service label.
	Evacuation string `yaml:"evacuation"`
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Validate checks the file without loading plans; each problem names the field and the fix.
func (f RoutesFile) Validate() error {
	if len(f.Routes) == 0 {
		return errors.New("routes: empty: add at least one route (see deploy/alerts/routes.yaml)")
	}
	var errs []error
	for i, r := range f.Routes {
		field := fmt.Sprintf("routes[%d]", i)
		if len(r.Match) == 0 {
			errs = append(errs, fmt.Errorf("%s.match: empty: it would match every alert; name at least alertname or service", field))
		}
		for _, k := range slices.Sorted(maps.Keys(r.Match)) {
			if !labelNameRE.MatchString(k) {
				errs = append(errs, fmt.Errorf("%s.match: %q is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", field, k))
			}
			if r.Match[k] == "" {
				errs = append(errs, fmt.Errorf("%s.match.%s: empty value: give the exact label value to match", field, k))
			}
		}
		switch {
		case r.Plan != "" && r.Evacuation != "":
			errs = append(errs, fmt.Errorf("%s: plan and evacuation are both set: a route fails over one service (plan, to) or "+
				"evacuates the alert's whole region (evacuation); keep one", field))
		case r.Evacuation != "":
			errs = append(errs, r.validateEvacuation(field)...)
		default:
			if r.Plan == "" {
				errs = append(errs, fmt.Errorf("%s.plan: missing: give the plan file, relative to the routes file (or evacuation: "+
					"for a region-wide route)", field))
			}
			if r.To == "" {
				errs = append(errs, fmt.Errorf("%s.to: missing: name a region of the plan, or %q for the plan's other region", field, ToOther))
			}
		}
	}
	return errors.Join(errs...)
}

// LoadRoutes reads a routes file and loads (and validates) every plan and evacuation it names, relative to the file.
func LoadRoutes(path string) (*Router, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read routes: %w", err)
	}
	dir := filepath.Dir(path)
	resolve := func(p string) string {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return p
	}
	r, err := ParseRoutesWith(b, func(p string) (plan.Plan, error) { return plan.Load(resolve(p)) },
		func(p string) (*EvacuationFile, error) { return OpenEvacuation(resolve(p)) })
	if err != nil {
		return nil, fmt.Errorf("routes %s: %w", path, err)
	}
	return r, nil
}

// ParseRoutes decodes a routes file strictly (unknown fields are errors), validates it and loads each plan with
// loadPlan, called once per distinct plan path. It refuses region-wide routes (ParseRoutesWith loads them).
func ParseRoutes(data []byte, loadPlan func(path string) (plan.Plan, error)) (*Router, error) {
	return ParseRoutesWith(data, loadPlan, nil)
}

// ParseRoutesWith is ParseRoutes that also opens the evacuation file of each region-wide route with
// loadEvacuation (nil: such routes are refused).
func ParseRoutesWith(data []byte, loadPlan func(path string) (plan.Plan, error),
	loadEvacuation func(path string) (*EvacuationFile, error)) (*Router, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f RoutesFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the routes file is empty: start from deploy/alerts/routes.yaml")
		}
		return nil, fmt.Errorf("decode: %w (fields are routes[].match, plan, to, evacuation)", err)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	plans := map[string]plan.Plan{}
	var routes []Route
	var errs []error
	for i, spec := range f.Routes {
		if spec.Evacuation != "" {
			ev, err := openEvacuationRoute(i, spec, loadEvacuation)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			routes = append(routes, Route{Match: spec.Match, Evacuation: ev})
			continue
		}
		p, ok := plans[spec.Plan]
		if !ok {
			var err error
			if p, err = loadPlan(spec.Plan); err != nil {
				return nil, fmt.Errorf("routes[%d].plan: %w", i, err)
			}
			plans[spec.Plan] = p
		}
		routes = append(routes, Route{Match: spec.Match, Plan: p, To: spec.To})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return NewRouter(routes...)
}

// Route is a route with its plan loaded, or a region-wide route with its evacuation file opened.
type Route struct {
	Match map[string]string
	Plan  plan.Plan
	To    string
	// Evacuation is set on a region-wide route (Plan and To are then unset).
	Evacuation *EvacuationFile
}

// Router picks the route of an alert: the first route whose matchers all equal the alert's labels.
type Router struct {
	routes []Route
}

// NewRouter checks each route's target against its plan.
func NewRouter(routes ...Route) (*Router, error) {
	var errs []error
	for i, r := range routes {
		field := fmt.Sprintf("routes[%d]", i)
		if len(r.Match) == 0 {
			errs = append(errs, fmt.Errorf("%s.match: empty: name at least alertname or service", field))
		}
		if r.Evacuation != nil {
			errs = append(errs, r.checkEvacuation(field)...)
			continue
		}
		switch _, ok := r.Plan.Regions[r.To]; {
		case r.To == ToOther:
			if n := len(r.Plan.Regions); n != 2 {
				errs = append(errs, fmt.Errorf("%s.to: %q needs a plan with exactly two regions; plan %s has %d %v: name the target region",
					field, ToOther, r.Plan.Service, n, r.Plan.RegionNames()))
			}
		case !ok:
			errs = append(errs, fmt.Errorf("%s.to: region %q is not in plan %s (it has %v), and not %q",
				field, r.To, r.Plan.Service, r.Plan.RegionNames(), ToOther))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Router{routes: slices.Clone(routes)}, nil
}

// Target is where a routed alert fails over.
type Target struct {
	// Route is the index of the matching route.
	Route    int
	Plan     plan.Plan
	From, To string
	// Evacuation is set when the route is region-wide: the alert starts the evacuation of From (Plan and To unset).
	Evacuation *EvacuationFile
}

// Route returns the target of the alert and true, or false when no route matches. An error wrapping
// ErrMissingLabel means the alert cannot be acted on as sent; any other error means the matching route does not
// apply to it (e.g. the alert is about the target region itself) and says why.
func (r *Router) Route(a Alert) (Target, bool, error) {
	for i, rt := range r.routes {
		if !matches(rt.Match, a.Labels) {
			continue
		}
		if rt.Evacuation != nil {
			if _, ok := a.Labels[ServiceLabel]; ok {
				continue // a region-wide route is for alerts about a region, not about one of its services
			}
			t, err := rt.evacuationTarget(i, a)
			return t, true, err
		}
		t := Target{Route: i, Plan: rt.Plan}
		region := a.Labels[RegionLabel]
		names := rt.Plan.RegionNames()
		if region != "" && !slices.Contains(names, region) {
			return t, true, fmt.Errorf("alert %s is about region %q, which plan %s does not have (it has %v)",
				a.Name(), region, rt.Plan.Service, names)
		}
		if rt.To == ToOther {
			if region == "" {
				return t, true, fmt.Errorf("%w: alert %s has no %q label; routes[%d] (to: %s) needs it to pick the target region: "+
					"add the label to the alert rule, or set routes[%d].to to a region of plan %s",
					ErrMissingLabel, a.Name(), RegionLabel, i, ToOther, i, rt.Plan.Service)
			}
			to, err := rt.Plan.OtherRegion(region)
			if err != nil {
				return t, true, err
			}
			t.From, t.To = region, to
			return t, true, nil
		}
		t.To = rt.To
		if region == rt.To {
			return t, true, fmt.Errorf("alert %s is about %s, the target of routes[%d]: there is nowhere to fail over to",
				a.Name(), region, i)
		}
		if t.From = region; t.From == "" {
			from, err := rt.Plan.OtherRegion(rt.To)
			if err != nil {
				return t, true, fmt.Errorf("%w: alert %s has no %q label, and plan %s has regions %v besides the target %s, "+
					"so the region it is about is unknown: add the label to the alert rule", ErrMissingLabel, a.Name(), RegionLabel,
					rt.Plan.Service, slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == rt.To }), rt.To)
			}
			t.From = from
		}
		return t, true, nil
	}
	return Target{}, false, nil
}

func matches(match, labels map[string]string) bool {
	for k, v := range match {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Plans are the distinct plans (by service) the routes name, in route order: the region watcher watches those
// with a watch section.
func (r *Router) Plans() []plan.Plan {
	var out []plan.Plan
	seen := map[string]bool{}
	for _, rt := range r.routes {
		if rt.Evacuation == nil && !seen[rt.Plan.Service] {
			seen[rt.Plan.Service] = true
			out = append(out, rt.Plan)
		}
	}
	return out
}

// String describes the routes for a startup log line.
func (r *Router) String() string {
	var parts []string
	for _, rt := range r.routes {
		var m []string
		for _, k := range slices.Sorted(maps.Keys(rt.Match)) {
			m = append(m, k+"="+rt.Match[k])
		}
		if rt.Evacuation != nil {
			parts = append(parts, fmt.Sprintf("{%s} → evacuation of %s (%s)", strings.Join(m, ","), rt.Evacuation.From, rt.Evacuation.Path))
			continue
		}
		parts = append(parts, fmt.Sprintf("{%s} → %s to %s", strings.Join(m, ","), rt.Plan.Service, rt.To))
	}
	return strings.Join(parts, "; ")
}
