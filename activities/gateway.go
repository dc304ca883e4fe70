package activities

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
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
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.URL, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := a.httpClient().Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != in.ExpectStatus {
		return fmt.Sprintf("HTTP %d, want %d", resp.StatusCode, in.ExpectStatus)
	}
	names := make([]string, 0, len(in.ExpectHeader))
	for h := range in.ExpectHeader {
		names = append(names, h)
	}
	slices.Sort(names)
	for _, h := range names {
		if got := resp.Header.Get(h); !strings.EqualFold(got, in.ExpectHeader[h]) {
			return fmt.Sprintf("header %s is %q, want %q", h, got, in.ExpectHeader[h])
		}
	}
	return ""
}
