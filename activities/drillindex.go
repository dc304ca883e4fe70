package activities

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
)

// DefaultDrillIndexMaxAge is how old a list of the namespace's schedules may be for a failover's pause to use it
// instead of listing them again (Activities.DrillIndexMaxAge).
//
// Each real failover pauses its service's drill schedules (drillschedules.go), which begins with a visibility list
// of every schedule in the namespace, even for a service that has none: one list per failover, a thousand during
// an evacuation of a thousand services. A worker keeps the last list it made and pauses from it while it is younger
// than this. What the list says of a service is then checked where it matters: each schedule it names is described
// (its state now) before it is paused. The bound: a drill schedule created less than this (plus Temporal's
// visibility lag, under a second on the dev server) before a failover of its service starts may not be paused by
// that failover; if it fires during the failover, the drill refuses to run beside it (FailoverInFlight) and
// changes nothing. A resume always lists afresh.
const DefaultDrillIndexMaxAge = 5 * time.Second

// drillIndex is the last list of the namespace's schedule IDs this worker made, shared by its failovers.
type drillIndex struct {
	mu  sync.Mutex
	at  time.Time // when the list began; zero: none yet
	ids []string
}

// drillScheduleIDs lists the IDs of the schedules whose ID begins with prefix: from the worker's last list when
// it is younger than the max age and fresh is false, otherwise from a new list (which becomes the last list).
// Callers that find the index stale wait for one list instead of each making their own.
func (a *Activities) drillScheduleIDs(ctx context.Context, sc client.ScheduleClient, prefix string, fresh bool) ([]string, error) {
	a.drills.mu.Lock()
	defer a.drills.mu.Unlock()
	maxAge := a.DrillIndexMaxAge
	if maxAge == 0 {
		maxAge = DefaultDrillIndexMaxAge
	}
	if fresh || a.drills.at.IsZero() || time.Since(a.drills.at) >= maxAge {
		began := time.Now()
		ids, err := listScheduleIDs(ctx, sc)
		if err != nil {
			return nil, err
		}
		a.drills.at, a.drills.ids = began, ids
	}
	var out []string
	for _, id := range a.drills.ids {
		if strings.HasPrefix(id, prefix) {
			out = append(out, id)
		}
	}
	return out, nil
}

func listScheduleIDs(ctx context.Context, sc client.ScheduleClient) ([]string, error) {
	it, err := sc.List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var ids []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		ids = append(ids, e.ID)
	}
	return ids, nil
}
