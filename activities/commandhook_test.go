package activities

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

// hooksFor writes script as an executable sh script per hook and declares them, with TOXI_TOKEN passed through.
func hooksFor(t *testing.T, timeout time.Duration, scripts map[string]string) *Activities {
	t.Helper()
	dir := t.TempDir()
	var y strings.Builder
	y.WriteString("hooks:\n")
	for name, script := range scripts {
		file := filepath.Join(dir, name+".sh")
		if err := os.WriteFile(file, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		y.WriteString("  " + name + ":\n    argv: [" + file + ", arg1]\n    env: [TOXI_TOKEN]\n    dir: " + dir +
			"\n    timeout: " + timeout.String() + "\n")
	}
	hs, err := ParseCommandHooks(strings.NewReader(y.String()), "hooks.yaml", env(map[string]string{"TOXI_TOKEN": "tok-s3cret-42"}))
	if err != nil {
		t.Fatal(err)
	}
	return &Activities{DrillHooks: hs}
}

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T): want an application error", err, err)
	}
	return ae
}

// TestCommandHookRunsDeclaredProgram: the program runs with its argument, in its directory, with PATH and the
// variables it names and nothing else of the worker's environment; the result has its exit code and its output,
// the passed value redacted.
func TestCommandHookRunsDeclaredProgram(t *testing.T) {
	t.Setenv("WORKER_ONLY_SECRET", "kong-admin-token")
	a := hooksFor(t, 5*time.Second, map[string]string{"down": `echo "arg=$1 dir=$(pwd) token=$TOXI_TOKEN"; env >&2`})
	res, err := a.RunFaultHook(context.Background(), FaultHook{Command: "down"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == nil || *res.ExitCode != 0 {
		t.Fatalf("exit code %v", res.ExitCode)
	}
	dir := a.DrillHooks.Hooks["down"].Dir
	if !strings.Contains(res.Output, "arg=arg1 dir="+dir+" token=[redacted $TOXI_TOKEN]") {
		t.Errorf("output %q: want the argument, the hook's dir and the token redacted", res.Output)
	}
	for _, leak := range []string{"tok-s3cret-42", "kong-admin-token", "WORKER_ONLY_SECRET"} {
		if strings.Contains(res.Output, leak) {
			t.Errorf("output %q shows %s", res.Output, leak)
		}
	}
	if !strings.Contains(res.Output, "PATH=") {
		t.Errorf("output %q: the program gets the worker's PATH", res.Output)
	}
}

// TestCommandHookFailureIsRetryable: a non-zero exit fails the attempt with the code and the output (redacted),
// and Temporal may retry it: hooks set a state, so a second run converges.
func TestCommandHookFailureIsRetryable(t *testing.T) {
	a := hooksFor(t, 5*time.Second, map[string]string{"flaky": `echo "no proxy (token $TOXI_TOKEN)" >&2; exit 3`})
	res, err := a.RunFaultHook(context.Background(), FaultHook{Command: "flaky"})
	if err == nil || res.ExitCode == nil || *res.ExitCode != 3 {
		t.Fatalf("err %v exit %v: want a failure with exit code 3", err, res.ExitCode)
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.NonRetryable() {
		t.Fatalf("error %v is non-retryable: a failed run may be retried", err)
	}
	want := `command hook flaky exited 3 (success is [0]); output: "no proxy (token [redacted $TOXI_TOKEN])\n"`
	if err.Error() != want {
		t.Fatalf("error %q\nwant  %q", err, want)
	}
}

// TestCommandHookTimeoutKillsProcessGroup: a hook that runs past its timeout is killed with everything it started,
// and the error, non-retryable, names the hook and the timeout.
func TestCommandHookTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	a := hooksFor(t, 300*time.Millisecond, map[string]string{"hang": `sleep 300 & echo $! > ` + pidFile + `; echo started; wait`})
	began := time.Now()
	res, err := a.RunFaultHook(context.Background(), FaultHook{Command: "hang"})
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("the hook returned after %s: the timeout did not stop it", took)
	}
	ae := appError(t, err)
	if ae.Type() != ErrHookTimedOut || !ae.NonRetryable() ||
		!strings.Contains(err.Error(), `command hook hang timed out after 300ms and was killed (its whole process group); output: "started\n"`) {
		t.Fatalf("error %v (type %s)", err, ae.Type())
	}
	if res.ExitCode == nil || *res.ExitCode != -1 {
		t.Errorf("exit code %v: want -1 (killed by a signal)", res.ExitCode)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the hook's background sleep (pid %d) survived the kill", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// TestCommandHookCancelKillsIt: cancelling the activity (a cancelled drill) kills the running hook.
func TestCommandHookCancelKillsIt(t *testing.T) {
	a := hooksFor(t, time.Minute, map[string]string{"hang": `echo started; sleep 300`})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	began := time.Now()
	_, err := a.RunFaultHook(ctx, FaultHook{Command: "hang"})
	if err == nil || !errors.Is(err, context.Canceled) || time.Since(began) > 10*time.Second {
		t.Fatalf("error %v after %s: want cancelled at once", err, time.Since(began))
	}
}

// TestCommandHookOutputIsCut: only the first HookOutputLimit bytes are kept, and a value to redact across the cut
// is still redacted.
func TestCommandHookOutputIsCut(t *testing.T) {
	pad := strings.Repeat("x", HookOutputLimit-5)
	a := hooksFor(t, 5*time.Second, map[string]string{"chatty": `printf '` + pad + `%s' "$TOXI_TOKEN"; head -c 100000 /dev/zero | tr '\0' y`})
	res, err := a.RunFaultHook(context.Background(), FaultHook{Command: "chatty"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Output) > HookOutputLimit+len("…") || !strings.HasSuffix(res.Output, "…") || strings.Contains(res.Output, "tok-") {
		t.Fatalf("output of %d bytes ending %q: want at most %d, cut, and no part of the token", len(res.Output),
			res.Output[len(res.Output)-20:], HookOutputLimit)
	}
}

// TestUnknownCommandHookNamesTheFix: a name the hooks file does not declare (or a worker without one) is refused,
// not retried, with the hook, the file and the fix.
func TestUnknownCommandHookNamesTheFix(t *testing.T) {
	a := hooksFor(t, time.Second, map[string]string{"down": "true", "up": "true"})
	for _, tc := range []struct {
		acts *Activities
		want string
	}{
		{a, `command hook "sideways" is not declared in the worker's hooks file hooks.yaml (it declares down, up): add it there and restart the worker`},
		{&Activities{}, `command hook "sideways": this worker has no hooks file: declare the hook in one and start the worker with --drill-hooks FILE`},
	} {
		_, err := tc.acts.RunFaultHook(context.Background(), FaultHook{Command: "sideways"})
		if ae := appError(t, err); ae.Type() != ErrHookUnknown || !ae.NonRetryable() || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v\nwant %q", err, tc.want)
		}
		if err := tc.acts.CheckFaultHooks(context.Background(), []string{"sideways"}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("check: %v", err)
		}
	}
	if err := a.CheckFaultHooks(context.Background(), []string{"down", "up"}); err != nil {
		t.Fatal(err)
	}
}
