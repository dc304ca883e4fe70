package alerts

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/failover/failover/control"
	"github.com/failover/failover/workflows"
)

// coverCacheTTL is how long a running evacuation's scope, once read, answers for the per-service starts of its
// region: a storm of per-service alerts during a region outage costs one Describe and one query per region per
// TTL. Only a running evacuation is remembered, so one that starts is seen at the next start.
const coverCacheTTL = time.Second

// evacuationScope is what a running evacuation still has to do: each of its services' state (waiting, running,
// joined, done) as its status query answered at `read`.
type evacuationScope struct {
	read     time.Time
	runID    string
	services map[string]string
}

// covered answers a per-service start whose service the running evacuation of its region still has to move
// (waiting for its wave, or running or joined as one of its failovers): the evacuation owns it, so its waves and
// blast-radius limits apply, and nothing starts beside it. A service the evacuation does not list (outside its
// selectors), or has finished with, is not covered: its start goes on as without an evacuation. Regions without a
// region-wide route cost no Temporal call.
func (h *Handler) covered(ctx context.Context, res *Result, t Target) (bool, error) {
	if _, ok := h.o.Router.Evacuation(t.From); !ok {
		return false, nil
	}
	id := workflows.EvacuationID(workflows.KindFailover, t.From)
	scope, err := h.runningScope(ctx, id)
	if err != nil || scope == nil {
		return false, err
	}
	state, ok := scope.services[t.Plan.Service]
	if !ok || state == workflows.ServiceDone {
		return false, nil
	}
	res.Action, res.WorkflowID, res.RunID = ActionCovered, id, scope.runID
	res.Reason = fmt.Sprintf("covered by evacuation %s (run %s): %s is %s in it, and the evacuation moves it in its wave; "+
		"nothing started separately", id, scope.runID, t.Plan.Service, state)
	return true, nil
}

// runningScope is the scope of the running evacuation id, or nil when none runs (or its status cannot be read:
// then the per-service start goes on as without an evacuation, which the evacuation joins when it gets there).
func (h *Handler) runningScope(ctx context.Context, id string) (*evacuationScope, error) {
	h.mu.Lock()
	cached := h.scopes[id]
	h.mu.Unlock()
	if cached != nil && h.o.Now().Sub(cached.read) < coverCacheTTL {
		return cached, nil
	}
	desc, err := control.Latest(ctx, h.o.Temporal, id)
	if err != nil {
		return nil, err
	}
	if desc == nil || desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		h.forgetScope(id)
		return nil, nil
	}
	run := desc.WorkflowExecution.RunID
	st, err := control.EvacuationStatus(ctx, h.o.Temporal, id, run)
	if err != nil {
		h.o.Logger.Warn("webhook: the running evacuation did not answer its status query: the per-service start goes on "+
			"as without it (the evacuation joins that failover at its turn)", "evacuation", id, "run", run, "err", err)
		return nil, nil
	}
	scope := &evacuationScope{read: h.o.Now(), runID: run, services: map[string]string{}}
	for _, s := range st.Services {
		scope.services[s.Service] = s.State
	}
	h.mu.Lock()
	h.scopes[id] = scope
	h.mu.Unlock()
	return scope, nil
}

func (h *Handler) forgetScope(id string) {
	h.mu.Lock()
	delete(h.scopes, id)
	h.mu.Unlock()
}

// Evacuates reports whether a region-wide route evacuates region: the region watcher then holds each service's own
// start for a moment, so a region-wide failure is the evacuation's alone.
func (h *Handler) Evacuates(region string) bool {
	_, ok := h.o.Router.Evacuation(region)
	return ok
}
