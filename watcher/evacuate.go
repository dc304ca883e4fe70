package watcher

import (
	"context"
	"log/slog"
)

// Evacuator is called once when every watched service of a region is down (a region-wide failure), until one of
// them is up again. It is not wired to the Evacuation workflow yet: LogEvacuator only says what it would do, and
// the services' own failovers proceed one by one.
type Evacuator interface {
	Evacuate(ctx context.Context, region string, services []string)
}

// LogEvacuator logs "would evacuate": the seam the Evacuation workflow plugs into.
type LogEvacuator struct{ Logger *slog.Logger }

// Evacuate logs the region-wide failure.
func (e LogEvacuator) Evacuate(_ context.Context, region string, services []string) {
	e.Logger.Warn("watcher: every watched service of the region is down: would evacuate the region (evacuation not wired yet)",
		"region", region, "services", services)
}
