package activities

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// FaultHook is what a drill runs to inject an outage or end it: one HTTP request (the demo region's POST /fault,
// Toxiproxy's toxics API, a Chaos Mesh bridge), or the command hook the worker's hooks file declares under the
// name Command (hookfile.go). It travels in the workflow input, so it carries no credentials and no command line:
// an HTTP hook that needs credentials belongs behind an endpoint of your own, a command gets them from the
// worker's environment.
type FaultHook struct {
	Method string `json:"method,omitempty"`
	URL    string `json:"url,omitempty"`
	Body   string `json:"body,omitempty"`
	// Command names a command hook of the worker's hooks file; set it or Method and URL, not both.
	Command string `json:"command,omitempty"`
}

func (h FaultHook) String() string {
	if h.Command != "" {
		return "command " + h.Command
	}
	return h.Method + " " + h.URL
}

// FaultHookResult is what the hook's endpoint answered, or how its command ended.
type FaultHookResult struct {
	Status int    `json:"status,omitempty"`
	Body   string `json:"body,omitempty"` // the first 512 bytes
	// ExitCode and Output are a command hook's: its exit code and the first HookOutputLimit bytes of its stdout
	// and stderr, with the values of the variables it was passed redacted.
	ExitCode *int    `json:"exit_code,omitempty"`
	Output   string  `json:"output,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
}

// hookTimeout bounds one hook request.
const hookTimeout = 10 * time.Second

// RunFaultHook sends a drill's fault or recovery request. The endpoints it is meant for set a state (a fault on or
// off), so sending it twice after a retry converges. A 4xx answer is not retried: the hook as written is wrong.
//
// A command hook runs the program its name declares in the worker's hooks file (commandhook.go).
func (a *Activities) RunFaultHook(ctx context.Context, h FaultHook) (FaultHookResult, error) {
	if h.Command != "" {
		return a.runCommandHook(ctx, h.Command)
	}
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
