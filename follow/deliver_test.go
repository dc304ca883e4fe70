package follow

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// calls records the epoch of every handler call, in call order, when the call starts.
type calls struct {
	mu     sync.Mutex
	epochs []int64
}

// start records a call for epoch and returns how many calls epoch has had, this one included.
func (c *calls) start(epoch int64) int {
	c.mu.Lock()
	c.epochs = append(c.epochs, epoch)
	c.mu.Unlock()
	return c.count(epoch)
}

func (c *calls) count(epoch int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.epochs {
		if e == epoch {
			n++
		}
	}
	return n
}

// after returns the epochs called after the first call for epoch.
func (c *calls) after(epoch int64) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(c.epochs, epoch); i >= 0 {
		return slices.Clone(c.epochs[i+1:])
	}
	return nil
}

// The rollback case: east 1 → west 2, whose handler keeps failing → east 3. Epoch 3 supersedes epoch 2: it is
// applied and acked, epoch 2 is never acked nor retried again. Two shapes of failing retry: one that fails at once
// (superseded during the backoff wait) and one that hangs until its context is cancelled (superseded in flight).
func TestNewerEpochSupersedesAFailingOne(t *testing.T) {
	for _, tc := range []struct {
		name  string
		retry func(ctx context.Context) error // the handler's answer to epoch 2 after its first failure
	}{
		{"retry fails at once", func(context.Context) error { return errors.New("west is not ready") }},
		{"retry hangs until cancelled", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMember(t)
			cli := newClient(t, m.addr())
			var log calls
			rec := &recorder{}
			f := startFollower(t, Config{Client: newClient(t, m.addr()), Instance: "pod-1"}, func(ctx context.Context, a Active) error {
				n := log.start(a.Epoch)
				switch {
				case a.Epoch == 2 && n == 1:
					return errors.New("west is not ready")
				case a.Epoch == 2:
					return tc.retry(ctx)
				}
				return rec.handle(ctx, a)
			})
			f.waitWatching(t)

			since := putActive(t, cli, "east", 1)
			eventually(t, waitLonger, "epoch 1 acked", func() bool { return ackedEpoch(t, cli, "pod-1") == 1 })
			putActive(t, cli, "west", 2)
			eventually(t, waitLonger, "the handler retries epoch 2", func() bool { return log.count(2) >= 2 })
			if e := ackedEpoch(t, cli, "pod-1"); e != 1 {
				t.Fatalf("ack = epoch %d while the handler refuses 2, want 1", e)
			}

			putActive(t, cli, "east", 3)
			took := eventually(t, waitLonger, "epoch 3 (the rollback) acked while epoch 2 still fails", func() bool {
				return ackedEpoch(t, cli, "pod-1") == 3
			})
			t.Logf("epoch 3 acked %s after it was written; epoch 2 was called %d times", took.Round(time.Millisecond), log.count(2))

			a, st := f.Current()
			if a.Epoch != 3 || a.Region != "east" || !st.Known || st.Stale {
				t.Fatalf("Current = %+v %+v, want epoch 3 east, known, fresh", a, st)
			}
			if got := f.metric(t, "follow_superseded_epochs_total"); got != 1 {
				t.Errorf("follow_superseded_epochs_total = %v, want 1 (epoch 2)", got)
			}
			f.stop() // every handler call has returned: the call log is final
			if got := rec.epochs(); !slices.Equal(got, []int64{1, 3}) {
				t.Errorf("applied epochs %v, want [1 3]", got)
			}
			if got := log.after(3); slices.Contains(got, 2) {
				t.Errorf("epoch 2 was retried after epoch 3 superseded it: calls after 3: %v", got)
			}
			if got := ackHistory(t, cli, "pod-1", since); !slices.Equal(got, []int64{1, 3}) {
				t.Errorf("acks written %v, want [1 3]: a superseded epoch is never acked", got)
			}
		})
	}
}

