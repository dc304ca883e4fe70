package region

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/failover/failover/follow"
	"github.com/failover/failover/testsuite/etcdserver"
)

const (
	activeKey = "/failover/payments/active"
	ackPrefix = "/failover/payments/acks/"
)

// startEtcd runs an embedded etcd and returns a client; cleanups close the client before etcd stops, since etcd
// waits for open clients.
func startEtcd(t *testing.T) *clientv3.Client {
	t.Helper()
	e, err := etcdserver.Start(etcdserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	c, err := e.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func putActive(t *testing.T, c *clientv3.Client, a follow.Active) {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, activeKey, string(b)); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond every 10ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		<-tick.C
	}
	return time.Since(start)
}

// ackFor reads this instance's ack; zero Ack when absent.
func ackFor(t *testing.T, c *clientv3.Client, instance string) follow.Ack {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, follow.AckKey(ackPrefix, instance))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return follow.Ack{}
	}
	a, err := follow.ParseAck(resp.Kvs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestFollowsActiveKeyAndAcks(t *testing.T) {
	c := startEtcd(t)
	// A value present before the instance starts is applied at start.
	putActive(t, c, follow.Active{Region: "us-east", Epoch: 1, WorkflowID: "wf-1", Time: time.Now().UTC()})

	s := startRegion(t, Options{Region: "eu-west", Etcd: c, ActiveKey: activeKey, AckPrefix: ackPrefix})
	took := eventually(t, 10*time.Second, "SeenEpoch reaches 1", func() bool { return s.SeenEpoch() == 1 })
	t.Logf("initial epoch applied %v after start", took)
	eventually(t, 10*time.Second, "ack for epoch 1", func() bool { return ackFor(t, c, "payments-eu-west-1").Epoch == 1 })

	putAt := time.Now()
	putActive(t, c, follow.Active{Region: "eu-west", Epoch: 2, WorkflowID: "wf-2", Time: time.Now().UTC(),
		Previous: &follow.Previous{Region: "us-east", Epoch: 1}})
	applied := eventually(t, 10*time.Second, "SeenEpoch reaches 2", func() bool { return s.SeenEpoch() == 2 })
	eventually(t, 10*time.Second, "ack for epoch 2", func() bool { return ackFor(t, c, "payments-eu-west-1").Epoch == 2 })
	t.Logf("cutover put → applied in %v, acked in %v", applied, time.Since(putAt))

	ack := ackFor(t, c, "payments-eu-west-1")
	if ack.Instance != "payments-eu-west-1" {
		t.Errorf("ack = %+v, want instance payments-eu-west-1", ack)
	}
	h := decode[Health](t, do(t, http.MethodGet, s.URL()+"/healthz", ""))
	if h.Epoch != 2 || h.ActiveRegion != "eu-west" || h.ActiveStale {
		t.Errorf("healthz = %+v, want epoch 2, active eu-west, not stale", h)
	}
	mf := scrape(t, s)
	if got := gauge(t, mf, "region_active_epoch"); got != 2 {
		t.Errorf("region_active_epoch = %v, want 2", got)
	}
	followSeries := 0
	for name := range mf {
		if strings.HasPrefix(name, "follow_") {
			followSeries++
		}
	}
	if followSeries == 0 {
		t.Error("no follow_* metrics on /metrics: the follower must register on the instance's registry")
	}

	// Closing the instance revokes its ack lease, so the orchestrator stops counting it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "ack gone after Close", func() bool { return ackFor(t, c, "payments-eu-west-1").Epoch == 0 })
}

func TestEtcdOptionsAreChecked(t *testing.T) {
	c := startEtcd(t)
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Region: "us-east", Service: "p", Etcd: c, AckPrefix: ackPrefix}, "Options.ActiveKey is empty"},
		{Options{Region: "us-east", Service: "p", Etcd: c, ActiveKey: activeKey}, "Options.AckPrefix is empty"},
	} {
		if s, err := Start(t.Context(), tc.opts); err == nil {
			s.Close()
			t.Errorf("%+v: Start succeeded", tc.opts)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %q, want %q", err, tc.want)
		}
	}
}
