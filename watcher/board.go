package watcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultLeaseTTL is how long a watcher's verdicts outlive its last contact with etcd.
const DefaultLeaseTTL = 3 * time.Second

// DefaultBoardPrefix is where watchers record their verdicts in etcd: <prefix>/<service>/<region>/<observer>.
const DefaultBoardPrefix = "/failover/watch"

// Record is one watcher's verdict on one region as it stands in etcd.
type Record struct {
	Observer string    `json:"observer"`
	Verdict  Verdict   `json:"verdict"`
	Since    time.Time `json:"since"`
	At       time.Time `json:"at"`
}

// Board is where the watchers of several front doors (replicas, places) record their verdicts for each other, each
// under its own lease: a watcher that dies or is cut off from etcd loses its records within the lease's TTL, so it
// is never counted as agreeing. It also tells its own watcher whether etcd is reachable: one that is not is cut
// off and starts nothing.
type Board struct {
	cli      *clientv3.Client
	prefix   string
	observer string
	ttl      time.Duration

	mu      sync.Mutex // held across etcd calls (lease and records)
	lease   clientv3.LeaseID
	records map[string]Record // key → this observer's current records, rewritten under a new lease

	// health is never held across an etcd call, so Reachable answers at once while etcd hangs (the watcher's loop
	// asks it every round).
	health  sync.Mutex
	lastOK  time.Time
	lastErr error
}

// NewBoard records verdicts as observer under prefix (DefaultBoardPrefix if empty) with leases of ttl (whole
// seconds, at least 2s).
func NewBoard(cli *clientv3.Client, prefix, observer string, ttl time.Duration) (*Board, error) {
	switch {
	case cli == nil:
		return nil, errors.New("watcher board: no etcd client")
	case observer == "":
		return nil, errors.New("watcher board: empty observer name: give each watcher its own (--watcher-id)")
	}
	if prefix == "" {
		prefix = DefaultBoardPrefix
	}
	ttl = max(ttl.Round(time.Second), 2*time.Second)
	return &Board{cli: cli, prefix: prefix, observer: observer, ttl: ttl, records: map[string]Record{}}, nil
}

func (b *Board) key(service, region, observer string) string {
	return path.Join(b.prefix, service, region, observer)
}

// Put records this watcher's verdict on a region, under its lease (granted again when it expired).
func (b *Board) Put(ctx context.Context, service, region string, r Record) error {
	r.Observer = b.observer
	key := b.key(service, region, b.observer)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.records[key] = r
	return b.note(b.put(ctx, key, r))
}

func (b *Board) put(ctx context.Context, key string, r Record) error {
	if b.lease == 0 {
		if err := b.grant(ctx); err != nil {
			return err
		}
	}
	v, _ := json.Marshal(r)
	_, err := b.cli.Put(ctx, key, string(v), clientv3.WithLease(b.lease))
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		b.lease = 0 // expired while we were cut off: our other records are gone too
		if err = b.grant(ctx); err == nil {
			_, err = b.cli.Put(ctx, key, string(v), clientv3.WithLease(b.lease))
		}
	}
	if err != nil {
		return fmt.Errorf("record %s in etcd: %w", key, err)
	}
	return nil
}

// grant takes a new lease and writes every current record under it.
func (b *Board) grant(ctx context.Context) error {
	l, err := b.cli.Grant(ctx, int64(b.ttl/time.Second))
	if err != nil {
		return fmt.Errorf("etcd lease: %w", err)
	}
	b.lease = l.ID
	for key, r := range b.records {
		v, _ := json.Marshal(r)
		if _, err := b.cli.Put(ctx, key, string(v), clientv3.WithLease(b.lease)); err != nil {
			return fmt.Errorf("record %s in etcd: %w", key, err)
		}
	}
	return nil
}

// KeepAlive renews the lease once; call it well within the TTL (Run does, every TTL/3).
func (b *Board) KeepAlive(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lease == 0 {
		return b.note(b.grant(ctx))
	}
	_, err := b.cli.KeepAliveOnce(ctx, b.lease)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		b.lease = 0
		err = b.grant(ctx)
	}
	return b.note(err)
}

func (b *Board) note(err error) error {
	b.health.Lock()
	defer b.health.Unlock()
	if err == nil {
		b.lastOK, b.lastErr = time.Now(), nil
	} else {
		b.lastErr = err
	}
	return err
}

// Run keeps the lease alive until ctx ends.
func (b *Board) Run(ctx context.Context) {
	tick := time.NewTicker(b.ttl / 3)
	defer tick.Stop()
	for {
		kctx, cancel := context.WithTimeout(ctx, b.ttl/3)
		_ = b.KeepAlive(kctx)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Reachable returns nil while etcd answered this watcher within the lease's TTL (its records still stand),
// else why not.
func (b *Board) Reachable() error {
	b.health.Lock()
	defer b.health.Unlock()
	if !b.lastOK.IsZero() && time.Since(b.lastOK) < b.ttl {
		return nil
	}
	if b.lastErr != nil {
		return fmt.Errorf("etcd unreachable for %s: %w", b.ttl, b.lastErr)
	}
	return errors.New("etcd not reached yet")
}

// Verdicts reads every watcher's live record on a region.
func (b *Board) Verdicts(ctx context.Context, service, region string) ([]Record, error) {
	resp, err := b.cli.Get(ctx, b.key(service, region, "")+"/", clientv3.WithPrefix())
	if err != nil {
		b.note(err)
		return nil, fmt.Errorf("read verdicts on %s/%s: %w", service, region, err)
	}
	var out []Record
	for _, kv := range resp.Kvs {
		var r Record
		if json.Unmarshal(kv.Value, &r) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// Observer is this watcher's name on the board.
func (b *Board) Observer() string { return b.observer }
