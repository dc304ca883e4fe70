package frontdoor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMuxRoutes(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "frontdoor_test_total"}))
	var health error
	srv := httptest.NewServer(NewMux(Routes{
		Webhook:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hook") }),
		Health:   func(context.Context) error { return health },
		Registry: reg,
		Watcher:  func() string { return "watcher a: partitioned (etcd unreachable): starts nothing" },
	}))
	defer srv.Close()
	get := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{http.MethodPost, "/webhooks/alertmanager", http.StatusOK, "hook"},
		{http.MethodGet, "/webhooks/alertmanager", http.StatusMethodNotAllowed, ""},
		{http.MethodGet, "/healthz", http.StatusOK, "ok\nwatcher a: partitioned (etcd unreachable)"},
		{http.MethodGet, "/metrics", http.StatusOK, "frontdoor_test_total 0"},
	} {
		if code, body := get(tc.method, tc.path); code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, code, body, tc.code, tc.body)
		}
	}
	health = errors.New("connection refused")
	if code, body := get(http.MethodGet, "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "connection refused") {
		t.Errorf("/healthz with Temporal down = %d %q, want 503 naming the error", code, body)
	}
}
