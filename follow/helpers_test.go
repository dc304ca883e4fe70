package follow

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"

	"github.com/failover/failover/testsuite/etcdserver"
	"github.com/failover/failover/testsuite/freeport"
)

const (
	testKey    = "/failover/payments/active"
	testAcks   = "/failover/payments/acks/"
	testTTL    = time.Second
	waitLonger = 10 * time.Second
)

// member is one embedded etcd that a test can stop and restart in place (same data dir, same ports).
type member struct {
	t          testing.TB
	srv        *etcdserver.Server
	dir        string
	clientPort int
	peerPort   int
}

// startMember runs etcd; its Stop is registered first so it runs after every client and follower cleanup.
func startMember(t testing.TB) *member {
	t.Helper()
	cp, err := freeport.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	pp, err := freeport.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{t: t, dir: t.TempDir(), clientPort: cp, peerPort: pp}
	m.start()
	t.Cleanup(func() {
		if m.srv != nil {
			m.srv.Stop()
		}
	})
	return m
}

func (m *member) start() {
	m.t.Helper()
	srv, err := etcdserver.Start(etcdserver.Options{Dir: m.dir, ClientPort: m.clientPort, PeerPort: m.peerPort})
	if err != nil {
		m.t.Fatal(err)
	}
	m.srv = srv
}

// stop shuts etcd down. Close or cut every streaming client first (etcd waits ~7s for open watch streams).
func (m *member) stop() {
	m.t.Helper()
	start := time.Now()
	m.srv.Stop()
	m.srv = nil
	m.t.Logf("etcd stopped in %s", time.Since(start).Round(time.Millisecond))
}

func (m *member) addr() string { return fmt.Sprintf("127.0.0.1:%d", m.clientPort) }

// newClient connects to endpoint with a short reconnect backoff, so a restarted etcd is found within ~200ms.
func newClient(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 2 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           grpcbackoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: time.Second,
		})},
		Logger: zap.NewNop(), // the client's own retry warnings would drown the test log
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// proxy forwards TCP to etcd. Pause cuts every connection at once and refuses new ones: to the follower that is
// exactly etcd dying (or a partition), and it lets the test stop etcd without waiting for graceful shutdown.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	paused bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.Pause()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) endpoint() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

func (p *proxy) serve(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.paused {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	wg.Go(func() { pipe(up, c) })
	wg.Go(func() { pipe(c, up) })
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Pause closes every open connection and refuses new ones until Resume.
func (p *proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = true
	for c := range p.conns {
		c.Close()
	}
}

// Resume forwards new connections again.
func (p *proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = false
}

// recorder is a Handler that records deliveries; fail, if set, can refuse one.
type recorder struct {
	mu   sync.Mutex
	got  []Active
	fail func(a Active, calls int) error
	call map[int64]int
}

func (r *recorder) handle(_ context.Context, a Active) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.call == nil {
		r.call = map[int64]int{}
	}
	r.call[a.Epoch]++
	if r.fail != nil {
		if err := r.fail(a, r.call[a.Epoch]); err != nil {
			return err
		}
	}
	r.got = append(r.got, a)
	return nil
}

func (r *recorder) epochs() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var e []int64
	for _, a := range r.got {
		e = append(e, a.Epoch)
	}
	return e
}

func (r *recorder) calls(epoch int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.call[epoch]
}

// running is a Follower started by a test; its Run is stopped by cleanup before clients close and etcd stops.
type running struct {
	*Follower
	reg  *prometheus.Registry
	stop func()
}

func startFollower(t testing.TB, cfg Config, h Handler) *running {
	t.Helper()
	if cfg.Key == "" {
		cfg.Key = testKey
	}
	if cfg.AckPrefix == "" {
		cfg.AckPrefix = testAcks
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = testTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t, cfg.Instance)
	}
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	f, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(waitLonger):
				t.Errorf("Run did not return within %s of cancel", waitLonger)
			}
		})
	}
	t.Cleanup(stop)
	return &running{Follower: f, reg: reg, stop: stop}
}

// waitWatching waits until the follower has read the key, so later writes reach it as watch events rather than
// being folded into its first read.
func (r *running) waitWatching(t testing.TB) {
	t.Helper()
	eventually(t, waitLonger, "the follower read the key", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return !r.viewAt.IsZero()
	})
}

// metric reads one follow_* sample (they carry only the key label, and ignored_values also a reason).
func (r *running) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Counter != nil:
				return m.Counter.GetValue()
			}
		}
	}
	return 0
}

// eventually polls cond every 10ms until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("after %s: %s", within, what)
		}
		<-tick.C
	}
	return time.Since(start)
}

func putActive(t testing.TB, c *clientv3.Client, region string, epoch int64) int64 {
	t.Helper()
	b, _ := json.Marshal(Active{Region: region, Epoch: epoch, Time: time.Now().UTC()})
	return putRaw(t, c, string(b))
}

func putRaw(t testing.TB, c *clientv3.Client, value string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Put(ctx, testKey, value)
	if err != nil {
		t.Fatalf("put %s: %v", testKey, err)
	}
	return resp.Header.Revision
}

// ackOf reads an instance's ack; ok is false when there is none.
func ackOf(t testing.TB, c *clientv3.Client, instance string) (Ack, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, AckKey(testAcks, instance))
	if err != nil {
		t.Fatalf("get ack: %v", err)
	}
	if len(resp.Kvs) == 0 {
		return Ack{}, false
	}
	a, err := ParseAck(resp.Kvs[0].Value)
	if err != nil {
		t.Fatalf("ack of %s: %v", instance, err)
	}
	return a, true
}

func ackedEpoch(t testing.TB, c *clientv3.Client, instance string) int64 {
	a, _ := ackOf(t, c, instance)
	return a.Epoch
}

// ackHistory replays an instance's ack key from etcd's history: every epoch written there since revision since,
// in order. Unlike polling ackOf, it cannot miss an ack that was written and then replaced.
func ackHistory(t testing.TB, c *clientv3.Client, instance string, since int64) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	key := AckKey(testAcks, instance)
	now, err := c.Get(ctx, key, clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("get ack: %v", err)
	}
	var epochs []int64
	var lastMod int64
	for rev := since; rev <= now.Header.Revision; rev++ {
		resp, err := c.Get(ctx, key, clientv3.WithRev(rev))
		if err != nil {
			t.Fatalf("get ack at revision %d: %v", rev, err)
		}
		if len(resp.Kvs) == 0 || resp.Kvs[0].ModRevision == lastMod {
			continue
		}
		lastMod = resp.Kvs[0].ModRevision
		a, err := ParseAck(resp.Kvs[0].Value)
		if err != nil {
			t.Fatalf("ack of %s at revision %d: %v", instance, rev, err)
		}
		epochs = append(epochs, a.Epoch)
	}
	return epochs
}

// testLogger writes the follower's log into the test log; FOLLOW_DEBUG=1 adds debug lines.
func testLogger(t testing.TB, instance string) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("FOLLOW_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level})).With("test_instance", instance)
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
