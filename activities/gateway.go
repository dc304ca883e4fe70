package activities

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// HTTPCheckInput sends Samples requests to URL (normally through the gateway).
type HTTPCheckInput struct {
	Name         string
	URL          string
	ExpectStatus int
	ExpectHeader map[string]string
	Samples      int
	MinSuccess   float64
	Timeout      time.Duration
}

// HTTPCheckProgress is heartbeated while a check runs: after a crash, the retry goes on from the samples taken.
type HTTPCheckProgress struct {
	Samples     int
	OK          int
	LastProblem string
}

// HTTPCheck passes when at least MinSuccess of the samples answer ExpectStatus with every expected header.
func (a *Activities) HTTPCheck(ctx context.Context, in HTTPCheckInput) (CheckResult, error) {
	if in.Samples < 1 {
		return CheckResult{}, badInput("check %s: samples is %d, want at least 1", in.Name, in.Samples)
	}
	var p HTTPCheckProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p) // unreadable details just mean starting over
	}
	var mu sync.Mutex
	// Samples × Timeout can be far longer than the HeartbeatTimeout.
	defer keepAlive(ctx, func() any {
		mu.Lock()
		defer mu.Unlock()
		return p
	})()
	for p.Samples < in.Samples {
		problem := a.sample(ctx, in)
		mu.Lock()
		p.Samples++
		if problem == "" {
			p.OK++
		} else {
			p.LastProblem = problem
		}
		mu.Unlock()
	}
	ratio := float64(p.OK) / float64(in.Samples)
	res := CheckResult{Name: in.Name, Value: ratio, Verdict: Pass,
		Detail: fmt.Sprintf("%d/%d requests to %s as expected", p.OK, in.Samples, in.URL)}
	if ratio < in.MinSuccess {
		res.Verdict = Fail
		res.Detail += fmt.Sprintf(", want %.0f%%; last problem: %s", in.MinSuccess*100, p.LastProblem)
	}
	return res, nil
}

// sample sends one request and returns what was wrong with the answer, or "".
func (a *Activities) sample(ctx context.Context, in HTTPCheckInput) string {
	header, problem := a.fetch(ctx, in)
	if problem != "" {
		return problem
	}
	names := make([]string, 0, len(in.ExpectHeader))
	for h := range in.ExpectHeader {
		names = append(names, h)
	}
	slices.Sort(names)
	for _, h := range names {
		if got := header.Get(h); !strings.EqualFold(got, in.ExpectHeader[h]) {
			return fmt.Sprintf("header %s is %q, want %q", h, got, in.ExpectHeader[h])
		}
	}
	return ""
}

// fetch sends one GET within in.Timeout and returns the answer's headers (nil without an answer) and what was
// wrong with it ("" when it has in.ExpectStatus).
func (a *Activities) fetch(ctx context.Context, in HTTPCheckInput) (http.Header, string) {
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.URL, nil)
	if err != nil {
		return nil, err.Error()
	}
	resp, err := a.httpClient().Do(req)
	if err != nil {
		return nil, err.Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != in.ExpectStatus {
		return resp.Header, fmt.Sprintf("HTTP %d, want %d", resp.StatusCode, in.ExpectStatus)
	}
	return resp.Header, ""
}

// ErrSplitNotConfirmed: the gateway did not serve a traffic step's split within its time box. Not retryable: the
// rounds were the retries.
const ErrSplitNotConfirmed = "SplitNotConfirmed"

// ConfirmSplitInput asks the gateway, in rounds of Samples requests, until the share of answers from Region (by
// RegionHeader) is within Tolerance of Want (exactly all when Want is 1).
type ConfirmSplitInput struct {
	URL, RegionHeader, Region string
	Want, Tolerance           float64
	Samples                   int
	Timeout                   time.Duration
}

// ConfirmSplitResult is the round that confirmed the split.
type ConfirmSplitResult struct {
	Rounds int
	Share  float64
	Waited time.Duration
}

// ConfirmSplit confirms that the gateway serves the split a traffic step set: Kong nodes and data planes apply a
// change later than the Admin API accepts it, so the step's gate would otherwise judge the old split.
func (a *Activities) ConfirmSplit(ctx context.Context, in ConfirmSplitInput) (ConfirmSplitResult, error) {
	if in.Samples < 1 {
		return ConfirmSplitResult{}, badInput("confirm split: samples is %d, want at least 1", in.Samples)
	}
	began := time.Now()
	check := HTTPCheckInput{URL: in.URL, ExpectStatus: http.StatusOK, Timeout: 5 * time.Second}
	for round := 1; ; round++ {
		hits := 0
		var last string
		for range in.Samples {
			header, problem := a.fetch(ctx, check)
			if header.Get(in.RegionHeader) == in.Region {
				hits++
			}
			if problem != "" {
				last = problem
			}
		}
		share := float64(hits) / float64(in.Samples)
		if (in.Want >= 1 && hits == in.Samples) || (in.Want < 1 && math.Abs(share-in.Want) <= in.Tolerance) {
			return ConfirmSplitResult{Rounds: round, Share: share, Waited: time.Since(began)}, nil
		}
		heartbeat(ctx, round)
		if time.Since(began) > in.Timeout {
			msg := fmt.Sprintf("the gateway serves %.0f%% from %s after %s (%d rounds of %d requests to %s), want %.0f%%",
				100*share, in.Region, in.Timeout, round, in.Samples, in.URL, 100*in.Want)
			if last != "" {
				msg += "; last problem: " + last
			}
			return ConfirmSplitResult{}, temporal.NewNonRetryableApplicationError(msg, ErrSplitNotConfirmed, nil)
		}
		select {
		case <-ctx.Done():
			return ConfirmSplitResult{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
