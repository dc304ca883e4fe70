package temporaldev

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// TestRestartResumesWorkflow stops the server while a workflow waits for a signal and starts it
// again on the same file and port: the workflow is still there and completes on the signal.
func TestRestartResumesWorkflow(t *testing.T) {
	db := filepath.Join(t.TempDir(), "temporal.db")
	// Registered on the first start, found already there on the second.
	attrs := map[string]enumspb.IndexedValueType{"FailoverService": enumspb.INDEXED_VALUE_TYPE_KEYWORD}
	first := startServer(t, Options{DBFile: db, NoUI: true, SearchAttributes: attrs})
	c, err := client.DialContext(t.Context(), client.Options{HostPort: first.Address(), Namespace: first.Namespace(), Logger: quietSDKLogger(t)})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	stopWorker := runWorker(t, c, "approvals", func(r worker.Registry) { r.RegisterWorkflow(approvalWorkflow) })
	startWaitingApproval(t, c, "approval-restart")
	stopWorker()
	c.Close()
	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertRefused(t, first.Address())

	_, port, _ := net.SplitHostPort(first.Address())
	grpcPort, _ := strconv.Atoi(port)
	second := startServer(t, Options{DBFile: db, GRPCPort: grpcPort, NoUI: true, SearchAttributes: attrs})
	approveAndCheck(t, second, "approval-restart")
}

// TestRestartAfterKill is the crash case: a child process runs the server until the workflow
// waits, then gets SIGKILL (no Stop, no checkpoint). A server started here on the same file
// resumes the workflow. It also proves the state is on disk: this process never had the file open.
func TestRestartAfterKill(t *testing.T) {
	if db := os.Getenv(childDBEnv); db != "" {
		runKilledChild(t, db) // this process is the child the parent below starts
		return
	}
	db := filepath.Join(t.TempDir(), "temporal.db")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRestartAfterKill$", "-test.count=1")
	child.Env = append(os.Environ(), childDBEnv+"="+db)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	lines := bufio.NewScanner(out)
	ready := false
	for !ready && lines.Scan() {
		ready = lines.Text() == childReady
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	_ = child.Wait() // "signal: killed" is the expected outcome
	if !ready {
		t.Fatalf("child exited before the workflow was waiting (see its stderr above)")
	}

	s := startServer(t, Options{DBFile: db, NoUI: true})
	approveAndCheck(t, s, "approval-killed")
}

const (
	childDBEnv = "TEMPORALDEV_TEST_CHILD_DB"
	childReady = "workflow waiting"
)

// runKilledChild is TestRestartAfterKill's child process: it runs the server until the workflow waits, says so on
// stdout, and waits to be killed.
func runKilledChild(t *testing.T, db string) {
	s := startServer(t, Options{DBFile: db, NoUI: true})
	c := dial(t, s)
	runWorker(t, c, "approvals", func(r worker.Registry) { r.RegisterWorkflow(approvalWorkflow) })
	startWaitingApproval(t, c, "approval-killed")
	fmt.Println(childReady)
	select {
	case <-time.After(30 * time.Second): // the parent kills this process long before
	case <-t.Context().Done():
	}
}

// startWaitingApproval starts approvalWorkflow and returns once the worker has run it up to the
// signal wait.
func startWaitingApproval(t *testing.T, c client.Client, id string) {
	t.Helper()
	if _, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: id, TaskQueue: "approvals"}, approvalWorkflow); err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	eventually(t, 10*time.Second, id+" waiting for its signal", func(ctx context.Context) error {
		v, err := c.QueryWorkflow(ctx, id, "", "state")
		if err != nil {
			return err
		}
		var state string
		if err := v.Get(&state); err != nil {
			return err
		}
		if state != "waiting" {
			return fmt.Errorf("state %q", state)
		}
		return nil
	})
}

// approveAndCheck signals the waiting workflow id on s and expects it to complete.
func approveAndCheck(t *testing.T, s *Server, id string) {
	t.Helper()
	c := dial(t, s)
	runWorker(t, c, "approvals", func(r worker.Registry) { r.RegisterWorkflow(approvalWorkflow) })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.SignalWorkflow(ctx, id, "", approvalSignal, "lead"); err != nil {
		t.Fatalf("signal %s after restart: %v", id, err)
	}
	var got string
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, &got); err != nil {
		t.Fatalf("%s after restart: %v", id, err)
	}
	if got != "approved by lead" {
		t.Errorf("%s result = %q, want %q", id, got, "approved by lead")
	}
}
