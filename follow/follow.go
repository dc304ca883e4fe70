package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultLeaseTTL is the ack lease TTL when Config.LeaseTTL is zero.
const DefaultLeaseTTL = 10 * time.Second

// Config says which key to follow and where to ack. Client, Key, AckPrefix and Instance are required.
type Config struct {
	// Client is the caller's etcd client; the Follower never closes it. Set DialKeepAliveTime on it so a half-open
	// connection is noticed, and a short gRPC reconnect backoff so a restarted etcd is found quickly (see the
	// package example).
	Client *clientv3.Client
	// Key is the service's active-region key, e.g. /failover/payments/active.
	Key string
	// AckPrefix is where acks go: AckKey(AckPrefix, Instance). It ends in "/", e.g. /failover/payments/acks/.
	AckPrefix string
	// Instance names this instance in its ack key and value; one path segment, unique among the service's instances.
	Instance string
	// CacheFile, when set, keeps the last confirmed value on disk so a start while etcd is down still has one.
	CacheFile string
	// LeaseTTL is the ack lease TTL (whole seconds, at least 1s; default 10s). It also sets the pace: the watch is
	// confirmed every LeaseTTL/4 and the value counts as stale once unconfirmed for LeaseTTL.
	LeaseTTL time.Duration
	// Logger receives transitions, outages and rejected values; nil means slog.Default().
	Logger *slog.Logger
	// Registerer, when set, gets the follow_* metrics, each with a constant label key=<Key>.
	Registerer prometheus.Registerer
}

// Handler applies a new active value. It is called for each new epoch, in epoch order, never concurrently; inside
// it, Current still returns the previous value. An error means "not applied": no ack is written, and the same value
// is retried with backoff until the handler succeeds or a newer epoch supersedes it. A newer epoch supersedes a
// failing one: ctx is cancelled with context.Cause(ctx) == ErrSuperseded, the failing value is dropped for good
// (never retried, never acked), and the newest value is delivered next, skipping any queued in between. The first
// call for an epoch is not cancelled this way, so a working handler sees every epoch; bound its work with a timeout,
// since a call that never returns holds back every later epoch.
type Handler func(ctx context.Context, a Active) error

// State describes the value Current returns.
type State struct {
	// Known is false until a value has been applied (from etcd, or from the cache file when etcd is down at start).
	Known bool
	// FromCache is true while the value came from CacheFile and etcd has not yet confirmed it.
	FromCache bool
	// Stale is true when etcd has not confirmed the value within LeaseTTL: etcd is unreachable, the value came from
	// the cache, or a newer value is still waiting for the handler. Unknown values are stale too.
	Stale bool
	// ConfirmedAt is when etcd last confirmed the value is current (for a cached value: when the previous run did).
	ConfirmedAt time.Time
}

// Follower follows one active-region key; build it with New and start it with Run.
type Follower struct {
	cfg          Config
	handler      Handler
	log          *slog.Logger
	ttl          time.Duration // lease TTL, whole seconds
	confirmEvery time.Duration // how often the watch must prove it is alive and current
	started      time.Time
	metrics      *metrics
	running      atomic.Bool

	wake     chan struct{} // pending grew
	ackWake  chan struct{} // applied changed
	saveWake chan struct{} // the applied value is confirmed by etcd: rewrite the cache file

	mu          sync.Mutex
	cached      *cacheEntry             // loaded by New; offered when etcd is down at start
	pending     []pending               // seen, newer than applied, not yet applied; strictly increasing epochs
	supersede   context.CancelCauseFunc // set while the handler fails pending[0]: cancels its retries
	seen        Active                  // newest good value seen (pending tail, or applied)
	haveSeen    bool
	applied     Active
	appliedRev  int64
	known       bool
	fromCache   bool
	confirmedAt time.Time
	viewAt      time.Time // when the watch last proved it was alive and caught up
}

// pending is a value waiting for the handler.
type pending struct {
	active    Active
	revision  int64 // etcd ModRevision; 0 for a cached value
	fromCache bool
	seenAt    time.Time // when etcd showed it (for a cached value: when the previous run confirmed it)
}

