package watcher

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/failover/failover/alerts"
	"github.com/failover/failover/workflows"
)

// Evacuator is called once when every watched service of a region is down and each down verdict was confirmed by
// its quorum (a region-wide failure), until one of them is up again. It is called from the watcher's loop and must
// not block: it hands the work off.
type Evacuator interface {
	// Evacuates reports whether a region-wide failure of region starts an evacuation: the watcher then holds each
	// of the region's services' own starts for the settle window (settle.go), so that failure is the evacuation's.
	Evacuates(region string) bool
	// Evacuate hands the failure off; done must be called once, from any goroutine, when the start is settled
	// (started, joined, or given up): the services' held starts go ahead then, and the front door answers those
	// the evacuation covers.
	Evacuate(ctx context.Context, down RegionDown, done func())
}

// RegionDown is a region-wide failure as one watcher confirmed it.
type RegionDown struct {
	Region   string
	Observer string
	// Services are the region's watched services, sorted.
	Services []string
	// Since is when the first of them went down.
	Since time.Time
	// Evidence is each service's confirmed down verdict as the watcher delivers it to the service's failover
	// (labels region, service, observer, and evidence: the last probe's detail and the quorum's verdicts).
	Evidence []workflows.Alert
}

// LogEvacuator only logs the region-wide failure: for front doors with no evacuation to start.
type LogEvacuator struct{ Logger *slog.Logger }

// Evacuates is false: no region is evacuated, so no start is held.
func (LogEvacuator) Evacuates(string) bool { return false }

// Evacuate logs the region-wide failure.
func (e LogEvacuator) Evacuate(_ context.Context, d RegionDown, done func()) {
	e.Logger.Warn("watcher: every watched service of the region is down: no evacuation is configured, each service's own failover proceeds",
		"region", d.Region, "services", d.Services)
	done()
}

// EvacuationStarter starts a region's evacuation through the front door's path; *alerts.Handler is one.
type EvacuationStarter interface {
	// Evacuates reports whether a region-wide route evacuates region.
	Evacuates(region string) bool
	Evacuate(ctx context.Context, region string, sig workflows.Alert, trigger workflows.Trigger, evidence []workflows.Alert) (alerts.Result, error)
}

// StartEvacuator starts the region's evacuation (the one the routes file's region-wide route for that region
// names) through alerts.Handler.Evacuate: the same workflow ID, read and start within the join window as a
// region-wide alert, so the watchers of every replica and Alertmanager start one evacuation between them. A region
// no route evacuates is logged, and each service's own failover proceeds.
type StartEvacuator struct {
	Starter EvacuationStarter
	Logger  *slog.Logger
	// Retry is the pause between attempts while Temporal does not take the start (default 2s); Attempts bounds
	// them (default 30).
	Retry    time.Duration
	Attempts int
}

// Evacuates reports whether the routes file has a region-wide route for region.
func (e StartEvacuator) Evacuates(region string) bool { return e.Starter.Evacuates(region) }

// Evacuate starts the evacuation off the caller's goroutine, retrying while Temporal does not answer, and calls
// done when it started, joined or gave up.
func (e StartEvacuator) Evacuate(ctx context.Context, d RegionDown, done func()) {
	if e.Retry <= 0 {
		e.Retry = 2 * time.Second
	}
	if e.Attempts <= 0 {
		e.Attempts = 30
	}
	sig := workflows.Alert{Status: alerts.Firing, Alertname: AlertName, Fingerprint: "watcher/" + d.Observer + "/" + d.Region,
		GroupKey: "watcher/" + d.Observer, StartsAt: d.Since, ReceivedAt: time.Now(),
		Labels: map[string]string{"alertname": AlertName, workflows.RegionLabel: d.Region, "observer": d.Observer}}
	trigger := workflows.Trigger{Source: workflows.TriggerWatcher, By: "watcher " + d.Observer, Alert: AlertName, FaultAt: d.Since}
	go func() {
		defer done()
		for attempt := 1; ; attempt++ {
			res, err := e.Starter.Evacuate(ctx, d.Region, sig, trigger, d.Evidence)
			switch {
			case errors.Is(err, alerts.ErrNoEvacuation):
				e.Logger.Warn("watcher: every watched service of the region is down, but no evacuation is configured for it "+
					"(add a route with evacuation: to the routes file): each service's own failover proceeds",
					"region", d.Region, "services", d.Services)
				return
			case err == nil:
				e.Logger.Warn("watcher: every watched service of the region is down and confirmed: evacuation requested",
					"region", d.Region, "services", d.Services, "action", res.Action, "workflow", res.WorkflowID,
					"run", res.RunID, "reason", res.Reason)
				return
			case attempt >= e.Attempts || ctx.Err() != nil:
				e.Logger.Error("watcher: Temporal did not take the evacuation; giving up", "region", d.Region, "attempts", attempt, "err", err)
				return
			}
			e.Logger.Error("watcher: Temporal did not take the evacuation; trying again", "region", d.Region, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(e.Retry):
			}
		}
	}()
}
