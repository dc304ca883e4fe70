package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// buildWorker builds ./worker once per test binary, so a test can kill -9 a real worker process.
func buildWorker(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	cmd := exec.Command("go", "build", "-o", bin, "../../worker")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build worker: %v\n%s", err, out)
	}
	return bin
}

func runWorkerProcess(t *testing.T, bin string, s *stack.Stack, flags ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--temporal-address", s.Temporal.Address(), "--etcd-endpoints", s.Etcd.Endpoint(),
		"--kong-admin-url", s.Kong.AdminURL(), "--metrics-addr", "off", "--build-id", "crash-test"}, flags...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// TestWorkerKilledMidFailover kills the worker process (SIGKILL) once the reroute has started; a new worker
// finishes the failover with the right final state and the epoch bumped exactly once. The workers are versioned
// (one build): the first makes its build current, and its replacement runs the failover pinned to that build.
func TestWorkerKilledMidFailover(t *testing.T) {
	bin := buildWorker(t)
	s := startStack(t)
	fault(t, s, "us-east", `{"status":503}`)
	p := planWithoutPrometheus(s)
	p.Traffic.StepPause = 2 * time.Second // a window in which the worker dies
	first := runWorkerProcess(t, bin, s)
	run := start(t, s, request(p, "us-east", "eu-west"))
	eventually(t, 30*time.Second, "first reroute step", func() bool { return weights(t, s)["eu-west"] == 50 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	runWorkerProcess(t, bin, s)
	res := result(t, run)
	wantOutcome(t, res, workflows.Succeeded)
	a := active(t, s)
	if a.Value.Region != "eu-west" || a.Value.Epoch != 2 {
		t.Fatalf("etcd after: %+v", a.Value)
	}
	// Version counts writes since the key was created: the seed and exactly one cutover.
	resp, err := s.EtcdClient.Get(t.Context(), p.Etcd.ActiveKey)
	if err != nil || resp.Kvs[0].Version != 2 {
		t.Fatalf("active key version %d (%v), want 2: the cutover must be written once", resp.Kvs[0].Version, err)
	}
	if w := weights(t, s); w["eu-west"] != 100 || w["us-east"] != 0 {
		t.Fatalf("kong after: %v", w)
	}
	if !strings.Contains(res.Steps[len(res.Steps)-1].Name, "verify") {
		t.Fatalf("last step %+v", res.Steps[len(res.Steps)-1])
	}
}
