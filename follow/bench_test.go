package follow

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPutToAck measures one cutover as the orchestrator sees it: put a new epoch → the handler runs → the ack
// is visible to a watcher of the ack key (as WaitAcks watches it). Each iteration also times a raw put→get round
// trip on the same etcd, so the result reads as a multiple of what etcd itself costs on this machine.
//
//	go test -run '^$' -bench PutToAck -benchtime 2000x ./follow/
func BenchmarkPutToAck(b *testing.B) {
	m := startMember(b)
	writer := newClient(b, m.addr())
	watcher := newClient(b, m.addr())
	var handledAt atomic.Int64
	f := startFollower(b, Config{
		Client:    newClient(b, m.addr()),
		Instance:  "bench",
		CacheFile: filepath.Join(b.TempDir(), "active.json"), // as in production: written (with fsync) per epoch
		LeaseTTL:  DefaultLeaseTTL,
		Logger:    discardLogger(),
	}, func(context.Context, Active) error {
		handledAt.Store(time.Now().UnixNano())
		return nil
	})
	f.waitWatching(b)

	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	acks := watcher.Watch(ctx, AckKey(testAcks, "bench"))
	waitAck := func(epoch int64) {
		timeout := time.NewTimer(5 * time.Second)
		defer timeout.Stop()
		for {
			select {
			case resp := <-acks:
				for _, ev := range resp.Events {
					if a, err := ParseAck(ev.Kv.Value); err == nil && a.Epoch == epoch {
						return
					}
				}
			case <-timeout.C:
				b.Fatalf("no ack for epoch %d within 5s", epoch)
			}
		}
	}
	put := func(key string, epoch int64) {
		v, _ := json.Marshal(Active{Region: []string{"east", "west"}[epoch%2], Epoch: epoch, Time: time.Now().UTC()})
		if _, err := writer.Put(ctx, key, string(v)); err != nil {
			b.Fatal(err)
		}
	}
	put(testKey, 1) // warm up: lease granted, streams open
	waitAck(1)

	var toAck, toHandler, baseline []time.Duration
	epoch := int64(1)
	b.ResetTimer()
	for b.Loop() {
		epoch++
		start := time.Now()
		put(testKey, epoch)
		waitAck(epoch)
		toAck = append(toAck, time.Since(start))
		toHandler = append(toHandler, time.Duration(handledAt.Load()-start.UnixNano()))

		start = time.Now()
		put("/bench/baseline", epoch)
		if _, err := writer.Get(ctx, "/bench/baseline"); err != nil {
			b.Fatal(err)
		}
		baseline = append(baseline, time.Since(start))
	}
	b.StopTimer()

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	ackP50, ackP99 := percentile(toAck, 0.50), percentile(toAck, 0.99)
	baseP50, baseP99 := percentile(baseline, 0.50), percentile(baseline, 0.99)
	b.ReportMetric(ms(ackP50), "p50-ms")
	b.ReportMetric(ms(ackP99), "p99-ms")
	b.ReportMetric(ms(percentile(toHandler, 0.50)), "handler-p50-ms")
	b.ReportMetric(ms(baseP50), "baseline-p50-ms")
	b.ReportMetric(ms(baseP99), "baseline-p99-ms")
	b.ReportMetric(float64(ackP50)/float64(baseP50), "x-baseline-p50")
	b.ReportMetric(float64(ackP99)/float64(baseP99), "x-baseline-p99")
}

// percentile is the nearest-rank q-quantile.
func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}
