package workflows

import (
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// Leftover is one thing still changed after a failover that did not end where it started or where it meant to
// go, read back from the system itself, with how to finish by hand.
type Leftover struct {
	System string `json:"system"` // etcd or kong
	Target string `json:"target"` // the key, or upstream/target
	Now    string `json:"now"`
	Before string `json:"before"`
	Fix    string `json:"fix"`
}

func (l Leftover) String() string {
	return fmt.Sprintf("%s %s is %s (before: %s); to finish by hand: %s", l.System, l.Target, l.Now, l.Before, l.Fix)
}

// CheckListed compares what a failed-needs-human result lists as still changed with what is: changed names each
// etcd key and Kong upstream/target that differs from before the failover. A system the run could not read back
// (listed as unknown) covers everything in it. It returns what is changed but not listed, or listed but unchanged.
func CheckListed(listedChanges []Leftover, changed []string, activeKey string) error {
	listed, unknown := []string{}, map[string]bool{}
	for _, l := range listedChanges {
		if strings.HasPrefix(l.Now, "unknown") {
			unknown[l.System] = true
			continue
		}
		listed = append(listed, l.Target)
	}
	for _, c := range changed {
		system := "kong"
		if c == activeKey {
			system = "etcd"
		}
		if !slices.Contains(listed, c) && !unknown[system] {
			return fmt.Errorf("%s is still changed but not listed (listed %v)", c, listed)
		}
	}
	for _, l := range listed {
		if !slices.Contains(changed, l) {
			return fmt.Errorf("%s listed as still changed, but it is not (listed %v)", l, listed)
		}
	}
	return nil
}

// inspect reads the active-region key and the Kong weights as they are now and lists what differs from before
// the failover. A system it cannot read is listed too: unknown is not the same as unchanged.
func (f *failover) inspect(ctx workflow.Context) []Leftover {
	key, up := f.plan.Etcd.ActiveKey, f.plan.Kong.Upstream
	active := f.read(ctx, "read back "+key, a.ReadActive, key)
	if f.plan.Kong.SwitchesService() {
		return append(f.inspectActive(ctx, active), f.inspectService(ctx)...)
	}
	weights := f.read(ctx, "read back weights of "+up, a.ReadWeights, up)
	out := f.inspectActive(ctx, active)

	var current []activities.TargetWeight
	if err := weights.Get(ctx, &current); err != nil {
		out = append(out, Leftover{System: "kong", Target: up, Now: fmt.Sprintf("unknown (read failed: %v)", err), Before: fmt.Sprint(f.weights),
			Fix: fmt.Sprintf("read GET /upstreams/%s/targets and set each target back to %v", up, f.weights)})
		return out
	}
	for _, want := range f.weights {
		have, ok := weightOf(current, want.Target)
		if ok && have == want.Weight {
			continue
		}
		now := fmt.Sprintf("weight %d", have)
		if !ok {
			now = "missing"
		}
		out = append(out, Leftover{System: "kong", Target: up + "/" + want.Target, Now: now, Before: fmt.Sprintf("weight %d", want.Weight),
			Fix: fmt.Sprintf("curl -X PUT $KONG_ADMIN_URL/upstreams/%s/targets/%s -d weight=%d", up, want.Target, want.Weight)})
	}
	return out
}

// inspectActive lists the active-region key when it no longer names the source (or cannot be read).
func (f *failover) inspectActive(ctx workflow.Context, active workflow.Future) []Leftover {
	key := f.plan.Etcd.ActiveKey
	var now activities.ActiveState
	before := describeActive(f.active)
	fixEtcd := fmt.Sprintf("etcdctl put %s '{\"region\":%q,\"epoch\":N}' with N above the current epoch", key, f.req.From)
	if err := active.Get(ctx, &now); err != nil {
		return []Leftover{{System: "etcd", Target: key, Now: fmt.Sprintf("unknown (read failed: %v)", err), Before: before, Fix: "read it; if it does not name " + f.req.From + ": " + fixEtcd}}
	}
	if onSource := (now.Exists && now.Value.Region == f.req.From) || (!now.Exists && !f.active.Exists); !onSource {
		if now.Exists {
			fixEtcd = fmt.Sprintf("etcdctl put %s '{\"region\":%q,\"epoch\":%d}'", key, f.req.From, now.Value.Epoch+1)
		}
		return []Leftover{{System: "etcd", Target: key, Now: describeActive(now), Before: before, Fix: fixEtcd}}
	}
	return nil
}

func describeActive(s activities.ActiveState) string {
	if !s.Exists {
		return "absent"
	}
	return fmt.Sprintf("region %s epoch %d", s.Value.Region, s.Value.Epoch)
}

func leftoverSummary(ls []Leftover) string {
	if len(ls) == 0 {
		return "read back etcd and Kong: nothing differs from before the failover"
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.String()
	}
	return "still changed: " + strings.Join(parts, "; ")
}

func leftoverLines(ls []Leftover) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.String())
	}
	return out
}
