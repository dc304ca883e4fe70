package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/failover/failover/deploy/regiond/region"
)

// Phase limits: each bounded wait of a drill or demo run names what it waited for when its limit passes, so a stuck
// part ends the command with a message instead of hanging it (README "Measured": the watcher drill).
const (
	// stackStartWait bounds stack.Start: Temporal, etcd, the Kong stand-in, the regions, Prometheus, Alertmanager.
	stackStartWait = 3 * time.Minute
	// failoverEndWait bounds a started failover's end: its steps, then the hold for repeats of an alert (10 s).
	failoverEndWait = 3 * time.Minute
	// stackStopWait bounds stopping a stack; past it the run goes on and the stack is left to the process's exit.
	stackStopWait = time.Minute
)

// errTimedOut marks a phase that outlasted its limit.
var errTimedOut = errors.New("timed out")

// within runs fn with a deadline of limit and, when the deadline passes first, returns "timed out after limit
// waiting for what" without waiting for fn (which may not honour its context: it is abandoned, and the command
// ends soon after). A cancelled parent context is returned as it is.
func within(ctx context.Context, limit time.Duration, what string, fn func(context.Context) error) error {
	pctx := ctx
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		if err != nil && pctx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w after %s waiting for %s: %w", errTimedOut, limit, what, err)
		}
		return err
	case <-ctx.Done():
		if err := pctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%w after %s waiting for %s%s", errTimedOut, limit, what, dumpGoroutines())
	}
}

// dumpGoroutines writes every goroutine's stack to a temp file, for the phase that did not return: the stuck call
// is in it. It returns "; goroutines: <file>", or "" when the file cannot be written.
func dumpGoroutines() string {
	f, err := os.CreateTemp("", "devstack-goroutines-*.txt")
	if err != nil {
		return ""
	}
	defer f.Close()
	if err := pprof.Lookup("goroutine").WriteTo(f, 2); err != nil {
		return ""
	}
	return "; goroutines: " + f.Name()
}

// stopWithin stops a stack (stop), giving up on it after stackStopWait with a warning: the figures are taken.
func stopWithin(what string, stop func()) {
	if err := within(context.Background(), stackStopWait, "the "+what+" to stop", func(context.Context) error {
		stop()
		return nil
	}); err != nil {
		fmt.Printf("warning: %v; going on without it\n", err)
	}
}

// injectFault posts a fault to a demo region (region.InjectFault has no timeout of its own), at most 30 s.
func injectFault(ctx context.Context, regionURL, patch string) error {
	return within(ctx, 30*time.Second, "the region at "+regionURL+" to take the fault "+patch, func(context.Context) error {
		return region.InjectFault(regionURL, patch)
	})
}
