// Package frontdoor routes the orchestrator's HTTP front door: the Alertmanager webhook, /healthz (with the region
// watcher's state) and /metrics.
// `starter serve` serves it in production; the dev stack's `dev` and `demo` serve the same routes on a loopback port.
package frontdoor

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Routes is what the front door serves. Callers mount more endpoints (Slack interactions) on the returned mux.
type Routes struct {
	// Webhook serves POST /webhooks/alertmanager.
	Webhook http.Handler
	// Health returns nil when Temporal answers; GET /healthz answers 503 otherwise.
	Health func(context.Context) error
	// Registry is served at GET /metrics.
	Registry *prometheus.Registry
	// Watcher, when set, is the region watcher's state in one line (partitioned or watching, each region's
	// verdict); /healthz shows it. A partitioned watcher does not make /healthz fail: the webhook still serves.
	Watcher func() string
}

// healthTimeout bounds one /healthz check of Temporal.
const healthTimeout = 3 * time.Second

// NewMux routes the front door's endpoints to r.
func NewMux(r Routes) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/alertmanager", r.Webhook)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), healthTimeout)
		defer cancel()
		watcher := ""
		if r.Watcher != nil {
			watcher = r.Watcher()
		}
		if err := r.Health(ctx); err != nil {
			http.Error(w, "temporal does not answer: "+err.Error()+"\n"+watcher, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
		if watcher != "" {
			fmt.Fprintln(w, watcher)
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.Registry, promhttp.HandlerOpts{Registry: r.Registry}))
	return mux
}
