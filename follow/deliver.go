package follow

import (
	"context"
	"time"
)

// deliverLoop hands queued values to the handler one at a time, oldest first, and records each as applied only
// after the handler succeeds. It runs apart from the watch so a slow or failing handler never stalls the watch
// (which must keep answering progress requests to stay confirmed).
func (f *Follower) deliverLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		for {
			f.mu.Lock()
			more := len(f.pending) > 0
			var next Active
			if more {
				next = f.pending[0].active
			}
			f.mu.Unlock()
			if !more {
				break
			}

			if !f.apply(ctx, next) {
				return
			}

			f.mu.Lock()
			p := f.pending[0] // re-read: etcd may have confirmed a cached value while the handler ran
			f.pending = f.pending[1:]
			f.applied, f.appliedRev, f.known, f.fromCache = p.active, p.revision, true, p.fromCache
			f.confirmedAt = p.seenAt
			if !p.fromCache && len(f.pending) == 0 && f.viewAt.After(f.confirmedAt) {
				f.confirmedAt = f.viewAt
			}
			f.mu.Unlock()

			signal(f.ackWake)
			f.log.Info("follow: applied", "region", p.active.Region, "epoch", p.active.Epoch,
				"revision", p.revision, "from_cache", p.fromCache)
			if !p.fromCache {
				signal(f.saveWake)
			}
		}
	}
}

// apply runs the handler until it succeeds; it reports false when ctx ends first.
func (f *Follower) apply(ctx context.Context, a Active) bool {
	if f.handler == nil {
		return true
	}
	retry := backoff{min: 50 * time.Millisecond, max: min(5*time.Second, f.ttl)}
	for attempt := 1; ; attempt++ {
		err := f.handler(ctx, a)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		f.metrics.handlerErrors.Inc()
		wait := retry.next()
		f.log.Warn("follow: handler failed; retrying the same value", "region", a.Region, "epoch", a.Epoch,
			"attempt", attempt, "retry_in", wait, "err", err)
		if !sleep(ctx, wait) {
			return false
		}
	}
}
