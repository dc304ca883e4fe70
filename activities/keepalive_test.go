package activities

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/follow"
)

// beats runs activities in Temporal's test environment and records every heartbeat they make (the SDK batches what
// it sends; an interceptor sees each call).
type beats struct {
	interceptor.WorkerInterceptorBase
	mu      sync.Mutex
	at      []time.Time
	details []int64
}

func (b *beats) env() *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{b}})
	return env
}

func (b *beats) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &beatsInbound{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, b: b}
}

type beatsInbound struct {
	interceptor.ActivityInboundInterceptorBase
	b *beats
}

func (i *beatsInbound) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	return i.Next.Init(&beatsOutbound{ActivityOutboundInterceptorBase: interceptor.ActivityOutboundInterceptorBase{Next: outbound}, b: i.b})
}

type beatsOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
	b *beats
}

func (o *beatsOutbound) RecordHeartbeat(ctx context.Context, details ...any) {
	var n int64
	if len(details) == 1 {
		n, _ = details[0].(int64)
	}
	o.b.mu.Lock()
	o.b.at = append(o.b.at, time.Now())
	o.b.details = append(o.b.details, n)
	o.b.mu.Unlock()
	o.Next.RecordHeartbeat(ctx, details...)
}

// workflowHeartbeatTimeout is the HeartbeatTimeout the workflows give these activities (workflows/options.go): a
// gap that long makes Temporal hand the activity to another worker. Beats come every HeartbeatEvery; the bound is
// the timeout, not the cadence, so a loaded CI machine does not fail the test.
const workflowHeartbeatTimeout = time.Second

// longestGap is the longest time without a heartbeat between start and end.
func (b *beats) longestGap(start, end time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	var longest time.Duration
	last := start
	for _, at := range append(b.at, end) {
		longest = max(longest, at.Sub(last))
		last = at
	}
	return longest
}

// A probe that blocks longer than the HeartbeatTimeout must not make a live worker look dead.
func TestProbeHealthHeartbeatsWhileAProbeBlocks(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(800 * time.Millisecond)
	}))
	defer slow.Close()
	var b beats
	env := b.env()
	a := &Activities{}
	env.RegisterActivity(a.ProbeHealth)
	start := time.Now()
	val, err := env.ExecuteActivity(a.ProbeHealth, ProbeInput{URL: slow.URL, Attempts: 2, Interval: 500 * time.Millisecond, Timeout: 5 * time.Second, Expect: "up"})
	end := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	var res ProbeResult
	if err := val.Get(&res); err != nil || !res.Confirmed || res.Probes != 2 {
		t.Fatalf("result %+v %v, want 2 healthy probes", res, err)
	}
	if gap := b.longestGap(start, end); gap >= workflowHeartbeatTimeout {
		t.Fatalf("%d heartbeats in %s, longest gap %s: a live worker would look dead (HeartbeatTimeout %s)",
			len(b.at), end.Sub(start), gap, workflowHeartbeatTimeout)
	}
	if last := b.details[len(b.details)-1]; last < 1 {
		t.Fatalf("last heartbeat reports %d probes, want the probes done so far", last)
	}
}

// Waiting for acks can last the whole ack timeout without a watch event: it heartbeats meanwhile, with the number
// of acks so far.
func TestWaitAcksHeartbeatsWhileWaiting(t *testing.T) {
	cli := startEtcd(t)
	var b beats
	env := b.env()
	a := &Activities{Etcd: cli}
	env.RegisterActivity(a.WaitAcks)
	const prefix = "/failover/payments/acks/"
	go func() {
		time.Sleep(1200 * time.Millisecond)
		ack, _ := json.Marshal(follow.Ack{Instance: "payments-eu-west-1", Epoch: 3})
		cli.Put(context.Background(), follow.AckKey(prefix, "payments-eu-west-1"), string(ack))
	}()
	start := time.Now()
	val, err := env.ExecuteActivity(a.WaitAcks, WaitAcksInput{AckPrefix: prefix, Epoch: 3, Required: []string{"payments-eu-west-1"}, Timeout: 10 * time.Second})
	end := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	var res WaitAcksResult
	if err := val.Get(&res); err != nil || len(res.Acked) != 1 {
		t.Fatalf("result %+v %v, want the one ack", res, err)
	}
	if gap := b.longestGap(start, end); gap >= workflowHeartbeatTimeout {
		t.Fatalf("%d heartbeats in %s, longest gap %s: a live worker would look dead (HeartbeatTimeout %s)",
			len(b.at), end.Sub(start), gap, workflowHeartbeatTimeout)
	}
}

// Outside an activity (dry runs, benchmarks) keepAlive does nothing and stops at once.
func TestKeepAliveOutsideAnActivity(t *testing.T) {
	stop := keepAlive(context.Background(), func() any { t.Error("progress read outside an activity"); return nil })
	stop()
}

// A check retried after its worker died goes on from the samples its heartbeats reported.
func TestHTTPCheckResumesFromHeartbeat(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
	}))
	defer srv.Close()
	var b beats
	env := b.env()
	a := &Activities{}
	env.RegisterActivity(a.HTTPCheck)
	env.SetHeartbeatDetails(HTTPCheckProgress{Samples: 3, OK: 2, LastProblem: "HTTP 502, want 200"})
	val, err := env.ExecuteActivity(a.HTTPCheck, HTTPCheckInput{Name: "gateway", URL: srv.URL, ExpectStatus: 200, Samples: 5, MinSuccess: 0.8, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var res CheckResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if requests != 2 || res.Verdict != Pass || res.Value != 0.8 {
		t.Fatalf("%d requests, result %+v: want 2 more samples and 4/5 as expected", requests, res)
	}
}