// Epochs that queue up behind a failing one are skipped with it: only the newest is delivered.
func TestSupersedeSkipsToTheNewestEpoch(t *testing.T) {
	m := startMember(t)
	cli := newClient(t, m.addr())
	release := make(chan struct{})
	var log calls
	rec := &recorder{}
	f := startFollower(t, Config{Client: newClient(t, m.addr()), Instance: "pod-1"}, func(ctx context.Context, a Active) error {
		n := log.start(a.Epoch)
		switch {
		case a.Epoch == 2 && n == 1:
			return errors.New("west is not ready")
		case a.Epoch == 2:
			<-release // a retry that ignores its context, then fails: epochs 3..5 queue up meanwhile
			return errors.New("west is still not ready")
		}
		return rec.handle(ctx, a)
	})
	f.waitWatching(t)

	since := putActive(t, cli, "east", 1)
	eventually(t, waitLonger, "epoch 1 acked", func() bool { return ackedEpoch(t, cli, "pod-1") == 1 })
	putActive(t, cli, "west", 2)
	eventually(t, waitLonger, "the handler retries epoch 2", func() bool { return log.count(2) >= 2 })
	for e := int64(3); e <= 5; e++ {
		putActive(t, cli, []string{"east", "west"}[e%2], e)
	}
	eventually(t, waitLonger, "the follower saw epoch 5", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.seen.Epoch == 5
	})
	close(release)
	eventually(t, waitLonger, "epoch 5 acked", func() bool { return ackedEpoch(t, cli, "pod-1") == 5 })

	f.stop()
	if got := rec.epochs(); !slices.Equal(got, []int64{1, 5}) {
		t.Errorf("applied epochs %v, want [1 5]: 3 and 4 were superseded along with 2", got)
	}
	if log.count(3) != 0 || log.count(4) != 0 {
		t.Errorf("handler calls %v: the skipped epochs 3 and 4 must never reach the handler", log.after(1))
	}
	if got := f.metric(t, "follow_superseded_epochs_total"); got != 3 {
		t.Errorf("follow_superseded_epochs_total = %v, want 3 (epochs 2, 3 and 4)", got)
	}
	if got := ackHistory(t, cli, "pod-1", since); !slices.Equal(got, []int64{1, 5}) {
		t.Errorf("acks written %v, want [1 5]", got)
	}
}

// Without a newer epoch, a handler that fails a few times is retried until it succeeds, then acked: superseding
// never drops the only value there is.
func TestFailingHandlerRetriedUntilItSucceeds(t *testing.T) {
	m := startMember(t)
	cli := newClient(t, m.addr())
	rec := &recorder{fail: func(a Active, calls int) error {
		if a.Epoch == 2 && calls <= 3 {
			return errors.New("west is not ready yet")
		}
		return nil
	}}
	f := startFollower(t, Config{Client: newClient(t, m.addr()), Instance: "pod-1"}, rec.handle)
	f.waitWatching(t)

	since := putActive(t, cli, "east", 1)
	eventually(t, waitLonger, "epoch 1 acked", func() bool { return ackedEpoch(t, cli, "pod-1") == 1 })
	putActive(t, cli, "west", 2)
	took := eventually(t, waitLonger, "epoch 2 acked after 3 failures", func() bool { return ackedEpoch(t, cli, "pod-1") == 2 })
	t.Logf("epoch 2 acked %s after it was written (3 failures, backoff from 50ms)", took.Round(time.Millisecond))
	putActive(t, cli, "east", 3)
	eventually(t, waitLonger, "epoch 3 acked", func() bool { return ackedEpoch(t, cli, "pod-1") == 3 })

	if got := rec.epochs(); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("applied epochs %v, want [1 2 3]", got)
	}
	if got := rec.calls(2); got != 4 {
		t.Errorf("epoch 2 handler calls = %d, want 4 (3 failures, then success)", got)
	}
	if got := f.metric(t, "follow_handler_errors_total"); got != 3 {
		t.Errorf("follow_handler_errors_total = %v, want 3", got)
	}
	if got := f.metric(t, "follow_superseded_epochs_total"); got != 0 {
		t.Errorf("follow_superseded_epochs_total = %v, want 0", got)
	}
	if got := ackHistory(t, cli, "pod-1", since); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("acks written %v, want [1 2 3]", got)
	}
}
