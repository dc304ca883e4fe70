package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
)

// switchService is the reroute of a blue-green plan (kong.switch service): one fenced change points the Kong
// Service at the target region's host. Its undo, registered first, points it back.
func (f *failover) switchService(ctx workflow.Context) *stop {
	from, to := f.plan.Regions[f.req.From].KongHost, f.plan.Regions[f.req.To].KongHost
	f.addUndo("point Kong service "+f.plan.Kong.Service+" back", f.switchServiceBack)
	if err := f.repointService(ctx, from, to); err != nil {
		return f.stepFailed(ctx, RolledBack, "point Kong service %s at %s: %v", f.plan.Kong.Service, to, err)
	}
	if s := f.confirmSplit(ctx, 100); s != nil {
		return s
	}
	changed := f.kongChangesLine([]string{fmt.Sprintf("update service %s: host %s → %s", f.plan.Kong.Service, from, to)})
	f.end(ctx, ResultOK, fmt.Sprintf("Kong service %s points at %s (%s)", f.plan.Kong.Service, to, f.req.To)+changed)
	return nil
}

// switchServiceBack undoes switchService, fenced on the Service still pointing at the target's host.
func (f *failover) switchServiceBack(ctx workflow.Context) error {
	return f.repointService(ctx, f.plan.Regions[f.req.To].KongHost, f.plan.Regions[f.req.From].KongHost)
}

func (f *failover) repointService(ctx workflow.Context, from, to string) error {
	svc := f.plan.Kong.Service
	summary := fmt.Sprintf("point Kong service %s at %s", svc, to)
	var res activities.SwitchServiceResult
	err := workflow.ExecuteActivity(quick(ctx, summary), a.SwitchService, activities.SwitchServiceInput{Service: svc, From: from, To: to}).Get(ctx, &res)
	if err == nil && res.Changed {
		f.sideEffect(ctx, "service "+svc, map[string]string{"host": from}, map[string]string{"host": to}, summary)
		f.publish(ctx)
	}
	return err
}

// inspectService reads back where the Service points after a rollback: a leftover unless it is the source's host.
func (f *failover) inspectService(ctx workflow.Context) []Leftover {
	svc, want := f.plan.Kong.Service, f.plan.Regions[f.req.From].KongHost
	fix := fmt.Sprintf("curl -X PATCH $KONG_ADMIN_URL/services/%s -d host=%s", svc, want)
	var host string
	if err := workflow.ExecuteActivity(quick(ctx, "read back service "+svc), a.ReadServiceHost, svc).Get(ctx, &host); err != nil {
		return []Leftover{{System: "kong", Target: "service " + svc, Now: fmt.Sprintf("unknown (read failed: %v)", err), Before: "host " + want, Fix: fix}}
	}
	if host == want {
		return nil
	}
	return []Leftover{{System: "kong", Target: "service " + svc, Now: "host " + host, Before: "host " + want, Fix: fix}}
}
