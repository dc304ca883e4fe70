package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/watcher"
)

// WatcherReplicas are the dev stack's region watchers: three front-door replicas sharing only Temporal and etcd,
// as three `starter serve --watcher-id ...` would. The first is the door the stack serves.
var WatcherReplicas = []string{"door-a", "door-b", "door-c"}

// watchers are the running replicas' watchers and metrics, in WatcherReplicas order.
type watchers struct {
	list    []*watcher.Watcher
	metrics []*watcher.Metrics
}

// openWatchedDoor serves the front door like openDoor, with the region watcher: the door's own watcher (its
// metrics on the door's /metrics, its state on /healthz) and two more replicas, each with its own webhook handler.
func openWatchedDoor(ctx context.Context, door *loopbackDoor, s *stack.Stack, p plan.Plan, token string, logger *slog.Logger) (*watchers, error) {
	if p.Watch == nil {
		return nil, fmt.Errorf("plan %s has no watch section", p.Service)
	}
	ws := &watchers{}
	var first *doorParts
	for i, id := range WatcherReplicas {
		d, err := newDoor(s, p, token, logger)
		if err != nil {
			return nil, err
		}
		board, err := watcher.NewBoard(s.EtcdClient, "", id, watcher.DefaultLeaseTTL)
		if err != nil {
			return nil, err
		}
		m := watcher.NewMetrics(d.reg)
		w, err := watcher.New(watcher.Options{Observer: id, Plans: d.router.Plans(), Firer: d.hook, Board: board, Standby: d.router, Metrics: m,
			Logger: logger.With("observer", id)})
		if err != nil {
			return nil, err
		}
		go w.Run(ctx)
		ws.list, ws.metrics = append(ws.list, w), append(ws.metrics, m)
		if i == 0 {
			first = d
		}
	}
	door.set(first.mux(func() string { return ws.list[0].Health().String() }))
	return ws, nil
}
