package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/endpoints"
	"github.com/failover/failover/observe"
)

// metricsFlag registers --metrics-addr (env METRICS_ADDR); deployment manifests scrape it.
func metricsFlag(fs *pflag.FlagSet) *string {
	return fs.String("metrics-addr", endpoints.EnvOr("METRICS_ADDR", ":9464"),
		`serve Prometheus metrics on host:port at /metrics (env METRICS_ADDR); "off" disables`)
}

// serveMetrics exports the SDK's and the workflows' metrics, Go and process metrics, and the failovers in flight
// (read from Temporal visibility through tc) on addr. The returned stop closes the listener and flushes tally.
func serveMetrics(addr string, m *observe.Metrics, tc client.Client, logger *slog.Logger) (stop func(), err error) {
	if addr == "" || addr == "off" {
		return func() { _ = m.Close() }, nil
	}
	m.Registry.MustRegister(observe.NewInFlightCollector(tc, logger))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w (choose a free port, or off)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.HTTPHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "error", err)
		}
	}()
	logger.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return func() {
		_ = srv.Close()
		_ = m.Close()
	}, nil
}
