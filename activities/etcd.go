package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.temporal.io/sdk/temporal"

	"github.com/failover/failover/follow"
)

// ActiveState is the active-region key as read, with the revision a later cutover is fenced on.
type ActiveState struct {
	Exists      bool          `json:"exists"`
	Value       follow.Active `json:"value"`
	ModRevision int64         `json:"mod_revision"`
}

// ReadActive reads a service's active-region key.
func (a *Activities) ReadActive(ctx context.Context, key string) (ActiveState, error) {
	resp, err := a.Etcd.Get(ctx, key)
	if err != nil {
		return ActiveState{}, fmt.Errorf("read %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return ActiveState{}, nil
	}
	kv := resp.Kvs[0]
	v, err := follow.ParseActive(kv.Value)
	if err != nil {
		return ActiveState{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s holds a bad value (fix or delete it by hand): %v", key, err), ErrBadInput, nil)
	}
	return ActiveState{Exists: true, Value: v, ModRevision: kv.ModRevision}, nil
}

// CutoverInput moves the active-region key to Region, fenced on what readiness read.
type CutoverInput struct {
	Key string
	// Expected is the key as readiness saw it; the write happens only if nobody changed it since.
	Expected   ActiveState
	Region     string
	WorkflowID string
	RunID      string
	// AckPrefix is where the service's consumers ack epochs. When the key does not exist (first failover, or
	// deleted by hand), the new epoch starts above every ack found there: consumers ignore an epoch lower than the
	// one they acked, and an old ack must not count for the new epoch.
	AckPrefix string
}

// CutoverResult is the value written and its revision.
type CutoverResult struct {
	Value          follow.Active `json:"value"`
	Revision       int64         `json:"revision"`
	AlreadyApplied bool          `json:"already_applied,omitempty"`
}

// Cutover writes {region, epoch+1, workflow, time, previous} in one transaction that compares the key's
// ModRevision with the expected one (fencing). A retry that finds its own write already there succeeds; any
// other change is a non-retryable Fenced error naming who changed it.
func (a *Activities) Cutover(ctx context.Context, in CutoverInput) (CutoverResult, error) {
	next := follow.Active{Region: in.Region, Epoch: 1, WorkflowID: in.WorkflowID, RunID: in.RunID, Time: time.Now().UTC()}
	guard := clientv3.Compare(clientv3.CreateRevision(in.Key), "=", 0)
	if !in.Expected.Exists && in.AckPrefix != "" {
		acked, err := a.highestAck(ctx, in.AckPrefix)
		if err != nil {
			return CutoverResult{}, fmt.Errorf("cutover %s: %w", in.Key, err)
		}
		next.Epoch = acked + 1
	}
	if in.Expected.Exists {
		next.Epoch = in.Expected.Value.Epoch + 1
		next.Previous = &follow.Previous{Region: in.Expected.Value.Region, Epoch: in.Expected.Value.Epoch}
		guard = clientv3.Compare(clientv3.ModRevision(in.Key), "=", in.Expected.ModRevision)
	}
	b, err := json.Marshal(next)
	if err != nil {
		return CutoverResult{}, fmt.Errorf("cutover %s: encode: %w", in.Key, err)
	}
	resp, err := a.Etcd.Txn(ctx).If(guard).Then(clientv3.OpPut(in.Key, string(b))).Else(clientv3.OpGet(in.Key)).Commit()
	if err != nil {
		return CutoverResult{}, fmt.Errorf("cutover %s: %w", in.Key, err)
	}
	if resp.Succeeded {
		a.logger().Info("cutover written", "key", in.Key, "region", next.Region, "epoch", next.Epoch, "revision", resp.Header.Revision)
		return CutoverResult{Value: next, Revision: resp.Header.Revision}, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return CutoverResult{}, fenced("cutover %s: the key was deleted since readiness read revision %d", in.Key, in.Expected.ModRevision)
	}
	cur, err := follow.ParseActive(kvs[0].Value)
	if err != nil {
		return CutoverResult{}, fenced("cutover %s: the key changed since readiness and now holds a bad value: %v", in.Key, err)
	}
	// Our own write, found by a retry. On a key that did not exist, the acks may have moved on since: the run ID
	// (unique) identifies the write.
	if cur.RunID == in.RunID && cur.Region == in.Region && (cur.Epoch == next.Epoch || !in.Expected.Exists) {
		return CutoverResult{Value: cur, Revision: kvs[0].ModRevision, AlreadyApplied: true}, nil
	}
	return CutoverResult{}, fenced("cutover %s: changed by someone else since revision %d: now region=%s epoch=%d (workflow %q, revision %d)",
		in.Key, in.Expected.ModRevision, cur.Region, cur.Epoch, cur.WorkflowID, kvs[0].ModRevision)
}

// highestAck is the highest epoch any consumer acked under prefix, 0 when none did.
func (a *Activities) highestAck(ctx context.Context, prefix string) (int64, error) {
	resp, err := a.Etcd.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("read acks under %s: %w", prefix, err)
	}
	var highest int64
	for _, kv := range resp.Kvs {
		if ack, err := follow.ParseAck(kv.Value); err == nil && ack.Epoch > highest {
			highest = ack.Epoch
		}
	}
	return highest, nil
}

func fenced(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrFenced, nil)
}

