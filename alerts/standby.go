package alerts

import (
	"fmt"
	"slices"

	"github.com/failover/failover/plan"
)

// Standby is the region the routes send a failover of p's service to when region down fails: the target of every
// route of that service that can apply to an alert about down (its match does not name another region, and its
// target is not down itself; "other" is the two-region plan's other region). ok is false when no route applies:
// nothing fails that region over. Routes that name different targets for it are an error: an alert would take
// the first matching one, but the region watcher has no alert labels to choose by.
func (r *Router) Standby(p plan.Plan, down string) (to string, ok bool, err error) {
	var targets []string
	var from []int
	for i, rt := range r.routes {
		if rt.Plan.Service != p.Service {
			continue
		}
		if region, named := rt.Match[RegionLabel]; named && region != down {
			continue
		}
		t := rt.To
		if t == ToOther {
			if t, err = rt.Plan.OtherRegion(down); err != nil {
				return "", false, err
			}
		}
		if t == down || slices.Contains(targets, t) {
			continue
		}
		targets, from = append(targets, t), append(from, i)
	}
	switch len(targets) {
	case 0:
		return "", false, nil
	case 1:
		return targets[0], true, nil
	}
	return "", false, fmt.Errorf("plan %s: routes %v send a failover away from %s to different regions %v: "+
		"add match: {%s: %s} to the one route that applies to it", p.Service, from, down, targets, RegionLabel, down)
}