// New checks cfg, loads the cache file if there is one, and registers metrics. It does not contact etcd.
// A nil handler is allowed: the Follower then only tracks and acks, and the service reads Current.
func New(cfg Config, h Handler) (*Follower, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ttl := cfg.LeaseTTL.Round(time.Second)
	if ttl < cfg.LeaseTTL {
		ttl += time.Second
	}
	f := &Follower{
		cfg:          cfg,
		handler:      h,
		log:          cfg.Logger.With("key", cfg.Key, "instance", cfg.Instance),
		ttl:          ttl,
		confirmEvery: ttl / 4,
		started:      time.Now(),
		wake:         make(chan struct{}, 1),
		ackWake:      make(chan struct{}, 1),
		saveWake:     make(chan struct{}, 1),
	}
	if cfg.CacheFile != "" {
		c, err := readCache(cfg.CacheFile, cfg.Key)
		switch {
		case err != nil:
			f.log.Warn("follow: ignoring the cache file", "file", cfg.CacheFile, "err", err)
		case c != nil:
			f.cached = c
		}
	}
	m, err := newMetrics(f, cfg.Registerer)
	if err != nil {
		return nil, err
	}
	f.metrics = m
	return f, nil
}

func (c Config) validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.Client == nil {
		bad("Client is nil: pass a *clientv3.Client connected to the etcd that holds the active-region key")
	}
	if !strings.HasPrefix(c.Key, "/") {
		bad("Key %q: give the absolute active-region key, e.g. /failover/payments/active", c.Key)
	}
	if !strings.HasSuffix(c.AckPrefix, "/") {
		bad("AckPrefix %q: give the ack prefix ending in /, e.g. /failover/payments/acks/", c.AckPrefix)
	}
	if c.AckPrefix != "" && c.AckPrefix == c.Key {
		bad("AckPrefix %q is the Key: acks need their own prefix", c.AckPrefix)
	}
	if c.Instance == "" || strings.ContainsAny(c.Instance, "/ \t\n") {
		bad("Instance %q: give this instance a unique name without / or spaces, e.g. the pod or host name", c.Instance)
	}
	if c.LeaseTTL < 0 || (c.LeaseTTL > 0 && c.LeaseTTL < time.Second) {
		bad("LeaseTTL %s: etcd leases last whole seconds; use at least 1s, or 0 for the default %s", c.LeaseTTL, DefaultLeaseTTL)
	}
	if len(problems) > 0 {
		return errors.New("follow: bad config: " + strings.Join(problems, "; "))
	}
	return nil
}

// Run follows the key until ctx is done, then revokes this instance's ack lease and returns nil. It never returns
// early because etcd is unreachable: it keeps serving the last value and retries. Call it once.
func (f *Follower) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("follow: Run called twice on the same Follower")
	}
	var wg sync.WaitGroup
	wg.Go(func() { f.deliverLoop(ctx) })
	wg.Go(func() { f.ackLoop(ctx) })
	wg.Go(func() { f.cacheLoop(ctx) })
	f.watchLoop(ctx)
	wg.Wait()
	f.saveCache() // record the latest confirmation time, so the next start reports honest staleness
	return nil
}

// Current returns the value the handler last applied and how fresh it is. Safe for concurrent use.
func (f *Follower) Current() (Active, State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied, f.stateLocked(time.Now())
}

func (f *Follower) stateLocked(now time.Time) State {
	return State{
		Known:       f.known,
		FromCache:   f.fromCache,
		Stale:       !f.known || f.fromCache || now.Sub(f.confirmedAt) > f.ttl,
		ConfirmedAt: f.confirmedAt,
	}
}

// signal wakes a loop without blocking; one pending wake is enough because the loop reads the shared state.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// backoff doubles from min to max.
type backoff struct{ cur, min, max time.Duration }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else if b.cur *= 2; b.cur > b.max {
		b.cur = b.max
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
