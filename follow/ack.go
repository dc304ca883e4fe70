package follow

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// acker owns this instance's ack lease and remembers which epoch it acked under it.
type acker struct {
	f     *Follower
	lease clientv3.LeaseID
	acked int64 // epoch written under lease; 0 = none
}

// ackLoop keeps AckKey(AckPrefix, Instance) equal to the applied epoch, attached to a lease it keeps alive. If the
// lease expired (etcd did not hear from us for LeaseTTL, so the ack vanished), it acks again under a new lease.
// When ctx ends it revokes the lease: a stopped instance's ack disappears at once instead of after LeaseTTL.
func (f *Follower) ackLoop(ctx context.Context) {
	k := &acker{f: f}
	tick := time.NewTicker(f.confirmEvery)
	defer tick.Stop()
	for {
		keepAlive := false
		select {
		case <-ctx.Done():
			k.revoke(ctx)
			return
		case <-f.ackWake:
		case <-tick.C:
			keepAlive = true
		}
		k.sync(ctx, keepAlive)
	}
}

// sync refreshes the lease if asked, then writes the ack if it is missing or behind. Failures wait for the next
// tick: the caller keeps serving meanwhile.
func (k *acker) sync(ctx context.Context, keepAlive bool) {
	f := k.f
	f.mu.Lock()
	a, known := f.applied, f.known
	f.mu.Unlock()
	if !known {
		return
	}
	if k.lease != 0 && keepAlive {
		c, cancel := context.WithTimeout(ctx, f.confirmEvery)
		_, err := f.cfg.Client.KeepAliveOnce(c, k.lease)
		cancel()
		switch {
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			f.log.Warn("follow: the ack lease expired (etcd lost touch with this instance); acking again under a new lease",
				"lease", k.lease, "epoch", k.acked)
			k.lease, k.acked = 0, 0
		case err != nil:
			f.log.Debug("follow: ack lease keepalive failed", "err", err)
			return
		}
	}
	if k.lease != 0 && k.acked == a.Epoch {
		return
	}
	for range 2 { // a second try only after finding the lease gone
		if k.lease == 0 {
			c, cancel := context.WithTimeout(ctx, f.confirmEvery)
			resp, err := f.cfg.Client.Grant(c, int64(f.ttl/time.Second))
			cancel()
			if err != nil {
				f.log.Debug("follow: ack lease grant failed", "err", err)
				return
			}
			k.lease, k.acked = resp.ID, 0
		}
		value, err := json.Marshal(Ack{Instance: f.cfg.Instance, Region: a.Region, Epoch: a.Epoch, Time: time.Now().UTC()})
		if err != nil {
			f.log.Error("follow: encode ack", "err", err)
			return
		}
		c, cancel := context.WithTimeout(ctx, f.confirmEvery)
		_, err = f.cfg.Client.Put(c, AckKey(f.cfg.AckPrefix, f.cfg.Instance), string(value), clientv3.WithLease(k.lease))
		cancel()
		switch {
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			k.lease, k.acked = 0, 0
			continue
		case err != nil:
			f.log.Debug("follow: ack write failed; retrying", "epoch", a.Epoch, "err", err)
			return
		}
		k.acked = a.Epoch
		f.log.Info("follow: acked", "epoch", a.Epoch, "region", a.Region, "ack_key", AckKey(f.cfg.AckPrefix, f.cfg.Instance))
		return
	}
}

// revoke drops the lease, and with it the ack, on a clean stop. If etcd is away the lease simply expires.
func (k *acker) revoke(ctx context.Context) {
	if k.lease == 0 {
		return
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(time.Second, k.f.confirmEvery))
	defer cancel()
	if _, err := k.f.cfg.Client.Revoke(c, k.lease); err != nil {
		k.f.log.Info("follow: could not revoke the ack lease on stop; the ack expires with it", "err", err)
	}
}
