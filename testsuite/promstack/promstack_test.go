package promstack

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// startStack starts a stack for the test and stops it in cleanup.
func startStack(t *testing.T, opts Options) *Stack {
	t.Helper()
	needTool(t, "prometheus")
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	t0 := time.Now()
	s, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	p, a := s.StartTimes()
	t.Logf("stack ready in %v (prometheus %v, alertmanager %v, both from exec to /-/ready)", time.Since(t0), p, a)
	// Stop logs how long it took; t.Context() ends before cleanups run, so the stack may already be stopping.
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStartServesBothAndStopEndsThem(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stack")
	s := startStack(t, Options{Dir: dir, WebhookURL: "http://127.0.0.1:1/webhooks/alertmanager", WebhookToken: "t"})

	for _, u := range []string{s.PrometheusURL() + "/-/ready", s.AlertmanagerURL() + "/-/ready"} {
		if code, body := get(t, u); code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", u, code, body)
		}
	}
	// Prometheus loaded our rules.
	if code, body := get(t, s.PrometheusURL()+"/api/v1/rules"); code != 200 ||
		!strings.Contains(body, "RegionHighErrorRatio") || !strings.Contains(body, "RegionDown") {
		t.Fatalf("rules API = %d %s", code, body)
	}
	// Alertmanager loaded our receiver.
	if code, body := get(t, s.AlertmanagerURL()+"/api/v2/receivers"); code != 200 || !strings.Contains(body, ReceiverName) {
		t.Fatalf("receivers API = %d %s", code, body)
	}
	for _, f := range []string{"prometheus.yml", "rules.yml", "alertmanager.yml", "prometheus.log", "alertmanager.log"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
	for _, p := range []*process{s.prom, s.am} {
		if _, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
			t.Errorf("%s still listens on %s after Stop", p.name, p.addr)
		}
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("a caller's Dir must survive Stop: %v", err)
	}
}

func TestTempDirRemovedOnStop(t *testing.T) {
	s := startStack(t, Options{})
	dir := s.Dir()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temp dir %s still there after Stop (err %v)", dir, err)
	}
}

func TestContextEndStopsStack(t *testing.T) {
	needTool(t, "prometheus")
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Start(ctx, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	cancel()
	select {
	case <-s.stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("stack still running 15s after its context ended")
	}
}

func TestStartErrorsAreOneClearLine(t *testing.T) {
	needTool(t, "prometheus")
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	heldPort := held.Addr().(*net.TCPAddr).Port

	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		opts Options
		path string // PATH during Start; "" keeps it
		want string
	}{
		{"prometheus port in use", Options{PrometheusPort: heldPort}, "", "prometheus port " + itoa(heldPort) + " is in use"},
		{"alertmanager port in use", Options{AlertmanagerPort: heldPort}, "", "alertmanager port " + itoa(heldPort) + " is in use"},
		{"unwritable dir", Options{Dir: filepath.Join(notADir, "stack")}, "", "is not writable"},
		{"no prometheus", Options{}, t.TempDir(), "prometheus not found in PATH (looked for prometheus): install it with 'apt-get install prometheus'"},
		{"no alertmanager", Options{}, onlyPrometheus(t), "alertmanager not found in PATH (looked for alertmanager, prometheus-alertmanager): install it with 'apt-get install prometheus-alertmanager'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path != "" {
				t.Setenv("PATH", tc.path)
			}
			tc.opts.Logger = testLogger(t)
			s, err := Start(t.Context(), tc.opts)
			if err == nil {
				s.Stop()
				t.Fatal("Start succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line containing %q", msg, tc.want)
			}
			t.Log(msg)
		})
	}
}

// onlyPrometheus returns a PATH dir that has prometheus but no alertmanager.
func onlyPrometheus(t *testing.T) string {
	t.Helper()
	bin, err := lookBinary("prometheus", "prometheus", "prometheus")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "prometheus")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBinaryFailureLeavesNothingRunning makes Prometheus itself fail after Alertmanager is already up: a fake
// "prometheus" that exits at once. Start must report its output and stop Alertmanager again.
func TestBinaryFailureLeavesNothingRunning(t *testing.T) {
	amBin, err := lookBinary("alertmanager", "prometheus-alertmanager", "alertmanager", "prometheus-alertmanager")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fake := "#!/bin/sh\necho 'ts=now level=error msg=\"boom: cannot start\"'\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "prometheus"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(amBin, filepath.Join(dir, "alertmanager")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	amPort := freePort(t)
	_, err = Start(t.Context(), Options{AlertmanagerPort: amPort, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "prometheus exited while starting") ||
		!strings.Contains(err.Error(), "boom: cannot start") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(amPort), time.Second); err == nil {
		c.Close()
		t.Fatal("alertmanager still listens after Start failed")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func itoa(i int) string { return strconv.Itoa(i) }
