package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestWithinNamesWhatItWaitedFor: a phase that ignores its deadline (a call with no timeout of its own) is given up
// on at the limit, with what it waited for; one that returns in time keeps its result; a cancelled command is
// reported as cancelled, not as a timeout.
func TestWithinNamesWhatItWaitedFor(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	err := within(t.Context(), 50*time.Millisecond, "the alert to reach the webhook", func(context.Context) error {
		<-stuck // ignores its context
		return nil
	})
	if !errors.Is(err, errTimedOut) || !strings.Contains(err.Error(), "waiting for the alert to reach the webhook") {
		t.Fatalf("stuck phase: %v, want a timeout naming what it waited for", err)
	}
	// The stuck call's stack is in the dump the message names.
	_, path, ok := strings.Cut(err.Error(), "goroutines: ")
	if !ok {
		t.Fatalf("stuck phase: %v, want the goroutine dump's file", err)
	}
	dump, rerr := os.ReadFile(path)
	os.Remove(path)
	if rerr != nil || !strings.Contains(string(dump), "TestWithinNamesWhatItWaitedFor") {
		t.Fatalf("goroutine dump %s: %v; want the stuck phase's stack in it", path, rerr)
	}

	want := errors.New("prometheus answered no series")
	if err := within(t.Context(), time.Minute, "the scrapes", func(context.Context) error { return want }); !errors.Is(err, want) || errors.Is(err, errTimedOut) {
		t.Fatalf("failed phase: %v, want its own error", err)
	}

	// A phase that honours its context and fails because the limit passed says both.
	err = within(t.Context(), 50*time.Millisecond, "failover-payments to end", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, errTimedOut) || !strings.Contains(err.Error(), "failover-payments to end") {
		t.Fatalf("phase past its deadline: %v", err)
	}
	if _, path, ok := strings.Cut(err.Error(), "goroutines: "); ok {
		os.Remove(path)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := within(ctx, time.Minute, "anything", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled command: %v, want context.Canceled", err)
	}
}
