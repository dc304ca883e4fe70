package activities

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/failover/failover/deploy/regiond/region"
)

func startWarmupRegion(t *testing.T) *region.Server {
	t.Helper()
	r, err := region.Start(t.Context(), region.Options{Region: "eu-west", Service: "payments", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func keys(from, to int) []string {
	var ks []string
	for i := from; i < to; i++ {
		ks = append(ks, fmt.Sprintf("user:%d", i))
	}
	return ks
}

// A cold cache warmed completely reads 0 % before and 100 % after, measured on the region itself (the first
// release reported the warmup's own first loads, "hit ratio 0.00", which read as a failed warmup).
func TestWarmupReportsTheHitRatioBeforeAndAfter(t *testing.T) {
	r := startWarmupRegion(t)
	a := &Activities{}
	res, err := a.Warmup(context.Background(), WarmupInput{URL: r.URL(), Keys: keys(0, 16), Concurrency: 2, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Keys != 16 || res.Batches != 4 || res.HitRatio != 0 || res.HitRatioAfter != 1 || res.Sampled != 4 || res.GateMet {
		t.Fatalf("%+v: want 16 keys in 4 batches, 0 before, 1 after on 4 sampled keys", res)
	}
}

// The gate compares the figure the result reports as "before": with three quarters of the keys cached already
// and a 0.5 gate, the warmup stops early and says so.
func TestWarmupGateUsesTheBeforeFigure(t *testing.T) {
	r := startWarmupRegion(t)
	a := &Activities{}
	if _, err := a.Warmup(context.Background(), WarmupInput{URL: r.URL(), Keys: keys(0, 12), Concurrency: 1, BatchSize: 4}); err != nil {
		t.Fatal(err)
	}
	res, err := a.Warmup(context.Background(), WarmupInput{URL: r.URL(), Keys: keys(0, 16), Concurrency: 1, BatchSize: 4, HitRatio: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if !res.GateMet || res.HitRatio < 0.5 || res.Keys != 0 || res.Batches != 1 {
		t.Fatalf("%+v: want the gate met after the first (fully cached) batch, nothing loaded", res)
	}
	if res.HitRatioAfter != 0.75 {
		t.Fatalf("after: %.2f, want 0.75 (the sample over all 16 keys finds 12 cached)", res.HitRatioAfter)
	}
}
