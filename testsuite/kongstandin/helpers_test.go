package kongstandin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kong/go-kong/kong"
)

// start runs a stand-in for one test and returns a go-kong client for its Admin API.
func start(t *testing.T, opts Options) (*Server, *kong.Client) {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("start stand-in: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close stand-in: %v", err)
		}
	})
	return s, newClient(t, s, nil)
}

func newClient(t *testing.T, s *Server, hc *http.Client) *kong.Client {
	t.Helper()
	u := s.AdminURL()
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	c, err := kong.NewClient(&u, hc)
	if err != nil {
		t.Fatalf("go-kong client: %v", err)
	}
	return c
}

// call sends one Admin API request with go-kong's request builder and raw transport, and returns the status and
// the decoded JSON body: for checks go-kong's typed structs hide (exact status codes, null fields, error bodies).
func call(t *testing.T, c *kong.Client, method, path string, body any) (int, map[string]any) {
	t.Helper()
	req, err := c.NewRequest(method, path, nil, body)
	if err != nil {
		t.Fatalf("%s %s: build request: %v", method, path, err)
	}
	res, err := c.DoRAW(context.Background(), req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil && res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusNotModified {
		t.Fatalf("%s %s: decode body (status %d): %v", method, path, res.StatusCode, err)
	}
	return res.StatusCode, out
}

// backend is a real HTTP server standing for one application instance; it counts hits and echoes what it saw.
type backend struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	hits int
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.hits++
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"backend": name, "path": r.URL.RequestURI(), "host": r.Host,
			"x_forwarded_prefix": r.Header.Get("X-Forwarded-Prefix"),
			"x_forwarded_for":    r.Header.Get("X-Forwarded-For"),
			"x_kong_request_id":  r.Header.Get("X-Kong-Request-Id"),
		})
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) addr() string { return strings.TrimPrefix(b.srv.URL, "http://") }

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits
}

// proxyGet sends one request through the stand-in's proxy and decodes the JSON answer.
func proxyGet(t *testing.T, s *Server, host, path string) (*http.Response, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.ProxyURL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("proxy GET %s: %v", path, err)
	}
	defer res.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("proxy GET %s: decode body (status %d): %v", path, res.StatusCode, err)
	}
	return res, body
}

// eventually polls cond until it holds or the deadline passes; it is how tests wait for propagation without
// sleeping a fixed time.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func apiCode(err error) int {
	var apiErr *kong.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code()
	}
	return 0
}

// go-kong v0.76.1 only has StringValue; these are its missing siblings.
func intValue(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func boolValue(p *bool) bool { return p != nil && *p }

func stringValues(ps []*string) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, kong.StringValue(p))
	}
	return out
}
