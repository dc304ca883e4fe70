package temporaldev

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
)

// startServer starts a dev server for t and stops it at cleanup. Server logs go to t.Log.
func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	began := time.Now()
	s, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start took %v (DBFile %q, gRPC %s, UI %q)", time.Since(began).Round(time.Millisecond), opts.DBFile, s.Address(), s.UIURL())
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

// dial connects an SDK client to s and closes it at cleanup.
func dial(t *testing.T, s *Server) client.Client {
	t.Helper()
	c, err := client.DialContext(t.Context(), client.Options{
		HostPort:  s.Address(),
		Namespace: s.Namespace(),
		Logger:    quietSDKLogger(t),
	})
	if err != nil {
		t.Fatalf("dial %s: %v", s.Address(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// quietSDKLogger sends the SDK's warnings and errors to t.Log.
func quietSDKLogger(t *testing.T) sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(atLeast{Handler: testLogger(t).Handler(), min: slog.LevelWarn}))
}

// runWorker starts a worker on taskQueue with what register adds, and stops it at cleanup.
// It returns a stop function too, for tests that stop the server before the test ends.
func runWorker(t *testing.T, c client.Client, taskQueue string, register func(worker.Registry)) (stop func()) {
	t.Helper()
	w := worker.New(c, taskQueue, worker.Options{})
	register(w)
	if err := w.Start(); err != nil {
		t.Fatalf("start worker on %s: %v", taskQueue, err)
	}
	var stopped atomic.Bool
	stop = func() {
		if stopped.CompareAndSwap(false, true) {
			w.Stop()
		}
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond every 20 ms until it returns nil or timeout passes, then fails with its
// last error.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		case <-tick.C:
		}
	}
}

// assertRefused fails unless nothing listens on addr any more.
func assertRefused(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Stop", addr)
		return
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("dial %s after Stop: want connection refused, got %v", addr, err)
	}
}

// testLogger sends records to t.Log until t's cleanups start: logging to t after the test has
// finished panics, and a stopping server may still log.
func testLogger(t *testing.T) *slog.Logger {
	h := &tHandler{t: t, done: new(atomic.Bool)}
	t.Cleanup(func() { h.done.Store(true) })
	return slog.New(h)
}

type tHandler struct {
	t     *testing.T
	done  *atomic.Bool // shared with the handlers WithAttrs derives
	attrs []slog.Attr
}

func (h *tHandler) Enabled(context.Context, slog.Level) bool { return !h.done.Load() }

func (h *tHandler) Handle(_ context.Context, r slog.Record) error {
	if h.done.Load() {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.t.Log(b.String())
	return nil
}

func (h *tHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &tHandler{t: h.t, done: h.done, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *tHandler) WithGroup(string) slog.Handler { return h }
