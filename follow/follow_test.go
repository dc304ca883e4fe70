package follow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func seq(from, to int64) []int64 {
	var s []int64
	for e := from; e <= to; e++ {
		s = append(s, e)
	}
	return s
}

func TestNewNamesTheBadField(t *testing.T) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:1"}}) // never dialed
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	good := Config{Client: cli, Key: testKey, AckPrefix: testAcks, Instance: "pod-1"}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no client", func(c *Config) { c.Client = nil }, "Client"},
		{"relative key", func(c *Config) { c.Key = "payments/active" }, "Key"},
		{"empty key", func(c *Config) { c.Key = "" }, "Key"},
		{"prefix without slash", func(c *Config) { c.AckPrefix = "/failover/payments/acks" }, "AckPrefix"},
		{"prefix is the key", func(c *Config) { c.AckPrefix = testKey + "/"; c.Key = testKey + "/" }, "AckPrefix"},
		{"no instance", func(c *Config) { c.Instance = "" }, "Instance"},
		{"instance with slash", func(c *Config) { c.Instance = "a/b" }, "Instance"},
		{"sub-second TTL", func(c *Config) { c.LeaseTTL = 500 * time.Millisecond }, "LeaseTTL"},
		{"negative TTL", func(c *Config) { c.LeaseTTL = -time.Second }, "LeaseTTL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := New(cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("New: got %v, want an error naming %s", err, tc.field)
			}
		})
	}
	if _, err := New(good, nil); err != nil {
		t.Fatalf("good config: %v", err)
	}

	reg := prometheus.NewRegistry()
	withReg := good
	withReg.Registerer = reg
	if _, err := New(withReg, nil); err != nil {
		t.Fatalf("first follower on a registry: %v", err)
	}
	if _, err := New(withReg, nil); err == nil || !strings.Contains(err.Error(), "one Follower per key") {
		t.Fatalf("second follower of the same key on one registry: got %v", err)
	}
	other := withReg
	other.Key = "/failover/orders/active"
	if _, err := New(other, nil); err != nil {
		t.Fatalf("a second key on the same registry must work (metrics carry a key label): %v", err)
	}
}

