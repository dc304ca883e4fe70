package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// HeartbeatEvery is how often an activity that can run long heartbeats. Temporal learns that a worker died (kill -9,
// OOM, a lost node) only when the heartbeats of its activities stop, so the workflow gives such activities a short
// HeartbeatTimeout (1 s, see workflows/options.go); a beat every HeartbeatEvery keeps a live worker well inside it.
const HeartbeatEvery = 250 * time.Millisecond

// keepAlive heartbeats every HeartbeatEvery until the returned stop is called, so the HeartbeatTimeout notices a
// dead worker within seconds even while one call (a probe, an HTTP sample, a query, a watch) blocks for longer.
// progress, when not nil, gives each heartbeat's details: Temporal keeps only the latest, and a retry resumes from
// them. Outside an activity (dry runs, benchmarks) it does nothing.
func keepAlive(ctx context.Context, progress func() any) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(HeartbeatEvery)
		defer tick.Stop()
		// The first beat waits a tick: an activity that ends sooner needs none, and a beat still in flight when the
		// activity ends is logged by the SDK as an error.
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if progress == nil {
				activity.RecordHeartbeat(ctx)
			} else {
				activity.RecordHeartbeat(ctx, progress())
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
