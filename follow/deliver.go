package follow

import (
	"context"
	"errors"
	"time"
)

// ErrSuperseded is the cause (context.Cause) of a Handler's context cancelled because a newer epoch arrived while
// the handler was failing: the value it was given will not be retried or acked.
var ErrSuperseded = errors.New("follow: superseded by a newer epoch")

// deliverLoop hands queued values to the handler one at a time, oldest first, and records each as applied only
// after the handler succeeds. A value whose handler keeps failing is dropped, unacked, as soon as a newer value is
// queued: otherwise it would hold back every later epoch, the rollback that undoes it included. It runs apart from
// the watch so a slow or failing handler never stalls the watch (which must keep answering progress requests to
// stay confirmed).
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

			switch err := f.apply(ctx, next); {
			case err == nil:
				f.markApplied()
			case errors.Is(err, ErrSuperseded):
				f.dropSuperseded()
			default: // ctx ended
				return
			}
		}
	}
}

// apply runs the handler until it succeeds (nil), until a newer value supersedes a (ErrSuperseded), or until ctx
// ends (its error). The first call is never superseded, so a working handler sees every epoch in order; once it
// has failed, a newer value cancels the retry context, which ends the backoff wait or the call in flight.
func (f *Follower) apply(ctx context.Context, a Active) error {
	if f.handler == nil {
		return nil
	}
	err := f.handler(ctx, a)
	if err == nil {
		return nil
	}
	retryCtx, stop := f.retryContext(ctx)
	defer stop()
	retry := backoff{min: 50 * time.Millisecond, max: min(5*time.Second, f.ttl)}
	for attempt := 1; ; attempt++ { // err is the handler's latest failure
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.metrics.handlerErrors.Inc()
		if errors.Is(context.Cause(retryCtx), ErrSuperseded) {
			f.log.Warn("follow: handler failed; a newer epoch supersedes this one", "region", a.Region, "epoch", a.Epoch,
				"attempt", attempt, "err", err)
			return ErrSuperseded
		}
		wait := retry.next()
		f.log.Warn("follow: handler failed; retrying the same value", "region", a.Region, "epoch", a.Epoch,
			"attempt", attempt, "retry_in", wait, "err", err)
		if !sleep(retryCtx, wait) {
			return context.Cause(retryCtx) // superseded while waiting, or ctx ended
		}
		if err = f.handler(retryCtx, a); err == nil {
			return nil
		}
	}
}

// retryContext is the context for retrying the value at the head of the queue: offer cancels it with
// ErrSuperseded when it queues a newer value, and it starts cancelled if one is queued already.
func (f *Follower) retryContext(ctx context.Context) (context.Context, func()) {
	retryCtx, cancel := context.WithCancelCause(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pending) > 1 {
		cancel(ErrSuperseded)
	}
	f.supersede = cancel
	return retryCtx, func() {
		f.mu.Lock()
		f.supersede = nil
		f.mu.Unlock()
		cancel(nil)
	}
}

// markApplied records the head of the queue as applied, and wakes the ack and cache loops.
func (f *Follower) markApplied() {
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

// dropSuperseded drops the failing head of the queue and every value queued after it but the newest, which is
// delivered next: only the latest value matters, and the dropped ones are never applied or acked.
func (f *Follower) dropSuperseded() {
	f.mu.Lock()
	last := len(f.pending) - 1
	failing, newest := f.pending[0].active, f.pending[last].active
	var skipped []int64
	for _, p := range f.pending[1:last] {
		skipped = append(skipped, p.active.Epoch)
	}
	f.pending = f.pending[last:]
	f.mu.Unlock()

	f.metrics.superseded.Add(float64(last))
	f.log.Warn("follow: a newer epoch supersedes one whose handler kept failing; that one is dropped and never acked",
		"region", failing.Region, "epoch", failing.Epoch, "skipped_epochs", skipped,
		"next_region", newest.Region, "next_epoch", newest.Epoch)
}
