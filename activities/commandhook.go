package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Error types of command hooks that retries cannot fix.
const (
	// ErrHookUnknown: the drill names a hook the worker's hooks file does not declare (or the worker has none).
	ErrHookUnknown = "DrillHookUnknown"
	// ErrHookTimedOut: the command ran out its declared timeout and was killed; another attempt would too.
	ErrHookTimedOut = "DrillHookTimedOut"
)

// hookWaitDelay is how long a command's output may stay open after the command ended or was killed (a background
// process it left holds it): then its output is cut and the run counts as ended.
const hookWaitDelay = time.Second

// CheckFaultHooks checks, before a drill injects anything, that this worker declares every command hook the drill
// names; a drill whose recovery hook is unknown must not start its fault.
func (a *Activities) CheckFaultHooks(_ context.Context, names []string) error {
	for _, name := range names {
		if _, err := a.DrillHooks.find(name); err != nil {
			return err
		}
	}
	return nil
}

// find returns the declared hook name, or a non-retryable error that names the hook, the file and the fix.
func (hs *CommandHooks) find(name string) (CommandHook, error) {
	if hs == nil {
		return CommandHook{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("command hook %q: this worker has no hooks "+
			"file: declare the hook in one and start the worker with --drill-hooks FILE (env DRILL_HOOKS), or give the drill "+
			"an HTTP hook (--fault-url)", name), ErrHookUnknown, nil)
	}
	h, ok := hs.Hooks[name]
	if !ok {
		return CommandHook{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("command hook %q is not declared in the "+
			"worker's hooks file %s (it declares %s): add it there and restart the worker, or name a declared hook",
			name, hs.File, strings.Join(hs.Names(), ", ")), ErrHookUnknown, nil)
	}
	return h, nil
}

// runCommandHook runs a declared command hook: no shell, its working directory, PATH and the variables it names
// from the worker's environment, its timeout. On timeout or cancel its whole process group is killed. An exit code
// outside okExitCodes fails the attempt and Temporal retries it: a hook sets a state (fault on, fault off), so a
// second run converges. The result and every error carry the exit code and the start of the output, with the
// passed variables' values redacted; the output must hold no other secrets.
func (a *Activities) runCommandHook(ctx context.Context, name string) (FaultHookResult, error) {
	h, err := a.DrillHooks.find(name)
	if err != nil {
		return FaultHookResult{}, err
	}
	env, secrets := a.DrillHooks.environment(h)
	runCtx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, h.Argv[0], h.Argv[1:]...)
	cmd.Dir, cmd.Env = h.Dir, env
	// Its own process group, so a kill reaches what it started too (a script's curl, a sleep).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = hookWaitDelay
	out := &headBuffer{limit: HookOutputLimit + secrets.longest()}
	cmd.Stdout, cmd.Stderr = out, out

	stop := keepAlive(ctx, nil)
	began := time.Now()
	runErr := cmd.Run()
	stop()
	res := FaultHookResult{Output: secrets.redact(out.String(), HookOutputLimit, out.total > HookOutputLimit),
		Seconds: time.Since(began).Seconds()}
	if cmd.ProcessState != nil {
		code := cmd.ProcessState.ExitCode()
		res.ExitCode = &code
	}
	a.logger().Info("drill command hook ran", "hook", name, "exit_code", res.ExitCode, "seconds", res.Seconds,
		"output_bytes", out.total, "error", runErr)
	switch {
	case ctx.Err() != nil: // the drill was cancelled (or the activity timed out): the group is killed
		return res, fmt.Errorf("command hook %s: cancelled, its process group killed: %w", name, ctx.Err())
	case runCtx.Err() != nil:
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("command hook %s timed out after %s and was killed "+
			"(its whole process group); output: %s", name, h.Timeout, quoteOutput(res.Output)), ErrHookTimedOut, nil)
	case res.ExitCode == nil || (runErr != nil && !isExit(runErr) && !errors.Is(runErr, exec.ErrWaitDelay)):
		return res, badInput("command hook %s: %s could not run: %v: fix argv in %s", name, h.Argv[0], runErr, a.DrillHooks.File)
	case !slices.Contains(h.OKExitCodes, *res.ExitCode):
		return res, fmt.Errorf("command hook %s exited %d (success is %v); output: %s", name, *res.ExitCode, h.OKExitCodes,
			quoteOutput(res.Output))
	}
	return res, nil
}

func isExit(err error) bool {
	var exit *exec.ExitError
	return errors.As(err, &exit)
}

func quoteOutput(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}

// environment is what a hook's program gets: the worker's PATH and the variables the hook names, nothing else
// (the worker's own credentials stay out of it); secrets are the named values, for redaction.
func (hs *CommandHooks) environment(h CommandHook) ([]string, redactions) {
	var env []string
	if p, ok := os.LookupEnv("PATH"); ok {
		env = append(env, "PATH="+p)
	}
	lookup := hs.lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var secrets redactions
	for _, name := range h.Env {
		v, _ := lookup(name)
		env = append(env, name+"="+v)
		if v != "" {
			secrets = append(secrets, redaction{name: name, value: v})
		}
	}
	return env, secrets
}

type redaction struct{ name, value string }

// redactions are the values a hook's output must not show.
type redactions []redaction

func (rs redactions) longest() int {
	n := 0
	for _, r := range rs {
		n = max(n, len(r.value))
	}
	return n
}

// redact replaces every value in s (longest first, so a value inside another goes with it), then keeps limit
// bytes, marking a cut output. s holds limit+longest bytes, so a value that starts before the cut is replaced whole.
func (rs redactions) redact(s string, limit int, cut bool) string {
	sorted := slices.SortedFunc(slices.Values(rs), func(a, b redaction) int { return cmp.Compare(len(b.value), len(a.value)) })
	for _, r := range sorted {
		s = strings.ReplaceAll(s, r.value, "[redacted $"+r.name+"]")
	}
	if len(s) > limit {
		s, cut = strings.ToValidUTF8(s[:limit], ""), true
	}
	if cut {
		s += "…"
	}
	return s
}

// headBuffer keeps the first limit bytes written to it and counts the rest, so a chatty command neither blocks on
// a full pipe nor fills the worker's memory.
type headBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	total int
}

func (b *headBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += len(p)
	if room := b.limit - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *headBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