// WaitAcksInput waits until consumers acked Epoch.
type WaitAcksInput struct {
	AckPrefix string
	Epoch     int64
	Required  []string
	MinAcks   int
	Timeout   time.Duration
}

// WaitAcksResult lists who acked.
type WaitAcksResult struct {
	Acked []string
}

// WaitAcks reads the acks under the prefix, then watches from that revision until every required consumer and at
// least MinAcks instances acked Epoch (or a later one), or Timeout passes (non-retryable AcksTimeout). It
// heartbeats the number of acks throughout: the wait can last the whole Timeout without a single event.
func (a *Activities) WaitAcks(ctx context.Context, in WaitAcksInput) (WaitAcksResult, error) {
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	acked := map[string]bool{}
	var count atomic.Int64
	defer keepAlive(ctx, func() any { return count.Load() })()
	record := func(value []byte) {
		if ack, err := follow.ParseAck(value); err == nil && ack.Epoch >= in.Epoch {
			acked[ack.Instance] = true
			count.Store(int64(len(acked)))
		}
	}
	// Watch from "now" first, then read: a watch that starts at a past revision is served by etcd's catch-up
	// loop, which adds up to 100 ms; consumers often ack within a millisecond of the cutover.
	wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer wcancel()
	events := a.Etcd.Watch(wctx, in.AckPrefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	select {
	case w, ok := <-events:
		if !ok || w.Err() != nil || !w.Created {
			return WaitAcksResult{}, fmt.Errorf("watch acks under %s: %v", in.AckPrefix, w.Err())
		}
	case <-ctx.Done():
		return WaitAcksResult{}, fmt.Errorf("watch acks under %s: %w", in.AckPrefix, ctx.Err())
	}
	resp, err := a.Etcd.Get(ctx, in.AckPrefix, clientv3.WithPrefix())
	if err != nil {
		return WaitAcksResult{}, fmt.Errorf("read acks under %s: %w", in.AckPrefix, err)
	}
	for _, kv := range resp.Kvs {
		record(kv.Value)
	}
	if missing := missingAcks(acked, in); missing == "" {
		return WaitAcksResult{Acked: slices.Sorted(maps.Keys(acked))}, nil
	}
	for {
		select {
		case <-ctx.Done():
			return WaitAcksResult{Acked: slices.Sorted(maps.Keys(acked))}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("acks for epoch %d under %s: still %s after %s", in.Epoch, in.AckPrefix, missingAcks(acked, in), in.Timeout),
				ErrAcksTimeout, nil)
		case w, ok := <-events:
			if !ok || w.Err() != nil {
				return WaitAcksResult{}, fmt.Errorf("watch acks under %s: %v", in.AckPrefix, w.Err())
			}
			for _, ev := range w.Events {
				if ev.Type == clientv3.EventTypePut {
					record(ev.Kv.Value)
				}
			}
			if missingAcks(acked, in) == "" {
				return WaitAcksResult{Acked: slices.Sorted(maps.Keys(acked))}, nil
			}
		}
	}
}

// missingAcks describes what is still missing, or "".
func missingAcks(acked map[string]bool, in WaitAcksInput) string {
	var missing []string
	for _, c := range in.Required {
		if !acked[c] {
			missing = append(missing, c)
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Sprintf("missing acks from %v", missing)
	case len(acked) < in.MinAcks:
		return fmt.Sprintf("%d of %d acks", len(acked), in.MinAcks)
	}
	return ""
}
