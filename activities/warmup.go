package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// WarmupInput loads Keys into the region at URL in batches, Concurrency batches at a time.
type WarmupInput struct {
	URL         string
	Keys        []string
	Concurrency int
	BatchSize   int
	// HitRatio, when above 0, ends the warmup early once at least this fraction of the keys requested so far were
	// already cached in the region (WarmupProgress.HitRatio): the cache is warm enough without the rest.
	HitRatio float64
}

// WarmupProgress is heartbeated (and shown in the Web UI) after every batch and while batches run; a retry
// resumes from Batches.
type WarmupProgress struct {
	Batches int // leading batches all done
	Total   int // batches in all
	Keys    int // keys loaded so far
	// HitRatio is the fraction of the keys requested so far that the region already had cached: how warm its
	// cache was before this warmup. The hit-ratio gate compares this figure.
	HitRatio  float64
	Requested int // keys requested so far
	Cached    int // of those, already cached
}

// WarmupResult is the final progress, whether the hit-ratio gate ended it early, and the hit ratio measured after
// the warmup on a sample of the keys spread over the whole list.
type WarmupResult struct {
	WarmupProgress
	GateMet       bool
	HitRatioAfter float64
	Sampled       int
}

// warmupAnswer is the region's answer to POST /warmup.
type warmupAnswer struct {
	Loaded   int     `json:"loaded"`
	HitRatio float64 `json:"hit_ratio"`
}

// Warmup drives the target region's cache warmup with bounded concurrency, heartbeating progress. Loading a key
// twice is harmless, so a retry simply resumes after the last contiguous batch it reported.
func (a *Activities) Warmup(ctx context.Context, in WarmupInput) (WarmupResult, error) {
	if in.Concurrency < 1 || in.BatchSize < 1 {
		return WarmupResult{}, badInput("warmup %s: concurrency %d and batch size %d must be at least 1", in.URL, in.Concurrency, in.BatchSize)
	}
	var batches [][]string
	for i := 0; i < len(in.Keys); i += in.BatchSize {
		batches = append(batches, in.Keys[i:min(i+in.BatchSize, len(in.Keys))])
	}
	var start WarmupProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &start) // unreadable details just mean starting over
	}
	p := &warmupTracker{done: make([]bool, len(batches)), progress: start}
	p.progress.Total = len(batches)
	for i := 0; i < start.Batches && i < len(batches); i++ {
		p.done[i] = true
	}
	// One batch can take up to warmBatch's 30 s: heartbeat the progress in between, so a dead worker is noticed
	// within the HeartbeatTimeout and its retry resumes where this attempt got to.
	defer keepAlive(ctx, func() any { return p.snapshot() })()

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, in.Concurrency)
	var wg sync.WaitGroup
	errs := make(chan error, len(batches))
	for i := start.Batches; i < len(batches); i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ans, err := a.warmBatch(ctx, in.URL, batches[i])
			if err != nil {
				if p.gateMet() {
					return // cancelled because the gate was met: not a failure
				}
				errs <- err
				cancel()
				return
			}
			prog := p.finish(i, len(batches[i]), ans)
			heartbeat(ctx, prog)
			if in.HitRatio > 0 && prog.HitRatio >= in.HitRatio {
				p.meetGate()
				cancel() // the rest of the keys are not needed
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return WarmupResult{WarmupProgress: p.snapshot()}, err
	}
	res := WarmupResult{WarmupProgress: p.snapshot(), GateMet: p.gateMet()}
	if !res.GateMet && res.Batches < res.Total {
		return res, fmt.Errorf("warmup %s: stopped after %d of %d batches: %w", in.URL, res.Batches, res.Total, context.Cause(ctx))
	}
	// What a client now finds cached. The sample's missing keys get loaded too: harmless, warmup is idempotent.
	sample := spread(in.Keys, in.BatchSize)
	after, err := a.warmBatch(parent, in.URL, sample)
	if err != nil {
		return res, fmt.Errorf("warmup %s: measure the hit ratio after the warmup: %w", in.URL, err)
	}
	res.HitRatioAfter, res.Sampled = after.HitRatio, len(sample)
	return res, nil
}

// spread picks up to n keys evenly over the list, so a sample sees the first and the last batches alike.
func spread(keys []string, n int) []string {
	if len(keys) <= n {
		return keys
	}
	sample := make([]string, 0, n)
	for i := range n {
		sample = append(sample, keys[i*len(keys)/n])
	}
	return sample
}

func (a *Activities) warmBatch(ctx context.Context, url string, keys []string) (warmupAnswer, error) {
	body, _ := json.Marshal(map[string][]string{"keys": keys})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(url, "/")+"/warmup", bytes.NewReader(body))
	if err != nil {
		return warmupAnswer{}, badInput("warmup %s: %v", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.httpClient().Do(req)
	if err != nil {
		return warmupAnswer{}, fmt.Errorf("warmup %s: %w", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return warmupAnswer{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("warmup %s: HTTP %d: %s", url, resp.StatusCode, bytes.TrimSpace(raw)), ErrWarmupFailed, nil)
	}
	if resp.StatusCode != http.StatusOK {
		return warmupAnswer{}, fmt.Errorf("warmup %s: HTTP %d: %s", url, resp.StatusCode, bytes.TrimSpace(raw))
	}
	var ans warmupAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return warmupAnswer{}, fmt.Errorf("warmup %s: answer is not {loaded, hit_ratio}: %w", url, err)
	}
	return ans, nil
}

// warmupTracker counts finished batches; Batches only advances over a contiguous prefix so a resume never skips.
type warmupTracker struct {
	mu       sync.Mutex
	done     []bool
	progress WarmupProgress
	gate     bool
}

func (t *warmupTracker) meetGate() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gate = true
}

func (t *warmupTracker) gateMet() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.gate
}

func (t *warmupTracker) finish(i, requested int, ans warmupAnswer) WarmupProgress {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done[i] = true
	for t.progress.Batches < len(t.done) && t.done[t.progress.Batches] {
		t.progress.Batches++
	}
	t.progress.Keys += ans.Loaded
	t.progress.Requested += requested
	t.progress.Cached += int(math.Round(ans.HitRatio * float64(requested)))
	t.progress.HitRatio = float64(t.progress.Cached) / float64(t.progress.Requested)
	return t.progress
}

func (t *warmupTracker) snapshot() WarmupProgress {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.progress
}
