package follow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
)

// errCompacted means the watch cannot resume: the history after the last seen revision is gone.
var errCompacted = errors.New("history compacted past the last seen revision")

// watchLoop reads the key once, then watches it from the last processed revision. The loop owns lastRev: every
// event at or below it has been processed, so a resumed watch neither misses nor repeats a transition. It returns
// only when ctx is done.
func (f *Follower) watchLoop(ctx context.Context) {
	var (
		lastRev   int64
		needRead  = true // first start, or compaction: read the current value
		needProbe bool   // the watch broke: wait until etcd answers before watching again
		watches   int
		retry     = backoff{min: 50 * time.Millisecond, max: f.confirmEvery}
		downSince time.Time
		starting  = true // no read has finished yet
	)
	unreachable := func(what string, err error) {
		if downSince.IsZero() {
			downSince = time.Now()
			f.log.Warn("follow: etcd unreachable; serving the last value", "during", what, "err", err)
		} else {
			f.log.Debug("follow: etcd still unreachable", "during", what, "err", err)
		}
	}
	for ctx.Err() == nil {
		if needRead || needProbe {
			timeout := f.confirmEvery
			if starting {
				timeout = min(timeout, time.Second) // at start, fall back to the cache quickly
			}
			rev, err := f.read(ctx, timeout, needRead)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				unreachable("read", err)
				if starting {
					f.offerCache()
				}
				starting = false
				sleep(ctx, retry.next())
				continue
			}
			starting = false
			if needRead {
				lastRev = rev
			}
			needRead, needProbe = false, false
		}
		err := f.watch(ctx, &lastRev, watches > 0, func() {
			if !downSince.IsZero() {
				f.log.Info("follow: etcd reachable again", "down_for", time.Since(downSince).Round(time.Millisecond))
				downSince = time.Time{}
			}
			retry.reset()
		})
		watches++
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errCompacted):
			f.log.Warn("follow: etcd compacted past the last seen revision; reading the current value (epochs in between are skipped)",
				"last_seen_revision", lastRev)
			needRead = true
		default:
			unreachable("watch", err)
			needProbe = true
			sleep(ctx, retry.next())
		}
	}
}

// read gets the key. With offer it processes the value and returns the read revision (a full resync); without, it
// is only a probe that etcd answers again (a linearizable read, so it needs a quorum).
func (f *Follower) read(ctx context.Context, timeout time.Duration, offer bool) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts := []clientv3.OpOption{}
	if !offer {
		opts = append(opts, clientv3.WithCountOnly())
	}
	resp, err := f.cfg.Client.Get(rctx, f.cfg.Key, opts...)
	if err != nil {
		return 0, err
	}
	if offer {
		if len(resp.Kvs) == 0 {
			f.log.Warn("follow: the active-region key does not exist; waiting for the first cutover")
		} else {
			kv := resp.Kvs[0]
			f.offerValue(kv.Value, kv.ModRevision)
		}
		f.confirmView(time.Now())
	}
	return resp.Header.Revision, nil
}

