package activities

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// FaultHook is one HTTP request a drill sends to inject an outage or end it: the demo region's POST /fault,
// Toxiproxy's toxics API, a Chaos Mesh bridge. It travels in the workflow input, so it carries no credentials:
// hooks that need them belong behind an endpoint of your own on the internal network.
type FaultHook struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Body   string `json:"body,omitempty"`
}

func (h FaultHook) String() string { return h.Method + " " + h.URL }

// FaultHookResult is what the hook's endpoint answered.
type FaultHookResult struct {
	Status int    `json:"status"`
	Body   string `json:"body,omitempty"` // the first 512 bytes
}

// hookTimeout bounds one hook request.
const hookTimeout = 10 * time.Second

// RunFaultHook sends a drill's fault or recovery request. The endpoints it is meant for set a state (a fault on or
// off), so sending it twice after a retry converges. A 4xx answer is not retried: the hook as written is wrong.
func (a *Activities) RunFaultHook(ctx context.Context, h FaultHook) (FaultHookResult, error) {
	ctx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, h.Method, h.URL, strings.NewReader(h.Body))
	if err != nil {
		return FaultHookResult{}, badInput("fault hook %s: %v", h, err)
	}
	if h.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return FaultHookResult{}, fmt.Errorf("fault hook %s: %w", h, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	res := FaultHookResult{Status: resp.StatusCode, Body: string(b)}
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return res, badInput("fault hook %s: HTTP %d %s: fix the hook's method, URL or body", h, resp.StatusCode, strings.TrimSpace(res.Body))
	case resp.StatusCode >= 300:
		return res, fmt.Errorf("fault hook %s: HTTP %d %s", h, resp.StatusCode, strings.TrimSpace(res.Body))
	}
	return res, nil
}