// Transitions arrive in epoch order, each once; bad input is reported and skipped; a failing handler is retried
// and its epoch is acked only after it succeeds.
func TestDeliversInOrderAndAcksAfterHandler(t *testing.T) {
	m := startMember(t)
	cli := newClient(t, m.addr())
	release3 := make(chan struct{})
	rec := &recorder{fail: func(a Active, calls int) error {
		if a.Epoch == 3 {
			select {
			case <-release3:
			default:
				return errors.New("not ready for epoch 3")
			}
		}
		return nil
	}}
	f := startFollower(t, Config{Client: newClient(t, m.addr()), Instance: "pod-1"}, rec.handle)
	f.waitWatching(t)

	putActive(t, cli, "east", 1)
	putActive(t, cli, "west", 2)
	putRaw(t, cli, `{"region": "east", "epoch": "three"}`) // malformed
	putActive(t, cli, "east", 3)

	eventually(t, waitLonger, "epoch 2 acked and epoch 3 refused twice", func() bool {
		return ackedEpoch(t, cli, "pod-1") == 2 && rec.calls(3) >= 2
	})
	if got, _ := f.Current(); got.Epoch != 2 {
		t.Fatalf("while the handler refuses epoch 3, Current = epoch %d, want 2", got.Epoch)
	}
	if e := ackedEpoch(t, cli, "pod-1"); e != 2 {
		t.Fatalf("ack = epoch %d while the handler still refuses 3, want 2", e)
	}
	close(release3)
	eventually(t, waitLonger, "epoch 3 acked after the handler succeeds", func() bool { return ackedEpoch(t, cli, "pod-1") == 3 })

	putActive(t, cli, "west", 2) // an epoch going backwards: reported, ignored
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Delete(ctx, testKey); err != nil { // deletion: reported, not delivered
		t.Fatal(err)
	}
	for e := int64(4); e <= 20; e++ {
		putActive(t, cli, []string{"east", "west"}[e%2], e)
	}
	eventually(t, waitLonger, "epoch 20 acked", func() bool { return ackedEpoch(t, cli, "pod-1") == 20 })

	if got := rec.epochs(); !slices.Equal(got, seq(1, 20)) {
		t.Fatalf("delivered epochs %v, want 1..20 once each, in order", got)
	}
	a, st := f.Current()
	if a.Epoch != 20 || a.Region != "east" || !st.Known || st.FromCache || st.Stale {
		t.Fatalf("Current = %+v %+v, want epoch 20 east, known, fresh", a, st)
	}
	for reason, want := range map[string]float64{"malformed": 1, "old_epoch": 1, "deleted": 1} {
		if got := f.metric(t, "follow_ignored_values_total", "reason", reason); got != want {
			t.Errorf("follow_ignored_values_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	if got := f.metric(t, "follow_epoch", "key", testKey); got != 20 {
		t.Errorf("follow_epoch = %v, want 20", got)
	}
	if got := f.metric(t, "follow_handler_errors_total"); got < 2 {
		t.Errorf("follow_handler_errors_total = %v, want >= 2", got)
	}
}

// The follower is cut off from etcd repeatedly while epochs keep being written; each time it resumes from the
// last revision it processed, so every epoch is delivered exactly once and in order.
func TestOrderKeptAcrossReconnects(t *testing.T) {
	m := startMember(t)
	cli := newClient(t, m.addr())
	px := startProxy(t, m.addr())
	rec := &recorder{}
	f := startFollower(t, Config{Client: newClient(t, px.endpoint()), Instance: "pod-1"}, rec.handle)
	f.waitWatching(t)

	const rounds = 4
	epoch := int64(0)
	for round := range rounds {
		for range 3 {
			epoch++
			putActive(t, cli, "east", epoch)
		}
		eventually(t, waitLonger, "caught up before the cut", func() bool { return ackedEpoch(t, cli, "pod-1") == epoch })
		px.Pause()
		for range 3 {
			epoch++
			putActive(t, cli, "west", epoch) // written while the follower cannot see etcd
		}
		eventually(t, waitLonger, "the follower notices the cut (stale)", func() bool {
			_, st := f.Current()
			return st.Stale
		})
		px.Resume()
		eventually(t, waitLonger, "the follower reconnects", func() bool {
			return f.metric(t, "follow_watch_reconnects_total") >= float64(round+1)
		})
	}
	eventually(t, waitLonger, "last epoch acked", func() bool { return ackedEpoch(t, cli, "pod-1") == epoch })
	if got := rec.epochs(); !slices.Equal(got, seq(1, epoch)) {
		t.Fatalf("delivered %v, want 1..%d once each, in order", got, epoch)
	}
	t.Logf("reconnects: %v", f.metric(t, "follow_watch_reconnects_total"))
}

// etcd stops mid-watch: the follower keeps serving the last value, reports it stale and the fallback active, then
// resumes when the same member comes back on the same port and data dir.
func TestEtcdStoppedAndRestartedMidWatch(t *testing.T) {
	m := startMember(t)
	px := startProxy(t, m.addr())
	cache := filepath.Join(t.TempDir(), "active.json")
	rec := &recorder{}
	f := startFollower(t, Config{Client: newClient(t, px.endpoint()), Instance: "pod-1", CacheFile: cache}, rec.handle)
	f.waitWatching(t)

	writer := newClient(t, m.addr())
	putActive(t, writer, "east", 1)
	eventually(t, waitLonger, "epoch 1 acked", func() bool { return ackedEpoch(t, writer, "pod-1") == 1 })
	writer.Close()

	px.Pause() // cut the follower's connections as a crash would, so Stop need not wait for its watch
	m.stop()
	px.Resume() // etcd is down: new connections now fail

	took := eventually(t, waitLonger, "stale and fallback active while etcd is down", func() bool {
		_, st := f.Current()
		return st.Stale && f.metric(t, "follow_fallback_active") == 1
	})
	t.Logf("stale reported %s after the stop", took.Round(time.Millisecond))
	a, st := f.Current()
	if a.Epoch != 1 || a.Region != "east" || !st.Known || st.FromCache {
		t.Fatalf("during the outage Current = %+v %+v, want the last value (epoch 1 east), known, not from cache", a, st)
	}
	if s := f.metric(t, "follow_config_stale_seconds"); s < testTTL.Seconds() {
		t.Fatalf("follow_config_stale_seconds = %v during the outage, want > %v", s, testTTL.Seconds())
	}

	restart := time.Now()
	m.start()
	writer = newClient(t, m.addr())
	eventually(t, waitLonger, "fresh again after the restart", func() bool {
		_, st := f.Current()
		return !st.Stale && f.metric(t, "follow_fallback_active") == 0
	})
	t.Logf("fresh %s after the restart began", time.Since(restart).Round(time.Millisecond))
	putActive(t, writer, "west", 2)
	eventually(t, waitLonger, "epoch 2 acked after the restart", func() bool { return ackedEpoch(t, writer, "pod-1") == 2 })
	if got := rec.epochs(); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("delivered %v, want [1 2]", got)
	}
	if f.metric(t, "follow_watch_reconnects_total") < 1 {
		t.Fatal("follow_watch_reconnects_total did not count the reconnect")
	}
	// The cache file is written apart from the ack (the disk is never on the path to the ack): wait for it.
	eventually(t, waitLonger, "the cache file holds epoch 2", func() bool {
		c, err := readCache(cache, testKey)
		return err == nil && c != nil && c.Active.Epoch == 2
	})
}

// While the follower is cut off, etcd moves on and compacts past the last revision it saw: the resumed watch
// fails with "compacted", the follower reads the current value and delivers it, and never the compacted one.
func TestCompactionPastLastSeenRevision(t *testing.T) {
	m := startMember(t)
	cli := newClient(t, m.addr())
	px := startProxy(t, m.addr())
	rec := &recorder{}
	f := startFollower(t, Config{Client: newClient(t, px.endpoint()), Instance: "pod-1"}, rec.handle)
	f.waitWatching(t)

	putActive(t, cli, "east", 1)
	eventually(t, waitLonger, "epoch 1 acked", func() bool { return ackedEpoch(t, cli, "pod-1") == 1 })

	px.Pause()
	putActive(t, cli, "west", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 5 {
		if _, err := cli.Put(ctx, "/unrelated", strings.Repeat("x", i)); err != nil {
			t.Fatal(err)
		}
	}
	rev := putActive(t, cli, "east", 3)
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	px.Resume()

	eventually(t, waitLonger, "epoch 3 acked after the compaction", func() bool { return ackedEpoch(t, cli, "pod-1") == 3 })
	if got := rec.epochs(); !slices.Equal(got, []int64{1, 3}) {
		t.Fatalf("delivered %v, want [1 3]: epoch 2 was compacted away and must not appear", got)
	}
	if a, st := f.Current(); a.Epoch != 3 || st.Stale {
		t.Fatalf("Current = %+v %+v, want epoch 3, fresh", a, st)
	}
}

// A follower that starts while etcd is down serves the cached value (reported as cached and stale), then resyncs:
// the same epoch in etcd is confirmed and acked without a second delivery, and a newer one is delivered.
func TestColdStartWithEtcdDownUsesCache(t *testing.T) {
	m := startMember(t)
	cache := filepath.Join(t.TempDir(), "payments-active.json")

	// A previous run leaves the cache behind and, stopping cleanly, revokes its ack.
	writer := newClient(t, m.addr())
	prev := startFollower(t, Config{Client: newClient(t, m.addr()), Instance: "pod-1", CacheFile: cache}, (&recorder{}).handle)
	prev.waitWatching(t)
	putActive(t, writer, "east", 1)
	putActive(t, writer, "west", 2)
	eventually(t, waitLonger, "epoch 2 acked by the previous run", func() bool { return ackedEpoch(t, writer, "pod-1") == 2 })
	prev.stop()
	if _, ok := ackOf(t, writer, "pod-1"); ok {
		t.Fatal("a cleanly stopped follower must revoke its ack lease")
	}
	writer.Close()
	m.stop()

	px := startProxy(t, m.addr())
	rec := &recorder{}
	f := startFollower(t, Config{Client: newClient(t, px.endpoint()), Instance: "pod-1", CacheFile: cache}, rec.handle)
	took := eventually(t, waitLonger, "the cached value applied while etcd is down", func() bool { return len(rec.epochs()) == 1 })
	t.Logf("cached value applied %s after start", took.Round(time.Millisecond))
	a, st := f.Current()
	if a.Epoch != 2 || a.Region != "west" || !st.Known || !st.FromCache || !st.Stale || st.ConfirmedAt.IsZero() {
		t.Fatalf("cold start: Current = %+v %+v, want cached epoch 2 west, known, from cache, stale, confirmed earlier", a, st)
	}
	if got := f.metric(t, "follow_fallback_active"); got != 1 {
		t.Fatalf("follow_fallback_active = %v on a cold start from the cache, want 1", got)
	}
	if got := f.metric(t, "follow_epoch"); got != 2 {
		t.Fatalf("follow_epoch = %v, want 2", got)
	}

	m.start()
	writer = newClient(t, m.addr())
	eventually(t, waitLonger, "resynced: etcd confirms the cached epoch and the ack is written", func() bool {
		_, st := f.Current()
		return !st.FromCache && !st.Stale && ackedEpoch(t, writer, "pod-1") == 2
	})
	if got := f.metric(t, "follow_fallback_active"); got != 0 {
		t.Fatalf("follow_fallback_active = %v after the resync, want 0", got)
	}
	putActive(t, writer, "east", 3)
	eventually(t, waitLonger, "epoch 3 acked", func() bool { return ackedEpoch(t, writer, "pod-1") == 3 })
	if got := rec.epochs(); !slices.Equal(got, []int64{2, 3}) {
		t.Fatalf("delivered %v, want [2 3]: the cached epoch once, then the new one", got)
	}
}

// An instance etcd no longer hears from loses its ack when the lease expires; the live instance keeps its own.
// When the lost instance is back it acks again under a new lease.
func TestLeaseExpiryRemovesDeadInstanceAck(t *testing.T) {
	m := startMember(t)
	cli := newClient(t, m.addr())
	startFollower(t, Config{Client: newClient(t, m.addr()), Instance: "alive"}, nil)
	px := startProxy(t, m.addr())
	dead := startFollower(t, Config{Client: newClient(t, px.endpoint()), Instance: "dead"}, nil)

	putActive(t, cli, "east", 1)
	eventually(t, waitLonger, "both instances acked", func() bool {
		return ackedEpoch(t, cli, "alive") == 1 && ackedEpoch(t, cli, "dead") == 1
	})
	px.Pause() // from etcd's side the instance is gone: no keepalives, no revoke
	took := eventually(t, waitLonger, "the dead instance's ack expires", func() bool {
		_, ok := ackOf(t, cli, "dead")
		return !ok
	})
	t.Logf("dead instance's ack gone %s after it went silent (LeaseTTL %s; etcd's minimum lease TTL applies)", took.Round(time.Millisecond), testTTL)
	if e := ackedEpoch(t, cli, "alive"); e != 1 {
		t.Fatalf("the live instance's ack = epoch %d, want 1 (its lease is kept alive)", e)
	}
	if _, st := dead.Current(); !st.Stale {
		t.Fatal("the cut-off instance must report its value stale")
	}
	px.Resume()
	eventually(t, waitLonger, "the instance acks again under a new lease", func() bool { return ackedEpoch(t, cli, "dead") == 1 })
}

func TestCacheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "active.json")
	when := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	want := cacheEntry{Key: testKey, Active: Active{Region: "east", Epoch: 7, Time: when}, Revision: 42, ConfirmedAt: when}
	if c, err := readCache(path, testKey); c != nil || err != nil {
		t.Fatalf("missing file: got %+v, %v; want nothing and no error", c, err)
	}
	if err := writeCache(path, want); err != nil {
		t.Fatal(err)
	}
	if err := writeCache(path, want); err != nil { // replacing works too
		t.Fatal(err)
	}
	got, err := readCache(path, testKey)
	if err != nil || got.Active.Epoch != 7 || got.Active.Region != "east" || got.Revision != 42 || !got.ConfirmedAt.Equal(when) {
		t.Fatalf("round trip: got %+v, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the atomic write left %d files behind, want only the cache", len(entries))
	}

	bad := []struct {
		name, content, key, wantErr string
	}{
		{"another key", `{"key":"/x/active","value":{"region":"east","epoch":1}}`, testKey, "caches key"},
		{"not json", `{"key":`, testKey, "not a follow cache file"},
		{"bad value", `{"key":"` + testKey + `","value":{"region":"","epoch":1}}`, testKey, "no region"},
		{"epoch zero", `{"key":"` + testKey + `","value":{"region":"east","epoch":0}}`, testKey, "epoch 0"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.json")
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := readCache(p, tc.key); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
			// New only warns: a bad cache never stops a service from starting.
			cli, _ := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:1"}})
			defer cli.Close()
			f, err := New(Config{Client: cli, Key: tc.key, AckPrefix: testAcks, Instance: "i", CacheFile: p, Logger: testLogger(t, "i")}, nil)
			if err != nil {
				t.Fatalf("New with a bad cache file: %v", err)
			}
			if _, st := f.Current(); st.Known {
				t.Fatal("a bad cache file must not provide a value")
			}
		})
	}
}