// watch follows the key from *lastRev until the watch breaks, and returns why. established runs once the watch
// is created. Liveness is proved by a progress notification requested every confirmEvery (LeaseTTL/4): two
// unanswered requests in a row mean the stream is dead even though the channel stays open (the client library
// retries silently and would hide the outage).
func (f *Follower) watch(ctx context.Context, lastRev *int64, reconnect bool, established func()) error {
	// A stream of our own: progress requests then reach only this watcher, and the app's watches are untouched.
	wctx := metadata.AppendToOutgoingContext(ctx, "follow-key", strconv.QuoteToASCII(f.cfg.Key))
	// Without a leader the member's view may be old: have it cancel the watch instead of serving stale progress.
	wctx = clientv3.WithRequireLeader(wctx)
	wctx, cancel := context.WithCancel(wctx)
	defer cancel()

	// Watch blocks until the server creates the watcher; bound that while etcd is away.
	timer := time.AfterFunc(f.confirmEvery, cancel)
	// Start at lastRev itself, not lastRev+1: a watcher that starts past the store revision gets no progress
	// notifications until something is written. An event at lastRev is already processed and is skipped below.
	wch := f.cfg.Client.Watch(wctx, f.cfg.Key,
		clientv3.WithRev(*lastRev), clientv3.WithProgressNotify(), clientv3.WithCreatedNotify())
	if !timer.Stop() {
		return fmt.Errorf("watch not created within %s", f.confirmEvery)
	}
	if reconnect {
		f.metrics.reconnects.Inc()
	}
	established()

	ticker := time.NewTicker(f.confirmEvery)
	defer ticker.Stop()
	unanswered := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case resp, ok := <-wch:
			if !ok {
				return errors.New("watch channel closed")
			}
			if resp.CompactRevision != 0 {
				return errCompacted
			}
			if err := resp.Err(); err != nil {
				return fmt.Errorf("watch canceled: %w", err)
			}
			unanswered = 0
			if resp.Created {
				continue // the watcher may still be catching up: not a confirmation
			}
			for _, ev := range resp.Events {
				if ev.Kv.ModRevision <= *lastRev {
					continue
				}
				if ev.Type == clientv3.EventTypeDelete {
					f.metrics.ignored.WithLabelValues("deleted").Inc()
					f.log.Warn("follow: the active-region key was deleted; keeping the last value", "revision", ev.Kv.ModRevision)
				} else {
					f.offerValue(ev.Kv.Value, ev.Kv.ModRevision)
				}
				*lastRev = ev.Kv.ModRevision
			}
			if resp.IsProgressNotify() && resp.Header.Revision > *lastRev {
				*lastRev = resp.Header.Revision // every event up to here has been sent
			}
			f.confirmView(time.Now())
		case <-ticker.C:
			if unanswered >= 2 {
				return fmt.Errorf("no answer to %d progress requests", unanswered)
			}
			unanswered++
			rctx, rcancel := context.WithTimeout(wctx, f.confirmEvery)
			err := f.cfg.Client.RequestProgress(rctx)
			rcancel()
			if err != nil && ctx.Err() == nil {
				f.log.Debug("follow: progress request failed", "err", err)
			}
		}
	}
}

// offerValue parses a value read from etcd and queues it if it moves the epoch forward.
func (f *Follower) offerValue(raw []byte, revision int64) {
	a, err := ParseActive(raw)
	if err != nil {
		f.metrics.ignored.WithLabelValues("malformed").Inc()
		f.log.Error("follow: ignoring a malformed active-region value; keeping the last good value",
			"revision", revision, "err", err, "value", truncate(raw, 200))
		return
	}
	f.offer(pending{active: a, revision: revision, seenAt: time.Now()})
}

// offerCache queues the cached value when etcd is unreachable at start and nothing newer is known.
func (f *Follower) offerCache() {
	f.mu.Lock()
	c := f.cached
	f.mu.Unlock()
	if c == nil {
		f.log.Warn("follow: no cached value to fall back on; nothing is known until etcd answers")
		return
	}
	f.log.Warn("follow: using the cached value until etcd answers",
		"region", c.Active.Region, "epoch", c.Active.Epoch, "confirmed_at", c.ConfirmedAt)
	f.offer(pending{active: c.Active, fromCache: true, seenAt: c.ConfirmedAt})
}

// offer queues p when its epoch is newer than anything seen. Epochs only move forward: an equal epoch with the
// same region is the value we already have (and, if it came from the cache, now confirms it); anything else is
// reported and dropped.
func (f *Follower) offer(p pending) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := p.active
	switch {
	case !f.haveSeen || a.Epoch > f.seen.Epoch:
		f.pending = append(f.pending, p)
		f.seen, f.haveSeen = a, true
		if f.supersede != nil { // the handler is failing the value ahead: stop retrying it, deliver this one
			f.supersede(ErrSuperseded)
		}
		signal(f.wake)
	case a.Epoch == f.seen.Epoch && a.Region == f.seen.Region:
		if p.fromCache {
			return
		}
		if n := len(f.pending); n > 0 {
			f.pending[n-1].fromCache = false
			f.pending[n-1].revision, f.pending[n-1].seenAt = p.revision, p.seenAt
		} else if f.fromCache {
			f.fromCache = false
			f.log.Info("follow: etcd confirms the cached value", "region", a.Region, "epoch", a.Epoch)
			signal(f.ackWake)
			signal(f.saveWake)
		}
	default:
		f.metrics.ignored.WithLabelValues("old_epoch").Inc()
		f.log.Error("follow: ignoring a value whose epoch does not move forward; write a new, higher epoch",
			"region", a.Region, "epoch", a.Epoch, "revision", p.revision,
			"newest_region", f.seen.Region, "newest_epoch", f.seen.Epoch)
	}
}

// confirmView records that the watch is alive and caught up at t. The applied value is confirmed at t only when
// nothing newer waits for the handler and it is not an unconfirmed cached value.
func (f *Follower) confirmView(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.viewAt = t
	if f.known && !f.fromCache && len(f.pending) == 0 {
		f.confirmedAt = t
	}
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
