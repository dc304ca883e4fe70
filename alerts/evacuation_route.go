package alerts

import (
	"fmt"
	"path/filepath"

	"github.com/failover/failover/plan"
)

// EvacuationFile is the evacuation a region-wide route starts (a plan.Evacuation file): the region it evacuates,
// read when the routes load, and how to read the file again at each start, since its per-service plans change and
// the evacuation must name their hashes as they are then.
type EvacuationFile struct {
	// Path is the file as the route names it, resolved against the routes file.
	Path string
	// From is the region the file evacuates (its from).
	From string
	// Load reads the file and resolves it against its plans.
	Load func() (plan.Evacuation, []plan.ScheduledWave, error)
}

// OpenEvacuation reads and resolves an evacuation file once, so a missing or bad file, or a plan that does not
// load, is an error at startup, and returns it ready to be read again at each start.
func OpenEvacuation(path string) (*EvacuationFile, error) {
	load := func() (plan.Evacuation, []plan.ScheduledWave, error) { return loadEvacuation(path) }
	e, _, err := load()
	if err != nil {
		return nil, err
	}
	return &EvacuationFile{Path: path, From: e.From, Load: load}, nil
}

// loadEvacuation reads the evacuation as `starter evacuate --evacuation` does: plans as an absolute directory
// (the worker reads the same one), resolved against the plans in it.
func loadEvacuation(path string) (plan.Evacuation, []plan.ScheduledWave, error) {
	e, err := plan.LoadEvacuation(path)
	if err != nil {
		return plan.Evacuation{}, nil, err
	}
	if e.Plans, err = filepath.Abs(e.Plans); err != nil {
		return plan.Evacuation{}, nil, fmt.Errorf("evacuation %s: plans: %w", path, err)
	}
	waves, err := e.Resolve()
	if err != nil {
		return plan.Evacuation{}, nil, fmt.Errorf("evacuation %s: %w", path, err)
	}
	return e, waves, nil
}

// validateEvacuation checks a region-wide route as written.
func (r RouteSpec) validateEvacuation(field string) []error {
	var errs []error
	if r.To != "" {
		errs = append(errs, fmt.Errorf("%s.to: an evacuation route takes its target from the evacuation file (its to, else "+
			"each plan's other region): remove to", field))
	}
	if _, ok := r.Match[ServiceLabel]; ok {
		errs = append(errs, fmt.Errorf("%s.match.%s: an evacuation route is region-wide and matches only alerts without a %s "+
			"label: remove it from match, or use plan: to fail over that one service", field, ServiceLabel, ServiceLabel))
	}
	return errs
}

// openEvacuationRoute opens the evacuation file of region-wide route i.
func openEvacuationRoute(i int, spec RouteSpec, open func(path string) (*EvacuationFile, error)) (*EvacuationFile, error) {
	if open == nil {
		return nil, fmt.Errorf("routes[%d].evacuation: region-wide routes cannot be loaded here: use plan: and to:", i)
	}
	ev, err := open(spec.Evacuation)
	if err != nil {
		return nil, fmt.Errorf("routes[%d].evacuation: %w", i, err)
	}
	return ev, nil
}

// checkEvacuation checks a region-wide route against its evacuation file.
func (r Route) checkEvacuation(field string) []error {
	var errs []error
	ev := r.Evacuation
	if r.Plan.Service != "" || r.To != "" {
		errs = append(errs, fmt.Errorf("%s: plan and evacuation are both set: keep one", field))
	}
	if ev.From == "" || ev.Load == nil {
		return append(errs, fmt.Errorf("%s.evacuation: %s was not opened (no from or loader): open it with OpenEvacuation", field, ev.Path))
	}
	if region := r.Match[RegionLabel]; region != "" && region != ev.From {
		errs = append(errs, fmt.Errorf("%s.evacuation: %s evacuates %s (its from), but %s.match.region is %s: point the route "+
			"at an evacuation of %s, or match region: %s", field, ev.Path, ev.From, field, region, region, ev.From))
	}
	if _, ok := r.Match[ServiceLabel]; ok {
		errs = append(errs, fmt.Errorf("%s.match.%s: an evacuation route matches only alerts without a %s label: remove it",
			field, ServiceLabel, ServiceLabel))
	}
	return errs
}

// evacuationTarget is the target of an alert that matched region-wide route i: the evacuation of the alert's
// region, which must be the region the evacuation file evacuates.
func (r Route) evacuationTarget(i int, a Alert) (Target, error) {
	ev := r.Evacuation
	region := a.Labels[RegionLabel]
	t := Target{Route: i, From: region, Evacuation: ev}
	switch {
	case region == "":
		return t, fmt.Errorf("%w: alert %s has no %q label; routes[%d] evacuates the alert's region (evacuation %s): add the "+
			"label to the alert rule", ErrMissingLabel, a.Name(), RegionLabel, i, ev.Path)
	case region != ev.From:
		return t, fmt.Errorf("%w: alert %s is about region %s, but routes[%d].evacuation %s evacuates %s (its from): nothing "+
			"started; add match.region: %s to that route, and a route per region", ErrWrongRegion, a.Name(), region, i,
			ev.Path, ev.From, ev.From)
	}
	return t, nil
}

// Evacuation returns the target of the first region-wide route whose evacuation evacuates region, if any: the
// region watcher starts that evacuation when every watched service of the region is down.
func (r *Router) Evacuation(region string) (Target, bool) {
	for i, rt := range r.routes {
		if rt.Evacuation != nil && rt.Evacuation.From == region {
			return Target{Route: i, From: region, Evacuation: rt.Evacuation}, true
		}
	}
	return Target{}, false
}
