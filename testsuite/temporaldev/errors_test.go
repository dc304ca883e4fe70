package temporaldev

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/failover/failover/testsuite/freeport"
)

func TestPortInUse(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	port := held.Addr().(*net.TCPAddr).Port

	for _, tc := range []struct {
		name string
		opts Options
		want string // names the option to change
	}{
		{"gRPC", Options{GRPCPort: port, NoUI: true}, "GRPCPort"},
		{"Web UI", Options{UIPort: port}, "UIPort"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(t.Context(), tc.opts)
			if err == nil {
				s.Stop()
				t.Fatalf("Start on busy port %d succeeded", port)
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			for _, want := range []string{strconv.Itoa(port), "in use", tc.want, "0 = any free port"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
}

func TestUnusableDBFile(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"missing directory": filepath.Join(dir, "missing", "temporal.db"),
		"parent is a file":  filepath.Join(notADir, "temporal.db"),
		"path is a dir":     dir,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Start(t.Context(), Options{DBFile: path, NoUI: true})
			if err == nil {
				t.Fatalf("Start with DBFile %s succeeded", path)
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
		})
	}
}

// TestFailedStartStopsServer fails after the server is up (an invalid search attribute type) and
// checks that its ports are free again.
func TestFailedStartStopsServer(t *testing.T) {
	grpcPort, err := freeport.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	uiPort, err := freeport.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(t.Context(), Options{
		GRPCPort:         grpcPort,
		UIPort:           uiPort,
		SearchAttributes: map[string]enumspb.IndexedValueType{"Broken": enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED},
		Logger:           testLogger(t),
	})
	if err == nil {
		s.Stop()
		t.Fatal("Start with an invalid search attribute type succeeded")
	}
	t.Logf("error: %v", err)
	assertRefused(t, hostPort(grpcPort))
	assertRefused(t, hostPort(uiPort))
}

// TestInternalPortTaken covers the race the port checks cannot: an internal port taken between
// the pick and the server's bind. The server reports it through Fatal, which must come back as an
// error (not exit or crash the process) with the frontend closed again.
func TestInternalPortTaken(t *testing.T) {
	p, err := pickPorts(Options{NoUI: true})
	if err != nil {
		t.Fatal(err)
	}
	held, err := net.Listen("tcp", hostPort(p.history))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	sql, err := prepareSQLite("", "default", nil)
	if err != nil {
		t.Fatal(err)
	}
	level := new(slog.LevelVar)
	level.Set(minLevel)
	srv, err := startTemporal(serverConfig(sql, p), p, devDynamicConfig(), testLogger(t), level)
	if err == nil {
		stopTemporal(srv)
		t.Fatalf("start with history port %d taken succeeded", p.history)
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), strconv.Itoa(p.history)) {
		t.Errorf("error %q does not say port %d is in use", err, p.history)
	}
	assertRefused(t, hostPort(p.frontend))
}
