package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/failover/failover/follow"
)

// RestoreInput undoes one run's cutover of an active-region key.
type RestoreInput struct {
	Key string
	// Original is the key as readiness read it, before the cutover.
	Original ActiveState
	// Region is where the key goes back to: the failover's source region.
	Region string
	// CutRegion is the region the cutover wrote (the failover's target).
	CutRegion  string
	WorkflowID string
	RunID      string
}

// RestoreResult says what the restore found and did.
type RestoreResult struct {
	// Changed is false when the cutover never reached etcd (nothing to undo) or a previous attempt already
	// restored the key.
	Changed  bool          `json:"changed"`
	Value    follow.Active `json:"value"`
	Revision int64         `json:"revision"`
	Detail   string        `json:"detail"`
}

// RestoreActive converges the key back to Region after this run's cutover, whatever happened to the cutover:
//   - the key holds this run's cutover value: write Region with the next epoch, fenced on that revision (consumers
//     only follow epochs forward, so a first-ever cutover is undone by a new epoch too, never by a delete);
//   - the key holds this run's restore already (a retry): done;
//   - the key is exactly as readiness read it (the cutover never happened): nothing to undo;
//   - anything else (someone else wrote or deleted it): non-retryable Fenced naming what is there.
func (a *Activities) RestoreActive(ctx context.Context, in RestoreInput) (RestoreResult, error) {
	resp, err := a.Etcd.Get(ctx, in.Key)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("restore %s: read: %w", in.Key, err)
	}
	if len(resp.Kvs) == 0 {
		if !in.Original.Exists {
			return RestoreResult{Detail: fmt.Sprintf("%s is still absent: the cutover never wrote it", in.Key)}, nil
		}
		return RestoreResult{}, fenced("restore %s: the key was deleted by someone else since readiness read revision %d; "+
			"write it back by hand", in.Key, in.Original.ModRevision)
	}
	kv := resp.Kvs[0]
	if in.Original.Exists && kv.ModRevision == in.Original.ModRevision {
		return RestoreResult{Value: in.Original.Value, Revision: kv.ModRevision,
			Detail: fmt.Sprintf("%s unchanged at revision %d: the cutover never wrote it", in.Key, kv.ModRevision)}, nil
	}
	cur, err := follow.ParseActive(kv.Value)
	if err != nil {
		return RestoreResult{}, fenced("restore %s: the key now holds a bad value (fix it by hand): %v", in.Key, err)
	}
	ours := cur.RunID == in.RunID && cur.WorkflowID == in.WorkflowID
	switch {
	case ours && cur.Region == in.Region:
		return RestoreResult{Value: cur, Revision: kv.ModRevision,
			Detail: fmt.Sprintf("%s already restored to %s at epoch %d", in.Key, cur.Region, cur.Epoch)}, nil
	case !ours || cur.Region != in.CutRegion:
		return RestoreResult{}, fenced("restore %s: changed by someone else since our cutover: now region=%s epoch=%d (workflow %q, revision %d); "+
			"nothing was restored", in.Key, cur.Region, cur.Epoch, cur.WorkflowID, kv.ModRevision)
	}
	next := follow.Active{Region: in.Region, Epoch: cur.Epoch + 1, WorkflowID: in.WorkflowID, RunID: in.RunID, Time: time.Now().UTC(),
		Previous: &follow.Previous{Region: cur.Region, Epoch: cur.Epoch}}
	b, err := json.Marshal(next)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("restore %s: encode: %w", in.Key, err)
	}
	txn, err := a.Etcd.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(in.Key), "=", kv.ModRevision)).
		Then(clientv3.OpPut(in.Key, string(b))).Commit()
	if err != nil {
		return RestoreResult{}, fmt.Errorf("restore %s: %w", in.Key, err)
	}
	if !txn.Succeeded {
		// Someone wrote between our read and our write; the retry reads again and decides again.
		return RestoreResult{}, fmt.Errorf("restore %s: the key changed during the restore (revision %d); reading again", in.Key, kv.ModRevision)
	}
	a.logger().Info("active key restored", "key", in.Key, "region", next.Region, "epoch", next.Epoch, "revision", txn.Header.Revision)
	return RestoreResult{Changed: true, Value: next, Revision: txn.Header.Revision,
		Detail: fmt.Sprintf("%s restored to %s at epoch %d (revision %d)", in.Key, next.Region, next.Epoch, txn.Header.Revision)}, nil
}
